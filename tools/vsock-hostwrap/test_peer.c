/*
 * test_peer.c: vsock-hostwrap-peer, the program the hostwrap tests run under vsock-hostwrap
 * (runner/tests/test_hostwrap.py). Each case makes ordinary AF_VSOCK calls and prints one line
 * per check, "ok WHAT" or "not ok WHAT: why"; the exit status is 1 if any check failed.
 * It refuses to run outside a seccomp filter: on this machine its AF_VSOCK calls must never
 * reach the kernel (CID 2 here is a foreign hypervisor).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/vm_sockets.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static int failures;

static void check(int ok, const char *what, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void check(int ok, const char *what, const char *fmt, ...)
{
	char why[256] = "";
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (ok)
		printf("ok %s\n", what);
	else
		printf("not ok %s: %s\n", what, why);
	failures += !ok;
	fflush(stdout);
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static void die(const char *what)
{
	printf("not ok %s: %s\n", what, strerror(errno));
	exit(1);
}

static unsigned int number(const char *text)
{
	return (unsigned int)strtoul(text, NULL, 0);
}

/* Only under a seccomp filter (hostwrap's): else this machine's own vsock would be used. */
static int under_filter(void)
{
	char line[128];
	FILE *f = fopen("/proc/self/status", "r");
	int mode = 0;

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "Seccomp: %d", &mode) == 1)
			break;
	if (f)
		fclose(f);
	return mode == 2;
}

static int vsock_stream(void)
{
	int fd = socket(AF_VSOCK, SOCK_STREAM, 0), domain = 0;
	socklen_t len = sizeof(domain);

	if (fd < 0)
		die("socket(AF_VSOCK, SOCK_STREAM)");
	/* SO_DOMAIN is not emulated: it shows what the socket really is. */
	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0 || domain != AF_UNIX)
		check(0, "vsock socket is a Unix socket", "SO_DOMAIN %d", domain);
	return fd;
}

static struct sockaddr_vm vm_addr(unsigned int cid, unsigned int port)
{
	struct sockaddr_vm vm = { .svm_family = AF_VSOCK, .svm_cid = cid, .svm_port = port };

	return vm;
}

static int vm_connect(int fd, unsigned int cid, unsigned int port)
{
	struct sockaddr_vm vm = vm_addr(cid, port);

	return connect(fd, (struct sockaddr *)&vm, sizeof(vm));
}

static void vm_bind(int fd, unsigned int cid, unsigned int port)
{
	struct sockaddr_vm vm = vm_addr(cid, port);

	if (bind(fd, (struct sockaddr *)&vm, sizeof(vm)) != 0)
		die("bind");
}

/* getsockname (peer 0) or getpeername (peer 1) as "CID PORT", checked for size and family. */
static const char *name_of(int fd, int peer, char *out, size_t size)
{
	struct sockaddr_vm vm;
	socklen_t len = sizeof(vm) + 8;
	int ret;

	memset(&vm, 0x55, sizeof(vm));
	ret = peer ? getpeername(fd, (struct sockaddr *)&vm, &len) :
		     getsockname(fd, (struct sockaddr *)&vm, &len);
	if (ret != 0)
		snprintf(out, size, "error %s", strerror(errno));
	else if (len != sizeof(vm) || vm.svm_family != AF_VSOCK)
		snprintf(out, size, "len %u family %u", len, vm.svm_family);
	else
		snprintf(out, size, "%u %u", vm.svm_cid, vm.svm_port);
	return out;
}

static void expect_name(int fd, int peer, const char *want, const char *what)
{
	char got[64];

	name_of(fd, peer, got, sizeof(got));
	check(strcmp(got, want) == 0, what, "got '%s', want '%s'", got, want);
}

/* Sends `text`, reads as many bytes back and compares: the fake bridge and guest echo. */
static void echo(int fd, const char *text, const char *what)
{
	char back[64] = "";
	size_t len = strlen(text), got = 0;

	if (send(fd, text, len, MSG_NOSIGNAL) != (ssize_t)len)
		die(what);
	while (got < len) {
		ssize_t n = recv(fd, back + got, len - got, 0);

		if (n <= 0)
			break;
		got += (size_t)n;
	}
	check(got == len && memcmp(back, text, len) == 0, what, "got '%.*s'", (int)got, back);
}

