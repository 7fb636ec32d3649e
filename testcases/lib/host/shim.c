/*
 * shim.c: vsockcheck-host's AF_VSOCK. The program is linked with -Wl,--wrap=<call> for each
 * call below, so the unchanged cases' socket calls land here. An AF_VSOCK SOCK_STREAM socket
 * becomes a Unix stream socket that speaks the hybrid vsock bridge (Firecracker's protocol):
 *
 *   connect(guest CID, P)  connect to the bridge UDS, write "CONNECT P\n", read "OK <port>\n";
 *                          the bridge closing without OK is ECONNRESET (the guest's RST)
 *   bind(P) + listen       listen on the Unix socket "<UDS>_P" (where the bridge delivers a
 *                          guest's connect to CID 2 port P); accept() accepts there
 *   getsockname            { CID 2, the port bound, or the port the bridge's OK gave }
 *
 * What has no equivalent through the bridge ends the role with SKIP and the reason, at the
 * call that needs it. No AF_VSOCK socket is ever opened on this machine.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <linux/sockios.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "bridge_client.h"
#include "host/shim.h"
#include "vsc_internal.h"

#define MAX_FDS 4096
#define UNMAPPABLE "g2h: the host end is a Unix socket through the hybrid bridge: "
/* Where bind(VMADDR_PORT_ANY) looks for a free "<UDS>_P" (the guest never sees it unasked). */
#define FIRST_ANY_PORT 49152

struct vsock_fd {
	unsigned char used, bound, listening, connected, accepted;
	unsigned char connecting;	/* a thread is in the bridge's handshake (connect_lock) */
	unsigned char send_shut;	/* shutdown(SHUT_WR or SHUT_RDWR) done on this end */
	unsigned char bound_any;	/* bound to VMADDR_CID_ANY: a listener names that CID */
	int rcvlowat;			/* SO_RCVLOWAT set on it, 0 when never set */
	int connect_error;		/* the last handshake's errno, for threads that waited */
	unsigned int local_port;	/* bound port, or the port the bridge's OK named */
	unsigned int peer_port;		/* the guest port connect() reached */
};

static struct vsock_fd fds[MAX_FDS];
static struct sockaddr_un bridge;	/* the UDS the guest's bridge listens on */
static unsigned int bridge_guest_cid;

int __real_socket(int domain, int type, int protocol);
int __real_bind(int fd, const struct sockaddr *addr, socklen_t len);
int __real_listen(int fd, int backlog);
int __real_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags);
int __real_connect(int fd, const struct sockaddr *addr, socklen_t len);
int __real_getsockname(int fd, struct sockaddr *addr, socklen_t *len);
int __real_getpeername(int fd, struct sockaddr *addr, socklen_t *len);
int __real_setsockopt(int fd, int level, int name, const void *value, socklen_t len);
int __real_getsockopt(int fd, int level, int name, void *value, socklen_t *len);
int __real_ioctl(int fd, unsigned long request, void *arg);
int __real_close(int fd);
ssize_t __real_send(int fd, const void *buf, size_t len, int flags);
ssize_t __real_sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *addr,
		      socklen_t addr_len);
ssize_t __real_sendmsg(int fd, const struct msghdr *msg, int flags);
ssize_t __real_recv(int fd, void *buf, size_t len, int flags);
ssize_t __real_recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *addr,
			socklen_t *addr_len);
ssize_t __real_recvmsg(int fd, struct msghdr *msg, int flags);
int __real_shutdown(int fd, int how);
int __real_poll(struct pollfd *pfds, nfds_t n, int timeout_ms);

int vsc_bridge_init(const char *uds, unsigned int guest_cid)
{
	/* "<UDS>_<port>" must fit too: keep room for "_4294967295". */
	if (strlen(uds) + 12 > sizeof(bridge.sun_path))
		return -1;
	bridge.sun_family = AF_UNIX;
	strcpy(bridge.sun_path, uds);
	bridge_guest_cid = guest_cid;
	return 0;
}

const char *vsc_bridge_path(void)
{
	return bridge.sun_path[0] ? bridge.sun_path : NULL;
}

