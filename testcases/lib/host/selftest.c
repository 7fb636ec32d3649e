/*
 * selftest.c: vsc-host-shimtest, cases that drive the host shim against a fake hybrid bridge
 * (runner/tests/test_host_shim.py). The fake answers CONNECT to port 1000 with "OK 41000" and
 * echoes; it closes CONNECT to port 1001 without an answer; it answers port 1002 with OK and
 * closes at once (the guest's SHUTDOWN and RST); port 1003 as 1000 but counted apart; and it
 * connects to "<UDS>_2000" itself.
 */
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/sockios.h>
#include <unistd.h>

#include "vsc.h"
#include "vsc_sock.h"

#define ECHO_PORT 1000
#define RESET_PORT 1001
#define CLOSING_PORT 1002
#define RACE_PORT 1003
#define RACERS 4
#define LISTEN_PORT 2000
#define BRIDGE_HOST_PORT 41000

static void connect_echo(const struct vsc_env *env)
{
	int fd = vsc_connect_to(SOCK_STREAM, env->peer_cid, ECHO_PORT);
	struct sockaddr_vm name = vsc_sockname(fd), peer = vsc_peername(fd);
	char buf[4];

	EXPECT_EQ(name.svm_cid, VMADDR_CID_HOST);
	EXPECT_EQ(name.svm_port, BRIDGE_HOST_PORT);
	EXPECT_EQ(peer.svm_cid, env->peer_cid);
	EXPECT_EQ(peer.svm_port, ECHO_PORT);
	vsc_send_all(fd, "ping", 4);
	vsc_recv_all(fd, buf, 4);
	EXPECT_TRUE(memcmp(buf, "ping", 4) == 0);
	ASSERT_ERRNO(vsc_connect(fd, env->peer_cid, ECHO_PORT), EISCONN);
	/* The state is judged before the address: AF_UNSPEC too finds the socket connected. */
	peer.svm_family = AF_UNSPEC;
	ASSERT_ERRNO(connect(fd, (struct sockaddr *)&peer, sizeof(peer)), EISCONN);
	SAFE(close(fd));
}
VSC_CASE(shim_connect_echo, .sock_type = SOCK_STREAM, .summary = "connect() speaks CONNECT/OK",
	 .run = connect_echo);

static void connect_reset(const struct vsc_env *env)
{
	int fd = SAFE(socket(AF_VSOCK, SOCK_STREAM, 0));

	ASSERT_ERRNO(vsc_connect(fd, env->peer_cid, RESET_PORT), ECONNRESET);
	/* A refused socket may connect again, as a vsock one can. */
	ASSERT_ERRNO(vsc_connect(fd, env->peer_cid, RESET_PORT), ECONNRESET);
	SAFE(close(fd));
}
VSC_CASE(shim_connect_reset, .sock_type = SOCK_STREAM,
	 .summary = "the bridge closing without OK is ECONNRESET", .run = connect_reset);

static void peer_hangup(const struct vsc_env *env)
{
	int fd = vsc_connect_to(SOCK_STREAM, env->peer_cid, CLOSING_PORT);
	short revents;

	/* The peer is gone: readable (EOF) and RDHUP, but no hang-up while we may still send. */
	revents = vsc_poll(fd, POLLIN | POLLRDHUP, 5000);
	EXPECT_TRUE(revents & POLLIN);
	EXPECT_TRUE(revents & POLLRDHUP);
	EXPECT_EQ(revents & POLLHUP, 0);
	/* Asked for nothing, a hidden hang-up is no event: the wait runs out with nothing. */
	EXPECT_EQ(vsc_poll(fd, 0, 200), 0);
	SAFE(shutdown(fd, SHUT_WR));
	EXPECT_TRUE(vsc_poll(fd, POLLIN, 0) & POLLHUP);
	SAFE(close(fd));
}
VSC_CASE(shim_poll_peer_hangup, .sock_type = SOCK_STREAM,
	 .summary = "POLLHUP only after our own SHUT_WR, as vsock_poll() reports it", .run = peer_hangup);

struct racer {
	int fd, result;
	unsigned int cid;
	pthread_barrier_t *start;
};

static void *race_connect(void *arg)
{
	struct racer *r = arg;

	pthread_barrier_wait(r->start);
	r->result = vsc_connect(r->fd, r->cid, RACE_PORT) == 0 ? 0 : errno;
	return NULL;
}

