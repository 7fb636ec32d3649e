/*
 * calls_wait.c: connect() and accept() on hostwrap's sockets, the calls that wait. Each waits in
 * a thread of its own (the loop serves the other calls meanwhile) and looks every SLICE_MS
 * whether the call was withdrawn (a signal came, or the caller died), so the program's signals
 * end these calls as they end the kernel's.
 *   connect(guest CID, P)  a new Unix socket dials the bridge: "CONNECT P\n", "OK <port>\n";
 *                          the bridge closing without OK is ECONNRESET (the guest's RST); no
 *                          answer within the connect timeout is ETIMEDOUT. On OK the new socket
 *                          takes the place of the program's fd (ADDFD with SETFD), so a refused
 *                          socket stays unconnected and may connect again, as vsock's does.
 *   accept                 accepts on the program's listener ("<uds>_P") once a guest's
 *                          connection waits, and installs it (ADDFD with SEND); its peer
 *                          address is { guest CID, VMADDR_PORT_ANY }: the bridge does not say
 *                          which port the guest connected from.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "bridge_client.h"
#include "calls.h"
#include "report.h"
#include "table.h"
#include "target.h"

#define SLICE_MS 100
/* Longer than any "OK <u32>" line. */
#define ANSWER_MAX 64

struct connect_job {
	unsigned long ino;	/* the program's socket (it stays unconnected until OK) */
	int fd;			/* its fd in the caller */
	unsigned int port;	/* the guest port asked for */
	long long timeout_ms;	/* SO_VM_SOCKETS_CONNECT_TIMEOUT */
};

struct accept_job {
	unsigned long ino;	/* the listener */
	int listener;		/* hostwrap's copy of the listener's fd */
	int flags;		/* accept4()'s SOCK_NONBLOCK, SOCK_CLOEXEC */
};

/*
 * Only holders of this lock accept on hostwrap's listeners, so a listener seen readable under
 * it has a connection for accept() to take at once: a thread never blocks in accept(), where it
 * could not see its call withdrawn.
 */
static pthread_mutex_t accept_lock = PTHREAD_MUTEX_INITIALIZER;

static long long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static int is_listening(int fd)
{
	int listening = 0;
	socklen_t len = sizeof(listening);

	return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) == 0 && listening;
}

static void end_connecting(unsigned long ino)
{
	struct vsock_state *s;

	table_lock();
	s = table_find(ino);
	if (s)
		s->connecting = 0;
	table_unlock();
}

/* The bridge itself failed (not the guest): hostwrap's own error; the call gets EHOSTUNREACH. */
static long long bridge_failed(const struct notice *n, const struct connect_job *job,
			       const char *what, const char *why)
{
	hw_own_error("connect(fd %d, CID %u port %u) of pid %d: bridge %s: %s: %s", job->fd,
		     hw_config.guest_cid, job->port, (int)n->req.pid, hw_config.bridge.sun_path,
		     what, why);
	return -EHOSTUNREACH;
}

/*
 * The bridge's answer to "CONNECT port" on the fresh Unix socket *conn: 0 with *host_port set,
 * -errno for the program, or REPLY_DONE when the call was withdrawn.
 */
static long long dial(const struct notice *n, const struct connect_job *job, int *conn,
		      unsigned int *host_port)
{
	char request[32], answer[ANSWER_MAX];
	long long deadline = now_ms() + job->timeout_ms;
	size_t used = 0;
	int len;

	*conn = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (*conn < 0)
		return bridge_failed(n, job, "socket", strerror(errno));
	if (connect(*conn, (struct sockaddr *)&hw_config.bridge, sizeof(hw_config.bridge)) != 0)
		return bridge_failed(n, job, "cannot be reached", strerror(errno));
	len = bridge_connect_line(request, sizeof(request), job->port);
	if (send(*conn, request, (size_t)len, MSG_NOSIGNAL) != len)
		return bridge_failed(n, job, "sending CONNECT", strerror(errno));
	answer[0] = '\0';
	for (;;) {
		struct pollfd p = { .fd = *conn, .events = POLLIN };
		long long left;
		char c;
		/* A byte at a time: what follows the answer's newline is the program's data. */
		ssize_t got = read(*conn, &c, 1);

		if (got == 1 && c == '\n')
			break;
		if (got == 1 && used + 1 < sizeof(answer)) {
			answer[used++] = c;
			answer[used] = '\0';
			continue;
		}
		if (got == 1)
			return bridge_failed(n, job, "answer too long", answer);
		if ((got == 0 || errno == ECONNRESET) && !used)
			return -ECONNRESET;	/* closed without OK: the guest's RST */
		if (got == 0)
			return bridge_failed(n, job, "closed amid its answer", answer);
		if (errno != EAGAIN && errno != EINTR)
			return bridge_failed(n, job, "reading its answer", strerror(errno));
		left = deadline - now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		poll(&p, 1, left < SLICE_MS ? (int)left : SLICE_MS);
		if (!notice_valid(n))
			return REPLY_DONE;
	}
	if (bridge_answer_parse(answer, host_port) != BRIDGE_OK)
		return bridge_failed(n, job, "unexpected answer", answer);
	return 0;
}

