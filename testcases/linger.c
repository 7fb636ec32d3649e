/* linger.c: close() with SO_LINGER: it neither crashes nor waits for what the peer has not read. */
#include <linux/sockios.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "vsc.h"
#include "vsc_sock.h"

static void set_linger(int fd, int seconds)
{
	struct linger linger = { .l_onoff = 1, .l_linger = seconds };

	SAFE(setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, sizeof(linger)));
}

static void wait_eof_server(const struct vsc_env *env)
{
	int listener, fd = vsc_accept_peer(SOCK_STREAM, env, &listener);
	char byte;

	ASSERT_TRUE(vsc_poll(fd, POLLIN, VSC_SETTLE_MS) & POLLIN);
	EXPECT_EQ(SAFE(recv(fd, &byte, 1, MSG_DONTWAIT)), 0);
	SAFE(close(fd));
	SAFE(close(listener));
}

static void linger_close_client(const struct vsc_env *env)
{
	int fd = vsc_connect_peer(SOCK_STREAM, env);

	set_linger(fd, 1);
	/* Lingering comes after the transport's release: the socket must still be whole then. */
	SAFE(close(fd));
}
VSC_CASE(linger_close_connected, .sock_type = SOCK_STREAM,
	 .summary = "close() of a connected socket with SO_LINGER returns and the peer sees EOF",
	 .server = wait_eof_server, .client = linger_close_client,
	 .tags = VSC_TAGS("vsock_test 31", "vsock: Orphan socket after transport release"));

#define LINGER_S 3

static void unread_server(const struct vsc_env *env)
{
	int listener, fd = vsc_accept_peer(SOCK_STREAM, env, &listener);

	/* The client's byte stays unread until the client has closed. */
	vsc_wait("closed");
	SAFE(close(fd));
	SAFE(close(listener));
}

static void unread_client(const struct vsc_env *env)
{
	int fd = vsc_connect_peer(SOCK_STREAM, env), unsent = -1, i;
	struct timespec start;
	long took_ms;

	set_linger(fd, LINGER_S);
	vsc_send_all(fd, "u", 1);
	/* Lingering waits for unsent bytes only: first make sure there are none. */
	for (i = 0; i < VSC_SETTLE_MS / 10; i++) {
		SAFE(ioctl(fd, SIOCOUTQ, &unsent));
		if (unsent == 0)
			break;
		vsc_poll(fd, 0, 10);
	}
	ASSERT_EQ(unsent, 0);
	clock_gettime(CLOCK_MONOTONIC, &start);
	SAFE(close(fd));
	took_ms = vsc_elapsed_ms(&start);
	vsc_signal("closed");
	if (took_ms >= LINGER_S * 1000 / 2)
		vsc_fail_at(__FILE__, __LINE__,
			      "close() lingered %ld ms over a byte already sent (SO_LINGER %d s)",
			      took_ms, LINGER_S);
}
/* Before 6.16 lingering waited for the peer to handle the data, so unread data held close(). */
VSC_CASE(linger_close_unread, .sock_type = SOCK_STREAM,
	 .summary = "close() with SO_LINGER does not wait for sent data the peer has not read",
	 .server = unread_server, .client = unread_client, .min_kver = "6.16",
	 .tags = VSC_TAGS("vsock_test 32", "vsock: Linger on unsent data"));
