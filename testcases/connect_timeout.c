/* connect_timeout.c: connect() to a peer that never answers ends after the connect timeout. */
#include <poll.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "vsc.h"
#include "vsc_sock.h"

#define TIMEOUT_MS 300
/* Slack on top of the timeout: the timer is in jiffies and TCG guests are slow. */
#define LATE_MS 2000

/* A socket whose connect gives up after TIMEOUT_MS; SKIP where no peer can stay silent. */
static int short_patience_socket(const struct vsc_env *env, int flags)
{
	int fd;

	if (env->silent_cid == VMADDR_CID_ANY)
		vsc_skip("no silent CID here (--silent-cid): this topology names no CID whose connects go unanswered");
	fd = SAFE(socket(AF_VSOCK, SOCK_STREAM | flags, 0));
	vsc_set_connect_timeout(fd, TIMEOUT_MS);
	return fd;
}

/* The peer answered (a reset, a refusal): the topology has no silent peer after all. */
static void skip_if_answered(int err, long ms)
{
	if (err != ETIMEDOUT && err != 0)
		vsc_skip("connect ended after %ld ms with %s, not ETIMEDOUT: no silent peer here",
			 ms, vsc_errname(err));
}

static void blocking(const struct vsc_env *env)
{
	int fd = short_patience_socket(env, 0);
	struct timespec start;
	int ret, err;
	long ms;

	clock_gettime(CLOCK_MONOTONIC, &start);
	/* Nobody is at env->silent_cid: the request goes unanswered. */
	ret = vsc_connect(fd, env->silent_cid, env->port);
	err = errno;
	ms = vsc_elapsed_ms(&start);
	ASSERT_TRUE(ret == -1);
	skip_if_answered(err, ms);
	vsc_diag("connect() gave up after %ld ms", ms);
	EXPECT_TRUE(ms >= TIMEOUT_MS - 20);
	EXPECT_TRUE(ms < TIMEOUT_MS + LATE_MS);
	SAFE(close(fd));
}
VSC_CASE(connect_timeout_expires, .sock_type = SOCK_STREAM,
	 .summary = "blocking connect() to a silent peer: ETIMEDOUT after the 300 ms set",
	 .run = blocking);

static void nonblocking(const struct vsc_env *env)
{
	int fd = short_patience_socket(env, SOCK_NONBLOCK);
	struct timespec start;
	int err = 0;
	socklen_t len = sizeof(err);
	short revents;
	long ms;

	clock_gettime(CLOCK_MONOTONIC, &start);
	EXPECT_ERRNO(vsc_connect(fd, env->silent_cid, env->port), EINPROGRESS);
	/* vsock_connect_timeout() runs from a work item and reports through sk_err. */
	revents = vsc_poll(fd, POLLOUT, TIMEOUT_MS + LATE_MS);
	ms = vsc_elapsed_ms(&start);
	SAFE(getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len));
	skip_if_answered(err, ms);
	EXPECT_EQ(err, ETIMEDOUT);
	EXPECT_TRUE(revents & POLLERR);
	EXPECT_TRUE(ms >= TIMEOUT_MS - 20);
	SAFE(close(fd));
}
VSC_CASE(connect_timeout_nonblocking, .sock_type = SOCK_STREAM,
	 .summary = "non-blocking connect() to a silent peer: POLLERR, SO_ERROR ETIMEDOUT",
	 .run = nonblocking);