static void expect_errno(int ret, int err, const char *what)
{
	check(ret == -1 && errno == err, what, "returned %d, errno %s", ret,
	      ret == -1 ? strerror(errno) : "-");
}

/* connect CID PORT: connect, names, data both ways. */
static void case_connect(char **argv)
{
	unsigned int cid = number(argv[0]), port = number(argv[1]);
	int fd = vsock_stream();
	char want[64], got[64];

	check(vm_connect(fd, cid, port) == 0, "connect", "%s", strerror(errno));
	snprintf(want, sizeof(want), "%u %u", cid, port);
	expect_name(fd, 1, want, "getpeername is the guest's CID and port");
	say("local %s", name_of(fd, 0, got, sizeof(got)));
	echo(fd, "ping through the bridge", "data both ways");
	expect_errno(vm_connect(fd, cid, port), EISCONN, "connect again is EISCONN");
	close(fd);
}

/* refused CID PORT GOOD_PORT: the guest's RST is ECONNRESET, twice; then the same socket
 * connects to a port that answers. */
static void case_refused(char **argv)
{
	unsigned int cid = number(argv[0]);
	int fd = vsock_stream();

	expect_errno(vm_connect(fd, cid, number(argv[1])), ECONNRESET, "refused connect");
	expect_errno(vm_connect(fd, cid, number(argv[1])), ECONNRESET, "refused again");
	check(vm_connect(fd, cid, number(argv[2])) == 0, "the refused socket connects later", "%s",
	      strerror(errno));
	echo(fd, "after refusal", "data after refusal");
	close(fd);
}

/* other_cid CID: a CID the bridge does not reach; bad addresses. */
static void case_other_cid(char **argv)
{
	struct sockaddr_vm vm = vm_addr(number(argv[0]), 1000);
	int fd = vsock_stream();

	expect_errno(connect(fd, (struct sockaddr *)&vm, sizeof(vm)), ENODEV,
		     "connect to a CID no guest holds is ENODEV");
	vm.svm_family = AF_INET;
	expect_errno(connect(fd, (struct sockaddr *)&vm, sizeof(vm)), EINVAL,
		     "connect to a non-vsock address is EINVAL");
	expect_errno(connect(fd, (struct sockaddr *)&vm, 4), EINVAL, "a short address is EINVAL");
	expect_errno(connect(fd, (struct sockaddr *)8, sizeof(vm)), EFAULT,
		     "an unreadable address is EFAULT");
	vm = vm_addr(7, 1000);
	expect_errno(bind(fd, (struct sockaddr *)&vm, sizeof(vm)), EADDRNOTAVAIL,
		     "bind to a CID not ours is EADDRNOTAVAIL");
	expect_errno(listen(fd, 1), EINVAL, "listen before bind is EINVAL");
	expect_errno(getpeername(fd, (struct sockaddr *)&vm, &(socklen_t){ sizeof(vm) }), ENOTCONN,
		     "getpeername unconnected is ENOTCONN");
	expect_name(fd, 0, "4294967295 4294967295", "getsockname unbound is ANY, ANY");
	close(fd);
}

/* Accepts one connection on `listener`, checks its addresses, and echoes "hello". */
static void accept_one(int listener, unsigned int guest_cid, unsigned int port)
{
	struct sockaddr_vm vm;
	socklen_t len = sizeof(vm);
	char want[64];
	int conn = accept(listener, (struct sockaddr *)&vm, &len);

	if (conn < 0)
		die("accept");
	check(len == sizeof(vm) && vm.svm_family == AF_VSOCK && vm.svm_cid == guest_cid &&
	      vm.svm_port == VMADDR_PORT_ANY, "accept gives { guest CID, VMADDR_PORT_ANY }",
	      "len %u family %u cid %u port %u", len, vm.svm_family, vm.svm_cid, vm.svm_port);
	snprintf(want, sizeof(want), "2 %u", port);
	expect_name(conn, 0, want, "getsockname of an accepted socket is { 2, port }");
	snprintf(want, sizeof(want), "%u %u", guest_cid, VMADDR_PORT_ANY);
	expect_name(conn, 1, want, "getpeername of an accepted socket");
	echo(conn, "hello", "data both ways on an accepted socket");
	close(conn);
}

