/* hvp_session.c: one host session on /dev/vmbus_sim, its errors and its event queue. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "hvp.h"
#include "hvp_internal.h"

int hvp_fail(struct hvp_session *s, int err, const char *fmt, ...)
{
	char what[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(s->error, sizeof(s->error), "%s: %s", what, strerror(err));
	return -err;
}

int hvp_ioctl(struct hvp_session *s, unsigned long req, void *arg, const char *name, uint32_t chan)
{
	if (ioctl(s->fd, req, arg) == 0)
		return 0;
	if (chan)
		return hvp_fail(s, errno, "%s(chan %u)", name, chan);
	return hvp_fail(s, errno, "%s", name);
}

long hvp_ms_left(const struct timespec *deadline)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (deadline->tv_sec - now.tv_sec) * 1000L + (deadline->tv_nsec - now.tv_nsec) / 1000000L;
}

void hvp_deadline(struct timespec *deadline, int timeout_ms)
{
	clock_gettime(CLOCK_MONOTONIC, deadline);
	deadline->tv_sec += timeout_ms / 1000;
	deadline->tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (deadline->tv_nsec >= 1000000000L) {
		deadline->tv_sec++;
		deadline->tv_nsec -= 1000000000L;
	}
}

int hvp_open(struct hvp_session *s)
{
	struct vsim_info info;
	int ret;

	memset(s, 0, sizeof(*s));
	s->fd = open(VSIM_DEVICE, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (s->fd < 0)
		return hvp_fail(s, errno, "open(%s)", VSIM_DEVICE);
	ret = hvp_info(s, &info);
	if (ret < 0)
		return ret;
	if (info.abi != VSIM_ABI) {
		close(s->fd);
		s->fd = -1;
		return hvp_fail(s, EPROTO, "VSIM_IOC_INFO: ABI %u, expected %u", info.abi, VSIM_ABI);
	}
	return 0;
}

void hvp_close(struct hvp_session *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}

const char *hvp_error(const struct hvp_session *s)
{
	return s->error;
}

int hvp_info(struct hvp_session *s, struct vsim_info *info)
{
	memset(info, 0, sizeof(*info));
	return hvp_ioctl(s, VSIM_IOC_INFO, info, "VSIM_IOC_INFO", 0);
}

int hvp_set_proto(struct hvp_session *s, uint32_t version)
{
	struct vsim_proto p = { .version = version };

	return hvp_ioctl(s, VSIM_IOC_SET_PROTO, &p, "VSIM_IOC_SET_PROTO", 0);
}

/* Moves whatever events the device holds into the queue; -errno on a read error. */
int hvp_drain_events(struct hvp_session *s)
{
	struct vsim_event ev;
	ssize_t n;

	while (s->queued < HVP_EVENT_QUEUE) {
		n = read(s->fd, &ev, sizeof(ev));
		if (n < 0)
			return errno == EAGAIN ? 0 : hvp_fail(s, errno, "read(%s)", VSIM_DEVICE);
		if (n != (ssize_t)sizeof(ev))
			return hvp_fail(s, EPROTO, "read(%s): %zd bytes, not one event", VSIM_DEVICE, n);
		s->queue[s->queued++] = ev;
	}
	return 0;
}

static int take_queued(struct hvp_session *s, uint32_t type, uint32_t chan, struct vsim_event *ev)
{
	unsigned int i;

	for (i = 0; i < s->queued; i++) {
		if (s->queue[i].type != type || (chan && s->queue[i].chan != chan))
			continue;
		if (ev)
			*ev = s->queue[i];
		memmove(&s->queue[i], &s->queue[i + 1], (s->queued - i - 1) * sizeof(s->queue[0]));
		s->queued--;
		return 1;
	}
	return 0;
}

int hvp_event_pending(struct hvp_session *s, uint32_t type, uint32_t chan)
{
	unsigned int i;

	hvp_drain_events(s);
	for (i = 0; i < s->queued; i++)
		if (s->queue[i].type == type && (!chan || s->queue[i].chan == chan))
			return 1;
	return 0;
}

/*
 * poll() also reports POLLIN while a channel has a packet nobody took yet, so the wait sleeps in
 * short slices rather than trusting POLLIN to mean an event.
 */
int hvp_wait_event(struct hvp_session *s, uint32_t type, uint32_t chan, int timeout_ms,
		   struct vsim_event *ev)
{
	struct timespec deadline;
	struct pollfd pfd = { .fd = s->fd, .events = POLLIN };
	long left;
	int ret;

	hvp_deadline(&deadline, timeout_ms);
	for (;;) {
		ret = hvp_drain_events(s);
		if (ret < 0)
			return ret;
		if (take_queued(s, type, chan, ev))
			return 0;
		left = hvp_ms_left(&deadline);
		if (left <= 0)
			return hvp_fail(s, ETIMEDOUT, "waiting %d ms for event %u (chan %u)", timeout_ms,
					type, chan);
		if (s->queued == HVP_EVENT_QUEUE)
			return hvp_fail(s, ENOBUFS, "waiting for event %u: %u other events queued",
					type, s->queued);
		poll(&pfd, 1, left < 20 ? (int)left : 20);
	}
}