const char *vsc_bridge_unmet_need(const struct vsc_case *c)
{
	/* min_kver is not judged here: the kernel under test is the guest's, and its side judges. */
	if (c->sock_type == SOCK_SEQPACKET || (c->needs & VSC_NEED_SEQPACKET))
		return UNMAPPABLE "SOCK_SEQPACKET has no equivalent";
	if (c->sock_type == SOCK_DGRAM)
		return UNMAPPABLE "SOCK_DGRAM has no equivalent";
	if (c->needs & VSC_NEED_DEV_VSOCK)
		return "g2h: the host end has no /dev/vsock of the guest's device";
	if (c->needs & VSC_NEED_KMEMLEAK)
		return "g2h: the build machine's kmemleak says nothing about the guest's kernel";
	if (c->needs & VSC_NEED_NESTED)
		return vsc_nested_unmet();	/* no --level here: the host is never L1 or L2 */
	if (c->needs & VSC_NEED_HVSOCK)
		return vsc_hvsock_unmet();	/* no --hvsock here: hv_sock lives in its own topology */
	if (c->needs & VSC_NEED_SEND_CREDIT)
		return UNMAPPABLE "a send() that stops on the receiver's credit has no equivalent "
				  "(the device keeps draining or filling the Unix socket)";
	return NULL;
}

static void unmappable(const char *what) __attribute__((noreturn));
static void unmappable(const char *what)
{
	vsc_skip(UNMAPPABLE "%s has no equivalent", what);
}

static struct vsock_fd *tracked(int fd)
{
	return fd >= 0 && fd < MAX_FDS && fds[fd].used ? &fds[fd] : NULL;
}

