/*
 * vsock-perf: stream throughput and connection rate over AF_VSOCK in a guest, or over the
 * hybrid-vsock bridge (a Unix socket) on the build machine, which never opens AF_VSOCK itself.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#include "bridge_client.h"

#define CHUNK_MAX (16u << 20)
#define BRIDGE_LINE_MAX 64

enum mode { MODE_RECV, MODE_SEND, MODE_ECHO, MODE_CONNRATE };
static const char *const mode_names[] = { "recv", "send", "echo", "connrate" };

struct options {
	enum mode mode;
	unsigned long long cid;		/* send, connrate */
	unsigned int port;
	unsigned long long bytes;	/* send */
	size_t chunk;
	unsigned long long count;	/* connrate; echo: 0 serves until the timeout */
	const char *bridge;		/* send, connrate: the bridge's Unix socket */
	const char *bridge_listen;	/* recv, echo: listen on <bridge_listen>_<port> */
	unsigned int timeout_s;
	int background;			/* recv, echo: return once listening */
	int have_cid, have_port, have_bytes, have_count;
};

static const char *mode_name;
/* What the program is doing, for the timeout's message. */
static const char *volatile doing = "starting";
static char listen_path[sizeof(((struct sockaddr_un *)0)->sun_path)];

static void usage(FILE *out)
{
	fprintf(out,
		"usage: vsock-perf recv --port P [--bridge-listen UDS] [--background] [--chunk N]\n"
		"       vsock-perf send --cid C --port P --bytes N [--chunk N] [--bridge UDS]\n"
		"       vsock-perf echo --port P [--count N] [--bridge-listen UDS] [--background]\n"
		"       vsock-perf connrate --cid C --port P --count N [--bridge UDS]\n"
		"Stream throughput and connection rate over AF_VSOCK (SOCK_STREAM).\n"
		"  recv      accept one connection, read until EOF, print bytes and MiB/s\n"
		"            (timed from the first byte to EOF), then close\n"
		"  send      connect, write N bytes in --chunk writes, shut down writing, wait\n"
		"            for the peer's close, print bytes and MiB/s\n"
		"  echo      accept connections; on each read one byte, write it back, close\n"
		"  connrate  N times: connect, write one byte, read it back, close; print conn/s\n"
		"Options:\n"
		"  --cid C              peer CID (1 loopback, 2 host)\n"
		"  --port P             vsock port\n"
		"  --bytes N            bytes to send; K, M, G suffixes are KiB, MiB, GiB\n"
		"  --chunk N            bytes per write/read (default 65536)\n"
		"  --count N            connections (echo: default unlimited)\n"
		"  --bridge UDS         reach the guest through a hybrid-vsock bridge instead of\n"
		"                       AF_VSOCK: connect to UDS, 'CONNECT <port>', 'OK <n>'\n"
		"  --bridge-listen UDS  listen on the Unix socket UDS_<port> for the guest's\n"
		"                       connections to the host instead of on AF_VSOCK\n"
		"  --background         recv, echo: return once listening; serve in a child\n"
		"  --timeout S          give up after S seconds in all (default 300)\n"
		"  -h, --help           this text\n"
		"Listeners print 'vsock-perf: MODE listening port=P' once they accept.\n");
}

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "vsock-perf: %s: ", mode_name ? mode_name : "error");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (listen_path[0])
		unlink(listen_path);
	exit(1);
}

/* "Connection reset by peer (ECONNRESET)" */
static const char *errno_text(int err)
{
	static char text[128];
	const char *name = strerrorname_np(err);

	snprintf(text, sizeof(text), "%s (%s)", strerror(err), name ? name : "?");
	return text;
}

static void on_alarm(int sig)
{
	char line[192];
	int len;

	(void)sig;
	len = snprintf(line, sizeof(line), "vsock-perf: %s: timed out while %s\n", mode_name,
		       doing);
	if (write(STDERR_FILENO, line, (size_t)len) < 0)
		_exit(3);
	if (listen_path[0])
		unlink(listen_path);
	_exit(3);
}

