/*
 * vsim_wire.c: engine 3's fx_wire_ops and fx_hv_ops on /dev/vmbus_sim. The engine only moves
 * bytes: it reads the session's events and the guest's packets in the order they happened (a
 * channel's packets before the event that says the guest closed it) and hands them to the
 * runner one at a time.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "vmbus_sim_uapi.h"
#include "vsim_wire.h"

/* How long end() waits for hv_sock to let go of the session's channels. */
#define HVF_END_WAIT_MS 10000

static struct fx_hv_in *push(struct hvf_wire *w)
{
	struct fx_hv_in *in;

	if (w->count == HVF_QUEUE_MAX)
		return NULL;
	in = &w->queue[(w->head + w->count) % HVF_QUEUE_MAX];
	w->count++;
	memset(in, 0, offsetof(struct fx_hv_in, bytes));
	return in;
}

static void forget_last(struct hvf_wire *w)
{
	w->count--;
}

/* Takes every packet waiting on chan into the queue. 0, or -1 (why). */
static int drain_chan(struct hvf_wire *w, uint32_t chan, char *why, size_t why_size)
{
	for (;;) {
		struct fx_hv_in *in = push(w);
		struct vsim_xfer x;

		if (!in) {
			snprintf(why, why_size, "more than %d packets and events read ahead", HVF_QUEUE_MAX);
			return -1;
		}
		memset(&x, 0, sizeof(x));
		x.chan = chan;
		x.flags = VSIM_XFER_RAW | VSIM_XFER_NONBLOCK;
		x.buf = (uintptr_t)in->bytes;
		x.len = sizeof(in->bytes);
		if (ioctl(w->fd, VSIM_IOC_RECV, &x)) {
			int e = errno;

			forget_last(w);
			/* Nothing waiting, the guest closed it, or it is gone: all mean "drained". */
			if (e == EAGAIN || e == EPIPE || e == ENOTCONN || e == ENOENT)
				return 0;
			snprintf(why, why_size, "VSIM_IOC_RECV channel %u: %s", chan, strerror(e));
			return -1;
		}
		if (x.truncated || x.done > sizeof(in->bytes)) {
			snprintf(why, why_size, "VSIM_IOC_RECV channel %u: a packet larger than %zu bytes",
				 chan, sizeof(in->bytes));
			return -1;
		}
		in->chan = chan;
		in->len = x.done;
	}
}

/* Reads what the device has now: events, and the packets they announce. 0, or -1 (why). */
static int read_ahead(struct hvf_wire *w, char *why, size_t why_size)
{
	int flags = fcntl(w->fd, F_GETFL), events = 0;

	if (flags < 0 || fcntl(w->fd, F_SETFL, flags | O_NONBLOCK)) {
		snprintf(why, why_size, "fcntl %s: %s", w->device, strerror(errno));
		return -1;
	}
	for (;;) {
		struct vsim_event ev;
		ssize_t n = read(w->fd, &ev, sizeof(ev));
		struct fx_hv_in *in;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n != (ssize_t)sizeof(ev)) {
			snprintf(why, why_size, "read %s: %s", w->device,
				 n < 0 ? strerror(errno) : "a short event record");
			fcntl(w->fd, F_SETFL, flags);
			return -1;
		}
		events++;
		if (ev.type == VSIM_EV_PACKET || ev.type == VSIM_EV_GUEST_CLOSED ||
		    ev.type == VSIM_EV_WAIT_RESCIND) {
			/* The channel's packets came first. */
			if (drain_chan(w, ev.chan, why, why_size)) {
				fcntl(w->fd, F_SETFL, flags);
				return -1;
			}
			if (ev.type == VSIM_EV_PACKET)
				continue;
		}
		in = push(w);
		if (!in) {
			snprintf(why, why_size, "more than %d packets and events read ahead", HVF_QUEUE_MAX);
			fcntl(w->fd, F_SETFL, flags);
			return -1;
		}
		in->is_event = 1;
		in->event = ev.type;
		in->chan = ev.chan;
		memcpy(in->a, ev.a.b, 16);
		memcpy(in->b, ev.b.b, 16);
		in->value = ev.value;
		in->value2 = ev.value2;
	}
	fcntl(w->fd, F_SETFL, flags);
	/* POLLIN without an event: a packet the hint has not announced (yet). */
	for (int i = 0; !events && i < w->n_chans; i++)
		if (drain_chan(w, w->chans[i], why, why_size))
			return -1;
	return 0;
}

