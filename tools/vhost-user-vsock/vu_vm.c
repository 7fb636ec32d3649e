/* vu_vm.c: one VM's vhost-user side: its listener, its QEMU connection and the ring kicks; a
 * QEMU that leaves or breaks the protocol resets this VM alone, and the next one is accepted. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "vu_bridge.h"
#include "vu_vm.h"
#include "vu_vsock.h"

void vu_vm_log(const struct vu_vm *vm, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "vhost-user-vsock: cid %llu: ", (unsigned long long)vm->cid);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int vu_vm_running(const struct vu_vm *vm)
{
	return vm->qemu_fd >= 0 && vm->dev.vrings[VU_VSOCK_RX].enabled &&
	       vm->dev.vrings[VU_VSOCK_TX].enabled;
}

/* Takes the tx ring (the rx ring is filled after each batch of events, vu_vm_service). */
static void serve(struct vu_vm *vm)
{
	char error[256] = "";

	if (vu_vsock_tx(vm, error, sizeof(error)) < 0)
		vu_vm_reset(vm, error);
}

void vu_vm_service(struct vu_vm *vm)
{
	char error[256] = "";

	if ((vm->held.active && vu_vsock_tx(vm, error, sizeof(error)) < 0) ||
	    vu_vsock_rx(vm, error, sizeof(error)) < 0)
		vu_vm_reset(vm, error);
}

void vu_vm_notify(struct vu_vm *vm)
{
	vu_queue_notify(&vm->dev, &vm->dev.vrings[VU_VSOCK_RX]);
	vu_queue_notify(&vm->dev, &vm->dev.vrings[VU_VSOCK_TX]);
}

void vu_vm_turn(struct vu_vm *vms, int n)
{
	int i;

	for (i = 0; i < n; i++)
		vu_vm_service(&vms[i]);
	/* Not inside the loop above: a chain B held may fill A's rx after A's service. */
	for (i = 0; i < n; i++)
		vu_vm_notify(&vms[i]);
}

