/*
 * vu_credit.h: virtio-vsock credit arithmetic (virtio 1.2, 5.10.6.3) for one connection, both ways.
 * The counters are free-running u32s: every difference is taken modulo 2^32, so they may wrap.
 */
#ifndef VU_CREDIT_H
#define VU_CREDIT_H

#include <stdint.h>

/* The bytes we are prepared to hold per connection: what we advertise as buf_alloc. */
#define VU_BUF_ALLOC (256u << 10)
/* A credit update is due when the guest believes less than this is free (the kernel's 64 KiB rule,
 * virtio_transport_do_dequeue, measured on what the guest can know: our last advertised fwd_cnt). */
#define VU_CREDIT_UPDATE_BELOW (64u << 10)

struct vu_credit {
	/* host -> guest */
	uint32_t peer_buf_alloc;	/* the guest's receive buffer, from its last packet */
	uint32_t peer_fwd_cnt;		/* bytes the guest's socket has consumed */
	uint32_t tx_cnt;		/* payload bytes we have sent the guest */
	/* guest -> host */
	uint32_t rx_cnt;		/* payload bytes the guest has sent us */
	uint32_t fwd_cnt;		/* of those, bytes written to the Unix stream */
	uint32_t last_fwd_cnt_sent;	/* fwd_cnt in the last packet we sent */
};

/* Bytes we may still send the guest (0 if it shrank its buffer below what is in flight). */
static inline uint32_t vu_credit_peer_free(const struct vu_credit *c)
{
	uint32_t in_flight = c->tx_cnt - c->peer_fwd_cnt;

	return in_flight >= c->peer_buf_alloc ? 0 : c->peer_buf_alloc - in_flight;
}

/* Bytes the guest has sent that are not yet written to the stream: what we hold for it. */
static inline uint32_t vu_credit_held(const struct vu_credit *c)
{
	return c->rx_cnt - c->fwd_cnt;
}

/* Whether `len` more bytes from the guest stay within the buf_alloc we advertised. */
static inline int vu_credit_accepts(const struct vu_credit *c, uint32_t len)
{
	return len <= VU_BUF_ALLOC - vu_credit_held(c);
}

/* Whether the guest's view of our free space (it only knows last_fwd_cnt_sent) has dropped below
 * the threshold while we have consumed bytes it has not been told about. */
static inline int vu_credit_update_due(const struct vu_credit *c)
{
	uint32_t unreported_use = c->rx_cnt - c->last_fwd_cnt_sent;

	return c->fwd_cnt != c->last_fwd_cnt_sent &&
	       VU_BUF_ALLOC - unreported_use < VU_CREDIT_UPDATE_BELOW;
}

#endif
