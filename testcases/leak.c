/* leak.c: kmemleak after patterns that leaked (the MSG_ZEROCOPY ones are in zerocopy_fixes.c). */
#include <poll.h>
#include <unistd.h>

#include "kmemleak.h"
#include "vsc.h"
#include "vsc_sock.h"

/*
 * Each round fires a burst of non-blocking connects at a fresh listener just as the server
 * closes it: a request looked up before the close and handled after it must not leave a child
 * socket in the accept queue the close already flushed. The window is narrow, hence the volume.
 */
#define ACCEPTQ_ROUNDS 200
#define ACCEPTQ_BURST 16

static void acceptq_server(const struct vsc_env *env)
{
	vsc_kmemleak_begin();
	while (vsc_recv_value("round") != 0) {
		int listener = vsc_listen(SOCK_STREAM, env->port, ACCEPTQ_BURST);

		vsc_signal("listening");
		vsc_wait("connecting");
		SAFE(close(listener));
	}
	vsc_kmemleak_expect_none(VSC_KMEMLEAK_VSOCK_SYMBOLS);
}

/* Counts how a non-blocking connect ended: established, or reset by the closing listener. */
static void count_outcome(int fd, int *established, int *reset)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (!(vsc_poll(fd, POLLOUT, VSC_SETTLE_MS) & (POLLOUT | POLLERR | POLLHUP)))
		vsc_fatal_at(__FILE__, __LINE__, "connect() still pending after %d ms",
			      VSC_SETTLE_MS);
	SAFE(getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len));
	if (err == 0)
		(*established)++;
	else if (err == ECONNRESET)
		(*reset)++;
	else
		vsc_fatal_at(__FILE__, __LINE__, "connect() failed: %s", vsc_errname(err));
}

static void acceptq_client(const struct vsc_env *env)
{
	int round, i, established = 0, reset = 0;

	for (round = 0; round < ACCEPTQ_ROUNDS; round++) {
		int fds[ACCEPTQ_BURST];

		for (i = 0; i < ACCEPTQ_BURST; i++)
			fds[i] = SAFE(socket(AF_VSOCK, SOCK_STREAM | SOCK_NONBLOCK, 0));
		vsc_send_value("round", 1);
		vsc_wait("listening");
		vsc_signal("connecting");
		for (i = 0; i < ACCEPTQ_BURST; i++)
			if (vsc_connect(fds[i], env->peer_cid, env->port) != 0 &&
			    errno != EINPROGRESS && errno != ECONNRESET)
				vsc_fatal_at(__FILE__, __LINE__, "connect() failed: %s",
					      vsc_errname(errno));
		for (i = 0; i < ACCEPTQ_BURST; i++) {
			count_outcome(fds[i], &established, &reset);
			SAFE(close(fds[i]));
		}
	}
	vsc_send_value("round", 0);
	/* Some connects must have met the listener, or the race was not run at all. */
	EXPECT_TRUE(established > 0);
	EXPECT_TRUE(reset > 0);
}
VSC_CASE(leak_accept_queue, .sock_type = SOCK_STREAM,
	 .summary = "connections queued on a listener as it closes are freed (kmemleak finds none)",
	 .server = acceptq_server, .client = acceptq_client, .needs = VSC_NEED_KMEMLEAK,
	 .timeout_s = 40,
	 .tags = VSC_TAGS("vsock_test 26", "virtio/vsock: Fix accept_queue memory leak",
			  "CVE-2024-53119"));
