/* shutdown.c: half-closing and closing a connection, and what the other end sees. */
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "vsc.h"
#include "vsc_sock.h"

/* Sends a byte at a time until the kernel refuses with EPIPE, as it must within VSC_SETTLE_MS. */
static void expect_epipe_soon(int fd)
{
	int i;

	for (i = 0; i < VSC_SETTLE_MS / 10; i++) {
		if (send(fd, "x", 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
			EXPECT_EQ(errno, EPIPE);
			if (errno != EPIPE)
				vsc_diag("send failed with %s", vsc_errname(errno));
			return;
		}
		/* The peer's SHUTDOWN is on its way; give its packet a moment to land. */
		vsc_poll(fd, POLLRDHUP, 10);
	}
	vsc_fail_at(__FILE__, __LINE__, "send() still succeeds %d ms after the peer shut down",
		      VSC_SETTLE_MS);
}

static void wr_server(const struct vsc_env *env)
{
	int listener, fd = vsc_accept_peer(SOCK_STREAM, env, &listener);
	char byte;

	EXPECT_EQ(SAFE(recv(fd, &byte, 1, 0)), 0);
	EXPECT_TRUE(vsc_poll(fd, POLLRDHUP, VSC_SETTLE_MS) & POLLRDHUP);
	vsc_send_all(fd, "back", 4);
	vsc_wait("done");
	SAFE(close(fd));
	SAFE(close(listener));
}

static void wr_client(const struct vsc_env *env)
{
	int fd = vsc_connect_peer(SOCK_STREAM, env);
	char reply[4];

	SAFE(shutdown(fd, SHUT_WR));
	EXPECT_ERRNO(send(fd, "x", 1, MSG_NOSIGNAL), EPIPE);
	vsc_recv_all(fd, reply, sizeof(reply));
	EXPECT_TRUE(memcmp(reply, "back", 4) == 0);
	vsc_signal("done");
	SAFE(close(fd));
}
VSC_CASE(shutdown_wr, .sock_type = SOCK_STREAM,
	 .summary = "after SHUT_WR the peer reads EOF and can still send back; our send gets EPIPE",
	 .server = wr_server, .client = wr_client,
	 .tags = VSC_TAGS("vsock_test 16"));

static void rd_server(const struct vsc_env *env)
{
	int listener, fd = vsc_accept_peer(SOCK_STREAM, env, &listener);
	char byte;

	SAFE(shutdown(fd, SHUT_RD));
	EXPECT_EQ(SAFE(recv(fd, &byte, 1, 0)), 0);
	vsc_signal("shut");
	vsc_wait("done");
	SAFE(close(fd));
	SAFE(close(listener));
}

static void rd_client(const struct vsc_env *env)
{
	int fd = vsc_connect_peer(SOCK_STREAM, env);

	vsc_wait("shut");
	expect_epipe_soon(fd);
	vsc_signal("done");
	SAFE(close(fd));
}
VSC_CASE(shutdown_rd, .sock_type = SOCK_STREAM,
	 .summary = "after SHUT_RD our recv returns 0 and the peer's send fails with EPIPE",
	 .server = rd_server, .client = rd_client,
	 .tags = VSC_TAGS("vsock_test 17"));

/* The closing side and the side that watches are the same code in both directions. */
static void closer(int fd)
{
	vsc_send_all(fd, "bye", 3);
	SAFE(close(fd));
	vsc_signal("closed");
}

static void watcher(int fd)
{
	char buf[3];

	vsc_wait("closed");
	EXPECT_TRUE(vsc_poll(fd, POLLRDHUP, VSC_SETTLE_MS) & POLLRDHUP);
	vsc_recv_all(fd, buf, sizeof(buf));
	EXPECT_TRUE(memcmp(buf, "bye", 3) == 0);
	EXPECT_EQ(SAFE(recv(fd, buf, sizeof(buf), 0)), 0);
	/*
	 * A close() sends SHUTDOWN with both flags in one packet, and POLLRDHUP came with it: the
	 * very next send() must fail (vsock_test's "client close" asserts the same). A device that
	 * passed on only SEND would let this send through.
	 */
	EXPECT_ERRNO(send(fd, "x", 1, MSG_NOSIGNAL | MSG_DONTWAIT), EPIPE);
	SAFE(close(fd));
}

static void client_close_server(const struct vsc_env *env)
{
	int listener, fd = vsc_accept_peer(SOCK_STREAM, env, &listener);

	watcher(fd);
	SAFE(close(listener));
}

static void client_close_client(const struct vsc_env *env)
{
	closer(vsc_connect_peer(SOCK_STREAM, env));
}
VSC_CASE(close_by_client, .sock_type = SOCK_STREAM,
	 .summary = "client closes: the server gets POLLRDHUP, the last data, EOF, then EPIPE on its next send",
	 .server = client_close_server, .client = client_close_client,
	 .tags = VSC_TAGS("vsock_test 2"));

static void server_close_server(const struct vsc_env *env)
{
	int listener, fd = vsc_accept_peer(SOCK_STREAM, env, &listener);

	closer(fd);
	SAFE(close(listener));
}

static void server_close_client(const struct vsc_env *env)
{
	watcher(vsc_connect_peer(SOCK_STREAM, env));
}
VSC_CASE(close_by_server, .sock_type = SOCK_STREAM,
	 .summary = "server closes: the client gets POLLRDHUP, the last data, EOF, then EPIPE on its next send",
	 .server = server_close_server, .client = server_close_client,
	 .tags = VSC_TAGS("vsock_test 3"));

static void bad_shutdown(const struct vsc_env *env)
{
	int fd = SAFE(socket(AF_VSOCK, SOCK_STREAM, 0));

	(void)env;
	EXPECT_ERRNO(shutdown(fd, SHUT_RDWR), ENOTCONN);
	EXPECT_ERRNO(shutdown(fd, 7), EINVAL);
	SAFE(close(fd));
}
VSC_CASE(shutdown_invalid, .sock_type = SOCK_STREAM,
	 .summary = "shutdown on an unconnected socket gives ENOTCONN, a bad 'how' EINVAL",
	 .run = bad_shutdown);
