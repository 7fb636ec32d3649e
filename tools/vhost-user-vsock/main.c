/*
 * main.c: vhost-user-vsock, a vsock device for QEMU's vhost-user-vsock-pci, as a plain process.
 * Command line and connection loop; the protocol is in vu_proto.c, the device in vu_device.c.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "vu_device.h"
#include "vu_vsock.h"

static const char *socket_path;

static void usage(FILE *out, const char *prog)
{
	fprintf(out,
		"usage: %s --socket-path PATH --guest-cid CID [--verbose]\n"
		"       %s --print-capabilities\n"
		"A vhost-user backend for QEMU's vhost-user-vsock-pci device: listens on PATH,\n"
		"serves one QEMU at a time and takes the next when it disconnects.\n"
		"  --socket-path PATH    Unix socket QEMU connects to (-chardev socket,path=PATH)\n"
		"  --guest-cid CID       the guest's CID, 3 to 0xfffffffe, in the device config space\n"
		"  --verbose             log every vhost-user message on stderr\n"
		"  --print-capabilities  print the backend's capabilities as JSON and exit\n",
		prog, prog);
}

static void die(const char *prog, const char *fmt, const char *value)
{
	fprintf(stderr, "%s: ", prog);
	fprintf(stderr, fmt, value);
	fputc('\n', stderr);
	exit(2);
}

/* QEMU's backend conventions: exit promptly on SIGTERM; leave no socket file behind. */
static void on_signal(int sig)
{
	(void)sig;
	if (socket_path)
		unlink(socket_path);
	_exit(0);
}

static int listen_on(const char *prog, const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(addr.sun_path))
		die(prog, "--socket-path %s: longer than a Unix socket path may be", path);
	strcpy(addr.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die(prog, "socket(AF_UNIX): %s", strerror(errno));
	unlink(path);
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 || listen(fd, 1) != 0)
		die(prog, "--socket-path: cannot listen: %s", strerror(errno));
	return fd;
}

/* Reads a kick's eventfd counter; a guest that kicked twice still means one pass over the ring. */
static void drain_kick(int fd)
{
	uint64_t count;

	if (read(fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		fprintf(stderr, "vhost-user-vsock: reading a kick failed: %s\n", strerror(errno));
}

/* Serves one QEMU until it goes away or breaks the protocol; the guest's kicks in between. */
static void serve(const char *prog, struct vu_device *dev, int conn)
{
	static struct vu_vsock vsock;
	struct pollfd fds[1 + VU_VSOCK_QUEUES];
	char error[256] = "";
	struct vu_msg msg;
	int ret, i;

	memset(&vsock, 0, sizeof(vsock));
	for (;;) {
		/* Kick descriptors change with SET_VRING_KICK and GET_VRING_BASE: rebuild each time. */
		fds[0] = (struct pollfd){ .fd = conn, .events = POLLIN };
		for (i = 0; i < VU_VSOCK_QUEUES; i++)
			fds[1 + i] = (struct pollfd){ .fd = dev->vrings[i].kick_fd, .events = POLLIN };
		if (poll(fds, 1 + VU_VSOCK_QUEUES, -1) < 0) {
			if (errno == EINTR)
				continue;
			snprintf(error, sizeof(error), "poll: %s", strerror(errno));
			break;
		}
		for (i = 0; i < VU_VSOCK_QUEUES; i++) {
			if (!(fds[1 + i].revents & POLLIN))
				continue;
			drain_kick(fds[1 + i].fd);
			if (vu_vsock_kick(dev, &vsock, (unsigned int)i, error, sizeof(error)) < 0)
				goto out;
		}
		if (!(fds[0].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		ret = vu_msg_read(conn, &msg, error, sizeof(error));
		if (ret == 0) {
			error[0] = '\0';
			break;
		}
		if (ret < 0 || vu_device_handle(dev, conn, &msg, error, sizeof(error)) < 0)
			break;
	}
out:
	if (error[0])
		fprintf(stderr, "%s: dropping the connection: %s\n", prog, error);
	if (vsock.dropped)
		fprintf(stderr, "%s: %lu packets for the guest dropped: no receive buffers\n", prog,
			vsock.dropped);
	close(conn);
	vu_device_reset(dev);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket-path", required_argument, NULL, 's' },
		{ "guest-cid", required_argument, NULL, 'c' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "print-capabilities", no_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long long cid = 0;
	struct vu_device dev;
	int opt, verbose = 0, listener;
	char *end;

	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 's': socket_path = optarg; break;
		case 'c':
			errno = 0;
			cid = strtoull(optarg, &end, 0);
			if (errno || !*optarg || *end || cid < 3 || cid >= 0xffffffffull)
				die(argv[0], "--guest-cid '%s': not a guest CID (3 to 0xfffffffe)",
				    optarg);
			break;
		case 'v': verbose = 1; break;
		case 'p': printf("{\n  \"type\": \"vsock\"\n}\n"); return 0;
		case 'h': usage(stdout, argv[0]); return 0;
		default: usage(stderr, argv[0]); return 2;
		}
	}
	if (optind < argc)
		die(argv[0], "unexpected argument '%s' (see --help)", argv[optind]);
	if (!socket_path || !cid)
		die(argv[0], "%s", "--socket-path and --guest-cid are required (see --help)");
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGPIPE, SIG_IGN);
	listener = listen_on(argv[0], socket_path);
	vu_device_init(&dev, cid, verbose);
	for (;;) {
		int conn = accept4(listener, NULL, NULL, SOCK_CLOEXEC);

		if (conn < 0) {
			if (errno == EINTR)
				continue;
			die(argv[0], "accept: %s", strerror(errno));
		}
		serve(argv[0], &dev, conn);
	}
}
