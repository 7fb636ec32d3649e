/* seqpacket.c: SOCK_SEQPACKET: boundaries, truncation, size limit, timeouts, peeking, faults. */
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "vsc.h"
#include "vsc_sock.h"

static const size_t message_sizes[] = { 1, 7, 100, 4096, 4097, 65536, 200000 };
#define MESSAGES (sizeof(message_sizes) / sizeof(message_sizes[0]))
#define LARGEST 200000

static char message[LARGEST];

static void bounds_server(const struct vsc_env *env)
{
	int listener, fd = vsc_accept_peer(SOCK_SEQPACKET, env, &listener);
	static char buf[LARGEST + 1];
	size_t i;

	for (i = 0; i < MESSAGES; i++) {
		struct iovec iov = { buf, sizeof(buf) };
		struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
		ssize_t n = SAFE(recvmsg(fd, &msg, 0));

		EXPECT_EQ(n, message_sizes[i]);
		EXPECT_EQ(msg.msg_flags & MSG_TRUNC, 0);
		vsc_fill_pattern(message, message_sizes[i], i);
		EXPECT_TRUE(memcmp(buf, message, message_sizes[i]) == 0);
	}
	vsc_signal("done");
	SAFE(close(fd));
	SAFE(close(listener));
}

static void bounds_client(const struct vsc_env *env)
{
	int fd = vsc_connect_peer(SOCK_SEQPACKET, env);
	size_t i;

	for (i = 0; i < MESSAGES; i++) {
		vsc_fill_pattern(message, message_sizes[i], i);
		EXPECT_EQ(SAFE(send(fd, message, message_sizes[i], 0)), message_sizes[i]);
	}
	vsc_wait("done");
	SAFE(close(fd));
}
VSC_CASE(seqpacket_msg_bounds, .sock_type = SOCK_SEQPACKET,
	 .summary = "messages of 1 B to 195 KiB arrive one per recvmsg, whole and unmerged",
	 .server = bounds_server, .client = bounds_client, .needs = VSC_NEED_SEQPACKET,
	 .timeout_s = 20,
	 .tags = VSC_TAGS("vsock_test 6"));

static void trunc_server(const struct vsc_env *env)
{
	int listener, fd = vsc_accept_peer(SOCK_SEQPACKET, env, &listener);
	char buf[16];
	struct iovec iov = { buf, 10 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };

	/* MSG_TRUNC makes recv return the message's real length. */
	EXPECT_EQ(SAFE(recvmsg(fd, &msg, MSG_TRUNC)), 100);
	EXPECT_TRUE(msg.msg_flags & MSG_TRUNC);
	EXPECT_TRUE(memcmp(buf, "0123456789", 10) == 0);
	/* The rest of that message is gone: the next read is the next message. */
	msg.msg_flags = 0;
	iov.iov_len = sizeof(buf);
	EXPECT_EQ(SAFE(recvmsg(fd, &msg, 0)), 4);
	EXPECT_TRUE(memcmp(buf, "next", 4) == 0);
	EXPECT_EQ(msg.msg_flags & MSG_TRUNC, 0);
	vsc_signal("done");
	SAFE(close(fd));
	SAFE(close(listener));
}

static void trunc_client(const struct vsc_env *env)
{
	char hundred[100];
	int fd, i;

	for (i = 0; i < 100; i++)
		hundred[i] = (char)('0' + i % 10);
	fd = vsc_connect_peer(SOCK_SEQPACKET, env);
	EXPECT_EQ(SAFE(send(fd, hundred, sizeof(hundred), 0)), 100);
	EXPECT_EQ(SAFE(send(fd, "next", 4, 0)), 4);
	vsc_wait("done");
	SAFE(close(fd));
}
VSC_CASE(seqpacket_msg_trunc, .sock_type = SOCK_SEQPACKET,
	 .summary = "a message larger than the buffer sets MSG_TRUNC; the rest is dropped",
	 .server = trunc_server, .client = trunc_client, .needs = VSC_NEED_SEQPACKET,
	 .tags = VSC_TAGS("vsock_test 7"));