static void on_kick(struct vu_watch *watch, uint32_t events)
{
	struct vu_kick *kick = container_of(watch, struct vu_kick, watch);
	struct vu_vm *vm = kick->vm;
	uint64_t count;

	(void)events;
	if (kick->fd < 0 || vm->dev.vrings[kick->ring].kick_fd != kick->fd)
		return;		/* unwatched earlier in this batch of events */
	/* A guest that kicked twice still means one pass over the rings. */
	if (read(kick->fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		vu_vm_log(vm, "reading a kick failed: %m");
	if (kick->ring == VU_VSOCK_RX)
		vm->rx_starved = 0;
	serve(vm);
}

/* Kick descriptors come and go with SET_VRING_KICK and GET_VRING_BASE: unwatch them all before
 * a message (while they are still open), watch the current ones after it. */
static void unwatch_kicks(struct vu_vm *vm)
{
	int i;

	for (i = 0; i < VU_VSOCK_QUEUES; i++) {
		vu_loop_del(vm->kicks[i].fd);
		vm->kicks[i].fd = -1;
	}
}

static void watch_kicks(struct vu_vm *vm)
{
	int i;

	for (i = 0; i < VU_VSOCK_QUEUES; i++) {
		struct vu_kick *kick = &vm->kicks[i];
		int fd = vm->dev.vrings[i].kick_fd;

		kick->watch.on_event = on_kick;
		kick->vm = vm;
		kick->ring = i;
		if (fd >= 0 && vu_loop_add(fd, EPOLLIN, &kick->watch) == 0)
			kick->fd = fd;
	}
}

static void on_qemu(struct vu_watch *watch, uint32_t events)
{
	struct vu_vm *vm = container_of(watch, struct vu_vm, qemu_watch);
	char error[256] = "";
	struct vu_msg msg;
	int ret;

	(void)events;
	ret = vu_msg_read(vm->qemu_fd, &msg, error, sizeof(error));
	if (ret == 0) {
		vu_vm_reset(vm, NULL);
		return;
	}
	unwatch_kicks(vm);
	if (ret < 0 || vu_device_handle(&vm->dev, vm->qemu_fd, &msg, error, sizeof(error)) < 0) {
		vu_vm_reset(vm, error);
		return;
	}
	watch_kicks(vm);
	/* A ring just enabled may already hold buffers and packets the guest kicked for earlier. */
	if (vu_vm_running(vm))
		serve(vm);
}

static void on_listen(struct vu_watch *watch, uint32_t events)
{
	struct vu_vm *vm = container_of(watch, struct vu_vm, listen_watch);
	int fd;

	(void)events;
	fd = accept4(vm->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return;
	vm->qemu_fd = fd;
	vm->qemu_watch.on_event = on_qemu;
	/* One QEMU at a time: the next waits in the backlog until this one is gone. */
	vu_loop_del(vm->listen_fd);
	if (vu_loop_add(fd, EPOLLIN, &vm->qemu_watch) != 0) {
		vu_vm_log(vm, "epoll: %m");
		vu_vm_reset(vm, "cannot watch the QEMU connection");
	} else if (vm->verbose) {
		vu_vm_log(vm, "QEMU connected on %s", vm->socket_path);
	}
}

int vu_vm_listen_socket(struct vu_vm *vm, char *error, size_t error_size)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(vm->socket_path) >= sizeof(addr.sun_path)) {
		snprintf(error, error_size, "socket=%s: longer than a Unix socket path may be",
			 vm->socket_path);
		return -1;
	}
	strcpy(addr.sun_path, vm->socket_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	unlink(vm->socket_path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 || listen(fd, 1) != 0) {
		snprintf(error, error_size, "socket=%s: cannot listen: %m", vm->socket_path);
		return -1;
	}
	vm->listen_fd = fd;
	vm->listen_watch.on_event = on_listen;
	if (vu_loop_add(fd, EPOLLIN, &vm->listen_watch) != 0) {
		snprintf(error, error_size, "socket=%s: epoll: %m", vm->socket_path);
		return -1;
	}
	return 0;
}

int vu_vm_listen_uds(struct vu_vm *vm, char *error, size_t error_size)
{
	return vm->uds_path ? vu_bridge_listen(vm, error, error_size) : 0;
}

void vu_vm_reset(struct vu_vm *vm, const char *why)
{
	int i;

	if (why && why[0])
		vu_vm_log(vm, "dropping the connection: %s", why);
	else if (vm->verbose)
		vu_vm_log(vm, "QEMU disconnected");
	if (vm->rst_dropped || vm->spoofed || vm->unroutable || vm->oversized || vm->over_credit)
		vu_vm_log(vm, "counted: %lu RSTs dropped (queue full), %lu spoofed src_cid, "
			  "%lu to no such cid, %lu oversized, %lu beyond credit", vm->rst_dropped,
			  vm->spoofed, vm->unroutable, vm->oversized, vm->over_credit);
	unwatch_kicks(vm);
	for (i = 0; i < VU_CONN_MAX; i++)
		if (vm->conns.slots[i])
			vu_conn_drop(vm->conns.slots[i]);
	vu_conn_table_init(&vm->conns);
	vm->held.active = 0;
	vu_vsock_release_held_for(vm);
	vm->rst_head = vm->rst_count = 0;
	vm->has_rx_spare = vm->rx_starved = 0;
	vm->rst_dropped = vm->spoofed = vm->unroutable = vm->oversized = vm->over_credit = 0;
	if (vm->qemu_fd >= 0) {
		vu_loop_del(vm->qemu_fd);
		close(vm->qemu_fd);
		vm->qemu_fd = -1;
	}
	vu_device_reset(&vm->dev);
	/* (A VM without a vhost-user listener, as the packet fuzzer's, has none to watch again.) */
	if (vm->listen_fd >= 0 && vu_loop_add(vm->listen_fd, EPOLLIN, &vm->listen_watch) != 0)
		vu_vm_log(vm, "cannot listen for the next QEMU: %m");
}

uint64_t vu_vm_expire(struct vu_vm *vm, uint64_t now_ms)
{
	uint64_t earliest = UINT64_MAX;
	int i;

	for (i = 0; i < VU_CONN_MAX && vm->conns.waiting; i++) {
		struct vu_conn *c = vm->conns.slots[i];

		if (!c || c->state != VU_CONN_WAIT_RESPONSE)
			continue;
		if (c->deadline_ms <= now_ms) {
			vu_vm_log(vm, "guest port %u did not answer within %d ms: host stream closed",
				  c->guest_port, VU_BRIDGE_RESPONSE_MS);
			vu_conn_reset(c);
		} else if (c->deadline_ms < earliest) {
			earliest = c->deadline_ms;
		}
	}
	return earliest;
}

void vu_vm_unlink(const struct vu_vm *vm)
{
	unlink(vm->socket_path);
	if (vm->uds_path)
		unlink(vm->uds_path);
}
