/* port.c: how ports are handed out and given back: automatic ports run out, re-use after close. */
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "vsc.h"
#include "vsc_sock.h"

/* How long a closed client's port may stay taken while the peer answers its shutdown. */
#define PORT_FREE_MS 2000

/* af_vsock.c: an automatic bind tries this many consecutive ports, then gives up. */
#define MAX_PORT_RETRIES 24

static void any_exhausted(const struct vsc_env *env)
{
	int first = SAFE(socket(AF_VSOCK, SOCK_STREAM, 0));
	int blocked = SAFE(socket(AF_VSOCK, SOCK_STREAM, 0));
	int taken[MAX_PORT_RETRIES], i;
	unsigned int base, port;

	(void)env;
	/*
	 * Automatic ports come from one counter that moves on by one per port tried. Taking the
	 * next MAX_PORT_RETRIES ports by hand leaves the next automatic bind nothing to find.
	 */
	SAFE(vsc_bind(first, VMADDR_CID_ANY, VMADDR_PORT_ANY));
	base = vsc_sockname(first).svm_port;
	if (base > VMADDR_PORT_ANY - 2 * MAX_PORT_RETRIES - 2)
		vsc_skip("the automatic port counter (%u) is about to wrap", base);
	for (i = 0; i < MAX_PORT_RETRIES; i++) {
		taken[i] = SAFE(socket(AF_VSOCK, SOCK_STREAM, 0));
		SAFE(vsc_bind(taken[i], VMADDR_CID_ANY, base + 1 + (unsigned int)i));
	}
	EXPECT_ERRNO(vsc_bind(blocked, VMADDR_CID_ANY, VMADDR_PORT_ANY), EADDRNOTAVAIL);
	/* The failure left the socket unbound; the counter has moved past the taken range. */
	EXPECT_EQ(vsc_sockname(blocked).svm_port, VMADDR_PORT_ANY);
	SAFE(vsc_bind(blocked, VMADDR_CID_ANY, VMADDR_PORT_ANY));
	port = vsc_sockname(blocked).svm_port;
	EXPECT_TRUE(port > 1023 && port != VMADDR_PORT_ANY);
	EXPECT_TRUE(port < base || port > base + MAX_PORT_RETRIES);
	for (i = 0; i < MAX_PORT_RETRIES; i++)
		SAFE(close(taken[i]));
	SAFE(close(blocked));
	SAFE(close(first));
}
VSC_CASE(port_any_exhausted, .sock_type = SOCK_STREAM,
	 .summary = "an automatic bind fails with EADDRNOTAVAIL when the next 24 ports are taken",
	 .run = any_exhausted);

static void bind_connected_server(const struct vsc_env *env)
{
	int listener, fd = vsc_accept_peer(SOCK_STREAM, env, &listener);
	char byte;

	/*
	 * The accepted socket carries the listener's port without being in the bound table; a
	 * bind that went ahead would unlink it from a list it is not on (the path of the
	 * VMADDR_PORT_ANY use-after-free, which needs the port counter to wrap to reach).
	 */
	EXPECT_ERRNO(vsc_bind(fd, VMADDR_CID_ANY, env->port + 1), EINVAL);
	EXPECT_ERRNO(vsc_bind(fd, VMADDR_CID_ANY, VMADDR_PORT_ANY), EINVAL);
	EXPECT_EQ(vsc_sockname(fd).svm_port, env->port);
	vsc_recv_all(fd, &byte, 1);
	vsc_send_all(fd, &byte, 1);
	vsc_wait("done");
	SAFE(close(fd));
	SAFE(close(listener));
	/* Every reference the binds could have dropped twice is gone by now: the port is free. */
	listener = SAFE(socket(AF_VSOCK, SOCK_STREAM, 0));
	SAFE(vsc_bind(listener, VMADDR_CID_ANY, env->port));
	SAFE(close(listener));
}

