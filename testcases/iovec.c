/* iovec.c: sendmsg/recvmsg with many iovecs, MSG_DONTWAIT and MSG_WAITALL on a stream. */
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "vsc.h"
#include "vsc_sock.h"

#define MANY_IOV 64

/*
 * Segment sizes, some of them empty. The receiver's segments are half the sender's, so the
 * byte stream crosses iovec boundaries at different places on each side.
 */
static size_t segment_size(int i, int shrink)
{
	return (i % 7 == 3) ? 0 : (size_t)((i * 37) % 251 + 1) >> shrink;
}

/* Lays n iovecs over buf to cover exactly `total` bytes; the last one takes what is left. */
static void carve(struct iovec *iov, int n, char *buf, int shrink, size_t total)
{
	size_t used = 0;
	int i;

	for (i = 0; i < n - 1; i++) {
		iov[i].iov_base = buf + used;
		iov[i].iov_len = segment_size(i, shrink);
		used += iov[i].iov_len;
	}
	ASSERT_TRUE(used <= total);
	iov[n - 1].iov_base = buf + used;
	iov[n - 1].iov_len = total - used;
}

static size_t layout_total(int n)
{
	size_t total = 0;
	int i;

	for (i = 0; i < n; i++)
		total += segment_size(i, 0);
	return total;
}

static void scatter_server(const struct vsc_env *env, int n)
{
	int listener, fd = vsc_accept_peer(SOCK_STREAM, env, &listener);
	size_t total = layout_total(n);
	struct iovec *iov = calloc((size_t)n, sizeof(*iov));
	char *buf = malloc(total), *expected = malloc(total);
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = (size_t)n };

	ASSERT_TRUE(iov && buf && expected);
	carve(iov, n, buf, 1, total);
	/* MSG_WAITALL: one call fills every scattered buffer, however the data was packetised. */
	EXPECT_EQ(SAFE(recvmsg(fd, &msg, MSG_WAITALL)), total);
	vsc_fill_pattern(expected, total, 0);
	EXPECT_TRUE(memcmp(buf, expected, total) == 0);
	free(expected);
	free(buf);
	free(iov);
	SAFE(close(fd));
	SAFE(close(listener));
}

static void gather_client(const struct vsc_env *env, int n)
{
	int fd = vsc_connect_peer(SOCK_STREAM, env);
	size_t total = layout_total(n);
	struct iovec *iov = calloc((size_t)n, sizeof(*iov));
	char *buf = malloc(total);
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = (size_t)n };

	ASSERT_TRUE(iov && buf);
	carve(iov, n, buf, 0, total);
	vsc_fill_pattern(buf, total, 0);
	/* The whole gathered message fits in the peer's buffer: one call sends it all. */
	EXPECT_EQ(SAFE(sendmsg(fd, &msg, 0)), total);
	free(buf);
	free(iov);
	SAFE(close(fd));
}

static void iov64_server(const struct vsc_env *env)
{
	scatter_server(env, MANY_IOV);
}

static void iov64_client(const struct vsc_env *env)
{
	gather_client(env, MANY_IOV);
}
VSC_CASE(iovec_64_segments, .sock_type = SOCK_STREAM,
	 .summary = "sendmsg from 64 iovecs (some empty), recvmsg into 64 others: bytes intact",
	 .server = iov64_server, .client = iov64_client);

static void iovmax_server(const struct vsc_env *env)
{
	scatter_server(env, IOV_MAX);
}

static void iovmax_client(const struct vsc_env *env)
{
	int fd;
	struct iovec *iov = calloc(IOV_MAX + 1, sizeof(*iov));
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = IOV_MAX + 1 };
	char byte = 0;
	int i;

	ASSERT_TRUE(iov != NULL);
	for (i = 0; i <= IOV_MAX; i++) {
		iov[i].iov_base = &byte;
		iov[i].iov_len = 1;
	}
	/* One iovec more than UIO_MAXIOV is refused by the socket layer, before vsock. */
	fd = SAFE(socket(AF_VSOCK, SOCK_STREAM, 0));
	EXPECT_ERRNO(sendmsg(fd, &msg, MSG_NOSIGNAL), EMSGSIZE);
	EXPECT_ERRNO(recvmsg(fd, &msg, MSG_DONTWAIT), EMSGSIZE);
	SAFE(close(fd));
	free(iov);
	gather_client(env, IOV_MAX);
}
VSC_CASE(iovec_iov_max, .sock_type = SOCK_STREAM,
	 .summary = "sendmsg/recvmsg with IOV_MAX iovecs work; IOV_MAX + 1 gives EMSGSIZE",
	 .server = iovmax_server, .client = iovmax_client);

