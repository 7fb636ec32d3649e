/* main.c: vsockmon-capture, records the guest's vsock packets from a vsockmon link as a pcap. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <linux/if_ether.h>
#include <net/if.h>
#include <linux/if_packet.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mon_link.h"
#include "pcap_out.h"

/* Exit statuses: 0 stopped by SIGTERM/SIGINT with every frame written, 1 a call failed,
 * 2 a bad command line, 3 the kernel has no vsockmon link type (nothing was recorded). */
#define EXIT_FAILED 1
#define EXIT_USAGE 2
#define EXIT_NO_VSOCKMON 3

#define DEFAULT_IFNAME "vsockmon0"
/* af_vsockmon_hdr (32) + virtio_vsock_hdr (44) + a 64 KiB payload, with room to spare. */
#define SNAPLEN (65536 + 256)
#define RCVBUF_BYTES (32 << 20)

static volatile sig_atomic_t stop_requested;

struct capture {
	int packet_fd;
	int out_fd;
	unsigned long frames;
	unsigned long truncated;
};

static void usage(FILE *to)
{
	fprintf(to,
		"usage: vsockmon-capture (--out FILE | --fd N) [--ifname NAME]\n"
		"Creates a vsockmon link (libnl-route-3), brings it up and writes every frame it taps\n"
		"(af_vsockmon_hdr, transport header, payload) to a pcap of LINKTYPE_VSOCK (271), one\n"
		"write per packet, until SIGTERM or SIGINT; then prints the kernel's drop count\n"
		"(PACKET_STATISTICS) and deletes the link. Needs vsockmon.ko loaded (or built in).\n"
		"  --out FILE     write the pcap to FILE (created or truncated)\n"
		"  --fd N         write the pcap to the open file descriptor N (a virtio-serial port)\n"
		"  --ifname NAME  the link's name (default " DEFAULT_IFNAME ")\n"
		"Prints 'vsockmon-capture: capturing on NAME' on stdout once frames are being recorded.\n"
		"Exit: 0 stopped by a signal, 1 a call failed, 2 bad usage, 3 no vsockmon in the kernel.\n");
}

static void on_stop_signal(int signo)
{
	(void)signo;
	stop_requested = 1;
}

static int parse_fd(const char *text)
{
	char *end;
	long value;

	errno = 0;
	value = strtol(text, &end, 10);
	if (errno || end == text || *end || value < 0 || value > INT_MAX)
		return -1;
	return (int)value;
}