/* The role cannot go on: the bridge itself misbehaves (not the kernel under test). */
static void bridge_broken(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void bridge_broken(const char *fmt, ...)
{
	char text[VSC_TEXT_MAX], why[VSC_TEXT_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	snprintf(why, sizeof(why), "[%s] hybrid bridge %s: %s", vsc_self.label, bridge.sun_path,
		 text);
	vsc_out("# %s", why);
	vsc_role_exit(VSC_BROKEN, why);
}

static void port_path(struct sockaddr_un *out, unsigned int port)
{
	*out = bridge;
	snprintf(out->sun_path, sizeof(out->sun_path), "%s_%u", bridge.sun_path, port);
}

/*
 * The address as the socket layer copies it in (move_addr_to_kernel()): 0, or the errno of a
 * length it refuses or a NULL it cannot copy from. What vsock makes of it is cast_error()'s.
 */
static int copy_in_address(const struct sockaddr *addr, socklen_t len, struct sockaddr_vm *out)
{
	memset(out, 0, sizeof(*out));
	if ((int)len < 0 || len > sizeof(struct sockaddr_storage))
		return EINVAL;
	if (len && !addr)
		return EFAULT;
	memcpy(out, addr, len < sizeof(*out) ? len : sizeof(*out));
	return 0;
}

/*
 * vsock_addr_cast() and vsock_addr_validate() of the kernel under test (the guest's: the host
 * program adopts its version): too short, not AF_VSOCK, or a field that version refuses.
 * vsock_bind() and vsock_connect() turn every one of them into EINVAL.
 */
static int cast_error(socklen_t len, const struct sockaddr_vm *vm)
{
	if (len < sizeof(*vm) || vm->svm_family != AF_VSOCK)
		return EINVAL;
	if ((vm->svm_flags & ~VMADDR_FLAG_TO_HOST) && vsc_expected_errno("addr_unknown_svm_flag"))
		return EINVAL;
	if (vm->svm_zero[0] && vsc_expected_errno("addr_nonzero_svm_zero"))
		return EINVAL;
	return 0;
}

static int fail(int err)
{
	errno = err;
	return -1;
}

int __wrap_socket(int domain, int type, int protocol)
{
	int base = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC), fd;

	if (domain != AF_VSOCK)
		return __real_socket(domain, type, protocol);
	if (base == SOCK_SEQPACKET)
		unmappable("SOCK_SEQPACKET");
	if (base != SOCK_STREAM)
		unmappable(base == SOCK_DGRAM ? "SOCK_DGRAM" : "a socket type other than SOCK_STREAM");
	fd = __real_socket(AF_UNIX, type, 0);
	if (fd >= MAX_FDS) {
		__real_close(fd);
		errno = EMFILE;
		return -1;
	}
	if (fd >= 0)
		fds[fd] = (struct vsock_fd){ .used = 1 };
	return fd;
}

/* The first port from FIRST_ANY_PORT with no "<UDS>_P" yet. */
static unsigned int free_port(void)
{
	struct sockaddr_un path;
	unsigned int port;

	for (port = FIRST_ANY_PORT; port < FIRST_ANY_PORT + 4096; port++) {
		port_path(&path, port);
		if (access(path.sun_path, F_OK) != 0)
			return port;
	}
	return VMADDR_PORT_ANY;
}

int __wrap_bind(int fd, const struct sockaddr *addr, socklen_t len)
{
	struct vsock_fd *v = tracked(fd);
	struct sockaddr_vm vm;
	int err;

	if (!v)
		return __real_bind(fd, addr, len);
	err = copy_in_address(addr, len, &vm);
	if (!err)
		err = cast_error(len, &vm);
	if (err)
		return fail(err);
	if (v->bound || v->connected)
		return fail(EINVAL);
	if (vm.svm_cid != VMADDR_CID_ANY && vm.svm_cid != VMADDR_CID_HOST) {
		errno = EADDRNOTAVAIL;
		return -1;
	}
	v->local_port = vm.svm_port == VMADDR_PORT_ANY ? free_port() : vm.svm_port;
	if (v->local_port == VMADDR_PORT_ANY) {
		errno = EADDRINUSE;
		return -1;
	}
	v->bound = 1;
	v->bound_any = vm.svm_cid == VMADDR_CID_ANY;
	return 0;
}

/* Listens on "<UDS>_P"; a path left by a listener that is gone is taken over. */
int __wrap_listen(int fd, int backlog)
{
	struct vsock_fd *v = tracked(fd);
	struct sockaddr_un path;

	if (!v)
		return __real_listen(fd, backlog);
	if (!v->bound || v->connected) {
		errno = EINVAL;
		return -1;
	}
	if (!v->listening) {
		port_path(&path, v->local_port);
		if (__real_bind(fd, (struct sockaddr *)&path, sizeof(path)) != 0) {
			int probe = __real_socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), alive;

			if (errno != EADDRINUSE || probe < 0)
				return -1;
			alive = __real_connect(probe, (struct sockaddr *)&path, sizeof(path)) == 0 ||
				errno != ECONNREFUSED;
			__real_close(probe);
			if (alive) {
				errno = EADDRINUSE;
				return -1;
			}
			unlink(path.sun_path);
			if (__real_bind(fd, (struct sockaddr *)&path, sizeof(path)) != 0)
				return -1;
		}
	}
	if (__real_listen(fd, backlog) != 0)
		return -1;
	v->listening = 1;
	return 0;
}

int __wrap_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
	struct vsock_fd *v = tracked(fd);
	int conn;

	if (!v)
		return __real_accept4(fd, addr, len, flags);
	if (addr)
		unmappable("the guest's port on an accepted connection (accept()'s address)");
	conn = __real_accept4(fd, NULL, NULL, flags);
	if (conn >= MAX_FDS) {
		__real_close(conn);
		errno = EMFILE;
		return -1;
	}
	if (conn >= 0)
		fds[conn] = (struct vsock_fd){ .used = 1, .bound = 1, .connected = 1, .accepted = 1,
					       .local_port = v->local_port };
	return conn;
}

int __wrap_accept(int fd, struct sockaddr *addr, socklen_t *len)
{
	return __wrap_accept4(fd, addr, len, 0);
}

/* Socket options a case may set before connect(), carried to the connected socket. */
static void copy_options(int from, int to)
{
	static const int names[] = { SO_RCVTIMEO, SO_SNDTIMEO, SO_RCVBUF, SO_SNDBUF, SO_LINGER,
				     SO_RCVLOWAT };
	char value[64];
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		socklen_t len = sizeof(value);

		if (__real_getsockopt(from, SOL_SOCKET, names[i], value, &len) == 0)
			__real_setsockopt(to, SOL_SOCKET, names[i], value, len);
	}
}