static void dontwait_server(const struct vsc_env *env)
{
	int listener, fd = vsc_accept_peer(SOCK_STREAM, env, &listener);
	char a[3], b[5];
	struct iovec iov[2] = { { a, sizeof(a) }, { b, sizeof(b) } };
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 2 };

	/* A blocking socket: MSG_DONTWAIT alone makes this call non-blocking. */
	EXPECT_ERRNO(recvmsg(fd, &msg, MSG_DONTWAIT), EAGAIN);
	vsc_signal("checked empty");
	EXPECT_TRUE(vsc_poll(fd, POLLIN, VSC_SETTLE_MS) & POLLIN);
	EXPECT_EQ(SAFE(recvmsg(fd, &msg, MSG_DONTWAIT)), 8);
	EXPECT_TRUE(memcmp(a, "dat", 3) == 0 && memcmp(b, "a-in8", 5) == 0);
	EXPECT_ERRNO(recvmsg(fd, &msg, MSG_DONTWAIT), EAGAIN);
	vsc_signal("read");
	vsc_wait("filled");
	vsc_signal("done");
	SAFE(close(fd));
	SAFE(close(listener));
}

static void dontwait_client(const struct vsc_env *env)
{
	int fd = vsc_connect_peer(SOCK_STREAM, env);
	static char chunk[64u << 10];
	struct iovec iov[2] = { { chunk, sizeof(chunk) / 2 }, { chunk + sizeof(chunk) / 2,
							       sizeof(chunk) / 2 } };
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 2 };
	int partial = 0;

	vsc_wait("checked empty");
	vsc_send_all(fd, "data-in8", 8);
	vsc_wait("read");
	/* The peer reads nothing more: sendmsg(MSG_DONTWAIT) runs out of credit. */
	for (;;) {
		ssize_t n = sendmsg(fd, &msg, MSG_DONTWAIT);

		if (n < 0) {
			EXPECT_EQ(errno, EAGAIN);
			break;
		}
		ASSERT_TRUE(n > 0);
		/* A short count is how the last bit of credit is reported; EAGAIN comes after. */
		partial += (size_t)n < sizeof(chunk);
	}
	EXPECT_TRUE(partial <= 1);
	vsc_signal("filled");
	vsc_wait("done");
	SAFE(close(fd));
}
VSC_CASE(iovec_msg_dontwait, .sock_type = SOCK_STREAM,
	 .summary = "MSG_DONTWAIT: recvmsg EAGAIN when empty, sendmsg EAGAIN without credit",
	 .server = dontwait_server, .client = dontwait_client, .needs = VSC_NEED_SEND_CREDIT);

#define WAITALL_LEN 4096

static void waitall_server(const struct vsc_env *env)
{
	int listener, fd = vsc_accept_peer(SOCK_STREAM, env, &listener);
	char buf[WAITALL_LEN] = { 0 }, expected[WAITALL_LEN];

	vsc_wait("first part");
	EXPECT_TRUE(vsc_poll(fd, POLLIN, VSC_SETTLE_MS) & POLLIN);
	/* Part of the data is here; a plain recv would return it now. */
	EXPECT_EQ(SAFE(recv(fd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT)), WAITALL_LEN / 4);
	vsc_signal("peeked");
	EXPECT_EQ(SAFE(recv(fd, buf, sizeof(buf), MSG_WAITALL)), WAITALL_LEN);
	vsc_fill_pattern(expected, sizeof(expected), 0);
	EXPECT_TRUE(memcmp(buf, expected, sizeof(buf)) == 0);
	SAFE(close(fd));
	SAFE(close(listener));
}

static void waitall_client(const struct vsc_env *env)
{
	int fd = vsc_connect_peer(SOCK_STREAM, env);
	char buf[WAITALL_LEN];
	size_t off;

	vsc_fill_pattern(buf, sizeof(buf), 0);
	vsc_send_all(fd, buf, WAITALL_LEN / 4);
	vsc_signal("first part");
	vsc_wait("peeked");
	/* The rest in small pieces: MSG_WAITALL must keep waiting across each of them. */
	for (off = WAITALL_LEN / 4; off < WAITALL_LEN; off += WAITALL_LEN / 8)
		vsc_send_all(fd, buf + off, WAITALL_LEN / 8);
	SAFE(close(fd));
}
VSC_CASE(iovec_msg_waitall, .sock_type = SOCK_STREAM,
	 .summary = "recv(MSG_WAITALL) with a quarter queued waits for the rest, sent later",
	 .server = waitall_server, .client = waitall_client);

static void waitall_eof_server(const struct vsc_env *env)
{
	int listener, fd = vsc_accept_peer(SOCK_STREAM, env, &listener);
	char buf[WAITALL_LEN];

	/* The peer sends 100 bytes and closes: MSG_WAITALL returns what there is, then EOF. */
	EXPECT_EQ(SAFE(recv(fd, buf, sizeof(buf), MSG_WAITALL)), 100);
	EXPECT_EQ(SAFE(recv(fd, buf, sizeof(buf), MSG_WAITALL)), 0);
	SAFE(close(fd));
	SAFE(close(listener));
}

static void waitall_eof_client(const struct vsc_env *env)
{
	int fd = vsc_connect_peer(SOCK_STREAM, env);
	char buf[100] = { 0 };

	vsc_send_all(fd, buf, sizeof(buf));
	SAFE(close(fd));
}
VSC_CASE(iovec_msg_waitall_eof, .sock_type = SOCK_STREAM,
	 .summary = "recv(MSG_WAITALL) returns a short count when the peer closes, then 0",
	 .server = waitall_eof_server, .client = waitall_eof_client);
