/*
 * calls.c: the vsock calls that answer at once. An AF_VSOCK SOCK_STREAM socket is an AF_UNIX
 * stream socket made here and installed in the program; what vsock would say about it
 * (addresses, AF_VSOCK options, bind) comes from its entry in the table:
 *   socket(AF_VSOCK, SOCK_STREAM)  a Unix stream socket, same NONBLOCK/CLOEXEC
 *   bind(P)                        the Unix socket is bound to "<uds>_P" (a stale path is taken
 *                                  over); VMADDR_PORT_ANY picks a free P from 49152
 *   listen                         native, once bound
 *   getsockname, getpeername       sockaddr_vm from the table (local CID 2)
 *   set/getsockopt at AF_VSOCK     remembered, with the kernel's defaults and checks
 *   ioctl(GET_LOCAL_CID)           2 on /dev/vsock; native elsewhere (ENOTTY, as on vsock)
 * connect and accept wait, and live in calls_wait.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "calls.h"
#include "report.h"
#include "table.h"
#include "target.h"

/* Where bind(VMADDR_PORT_ANY) starts looking for a free port. */
#define FIRST_ANY_PORT 49152
#define ANY_PORT_TRIES 4096
#define MAX_LISTENERS 1024

/* The ports bound during the run, whose "<uds>_P" is unlinked at exit (main thread only). */
static unsigned int bound_ports[MAX_LISTENERS];
static size_t bound_port_count;

int arg_int(const struct notice *n, int i)
{
	return (int)(uint32_t)n->req.data.args[i];
}

int tracked_fd(const struct notice *n, unsigned long *ino)
{
	int found;

	if (!target_socket_inode(n->req.pid, arg_int(n, 0), ino))
		return 0;
	table_lock();
	found = table_find(*ino) != NULL;
	table_unlock();
	return found;
}

int read_vm_address(const struct notice *n, uint64_t addr, int len, struct sockaddr_vm *vm)
{
	memset(vm, 0, sizeof(*vm));
	if (len < 0 || (size_t)len > sizeof(struct sockaddr_storage))
		return EINVAL;
	if (len && target_read(n->req.pid, addr, vm, (size_t)len < sizeof(*vm) ? (size_t)len :
			       sizeof(*vm)) != 0)
		return EFAULT;
	return 0;
}

int vm_address_refused(int len, const struct sockaddr_vm *vm)
{
	return (size_t)len < sizeof(*vm) || vm->svm_family != AF_VSOCK ||
	       (vm->svm_flags & ~VMADDR_FLAG_TO_HOST);
}

int give_vm_address(const struct notice *n, uint64_t addr, uint64_t len_ptr, unsigned int cid,
		    unsigned int port)
{
	struct sockaddr_vm vm = { .svm_family = AF_VSOCK, .svm_cid = cid, .svm_port = port };
	int len, full = (int)sizeof(vm);

	if (target_read(n->req.pid, len_ptr, &len, sizeof(len)) != 0)
		return EFAULT;
	if (len > full)
		len = full;
	if (len < 0)
		return EINVAL;
	if (len && target_write(n->req.pid, addr, &vm, (size_t)len) != 0)
		return EFAULT;
	return target_write(n->req.pid, len_ptr, &full, sizeof(full)) != 0 ? EFAULT : 0;
}

void listener_path(struct sockaddr_un *out, unsigned int port)
{
	*out = hw_config.bridge;
	snprintf(out->sun_path, sizeof(out->sun_path), "%s_%u", hw_config.bridge.sun_path, port);
}

/* Once per socket type: the reason its sockets fail, on stderr. */
static void say_unsupported(int type)
{
	static int said_seqpacket, said_dgram;
	int *said = type == SOCK_SEQPACKET ? &said_seqpacket : &said_dgram;

	if (!*said)
		hw_note("socket(AF_VSOCK, %s): ESOCKTNOSUPPORT: the hybrid bridge carries streams only",
			type == SOCK_SEQPACKET ? "SOCK_SEQPACKET" : "SOCK_DGRAM");
	*said = 1;
}

