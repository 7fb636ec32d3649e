/* vu_bridge.c: the hybrid-vsock bridge's Unix sockets for one VM: the uds listener, the CONNECT
 * line of a host program, host-port allocation, and "<uds>_P" for guests calling the host. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "vu_bridge.h"
#include "vu_vm.h"
#include "vu_vsock.h"

int vu_connect_line_parse(const char *line, size_t len, uint32_t *port)
{
	static const char word[] = "connect";
	uint64_t value = 0;
	size_t i = 0, digits = 0;

	if (len == 0 || len > VU_CONNECT_LINE_MAX || line[len - 1] != '\n')
		return 0;
	for (; i < sizeof(word) - 1; i++)
		if (i >= len || tolower((unsigned char)line[i]) != word[i])
			return 0;
	if (line[i] != ' ')
		return 0;
	while (line[i] == ' ')
		i++;
	for (; i < len - 1; i++, digits++) {
		if (!isdigit((unsigned char)line[i]))
			return 0;
		value = value * 10 + (uint64_t)(line[i] - '0');
		if (value > UINT32_MAX)
			return 0;
	}
	if (!digits)
		return 0;
	*port = (uint32_t)value;
	return 1;
}

uint32_t vu_host_port_next(uint32_t *cursor, int (*in_use)(void *ctx, uint32_t port), void *ctx)
{
	uint32_t span = VU_HOST_PORT_END - VU_HOST_PORT_FIRST, tries;

	for (tries = 0; tries < span; tries++) {
		uint32_t port = *cursor;

		if (port < VU_HOST_PORT_FIRST || port >= VU_HOST_PORT_END)
			port = VU_HOST_PORT_FIRST;
		*cursor = port + 1 == VU_HOST_PORT_END ? VU_HOST_PORT_FIRST : port + 1;
		if (!in_use(ctx, port))
			return port;
	}
	return 0;
}

static int unix_address(struct sockaddr_un *addr, const char *path)
{
	memset(addr, 0, sizeof(*addr));
	addr->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(addr->sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(addr->sun_path, path);
	return 0;
}

int vu_bridge_connect_host(const struct vu_vm *vm, uint32_t port)
{
	struct sockaddr_un addr;
	char path[sizeof(addr.sun_path) + 16];
	int fd;

	snprintf(path, sizeof(path), "%s_%u", vm->uds_path, port);
	if (unix_address(&addr, path) != 0)
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	/* A Unix stream connects at once or not at all (a full backlog is EAGAIN: refused too). */
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
		int saved = errno;

		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

static void on_accept(struct vu_watch *watch, uint32_t events)
{
	struct vu_vm *vm = container_of(watch, struct vu_vm, uds_watch);
	struct vu_conn *c;
	int fd;

	(void)events;
	fd = accept4(vm->uds_listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	/* No room: the host program sees its stream closed with no OK. (A missing guest is
	 * checked once its line is read: closing over an unread line would be a reset.) */
	c = vu_conn_new(vm, fd, vu_vsock_stream_event);
	if (!c) {
		vu_vm_log(vm, "host program on %s: %d connections already, closed", vm->uds_path,
			  VU_CONN_MAX);
		close(fd);
		return;
	}
	c->state = VU_CONN_LINE;
	c->readable = 1;
	vu_bridge_read_line(c);
}

void vu_bridge_read_line(struct vu_conn *c)
{
	struct vu_vm *vm = c->vm;
	uint32_t port;

	/* One byte at a time: what follows the '\n' is the guest's data, never ours to take. */
	while (c->line_len < VU_CONNECT_LINE_MAX) {
		ssize_t n = recv(c->fd, &c->line[c->line_len], 1, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			c->readable = 0;
			return;
		}
		if (n <= 0) {
			vu_conn_drop(c);
			return;
		}
		if (c->line[c->line_len++] == '\n')
			break;
	}
	if (!vu_connect_line_parse(c->line, c->line_len, &port)) {
		vu_vm_log(vm, "host program on %s: malformed CONNECT line (%u bytes), closed",
			  vm->uds_path, c->line_len);
		vu_conn_drop(c);
		return;
	}
	if (!vu_vm_running(vm)) {
		vu_vm_log(vm, "host program on %s: CONNECT %u but no guest running, closed",
			  vm->uds_path, port);
		vu_conn_drop(c);
		return;
	}
	vu_conn_hash(c, port, vu_host_port_next(&vm->conns.port_cursor, vu_conn_host_port_in_use,
						&vm->conns));
	c->state = VU_CONN_WAIT_RESPONSE;
	c->deadline_ms = vu_now_ms() + VU_BRIDGE_RESPONSE_MS;
	vm->conns.waiting++;
	vu_conn_owe(c, VU_OWE_REQUEST);
}

int vu_bridge_listen(struct vu_vm *vm, char *error, size_t error_size)
{
	struct sockaddr_un addr;
	int fd;

	if (unix_address(&addr, vm->uds_path) != 0) {
		snprintf(error, error_size, "uds=%s: longer than a Unix socket path may be",
			 vm->uds_path);
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	unlink(vm->uds_path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 ||
	    listen(fd, 64) != 0) {
		snprintf(error, error_size, "uds=%s: cannot listen: %m", vm->uds_path);
		return -1;
	}
	vm->uds_listen_fd = fd;
	vm->uds_watch.on_event = on_accept;
	if (vu_loop_add(fd, EPOLLIN, &vm->uds_watch) != 0) {
		snprintf(error, error_size, "uds=%s: epoll: %m", vm->uds_path);
		return -1;
	}
	return 0;
}
