/* fork.c: sockets shared across fork(): one copy closed, the other goes on; the last ends it. */
#include <poll.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vsc.h"
#include "vsc_sock.h"

/* How long the server watches for a shutdown that must not come. */
#define QUIET_MS 200

/* Waits for a child of this role and checks that it ran to its end. */
static void reap_child(pid_t child)
{
	int status;

	SAFE(waitpid(child, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void child_conn_server(const struct vsc_env *env)
{
	int listener, fd = vsc_accept_peer(SOCK_STREAM, env, &listener);
	char buf[5];

	vsc_wait("parent closed");
	/* Closing one of two references releases nothing: no shutdown reaches us. */
	EXPECT_EQ(vsc_poll(fd, POLLIN | POLLRDHUP, QUIET_MS), 0);
	vsc_signal("still open");
	vsc_recv_all(fd, buf, sizeof(buf));
	EXPECT_TRUE(memcmp(buf, "child", 5) == 0);
	vsc_send_all(fd, "reply", 5);
	/* The child's exit drops the last reference: now the connection ends. */
	EXPECT_EQ(SAFE(recv(fd, buf, sizeof(buf), 0)), 0);
	SAFE(close(fd));
	SAFE(close(listener));
}

static void child_conn_client(const struct vsc_env *env)
{
	int fd = vsc_connect_peer(SOCK_STREAM, env), go[2];
	pid_t child;
	char byte;

	SAFE(pipe(go));
	child = SAFE(fork());
	if (child == 0) {
		char reply[5];

		SAFE(close(go[1]));
		/* Wait for the parent's word: the peer channel belongs to the parent. */
		ASSERT_EQ(SAFE(read(go[0], &byte, 1)), 1);
		vsc_send_all(fd, "child", 5);
		vsc_recv_all(fd, reply, sizeof(reply));
		EXPECT_TRUE(memcmp(reply, "reply", 5) == 0);
		_exit(0);
	}
	SAFE(close(go[0]));
	SAFE(close(fd));
	vsc_signal("parent closed");
	vsc_wait("still open");
	ASSERT_EQ(SAFE(write(go[1], "g", 1)), 1);
	SAFE(close(go[1]));
	reap_child(child);
}
VSC_CASE(fork_child_keeps_connection, .sock_type = SOCK_STREAM,
	 .summary = "parent closes its copy after fork, the child still talks; its exit ends it",
	 .server = child_conn_server, .client = child_conn_client);

static void child_listener_server(const struct vsc_env *env)
{
	int listener = vsc_listen(SOCK_STREAM, env->port, 1);
	pid_t child = SAFE(fork());

	if (child == 0) {
		int fd = SAFE(accept(listener, NULL, NULL));
		char buf[4];

		vsc_recv_all(fd, buf, sizeof(buf));
		vsc_send_all(fd, buf, sizeof(buf));
		SAFE(close(fd));
		SAFE(close(listener));
		_exit(0);
	}
	/* The child's copy keeps the port bound and listening. */
	SAFE(close(listener));
	vsc_signal("listening");
	reap_child(child);
	vsc_signal("child gone");
	vsc_wait("done");
}

static void child_listener_client(const struct vsc_env *env)
{
	int fd = vsc_connect_peer(SOCK_STREAM, env);
	char buf[4];

	vsc_send_all(fd, "echo", 4);
	vsc_recv_all(fd, buf, sizeof(buf));
	EXPECT_TRUE(memcmp(buf, "echo", 4) == 0);
	SAFE(close(fd));
	vsc_wait("child gone");
	/* The last copy of the listener is gone, and with it the listening port. */
	fd = SAFE(socket(AF_VSOCK, SOCK_STREAM, 0));
	EXPECT_ERRNO(vsc_connect(fd, env->peer_cid, env->port),
		     vsc_expected_errno("connect_no_listener"));
	SAFE(close(fd));
	vsc_signal("done");
}
VSC_CASE(fork_child_keeps_listener, .sock_type = SOCK_STREAM,
	 .summary = "a listener closed in the parent accepts in the child; its exit ends it",
	 .server = child_listener_server, .client = child_listener_client);