static void on_terminate(int sig)
{
	(void)sig;
	if (listen_path[0])
		unlink(listen_path);
	_exit(1);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static unsigned long long parse_number(const char *option, const char *text, int suffixes,
				       unsigned long long min, unsigned long long max)
{
	unsigned long long value, scale = 1;
	char *end;

	errno = 0;
	value = strtoull(text, &end, 0);
	if (suffixes && *end && !end[1]) {
		switch (*end) {
		case 'K': case 'k': scale = 1ull << 10; end++; break;
		case 'M': case 'm': scale = 1ull << 20; end++; break;
		case 'G': case 'g': scale = 1ull << 30; end++; break;
		}
	}
	if (errno || !*text || *text == '-' || *end || value > max / scale ||
	    value * scale < min) {
		fprintf(stderr, "vsock-perf: %s '%s': not a number from %llu to %llu\n", option, text,
			min, max);
		exit(2);
	}
	return value * scale;
}

static void set_unix_path(struct sockaddr_un *addr, const char *path, const char *what)
{
	if (strlen(path) >= sizeof(addr->sun_path))
		fail("%s %s: longer than a Unix socket path may be", what, path);
	strcpy(addr->sun_path, path);
}

/* The bridge's Unix socket and its CONNECT handshake: then a plain stream to the guest's port. */
static int connect_bridge(const struct options *o)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	char line[BRIDGE_LINE_MAX];
	unsigned int host_port;
	int fd;

	set_unix_path(&addr, o->bridge, "--bridge");
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		fail("socket(AF_UNIX): %s", errno_text(errno));
	doing = "connecting to the bridge";
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0)
		fail("connect to bridge %s: %s", o->bridge, errno_text(errno));
	/* The stream's data follows the OK line directly: the handshake reads nothing past it. */
	doing = "waiting for the bridge's OK";
	switch (bridge_handshake(fd, o->port, &host_port, line, sizeof(line))) {
	case BRIDGE_OK:
		break;
	case BRIDGE_CLOSED:
		fail("bridge %s: closed without OK after 'CONNECT %u' (no listener on guest port %u, or it did not answer)",
		     o->bridge, o->port, o->port);
	case BRIDGE_IO_ERROR:
		fail("bridge %s: 'CONNECT %u': %s", o->bridge, o->port, errno_text(errno));
	case BRIDGE_GARBLED:
		fail("bridge %s: answered '%s' to 'CONNECT %u', not 'OK <port>'", o->bridge, line,
		     o->port);
	}
	return fd;
}

static int open_connection(const struct options *o)
{
	struct sockaddr_vm addr = {
		.svm_family = AF_VSOCK, .svm_cid = (unsigned int)o->cid, .svm_port = o->port,
	};
	int fd;

	if (o->bridge)
		return connect_bridge(o);
	fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		fail("socket(AF_VSOCK): %s", errno_text(errno));
	doing = "connecting";
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0)
		fail("connect to vsock %llu:%u: %s", o->cid, o->port, errno_text(errno));
	return fd;
}

/* <bridge_listen>_<port>, where the bridge delivers the guest's connections to host port <port>. */
static int listen_bridge(const struct options *o)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	char path[sizeof(addr.sun_path) + 16];
	int fd;

	snprintf(path, sizeof(path), "%s_%u", o->bridge_listen, o->port);
	set_unix_path(&addr, path, "--bridge-listen socket");
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		fail("socket(AF_UNIX): %s", errno_text(errno));
	unlink(path);
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0)
		fail("bind %s: %s", path, errno_text(errno));
	strcpy(listen_path, path);
	if (listen(fd, 128) != 0)
		fail("listen %s: %s", path, errno_text(errno));
	return fd;
}

static int open_listener(const struct options *o)
{
	struct sockaddr_vm addr = {
		.svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY, .svm_port = o->port,
	};
	int fd;

	if (o->bridge_listen)
		return listen_bridge(o);
	fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		fail("socket(AF_VSOCK): %s", errno_text(errno));
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0)
		fail("bind vsock port %u: %s", o->port, errno_text(errno));
	if (listen(fd, 128) != 0)
		fail("listen on vsock port %u: %s", o->port, errno_text(errno));
	return fd;
}

static const char *peer_name(const struct options *o)
{
	static char name[160];

	if (o->bridge)
		snprintf(name, sizeof(name), "bridge %s port %u", o->bridge, o->port);
	else if (o->bridge_listen)
		snprintf(name, sizeof(name), "%s", listen_path);
	else
		snprintf(name, sizeof(name), "vsock %llu:%u", o->cid, o->port);
	return name;
}

/* Listens, says so, and with --background leaves the serving to a child. */
static int start_listening(const struct options *o)
{
	int fd = open_listener(o);
	pid_t child;

	printf("vsock-perf: %s listening port=%u\n", mode_name, o->port);
	if (fflush(stdout) != 0)
		fail("writing to stdout: %s", errno_text(errno));
	if (!o->background)
		return fd;
	child = fork();
	if (child < 0)
		fail("fork: %s", errno_text(errno));
	if (child > 0)
		_exit(0);	/* the child owns the socket path and unlinks it */
	alarm(o->timeout_s);	/* alarms are not inherited */
	return fd;
}

static int accept_one(int listener, const struct options *o)
{
	int fd;

	doing = "waiting for a connection";
	do
		fd = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
	while (fd < 0 && errno == EINTR);
	if (fd < 0)
		fail("accept on %s: %s", peer_name(o), errno_text(errno));
	return fd;
}