static long long call_socket(struct notice *n)
{
	int type = arg_int(n, 1), protocol = arg_int(n, 2);
	int flags = type & ~0xf, base = type & 0xf, fd;
	struct stat st;

	hw_verbose("pid %d: socket(AF_VSOCK, %#x, %d)", (int)n->req.pid, type, protocol);

	/* __sys_socket(), __sock_create() (types up to SOCK_PACKET), then vsock_create(). */
	if ((flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) || base > SOCK_PACKET)
		return -EINVAL;
	if (protocol && protocol != PF_VSOCK)
		return -EPROTONOSUPPORT;
	if (base == SOCK_SEQPACKET || base == SOCK_DGRAM)
		say_unsupported(base);
	if (base != SOCK_STREAM)
		return -ESOCKTNOSUPPORT;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | (flags & SOCK_NONBLOCK), 0);
	if (fd < 0 || fstat(fd, &st) != 0) {
		hw_own_error("socket(AF_VSOCK) of pid %d: its Unix socket: %s", (int)n->req.pid,
			     strerror(errno));
		if (fd >= 0)
			close(fd);
		return -ENOMEM;
	}
	table_lock();
	if (!table_add(st.st_ino, NULL)) {
		table_unlock();
		close(fd);
		return -ENOMEM;
	}
	table_unlock();
	if (notice_send_fd(n, fd, flags & SOCK_CLOEXEC) != 0) {
		int err = errno;

		/* ENOENT: the call was withdrawn; else (EMFILE...) it fails with the reason. */
		close(fd);
		return err == ENOENT ? REPLY_DONE : -err;
	}
	hw_verbose("pid %d: socket(AF_VSOCK) is Unix socket %lu", (int)n->req.pid,
		   (unsigned long)st.st_ino);
	close(fd);
	return REPLY_DONE;	/* ADDFD with SEND was the answer */
}

/* Whether a listener still answers on `path` (else the path is a dead one's, to take over). */
static int path_alive(const struct sockaddr_un *path)
{
	int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), alive;

	if (probe < 0)
		return 1;
	alive = connect(probe, (const struct sockaddr *)path, sizeof(*path)) == 0 ||
		errno != ECONNREFUSED;
	close(probe);
	return alive;
}

/* The port for bind(port): 0 with *out set, or the errno. Under the table lock. */
static int choose_port(unsigned int asked, unsigned int *out)
{
	static unsigned int next_any = FIRST_ANY_PORT;
	struct sockaddr_un path;
	int i;

	if (asked != VMADDR_PORT_ANY) {
		*out = asked;
		return table_port_taken(asked) ? EADDRINUSE : 0;
	}
	for (i = 0; i < ANY_PORT_TRIES; i++) {
		unsigned int port = next_any++;

		if (next_any >= FIRST_ANY_PORT + ANY_PORT_TRIES)
			next_any = FIRST_ANY_PORT;
		listener_path(&path, port);
		if (access(path.sun_path, F_OK) != 0 && !table_port_taken(port)) {
			*out = port;
			return 0;
		}
	}
	return EADDRNOTAVAIL;	/* __vsock_bind_connectible() when no port is free */
}

/* Binds the program's socket to "<uds>_port": 0 or the errno. */
static int bind_listener_path(struct notice *n, unsigned int port)
{
	struct sockaddr_un path;
	int copy = target_take_fd(n->req.pid, arg_int(n, 0)), err = 0;

	if (copy < 0)
		return errno;
	listener_path(&path, port);
	if (bind(copy, (struct sockaddr *)&path, sizeof(path)) != 0) {
		err = errno;
		if (err == EADDRINUSE && !path_alive(&path)) {
			unlink(path.sun_path);
			err = bind(copy, (struct sockaddr *)&path, sizeof(path)) == 0 ? 0 : errno;
		}
		if (err && err != EADDRINUSE)
			hw_own_error("bind(fd %d, port %u) of pid %d: %s: %s", arg_int(n, 0), port,
				     (int)n->req.pid, path.sun_path, strerror(err));
	}
	close(copy);
	if (!err && bound_port_count < MAX_LISTENERS)
		bound_ports[bound_port_count++] = port;
	return err;
}