static uint64_t now_ms(void)
{
	return fx_now_ms();
}

static int hv_recv(void *ctx, struct fx_hv_in *out, uint64_t deadline_ms, char *why, size_t why_size)
{
	struct hvf_wire *w = ctx;

	for (;;) {
		struct pollfd p = { .fd = w->fd, .events = POLLIN };
		uint64_t now;
		int rc;

		if (w->count) {
			memcpy(out, &w->queue[w->head], offsetof(struct fx_hv_in, bytes) +
			       w->queue[w->head].len);
			w->head = (w->head + 1) % HVF_QUEUE_MAX;
			w->count--;
			return 1;
		}
		now = now_ms();
		rc = poll(&p, 1, deadline_ms > now ? (int)(deadline_ms - now) : 0);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc < 0) {
			snprintf(why, why_size, "poll %s: %s", w->device, strerror(errno));
			return -1;
		}
		if (rc > 0 && read_ahead(w, why, why_size))
			return -1;
		if (w->count)
			continue;
		if (now_ms() >= deadline_ms)
			return 0;
		/* POLLIN with nothing to take (a packet between its write and its hint): a moment. */
		if (rc > 0)
			nanosleep(&(struct timespec){ 0, 5 * 1000 * 1000 }, NULL);
	}
}

static int hv_offer(void *ctx, const uint8_t if_type[16], const uint8_t if_instance[16],
		    int host_initiated, uint32_t *chan, uint32_t *state, char *why, size_t why_size)
{
	struct hvf_wire *w = ctx;
	struct vsim_offer o;

	if (w->n_chans == HVF_CHANS_MAX) {
		snprintf(why, why_size, "more than %d channels in one fixture", HVF_CHANS_MAX);
		return -1;
	}
	memset(&o, 0, sizeof(o));
	memcpy(o.if_type.b, if_type, 16);
	memcpy(o.if_instance.b, if_instance, 16);
	o.flags = host_initiated ? VSIM_OFFER_HOST_INITIATED : 0;
	if (ioctl(w->fd, VSIM_IOC_OFFER, &o)) {
		snprintf(why, why_size, "VSIM_IOC_OFFER: %s", strerror(errno));
		return -1;
	}
	w->chans[w->n_chans++] = o.chan;
	*chan = o.chan;
	*state = o.state;
	return 0;
}

static int hv_send(void *ctx, uint32_t chan, const uint8_t *bytes, size_t len, int raw, char *why,
		   size_t why_size)
{
	struct hvf_wire *w = ctx;
	struct vsim_xfer x;

	memset(&x, 0, sizeof(x));
	x.chan = chan;
	x.flags = raw ? VSIM_XFER_RAW : 0;
	x.buf = (uintptr_t)bytes;
	x.len = (uint32_t)len;
	while (ioctl(w->fd, VSIM_IOC_SEND, &x)) {
		if (errno == EINTR)
			continue;
		return errno;	/* the fixture's result judges it */
	}
	if (x.done != len) {
		snprintf(why, why_size, "VSIM_IOC_SEND took %u of %zu bytes", x.done, len);
		return -1;
	}
	return 0;
}

static int hv_rescind(void *ctx, uint32_t chan, char *why, size_t why_size)
{
	struct hvf_wire *w = ctx;
	struct vsim_chan_ref ref = { .chan = chan };

	(void)why;
	(void)why_size;
	if (ioctl(w->fd, VSIM_IOC_RESCIND, &ref))
		return errno;
	return 0;
}