/* Timeouts: long enough to be measured, short enough for a slow TCG guest. */
#define TIMEOUT_MS 200
#define TIMEOUT_EARLY_MS 20	/* the kernel rounds to jiffies; it may wake a tick early */
#define TIMEOUT_LATE_MS 2000	/* TCG guests are slow, but the wait must still end */

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void set_timeout_ms(int fd, int optname, int ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };

	SAFE(setsockopt(fd, SOL_SOCKET, optname, &tv, sizeof(tv)));
}

/* A blocked call that timed out must have waited about TIMEOUT_MS. */
static void expect_waited(const char *call, long long elapsed_ms)
{
	if (elapsed_ms < TIMEOUT_MS - TIMEOUT_EARLY_MS || elapsed_ms > TIMEOUT_MS + TIMEOUT_LATE_MS)
		vsc_fail_at(__FILE__, __LINE__, "%s gave up after %lld ms, timeout %d ms",
			      call, elapsed_ms, TIMEOUT_MS);
}

static void rcvtimeo_server(const struct vsc_env *env)
{
	int listener, fd = vsc_accept_peer(SOCK_SEQPACKET, env, &listener);

	vsc_wait("timed out");
	EXPECT_EQ(SAFE(send(fd, "late", 4, 0)), 4);
	vsc_wait("done");
	SAFE(close(fd));
	SAFE(close(listener));
}

static void rcvtimeo_client(const struct vsc_env *env)
{
	int fd = vsc_connect_peer(SOCK_SEQPACKET, env);
	long long start;
	char buf[8];

	set_timeout_ms(fd, SO_RCVTIMEO, TIMEOUT_MS);
	start = now_ms();
	EXPECT_ERRNO(recv(fd, buf, sizeof(buf), 0), EAGAIN);
	expect_waited("recv()", now_ms() - start);
	/* The timeout ended one wait, not the connection. */
	vsc_signal("timed out");
	EXPECT_EQ(SAFE(recv(fd, buf, sizeof(buf), 0)), 4);
	EXPECT_TRUE(memcmp(buf, "late", 4) == 0);
	vsc_signal("done");
	SAFE(close(fd));
}
VSC_CASE(seqpacket_rcvtimeo, .sock_type = SOCK_SEQPACKET,
	 .summary = "recv with SO_RCVTIMEO and nothing queued gives EAGAIN after the timeout",
	 .server = rcvtimeo_server, .client = rcvtimeo_client, .needs = VSC_NEED_SEQPACKET,
	 .tags = VSC_TAGS("vsock_test 8"));

/* Four of these fill the peer's default 256 KiB receive buffer exactly. */
#define FILL_MESSAGE (64u << 10)
#define FILL_MESSAGES 4

static char fill[FILL_MESSAGE + 1], fill_expected[FILL_MESSAGE];

static void expect_fill_message(int fd, uint64_t index)
{
	EXPECT_EQ(SAFE(recv(fd, fill, sizeof(fill), MSG_DONTWAIT)), FILL_MESSAGE);
	vsc_fill_pattern(fill_expected, FILL_MESSAGE, index);
	EXPECT_TRUE(memcmp(fill, fill_expected, FILL_MESSAGE) == 0);
}

static void sndtimeo_server(const struct vsc_env *env)
{
	int listener, fd = vsc_accept_peer(SOCK_SEQPACKET, env, &listener);
	uint64_t i;

	vsc_wait("timed out");
	expect_fill_message(fd, 0);
	vsc_wait("sent again");
	/* The timed-out send left nothing behind: the next message is the one sent after it. */
	for (i = 1; i <= FILL_MESSAGES; i++) {
		EXPECT_TRUE(vsc_poll(fd, POLLIN, VSC_SETTLE_MS) & POLLIN);
		expect_fill_message(fd, i);
	}
	EXPECT_ERRNO(recv(fd, fill, sizeof(fill), MSG_DONTWAIT), EAGAIN);
	vsc_signal("done");
	SAFE(close(fd));
	SAFE(close(listener));
}

