/* fx_host_pump.c: what engine 1 waits on between packets: QEMU's vhost-user messages, handled
 * by the device's own handlers, and the guest's kicks on rx and tx. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fx_host.h"
#include "vu_proto.h"
#include "vu_vsock.h"

int fx_host_running(const struct fx_host *host)
{
	return host->dev->vrings[VU_VSOCK_RX].enabled && host->dev->vrings[VU_VSOCK_TX].enabled;
}

static void lost(struct fx_host *host, const char *fmt, const char *detail)
{
	snprintf(host->broken, sizeof(host->broken), fmt, detail);
	if (host->qemu_fd >= 0)
		close(host->qemu_fd);
	host->qemu_fd = -1;
}

static void drain_kick(int fd)
{
	uint64_t count;

	/* Eventfds hold a count: one read clears however many kicks came. */
	if (read(fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		fprintf(stderr, "vhost-user-vsock: fixtures: reading a kick: %s\n", strerror(errno));
}

int fx_host_pump(struct fx_host *host, int timeout_ms)
{
	struct pollfd pfd[1 + VU_VSOCK_QUEUES];
	char error[256] = "";
	struct vu_msg msg;
	int n = 0, i, ret;

	if (host->broken[0])
		return -1;
	if (host->qemu_fd >= 0)
		pfd[n++] = (struct pollfd){ .fd = host->qemu_fd, .events = POLLIN };
	for (i = 0; i < VU_VSOCK_QUEUES; i++)
		if (host->dev->vrings[i].kick_fd >= 0)
			pfd[n++] = (struct pollfd){ .fd = host->dev->vrings[i].kick_fd, .events = POLLIN };
	ret = poll(pfd, n, timeout_ms);
	if (ret < 0 && errno != EINTR) {
		lost(host, "poll: %s", strerror(errno));
		return -1;
	}
	if (ret <= 0)
		return 0;
	/* Kicks first: a message may close their descriptors. */
	for (i = host->qemu_fd >= 0; i < n; i++)
		if (pfd[i].revents)
			drain_kick(pfd[i].fd);
	if (host->qemu_fd < 0 || !pfd[0].revents)
		return 0;
	ret = vu_msg_read(host->qemu_fd, &msg, error, sizeof(error));
	if (ret == 0) {
		lost(host, "%s", "QEMU closed the vhost-user connection");
		return -1;
	}
	if (ret < 0 || vu_device_handle(host->dev, host->qemu_fd, &msg, error, sizeof(error)) < 0) {
		lost(host, "vhost-user: %s", error);
		return -1;
	}
	return 0;
}