static long long call_bind(struct notice *n, unsigned long ino)
{
	struct sockaddr_vm vm;
	struct vsock_state *s;
	unsigned int port = 0;
	int len = arg_int(n, 2), err = read_vm_address(n, n->req.data.args[1], len, &vm);

	if (err)
		return -err;
	if (vm_address_refused(len, &vm))
		return -EINVAL;
	table_lock();
	s = table_find(ino);
	/* __vsock_bind(): bound already (connected sockets are), then a CID that is not ours. */
	if (!s || s->bound || s->connected || s->connecting)
		err = EINVAL;
	else if (vm.svm_cid != VMADDR_CID_ANY && vm.svm_cid != VMADDR_CID_HOST)
		err = EADDRNOTAVAIL;
	else
		err = choose_port(vm.svm_port, &port);
	if (!err)
		err = bind_listener_path(n, port);
	s = err ? NULL : table_find(ino);
	if (s) {
		s->bound = 1;
		s->bound_any = vm.svm_cid == VMADDR_CID_ANY;
		s->local_port = port;
	}
	table_unlock();
	if (!err)
		hw_verbose("pid %d: bind(port %u) listens on %s_%u", (int)n->req.pid, port,
			   hw_config.bridge.sun_path, port);
	return err ? -err : 0;
}

static long long call_listen(unsigned long ino)
{
	struct vsock_state *s;
	int ok;

	table_lock();
	s = table_find(ino);
	/* vsock_listen(): a connected socket, or one never bound, cannot listen. */
	ok = s && s->bound && !s->connected && !s->connecting;
	table_unlock();
	return ok ? REPLY_CONTINUE : -EINVAL;
}

static long long call_getname(struct notice *n, unsigned long ino, int peer)
{
	struct vsock_state *s, copy;
	unsigned int cid, port;
	int found;

	table_lock();
	s = table_find(ino);
	found = s != NULL;
	if (s)
		copy = *s;
	table_unlock();
	if (!found)
		return -EBADF;
	if (peer) {
		if (!copy.connected)
			return -ENOTCONN;
		cid = hw_config.guest_cid;
		port = copy.peer_port;
	} else if (copy.connected) {
		cid = VMADDR_CID_HOST;
		port = copy.local_port;
	} else {
		cid = copy.bound && !copy.bound_any ? VMADDR_CID_HOST : VMADDR_CID_ANY;
		port = copy.bound ? copy.local_port : VMADDR_PORT_ANY;
	}
	found = give_vm_address(n, n->req.data.args[1], n->req.data.args[2], cid, port);
	return found ? -found : 0;
}

/* vsock_update_buffer_size(): the size within [min, max]. */
static void clamp_buffer_size(struct vsock_state *s, uint64_t size)
{
	if (size < s->buffer_min_size)
		size = s->buffer_min_size;
	if (size > s->buffer_max_size)
		size = s->buffer_max_size;
	s->buffer_size = size;
}

/* vsock_connectible_setsockopt() at level AF_VSOCK, on the table entry: 0 or the errno. */
static int set_option(struct vsock_state *s, int name, const void *value, int len)
{
	uint64_t size;
	int64_t tv[2];

	switch (name) {
	case SO_VM_SOCKETS_BUFFER_SIZE:
	case SO_VM_SOCKETS_BUFFER_MAX_SIZE:
	case SO_VM_SOCKETS_BUFFER_MIN_SIZE:
		if ((size_t)len < sizeof(size))
			return EINVAL;
		memcpy(&size, value, sizeof(size));
		if (name == SO_VM_SOCKETS_BUFFER_MAX_SIZE)
			s->buffer_max_size = size;
		else if (name == SO_VM_SOCKETS_BUFFER_MIN_SIZE)
			s->buffer_min_size = size;
		clamp_buffer_size(s, name == SO_VM_SOCKETS_BUFFER_SIZE ? size : s->buffer_size);
		return 0;
	case SO_VM_SOCKETS_CONNECT_TIMEOUT_OLD:
	case SO_VM_SOCKETS_CONNECT_TIMEOUT_NEW:
		/* On x86_64 both are two 64-bit fields (__kernel_old_timeval, _sock_timeval). */
		if ((size_t)len < sizeof(tv))
			return EINVAL;
		memcpy(tv, value, sizeof(tv));
		if (tv[0] < 0 || tv[1] < 0 || tv[1] >= 1000000 || tv[0] >= INT32_MAX)
			return ERANGE;
		/* Zero means the default, as in the kernel. */
		s->connect_timeout_sec = tv[0] || tv[1] ? tv[0] : 2;
		s->connect_timeout_usec = tv[1];
		return 0;
	default:
		return ENOPROTOOPT;
	}
}