static void sndtimeo_client(const struct vsc_env *env)
{
	int fd = vsc_connect_peer(SOCK_SEQPACKET, env);
	long long start;
	uint64_t i;

	for (i = 0; i < FILL_MESSAGES; i++) {
		vsc_fill_pattern(fill, FILL_MESSAGE, i);
		EXPECT_EQ(SAFE(send(fd, fill, FILL_MESSAGE, MSG_DONTWAIT)), FILL_MESSAGE);
	}
	/* The peer reads nothing yet, so its credit is used up. */
	vsc_fill_pattern(fill, FILL_MESSAGE, FILL_MESSAGES);
	EXPECT_ERRNO(send(fd, fill, FILL_MESSAGE, MSG_DONTWAIT), EAGAIN);
	set_timeout_ms(fd, SO_SNDTIMEO, TIMEOUT_MS);
	start = now_ms();
	EXPECT_ERRNO(send(fd, fill, FILL_MESSAGE, 0), EAGAIN);
	expect_waited("send()", now_ms() - start);
	vsc_signal("timed out");
	/* No timeout now: the peer's read returns credit and this send completes. */
	set_timeout_ms(fd, SO_SNDTIMEO, 0);
	EXPECT_EQ(SAFE(send(fd, fill, FILL_MESSAGE, 0)), FILL_MESSAGE);
	vsc_signal("sent again");
	vsc_wait("done");
	SAFE(close(fd));
}
VSC_CASE(seqpacket_sndtimeo, .sock_type = SOCK_SEQPACKET,
	 .summary = "send with SO_SNDTIMEO to a full peer: EAGAIN after the timeout, nothing sent",
	 .server = sndtimeo_server, .client = sndtimeo_client, .needs = VSC_NEED_SEQPACKET,
	 .tags = VSC_TAGS("vsock_test 8"));

static void big_server(const struct vsc_env *env)
{
	int listener, fd = vsc_accept_peer(SOCK_SEQPACKET, env, &listener);
	uint64_t size = vsc_recv_value("buffer size");
	char *buf = malloc(size + 1), *expected = malloc(size);

	ASSERT_TRUE(buf != NULL && expected != NULL);
	/* Nothing of the refused message arrived: first the largest allowed one, then "after". */
	EXPECT_EQ(SAFE(recv(fd, buf, size + 1, 0)), size);
	vsc_fill_pattern(expected, size, 0);
	EXPECT_TRUE(memcmp(buf, expected, size) == 0);
	vsc_wait("sent");
	EXPECT_TRUE(vsc_poll(fd, POLLIN, VSC_SETTLE_MS) & POLLIN);
	EXPECT_EQ(SAFE(recv(fd, buf, size + 1, MSG_DONTWAIT)), 5);
	EXPECT_TRUE(memcmp(buf, "after", 5) == 0);
	EXPECT_ERRNO(recv(fd, buf, size + 1, MSG_DONTWAIT), EAGAIN);
	vsc_signal("done");
	free(buf);
	free(expected);
	SAFE(close(fd));
	SAFE(close(listener));
}

static void big_client(const struct vsc_env *env)
{
	int fd = vsc_connect_peer(SOCK_SEQPACKET, env);
	uint64_t size = 0;
	socklen_t len = sizeof(size);
	char *buf;

	/* Both ends keep the default size, so it bounds the message from either side. */
	SAFE(getsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_BUFFER_SIZE, &size, &len));
	vsc_send_value("buffer size", size);
	buf = malloc(size + 1);
	ASSERT_TRUE(buf != NULL);
	vsc_fill_pattern(buf, size + 1, 0);
	EXPECT_ERRNO(send(fd, buf, size + 1, 0),
		     vsc_expected_errno("seqpacket_send_over_buffer_size"));
	EXPECT_EQ(SAFE(send(fd, buf, size, 0)), size);
	/* That took all the credit: this send waits until the peer has read it. */
	EXPECT_EQ(SAFE(send(fd, "after", 5, 0)), 5);
	vsc_signal("sent");
	vsc_wait("done");
	free(buf);
	SAFE(close(fd));
}
VSC_CASE(seqpacket_message_over_buffer_size, .sock_type = SOCK_SEQPACKET,
	 .summary = "a message 1 byte over the buffer size is refused; the connection goes on",
	 .server = big_server, .client = big_client, .needs = VSC_NEED_SEQPACKET,
	 .tags = VSC_TAGS("vsock_test 11", "vsock: return errors other than -ENOMEM to socket"));

#define FAULT_PAGES 3