static void bind_connected_client(const struct vsc_env *env)
{
	int fd = vsc_connect_peer(SOCK_STREAM, env);
	unsigned int port = vsc_sockname(fd).svm_port;
	char byte = 'b';

	EXPECT_ERRNO(vsc_bind(fd, VMADDR_CID_ANY, env->port + 2), EINVAL);
	EXPECT_ERRNO(vsc_bind(fd, VMADDR_CID_ANY, VMADDR_PORT_ANY), EINVAL);
	EXPECT_EQ(vsc_sockname(fd).svm_port, port);
	vsc_send_all(fd, &byte, 1);
	vsc_recv_all(fd, &byte, 1);
	EXPECT_EQ(byte, 'b');
	vsc_signal("done");
	SAFE(close(fd));
}
VSC_CASE(port_bind_connected_sockets, .sock_type = SOCK_STREAM,
	 .summary = "bind on an accepted or a connected socket: EINVAL, nothing changes",
	 .server = bind_connected_server, .client = bind_connected_client);

static void rebind_listener_server(const struct vsc_env *env)
{
	int listener, fd = vsc_accept_peer(SOCK_STREAM, env, &listener);
	char byte;

	SAFE(close(fd));
	SAFE(close(listener));
	/* No TIME_WAIT: the port is free the moment the listener is closed. */
	listener = vsc_listen(SOCK_STREAM, env->port, 1);
	vsc_signal("listening again");
	fd = SAFE(accept(listener, NULL, NULL));
	vsc_recv_all(fd, &byte, 1);
	EXPECT_EQ(byte, '2');
	SAFE(close(fd));
	SAFE(close(listener));
}

static void rebind_listener_client(const struct vsc_env *env)
{
	int old = vsc_connect_peer(SOCK_STREAM, env), fd;

	vsc_wait("listening again");
	fd = vsc_connect_to(SOCK_STREAM, env->peer_cid, env->port);
	vsc_send_all(fd, "2", 1);
	SAFE(close(fd));
	SAFE(close(old));
}
VSC_CASE(port_rebind_listener_after_close, .sock_type = SOCK_STREAM,
	 .summary = "a closed listener's port can be bound and listened on again at once",
	 .server = rebind_listener_server, .client = rebind_listener_client);

static void same_source_server(const struct vsc_env *env)
{
	int listener, first = vsc_accept_peer(SOCK_STREAM, env, &listener), second;
	unsigned int source = (unsigned int)vsc_recv_value("source port");
	char byte;

	EXPECT_EQ(vsc_peername(first).svm_port, source);
	/* `first` stays open: the old connection must not catch the new request. */
	vsc_signal("accepted");
	second = SAFE(accept(listener, NULL, NULL));
	EXPECT_EQ(vsc_peername(second).svm_port, source);
	vsc_recv_all(second, &byte, 1);
	EXPECT_EQ(byte, '2');
	EXPECT_EQ(SAFE(recv(first, &byte, 1, MSG_DONTWAIT)), 0);
	SAFE(close(second));
	SAFE(close(first));
	SAFE(close(listener));
}

static void same_source_client(const struct vsc_env *env)
{
	unsigned int source = env->port + 1;
	int fd = SAFE(socket(AF_VSOCK, SOCK_STREAM, 0)), waited;

	SAFE(vsc_bind(fd, VMADDR_CID_ANY, source));
	vsc_wait("listening");
	SAFE(vsc_connect(fd, env->peer_cid, env->port));
	vsc_send_value("source port", source);
	vsc_wait("accepted");
	SAFE(close(fd));
	/*
	 * The port stays taken until the peer answers our shutdown (its RST ends the closing
	 * socket), which the loopback worker does moments later: a bounded wait for that, far
	 * below the 8 s close timeout that would free the port if the peer never answered.
	 */
	fd = SAFE(socket(AF_VSOCK, SOCK_STREAM, 0));
	for (waited = 0; vsc_bind(fd, VMADDR_CID_ANY, source) != 0; waited += 10) {
		ASSERT_EQ(errno, EADDRINUSE);
		if (waited >= PORT_FREE_MS)
			vsc_fatal_at(__FILE__, __LINE__, "port %u in use %d ms after close",
				      source, waited);
		vsc_poll(fd, 0, 10);
	}
	if (waited)
		vsc_diag("the source port was free again after %d ms", waited);
	SAFE(vsc_connect(fd, env->peer_cid, env->port));
	vsc_send_all(fd, "2", 1);
	SAFE(close(fd));
}
VSC_CASE(port_reuse_source_after_close, .sock_type = SOCK_STREAM,
	 .summary = "reconnect from the same source port while the peer holds the old socket",
	 .server = same_source_server, .client = same_source_client,
	 .tags = VSC_TAGS("vsock/virtio: remove socket from connected/bound list on shutdown"),
	 .known_bug = "port_reuse_after_shutdown");
