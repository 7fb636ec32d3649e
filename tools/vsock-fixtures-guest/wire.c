/* wire.c: engine 2's fx_wire_ops: we are the guest driver of a vhost_vsock device, the kernel
 * under test is its host side. */
#include "wire.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include <linux/virtio_config.h>

#define PAGE 4096u
/* The whole shared region: rings, receive buffers, TX slots (a fixture asking for more SKIPs). */
#define FXG_MEM_MAX (96u << 20)
/* How long send() waits for vhost to give back a TX chain when all are in use. */
#define TX_FULL_WAIT_MS 2000

static size_t page_round(size_t n)
{
	return (n + PAGE - 1) & ~(size_t)(PAGE - 1);
}

static unsigned int pow2_at_least(unsigned int n)
{
	unsigned int num = 1;

	while (num < n)
		num <<= 1;
	return num;
}

static int post_rx_buffer(struct fxg_wire *w, unsigned int index)
{
	struct fxg_segment buffer = {
		.addr = w->rx_buffers + (size_t)index * w->rx_size,
		.len = w->rx_size,
		.device_writes = 1,
	};

	return fxg_ring_publish(&w->rx, &buffer, 1, index) < 0 ? -1 : 0;
}

/* Lays out the shared region: both rings, then the receive buffers, then the TX slots. */
static void place(struct fxg_wire *w, unsigned int rx_num)
{
	uint8_t *at = w->dev.mem;

	fxg_ring_init(&w->rx, at, rx_num);
	at += fxg_ring_bytes(rx_num);
	fxg_ring_init(&w->tx, at, FXG_TX_RING);
	at += fxg_ring_bytes(FXG_TX_RING);
	w->rx_buffers = at;
	at += page_round((size_t)w->rx_count * w->rx_size);
	w->tx_slots = at;
}

static int bring_up(struct fxg_wire *w, const struct fx_device_needs *needs, char *why,
		    size_t why_size)
{
	uint64_t features;
	unsigned int i;
	int err;

	if (needs->seqpacket == 1 && !(w->dev.offered & FX_F_SEQPACKET)) {
		snprintf(why, why_size, "this kernel's vhost_vsock does not offer "
			 "VIRTIO_VSOCK_F_SEQPACKET (features 0x%llx)",
			 (unsigned long long)w->dev.offered);
		return 1;
	}
	/* Never ACCESS_PLATFORM (IOTLB messages) nor EVENT_IDX (used_event/avail_event). */
	features = w->dev.offered & (1ull << VIRTIO_F_VERSION_1);
	if (needs->seqpacket != 0)
		features |= w->dev.offered & FX_F_SEQPACKET;
	if (vhost_dev_set_features(&w->dev, features, why, why_size))
		return -1;
	w->engine->features = features;
	if (vhost_dev_set_vring(&w->dev, FXG_RX_QUEUE, w->rx.num, w->rx.desc, w->rx.avail,
				w->rx.used, why, why_size) ||
	    vhost_dev_set_vring(&w->dev, FXG_TX_QUEUE, w->tx.num, w->tx.desc, w->tx.avail,
				w->tx.used, why, why_size))
		return -1;
	for (i = 0; i < w->rx_count; i++)
		post_rx_buffer(w, i);	/* cannot fail: the ring has at least rx_count entries */
	for (i = 0; i < FXG_TX_SLOTS; i++)
		w->free_slots[i] = FXG_TX_SLOTS - 1 - i;
	w->n_free_slots = FXG_TX_SLOTS;
	err = vhost_dev_set_guest_cid(&w->dev, w->engine->engine_cid);
	if (err) {
		snprintf(why, why_size, "VHOST_VSOCK_SET_GUEST_CID %llu: %s",
			 (unsigned long long)w->engine->engine_cid, strerror(err));
		return -1;
	}
	err = vhost_dev_set_running(&w->dev, 1);
	if (err) {
		snprintf(why, why_size, "VHOST_VSOCK_SET_RUNNING 1: %s", strerror(err));
		return -1;
	}
	return vhost_dev_kick(&w->dev, FXG_RX_QUEUE, why, why_size);
}

