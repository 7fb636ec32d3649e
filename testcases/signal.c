/* signal.c: blocking connect, accept, recv, send and lingering close interrupted by a signal. */
#include <signal.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "vsc.h"
#include "vsc_sock.h"

#define TICK_US 20000
#define CHUNK (64u << 10)

static volatile sig_atomic_t ticks;

static void on_alarm(int sig)
{
	(void)sig;
	ticks++;
}

/*
 * SIGALRM every TICK_US, handled without SA_RESTART. It repeats, so a tick that lands just
 * before the call blocks is followed by one that lands while it does: no race to lose.
 */
static void arm_ticks(void)
{
	struct sigaction sa;
	struct itimerval every = { { 0, TICK_US }, { 0, TICK_US } };

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sigemptyset(&sa.sa_mask);
	SAFE(sigaction(SIGALRM, &sa, NULL));
	ticks = 0;
	SAFE(setitimer(ITIMER_REAL, &every, NULL));
}

static void disarm_ticks(void)
{
	struct itimerval off = { { 0, 0 }, { 0, 0 } };

	SAFE(setitimer(ITIMER_REAL, &off, NULL));
}

static void accept_server(const struct vsc_env *env)
{
	int listener = vsc_listen(SOCK_STREAM, env->port, 1), fd;
	char byte;

	arm_ticks();
	EXPECT_ERRNO(accept(listener, NULL, NULL), EINTR);
	disarm_ticks();
	EXPECT_TRUE(ticks > 0);
	/* The interrupted accept() left the listener as it was. */
	vsc_signal("listening");
	fd = SAFE(accept(listener, NULL, NULL));
	vsc_recv_all(fd, &byte, 1);
	EXPECT_EQ(byte, 'a');
	SAFE(close(fd));
	SAFE(close(listener));
}

static void accept_client(const struct vsc_env *env)
{
	int fd = vsc_connect_peer(SOCK_STREAM, env);

	vsc_send_all(fd, "a", 1);
	SAFE(close(fd));
}
VSC_CASE(signal_accept_eintr, .sock_type = SOCK_STREAM,
	 .summary = "blocking accept() gets EINTR on a signal; the listener still works",
	 .server = accept_server, .client = accept_client);

static void recv_server(const struct vsc_env *env)
{
	int listener, fd = vsc_accept_peer(SOCK_STREAM, env, &listener);
	char buf[8];

	arm_ticks();
	EXPECT_ERRNO(recv(fd, buf, sizeof(buf), 0), EINTR);
	disarm_ticks();
	vsc_signal("interrupted");
	/* Nothing was lost or consumed by the interrupted call. */
	vsc_recv_all(fd, buf, sizeof(buf));
	EXPECT_TRUE(memcmp(buf, "after-it", 8) == 0);
	SAFE(close(fd));
	SAFE(close(listener));
}

static void recv_client(const struct vsc_env *env)
{
	int fd = vsc_connect_peer(SOCK_STREAM, env);

	vsc_wait("interrupted");
	vsc_send_all(fd, "after-it", 8);
	SAFE(close(fd));
}
VSC_CASE(signal_recv_eintr, .sock_type = SOCK_STREAM,
	 .summary = "blocking recv() gets EINTR on a signal; later data arrives intact",
	 .server = recv_server, .client = recv_client);

static void send_server(const struct vsc_env *env)
{
	int listener, fd = vsc_accept_peer(SOCK_STREAM, env, &listener);
	uint64_t total, got = 0;
	uint32_t crc = 0;
	static char buf[CHUNK];

	total = vsc_recv_value("bytes sent");
	while (got < total) {
		ssize_t n = SAFE(recv(fd, buf, sizeof(buf), 0));

		ASSERT_TRUE(n > 0);
		crc = vsc_crc32(crc, buf, (size_t)n);
		got += (uint64_t)n;
	}
	EXPECT_EQ(got, total);
	EXPECT_EQ(crc, vsc_recv_value("crc32 sent"));
	EXPECT_ERRNO(recv(fd, buf, 1, MSG_DONTWAIT), EAGAIN);
	vsc_signal("done");
	SAFE(close(fd));
	SAFE(close(listener));
}

