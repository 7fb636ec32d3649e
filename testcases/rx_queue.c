/* rx_queue.c: the virtio receive queue: peeking after a partial read, many small packets. */
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vsc.h"
#include "vsc_sock.h"

#define PEEK_BYTES 64

static void peek_server(const struct vsc_env *env)
{
	/* Zeroed: after a short read the comparisons must see known bytes. */
	unsigned char first = 0, peeked[PEEK_BYTES] = { 0 }, rest[PEEK_BYTES] = { 0 };
	unsigned char expected[PEEK_BYTES];
	int listener, fd = vsc_accept_peer(SOCK_STREAM, env, &listener);

	vsc_fill_pattern(expected, sizeof(expected), 0);
	/* One send is one packet: once readable, all of it is queued. */
	ASSERT_TRUE(vsc_poll(fd, POLLIN, VSC_SETTLE_MS) & POLLIN);
	EXPECT_EQ(SAFE(recv(fd, &first, 1, 0)), 1);
	/* The packet is now read from an offset; a peek asking for more sees only what is left. */
	EXPECT_EQ(SAFE(recv(fd, peeked, sizeof(peeked), MSG_PEEK)), PEEK_BYTES - 1);
	EXPECT_EQ(SAFE(recv(fd, rest, sizeof(rest), MSG_DONTWAIT)), PEEK_BYTES - 1);
	EXPECT_EQ(first, expected[0]);
	EXPECT_TRUE(memcmp(peeked, expected + 1, PEEK_BYTES - 1) == 0);
	EXPECT_TRUE(memcmp(rest, expected + 1, PEEK_BYTES - 1) == 0);
	vsc_signal("done");
	SAFE(close(fd));
	SAFE(close(listener));
}

static void peek_client(const struct vsc_env *env)
{
	unsigned char buf[PEEK_BYTES];
	int fd = vsc_connect_peer(SOCK_STREAM, env);

	vsc_fill_pattern(buf, sizeof(buf), 0);
	vsc_send_all(fd, buf, sizeof(buf));
	vsc_wait("done");
	SAFE(close(fd));
}
VSC_CASE(rx_peek_after_partial_recv, .sock_type = SOCK_STREAM,
	 .summary = "after a partial read, MSG_PEEK returns only the rest of the packet",
	 .server = peek_server, .client = peek_client,
	 .tags = VSC_TAGS(
		 "vsock_test 39",
		 "vsock/virtio: fix MSG_PEEK ignoring skb offset when calculating bytes to copy"));

/*
 * Packets above GOOD_COPY_LEN (128, virtio_transport_common.c) are not copied into the previous
 * one on arrival: each stays an skb of its own, with its overhead.
 */
#define SMALL_MIN 129
#define SMALL_MAX 512
/* Far beyond the default 256 KiB receive buffer: the window is full long before. */
#define SEND_LIMIT (4u << 20)
#define READ_CHUNK (64u << 10)

static void small_server(const struct vsc_env *env)
{
	int listener, fd = vsc_accept_peer(SOCK_STREAM, env, &listener);
	uint64_t sent, received = 0;
	unsigned char *buf = malloc(READ_CHUNK), *expected = malloc(READ_CHUNK);
	uint32_t crc = 0, sent_crc;

	ASSERT_TRUE(buf != NULL && expected != NULL);
	/* Nothing is read until the client has filled the whole window with small packets. */
	sent = vsc_recv_value("bytes sent");
	sent_crc = (uint32_t)vsc_recv_value("crc32 sent");
	while (received < sent) {
		size_t want = sent - received < READ_CHUNK ? (size_t)(sent - received) : READ_CHUNK;
		ssize_t n = SAFE(recv(fd, buf, want, 0));

		ASSERT_TRUE(n > 0);
		vsc_fill_pattern(expected, (size_t)n, received);
		if (memcmp(buf, expected, (size_t)n) != 0)
			vsc_fatal_at(__FILE__, __LINE__, "bytes %llu..%llu are not those sent",
				      (unsigned long long)received,
				      (unsigned long long)(received + (uint64_t)n - 1));
		crc = vsc_crc32(crc, buf, (size_t)n);
		received += (uint64_t)n;
	}
	EXPECT_EQ(crc, sent_crc);
	/* The connection is still up, with nothing more queued. */
	EXPECT_ERRNO(recv(fd, buf, 1, MSG_DONTWAIT), EAGAIN);
	vsc_signal("done");
	SAFE(close(fd));
	SAFE(close(listener));
	free(buf);
	free(expected);
}

static void small_client(const struct vsc_env *env)
{
	unsigned char chunk[SMALL_MAX];
	int fd = vsc_connect_peer(SOCK_STREAM, env), packets = 0;
	uint32_t crc = 0, lcg = 1;
	uint64_t sent = 0;

	SAFE(fcntl(fd, F_SETFL, SAFE(fcntl(fd, F_GETFL)) | O_NONBLOCK));
	while (sent < SEND_LIMIT) {
		size_t len;
		ssize_t n;

		lcg = lcg * 1103515245u + 12345u;
		len = SMALL_MIN + (lcg >> 16) % (SMALL_MAX - SMALL_MIN + 1);
		vsc_fill_pattern(chunk, len, sent);
		n = send(fd, chunk, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;	/* the receiver's window is full */
		if (n <= 0)
			vsc_fatal_at(__FILE__, __LINE__,
				      "send() after %d packets (%llu bytes) failed: %s", packets,
				      (unsigned long long)sent, n < 0 ? vsc_errname(errno) : "0");
		crc = vsc_crc32(crc, chunk, (size_t)n);
		sent += (uint64_t)n;
		packets++;
	}
	vsc_diag("%d packets, %llu bytes queued before EAGAIN", packets, (unsigned long long)sent);
	vsc_send_value("bytes sent", sent);
	vsc_send_value("crc32 sent", crc);
	vsc_wait("done");
	SAFE(close(fd));
}
VSC_CASE(rx_small_packets_fill_window, .sock_type = SOCK_STREAM,
	 .summary = "a receive window filled by 129-512 byte packets keeps the connection and data",
	 .server = small_server, .client = small_client,
	 .tags = VSC_TAGS("vsock_test 40",
			  "vsock/virtio: collapse receive queue under memory pressure",
			  "vsock/virtio: fix skb overhead accounting to preserve full buf_alloc",
			  "vsock/virtio: reset connection on receiving queue overflow"));