static int wire_begin(void *ctx, const struct fx_device_needs *needs, char *why, size_t why_size)
{
	struct fxg_wire *w = ctx;
	unsigned int rx_num;
	size_t mem_size;
	int ret;

	if (w->up)
		fxg_wire_ops.end(w);
	/*
	 * Each fixture plays another CID. Closing the device resets the kernel's sockets towards
	 * the old one, but what the kernel still sends it later (an RST when its 8 s close timer
	 * fires, the answer to a late SHUTDOWN) would land in the next fixture under the same CID;
	 * under a new one vhost drops it, as for any CID nobody holds.
	 */
	w->engine->engine_cid = w->first_cid + w->fixtures_begun++ % FXG_CIDS_IN_TURN;
	w->rx_count = needs->rx_buffers ? needs->rx_buffers : FXG_RX_BUFFERS_DEFAULT;
	w->rx_size = needs->rx_buffer_size ? needs->rx_buffer_size : FXG_RX_BUFFER_SIZE_DEFAULT;
	w->rx_errors = w->tx_errors = 0;
	w->closed = 0;
	if (w->rx_count > FXG_RING_MAX || w->rx_size > FX_PACKET_MAX) {
		snprintf(why, why_size, "device: %u receive buffers of %u bytes: engine 2 posts at "
			 "most %u of at most %u", w->rx_count, w->rx_size, FXG_RING_MAX,
			 FX_PACKET_MAX);
		return 1;
	}
	rx_num = pow2_at_least(w->rx_count);
	mem_size = fxg_ring_bytes(rx_num) + fxg_ring_bytes(FXG_TX_RING) +
		   page_round((size_t)w->rx_count * w->rx_size) +
		   page_round((size_t)FXG_TX_SLOTS * FX_PACKET_MAX);
	if (mem_size > FXG_MEM_MAX) {
		snprintf(why, why_size, "device: %u receive buffers of %u bytes need %zu bytes of "
			 "shared memory, engine 2 maps at most %u", w->rx_count, w->rx_size,
			 mem_size, FXG_MEM_MAX);
		return 1;
	}
	if (vhost_dev_open(&w->dev, mem_size, why, why_size))
		return -1;
	w->up = 1;
	place(w, rx_num);
	ret = bring_up(w, needs, why, why_size);
	if (ret)
		fxg_wire_ops.end(w);
	return ret;
}

static void count_errors(struct fxg_wire *w)
{
	uint64_t rx = vhost_dev_take_event(w->dev.queue[FXG_RX_QUEUE].err);
	uint64_t tx = vhost_dev_take_event(w->dev.queue[FXG_TX_QUEUE].err);

	/* vhost printed the reason with pr_debug only: the console shows that it happened. */
	if (rx)
		fprintf(stderr, "vsock-fixtures-guest: vhost signalled %llu RX queue error(s)\n",
			(unsigned long long)rx);
	if (tx)
		fprintf(stderr, "vsock-fixtures-guest: vhost signalled %llu TX queue error(s)\n",
			(unsigned long long)tx);
	w->rx_errors += rx;
	w->tx_errors += tx;
}

/* Takes back every TX chain vhost returned (or skipped), freeing their slots. */
static int reap_tx(struct fxg_wire *w, char *why, size_t why_size)
{
	unsigned int lost[FXG_RING_MAX], n_lost, i;
	struct fxg_used used;
	int r;

	while ((r = fxg_ring_reap(&w->tx, &used, lost, FXG_RING_MAX, &n_lost, why, why_size)) > 0) {
		w->free_slots[w->n_free_slots++] = used.cookie;
		for (i = 0; i < n_lost; i++)
			w->free_slots[w->n_free_slots++] = lost[i];
	}
	if (r < 0) {
		size_t n = strlen(why);

		snprintf(why + n, why_size - n, " (TX queue)");
	}
	return r;
}