static void send_client(const struct vsc_env *env)
{
	int fd = vsc_connect_peer(SOCK_STREAM, env);
	static char buf[CHUNK];
	uint64_t sent = 0;
	uint32_t crc = 0;
	ssize_t n;

	/* Use up the credit without blocking; the peer reads nothing yet. */
	for (;;) {
		vsc_fill_pattern(buf, sizeof(buf), sent);
		n = send(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0 && errno == EAGAIN)
			break;
		ASSERT_TRUE(n > 0);
		crc = vsc_crc32(crc, buf, (size_t)n);
		sent += (uint64_t)n;
	}
	/* No credit: the blocking send sleeps before copying a byte, so EINTR, not a count. */
	vsc_fill_pattern(buf, sizeof(buf), sent);
	arm_ticks();
	EXPECT_ERRNO(send(fd, buf, sizeof(buf), 0), EINTR);
	disarm_ticks();
	vsc_send_value("bytes sent", sent);
	vsc_send_value("crc32 sent", crc);
	vsc_wait("done");
	SAFE(close(fd));
}
VSC_CASE(signal_send_eintr, .sock_type = SOCK_STREAM,
	 .summary = "blocking send() without credit gets EINTR on a signal, sends nothing",
	 .server = send_server, .client = send_client, .needs = VSC_NEED_SEND_CREDIT);

static void connect_eintr(const struct vsc_env *env)
{
	int fd = SAFE(socket(AF_VSOCK, SOCK_STREAM, 0));
	int ret, err;

	if (env->silent_cid == VMADDR_CID_ANY)
		vsc_skip("no silent CID here (--silent-cid): this topology names no CID whose connects go unanswered");
	vsc_set_connect_timeout(fd, 5000);
	/* Nobody is at env->silent_cid: the request goes unanswered. */
	arm_ticks();
	ret = vsc_connect(fd, env->silent_cid, env->port);
	err = errno;
	disarm_ticks();
	if (ret == 0 || err != EINTR) {
		SAFE(close(fd));
		if (ret != 0 && err != ETIMEDOUT)
			vsc_skip("the connect ended at once with %s: no silent peer here",
				 vsc_errname(err));
		vsc_fatal_at(__FILE__, __LINE__, "connect() returned %d (%s), expected EINTR",
			      ret, ret ? vsc_errname(err) : "connected");
	}
	/* The interrupted connect left the socket unconnected: a new try blocks again. */
	EXPECT_ERRNO(recv(fd, &ret, 1, MSG_DONTWAIT), ENOTCONN);
	arm_ticks();
	EXPECT_ERRNO(vsc_connect(fd, env->silent_cid, env->port), EINTR);
	disarm_ticks();
	SAFE(close(fd));
}
VSC_CASE(signal_connect_eintr, .sock_type = SOCK_STREAM,
	 .summary = "blocking connect() to a silent peer gets EINTR on a signal",
	 .run = connect_eintr);

static void linger_server(const struct vsc_env *env)
{
	int listener, fd = vsc_accept_peer(SOCK_STREAM, env, &listener);
	char buf[4096];

	/* Neither read nor close until the peer's close() is over: it has nothing to wait for. */
	vsc_wait("closed");
	vsc_recv_all(fd, buf, sizeof(buf));
	EXPECT_EQ(SAFE(recv(fd, buf, sizeof(buf), 0)), 0);
	SAFE(close(fd));
	SAFE(close(listener));
}

static void linger_client(const struct vsc_env *env)
{
	int fd = vsc_connect_peer(SOCK_STREAM, env);
	struct linger l = { .l_onoff = 1, .l_linger = 5 };
	struct timespec start, end;
	char buf[4096] = { 0 };
	long ms;

	vsc_send_all(fd, buf, sizeof(buf));
	SAFE(setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l)));
	arm_ticks();
	clock_gettime(CLOCK_MONOTONIC, &start);
	/* close() never fails with EINTR: the release goes on, only the wait is cut short. */
	SAFE(close(fd));
	clock_gettime(CLOCK_MONOTONIC, &end);
	disarm_ticks();
	ms = (end.tv_sec - start.tv_sec) * 1000 + (end.tv_nsec - start.tv_nsec) / 1000000;
	vsc_diag("close() took %ld ms, %d ticks", ms, (int)ticks);
	EXPECT_TRUE(ms < 2000);
	vsc_signal("closed");
}
VSC_CASE(signal_ends_linger, .sock_type = SOCK_STREAM,
	 .summary = "a signal ends close()'s SO_LINGER {1, 5} wait",
	 .server = linger_server, .client = linger_client,
	 .tags = VSC_TAGS("vsock: Linger on unsent data"));
