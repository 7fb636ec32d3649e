/* listen.c: listen() and accept() on sockets in the wrong state. */
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include "vsc.h"
#include "vsc_sock.h"

static void without_bind(const struct vsc_env *env)
{
	int fd = SAFE(socket(AF_VSOCK, SOCK_STREAM, 0));

	(void)env;
	/* Unlike TCP, vsock_listen() does not bind automatically. */
	EXPECT_ERRNO(listen(fd, 1), EINVAL);
	SAFE(close(fd));
}
VSC_CASE(listen_without_bind, .sock_type = SOCK_STREAM,
	 .summary = "listen() on an unbound socket fails with EINVAL", .run = without_bind);

static void accept_not_listening(const struct vsc_env *env)
{
	int unbound = SAFE(socket(AF_VSOCK, SOCK_STREAM, 0));
	int bound = SAFE(socket(AF_VSOCK, SOCK_STREAM, 0));

	EXPECT_ERRNO(accept(unbound, NULL, NULL), EINVAL);
	SAFE(vsc_bind(bound, VMADDR_CID_ANY, env->port));
	EXPECT_ERRNO(accept(bound, NULL, NULL), EINVAL);
	SAFE(close(unbound));
	SAFE(close(bound));
}
VSC_CASE(accept_not_listening, .sock_type = SOCK_STREAM,
	 .summary = "accept() on a socket that is not listening fails with EINVAL",
	 .run = accept_not_listening);

static void connect_on_listener(const struct vsc_env *env)
{
	int fd = vsc_listen(SOCK_STREAM, env->port, 1);

	EXPECT_ERRNO(vsc_connect(fd, env->peer_cid, env->port + 1), EINVAL);
	SAFE(close(fd));
}
VSC_CASE(connect_on_listening_socket, .sock_type = SOCK_STREAM,
	 .summary = "connect() on a listening socket fails with EINVAL", .run = connect_on_listener);

static void accept_nonblocking_empty(const struct vsc_env *env)
{
	int fd = vsc_listen(SOCK_STREAM, env->port, 1);

	SAFE(fcntl(fd, F_SETFL, O_NONBLOCK));
	EXPECT_ERRNO(accept(fd, NULL, NULL), EAGAIN);
	EXPECT_EQ(vsc_poll(fd, POLLIN, 0), 0);
	SAFE(close(fd));
}
VSC_CASE(accept_nonblocking_empty_queue, .sock_type = SOCK_STREAM,
	 .summary = "non-blocking accept() with nothing queued fails with EAGAIN; poll shows no POLLIN",
	 .run = accept_nonblocking_empty);