/* Takes the next packet vhost wrote, if any, and gives the buffer (and any it skipped) back. */
static int take_rx(struct fxg_wire *w, struct fx_packet *pkt, char *why, size_t why_size)
{
	unsigned int lost[FXG_RING_MAX], n_lost, i;
	struct fxg_used used;
	int r;

	r = fxg_ring_reap(&w->rx, &used, lost, FXG_RING_MAX, &n_lost, why, why_size);
	if (r < 0) {
		size_t n = strlen(why);

		snprintf(why + n, why_size - n, " (RX queue)");
	}
	if (r <= 0)
		return r;
	if (used.len < FX_HDR_SIZE) {
		snprintf(why, why_size, "vhost returned RX buffer %u with %u bytes, less than a "
			 "packet header", used.cookie, used.len);
		return -1;
	}
	/* used.len <= rx_size <= FX_PACKET_MAX: checked by the ring and by begin(). */
	memcpy(pkt->bytes, w->rx_buffers + (size_t)used.cookie * w->rx_size, used.len);
	pkt->len = used.len;
	/* vhost writes a whole header into every buffer, so each buffer is one packet. */
	pkt->n_buffers = 1;
	post_rx_buffer(w, used.cookie);
	for (i = 0; i < n_lost; i++)
		post_rx_buffer(w, lost[i]);
	if (vhost_dev_kick(&w->dev, FXG_RX_QUEUE, why, why_size))
		return -1;
	return 1;
}

/* Sleeps until vhost calls or signals an error on either queue, or `timeout_ms` passes. */
static void wait_for_vhost(struct fxg_wire *w, uint64_t timeout_ms)
{
	struct pollfd fds[4];
	int n = 0, q;

	if (!w->closed) {
		for (q = 0; q < 2; q++) {
			fds[n++] = (struct pollfd){ .fd = w->dev.queue[q].call, .events = POLLIN };
			fds[n++] = (struct pollfd){ .fd = w->dev.queue[q].err, .events = POLLIN };
		}
	}
	if (poll(fds, n, timeout_ms > INT_MAX ? INT_MAX : (int)timeout_ms) <= 0)
		return;	/* EINTR or the timeout: the caller looks at the rings and the clock */
	if (!w->closed) {
		vhost_dev_take_event(w->dev.queue[FXG_RX_QUEUE].call);
		vhost_dev_take_event(w->dev.queue[FXG_TX_QUEUE].call);
		count_errors(w);
	}
}

/* A slot and `n_desc` descriptors for one packet, waiting a while for vhost to return some. */
static int get_tx_slot(struct fxg_wire *w, unsigned int n_desc, unsigned int *slot, char *why,
		       size_t why_size)
{
	uint64_t deadline = fx_now_ms() + TX_FULL_WAIT_MS, now;

	for (;;) {
		if (reap_tx(w, why, why_size) < 0)
			return -1;
		if (w->n_free_slots && w->tx.n_free >= n_desc) {
			*slot = w->free_slots[--w->n_free_slots];
			return 0;
		}
		now = fx_now_ms();
		if (now >= deadline)
			break;
		wait_for_vhost(w, deadline - now);
	}
	snprintf(why, why_size, "TX queue full: vhost returned none of its %u chains within %d ms "
		 "(it stops taking TX while its replies wait for receive buffers)",
		 w->tx.outstanding, TX_FULL_WAIT_MS);
	return -1;
}

