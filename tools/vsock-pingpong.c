/*
 * vsock-pingpong: a pair of programs for `vsockcheck exec`. The server tells the client its vsock
 * port over TCP, echoes one vsock connection and reports a checksum of what it got; both check
 * that the CIDs they see are the ones their environment names.
 *
 * Environment (set by vsockcheck exec): VSOCK_PEER_CID, VSOCK_LOCAL_CID, CONTROL_HOST,
 * CONTROL_PORT. The server listens on CONTROL_HOST:CONTROL_PORT (TCP), the client connects there.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

/* Small enough that the echo fits the client's receive buffer while it is still sending. */
#define PAYLOAD_BYTES (64u * 1024u)
#define LINE_MAX_BYTES 128
#define CONNECT_RETRY_MS 100
#define DEFAULT_TIMEOUT_S 120

struct env {
	unsigned int peer_cid;
	unsigned int local_cid;
	const char *control_host;
	unsigned int control_port;
};

static const char *role = "vsock-pingpong";
/* What the program is doing, for the timeout's message. */
static const char *volatile doing = "starting";
static unsigned int timeout_s = DEFAULT_TIMEOUT_S;

static void usage(FILE *out)
{
	fprintf(out,
		"usage: vsock-pingpong server|client [--timeout S]\n"
		"A vsock program pair for `vsockcheck exec`; both read VSOCK_PEER_CID,\n"
		"VSOCK_LOCAL_CID, CONTROL_HOST and CONTROL_PORT from the environment.\n"
		"  server  listen on TCP CONTROL_HOST:CONTROL_PORT and on a vsock port; send\n"
		"          that port to the client over TCP; accept one vsock connection,\n"
		"          echo it to EOF, send the checksum of what came and the CID it came\n"
		"          from over TCP, and wait for the client's OK\n"
		"  client  connect to TCP CONTROL_HOST:CONTROL_PORT (retrying: the server may\n"
		"          start later), read the port, connect to VSOCK_PEER_CID, send a\n"
		"          payload and check its echo and the server's checksum\n"
		"Both check that the peer's CID is VSOCK_PEER_CID and their own is VSOCK_LOCAL_CID\n"
		"(the server by getsockname; the client by the CID the server saw, as a\n"
		"connecting socket's getsockname may say VMADDR_CID_ANY), and exit 1 with one\n"
		"line saying what did not match.\n"
		"  --timeout S  give up after S seconds in all (default %d)\n"
		"  -h, --help   this text\n", DEFAULT_TIMEOUT_S);
}

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "vsock-pingpong %s: ", role);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "vsock-pingpong: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static void on_alarm(int sig)
{
	char text[160];
	int len;

	(void)sig;
	len = snprintf(text, sizeof(text), "vsock-pingpong %s: timed out after %u s while %s\n",
		       role, timeout_s, doing);
	if (len > 0)
		(void)!write(STDERR_FILENO, text, len < (int)sizeof(text) ? (size_t)len : sizeof(text) - 1);
	_exit(1);
}

static unsigned long parse_unsigned(const char *what, const char *text, unsigned long max)
{
	char *end;
	unsigned long value;

	errno = 0;
	value = strtoul(text, &end, 10);
	if (errno || end == text || *end || text[0] == '-' || value > max)
		usage_error("%s: '%s' is not a number from 0 to %lu", what, text, max);
	return value;
}

static unsigned int env_number(const char *name, unsigned long max)
{
	const char *text = getenv(name);

	if (!text || !*text)
		usage_error("%s is not set (vsockcheck exec sets it)", name);
	return parse_unsigned(name, text, max);
}

static void read_env(struct env *env)
{
	env->peer_cid = env_number("VSOCK_PEER_CID", UINT_MAX);
	env->local_cid = env_number("VSOCK_LOCAL_CID", UINT_MAX);
	env->control_port = env_number("CONTROL_PORT", 65535);
	env->control_host = getenv("CONTROL_HOST");
	if (!env->control_host || !*env->control_host)
		usage_error("CONTROL_HOST is not set (vsockcheck exec sets it)");
}

