/*
 * conn.c: vsock-perf's connections: AF_VSOCK in a guest, or the hybrid-vsock bridge (a Unix
 * socket) on the build machine, which never opens AF_VSOCK itself; the socket size options.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#include "bridge_client.h"
#include "perf.h"

#define BRIDGE_LINE_MAX 64

static void set_unix_path(struct sockaddr_un *addr, const char *path, const char *what)
{
	if (strlen(path) >= sizeof(addr->sun_path))
		fail("%s %s: longer than a Unix socket path may be", what, path);
	strcpy(addr->sun_path, path);
}

/*
 * --vsk-size: the maximum first (the size must stay within min..max), as the kernel's vsock_perf
 * does. Set on a listener, accepted sockets inherit it (__vsock_create copies the parent's), so
 * the first credit the peer sees already counts it.
 */
static void set_socket_sizes(int fd, const struct options *o)
{
	unsigned long long size = o->vsk_size;
	int lowat = (int)o->rcvlowat;

	if (size && setsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_BUFFER_MAX_SIZE, &size, sizeof(size)))
		fail("setsockopt(SO_VM_SOCKETS_BUFFER_MAX_SIZE, %llu): %s", size, errno_text(errno));
	if (size && setsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_BUFFER_SIZE, &size, sizeof(size)))
		fail("setsockopt(SO_VM_SOCKETS_BUFFER_SIZE, %llu): %s", size, errno_text(errno));
	if (lowat && setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &lowat, sizeof(lowat)))
		fail("setsockopt(SO_RCVLOWAT, %d): %s", lowat, errno_text(errno));
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

int open_connection(const struct options *o)
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
	set_socket_sizes(fd, o);
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
	set_socket_sizes(fd, o);
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0)
		fail("bind vsock port %u: %s", o->port, errno_text(errno));
	if (listen(fd, 128) != 0)
		fail("listen on vsock port %u: %s", o->port, errno_text(errno));
	return fd;
}

const char *peer_name(const struct options *o)
{
	static char name[160];

	if (o->bridge)
		snprintf(name, sizeof(name), "bridge %s port %u", o->bridge, o->port);
	else if (o->bridge_listen)
		snprintf(name, sizeof(name), "%s", listen_path);
	else if (connects(o))
		snprintf(name, sizeof(name), "vsock %llu:%u", o->cid, o->port);
	else
		snprintf(name, sizeof(name), "the peer on vsock port %u", o->port);
	return name;
}

/* Listens, says so, and with --background leaves the serving to a child. */
int start_listening(const struct options *o)
{
	int fd = open_listener(o);
	pid_t child;

	if (o->json)
		printf("{\"tool\": \"vsock-perf\", \"mode\": \"%s\", \"event\": \"listening\", \"port\": %u}\n",
		       mode_name, o->port);
	else
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

int accept_one(int listener, const struct options *o)
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

void done_listening(void)
{
	if (listen_path[0])
		unlink(listen_path);
	listen_path[0] = '\0';
}

void write_all(int fd, const char *buf, size_t len, const struct options *o,
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

/* One read(), EINTR retried; 0 is the peer's EOF. */
ssize_t read_some(int fd, char *buf, size_t len, const struct options *o)
{
	ssize_t n;

	do
		n = read(fd, buf, len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		fail("read from %s: %s", peer_name(o), errno_text(errno));
	return n;
}