static void print_rate(const char *what, unsigned long long bytes, double seconds)
{
	double mib_per_s = seconds > 0 ? (double)bytes / (1 << 20) / seconds : 0;

	printf("vsock-perf: %s bytes=%llu seconds=%.6f mib_per_s=%.2f\n", what, bytes, seconds,
	       mib_per_s);
	fflush(stdout);
}

static int run_recv(const struct options *o, char *buf)
{
	int listener = start_listening(o), fd;
	unsigned long long total = 0;
	double first = 0;
	ssize_t n;

	fd = accept_one(listener, o);
	close(listener);
	doing = "receiving";
	for (;;) {
		n = read(fd, buf, o->chunk);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			fail("read from %s after %llu bytes: %s", peer_name(o), total,
			     errno_text(errno));
		if (n == 0)
			break;
		if (!total)
			first = now_s();
		total += (unsigned long long)n;
	}
	print_rate("recv", total, total ? now_s() - first : 0);
	close(fd);
	if (listen_path[0])
		unlink(listen_path);
	return 0;
}

static void write_all(int fd, const char *buf, size_t len, const struct options *o,
		      unsigned long long sent)
{
	ssize_t n;

	while (len) {
		n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			fail("write to %s after %llu bytes: %s", peer_name(o), sent,
			     errno_text(errno));
		buf += n;
		len -= (size_t)n;
		sent += (unsigned long long)n;
	}
}

/* Reads until the peer closes; what it sends is counted, not kept. */
static unsigned long long wait_for_close(int fd, char *buf, size_t size, const struct options *o)
{
	unsigned long long extra = 0;
	ssize_t n;

	doing = "waiting for the peer to close";
	for (;;) {
		n = read(fd, buf, size);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			fail("waiting for %s to close: %s", peer_name(o), errno_text(errno));
		if (n == 0)
			return extra;
		extra += (unsigned long long)n;
	}
}

static int run_send(const struct options *o, char *buf)
{
	unsigned long long sent = 0, extra;
	double started;
	size_t len;
	int fd;

	memset(buf, 0x5a, o->chunk);
	fd = open_connection(o);
	started = now_s();
	doing = "sending";
	while (sent < o->bytes) {
		len = o->bytes - sent < o->chunk ? (size_t)(o->bytes - sent) : o->chunk;
		write_all(fd, buf, len, o, sent);
		sent += len;
	}
	if (shutdown(fd, SHUT_WR) != 0)
		fail("shutdown(SHUT_WR) to %s: %s", peer_name(o), errno_text(errno));
	extra = wait_for_close(fd, buf, o->chunk, o);
	print_rate("send", sent, now_s() - started);
	if (extra)
		fail("%s sent %llu bytes back; recv should send nothing", peer_name(o), extra);
	close(fd);
	return 0;
}

static int run_echo(const struct options *o)
{
	int listener = start_listening(o), fd;
	unsigned long long served = 0;
	char byte;
	ssize_t n;

	while (!o->count || served < o->count) {
		fd = accept_one(listener, o);
		doing = "reading a connection's byte";
		do
			n = read(fd, &byte, 1);
		while (n < 0 && errno == EINTR);
		if (n != 1)
			fail("connection %llu on %s: %s before its byte", served + 1, peer_name(o),
			     n == 0 ? "closed" : errno_text(errno));
		doing = "echoing a connection's byte";
		write_all(fd, &byte, 1, o, 0);
		close(fd);
		served++;
	}
	printf("vsock-perf: echo connections=%llu\n", served);
	fflush(stdout);
	close(listener);
	if (listen_path[0])
		unlink(listen_path);
	return 0;
}

static int run_connrate(const struct options *o)
{
	double started = now_s(), seconds;
	unsigned long long i;
	char byte;
	ssize_t n;
	int fd;

	for (i = 0; i < o->count; i++) {
		fd = open_connection(o);
		byte = (char)i;
		write_all(fd, &byte, 1, o, 0);
		doing = "waiting for the echoed byte";
		do
			n = read(fd, &byte, 1);
		while (n < 0 && errno == EINTR);
		if (n != 1)
			fail("connection %llu to %s: %s before the echo", i + 1, peer_name(o),
			     n == 0 ? "closed" : errno_text(errno));
		close(fd);
	}
	seconds = now_s() - started;
	printf("vsock-perf: connrate count=%llu seconds=%.6f conn_per_s=%.1f\n", o->count, seconds,
	       seconds > 0 ? (double)o->count / seconds : 0);
	fflush(stdout);
	return 0;
}