/* listen GUEST_CID PORT (PORT 4294967295: VMADDR_PORT_ANY) */
static void case_listen(char **argv)
{
	unsigned int cid = number(argv[0]), port = number(argv[1]);
	int fd = vsock_stream(), other = vsock_stream();
	char got[64], want[64];

	vm_bind(fd, VMADDR_CID_ANY, port);
	if (port == VMADDR_PORT_ANY) {
		struct sockaddr_vm vm;

		sscanf(name_of(fd, 0, got, sizeof(got)), "%*u %u", &port);
		check(port != VMADDR_PORT_ANY, "bind(VMADDR_PORT_ANY) picks a port", "%s", got);
		vm = vm_addr(VMADDR_CID_HOST, port);
		expect_errno(bind(other, (struct sockaddr *)&vm, sizeof(vm)), EADDRINUSE,
			     "a port bound is EADDRINUSE for another socket");
	}
	snprintf(want, sizeof(want), "%u %u", VMADDR_CID_ANY, port);
	expect_name(fd, 0, want, "getsockname of a listener bound to CID_ANY");
	if (listen(fd, 4) != 0)
		die("listen");
	expect_errno(vm_connect(fd, cid, 1), EINVAL, "connect on a listener is EINVAL");
	say("listening %u", port);
	accept_one(fd, cid, port);
	close(other);
	close(fd);
}

static void expect_u64(int fd, int name, uint64_t want, const char *what)
{
	uint64_t value = 0;
	socklen_t len = sizeof(value);

	check(getsockopt(fd, AF_VSOCK, name, &value, &len) == 0 && len == sizeof(value) &&
	      value == want, what, "got %llu (len %u, %s)", (unsigned long long)value, len,
	      strerror(errno));
}

static int set_u64(int fd, int name, uint64_t value)
{
	return setsockopt(fd, AF_VSOCK, name, &value, sizeof(value));
}

/* sockopt: the AF_VSOCK options, set and read back, with the kernel's defaults and checks. */
static void case_sockopt(void)
{
	int fd = vsock_stream(), listener = vsock_stream();
	struct timeval tv = { .tv_sec = 1, .tv_usec = 500000 }, back;
	socklen_t len = sizeof(back);
	uint64_t small = 0;
	socklen_t short_len = 4;

	expect_u64(fd, SO_VM_SOCKETS_BUFFER_SIZE, 262144, "default buffer size");
	expect_u64(fd, SO_VM_SOCKETS_BUFFER_MIN_SIZE, 128, "default minimum");
	expect_u64(fd, SO_VM_SOCKETS_BUFFER_MAX_SIZE, 262144, "default maximum");
	check(set_u64(fd, SO_VM_SOCKETS_BUFFER_SIZE, 65536) == 0, "set buffer size", "%s",
	      strerror(errno));
	expect_u64(fd, SO_VM_SOCKETS_BUFFER_SIZE, 65536, "buffer size read back");
	set_u64(fd, SO_VM_SOCKETS_BUFFER_MAX_SIZE, 1 << 20);
	set_u64(fd, SO_VM_SOCKETS_BUFFER_SIZE, 1 << 21);
	expect_u64(fd, SO_VM_SOCKETS_BUFFER_SIZE, 1 << 20, "buffer size clamped to the maximum");
	set_u64(fd, SO_VM_SOCKETS_BUFFER_MIN_SIZE, 1 << 20);
	set_u64(fd, SO_VM_SOCKETS_BUFFER_SIZE, 4096);
	expect_u64(fd, SO_VM_SOCKETS_BUFFER_SIZE, 1 << 20, "buffer size raised to the minimum");
	expect_errno(setsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_BUFFER_SIZE, &small, 4), EINVAL,
		     "a short option is EINVAL");
	expect_errno(getsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_BUFFER_SIZE, &small, &short_len),
		     EINVAL, "a short getsockopt buffer is EINVAL");
	expect_errno(setsockopt(fd, AF_VSOCK, 99, &small, sizeof(small)), ENOPROTOOPT,
		     "an unknown option is ENOPROTOOPT");
	check(setsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_CONNECT_TIMEOUT, &tv, sizeof(tv)) == 0,
	      "set connect timeout", "%s", strerror(errno));
	check(getsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_CONNECT_TIMEOUT, &back, &len) == 0 &&
	      len == sizeof(back) && back.tv_sec == 1 && back.tv_usec == 500000,
	      "connect timeout read back", "%ld.%06ld", (long)back.tv_sec, (long)back.tv_usec);
	tv.tv_usec = 1000000;
	expect_errno(setsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_CONNECT_TIMEOUT, &tv, sizeof(tv)),
		     ERANGE, "a timeout with 1000000 us is ERANGE");
	/* An accepted socket inherits its listener's options: see case_listen's peer. */
	set_u64(listener, SO_VM_SOCKETS_BUFFER_SIZE, 32768);
	expect_u64(listener, SO_VM_SOCKETS_BUFFER_SIZE, 32768, "options are per socket");
	expect_u64(fd, SO_VM_SOCKETS_BUFFER_SIZE, 1 << 20, "the other socket keeps its own");
	close(fd);
	close(listener);
}