static void fault_server(const struct vsc_env *env)
{
	int listener, fd = vsc_accept_peer(SOCK_SEQPACKET, env, &listener);
	size_t page = (size_t)getpagesize(), size = FAULT_PAGES * page;
	char *holed = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *buf = malloc(size + 1), *expected = malloc(size);

	ASSERT_TRUE(holed != MAP_FAILED && buf != NULL && expected != NULL);
	/* The copy of the first message succeeds for one page, then faults in the hole. */
	SAFE(munmap(holed + page, page));
	vsc_wait("sent");
	EXPECT_ERRNO(recv(fd, holed, size, 0), vsc_expected_errno("recv_into_bad_buffer"));
	/* The failed message is dropped whole: the next read is the second message, intact. */
	EXPECT_TRUE(vsc_poll(fd, POLLIN, VSC_SETTLE_MS) & POLLIN);
	EXPECT_EQ(SAFE(recv(fd, buf, size + 1, MSG_DONTWAIT)), size);
	vsc_fill_pattern(expected, size, 1);
	EXPECT_TRUE(memcmp(buf, expected, size) == 0);
	EXPECT_ERRNO(recv(fd, buf, size + 1, MSG_DONTWAIT), EAGAIN);
	vsc_signal("done");
	SAFE(munmap(holed, size));
	free(buf);
	free(expected);
	SAFE(close(fd));
	SAFE(close(listener));
}

static void fault_client(const struct vsc_env *env)
{
	int fd = vsc_connect_peer(SOCK_SEQPACKET, env);
	size_t size = FAULT_PAGES * (size_t)getpagesize();
	char *buf = malloc(size);
	uint64_t i;

	ASSERT_TRUE(buf != NULL);
	for (i = 0; i < 2; i++) {
		vsc_fill_pattern(buf, size, i);
		EXPECT_EQ(SAFE(send(fd, buf, size, 0)), size);
	}
	vsc_signal("sent");
	vsc_wait("done");
	free(buf);
	SAFE(close(fd));
}
VSC_CASE(seqpacket_recv_fault_drops_message, .sock_type = SOCK_SEQPACKET,
	 .summary = "recv into a holed buffer fails; that message is dropped, the next arrives",
	 .server = fault_server, .client = fault_client, .needs = VSC_NEED_SEQPACKET,
	 .tags = VSC_TAGS("vsock_test 9", "vsock: return errors other than -ENOMEM to socket"));

#define NULL_BUF_BYTES 512

static void null_buf_server(const struct vsc_env *env)
{
	int listener, fd = vsc_accept_peer(SOCK_SEQPACKET, env, &listener);
	char buf[NULL_BUF_BYTES];
	uint64_t i;

	for (i = 0; i < 2; i++) {
		vsc_fill_pattern(buf, sizeof(buf), i);
		EXPECT_EQ(SAFE(send(fd, buf, sizeof(buf), 0)), sizeof(buf));
		vsc_signal("sent");
		vsc_wait("read");
	}
	SAFE(close(fd));
	SAFE(close(listener));
}

static void null_buf_client(const struct vsc_env *env)
{
	int fd = vsc_connect_peer(SOCK_SEQPACKET, env);
	char buf[NULL_BUF_BYTES + 1], expected[NULL_BUF_BYTES];

	vsc_wait("sent");
	EXPECT_TRUE(vsc_poll(fd, POLLIN, VSC_SETTLE_MS) & POLLIN);
	EXPECT_ERRNO(recv(fd, NULL, NULL_BUF_BYTES, 0), vsc_expected_errno("recv_into_bad_buffer"));
	/* A message that could not be copied is dropped, not kept for another try. */
	EXPECT_ERRNO(recv(fd, buf, sizeof(buf), MSG_DONTWAIT), EAGAIN);
	vsc_signal("read");
	vsc_wait("sent");
	EXPECT_TRUE(vsc_poll(fd, POLLIN, VSC_SETTLE_MS) & POLLIN);
	EXPECT_EQ(SAFE(recv(fd, buf, sizeof(buf), MSG_DONTWAIT)), NULL_BUF_BYTES);
	vsc_fill_pattern(expected, sizeof(expected), 1);
	EXPECT_TRUE(memcmp(buf, expected, sizeof(expected)) == 0);
	vsc_signal("read");
	SAFE(close(fd));
}
VSC_CASE(seqpacket_recv_null_buffer, .sock_type = SOCK_SEQPACKET,
	 .summary = "recv into a NULL buffer fails and drops that message; later messages arrive",
	 .server = null_buf_server, .client = null_buf_client, .needs = VSC_NEED_SEQPACKET,
	 .tags = VSC_TAGS("vsock_test 13", "vsock: return errors other than -ENOMEM to socket"));