static struct sockaddr_in control_address(const struct env *env)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(env->control_port) };

	if (inet_pton(AF_INET, env->control_host, &addr.sin_addr) != 1)
		usage_error("CONTROL_HOST '%s' is not an IPv4 address", env->control_host);
	return addr;
}

/* FNV-1a over the bytes, continued from `sum`. */
static uint64_t checksum(uint64_t sum, const unsigned char *data, size_t len)
{
	for (size_t i = 0; i < len; i++)
		sum = (sum ^ data[i]) * 0x100000001b3ull;
	return sum;
}

#define CHECKSUM_START 0xcbf29ce484222325ull

static void write_all(int fd, const void *data, size_t len, const char *what)
{
	const char *at = data;

	while (len > 0) {
		ssize_t n = write(fd, at, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			fail("writing %s: %s", what, strerror(errno));
		at += n;
		len -= (size_t)n;
	}
}

/* One line from the control connection, without its newline; "" at EOF before any byte. */
static void read_line(int fd, char *line, size_t size, const char *what)
{
	size_t len = 0;

	for (;;) {
		ssize_t n = read(fd, line + len, 1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			fail("reading %s: %s", what, strerror(errno));
		if (n == 0 || line[len] == '\n')
			break;
		if (++len == size - 1)
			fail("reading %s: line longer than %zu bytes", what, size - 2);
	}
	line[len] = '\0';
}

/* The server's end: the peer's address (accept's) and its own (getsockname) must be the CIDs named. */
static void check_server_cids(int fd, const struct sockaddr_vm *peer, const struct env *env)
{
	struct sockaddr_vm local;
	socklen_t len = sizeof(local);

	if (peer->svm_cid != env->peer_cid)
		fail("the connection came from CID %u, VSOCK_PEER_CID says %u", peer->svm_cid, env->peer_cid);
	if (getsockname(fd, (struct sockaddr *)&local, &len) < 0)
		fail("getsockname of the accepted socket: %s", strerror(errno));
	if (local.svm_cid != env->local_cid)
		fail("the accepted socket's local CID (getsockname) is %u, VSOCK_LOCAL_CID says %u", local.svm_cid,
		     env->local_cid);
}

/* The client's end: getpeername must give VSOCK_PEER_CID. A connecting socket is bound to
 * VMADDR_CID_ANY by the kernel, so getsockname may say ANY; the CID the server saw the
 * connection come from is checked against VSOCK_LOCAL_CID instead (run_client). */
static void check_client_cids(int fd, const struct env *env)
{
	struct sockaddr_vm addr;
	socklen_t len = sizeof(addr);

	if (getpeername(fd, (struct sockaddr *)&addr, &len) < 0)
		fail("getpeername: %s", strerror(errno));
	if (addr.svm_cid != env->peer_cid)
		fail("the connected socket's peer CID (getpeername) is %u, VSOCK_PEER_CID says %u", addr.svm_cid,
		     env->peer_cid);
	len = sizeof(addr);
	if (getsockname(fd, (struct sockaddr *)&addr, &len) < 0)
		fail("getsockname: %s", strerror(errno));
	if (addr.svm_cid != env->local_cid && addr.svm_cid != VMADDR_CID_ANY)
		fail("the connected socket's local CID (getsockname) is %u, VSOCK_LOCAL_CID says %u", addr.svm_cid,
		     env->local_cid);
}

static int run_server(const struct env *env)
{
	struct sockaddr_in tcp_addr = control_address(env);
	struct sockaddr_vm vm_addr = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY,
				       .svm_port = VMADDR_PORT_ANY };
	struct sockaddr_vm peer;
	socklen_t len = sizeof(vm_addr);
	static unsigned char buf[65536];
	uint64_t sum = CHECKSUM_START;
	size_t total = 0;
	char line[LINE_MAX_BYTES];
	int one = 1, tcp_listener, control, vm_listener, conn;

	doing = "listening on the TCP control port";
	tcp_listener = socket(AF_INET, SOCK_STREAM, 0);
	if (tcp_listener < 0)
		fail("TCP socket: %s", strerror(errno));
	setsockopt(tcp_listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(tcp_listener, (struct sockaddr *)&tcp_addr, sizeof(tcp_addr)) < 0 || listen(tcp_listener, 1) < 0)
		fail("listening on TCP %s:%u: %s", env->control_host, env->control_port, strerror(errno));

	vm_listener = socket(AF_VSOCK, SOCK_STREAM, 0);
	if (vm_listener < 0)
		fail("vsock socket: %s", strerror(errno));
	if (bind(vm_listener, (struct sockaddr *)&vm_addr, sizeof(vm_addr)) < 0 || listen(vm_listener, 1) < 0)
		fail("listening on vsock: %s", strerror(errno));
	if (getsockname(vm_listener, (struct sockaddr *)&vm_addr, &len) < 0)
		fail("vsock listener getsockname: %s", strerror(errno));
	printf("vsock-pingpong server: listening on TCP %s:%u and vsock port %u\n", env->control_host,
	       env->control_port, vm_addr.svm_port);
	fflush(stdout);

	doing = "waiting for the client on the TCP control port";
	control = accept(tcp_listener, NULL, NULL);
	if (control < 0)
		fail("accepting the TCP control connection: %s", strerror(errno));
	snprintf(line, sizeof(line), "PORT %u\n", vm_addr.svm_port);
	write_all(control, line, strlen(line), "the port to the client");

	doing = "waiting for the client's vsock connection";
	len = sizeof(peer);
	conn = accept(vm_listener, (struct sockaddr *)&peer, &len);
	if (conn < 0)
		fail("accepting the vsock connection: %s", strerror(errno));
	check_server_cids(conn, &peer, env);

	doing = "echoing the client's payload";
	for (;;) {
		ssize_t n = read(conn, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			fail("reading the vsock connection after %zu bytes: %s", total, strerror(errno));
		if (n == 0)
			break;
		sum = checksum(sum, buf, (size_t)n);
		total += (size_t)n;
		write_all(conn, buf, (size_t)n, "the echo");
	}
	close(conn);
	snprintf(line, sizeof(line), "SUM %zu %016llx %u\n", total, (unsigned long long)sum, peer.svm_cid);
	write_all(control, line, strlen(line), "the checksum to the client");
	/* Only the client knows whether the exchange was whole: it confirms, or the server fails too. */
	doing = "waiting for the client's confirmation";
	read_line(control, line, sizeof(line), "the client's confirmation");
	if (strcmp(line, "OK"))
		fail("the client did not confirm the exchange (%s)", line[0] ? line : "it closed the control connection");
	close(control);
	printf("vsock-pingpong server: ok: echoed %zu bytes from CID %u port %u to local CID %u, checksum %016llx\n",
	       total, peer.svm_cid, peer.svm_port, env->local_cid, (unsigned long long)sum);
	return 0;
}

/* Connects to the server's TCP control port and reads its vsock port. The server may not be
 * listening yet, and a forwarded port may accept and then close while nobody listens behind it:
 * both are retried until the timeout's alarm. */
static unsigned int control_connect(const struct env *env, int *control)
{
	struct sockaddr_in addr = control_address(env);
	const struct timespec pause = { .tv_nsec = CONNECT_RETRY_MS * 1000000L };
	char line[LINE_MAX_BYTES];
	char *end;
	unsigned long port;

	doing = "connecting to the server's TCP control port";
	for (;;) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);

		if (fd < 0)
			fail("TCP socket: %s", strerror(errno));
		if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0) {
			read_line(fd, line, sizeof(line), "the server's port");
			if (line[0]) {
				*control = fd;
				break;
			}
		}
		close(fd);
		nanosleep(&pause, NULL);
	}
	if (strncmp(line, "PORT ", 5) != 0)
		fail("the server sent '%s', not 'PORT <n>'", line);
	errno = 0;
	port = strtoul(line + 5, &end, 10);
	if (errno || *end || end == line + 5 || port > UINT_MAX)
		fail("the server sent '%s': not a port number", line);
	return (unsigned int)port;
}