static long long call_setsockopt(struct notice *n, unsigned long ino)
{
	char value[16] = { 0 };
	int len = arg_int(n, 4), err;
	struct vsock_state *s;

	/* Read what the longest option takes; set_option() judges the length. */
	if (len > 0 && target_read(n->req.pid, n->req.data.args[3], value,
				   (size_t)len < sizeof(value) ? (size_t)len : sizeof(value)) != 0)
		return -EFAULT;
	table_lock();
	s = table_find(ino);
	err = s ? set_option(s, arg_int(n, 2), value, len) : EBADF;
	table_unlock();
	return err ? -err : 0;
}

static long long call_getsockopt(struct notice *n, unsigned long ino)
{
	int name = arg_int(n, 2), len, full = sizeof(uint64_t);
	uint64_t value[2] = { 0, 0 };
	struct vsock_state *s;

	table_lock();
	s = table_find(ino);
	if (s && name == SO_VM_SOCKETS_BUFFER_SIZE)
		value[0] = s->buffer_size;
	else if (s && name == SO_VM_SOCKETS_BUFFER_MAX_SIZE)
		value[0] = s->buffer_max_size;
	else if (s && name == SO_VM_SOCKETS_BUFFER_MIN_SIZE)
		value[0] = s->buffer_min_size;
	else if (s && (name == SO_VM_SOCKETS_CONNECT_TIMEOUT_OLD ||
		       name == SO_VM_SOCKETS_CONNECT_TIMEOUT_NEW)) {
		value[0] = (uint64_t)s->connect_timeout_sec;
		value[1] = (uint64_t)s->connect_timeout_usec;
		full = sizeof(value);
	} else {
		full = 0;
	}
	table_unlock();
	if (!s)
		return -EBADF;
	if (!full)
		return -ENOPROTOOPT;
	/* vsock_connectible_getsockopt(): too short is EINVAL, longer is cut to the value. */
	if (target_read(n->req.pid, n->req.data.args[4], &len, sizeof(len)) != 0)
		return -EFAULT;
	if (len < full)
		return -EINVAL;
	if (target_write(n->req.pid, n->req.data.args[3], value, (size_t)full) != 0 ||
	    target_write(n->req.pid, n->req.data.args[4], &full, sizeof(full)) != 0)
		return -EFAULT;
	return 0;
}

/* /dev/vsock's ioctl answers the local CID: a host's, 2 (not this machine's own). */
static long long call_ioctl(struct notice *n)
{
	uint32_t cid = VMADDR_CID_HOST;

	if (!target_fd_is(n->req.pid, arg_int(n, 0), "/dev/vsock"))
		return REPLY_CONTINUE;
	if (target_write(n->req.pid, n->req.data.args[2], &cid, sizeof(cid)) != 0)
		return -EFAULT;
	return 0;
}

/* The handler of a call the filter sent: its reply (see REPLY_* in calls.h). */
static long long handle(struct notice *n)
{
	unsigned long ino;
	int nr = n->req.data.nr;

	if (nr == __NR_socket)
		return call_socket(n);
	if (nr == __NR_ioctl)
		return call_ioctl(n);
	/* Every other call the filter sends acts on its fd argument 0. */
	if (!tracked_fd(n, &ino))
		return REPLY_CONTINUE;
	switch (nr) {
	case __NR_connect:
		return call_connect(n, ino);
	case __NR_bind:
		return call_bind(n, ino);
	case __NR_listen:
		return call_listen(ino);
	case __NR_accept:
	case __NR_accept4:
		return call_accept(n, ino);
	case __NR_getsockname:
		return call_getname(n, ino, 0);
	case __NR_getpeername:
		return call_getname(n, ino, 1);
	case __NR_setsockopt:
		return call_setsockopt(n, ino);
	case __NR_getsockopt:
		return call_getsockopt(n, ino);
	default:
		return REPLY_CONTINUE;
	}
}

void calls_dispatch(struct notice *n)
{
	calls_reply(n, handle(n));
}

void calls_reply(const struct notice *n, long long reply)
{
	if (reply == REPLY_CONTINUE)
		notice_continue(n);
	else if (reply == REPLY_DONE)
		return;
	else if (reply < 0)
		notice_fail(n, (int)-reply);
	else
		notice_return(n, reply);
}

void calls_unlink_listeners(void)
{
	struct sockaddr_un path;
	size_t i;

	for (i = 0; i < bound_port_count; i++) {
		listener_path(&path, bound_ports[i]);
		unlink(path.sun_path);
	}
}
