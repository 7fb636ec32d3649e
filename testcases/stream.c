/* stream.c: data over a SOCK_STREAM connection: volume, integrity, peeking, flags, faults. */
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vsc.h"
#include "vsc_sock.h"

#define BULK_BYTES (16u << 20)
#define BULK_CHUNK (64u << 10)

static void bulk_server(const struct vsc_env *env)
{
	char *buf = malloc(BULK_CHUNK);
	uint64_t received = 0;
	uint32_t crc = 0;
	int listener, fd;

	ASSERT_TRUE(buf != NULL);
	fd = vsc_accept_peer(SOCK_STREAM, env, &listener);
	for (;;) {
		ssize_t n = SAFE(recv(fd, buf, BULK_CHUNK, 0));

		if (n == 0)
			break;
		crc = vsc_crc32(crc, buf, (size_t)n);
		received += (uint64_t)n;
	}
	EXPECT_EQ(received, vsc_recv_value("bytes sent"));
	EXPECT_EQ(crc, vsc_recv_value("crc32 sent"));
	SAFE(close(fd));
	SAFE(close(listener));
	free(buf);
}

static void bulk_client(const struct vsc_env *env)
{
	char *buf = malloc(BULK_CHUNK);
	uint32_t crc = 0;
	uint64_t sent;
	int fd;

	ASSERT_TRUE(buf != NULL);
	fd = vsc_connect_peer(SOCK_STREAM, env);
	for (sent = 0; sent < BULK_BYTES; sent += BULK_CHUNK) {
		vsc_fill_pattern(buf, BULK_CHUNK, sent);
		crc = vsc_crc32(crc, buf, BULK_CHUNK);
		vsc_send_all(fd, buf, BULK_CHUNK);
	}
	SAFE(shutdown(fd, SHUT_WR));
	vsc_send_value("bytes sent", sent);
	vsc_send_value("crc32 sent", crc);
	SAFE(close(fd));
	free(buf);
}
VSC_CASE(stream_16mib_checksum, .sock_type = SOCK_STREAM,
	 .summary = "16 MiB in 64 KiB writes arrive complete and in order (CRC-32 compared)",
	 .server = bulk_server, .client = bulk_client, .timeout_s = 60);

static void peek_server(const struct vsc_env *env)
{
	int listener, fd = vsc_accept_peer(SOCK_STREAM, env, &listener);

	vsc_send_all(fd, "peekaboo", 8);
	vsc_wait("done");
	SAFE(close(fd));
	SAFE(close(listener));
}

static void peek_client(const struct vsc_env *env)
{
	char first[8] = { 0 }, second[8] = { 0 }, data[8] = { 0 };
	int fd = vsc_connect_peer(SOCK_STREAM, env);

	EXPECT_TRUE(vsc_poll(fd, POLLIN, 5000) & POLLIN);
	EXPECT_EQ(SAFE(recv(fd, first, sizeof(first), MSG_PEEK | MSG_WAITALL)), 8);
	EXPECT_EQ(SAFE(recv(fd, second, 4, MSG_PEEK)), 4);
	EXPECT_EQ(SAFE(recv(fd, data, sizeof(data), MSG_WAITALL)), 8);
	EXPECT_TRUE(memcmp(first, "peekaboo", 8) == 0);
	EXPECT_TRUE(memcmp(second, "peek", 4) == 0);
	EXPECT_TRUE(memcmp(data, "peekaboo", 8) == 0);
	/* Peeking consumed nothing and reading consumed everything. */
	EXPECT_ERRNO(recv(fd, data, sizeof(data), MSG_DONTWAIT), EAGAIN);
	vsc_signal("done");
	SAFE(close(fd));
}
VSC_CASE(stream_msg_peek, .sock_type = SOCK_STREAM,
	 .summary = "MSG_PEEK shows queued bytes without consuming them",
	 .server = peek_server, .client = peek_client,
	 .tags = VSC_TAGS("vsock_test 5",
			  "vsock/virtio: fix MSG_PEEK ignoring skb offset when calculating bytes to copy"));

static void oob_server(const struct vsc_env *env)
{
	int listener, fd = vsc_accept_peer(SOCK_STREAM, env, &listener);

	vsc_wait("done");
	SAFE(close(fd));
	SAFE(close(listener));
}

static void oob_client(const struct vsc_env *env)
{
	int fd = vsc_connect_peer(SOCK_STREAM, env);
	char byte = 'o';

	EXPECT_ERRNO(send(fd, &byte, 1, MSG_OOB | MSG_NOSIGNAL), EOPNOTSUPP);
	EXPECT_ERRNO(recv(fd, &byte, 1, MSG_OOB | MSG_DONTWAIT), EOPNOTSUPP);
	vsc_signal("done");
	SAFE(close(fd));
}
VSC_CASE(stream_msg_oob, .sock_type = SOCK_STREAM,
	 .summary = "MSG_OOB is refused with EOPNOTSUPP for send and recv",
	 .server = oob_server, .client = oob_client);

