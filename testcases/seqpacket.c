/* seqpacket.c: SOCK_SEQPACKET keeps message boundaries and reports truncation. */
#include <string.h>
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
