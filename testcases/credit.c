/* credit.c: virtio flow control: when credit updates reach a sender, and what bounds its credit. */
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vsc.h"
#include "vsc_sock.h"

/*
 * include/linux/virtio_vsock.h: the largest packet, and the free space under which reading sends
 * a credit update on its own.
 */
#define MAX_PKT_BYTES (64u << 10)
#define RX_BUFFER (2 * MAX_PKT_BYTES)
/* One byte more than the receive buffer: the sender stalls with one byte left. */
#define STALLED_SEND (RX_BUFFER + 1)

static void set_u64(int fd, int name, uint64_t value)
{
	SAFE(setsockopt(fd, AF_VSOCK, name, &value, sizeof(value)));
}

static void set_lowat(int fd, int bytes)
{
	SAFE(setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &bytes, sizeof(bytes)));
}

static void stalled_sender(const struct vsc_env *env)
{
	unsigned char *buf = malloc(STALLED_SEND), byte;
	int fd = vsc_connect_peer(SOCK_STREAM, env);

	ASSERT_TRUE(buf != NULL);
	vsc_fill_pattern(buf, STALLED_SEND, 0);
	/* The receiver's byte carries its smaller buffer in the packet header: we now know it. */
	vsc_recv_all(fd, &byte, 1);
	/* Fills the receiver's buffer, then blocks until a credit update makes room for more. */
	vsc_send_all(fd, buf, STALLED_SEND);
	vsc_wait("done");
	SAFE(close(fd));
	free(buf);
}

/*
 * The receiver's side: a RX_BUFFER buffer filled by the sender, half of it read, the sender left
 * waiting for credit for its last byte. `lowat_before_read` is the SO_RCVLOWAT in force while
 * reading (1 or more than what remains); afterwards SO_RCVLOWAT asks for the last byte too, and
 * poll() must see it arrive.
 */
static void stalled_receiver(const struct vsc_env *env, int lowat_before_read)
{
	unsigned char *buf = malloc(STALLED_SEND), *expected = malloc(STALLED_SEND);
	int listener, fd = vsc_accept_peer(SOCK_STREAM, env, &listener);
	short revents;

	ASSERT_TRUE(buf != NULL && expected != NULL);
	vsc_fill_pattern(expected, STALLED_SEND, 0);
	set_u64(fd, SO_VM_SOCKETS_BUFFER_SIZE, RX_BUFFER);
	vsc_send_all(fd, "s", 1);
	/* Wait until the whole buffer is queued: the sender is then out of credit. */
	set_lowat(fd, RX_BUFFER);
	ASSERT_TRUE(vsc_poll(fd, POLLIN, VSC_SETTLE_MS) & POLLIN);
	set_lowat(fd, lowat_before_read);
	/* Half the buffer is free again, not less than a packet: no credit update yet. */
	vsc_recv_all(fd, buf, MAX_PKT_BYTES);
	set_lowat(fd, MAX_PKT_BYTES + 1);
	revents = vsc_poll(fd, POLLIN, VSC_SETTLE_MS);
	if (!(revents & POLLIN))
		vsc_fatal_at(__FILE__, __LINE__,
			      "no POLLIN in %d ms: the sender got no credit for its last byte",
			      VSC_SETTLE_MS);
	EXPECT_EQ(revents & POLLERR, 0);
	EXPECT_EQ(SAFE(recv(fd, buf + MAX_PKT_BYTES, MAX_PKT_BYTES + 1, MSG_DONTWAIT)),
		  MAX_PKT_BYTES + 1);
	EXPECT_TRUE(memcmp(buf, expected, STALLED_SEND) == 0);
	vsc_signal("done");
	SAFE(close(fd));
	SAFE(close(listener));
	free(buf);
	free(expected);
}