/* The bridge's CONNECT handshake for `fd`, then fd becomes the bridge's stream: 0, or -1. */
static int bridge_connect(int fd, struct vsock_fd *v, const struct sockaddr_vm *vm)
{
	char answer[64];
	unsigned int host_port;
	int conn, fd_flags;

	if (fcntl(fd, F_GETFL) & O_NONBLOCK)
		unmappable("a non-blocking connect() (the bridge's CONNECT handshake blocks)");
	if (vm->svm_cid != bridge_guest_cid) {
		char what[96];

		snprintf(what, sizeof(what), "connect() to CID %u (the bridge reaches CID %u only)",
			 vm->svm_cid, bridge_guest_cid);
		unmappable(what);
	}
	if (v->bound)
		unmappable("connect() from a bound port (the bridge picks the host end's port)");
	conn = __real_socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (conn < 0)
		return -1;
	if (__real_connect(conn, (struct sockaddr *)&bridge, sizeof(bridge)) != 0)
		bridge_broken("cannot be reached: %s", vsc_errname(errno));
	switch (bridge_handshake(conn, vm->svm_port, &host_port, answer, sizeof(answer))) {
	case BRIDGE_OK:
		break;
	case BRIDGE_CLOSED:	/* closed with no OK: the guest's RST */
		__real_close(conn);
		return fail(ECONNRESET);
	case BRIDGE_IO_ERROR:
		if (errno == EINTR) {
			__real_close(conn);
			return fail(EINTR);
		}
		bridge_broken("CONNECT %u failed: %s", vm->svm_port, vsc_errname(errno));
	case BRIDGE_GARBLED:
		bridge_broken("answered CONNECT %u with \"%s\"", vm->svm_port, answer);
	}
	copy_options(fd, conn);
	fd_flags = fcntl(fd, F_GETFD);
	if (dup3(conn, fd, fd_flags & FD_CLOEXEC ? O_CLOEXEC : 0) < 0) {
		__real_close(conn);
		return -1;
	}
	__real_close(conn);
	v->local_port = host_port;
	v->peer_port = vm->svm_port;
	return 0;
}

/*
 * One connect at a time per socket, as vsock_connect() under lock_sock(): a thread that finds
 * another's connect under way (SS_CONNECTING) waits for it and gets its outcome; one that comes
 * after a success gets EISCONN. Without this, each thread would send its own CONNECT.
 */
static pthread_mutex_t connect_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t connect_settled = PTHREAD_COND_INITIALIZER;

int __wrap_connect(int fd, const struct sockaddr *addr, socklen_t len)
{
	struct vsock_fd *v = tracked(fd);
	struct sockaddr_vm vm;
	int err, waited = 0, mine = 0;

	if (!v)
		return __real_connect(fd, addr, len);
	err = copy_in_address(addr, len, &vm);
	if (err)
		return fail(err);
	pthread_mutex_lock(&connect_lock);
	while (v->connecting) {
		waited = 1;
		pthread_cond_wait(&connect_settled, &connect_lock);
	}
	/* vsock_connect(): the socket's state first (AF_UNSPEC disconnects nothing), then the
	 * address. */
	if (waited)
		err = v->connect_error;
	else if (v->connected)
		err = EISCONN;
	else if (v->listening || cast_error(len, &vm))
		err = EINVAL;
	else
		v->connecting = mine = 1;
	pthread_mutex_unlock(&connect_lock);
	if (!mine)
		return err ? fail(err) : 0;
	err = bridge_connect(fd, v, &vm) == 0 ? 0 : errno;
	pthread_mutex_lock(&connect_lock);
	v->connecting = 0;
	v->connected = !err;
	v->connect_error = err;
	pthread_cond_broadcast(&connect_settled);
	pthread_mutex_unlock(&connect_lock);
	return err ? fail(err) : 0;
}

