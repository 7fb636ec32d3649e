/* reconnect.c: connecting again, from a port used before or on a socket whose connect failed. */
#include <poll.h>
#include <unistd.h>

#include "vsc.h"
#include "vsc_sock.h"

/* Waits for the peer's close: POLLIN, then a read of 0 bytes. */
static void expect_eof(int fd)
{
	char byte;

	ASSERT_TRUE(vsc_poll(fd, POLLIN, VSC_SETTLE_MS) & POLLIN);
	EXPECT_EQ(SAFE(recv(fd, &byte, 1, MSG_DONTWAIT)), 0);
}

/*
 * The client's old socket frees the port when the server's reset reaches it, a moment after the
 * server saw the close; until then bind() may still say EADDRINUSE.
 */
static void bind_when_free(int fd, unsigned int port)
{
	int i;

	for (i = 0; i < VSC_SETTLE_MS / 10; i++) {
		if (vsc_bind(fd, VMADDR_CID_ANY, port) == 0)
			return;
		if (errno != EADDRINUSE)
			break;
		vsc_poll(fd, 0, 10);
	}
	vsc_fatal_at(__FILE__, __LINE__, "bind(VMADDR_CID_ANY, port %u) failed: %s", port,
		      vsc_errname(errno));
}

#define ROUNDS 2

static void same_port_server(const struct vsc_env *env)
{
	int listener = vsc_listen(SOCK_STREAM, env->port, ROUNDS);
	int fds[ROUNDS], round;

	for (round = 0; round < ROUNDS; round++) {
		vsc_signal("listening");
		fds[round] = SAFE(accept(listener, NULL, NULL));
		EXPECT_EQ(vsc_peername(fds[round]).svm_port, env->port + 1);
		/* The earlier socket stays open: its peer is gone, but it is not released. */
		expect_eof(fds[round]);
	}
	for (round = 0; round < ROUNDS; round++)
		SAFE(close(fds[round]));
	SAFE(close(listener));
}

static void same_port_client(const struct vsc_env *env)
{
	int round;

	for (round = 0; round < ROUNDS; round++) {
		int fd = SAFE(socket(AF_VSOCK, SOCK_STREAM, 0));

		vsc_wait("listening");
		bind_when_free(fd, env->port + 1);
		/* The server's disconnected socket for this address must not answer for it. */
		SAFE(vsc_connect(fd, env->peer_cid, env->port));
		SAFE(close(fd));
	}
}
VSC_CASE(reconnect_same_client_port, .sock_type = SOCK_STREAM,
	 .summary = "a client reconnects from the port of a closed connection the server holds",
	 .server = same_port_server, .client = same_port_client,
	 .tags = VSC_TAGS("vsock_test 21",
			  "vsock/virtio: remove socket from connected/bound list on shutdown"),
	 .known_bug = "port_reuse_after_shutdown");

static void retry_server(const struct vsc_env *env)
{
	int listener, fd;
	char byte;

	vsc_wait("first connect failed");
	fd = vsc_accept_peer(SOCK_STREAM, env, &listener);
	vsc_recv_all(fd, &byte, 1);
	EXPECT_EQ(byte, 'r');
	expect_eof(fd);
	SAFE(close(fd));
	SAFE(close(listener));
}

static void retry_client(const struct vsc_env *env)
{
	int fd = SAFE(socket(AF_VSOCK, SOCK_STREAM, 0));

	/* Nobody listens yet: the attempt fails, and leaves an error the socket must not keep. */
	EXPECT_ERRNO(vsc_connect(fd, env->peer_cid, env->port),
		     vsc_expected_errno("connect_no_listener"));
	vsc_signal("first connect failed");
	vsc_wait("listening");
	SAFE(vsc_connect(fd, env->peer_cid, env->port));
	vsc_send_all(fd, "r", 1);
	SAFE(close(fd));
}
VSC_CASE(reconnect_after_failed_connect, .sock_type = SOCK_STREAM,
	 .summary = "after connect() is refused, the same socket connects once a listener is there",
	 .server = retry_server, .client = retry_client,
	 .tags = VSC_TAGS("vsock_test 30", "vsock: Allow retrying on connect() failure",
			  "vsock: use sock_error() to consume sk_err after a failed connect"));