static void connect_race(const struct vsc_env *env)
{
	int fd = SAFE(socket(AF_VSOCK, SOCK_STREAM, 0)), i, winners = 0;
	struct racer racers[RACERS];
	pthread_t threads[RACERS];
	pthread_barrier_t start;

	ASSERT_EQ(pthread_barrier_init(&start, NULL, RACERS), 0);
	for (i = 0; i < RACERS; i++) {
		racers[i] = (struct racer){ .fd = fd, .cid = env->peer_cid, .start = &start };
		ASSERT_EQ(pthread_create(&threads[i], NULL, race_connect, &racers[i]), 0);
	}
	for (i = 0; i < RACERS; i++) {
		ASSERT_EQ(pthread_join(threads[i], NULL), 0);
		winners += racers[i].result == 0;
		if (racers[i].result)
			EXPECT_EQ(racers[i].result, EISCONN);
	}
	EXPECT_TRUE(winners >= 1);
	pthread_barrier_destroy(&start);
	SAFE(close(fd));
}
VSC_CASE(shim_connect_race, .sock_type = SOCK_STREAM,
	 .summary = "threads connecting one socket send one CONNECT: 0 or EISCONN", .run = connect_race);

static void listen_accept(const struct vsc_env *env)
{
	int listener = vsc_listen(SOCK_STREAM, LISTEN_PORT, 1), fd;
	struct sockaddr_vm name = vsc_sockname(listener);
	char buf[5];

	(void)env;
	/* As the kernel: a listener bound to VMADDR_CID_ANY says so; its connections name CID 2. */
	EXPECT_EQ(name.svm_cid, VMADDR_CID_ANY);
	EXPECT_EQ(name.svm_port, LISTEN_PORT);
	vsc_diag("listening on port %d", LISTEN_PORT);
	fd = SAFE(accept(listener, NULL, NULL));
	vsc_recv_all(fd, buf, 5);
	EXPECT_TRUE(memcmp(buf, "hello", 5) == 0);
	vsc_send_all(fd, "world", 5);
	EXPECT_EQ(vsc_sockname(fd).svm_port, LISTEN_PORT);
	EXPECT_EQ(vsc_sockname(fd).svm_cid, VMADDR_CID_HOST);
	SAFE(close(fd));
	SAFE(close(listener));
}
VSC_CASE(shim_listen_accept, .sock_type = SOCK_STREAM,
	 .summary = "bind+listen(P) listens on <UDS>_P", .run = listen_accept);

static void bad_addresses(const struct vsc_env *env)
{
	int fd = SAFE(socket(AF_VSOCK, SOCK_STREAM, 0));
	struct sockaddr_vm name = vsc_sockname(fd), wrong;

	EXPECT_EQ(name.svm_cid, VMADDR_CID_ANY);
	EXPECT_EQ(name.svm_port, VMADDR_PORT_ANY);
	EXPECT_ERRNO(vsc_bind(fd, 77, LISTEN_PORT + 1), EADDRNOTAVAIL);
	EXPECT_ERRNO(listen(fd, 1), EINVAL);
	EXPECT_ERRNO(bind(fd, NULL, 0), EINVAL);
	EXPECT_ERRNO(bind(fd, NULL, sizeof(name)), EFAULT);
	EXPECT_ERRNO(connect(fd, NULL, sizeof(name)), EFAULT);
	EXPECT_ERRNO(connect(fd, NULL, 0), EINVAL);
	/* vsock_addr_cast() refusals are EINVAL, before any CONNECT reaches the bridge. */
	wrong = vsc_addr(env->peer_cid, RESET_PORT);
	wrong.svm_family = AF_UNIX;
	EXPECT_ERRNO(connect(fd, (struct sockaddr *)&wrong, sizeof(wrong)), EINVAL);
	wrong = vsc_addr(env->peer_cid, RESET_PORT);
	EXPECT_ERRNO(connect(fd, (struct sockaddr *)&wrong, sizeof(wrong) - 1), EINVAL);
	wrong.svm_flags = 0x80;
	EXPECT_ERRNO(connect(fd, (struct sockaddr *)&wrong, sizeof(wrong)), EINVAL);
	EXPECT_ERRNO(bind(fd, (struct sockaddr *)&wrong, sizeof(wrong)), EINVAL);
	EXPECT_ERRNO(getpeername(fd, (struct sockaddr *)&name, &(socklen_t){ sizeof(name) }),
		     ENOTCONN);
	SAFE(close(fd));
}
VSC_CASE(shim_bad_addresses, .sock_type = SOCK_STREAM,
	 .summary = "bad addresses fail as the kernel's vsock does", .run = bad_addresses);

static void skip_seqpacket_socket(const struct vsc_env *env)
{
	(void)env;
	socket(AF_VSOCK, SOCK_SEQPACKET, 0);
	vsc_fail_at(__FILE__, __LINE__, "socket(SOCK_SEQPACKET) returned");
}
VSC_CASE(shim_skip_seqpacket_socket, .summary = "SOCK_SEQPACKET skips",
	 .run = skip_seqpacket_socket);

