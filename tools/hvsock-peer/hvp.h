/*
 * hvp.h: the host-peer library. A socket-like API over /dev/vmbus_sim (vmbus_sim_uapi.h) for
 * the host roles of hv_sock: listen/accept a guest's connect, connect to a guest's listener,
 * send/recv packets, FIN, rescind. Used by the hv_sock cases (testcases/hvsock*.c) and the
 * hvsock-peer tool. Calls return 0 (or a count) on success and -errno on failure, with a
 * one-line message naming the call in hvp_error().
 */
#ifndef HVP_H
#define HVP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../../testcases/kmod/vmbus_sim/vmbus_sim_uapi.h"

/* hv_sock's wire constants (net/vmw_vsock/hyperv_transport.c, the same in 5.10-7.2). */
#define HVP_PAGE 4096u
#define HVP_SEND_CHUNK (HVP_PAGE - 8u)	/* HVS_SEND_BUF_SIZE: the guest's largest packet */
#define HVP_MTU (16u * 1024u)		/* HVS_MTU_SIZE: the largest payload hv_sock accepts */
#define HVP_DESC_LEN 16u		/* struct vmpacket_descriptor */
#define HVP_PIPE_HDR_LEN 8u		/* struct vmpipe_proto_header */
#define HVP_TRAILER_LEN 8u
#define HVP_PKT_DATA_INBAND 6u		/* VM_PKT_DATA_INBAND */
#define HVP_FIXED_RING (6u * HVP_PAGE)	/* RINGBUFFER_HVS_{SND,RCV}_SIZE */
#define HVP_MAX_RING (64u * HVP_PAGE)	/* RINGBUFFER_HVS_MAX_SIZE */
#define HVP_RAW_MAX (0xffffu * 8u - HVP_DESC_LEN - HVP_PIPE_HDR_LEN)	/* what len8 can describe */
#define HVP_PROTO_WIN10 0x40000u
#define HVP_PROTO_WIN10_V5 0x50000u

#define HVP_EVENT_QUEUE 64

struct hvp_session {
	int fd;
	char error[256];
	/* Events read while waiting for another one, in arrival order. */
	struct vsim_event queue[HVP_EVENT_QUEUE];
	unsigned int queued;
};

struct hvp_conn {
	struct hvp_session *s;
	uint32_t chan;
	uint32_t state;			/* enum vsim_chan_state after the offer */
	uint32_t guest_send_ring;	/* data bytes, 0 unless opened */
	uint32_t guest_recv_ring;
	uint32_t guest_port;		/* the guest's endpoint (accept) or listener (connect) */
	uint32_t host_port;
};

/* What one received packet was. */
struct hvp_packet {
	uint32_t len;		/* payload bytes copied */
	int fin;		/* a zero-length packet */
	int truncated;
	uint32_t desc_type;
};

/* Addressing: a vsock port is the service GUID 00000000-facb-11e6-bd58-64006a7986d3, Data1 = port. */
void hvp_port_guid(uint32_t port, struct vsim_guid *g);
int hvp_guid_port(const struct vsim_guid *g, uint32_t *port);	/* -1: not a vsock port GUID */

/* Framing (pure): ring bytes of one packet, and building / checking raw packets. */
uint32_t hvp_pkt_ring_len(uint32_t payload);	/* 16 + 8 + ALIGN(payload, 8) + 8 */
/*
 * A raw in-band packet (for VSIM_XFER_RAW): descriptor, pipe header {1, data_size}, `payload_len`
 * bytes (up to HVP_RAW_MAX, past the MTU on purpose) of payload padded to 8. len8 covers what is
 * written, so data_size may lie about it.
 * Returns the length written (a multiple of 8), or -1 when out is too small.
 */
int hvp_frame_raw(void *out, size_t size, uint32_t data_size, const void *payload,
		  uint32_t payload_len);
/* Checks a raw packet as hv_sock's validating kernels do; its payload length, or -1 with why. */
int hvp_check_raw(const void *pkt, size_t len, const char **why);
/* The data bytes of a ring hv_sock asks for, as vmbus_open gets them: see hvp_ring.c. */
void hvp_ring_bounds(uint32_t proto, int sockbuf, uint32_t *lo, uint32_t *hi);

/* Session. */
int hvp_open(struct hvp_session *s);
void hvp_close(struct hvp_session *s);
const char *hvp_error(const struct hvp_session *s);
int hvp_info(struct hvp_session *s, struct vsim_info *info);
int hvp_set_proto(struct hvp_session *s, uint32_t version);
/*
 * The next event of `type` (and `chan`, unless 0) within timeout_ms; others stay queued, except
 * VSIM_EV_PACKET, which is dropped (hvp_recv_packet polls the ring itself).
 */
int hvp_wait_event(struct hvp_session *s, uint32_t type, uint32_t chan, int timeout_ms,
		   struct vsim_event *ev);
/* 1 when an event of `type` for chan is queued or readable now, else 0. */
int hvp_event_pending(struct hvp_session *s, uint32_t type, uint32_t chan);

/* Host as server: the guest connects to `port`. */
int hvp_listen(struct hvp_session *s, uint32_t port);
int hvp_unlisten(struct hvp_session *s, uint32_t port);
/* Waits for the guest's TL connect request to a listened port and answers it with an offer. */
int hvp_accept(struct hvp_session *s, int timeout_ms, struct hvp_conn *c);
/* Host as client: offers a host-initiated channel to the guest's listener on guest_port. */
int hvp_connect(struct hvp_session *s, uint32_t guest_port, uint32_t host_port, struct hvp_conn *c);

/* One packet of at most HVP_MTU payload bytes (0: FIN). flags: VSIM_XFER_*. */
int hvp_send_packet(struct hvp_conn *c, const void *buf, uint32_t len, uint32_t flags);
/* All of buf, in packets of at most `chunk` bytes (0: HVP_MTU). */
int hvp_send(struct hvp_conn *c, const void *buf, size_t len, uint32_t chunk);
int hvp_shutdown(struct hvp_conn *c);	/* FIN */
/* The next packet within timeout_ms (-ETIMEDOUT); flags may add VSIM_XFER_RAW. */
int hvp_recv_packet(struct hvp_conn *c, void *buf, uint32_t len, uint32_t flags, int timeout_ms,
		    struct hvp_packet *p);
int hvp_rescind(struct hvp_conn *c);
int hvp_chan_info(struct hvp_conn *c, struct vsim_chan_info *info);

#endif
