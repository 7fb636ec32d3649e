/* hvp_xfer.c: packets on an open channel, FIN, rescind and the channel's state. */
#include <errno.h>
#include <poll.h>
#include <string.h>

#include "hvp.h"
#include "hvp_internal.h"

int hvp_send_packet(struct hvp_conn *c, const void *buf, uint32_t len, uint32_t flags)
{
	struct vsim_xfer x = { .chan = c->chan, .flags = flags, .buf = (uintptr_t)buf, .len = len };
	int ret;

	if (!(flags & VSIM_XFER_RAW) && len > HVP_MTU)
		return hvp_fail(c->s, EMSGSIZE, "hvp_send_packet(chan %u): %u bytes > MTU %u", c->chan,
				len, HVP_MTU);
	ret = hvp_ioctl(c->s, VSIM_IOC_SEND, &x, "VSIM_IOC_SEND", c->chan);
	if (ret < 0)
		return ret;
	return (int)x.done;
}

int hvp_send(struct hvp_conn *c, const void *buf, size_t len, uint32_t chunk)
{
	const uint8_t *p = buf;
	size_t n;
	int ret;

	if (!chunk || chunk > HVP_MTU)
		chunk = HVP_MTU;
	while (len) {
		n = len < chunk ? len : chunk;
		ret = hvp_send_packet(c, p, (uint32_t)n, 0);
		if (ret < 0)
			return ret;
		p += n;
		len -= n;
	}
	return 0;
}

int hvp_shutdown(struct hvp_conn *c)
{
	int ret = hvp_send_packet(c, NULL, 0, 0);

	return ret < 0 ? ret : 0;
}

int hvp_recv_packet(struct hvp_conn *c, void *buf, uint32_t len, uint32_t flags, int timeout_ms,
		    struct hvp_packet *p)
{
	struct timespec deadline;
	struct pollfd pfd = { .fd = c->s->fd, .events = POLLIN };
	struct vsim_xfer x;
	long left;
	int ret;

	hvp_deadline(&deadline, timeout_ms);
	for (;;) {
		x = (struct vsim_xfer){ .chan = c->chan, .flags = flags | VSIM_XFER_NONBLOCK,
					.buf = (uintptr_t)buf, .len = len };
		ret = hvp_ioctl(c->s, VSIM_IOC_RECV, &x, "VSIM_IOC_RECV", c->chan);
		if (ret == 0) {
			*p = (struct hvp_packet){ .len = x.done, .fin = (int)x.fin,
						  .truncated = (int)x.truncated,
						  .desc_type = x.desc_type };
			return (int)x.done;
		}
		if (ret != -EAGAIN)
			return ret;
		left = hvp_ms_left(&deadline);
		if (left <= 0)
			return hvp_fail(c->s, ETIMEDOUT, "VSIM_IOC_RECV(chan %u): no packet in %d ms",
					c->chan, timeout_ms);
		/* Events make the device readable too: keep them, then wait a slice. */
		ret = hvp_drain_events(c->s);
		if (ret < 0)
			return ret;
		poll(&pfd, 1, left < 20 ? (int)left : 20);
	}
}

int hvp_rescind(struct hvp_conn *c)
{
	struct vsim_chan_ref r = { .chan = c->chan };

	return hvp_ioctl(c->s, VSIM_IOC_RESCIND, &r, "VSIM_IOC_RESCIND", c->chan);
}

int hvp_chan_info(struct hvp_conn *c, struct vsim_chan_info *info)
{
	memset(info, 0, sizeof(*info));
	info->chan = c->chan;
	return hvp_ioctl(c->s, VSIM_IOC_CHAN_INFO, info, "VSIM_IOC_CHAN_INFO", c->chan);
}