static int give_address(struct sockaddr *addr, socklen_t *len, unsigned int cid,
			unsigned int port)
{
	struct sockaddr_vm vm = { .svm_family = AF_VSOCK, .svm_cid = cid, .svm_port = port };

	if (!addr || !len) {
		errno = EFAULT;
		return -1;
	}
	memcpy(addr, &vm, *len < sizeof(vm) ? *len : sizeof(vm));
	*len = sizeof(vm);
	return 0;
}

int __wrap_getsockname(int fd, struct sockaddr *addr, socklen_t *len)
{
	struct vsock_fd *v = tracked(fd);

	if (!v)
		return __real_getsockname(fd, addr, len);
	if (!v->bound && !v->connected)
		return give_address(addr, len, VMADDR_CID_ANY, VMADDR_PORT_ANY);
	/* A connection has the host's CID; an unconnected socket the CID it was bound to. */
	return give_address(addr, len, v->connected || !v->bound_any ? VMADDR_CID_HOST : VMADDR_CID_ANY,
			    v->local_port);
}

int __wrap_getpeername(int fd, struct sockaddr *addr, socklen_t *len)
{
	struct vsock_fd *v = tracked(fd);

	if (!v)
		return __real_getpeername(fd, addr, len);
	if (!v->connected) {
		errno = ENOTCONN;
		return -1;
	}
	if (v->accepted)
		unmappable("the guest's port on an accepted connection (getpeername())");
	return give_address(addr, len, bridge_guest_cid, v->peer_port);
}

static const char *vsock_option_name(int name)
{
	switch (name) {
	case SO_VM_SOCKETS_BUFFER_SIZE: return "SO_VM_SOCKETS_BUFFER_SIZE";
	case SO_VM_SOCKETS_BUFFER_MIN_SIZE: return "SO_VM_SOCKETS_BUFFER_MIN_SIZE";
	case SO_VM_SOCKETS_BUFFER_MAX_SIZE: return "SO_VM_SOCKETS_BUFFER_MAX_SIZE";
	case SO_VM_SOCKETS_PEER_HOST_VM_ID: return "SO_VM_SOCKETS_PEER_HOST_VM_ID";
	case SO_VM_SOCKETS_TRUSTED: return "SO_VM_SOCKETS_TRUSTED";
	case SO_VM_SOCKETS_CONNECT_TIMEOUT_OLD: return "SO_VM_SOCKETS_CONNECT_TIMEOUT_OLD";
	case SO_VM_SOCKETS_NONBLOCK_TXRX: return "SO_VM_SOCKETS_NONBLOCK_TXRX";
	case SO_VM_SOCKETS_CONNECT_TIMEOUT_NEW: return "SO_VM_SOCKETS_CONNECT_TIMEOUT_NEW";
	default: return "an AF_VSOCK-level socket option";
	}
}

int __wrap_setsockopt(int fd, int level, int name, const void *value, socklen_t len)
{
	if (tracked(fd)) {
		if (level == AF_VSOCK)
			unmappable(vsock_option_name(name));
		if (level == SOL_SOCKET && name == SO_ZEROCOPY)
			unmappable("SO_ZEROCOPY (MSG_ZEROCOPY)");
		if (level == SOL_SOCKET && name == SO_RCVLOWAT && value && len >= sizeof(int))
			tracked(fd)->rcvlowat = *(const int *)value;
	}
	return __real_setsockopt(fd, level, name, value, len);
}

int __wrap_getsockopt(int fd, int level, int name, void *value, socklen_t *len)
{
	if (tracked(fd)) {
		if (level == AF_VSOCK)
			unmappable(vsock_option_name(name));
		if (level == SOL_SOCKET && name == SO_ZEROCOPY)
			unmappable("SO_ZEROCOPY (MSG_ZEROCOPY)");
		if (level == SOL_SOCKET && name == SO_DOMAIN && value && len &&
		    *len >= sizeof(int)) {
			*(int *)value = AF_VSOCK;
			*len = sizeof(int);
			return 0;
		}
	}
	return __real_getsockopt(fd, level, name, value, len);
}