/* types: what a bridge cannot carry, and the kernel's checks of socket()'s arguments. */
static void case_types(void)
{
	expect_errno(socket(AF_VSOCK, SOCK_SEQPACKET, 0), ESOCKTNOSUPPORT,
		     "SOCK_SEQPACKET is ESOCKTNOSUPPORT");
	expect_errno(socket(AF_VSOCK, SOCK_SEQPACKET | SOCK_CLOEXEC, 0), ESOCKTNOSUPPORT,
		     "SOCK_SEQPACKET again");
	expect_errno(socket(AF_VSOCK, SOCK_DGRAM, 0), ESOCKTNOSUPPORT,
		     "SOCK_DGRAM is ESOCKTNOSUPPORT");
	expect_errno(socket(AF_VSOCK, SOCK_STREAM, 99), EPROTONOSUPPORT,
		     "protocol 99 is EPROTONOSUPPORT");
	expect_errno(socket(AF_VSOCK, SOCK_STREAM | 0x1000, 0), EINVAL,
		     "an unknown type flag is EINVAL");
}

/* flags: SOCK_NONBLOCK and SOCK_CLOEXEC reach the Unix socket; accept on a non-blocking
 * listener with nothing waiting is EAGAIN; the local CID ioctl of /dev/vsock is 2. */
static void case_flags(char **argv)
{
	int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), dev;
	unsigned int cid = 0;
	char want[64];

	check(fd >= 0 && (fcntl(fd, F_GETFL) & O_NONBLOCK) && (fcntl(fd, F_GETFD) & FD_CLOEXEC),
	      "SOCK_NONBLOCK | SOCK_CLOEXEC", "flags %#x fd flags %#x", fcntl(fd, F_GETFL),
	      fcntl(fd, F_GETFD));
	vm_bind(fd, VMADDR_CID_HOST, number(argv[0]));
	snprintf(want, sizeof(want), "2 %u", number(argv[0]));
	expect_name(fd, 0, want, "getsockname of a socket bound to CID 2");
	if (listen(fd, 1) != 0)
		die("listen");
	expect_errno(accept(fd, NULL, NULL), EAGAIN, "non-blocking accept with nothing waiting");
	close(fd);
	fd = vsock_stream();
	check(!(fcntl(fd, F_GETFL) & O_NONBLOCK) && !(fcntl(fd, F_GETFD) & FD_CLOEXEC),
	      "no flags", "flags %#x", fcntl(fd, F_GETFL));
	expect_errno(ioctl(fd, IOCTL_VM_SOCKETS_GET_LOCAL_CID, &cid), ENOTTY,
		     "the local CID ioctl on a socket is ENOTTY, as on vsock");
	close(fd);
	dev = open("/dev/vsock", O_RDONLY | O_CLOEXEC);
	if (dev < 0) {
		say("skip /dev/vsock: %s", strerror(errno));
		return;
	}
	check(ioctl(dev, IOCTL_VM_SOCKETS_GET_LOCAL_CID, &cid) == 0 && cid == VMADDR_CID_HOST,
	      "/dev/vsock's local CID is 2", "cid %u (%s)", cid, strerror(errno));
	close(dev);
}