/* Socket options the program may have set before connect(), carried to the new socket. */
static void copy_options(int from, int to)
{
	static const int names[] = { SO_RCVTIMEO, SO_SNDTIMEO, SO_RCVBUF, SO_SNDBUF, SO_LINGER,
				     SO_RCVLOWAT, SO_KEEPALIVE };
	char value[64];
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		socklen_t len = sizeof(value);

		if (getsockopt(from, SOL_SOCKET, names[i], value, &len) != 0)
			continue;
		/* The kernel doubles what is set and reports the doubled size. */
		if ((names[i] == SO_RCVBUF || names[i] == SO_SNDBUF) && len == sizeof(int))
			*(int *)value /= 2;
		setsockopt(to, SOL_SOCKET, names[i], value, len);
	}
}

/* The connected `conn` replaces the program's fd, with its flags and options: 0 or as dial(). */
static long long install_connected(const struct notice *n, const struct connect_job *job,
				   int conn, unsigned int host_port)
{
	struct vsock_state like, *s;
	struct stat st;
	int flags, copy, known;

	if (target_fd_flags(n->req.pid, job->fd, &flags) != 0 || fstat(conn, &st) != 0)
		return notice_valid(n) ? -EBADF : REPLY_DONE;
	fcntl(conn, F_SETFL, flags & O_NONBLOCK);
	copy = target_take_fd(n->req.pid, job->fd);
	if (copy >= 0) {
		copy_options(copy, conn);
		close(copy);
	}
	table_lock();
	s = table_find(job->ino);
	known = s != NULL;
	if (s)
		like = *s;
	s = table_add(st.st_ino, known ? &like : NULL);
	if (s) {
		s->bound = s->connected = 1;
		s->bound_any = s->connecting = s->accepted = 0;
		s->local_port = host_port;
		s->peer_port = job->port;
	}
	table_unlock();
	if (!s)
		return -ENOMEM;
	if (notice_place_fd(n, conn, job->fd, flags & O_CLOEXEC) != 0)
		return errno == ENOENT ? REPLY_DONE : -errno;
	hw_verbose("pid %d: connect(fd %d) to CID %u port %u: OK %u", (int)n->req.pid, job->fd,
		   hw_config.guest_cid, job->port, host_port);
	return 0;
}

static void connect_work(struct notice *n, void *arg)
{
	struct connect_job *job = arg;
	unsigned int host_port = 0;
	int conn = -1;
	long long reply = dial(n, job, &conn, &host_port);

	if (reply == 0)
		reply = install_connected(n, job, conn, host_port);
	if (conn >= 0)
		close(conn);
	end_connecting(job->ino);
	if (reply == -ECONNRESET || reply == -ETIMEDOUT)
		hw_verbose("pid %d: connect(fd %d) to CID %u port %u: %s", (int)n->req.pid, job->fd,
			   hw_config.guest_cid, job->port, strerror((int)-reply));
	calls_reply(n, reply);
	free(job);
}

long long call_connect(struct notice *n, unsigned long ino)
{
	struct sockaddr_vm vm;
	struct vsock_state *s;
	struct connect_job *job;
	int len = arg_int(n, 2), err = read_vm_address(n, n->req.data.args[1], len, &vm);
	int copy, listening;
	long long timeout_ms = 0;

	if (err)
		return -err;
	copy = target_take_fd(n->req.pid, arg_int(n, 0));
	if (copy < 0)
		return -EBADF;
	listening = is_listening(copy);
	close(copy);
	table_lock();
	s = table_find(ino);
	/* vsock_connect(): the socket's state first, then the address, then the transport. */
	if (!s)
		err = EBADF;
	else if (s->connected)
		err = EISCONN;
	else if (s->connecting)
		err = EALREADY;
	else if (listening || vm_address_refused(len, &vm))
		err = EINVAL;
	else if (vm.svm_cid != hw_config.guest_cid)
		err = ENODEV;	/* vhost_transport_send_pkt(): no guest holds that CID */
	if (!err) {
		s->connecting = 1;
		timeout_ms = s->connect_timeout_sec * 1000 + (s->connect_timeout_usec + 999) / 1000;
	}
	table_unlock();
	if (err == ENODEV)
		hw_verbose("pid %d: connect to CID %u: ENODEV (the bridge reaches CID %u only)",
			   (int)n->req.pid, vm.svm_cid, hw_config.guest_cid);
	if (err)
		return -err;
	job = malloc(sizeof(*job));
	if (!job) {
		end_connecting(ino);
		return -ENOMEM;
	}
	*job = (struct connect_job){ .ino = ino, .fd = arg_int(n, 0), .port = vm.svm_port,
				     .timeout_ms = timeout_ms };
	if (notice_defer(n, connect_work, job) != 0) {
		end_connecting(ino);
		free(job);
	}
	return REPLY_DONE;
}

