/* sock.c: AF_VSOCK helpers shared by the cases: addresses, listen/connect, whole transfers. */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "vsc_internal.h"
#include "vsc_sock.h"

struct sockaddr_vm vsc_addr(unsigned int cid, unsigned int port)
{
	struct sockaddr_vm addr;

	memset(&addr, 0, sizeof(addr));
	addr.svm_family = AF_VSOCK;
	addr.svm_cid = cid;
	addr.svm_port = port;
	return addr;
}

int vsc_bind(int fd, unsigned int cid, unsigned int port)
{
	struct sockaddr_vm addr = vsc_addr(cid, port);

	return bind(fd, (struct sockaddr *)&addr, sizeof(addr));
}

int vsc_connect(int fd, unsigned int cid, unsigned int port)
{
	struct sockaddr_vm addr = vsc_addr(cid, port);

	return connect(fd, (struct sockaddr *)&addr, sizeof(addr));
}

static struct sockaddr_vm name_at(const char *file, int line, int fd, int peer)
{
	struct sockaddr_vm addr;
	socklen_t len = sizeof(addr);
	int ret;

	memset(&addr, 0, sizeof(addr));
	vsc_step_at(file, line, peer ? "getpeername()" : "getsockname()");
	ret = peer ? getpeername(fd, (struct sockaddr *)&addr, &len)
		   : getsockname(fd, (struct sockaddr *)&addr, &len);
	if (ret != 0)
		vsc_fatal_at(file, line, "%s(fd %d) failed: %s",
			      peer ? "getpeername" : "getsockname", fd, vsc_errname(errno));
	if (len != sizeof(addr) || addr.svm_family != AF_VSOCK)
		vsc_fatal_at(file, line, "%s(fd %d) gave family %d, length %u",
			      peer ? "getpeername" : "getsockname", fd, addr.svm_family, len);
	return addr;
}

struct sockaddr_vm vsc_sockname_at(const char *file, int line, int fd)
{
	return name_at(file, line, fd, 0);
}

struct sockaddr_vm vsc_peername_at(const char *file, int line, int fd)
{
	return name_at(file, line, fd, 1);
}

static int open_socket_at(const char *file, int line, int type)
{
	int fd;

	vsc_step_at(file, line, "socket()");
	fd = socket(AF_VSOCK, type, 0);
	if (fd < 0)
		vsc_fatal_at(file, line, "socket(AF_VSOCK, %s) failed: %s", vsc_type_text(type),
			      vsc_errname(errno));
	return fd;
}

int vsc_listen_at(const char *file, int line, int type, unsigned int port, int backlog)
{
	int fd = open_socket_at(file, line, type);

	vsc_step_at(file, line, "bind() for listening");
	if (vsc_bind(fd, VMADDR_CID_ANY, port) != 0)
		vsc_fatal_at(file, line, "bind(VMADDR_CID_ANY, port %u) failed: %s", port,
			      vsc_errname(errno));
	vsc_step_at(file, line, "listen()");
	if (listen(fd, backlog) != 0)
		vsc_fatal_at(file, line, "listen(port %u) failed: %s", port,
			      vsc_errname(errno));
	return fd;
}

int vsc_connect_to_at(const char *file, int line, int type, unsigned int cid, unsigned int port)
{
	int fd = open_socket_at(file, line, type);

	vsc_step_at(file, line, "connect()");
	if (vsc_connect(fd, cid, port) != 0)
		vsc_fatal_at(file, line, "connect(%u:%u) failed: %s", cid, port,
			      vsc_errname(errno));
	return fd;
}

int vsc_accept_peer_at(const char *file, int line, int type, const struct vsc_env *env,
		       int *listener)
{
	int fd;

	*listener = vsc_listen_at(file, line, type, env->port, 1);
	vsc_signal_at(file, line, "listening");
	vsc_step_at(file, line, "accept()");
	fd = accept(*listener, NULL, NULL);
	if (fd < 0)
		vsc_fatal_at(file, line, "accept(port %u) failed: %s", env->port,
			      vsc_errname(errno));
	return fd;
}

int vsc_connect_peer_at(const char *file, int line, int type, const struct vsc_env *env)
{
	vsc_wait_at(file, line, "listening");
	return vsc_connect_to_at(file, line, type, env->peer_cid, env->port);
}

void vsc_send_all_at(const char *file, int line, int fd, const void *buf, size_t len)
{
	const char *p = buf;
	size_t done = 0;

	vsc_step_at(file, line, "send()");
	while (done < len) {
		ssize_t n = send(fd, p + done, len - done, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			vsc_fatal_at(file, line, "send() after %zu of %zu bytes failed: %s", done,
				      len, n < 0 ? vsc_errname(errno) : "returned 0");
		done += (size_t)n;
	}
}

void vsc_recv_all_at(const char *file, int line, int fd, void *buf, size_t len)
{
	char *p = buf;
	size_t done = 0;

	vsc_step_at(file, line, "recv()");
	while (done < len) {
		ssize_t n = recv(fd, p + done, len - done, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			vsc_fatal_at(file, line, "recv() after %zu of %zu bytes failed: %s", done,
				      len, vsc_errname(errno));
		if (n == 0)
			vsc_fatal_at(file, line, "recv() hit EOF after %zu of %zu bytes", done,
				      len);
		done += (size_t)n;
	}
}

void vsc_fill_pattern(void *buf, size_t len, uint64_t offset)
{
	unsigned char *p = buf;
	size_t i;

	/* Position-dependent and not periodic at 256, so shifted or dropped bytes show. */
	for (i = 0; i < len; i++) {
		uint64_t pos = offset + i;

		p[i] = (unsigned char)((pos * 2654435761u) >> 13 ^ pos >> 8);
	}
}

uint32_t vsc_crc32(uint32_t crc, const void *buf, size_t len)
{
	static uint32_t table[256];
	const unsigned char *p = buf;
	size_t i;

	if (!table[1]) {
		for (i = 0; i < 256; i++) {
			uint32_t c = (uint32_t)i;
			int bit;

			for (bit = 0; bit < 8; bit++)
				c = (c >> 1) ^ (0xedb88320u & -(c & 1));
			table[i] = c;
		}
	}
	crc = ~crc;
	for (i = 0; i < len; i++)
		crc = table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
	return ~crc;
}

void vsc_set_connect_timeout_at(const char *file, int line, int fd, int ms)
{
	struct timeval patience = { ms / 1000, (ms % 1000) * 1000 };

	vsc_step_at(file, line, "setsockopt(SO_VM_SOCKETS_CONNECT_TIMEOUT)");
	if (setsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_CONNECT_TIMEOUT, &patience, sizeof(patience)) != 0)
		vsc_fatal_at(file, line, "setsockopt(SO_VM_SOCKETS_CONNECT_TIMEOUT, %d ms) failed: %s",
			     ms, vsc_errname(errno));
}

long vsc_elapsed_ms(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - start->tv_sec) * 1000 + (now.tv_nsec - start->tv_nsec) / 1000000;
}

short vsc_poll_at(const char *file, int line, int fd, short events, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	int ret;

	vsc_step_at(file, line, "poll()");
	do
		ret = poll(&pfd, 1, timeout_ms);
	while (ret < 0 && errno == EINTR);
	if (ret < 0)
		vsc_fatal_at(file, line, "poll(fd %d) failed: %s", fd, vsc_errname(errno));
	return ret ? pfd.revents : 0;
}
