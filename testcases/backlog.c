/* backlog.c: connections in a listener's accept queue: a full queue, a listener closed on them. */
#include <poll.h>
#include <unistd.h>

#include "vsc.h"
#include "vsc_sock.h"

#define QUEUED 2
#define BACKLOG 2

static void closed_server(const struct vsc_env *env)
{
	int listener = vsc_listen(SOCK_STREAM, env->port, 4);

	vsc_signal("listening");
	vsc_wait("queued");
	/* Nobody ever accepts: __vsock_release() releases the queued children with the listener. */
	SAFE(close(listener));
	vsc_signal("closed");
	vsc_wait("done");
}

static void closed_client(const struct vsc_env *env)
{
	int fds[QUEUED], i, fd;
	char byte;

	vsc_wait("listening");
	for (i = 0; i < QUEUED; i++)
		fds[i] = vsc_connect_to(SOCK_STREAM, env->peer_cid, env->port);
	/* Data for a child that is never accepted is dropped with it. */
	vsc_send_all(fds[0], "x", 1);
	vsc_signal("queued");
	vsc_wait("closed");
	for (i = 0; i < QUEUED; i++) {
		/* The child's release shuts the connection down: EOF, then EPIPE, never a hang. */
		EXPECT_TRUE(vsc_poll(fds[i], POLLRDHUP, 5000) & POLLRDHUP);
		EXPECT_EQ(SAFE(recv(fds[i], &byte, 1, MSG_DONTWAIT)), 0);
		EXPECT_ERRNO(send(fds[i], "y", 1, MSG_NOSIGNAL), EPIPE);
		SAFE(close(fds[i]));
	}
	fd = SAFE(socket(AF_VSOCK, SOCK_STREAM, 0));
	EXPECT_ERRNO(vsc_connect(fd, env->peer_cid, env->port),
		     vsc_expected_errno("connect_no_listener"));
	SAFE(close(fd));
	vsc_signal("done");
}
VSC_CASE(backlog_listener_closed_with_queue, .sock_type = SOCK_STREAM,
	 .summary = "closing a listener ends its unaccepted connections: EOF, then EPIPE",
	 .server = closed_server, .client = closed_client);

static void full_server(const struct vsc_env *env)
{
	int listener = vsc_listen(SOCK_STREAM, env->port, BACKLOG), fd;

	vsc_signal("listening");
	vsc_wait("refused");
	fd = SAFE(accept(listener, NULL, NULL));
	vsc_signal("accepted one");
	vsc_wait("done");
	SAFE(close(fd));
	SAFE(close(listener));
}

static void full_client(const struct vsc_env *env)
{
	int fds[BACKLOG + 1], refused, extra, i;

	vsc_wait("listening");
	/* sk_acceptq_is_full() compares with '>': the queue holds backlog + 1 connections. */
	for (i = 0; i < BACKLOG + 1; i++)
		fds[i] = vsc_connect_to(SOCK_STREAM, env->peer_cid, env->port);
	/* The next request is answered with a reset, not left waiting. */
	refused = SAFE(socket(AF_VSOCK, SOCK_STREAM, 0));
	EXPECT_ERRNO(vsc_connect(refused, env->peer_cid, env->port), ECONNRESET);
	SAFE(close(refused));
	vsc_signal("refused");
	vsc_wait("accepted one");
	/* accept() made room for exactly one more. */
	extra = vsc_connect_to(SOCK_STREAM, env->peer_cid, env->port);
	refused = SAFE(socket(AF_VSOCK, SOCK_STREAM, 0));
	EXPECT_ERRNO(vsc_connect(refused, env->peer_cid, env->port), ECONNRESET);
	vsc_signal("done");
	SAFE(close(refused));
	SAFE(close(extra));
	for (i = 0; i < BACKLOG + 1; i++)
		SAFE(close(fds[i]));
}
VSC_CASE(backlog_full_resets, .sock_type = SOCK_STREAM,
	 .summary = "listen(2): three connects queue, the fourth gets ECONNRESET until an accept",
	 .server = full_server, .client = full_client);