/*
 * One waiting connection from `listener`, never blocking: REPLY_DONE once it is the caller's
 * (or lost to a withdrawn call), -EAGAIN when none waits, or -errno.
 */
static long long take_connection(const struct notice *n, unsigned long ino, int listener,
				 int flags)
{
	struct pollfd p = { .fd = listener, .events = POLLIN };
	struct vsock_state like, *s;
	struct stat st;
	int conn = -1, err, known;

	pthread_mutex_lock(&accept_lock);
	/* A withdrawn call (its thread may not have seen it yet) must leave the connection to
	 * the next accept(). */
	if (!notice_valid(n))
		errno = ENOENT;
	else if (poll(&p, 1, 0) == 1 && (p.revents & POLLIN))
		conn = accept4(listener, NULL, NULL, SOCK_CLOEXEC | (flags & SOCK_NONBLOCK));
	else
		errno = EAGAIN;
	pthread_mutex_unlock(&accept_lock);
	if (conn < 0 && errno == ENOENT)
		return REPLY_DONE;
	if (conn < 0)
		return -errno;
	if (fstat(conn, &st) != 0) {
		close(conn);
		return -ENOMEM;
	}
	table_lock();
	s = table_find(ino);
	known = s != NULL;
	if (s)
		like = *s;	/* vsock children inherit the listener's options */
	s = table_add(st.st_ino, known ? &like : NULL);
	if (s) {
		s->bound = s->connected = s->accepted = 1;
		s->bound_any = s->connecting = 0;
		s->peer_port = VMADDR_PORT_ANY;
	}
	table_unlock();
	err = s ? 0 : ENOMEM;
	/* __sys_accept4_file(): the address is written before the fd is installed. */
	if (!err && n->req.data.args[1])
		err = give_vm_address(n, n->req.data.args[1], n->req.data.args[2],
				      hw_config.guest_cid, VMADDR_PORT_ANY);
	if (!err && notice_send_fd(n, conn, flags & SOCK_CLOEXEC) != 0) {
		err = errno;
		if (err == ENOENT)
			hw_note("accept(fd %d) of pid %d: the call was withdrawn (a signal) after a "
				"guest's connection was taken: that connection is closed",
				arg_int(n, 0), (int)n->req.pid);
	}
	close(conn);
	if (err == ENOENT)
		return REPLY_DONE;
	return err ? -err : REPLY_DONE;
}

static void accept_work(struct notice *n, void *arg)
{
	struct accept_job *job = arg;
	struct pollfd p = { .fd = job->listener, .events = POLLIN };
	long long reply = REPLY_DONE;

	while (notice_valid(n)) {
		int ready = poll(&p, 1, SLICE_MS);

		if (ready > 0 && (p.revents & POLLIN)) {
			reply = take_connection(n, job->ino, job->listener, job->flags);
			if (reply != -EAGAIN)
				break;	/* taken by another accept() first: wait on */
			reply = REPLY_DONE;
		} else if (ready > 0) {
			poll(NULL, 0, SLICE_MS);	/* an error or hang-up only: accept() tells */
		}
	}
	close(job->listener);
	free(job);
	calls_reply(n, reply);
}

long long call_accept(struct notice *n, unsigned long ino)
{
	int flags = n->req.data.nr == __NR_accept4 ? arg_int(n, 3) : 0;
	struct accept_job *job;
	long long reply;
	int copy;

	if (flags & ~(SOCK_CLOEXEC | SOCK_NONBLOCK))
		return -EINVAL;
	copy = target_take_fd(n->req.pid, arg_int(n, 0));
	if (copy < 0)
		return -EBADF;
	if (!is_listening(copy)) {
		close(copy);
		return -EINVAL;		/* vsock_accept(): not a listener */
	}
	if (fcntl(copy, F_GETFL) & O_NONBLOCK) {
		reply = take_connection(n, ino, copy, flags);
		close(copy);
		return reply;
	}
	job = malloc(sizeof(*job));
	if (!job) {
		close(copy);
		return -ENOMEM;
	}
	*job = (struct accept_job){ .ino = ino, .listener = copy, .flags = flags };
	if (notice_defer(n, accept_work, job) != 0) {
		close(copy);
		free(job);
	}
	return REPLY_DONE;
}