static int wire_send(void *ctx, const uint8_t *bytes, size_t len, const uint32_t *layout,
		     int n_layout, char *why, size_t why_size)
{
	struct fxg_wire *w = ctx;
	struct fxg_segment segments[FX_LAYOUT_MAX];
	unsigned int slot;
	size_t offset = 0;
	uint8_t *data;
	int i, n;

	if (!w->up || w->closed) {
		snprintf(why, why_size, "send: the device is %s", w->up ? "closed" : "not set up");
		return -1;
	}
	if (len > FX_PACKET_MAX) {
		snprintf(why, why_size, "send: a packet of %zu bytes, engine 2 sends at most %u",
			 len, FX_PACKET_MAX);
		return 1;
	}
	if (n_layout < 0 || n_layout > FX_LAYOUT_MAX) {
		snprintf(why, why_size, "send: layout of %d descriptors, at most %d", n_layout,
			 FX_LAYOUT_MAX);
		return -1;
	}
	n = n_layout ? n_layout : 1;
	for (i = 0; i < n_layout; i++)
		offset += layout[i];
	if (n_layout && offset != len) {
		snprintf(why, why_size, "send: layout adds up to %zu bytes, the packet has %zu",
			 offset, len);
		return -1;
	}
	if (get_tx_slot(w, n, &slot, why, why_size))
		return -1;
	data = w->tx_slots + (size_t)slot * FX_PACKET_MAX;
	memcpy(data, bytes, len);
	offset = 0;
	for (i = 0; i < n; i++) {
		uint32_t piece = n_layout ? layout[i] : len;

		segments[i] = (struct fxg_segment){ .addr = data + offset, .len = piece };
		offset += piece;
	}
	/* get_tx_slot made sure of n free descriptors. */
	fxg_ring_publish(&w->tx, segments, n, slot);
	return vhost_dev_kick(&w->dev, FXG_TX_QUEUE, why, why_size);
}

static int wire_recv(void *ctx, struct fx_packet *pkt, uint64_t deadline_ms, char *why,
		     size_t why_size)
{
	struct fxg_wire *w = ctx;
	uint64_t now;
	int r;

	if (!w->up) {
		snprintf(why, why_size, "recv: the device is not set up");
		return -1;
	}
	for (;;) {
		if (!w->closed) {
			r = take_rx(w, pkt, why, why_size);
			if (r != 0)
				return r;
			/* Returned TX chains free slots; a bad value there breaks the device too. */
			if (reap_tx(w, why, why_size) < 0)
				return -1;
		}
		now = fx_now_ms();
		if (now >= deadline_ms)
			return 0;
		wait_for_vhost(w, deadline_ms - now);
	}
}

static int wire_act(void *ctx, const char *what, uint64_t arg, char *why, size_t why_size)
{
	struct fxg_wire *w = ctx;

	if (!strcmp(what, "transport_reset")) {
		snprintf(why, why_size, "transport_reset: vhost_vsock has no such event to send; the "
			 "device side sends it (engine 1)");
		return FX_ACT_UNSUPPORTED;
	}
	if (strcmp(what, "device_stop") && strcmp(what, "device_close") &&
	    strcmp(what, "set_guest_cid")) {
		snprintf(why, why_size, "engine act \"%s\": engine 2 knows device_stop, device_close, "
			 "set_guest_cid", what);
		return FX_ACT_UNSUPPORTED;
	}
	if (!w->up || w->closed) {
		snprintf(why, why_size, "%s: the device is %s", what,
			 w->up ? "closed already" : "not set up");
		return -1;
	}
	if (!strcmp(what, "device_stop"))
		return vhost_dev_set_running(&w->dev, 0);
	if (!strcmp(what, "set_guest_cid"))
		return vhost_dev_set_guest_cid(&w->dev, arg);
	/* device_close: vhost releases the CID and resets what was connected to it. */
	vhost_dev_close_fd(&w->dev);
	w->closed = 1;
	return 0;
}

static void wire_end(void *ctx)
{
	struct fxg_wire *w = ctx;

	vhost_dev_release(&w->dev);
	w->up = 0;
	w->closed = 0;
}

const struct fx_wire_ops fxg_wire_ops = {
	.begin = wire_begin,
	.send = wire_send,
	.recv = wire_recv,
	.act = wire_act,
	.end = wire_end,
};

void fxg_wire_init(struct fxg_wire *wire, struct fx_engine *engine)
{
	memset(wire, 0, sizeof(*wire));
	wire->dev.fd = -1;
	wire->dev.queue[0] = wire->dev.queue[1] = (struct fxg_queue_fds){ -1, -1, -1 };
	wire->engine = engine;
	wire->first_cid = engine->engine_cid;
	engine->target = "vhost_vsock";
	engine->ops = &fxg_wire_ops;
	engine->ctx = wire;
}
