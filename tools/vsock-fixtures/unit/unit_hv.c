/*
 * unit_hv.c: a scripted stand-in for hv_sock behind /dev/vmbus_sim, for fx-unit's hv_sock
 * tests: an offer opens channel 1 (event opened); a framed send comes back as the guest's
 * in-band packet with the same payload (an echo); a raw send comes back as it was sent; a FIN
 * comes back as a FIN; a rescind queues guest_closed; begin() can queue a TL connect request.
 */
#include <string.h>

#include "unit_fake.h"

static struct fx_hv_in *queue_in(struct fake_hv *h)
{
	struct fx_hv_in *in;

	if (h->n >= FAKE_HV_QUEUE)
		return NULL;
	in = &h->q[h->n++];
	memset(in, 0, sizeof(*in));
	return in;
}

static void guid_of(uint32_t port, uint8_t g[16])
{
	static const uint8_t tail[12] = { 0xcb, 0xfa, 0xe6, 0x11, 0xbd, 0x58, 0x64, 0x00, 0x6a, 0x79,
					  0x86, 0xd3 };

	for (int i = 0; i < 4; i++)
		g[i] = (uint8_t)(port >> (8 * i));
	memcpy(g + 4, tail, 12);
}

static int hv_begin(void *ctx, const struct fx_device_needs *needs, char *why, size_t why_size)
{
	struct fake_hv *h = ctx;
	struct fx_hv_in *in;

	(void)needs, (void)why, (void)why_size;
	h->n = 0;
	h->head = 0;
	if (h->tl_guest_port) {
		in = queue_in(h);
		in->is_event = 1;
		in->event = 1;
		guid_of(h->tl_guest_port, in->a);
		guid_of(h->tl_host_port, in->b);
	}
	return 0;
}

static void hv_end(void *ctx)
{
	((struct fake_hv *)ctx)->n = 0;
}

static int hv_offer(void *ctx, const uint8_t if_type[16], const uint8_t if_instance[16],
		    int host_initiated, uint32_t *chan, uint32_t *state, char *why, size_t why_size)
{
	struct fake_hv *h = ctx;
	struct fx_hv_in *in = queue_in(h);

	(void)if_instance, (void)why, (void)why_size;
	memcpy(h->last_if_type, if_type, 16);
	h->last_host_initiated = host_initiated;
	*chan = 1;
	*state = 2;
	if (in) {
		in->is_event = 1;
		in->event = 2;
		in->chan = 1;
	}
	return 0;
}

static int hv_send(void *ctx, uint32_t chan, const uint8_t *bytes, size_t len, int raw, char *why,
		   size_t why_size)
{
	struct fake_hv *h = ctx;
	struct fx_hv_in *in = queue_in(h);

	(void)why, (void)why_size;
	if (!in)
		return 105;	/* ENOBUFS */
	in->chan = chan;
	if (raw) {
		memcpy(in->bytes, bytes, len);
		in->len = len;
		return 0;
	}
	/* Framed as hv_sock would: type 6, offset8 2, len8, pipe header {1, len}. */
	size_t body = 24 + ((len + 7) & ~(size_t)7);

	in->bytes[0] = 6;
	in->bytes[2] = 2;
	in->bytes[4] = (uint8_t)(body / 8);
	in->bytes[5] = (uint8_t)(body / 8 >> 8);
	in->bytes[16] = 1;
	memcpy(in->bytes + 20, &(uint32_t){ (uint32_t)len }, 4);
	memcpy(in->bytes + 24, bytes, len);
	in->len = body;
	return 0;
}

static int hv_recv(void *ctx, struct fx_hv_in *in, uint64_t deadline_ms, char *why, size_t why_size)
{
	struct fake_hv *h = ctx;

	(void)deadline_ms, (void)why, (void)why_size;
	if (h->head >= h->n)
		return 0;
	*in = h->q[h->head++];
	return 1;
}

static int hv_rescind(void *ctx, uint32_t chan, char *why, size_t why_size)
{
	struct fake_hv *h = ctx;
	struct fx_hv_in *in = queue_in(h);

	(void)why, (void)why_size;
	if (in) {
		in->is_event = 1;
		in->event = 3;
		in->chan = chan;
	}
	return 0;
}

static int hv_wire_send(void *ctx, const uint8_t *bytes, size_t len, const uint32_t *layout,
			int n_layout, char *why, size_t why_size)
{
	(void)ctx, (void)bytes, (void)len, (void)layout, (void)n_layout, (void)why, (void)why_size;
	return -1;
}

static int hv_wire_recv(void *ctx, struct fx_packet *pkt, uint64_t deadline_ms, char *why,
			size_t why_size)
{
	(void)ctx, (void)pkt, (void)deadline_ms, (void)why, (void)why_size;
	return -1;
}

static int hv_act(void *ctx, const char *what, uint64_t arg, char *why, size_t why_size)
{
	(void)ctx, (void)what, (void)arg, (void)why, (void)why_size;
	return FX_ACT_UNSUPPORTED;
}

const struct fx_wire_ops fake_hv_wire_ops = {
	.begin = hv_begin, .send = hv_wire_send, .recv = hv_wire_recv, .act = hv_act, .end = hv_end,
};

const struct fx_hv_ops fake_hv_ops = {
	.offer = hv_offer, .send = hv_send, .recv = hv_recv, .rescind = hv_rescind,
};
