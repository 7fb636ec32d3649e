/* linger_variants.c: SO_LINGER on, off, zero, timed: how long close() blocks, what peers see. */
#include <poll.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vsc.h"
#include "vsc_sock.h"

#define UNREAD_BYTES 4096
/* A close() that does not linger returns in far less; TCG is slow, so leave room. */
#define PROMPT_MS 1000

static void set_linger(int fd, int onoff, int seconds)
{
	struct linger l = { .l_onoff = onoff, .l_linger = seconds };

	SAFE(setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l)));
}

/* Closes fd and returns how long close() took. */
static long timed_close(int fd)
{
	struct timespec start;

	clock_gettime(CLOCK_MONOTONIC, &start);
	SAFE(close(fd));
	return vsc_elapsed_ms(&start);
}

/* The peer of a closer: it reads nothing until "closed", then gets every byte and a clean EOF. */
static void read_after_close(const struct vsc_env *env)
{
	int listener, fd = vsc_accept_peer(SOCK_STREAM, env, &listener);
	char buf[UNREAD_BYTES], expected[UNREAD_BYTES];

	vsc_wait("closed");
	vsc_recv_all(fd, buf, sizeof(buf));
	vsc_fill_pattern(expected, sizeof(expected), 0);
	EXPECT_TRUE(memcmp(buf, expected, sizeof(buf)) == 0);
	/* Orderly end, not ECONNRESET: vsock has no abortive close. */
	EXPECT_EQ(SAFE(recv(fd, buf, sizeof(buf), 0)), 0);
	SAFE(close(fd));
	SAFE(close(listener));
}

/* Connects, sends UNREAD_BYTES the peer leaves unread, sets the linger, closes; returns ms. */
static long close_with_unread(const struct vsc_env *env, int onoff, int seconds)
{
	int fd = vsc_connect_peer(SOCK_STREAM, env);
	char buf[UNREAD_BYTES];
	long ms;

	vsc_fill_pattern(buf, sizeof(buf), 0);
	vsc_send_all(fd, buf, sizeof(buf));
	set_linger(fd, onoff, seconds);
	ms = timed_close(fd);
	vsc_diag("close() took %ld ms", ms);
	vsc_signal("closed");
	return ms;
}

static void zero_client(const struct vsc_env *env)
{
	/* A zero timeout means "do not wait" to every kernel, whatever it would wait for. */
	EXPECT_TRUE(close_with_unread(env, 1, 0) < PROMPT_MS);
}
VSC_CASE(linger_zero_timeout, .sock_type = SOCK_STREAM,
	 .summary = "SO_LINGER {1, 0}, data unread: close() is prompt; the peer reads all, EOF",
	 .server = read_after_close, .client = zero_client,
	 .tags = VSC_TAGS("vsock: Linger on unsent data"));

static void off_client(const struct vsc_env *env)
{
	int probe = SAFE(socket(AF_VSOCK, SOCK_STREAM, 0));
	struct linger l;
	socklen_t len = sizeof(l);

	/* Switched on, then off again: the off must stick. */
	set_linger(probe, 1, 30);
	set_linger(probe, 0, 30);
	SAFE(getsockopt(probe, SOL_SOCKET, SO_LINGER, &l, &len));
	EXPECT_EQ(l.l_onoff, 0);
	SAFE(close(probe));
	/* Before 7.2 a lingering close would wait here for the peer, which waits for us. */
	EXPECT_TRUE(close_with_unread(env, 0, 30) < PROMPT_MS);
}
VSC_CASE(linger_off, .sock_type = SOCK_STREAM,
	 .summary = "SO_LINGER switched off: close() with data unread by the peer returns at once",
	 .server = read_after_close, .client = off_client,
	 .tags = VSC_TAGS("vsock: Linger on unsent data"));

static void bounded_client(const struct vsc_env *env)
{
	/*
	 * Before "vsock: Linger on unsent data" close() waits for the peer to finish the
	 * connection, which it will not do before "closed": the full second. From it on there is
	 * nothing unsent and close() returns at once. Either way the timeout bounds the wait.
	 */
	EXPECT_TRUE(close_with_unread(env, 1, 1) < 1000 + PROMPT_MS);
}
VSC_CASE(linger_bounded_by_timeout, .sock_type = SOCK_STREAM,
	 .summary = "SO_LINGER {1, 1}, peer neither reads nor closes: close() within ~1 s",
	 .server = read_after_close, .client = bounded_client,
	 .tags = VSC_TAGS("vsock: Linger on unsent data"));

static void own_unread_server(const struct vsc_env *env)
{
	int listener, fd = vsc_accept_peer(SOCK_STREAM, env, &listener);
	char buf[UNREAD_BYTES] = { 0 };

	vsc_send_all(fd, buf, sizeof(buf));
	vsc_wait("closed");
	/* The peer discarded our bytes unread: an orderly shutdown still, not a reset. */
	EXPECT_TRUE(vsc_poll(fd, POLLRDHUP, VSC_SETTLE_MS) & POLLRDHUP);
	EXPECT_EQ(SAFE(recv(fd, buf, sizeof(buf), 0)), 0);
	EXPECT_ERRNO(send(fd, buf, 1, MSG_NOSIGNAL), EPIPE);
	SAFE(close(fd));
	SAFE(close(listener));
}

static void own_unread_client(const struct vsc_env *env)
{
	int fd = vsc_connect_peer(SOCK_STREAM, env);
	long ms;

	/* Wait until the peer's bytes are queued here, then close without reading them. */
	EXPECT_TRUE(vsc_poll(fd, POLLIN, VSC_SETTLE_MS) & POLLIN);
	set_linger(fd, 1, 5);
	ms = timed_close(fd);
	vsc_diag("close() took %ld ms", ms);
	/* Nothing unsent, and the peer answers our shutdown at once: no reason to linger. */
	EXPECT_TRUE(ms < PROMPT_MS);
	vsc_signal("closed");
}
VSC_CASE(linger_close_with_own_unread, .sock_type = SOCK_STREAM,
	 .summary = "close() with own unread data, SO_LINGER {1, 5}: prompt; peer EOF, EPIPE",
	 .server = own_unread_server, .client = own_unread_client);

static void exit_client(const struct vsc_env *env)
{
	struct timespec start;
	int status, fd;
	pid_t child;
	long ms;

	vsc_wait("listening");
	child = SAFE(fork());
	if (child == 0) {
		char buf[UNREAD_BYTES];

		fd = vsc_connect_to(SOCK_STREAM, env->peer_cid, env->port);
		vsc_fill_pattern(buf, sizeof(buf), 0);
		vsc_send_all(fd, buf, sizeof(buf));
		set_linger(fd, 1, 5);
		/* No close(): exit releases the socket, and an exiting task never lingers. */
		_exit(0);
	}
	clock_gettime(CLOCK_MONOTONIC, &start);
	SAFE(waitpid(child, &status, 0));
	ms = vsc_elapsed_ms(&start);
	vsc_diag("the child's exit took %ld ms", ms);
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	EXPECT_TRUE(ms < PROMPT_MS + 1000);
	vsc_signal("closed");
}
VSC_CASE(linger_not_on_exit, .sock_type = SOCK_STREAM,
	 .summary = "exit with a SO_LINGER {1, 5} socket, data unread: no wait; data arrives",
	 .server = read_after_close, .client = exit_client,
	 .tags = VSC_TAGS("vsock: Linger on unsent data"));