int __wrap_ioctl(int fd, unsigned long request, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, request);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (tracked(fd))
		unmappable(request == SIOCOUTQ  ? "ioctl(SIOCOUTQ) (the guest's unsent bytes)" :
			   request == SIOCINQ   ? "ioctl(SIOCINQ) on the vsock queue" :
						  "an ioctl() on a vsock socket");
	return __real_ioctl(fd, request, arg);
}

int __wrap_close(int fd)
{
	struct vsock_fd *v = tracked(fd);

	/*
	 * A listener's "<UDS>_P" path stays: a forked child may still hold the listener, which
	 * close() cannot know. A dead path refuses connections as a closed vsock listener does,
	 * and the next listen() on the port takes it over.
	 */
	if (v)
		*v = (struct vsock_fd){ 0 };
	return __real_close(fd);
}

/*
 * The flags of a send on a vsock socket: MSG_OOB is EOPNOTSUPP (vsock_connectible_sendmsg());
 * MSG_ZEROCOPY without SO_ZEROCOPY is a plain copy, as in virtio_transport_send_pkt_info(), and
 * SO_ZEROCOPY itself never gets set here (setsockopt skips). -1 with errno set, or the flags.
 */
static int send_flags(int fd, int flags)
{
	if (!tracked(fd))
		return flags;
	if (flags & MSG_OOB)
		return fail(EOPNOTSUPP);
	return flags & ~MSG_ZEROCOPY;
}

ssize_t __wrap_send(int fd, const void *buf, size_t len, int flags)
{
	flags = send_flags(fd, flags);
	return flags < 0 ? -1 : __real_send(fd, buf, len, flags);
}

ssize_t __wrap_sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *addr,
		      socklen_t addr_len)
{
	flags = send_flags(fd, flags);
	return flags < 0 ? -1 : __real_sendto(fd, buf, len, flags, addr, addr_len);
}

ssize_t __wrap_sendmsg(int fd, const struct msghdr *msg, int flags)
{
	flags = send_flags(fd, flags);
	return flags < 0 ? -1 : __real_sendmsg(fd, msg, flags);
}

/*
 * vsock_connectible_recvmsg() before the data: MSG_ERRQUEUE reads the error queue, always empty
 * here (SO_ZEROCOPY never gets set through the bridge): EAGAIN; then an unconnected socket is
 * ENOTCONN, then MSG_OOB is EOPNOTSUPP (a Unix stream would look for out-of-band data or take
 * MSG_ERRQUEUE for a plain read). -1 with errno set, or 0 to go on.
 */
static int recv_refused(int fd, int flags)
{
	struct vsock_fd *v = tracked(fd);

	if (!v)
		return 0;
	if (flags & MSG_ERRQUEUE)
		return fail(EAGAIN);
	if (flags & MSG_OOB)
		return fail(v->connected ? EOPNOTSUPP : ENOTCONN);
	return 0;
}

/* A buffer the data cannot be copied to: the Unix stream's EFAULT is what the kernel under test
 * gives for it (ENOMEM before 6.4: vsock_stream_recvmsg() replaced the dequeue's error). */
static ssize_t recv_result(int fd, ssize_t ret)
{
	if (ret < 0 && errno == EFAULT && tracked(fd))
		errno = vsc_expected_errno("recv_into_bad_buffer");
	return ret;
}

ssize_t __wrap_recv(int fd, void *buf, size_t len, int flags)
{
	return recv_refused(fd, flags) ? -1 : recv_result(fd, __real_recv(fd, buf, len, flags));
}

ssize_t __wrap_recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *addr,
			socklen_t *addr_len)
{
	if (recv_refused(fd, flags))
		return -1;
	return recv_result(fd, __real_recvfrom(fd, buf, len, flags, addr, addr_len));
}

ssize_t __wrap_recvmsg(int fd, struct msghdr *msg, int flags)
{
	return recv_refused(fd, flags) ? -1 : recv_result(fd, __real_recvmsg(fd, msg, flags));
}

int __wrap_shutdown(int fd, int how)
{
	struct vsock_fd *v = tracked(fd);
	int ret = __real_shutdown(fd, how);

	if (v && ret == 0 && (how == SHUT_WR || how == SHUT_RDWR))
		v->send_shut = 1;
	return ret;
}