static void update_on_set_lowat_server(const struct vsc_env *env)
{
	stalled_receiver(env, 1);
}
/* poll() heeds SO_RCVLOWAT since "vsock: pass sock_rcvlowat to notify_poll_in as target" (6.1). */
VSC_CASE(credit_update_on_set_rcvlowat, .sock_type = SOCK_STREAM,
	 .summary = "raising SO_RCVLOWAT above the queued bytes sends a stalled sender credit",
	 .server = update_on_set_lowat_server, .client = stalled_sender, .min_kver = "6.1",
	 .tags = VSC_TAGS("vsock_test 22",
			  "virtio/vsock: send credit update during setting SO_RCVLOWAT"),
	 .known_bug = "rcvlowat_credit_update");

static void update_on_low_rx_server(const struct vsc_env *env)
{
	stalled_receiver(env, MAX_PKT_BYTES + 1);
}
VSC_CASE(credit_update_on_low_rx_bytes, .sock_type = SOCK_STREAM,
	 .summary = "reading below SO_RCVLOWAT sends credit even with half the buffer free",
	 .server = update_on_low_rx_server, .client = stalled_sender, .min_kver = "6.1",
	 .tags = VSC_TAGS("vsock_test 23",
			  "virtio/vsock: fix logic which reduces credit update messages"),
	 .known_bug = "rx_bytes_per_whole_packet");

/* include/net/af_vsock.h: VSOCK_DEFAULT_BUFFER_MAX_SIZE is 256 KiB; ours is 8 times more. */
#define BIG_BUFFER (2u << 20)
#define SMALL_BUFFER (64u << 10)
#define CHUNK 4096

static void bounds_server(const struct vsc_env *env)
{
	int listener, fd = vsc_accept_peer(SOCK_STREAM, env, &listener);

	set_u64(fd, SO_VM_SOCKETS_BUFFER_MAX_SIZE, BIG_BUFFER);
	set_u64(fd, SO_VM_SOCKETS_BUFFER_SIZE, BIG_BUFFER);
	/* A byte's header carries the big buffer to the sender, whatever the kernel version. */
	vsc_send_all(fd, "b", 1);
	/* Nothing is read: only the sender's own limits can stop it. */
	vsc_wait("done");
	SAFE(close(fd));
	SAFE(close(listener));
}

static void bounds_client(const struct vsc_env *env)
{
	int fd = vsc_connect_peer(SOCK_STREAM, env);
	char chunk[CHUNK], byte;
	size_t total = 0;

	set_u64(fd, SO_VM_SOCKETS_BUFFER_MAX_SIZE, SMALL_BUFFER);
	set_u64(fd, SO_VM_SOCKETS_BUFFER_SIZE, SMALL_BUFFER);
	vsc_recv_all(fd, &byte, 1);
	SAFE(fcntl(fd, F_SETFL, SAFE(fcntl(fd, F_GETFL)) | O_NONBLOCK));
	memset(chunk, 'c', sizeof(chunk));
	for (;;) {
		ssize_t n = send(fd, chunk, sizeof(chunk), MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0)
			vsc_fatal_at(__FILE__, __LINE__, "send() after %zu bytes failed: %s",
				      total, n < 0 ? vsc_errname(errno) : "returned 0");
		total += (size_t)n;
		/* Past the peer's buffer nothing more can go; stop rather than spin. */
		if (total > BIG_BUFFER)
			break;
	}
	vsc_diag("queued %zu bytes before EAGAIN (own buffer %u, peer's %u)", total, SMALL_BUFFER,
		 BIG_BUFFER);
	EXPECT_TRUE(total > 0);
	if (total > SMALL_BUFFER)
		vsc_fail_at(__FILE__, __LINE__,
			      "%zu bytes in flight, more than our own %u-byte buffer", total,
			      SMALL_BUFFER);
	vsc_signal("done");
	SAFE(close(fd));
}
VSC_CASE(credit_tx_bounded_by_own_buffer, .sock_type = SOCK_STREAM,
	 .summary = "a sender never has more bytes in flight than its own buffer holds",
	 .server = bounds_server, .client = bounds_client,
	 .tags = VSC_TAGS("vsock_test 38", "vsock/virtio: cap TX credit to local buffer size",
			  "vsock/virtio: fix potential underflow in virtio_transport_get_credit()",
			  "CVE-2026-23086", "CVE-2026-23069"),
	 .known_bug = "tx_credit_uncapped");