static int run_client(const struct env *env)
{
	static unsigned char sent[PAYLOAD_BYTES], got[PAYLOAD_BYTES];
	struct sockaddr_vm addr = { .svm_family = AF_VSOCK, .svm_cid = env->peer_cid };
	uint64_t sum_sent, sum_got;
	unsigned long long server_total, server_sum;
	unsigned int seen_cid;
	char line[LINE_MAX_BYTES];
	size_t total = 0;
	int control, conn;

	addr.svm_port = control_connect(env, &control);
	for (size_t i = 0; i < sizeof(sent); i++)
		sent[i] = (unsigned char)((i * 131u + 7u) ^ (i >> 8));
	sum_sent = checksum(CHECKSUM_START, sent, sizeof(sent));

	doing = "connecting over vsock";
	conn = socket(AF_VSOCK, SOCK_STREAM, 0);
	if (conn < 0)
		fail("vsock socket: %s", strerror(errno));
	if (connect(conn, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		fail("connecting to CID %u port %u: %s", env->peer_cid, addr.svm_port, strerror(errno));
	check_client_cids(conn, env);

	doing = "sending the payload";
	write_all(conn, sent, sizeof(sent), "the payload");
	if (shutdown(conn, SHUT_WR) < 0)
		fail("shutdown(SHUT_WR): %s", strerror(errno));
	doing = "reading the echo";
	for (;;) {
		ssize_t n = read(conn, got + total, sizeof(got) - total);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			fail("reading the echo after %zu bytes: %s", total, strerror(errno));
		if (n == 0)
			break;
		total += (size_t)n;
		if (total == sizeof(got)) {
			char extra;

			if (read(conn, &extra, 1) > 0)
				fail("the echo is longer than the %zu bytes sent", sizeof(sent));
			break;
		}
	}
	close(conn);
	sum_got = checksum(CHECKSUM_START, got, total);
	if (total != sizeof(sent) || sum_got != sum_sent)
		fail("the echo has %zu bytes with checksum %016llx; sent %zu bytes with checksum %016llx",
		     total, (unsigned long long)sum_got, sizeof(sent), (unsigned long long)sum_sent);

	doing = "reading the server's checksum";
	read_line(control, line, sizeof(line), "the server's checksum");
	if (sscanf(line, "SUM %llu %llx %u", &server_total, &server_sum, &seen_cid) != 3)
		fail("the server sent '%s', not 'SUM <bytes> <checksum> <cid>'", line);
	if (server_total != sizeof(sent) || server_sum != sum_sent)
		fail("the server got %llu bytes with checksum %016llx; sent %zu bytes with checksum %016llx",
		     server_total, server_sum, sizeof(sent), (unsigned long long)sum_sent);
	if (seen_cid != env->local_cid)
		fail("the server saw the connection come from CID %u, VSOCK_LOCAL_CID says %u", seen_cid,
		     env->local_cid);
	write_all(control, "OK\n", 3, "the confirmation to the server");
	close(control);
	printf("vsock-pingpong client: ok: %zu bytes to CID %u port %u and back from local CID %u, checksum %016llx\n",
	       sizeof(sent), env->peer_cid, addr.svm_port, env->local_cid, (unsigned long long)sum_sent);
	return 0;
}

int main(int argc, char **argv)
{
	struct env env;
	int is_server;

	if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		usage(stdout);
		return 0;
	}
	if (argc != 2 && !(argc == 4 && !strcmp(argv[2], "--timeout"))) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "server") && strcmp(argv[1], "client"))
		usage_error("unknown role '%s': server or client", argv[1]);
	if (argc == 4)
		timeout_s = parse_unsigned("--timeout", argv[3], 86400);
	if (timeout_s == 0)
		usage_error("--timeout: must be at least 1 second");
	is_server = !strcmp(argv[1], "server");
	role = argv[1];
	read_env(&env);
	signal(SIGALRM, on_alarm);
	alarm(timeout_s);
	return is_server ? run_server(&env) : run_client(&env);
}