#define PEEK_BYTES 64

static void peek_sender(const struct vsc_env *env)
{
	int fd = vsc_connect_peer(SOCK_SEQPACKET, env);
	char first[PEEK_BYTES];

	vsc_fill_pattern(first, sizeof(first), 0);
	vsc_wait("peeked at nothing");
	EXPECT_EQ(SAFE(send(fd, first, sizeof(first), 0)), PEEK_BYTES);
	EXPECT_EQ(SAFE(send(fd, "second", 6, 0)), 6);
	vsc_wait("done");
	SAFE(close(fd));
}

static ssize_t recv_flags(int fd, void *buf, size_t len, int flags, int *msg_flags)
{
	struct iovec iov = { buf, len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n = SAFE(recvmsg(fd, &msg, flags));

	*msg_flags = msg.msg_flags;
	return n;
}

static void peek_receiver(const struct vsc_env *env)
{
	int listener, fd = vsc_accept_peer(SOCK_SEQPACKET, env, &listener);
	char half[PEEK_BYTES / 2], whole[2 * PEEK_BYTES], data[2 * PEEK_BYTES];
	char expected[PEEK_BYTES];
	int flags;

	vsc_fill_pattern(expected, sizeof(expected), 0);
	EXPECT_ERRNO(recv(fd, whole, sizeof(whole), MSG_PEEK | MSG_DONTWAIT), EAGAIN);
	vsc_signal("peeked at nothing");
	EXPECT_TRUE(vsc_poll(fd, POLLIN, VSC_SETTLE_MS) & POLLIN);
	/* A short peek is truncated like a short read ... */
	EXPECT_EQ(recv_flags(fd, half, sizeof(half), MSG_PEEK, &flags), sizeof(half));
	EXPECT_TRUE(flags & MSG_TRUNC);
	EXPECT_TRUE(memcmp(half, expected, sizeof(half)) == 0);
	/* ... a long one stops at the end of the first message ... */
	EXPECT_EQ(recv_flags(fd, whole, sizeof(whole), MSG_PEEK, &flags), PEEK_BYTES);
	EXPECT_EQ(flags & MSG_TRUNC, 0);
	EXPECT_TRUE(memcmp(whole, expected, PEEK_BYTES) == 0);
	/* ... MSG_TRUNC reports the message's real length ... */
	EXPECT_EQ(recv_flags(fd, half, sizeof(half), MSG_PEEK | MSG_TRUNC, &flags), PEEK_BYTES);
	/* ... and none of them consumed it. */
	EXPECT_EQ(recv_flags(fd, data, sizeof(data), 0, &flags), PEEK_BYTES);
	EXPECT_TRUE(memcmp(data, expected, PEEK_BYTES) == 0);
	EXPECT_TRUE(vsc_poll(fd, POLLIN, VSC_SETTLE_MS) & POLLIN);
	EXPECT_EQ(recv_flags(fd, data, sizeof(data), MSG_PEEK | MSG_DONTWAIT, &flags), 6);
	EXPECT_EQ(recv_flags(fd, data, sizeof(data), MSG_DONTWAIT, &flags), 6);
	EXPECT_TRUE(memcmp(data, "second", 6) == 0);
	EXPECT_ERRNO(recv(fd, data, sizeof(data), MSG_PEEK | MSG_DONTWAIT), EAGAIN);
	vsc_signal("done");
	SAFE(close(fd));
	SAFE(close(listener));
}
/* SEQPACKET MSG_PEEK: "virtio/vsock: support MSG_PEEK for SOCK_SEQPACKET" (6.6). */
VSC_CASE(seqpacket_msg_peek, .sock_type = SOCK_SEQPACKET,
	 .summary = "MSG_PEEK shows one message at a time, with MSG_TRUNC rules, consuming nothing",
	 .server = peek_receiver, .client = peek_sender, .needs = VSC_NEED_SEQPACKET,
	 .min_kver = "6.6",
	 .tags = VSC_TAGS("vsock_test 15"));