static int open_packet_socket(int ifindex)
{
	struct sockaddr_ll addr = {
		.sll_family = AF_PACKET,
		.sll_protocol = htons(ETH_P_ALL),
		.sll_ifindex = ifindex,
	};
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
	int rcvbuf = RCVBUF_BYTES;

	if (fd < 0) {
		fprintf(stderr, "vsockmon-capture: socket(AF_PACKET, SOCK_RAW): %s\n", strerror(errno));
		return -1;
	}
	/* The suite's transfers tap 64 KiB packets in bursts, faster than a virtio-serial port takes
	 * them under TCG: a large queue keeps the kernel from dropping them. FORCE: past rmem_max. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0 &&
	    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)) < 0)
		fprintf(stderr, "vsockmon-capture: SO_RCVBUF %d: %s (going on with the default)\n", rcvbuf,
			strerror(errno));
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		fprintf(stderr, "vsockmon-capture: bind AF_PACKET to ifindex %d: %s\n", ifindex,
			strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* Writes every frame waiting on the socket; 0 when it would block, -1 on a failure. */
static int drain(struct capture *cap)
{
	static unsigned char frame[SNAPLEN];

	for (;;) {
		struct timespec now;
		ssize_t len = recv(cap->packet_fd, frame, sizeof(frame), MSG_TRUNC | MSG_DONTWAIT);
		size_t captured;
		int ret;

		if (len < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			fprintf(stderr, "vsockmon-capture: recv: %s\n", strerror(errno));
			return -1;
		}
		/* MSG_TRUNC gives the frame's real length, which may exceed the buffer. */
		captured = (size_t)len < sizeof(frame) ? (size_t)len : sizeof(frame);
		if (captured < (size_t)len)
			cap->truncated++;
		clock_gettime(CLOCK_REALTIME, &now);
		ret = pcap_out_record(cap->out_fd, &now, frame, captured, (size_t)len);
		if (ret < 0) {
			fprintf(stderr, "vsockmon-capture: writing a record: %s\n", strerror(-ret));
			return -1;
		}
		cap->frames++;
	}
}

/* Records until a stop signal, then takes what is still queued. */
static int record(struct capture *cap, const sigset_t *wait_mask)
{
	struct pollfd pfd = { .fd = cap->packet_fd, .events = POLLIN };

	while (!stop_requested) {
		if (ppoll(&pfd, 1, NULL, wait_mask) < 0 && errno != EINTR) {
			fprintf(stderr, "vsockmon-capture: ppoll: %s\n", strerror(errno));
			return -1;
		}
		if (drain(cap) < 0)
			return -1;
	}
	return drain(cap);
}

static void report_statistics(const struct capture *cap)
{
	struct tpacket_stats stats;
	socklen_t len = sizeof(stats);

	if (getsockopt(cap->packet_fd, SOL_PACKET, PACKET_STATISTICS, &stats, &len) < 0) {
		fprintf(stderr, "vsockmon-capture: getsockopt PACKET_STATISTICS: %s\n", strerror(errno));
		return;
	}
	/* The kernel's tp_packets already counts the dropped frames. */
	fprintf(stderr, "vsockmon-capture: %lu frames written, %u dropped by the kernel "
		"(PACKET_STATISTICS packets %u drops %u), %lu cut to %d bytes\n",
		cap->frames, stats.tp_drops, stats.tp_packets, stats.tp_drops, cap->truncated, SNAPLEN);
}

static int open_output(const char *path, int fd_arg)
{
	int fd;

	if (!path)
		return fd_arg;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		fprintf(stderr, "vsockmon-capture: %s: cannot open it: %s\n", path, strerror(errno));
	return fd;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "fd", required_argument, NULL, 'f' },
		{ "ifname", required_argument, NULL, 'i' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *out_path = NULL, *ifname = DEFAULT_IFNAME;
	struct capture cap = { .packet_fd = -1, .out_fd = -1 };
	struct sigaction action = { .sa_handler = on_stop_signal };
	sigset_t stop_signals, wait_mask;
	struct mon_link *link;
	char err[512];
	int opt, fd_arg = -1, ifindex = 0, unsupported, status = 0;

	while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (opt) {
		case 'o':
			out_path = optarg;
			break;
		case 'f':
			fd_arg = parse_fd(optarg);
			if (fd_arg < 0) {
				fprintf(stderr, "vsockmon-capture: --fd %s: not a file descriptor number\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'i':
			if (strlen(optarg) == 0 || strlen(optarg) >= IF_NAMESIZE) {
				fprintf(stderr, "vsockmon-capture: --ifname '%s': 1 to %d characters\n", optarg,
					IF_NAMESIZE - 1);
				return EXIT_USAGE;
			}
			ifname = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc || (out_path == NULL) == (fd_arg < 0)) {
		fprintf(stderr, "vsockmon-capture: give exactly one of --out FILE and --fd N, and no other words\n");
		return EXIT_USAGE;
	}

	/* The stop signals are held back except inside ppoll, so none is lost between two waits. */
	sigemptyset(&stop_signals);
	sigaddset(&stop_signals, SIGTERM);
	sigaddset(&stop_signals, SIGINT);
	sigprocmask(SIG_BLOCK, &stop_signals, &wait_mask);
	sigdelset(&wait_mask, SIGTERM);
	sigdelset(&wait_mask, SIGINT);
	sigaction(SIGTERM, &action, NULL);
	sigaction(SIGINT, &action, NULL);

	cap.out_fd = open_output(out_path, fd_arg);
	if (cap.out_fd < 0)
		return EXIT_FAILED;
	link = mon_link_create(ifname, &ifindex, &unsupported, err, sizeof(err));
	if (!link) {
		fprintf(stderr, "vsockmon-capture: %s\n", err);
		return unsupported ? EXIT_NO_VSOCKMON : EXIT_FAILED;
	}
	cap.packet_fd = open_packet_socket(ifindex);
	if (cap.packet_fd < 0) {
		status = EXIT_FAILED;
		goto out_link;
	}
	opt = pcap_out_header(cap.out_fd, SNAPLEN);
	if (opt < 0) {
		fprintf(stderr, "vsockmon-capture: writing the pcap header: %s\n", strerror(-opt));
		status = EXIT_FAILED;
		goto out_socket;
	}
	printf("vsockmon-capture: capturing on %s\n", ifname);
	fflush(stdout);
	if (record(&cap, &wait_mask) < 0)
		status = EXIT_FAILED;
	report_statistics(&cap);
out_socket:
	close(cap.packet_fd);
out_link:
	if (mon_link_destroy(link, err, sizeof(err)) < 0) {
		fprintf(stderr, "vsockmon-capture: %s\n", err);
		status = EXIT_FAILED;
	}
	return status;
}
