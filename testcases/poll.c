/* poll.c: readiness at a connection's edges: peer shutdown, credit freed, both ways shut. */
#include <poll.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "vsc.h"
#include "vsc_sock.h"

#define CHUNK (64u << 10)

/* One bounded epoll_wait; returns the events of the single registered fd, 0 if none came. */
static unsigned int wait_event(int ep, int timeout_ms)
{
	struct epoll_event ev = { 0 };
	int n;

	do
		n = epoll_wait(ep, &ev, 1, timeout_ms);
	while (n < 0 && errno == EINTR);
	SAFE(n);
	return n ? ev.events : 0;
}

static int watch(int fd, unsigned int events)
{
	struct epoll_event ev = { .events = events, .data.fd = fd };
	int ep = SAFE(epoll_create1(EPOLL_CLOEXEC));

	SAFE(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev));
	return ep;
}

static void rdhup_server(const struct vsc_env *env)
{
	int listener, fd = vsc_accept_peer(SOCK_STREAM, env, &listener);
	int ep = watch(fd, EPOLLIN | EPOLLRDHUP | EPOLLET);
	unsigned int events;
	char byte;

	/* Registration reports nothing: the connection is quiet. */
	EXPECT_EQ(wait_event(ep, 0), 0);
	vsc_signal("watching");
	events = wait_event(ep, VSC_SETTLE_MS);
	EXPECT_TRUE(events & EPOLLRDHUP);
	EXPECT_TRUE(events & EPOLLIN);
	/* Only the peer's direction is shut: no hang-up yet. */
	EXPECT_EQ(events & (EPOLLHUP | EPOLLERR), 0);
	/* Edge-triggered: the same state is not reported twice. */
	EXPECT_EQ(wait_event(ep, 0), 0);
	EXPECT_EQ(SAFE(recv(fd, &byte, 1, 0)), 0);
	/* Our own SHUT_WR completes the pair: a new edge, now with EPOLLHUP. */
	SAFE(shutdown(fd, SHUT_WR));
	events = wait_event(ep, VSC_SETTLE_MS);
	EXPECT_TRUE(events & EPOLLHUP);
	EXPECT_TRUE(vsc_poll(fd, POLLOUT, 0) & POLLHUP);
	vsc_signal("done");
	SAFE(close(ep));
	SAFE(close(fd));
	SAFE(close(listener));
}

static void rdhup_client(const struct vsc_env *env)
{
	int fd = vsc_connect_peer(SOCK_STREAM, env);

	vsc_wait("watching");
	SAFE(shutdown(fd, SHUT_WR));
	vsc_wait("done");
	SAFE(close(fd));
}
VSC_CASE(poll_epollrdhup_then_hup, .sock_type = SOCK_STREAM,
	 .summary = "peer SHUT_WR: one EPOLLRDHUP|EPOLLIN edge, no EPOLLHUP until our SHUT_WR",
	 .server = rdhup_server, .client = rdhup_client);

static void local_rdwr_server(const struct vsc_env *env)
{
	int listener, fd = vsc_accept_peer(SOCK_STREAM, env, &listener);
	short revents;

	EXPECT_EQ(vsc_poll(fd, POLLIN | POLLRDHUP, 0), 0);
	SAFE(shutdown(fd, SHUT_RDWR));
	/* Both directions shut here, with the peer still open: POLLHUP at once, as on TCP. */
	revents = vsc_poll(fd, POLLIN | POLLOUT | POLLRDHUP, 0);
	EXPECT_TRUE(revents & POLLHUP);
	EXPECT_TRUE(revents & POLLRDHUP);
	EXPECT_TRUE(revents & POLLIN);
	EXPECT_EQ(revents & POLLOUT, 0);
	vsc_signal("shut");
	vsc_wait("done");
	SAFE(close(fd));
	SAFE(close(listener));
}

static void local_rdwr_client(const struct vsc_env *env)
{
	int fd = vsc_connect_peer(SOCK_STREAM, env);
	short revents;

	vsc_wait("shut");
	revents = vsc_poll(fd, POLLRDHUP, VSC_SETTLE_MS);
	EXPECT_TRUE(revents & POLLRDHUP);
	/* The peer's shutdown alone is no hang-up for us: our send side is still open. */
	EXPECT_EQ(vsc_poll(fd, POLLIN, 0) & POLLHUP, 0);
	vsc_signal("done");
	SAFE(close(fd));
}
VSC_CASE(poll_pollhup_after_shut_rdwr, .sock_type = SOCK_STREAM,
	 .summary = "SHUT_RDWR: POLLHUP|POLLRDHUP|POLLIN, no POLLOUT; the peer sees POLLRDHUP only",
	 .server = local_rdwr_server, .client = local_rdwr_client);

static void credit_server(const struct vsc_env *env)
{
	int listener, fd = vsc_accept_peer(SOCK_STREAM, env, &listener);
	uint64_t filled = vsc_recv_value("bytes queued"), drained = 0;
	char *buf = malloc(CHUNK);

	ASSERT_TRUE(buf != NULL);
	/*
	 * Read exactly what was queued, never more: the client's byte after EPOLLOUT may already
	 * be here (through a bridge the sender sees EPOLLOUT before the drain ends).
	 */
	while (drained < filled) {
		size_t want = filled - drained < CHUNK ? (size_t)(filled - drained) : CHUNK;
		ssize_t n = SAFE(recv(fd, buf, want, 0));

		ASSERT_TRUE(n > 0);
		drained += (uint64_t)n;
	}
	EXPECT_EQ(drained, filled);
	vsc_wait("done");
	free(buf);
	SAFE(close(fd));
	SAFE(close(listener));
}

static void credit_client(const struct vsc_env *env)
{
	int fd = vsc_connect_peer(SOCK_STREAM, env);
	int ep = watch(fd, EPOLLOUT | EPOLLET);
	char *buf = calloc(1, CHUNK);
	uint64_t queued = 0;
	unsigned int events;

	ASSERT_TRUE(buf != NULL);
	/* A connected socket with credit is writable at once. */
	EXPECT_TRUE(wait_event(ep, VSC_SETTLE_MS) & EPOLLOUT);
	/* Fill the peer's receive buffer until the credit is gone. */
	for (;;) {
		ssize_t n = send(fd, buf, CHUNK, MSG_DONTWAIT);

		if (n < 0 && errno == EAGAIN)
			break;
		ASSERT_TRUE(n > 0);
		queued += (uint64_t)n;
	}
	EXPECT_TRUE(queued > 0);
	EXPECT_EQ(vsc_poll(fd, POLLOUT, 0) & POLLOUT, 0);
	EXPECT_EQ(wait_event(ep, 0), 0);
	/* The reader drains everything; its credit update must wake us with EPOLLOUT. */
	vsc_send_value("bytes queued", queued);
	events = wait_event(ep, VSC_SETTLE_MS);
	EXPECT_TRUE(events & EPOLLOUT);
	EXPECT_EQ(events & (EPOLLERR | EPOLLHUP), 0);
	EXPECT_TRUE(SAFE(send(fd, buf, 1, MSG_DONTWAIT)) == 1);
	vsc_signal("done");
	free(buf);
	SAFE(close(ep));
	SAFE(close(fd));
}
VSC_CASE(poll_epollout_after_credit, .sock_type = SOCK_STREAM,
	 .summary = "no POLLOUT while the peer's buffer is full; EPOLLOUT once it drains",
	 .server = credit_server, .client = credit_client, .needs = VSC_NEED_SEND_CREDIT);