static void need(int have, const char *option)
{
	if (!have) {
		fprintf(stderr, "vsock-perf: %s: %s is required (see --help)\n", mode_name, option);
		exit(2);
	}
}

static void refuse(int given, const char *option)
{
	if (given) {
		fprintf(stderr, "vsock-perf: %s: %s does not apply to this mode (see --help)\n",
			mode_name, option);
		exit(2);
	}
}

static void parse(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "cid", required_argument, NULL, 'c' },
		{ "port", required_argument, NULL, 'p' },
		{ "bytes", required_argument, NULL, 'b' },
		{ "chunk", required_argument, NULL, 'k' },
		{ "count", required_argument, NULL, 'n' },
		{ "bridge", required_argument, NULL, 'B' },
		{ "bridge-listen", required_argument, NULL, 'L' },
		{ "background", no_argument, NULL, 'g' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt, listens, connects;
	unsigned int i;

	if (argc < 2 || argv[1][0] == '-') {
		if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
			usage(stdout);
			exit(0);
		}
		fprintf(stderr, "vsock-perf: the first argument is the mode: recv, send, echo or connrate (see --help)\n");
		exit(2);
	}
	for (i = 0; i < sizeof(mode_names) / sizeof(mode_names[0]); i++)
		if (!strcmp(argv[1], mode_names[i]))
			break;
	if (i == sizeof(mode_names) / sizeof(mode_names[0])) {
		fprintf(stderr, "vsock-perf: unknown mode '%s': recv, send, echo or connrate (see --help)\n",
			argv[1]);
		exit(2);
	}
	o->mode = (enum mode)i;
	mode_name = mode_names[i];
	optind = 2;
	opterr = 0;	/* one error line, ours */
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c': o->cid = parse_number("--cid", optarg, 0, 0, 0xffffffffull); o->have_cid = 1; break;
		case 'p': o->port = (unsigned int)parse_number("--port", optarg, 0, 0, 0xfffffffeull); o->have_port = 1; break;
		case 'b': o->bytes = parse_number("--bytes", optarg, 1, 1, 1ull << 50); o->have_bytes = 1; break;
		case 'k': o->chunk = (size_t)parse_number("--chunk", optarg, 1, 1, CHUNK_MAX); break;
		case 'n': o->count = parse_number("--count", optarg, 0, 1, 1ull << 40); o->have_count = 1; break;
		case 'B': o->bridge = optarg; break;
		case 'L': o->bridge_listen = optarg; break;
		case 'g': o->background = 1; break;
		case 't': o->timeout_s = (unsigned int)parse_number("--timeout", optarg, 0, 1, 86400); break;
		case 'h': usage(stdout); exit(0);
		default:
			fprintf(stderr, "vsock-perf: %s: bad option '%s' (see --help)\n", mode_name,
				argv[optind - 1]);
			exit(2);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "vsock-perf: %s: unexpected argument '%s' (see --help)\n", mode_name,
			argv[optind]);
		exit(2);
	}
	listens = o->mode == MODE_RECV || o->mode == MODE_ECHO;
	connects = !listens;
	need(o->have_port, "--port");
	need(!connects || o->have_cid || o->bridge, "--cid (or --bridge)");
	need(o->mode != MODE_SEND || o->have_bytes, "--bytes");
	need(o->mode != MODE_CONNRATE || o->have_count, "--count");
	refuse(listens && o->have_cid, "--cid");
	refuse(listens && o->bridge, "--bridge (listeners take --bridge-listen)");
	refuse(connects && o->bridge_listen, "--bridge-listen (connecting modes take --bridge)");
	refuse(connects && o->background, "--background");
	refuse(o->mode != MODE_SEND && o->have_bytes, "--bytes");
	refuse(o->mode == MODE_RECV && o->have_count, "--count");
	refuse(o->mode == MODE_SEND && o->have_count, "--count");
	refuse(o->bridge && o->have_cid, "--cid together with --bridge");
}

int main(int argc, char **argv)
{
	struct options o = { .chunk = 65536, .timeout_s = 300 };
	char *buf;

	parse(argc, argv, &o);
	signal(SIGPIPE, SIG_IGN);	/* a peer that closes early is an EPIPE, reported */
	signal(SIGALRM, on_alarm);
	signal(SIGTERM, on_terminate);
	signal(SIGINT, on_terminate);
	alarm(o.timeout_s);
	buf = malloc(o.chunk);
	if (!buf)
		fail("cannot allocate a %zu-byte buffer", o.chunk);
	switch (o.mode) {
	case MODE_RECV: return run_recv(&o, buf);
	case MODE_SEND: return run_send(&o, buf);
	case MODE_ECHO: return run_echo(&o);
	case MODE_CONNRATE: return run_connrate(&o);
	}
	return 2;
}
