/* unit_wire.c: the fake kernel's wire: packets from the engine, answers queued with a delay. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "unit_fake.h"

void fake_init(struct fake *f, const struct fake_config *cfg)
{
	memset(f, 0, sizeof(*f));
	pthread_mutex_init(&f->lock, NULL);
	f->cfg = *cfg;
	if (!f->cfg.kernel)
		f->cfg.kernel = "6.1.192";
	f->kernel_cid = 3;
	f->engine_cid = 2;
	f->buf_alloc = 262144;
}

static void clear_queue(struct fake *f)
{
	for (int i = 0; i < f->n_queue; i++)
		free(f->queue[i].bytes);
	f->n_queue = 0;
}

void fake_free(struct fake *f)
{
	clear_queue(f);
	pthread_mutex_destroy(&f->lock);
}

void fake_emit(struct fake *f, int op, uint32_t src_port, uint32_t dst_port, uint32_t flags,
	       const uint8_t *payload, size_t len)
{
	struct fx_hdr h = { { 0 } };
	struct fake_packet *p;

	if (f->n_queue == FAKE_QUEUE_MAX)
		return;
	p = &f->queue[f->n_queue++];
	h.f[FX_SRC_CID] = f->kernel_cid | (f->cfg.upper_cid ? 1ull << 32 : 0);
	h.f[FX_DST_CID] = f->engine_cid;
	h.f[FX_SRC_PORT] = src_port;
	h.f[FX_DST_PORT] = dst_port;
	h.f[FX_LEN] = len;
	h.f[FX_TYPE] = FX_TYPE_STREAM;
	h.f[FX_OP] = (uint64_t)op;
	h.f[FX_FLAGS] = flags;
	if (op != FX_OP_RST) {
		h.f[FX_BUF_ALLOC] = f->buf_alloc;
		h.f[FX_FWD_CNT] = f->fwd_cnt;
	}
	p->len = FX_HDR_SIZE + len;
	p->bytes = malloc(p->len);
	fx_hdr_encode(&h, p->bytes);
	if (len)
		memcpy(p->bytes + FX_HDR_SIZE, payload, len);
	p->at_ms = fx_now_ms() + (uint64_t)f->cfg.delay_ms;
}

static int wire_begin(void *ctx, const struct fx_device_needs *needs, char *why, size_t why_size)
{
	struct fake *f = ctx;

	if (needs->seqpacket == 1 && f->cfg.no_seqpacket) {
		snprintf(why, why_size, "the fake device has no SEQPACKET");
		return 1;
	}
	pthread_mutex_lock(&f->lock);
	clear_queue(f);
	f->established = f->connecting = 0;
	f->fwd_cnt = f->rx_queued = f->tx_cnt = f->peer_buf_alloc = f->peer_fwd_cnt = 0;
	f->buf_alloc = 262144;
	pthread_mutex_unlock(&f->lock);
	return 0;
}

static int wire_send(void *ctx, const uint8_t *bytes, size_t len, const uint32_t *layout,
		     int n_layout, char *why, size_t why_size)
{
	struct fake *f = ctx;
	struct fx_hdr h;
	uint32_t src, dst;

	(void)layout;
	if (n_layout > 2) {
		snprintf(why, why_size, "the fake wire takes at most 2 descriptors");
		return 1;
	}
	fx_hdr_decode(bytes, &h);
	src = (uint32_t)h.f[FX_SRC_PORT];
	dst = (uint32_t)h.f[FX_DST_PORT];
	pthread_mutex_lock(&f->lock);
	f->engine_packets++;
	f->peer_buf_alloc = (uint32_t)h.f[FX_BUF_ALLOC];
	f->peer_fwd_cnt = (uint32_t)h.f[FX_FWD_CNT];
	switch (h.f[FX_OP]) {
	case FX_OP_REQUEST:
		if (f->listener[0] && dst == f->listen_port) {
			f->established = 1;
			f->kernel_port = dst;
			f->engine_port = src;
			f->fwd_cnt = f->rx_queued = f->tx_cnt = 0;
			fake_emit(f, FX_OP_RESPONSE, dst, src, 0, NULL, 0);
			if (f->cfg.extra_packet)
				fake_emit(f, FX_OP_SHUTDOWN, dst, src, 3, NULL, 0);
		} else {
			fake_emit(f, FX_OP_RST, dst, src, 0, NULL, 0);
		}
		break;
	case FX_OP_RESPONSE:
		if (f->connecting && dst == FAKE_EPHEMERAL_PORT) {
			f->connecting = 0;
			f->established = 1;
			f->kernel_port = dst;
			f->engine_port = src;
		}
		break;
	case FX_OP_RW:
		if (f->established && len - FX_HDR_SIZE == h.f[FX_LEN])
			f->rx_queued += (uint32_t)h.f[FX_LEN];
		break;
	case FX_OP_CREDIT_REQUEST:
		if (f->cfg.fwd_backwards && f->fwd_cnt)
			f->fwd_cnt -= 1;
		fake_emit(f, FX_OP_CREDIT_UPDATE, dst, src, 0, NULL, 0);
		break;
	case FX_OP_RST:
		if (f->cfg.rst_on_rst)
			fake_emit(f, FX_OP_RST, dst, src, 0, NULL, 0);
		f->established = 0;
		break;
	}
	pthread_mutex_unlock(&f->lock);
	return 0;
}

static int wire_recv(void *ctx, struct fx_packet *pkt, uint64_t deadline_ms, char *why,
		     size_t why_size)
{
	struct fake *f = ctx;

	(void)why;
	(void)why_size;
	for (;;) {
		uint64_t now = fx_now_ms();
		struct timespec ms = { 0, 1000000 };

		pthread_mutex_lock(&f->lock);
		if (f->n_queue && f->queue[0].at_ms <= now) {
			struct fake_packet p = f->queue[0];

			memmove(f->queue, f->queue + 1, (size_t)(f->n_queue - 1) * sizeof(f->queue[0]));
			f->n_queue--;
			pthread_mutex_unlock(&f->lock);
			memcpy(pkt->bytes, p.bytes, p.len);
			pkt->len = p.len;
			pkt->n_buffers = 1;
			free(p.bytes);
			return 1;
		}
		pthread_mutex_unlock(&f->lock);
		if (now >= deadline_ms)
			return 0;
		nanosleep(&ms, NULL);
	}
}

static int wire_act(void *ctx, const char *what, uint64_t arg, char *why, size_t why_size)
{
	(void)ctx;
	(void)arg;
	if (!strcmp(what, "transport_reset"))
		return 0;
	snprintf(why, why_size, "the fake wire has no %s", what);
	return FX_ACT_UNSUPPORTED;
}

static void wire_end(void *ctx)
{
	struct fake *f = ctx;

	pthread_mutex_lock(&f->lock);
	clear_queue(f);
	f->established = 0;
	pthread_mutex_unlock(&f->lock);
}

const struct fx_wire_ops fake_wire_ops = {
	.begin = wire_begin, .send = wire_send, .recv = wire_recv, .act = wire_act, .end = wire_end,
};