/*
 * vsock_poll() sets POLLHUP only when this end has shut its sending side (with SHUT_RD too, or
 * with the peer's SEND shutdown). A Unix socket also hangs up when its peer shuts both ways or
 * closes, which the bridge does on the guest's SHUTDOWN and RST: that POLLHUP is hidden.
 */
static int hup_hidden(struct pollfd *p)
{
	struct vsock_fd *v = tracked(p->fd);

	/* vsock_poll(): no POLLOUT once this end has shut its sending side. */
	if (v && v->send_shut)
		p->revents &= ~POLLOUT;
	if (!v || !v->connected || v->send_shut || !(p->revents & POLLHUP))
		return 0;
	p->revents &= ~POLLHUP;
	return 1;
}

static long long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

int __wrap_poll(struct pollfd *pfds, nfds_t n, int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms, left;
	struct pollfd *rest;
	int ready, hidden = 0;
	nfds_t i;

	for (i = 0; i < n; i++) {
		struct vsock_fd *v = tracked(pfds[i].fd);

		if (v && v->rcvlowat > 1 && (pfds[i].events & POLLIN))
			unmappable("poll() for POLLIN under SO_RCVLOWAT (a Unix socket's poll ignores it)");
	}
	ready = __real_poll(pfds, n, timeout_ms);

	if (ready <= 0)
		return ready;
	/* Count again: what vsock would not report (a hang-up, POLLOUT after SHUT_WR) is gone. */
	for (ready = 0, i = 0; i < n; i++) {
		hidden += hup_hidden(&pfds[i]) && !pfds[i].revents;
		ready += pfds[i].revents != 0;
	}
	if (ready || !hidden || timeout_ms == 0)
		return ready;
	/* Nothing but hang-ups vsock would not report: wait out the time left on the other
	 * sockets (a hung-up stream has nothing more to tell). */
	rest = malloc(n * sizeof(*rest));
	if (!rest)
		return fail(ENOMEM);
	for (i = 0; i < n; i++) {
		struct pollfd probe = { .fd = pfds[i].fd, .events = pfds[i].events };

		rest[i] = probe;
		if (__real_poll(&probe, 1, 0) == 1 && hup_hidden(&probe) && !probe.revents)
			rest[i].fd = -1;
	}
	left = deadline - now_ms();
	ready = __real_poll(rest, n, timeout_ms < 0 ? -1 : left > 0 ? (int)left : 0);
	if (ready < 0) {
		free(rest);
		return ready;
	}
	for (ready = 0, i = 0; i < n; i++) {
		hup_hidden(&rest[i]);
		pfds[i].revents = rest[i].fd < 0 ? 0 : rest[i].revents;
		ready += pfds[i].revents != 0;
	}
	free(rest);
	return ready;
}

/* io_uring and sock_diag would act on this machine's own kernel, not through the bridge. */
struct io_uring;
int __wrap_io_uring_queue_init(unsigned int entries, struct io_uring *ring, unsigned int flags);
int __wrap_io_uring_queue_init(unsigned int entries, struct io_uring *ring, unsigned int flags)
{
	(void)entries;
	(void)ring;
	(void)flags;
	unmappable("io_uring on a vsock socket");
}

struct vsc_sockdiag_list;
int __wrap_vsc_sockdiag_dump(uint32_t states, struct vsc_sockdiag_list *list);
int __wrap_vsc_sockdiag_dump(uint32_t states, struct vsc_sockdiag_list *list)
{
	(void)states;
	(void)list;
	vsc_skip("g2h: sock_diag here would list this machine's own vsock sockets, not the "
		 "bridge's");
}

int __wrap_vsc_sockdiag_request(const void *payload, size_t len, int extra_flags);
int __wrap_vsc_sockdiag_request(const void *payload, size_t len, int extra_flags)
{
	(void)payload;
	(void)len;
	(void)extra_flags;
	vsc_skip("g2h: sock_diag here would ask this machine's own kernel, not the guest's");
}