static void skip_vsock_sockopt(const struct vsc_env *env)
{
	int fd = SAFE(socket(AF_VSOCK, SOCK_STREAM, 0));
	unsigned long long size = 4096;

	(void)env;
	setsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_BUFFER_SIZE, &size, sizeof(size));
	vsc_fail_at(__FILE__, __LINE__, "setsockopt(SO_VM_SOCKETS_BUFFER_SIZE) returned");
}
VSC_CASE(shim_skip_vsock_sockopt, .summary = "AF_VSOCK-level options skip",
	 .run = skip_vsock_sockopt);

static void skip_ioctl(const struct vsc_env *env)
{
	int fd = vsc_connect_to(SOCK_STREAM, env->peer_cid, ECHO_PORT), queued;

	ioctl(fd, SIOCOUTQ, &queued);
	vsc_fail_at(__FILE__, __LINE__, "ioctl(SIOCOUTQ) returned");
}
VSC_CASE(shim_skip_ioctl, .summary = "SIOCOUTQ skips", .run = skip_ioctl);

static void skip_accept_address(const struct vsc_env *env)
{
	int listener = vsc_listen(SOCK_STREAM, LISTEN_PORT + 2, 1);
	struct sockaddr_vm peer;

	(void)env;
	accept(listener, (struct sockaddr *)&peer, &(socklen_t){ sizeof(peer) });
	vsc_fail_at(__FILE__, __LINE__, "accept() with an address returned");
}
VSC_CASE(shim_skip_accept_address, .summary = "the guest's port of an accepted connection skips",
	 .run = skip_accept_address);

static void skip_nonblocking_connect(const struct vsc_env *env)
{
	int fd = SAFE(socket(AF_VSOCK, SOCK_STREAM | SOCK_NONBLOCK, 0));

	vsc_connect(fd, env->peer_cid, ECHO_PORT);
	vsc_fail_at(__FILE__, __LINE__, "non-blocking connect() returned");
}
VSC_CASE(shim_skip_nonblocking_connect, .summary = "non-blocking connect skips",
	 .run = skip_nonblocking_connect);

static void send_flags(const struct vsc_env *env)
{
	int fd = vsc_connect_to(SOCK_STREAM, env->peer_cid, ECHO_PORT);
	char buf[2];

	/* Without SO_ZEROCOPY the kernel ignores MSG_ZEROCOPY: a plain send. */
	EXPECT_EQ(SAFE(send(fd, "z", 1, MSG_ZEROCOPY)), 1);
	/* vsock has no out-of-band data, whatever the Unix socket below would do. */
	EXPECT_ERRNO(send(fd, "o", 1, MSG_OOB), EOPNOTSUPP);
	EXPECT_ERRNO(recv(fd, buf, 1, MSG_OOB | MSG_DONTWAIT), EOPNOTSUPP);
	EXPECT_TRUE(vsc_poll(fd, POLLIN, 5000) & POLLIN);
	/* The error queue is empty: EAGAIN, and the data stays for recv(). */
	EXPECT_ERRNO(recvmsg(fd, &(struct msghdr){ .msg_iov = &(struct iovec){ buf, 1 },
						   .msg_iovlen = 1 }, MSG_ERRQUEUE), EAGAIN);
	EXPECT_ERRNO(recv(fd, NULL, 1, 0), vsc_expected_errno("recv_into_bad_buffer"));
	vsc_recv_all(fd, buf, 1);
	EXPECT_EQ(buf[0], 'z');
	SAFE(close(fd));
	fd = SAFE(socket(AF_VSOCK, SOCK_STREAM, 0));
	EXPECT_ERRNO(recv(fd, buf, 1, MSG_OOB | MSG_DONTWAIT), ENOTCONN);
	SAFE(close(fd));
}
VSC_CASE(shim_send_flags, .sock_type = SOCK_STREAM,
	 .summary = "MSG_ZEROCOPY alone is a plain send; MSG_OOB EOPNOTSUPP; empty MSG_ERRQUEUE",
	 .run = send_flags);

static void skip_other_cid(const struct vsc_env *env)
{
	int fd = SAFE(socket(AF_VSOCK, SOCK_STREAM, 0));

	vsc_connect(fd, env->peer_cid + 1, ECHO_PORT);
	vsc_fail_at(__FILE__, __LINE__, "connect() to another CID returned");
}
VSC_CASE(shim_skip_other_cid, .summary = "a CID the bridge does not reach skips",
	 .run = skip_other_cid);

static void never_runs(const struct vsc_env *env)
{
	(void)env;
	vsc_fail_at(__FILE__, __LINE__, "a seqpacket case ran through the bridge");
}
VSC_CASE(shim_need_seqpacket, .sock_type = SOCK_SEQPACKET, .needs = VSC_NEED_SEQPACKET,
	 .summary = "the seqpacket need is answered for the bridge", .run = never_runs);

static void future_kernel(const struct vsc_env *env)
{
	(void)env;
}
VSC_CASE(shim_min_kver_is_the_guests, .min_kver = "99.0",
	 .summary = "min_kver is judged on the guest's side, not here", .run = future_kernel);