/* native UNIX_PATH TCP_PORT: other families are left alone. */
static void case_native(char **argv)
{
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	struct sockaddr_in in = { .sin_family = AF_INET, .sin_port = htons(number(argv[1])),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sockaddr_in name;
	socklen_t len = sizeof(name);
	int u = socket(AF_UNIX, SOCK_STREAM, 0), t = socket(AF_INET, SOCK_STREAM, 0);

	snprintf(un.sun_path, sizeof(un.sun_path), "%s", argv[0]);
	check(connect(u, (struct sockaddr *)&un, sizeof(un)) == 0, "AF_UNIX connect", "%s",
	      strerror(errno));
	echo(u, "unix", "AF_UNIX data");
	check(connect(t, (struct sockaddr *)&in, sizeof(in)) == 0, "AF_INET connect", "%s",
	      strerror(errno));
	echo(t, "inet", "AF_INET data");
	check(getsockname(t, (struct sockaddr *)&name, &len) == 0 && name.sin_family == AF_INET &&
	      name.sin_addr.s_addr == htonl(INADDR_LOOPBACK), "AF_INET getsockname is native",
	      "family %u", name.sin_family);
	close(u);
	close(t);
}

struct connector {
	unsigned int cid, port;
	int index;
};

static void *connect_and_echo(void *arg)
{
	struct connector *c = arg;
	char text[32];
	int fd = vsock_stream();

	snprintf(text, sizeof(text), "thread %d", c->index);
	check(vm_connect(fd, c->cid, c->port) == 0, "thread connect", "%s", strerror(errno));
	echo(fd, text, "thread data");
	close(fd);
	return NULL;
}

/* threads CID PORT LISTEN_PORT: a thread waits in accept while others connect and echo. */
static void case_threads(char **argv)
{
	struct connector c[4];
	pthread_t connectors[4];
	int listener = vsock_stream(), i;

	vm_bind(listener, VMADDR_CID_ANY, number(argv[2]));
	if (listen(listener, 4) != 0)
		die("listen");
	/* The accept runs in this thread once the connectors are under way; the peer connects to
	 * the listener only after "connectors done", so the accept waits meanwhile. */
	for (i = 0; i < 4; i++) {
		c[i] = (struct connector){ number(argv[0]), number(argv[1]), i };
		pthread_create(&connectors[i], NULL, connect_and_echo, &c[i]);
	}
	for (i = 0; i < 4; i++)
		pthread_join(connectors[i], NULL);
	say("connectors done");
	accept_one(listener, number(argv[0]), number(argv[2]));
	close(listener);
}

static void *accept_in_thread(void *arg)
{
	int *fds = arg;

	accept_one(fds[0], (unsigned int)fds[1], (unsigned int)fds[2]);
	return NULL;
}

/* waiting_accept CID PORT LISTEN_PORT: connects while another thread already waits in accept. */
static void case_waiting_accept(char **argv)
{
	int fds[3] = { vsock_stream(), (int)number(argv[0]), (int)number(argv[2]) };
	struct connector c = { number(argv[0]), number(argv[1]), 9 };
	pthread_t acceptor;

	vm_bind(fds[0], VMADDR_CID_ANY, number(argv[2]));
	if (listen(fds[0], 4) != 0)
		die("listen");
	pthread_create(&acceptor, NULL, accept_in_thread, fds);
	connect_and_echo(&c);	/* served while the acceptor waits */
	say("connected while accepting");
	pthread_join(acceptor, NULL);
	close(fds[0]);
}

/* fork CID PORT LISTEN_PORT: a child connects a socket of its own and accepts on the
 * listener its parent made (the same socket: known by inode). */
static void case_fork(char **argv)
{
	unsigned int cid = number(argv[0]);
	int listener = vsock_stream(), status = 0;
	char want[64];
	pid_t child;

	vm_bind(listener, VMADDR_CID_ANY, number(argv[2]));
	if (listen(listener, 4) != 0)
		die("listen");
	child = fork();
	if (child == 0) {
		int fd = vsock_stream();

		check(vm_connect(fd, cid, number(argv[1])) == 0, "child connect", "%s",
		      strerror(errno));
		echo(fd, "from the child", "child data");
		say("child connected");
		accept_one(listener, cid, number(argv[2]));
		exit(failures ? 1 : 0);
	}
	waitpid(child, &status, 0);
	check(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child passed", "status %#x",
	      status);
	snprintf(want, sizeof(want), "%u %u", VMADDR_CID_ANY, number(argv[2]));
	expect_name(listener, 0, want, "the parent's listener after the child's accept");
	close(listener);
}

static void on_alarm(int sig)
{
	(void)sig;
}

/* signal PORT: a signal ends a waiting accept with EINTR; the next accept still works. */
static void case_signal(char **argv)
{
	struct sigaction sa = { .sa_handler = on_alarm };	/* no SA_RESTART */
	int listener = vsock_stream();

	sigaction(SIGALRM, &sa, NULL);
	vm_bind(listener, VMADDR_CID_ANY, number(argv[1]));
	if (listen(listener, 1) != 0)
		die("listen");
	alarm(1);
	expect_errno(accept(listener, NULL, NULL), EINTR, "a signal ends accept with EINTR");
	say("listening %u", number(argv[1]));
	accept_one(listener, number(argv[0]), number(argv[1]));
	close(listener);
}

/* wait PORT: listens and waits in accept until killed (the SIGTERM test). */
static void case_wait(char **argv)
{
	int listener = vsock_stream();

	vm_bind(listener, VMADDR_CID_ANY, number(argv[0]));
	if (listen(listener, 1) != 0)
		die("listen");
	say("listening %u", number(argv[0]));
	accept(listener, NULL, NULL);
	die("accept returned");
}

static const struct {
	const char *name;
	int args;
	void (*run)(char **argv);
} cases[] = {
	{ "connect", 2, case_connect },
	{ "refused", 3, case_refused },
	{ "other_cid", 1, case_other_cid },
	{ "listen", 2, case_listen },
	{ "flags", 1, case_flags },
	{ "native", 2, case_native },
	{ "threads", 3, case_threads },
	{ "waiting_accept", 3, case_waiting_accept },
	{ "fork", 3, case_fork },
	{ "signal", 2, case_signal },
	{ "wait", 1, case_wait },
};

int main(int argc, char **argv)
{
	size_t i;

	if (!under_filter()) {
		fprintf(stderr, "vsock-hostwrap-peer: runs only under vsock-hostwrap (it would use "
			"this machine's own vsock)\n");
		return 2;
	}
	if (argc >= 2 && strcmp(argv[1], "exit") == 0 && argc == 3)
		return (int)number(argv[2]);
	if (argc >= 2 && strcmp(argv[1], "kill") == 0 && argc == 3)
		return kill(getpid(), (int)number(argv[2]));
	if (argc == 2 && strcmp(argv[1], "sockopt") == 0)
		case_sockopt();
	else if (argc == 2 && strcmp(argv[1], "types") == 0)
		case_types();
	else {
		for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
			if (argc == cases[i].args + 2 && strcmp(argv[1], cases[i].name) == 0)
				break;
		if (i == sizeof(cases) / sizeof(cases[0])) {
			fprintf(stderr, "vsock-hostwrap-peer: unknown case or arguments\n");
			return 2;
		}
		cases[i].run(argv + 2);
	}
	return failures ? 1 : 0;
}