/* A fresh session that hears every TL connect request (the all-zero service GUID). */
static int wire_begin(void *ctx, const struct fx_device_needs *needs, char *why, size_t why_size)
{
	struct hvf_wire *w = ctx;
	struct vsim_listen all = { 0 };
	struct vsim_info info;

	(void)needs;	/* the loader keeps "device" out of hv_sock fixtures */
	w->n_chans = 0;
	w->head = w->count = 0;
	w->fd = open(w->device, O_RDWR | O_CLOEXEC);
	if (w->fd < 0) {
		snprintf(why, why_size, "open %s: %s (is vmbus_sim loaded?)", w->device, strerror(errno));
		return -1;
	}
	if (ioctl(w->fd, VSIM_IOC_INFO, &info)) {
		snprintf(why, why_size, "VSIM_IOC_INFO: %s", strerror(errno));
		goto fail;
	}
	if (info.abi != VSIM_ABI) {
		snprintf(why, why_size, "%s speaks ABI %u, this engine %u", w->device, info.abi, VSIM_ABI);
		goto fail;
	}
	if (!info.driver_registered) {
		snprintf(why, why_size, "hv_sock has not registered its driver (is hv_sock.ko loaded?)");
		goto fail;
	}
	if (ioctl(w->fd, VSIM_IOC_LISTEN, &all)) {
		snprintf(why, why_size, "VSIM_IOC_LISTEN (every service): %s", strerror(errno));
		goto fail;
	}
	return 0;
fail:
	close(w->fd);
	w->fd = -1;
	return -1;
}

/* Closing the session rescinds its channels; then hv_sock has to let go of them. */
static void wire_end(void *ctx)
{
	struct hvf_wire *w = ctx;
	uint64_t until = now_ms() + HVF_END_WAIT_MS;
	struct vsim_info info = { 0 };
	int fd;

	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
	w->n_chans = 0;
	w->count = 0;
	fd = open(w->device, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return;
	while (!ioctl(fd, VSIM_IOC_INFO, &info) && info.channels && now_ms() < until)
		nanosleep(&(struct timespec){ 0, 20 * 1000 * 1000 }, NULL);
	if (info.channels)
		fprintf(stderr, "hvsock-fixtures: %u channel(s) still alive %d ms after the session closed\n",
			info.channels, HVF_END_WAIT_MS);
	close(fd);
}

static int wire_send(void *ctx, const uint8_t *bytes, size_t len, const uint32_t *layout,
		     int n_layout, char *why, size_t why_size)
{
	(void)ctx, (void)bytes, (void)len, (void)layout, (void)n_layout;
	snprintf(why, why_size, "a virtio packet on the hv_sock engine");
	return -1;
}

static int wire_recv(void *ctx, struct fx_packet *pkt, uint64_t deadline_ms, char *why, size_t why_size)
{
	(void)ctx, (void)pkt, (void)deadline_ms;
	snprintf(why, why_size, "a virtio packet on the hv_sock engine");
	return -1;
}

static int wire_act(void *ctx, const char *what, uint64_t arg, char *why, size_t why_size)
{
	(void)ctx, (void)arg;
	snprintf(why, why_size, "the hv_sock engine has no act %s", what);
	return FX_ACT_UNSUPPORTED;
}

const struct fx_wire_ops hvf_wire_ops = {
	.begin = wire_begin, .send = wire_send, .recv = wire_recv, .act = wire_act, .end = wire_end,
};

const struct fx_hv_ops hvf_hv_ops = {
	.offer = hv_offer, .send = hv_send, .recv = hv_recv, .rescind = hv_rescind,
};

int hvf_wire_init(struct hvf_wire *wire, struct fx_engine *engine)
{
	wire->device = VSIM_DEVICE;
	wire->fd = -1;
	wire->queue = calloc(HVF_QUEUE_MAX, sizeof(*wire->queue));
	if (!wire->queue)
		return -1;
	engine->ctx = wire;
	engine->ops = &hvf_wire_ops;
	engine->hv = &hvf_hv_ops;
	return 0;
}