static void drain_server(const struct vsc_env *env)
{
	char buf[64], expected[64];
	int listener, fd = vsc_accept_peer(SOCK_STREAM, env, &listener);

	vsc_wait("closed");
	vsc_fill_pattern(expected, sizeof(expected), 0);
	vsc_recv_all(fd, buf, sizeof(buf));
	EXPECT_TRUE(memcmp(buf, expected, sizeof(buf)) == 0);
	EXPECT_EQ(SAFE(recv(fd, buf, sizeof(buf), 0)), 0);
	SAFE(close(fd));
	SAFE(close(listener));
}

static void drain_client(const struct vsc_env *env)
{
	char buf[64];
	int fd = vsc_connect_peer(SOCK_STREAM, env);

	vsc_fill_pattern(buf, sizeof(buf), 0);
	vsc_send_all(fd, buf, 20);
	vsc_send_all(fd, buf + 20, sizeof(buf) - 20);
	SAFE(close(fd));
	vsc_signal("closed");
}
VSC_CASE(stream_data_survives_close, .sock_type = SOCK_STREAM,
	 .summary = "bytes sent before close are still read by the peer, then EOF",
	 .server = drain_server, .client = drain_client);

#define NULL_BUF_BYTES 512

static void null_buf_server(const struct vsc_env *env)
{
	int listener, fd = vsc_accept_peer(SOCK_STREAM, env, &listener);
	char buf[NULL_BUF_BYTES];

	vsc_fill_pattern(buf, sizeof(buf), 0);
	vsc_send_all(fd, buf, sizeof(buf));
	vsc_signal("sent");
	vsc_wait("done");
	SAFE(close(fd));
	SAFE(close(listener));
}

static void null_buf_client(const struct vsc_env *env)
{
	int fd = vsc_connect_peer(SOCK_STREAM, env);
	char buf[NULL_BUF_BYTES + 1] = { 0 }, expected[NULL_BUF_BYTES];

	vsc_wait("sent");
	EXPECT_TRUE(vsc_poll(fd, POLLIN, VSC_SETTLE_MS) & POLLIN);
	EXPECT_ERRNO(recv(fd, NULL, NULL_BUF_BYTES, 0), vsc_expected_errno("recv_into_bad_buffer"));
	/* Bytes that could not be copied stay queued for the next read. */
	EXPECT_EQ(SAFE(recv(fd, buf, sizeof(buf), MSG_DONTWAIT)), NULL_BUF_BYTES);
	vsc_fill_pattern(expected, sizeof(expected), 0);
	EXPECT_TRUE(memcmp(buf, expected, sizeof(expected)) == 0);
	vsc_signal("done");
	SAFE(close(fd));
}
VSC_CASE(stream_recv_null_buffer, .sock_type = SOCK_STREAM,
	 .summary = "recv into a NULL buffer fails and loses nothing: the next recv gets it all",
	 .server = null_buf_server, .client = null_buf_client,
	 .tags = VSC_TAGS("vsock_test 12", "vsock: return errors other than -ENOMEM to socket",
			  "virtio/vsock: don't drop skbuff on copy failure"));

static void merge_sender(const struct vsc_env *env)
{
	int fd = vsc_connect_peer(SOCK_STREAM, env);

	vsc_send_all(fd, "HELLO", 5);
	vsc_signal("first sent");
	vsc_wait("partly read");
	/* Small enough to be copied into the partly read packet still queued at the peer. */
	vsc_send_all(fd, "WORLD", 5);
	vsc_signal("second sent");
	vsc_wait("done");
	SAFE(close(fd));
}

static void merge_receiver(const struct vsc_env *env)
{
	int listener, fd = vsc_accept_peer(SOCK_STREAM, env, &listener);
	char buf[16];

	vsc_wait("first sent");
	vsc_recv_all(fd, buf, 2);
	EXPECT_TRUE(memcmp(buf, "HE", 2) == 0);
	vsc_signal("partly read");
	vsc_wait("second sent");
	vsc_recv_all(fd, buf + 2, 8);
	EXPECT_TRUE(memcmp(buf, "HELLOWORLD", 10) == 0);
	/* Exactly ten bytes: the merge neither lost nor invented any. */
	EXPECT_ERRNO(recv(fd, buf, sizeof(buf), MSG_DONTWAIT), EAGAIN);
	vsc_signal("done");
	SAFE(close(fd));
	SAFE(close(listener));
}
VSC_CASE(stream_small_packet_merge, .sock_type = SOCK_STREAM,
	 .summary = "a small packet appended to a partly read one reads back whole and in order",
	 .server = merge_receiver, .client = merge_sender,
	 .tags = VSC_TAGS("vsock_test 14", "virtio/vsock: fix header length on skb merging"));
