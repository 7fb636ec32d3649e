/* zerocopy_fixes.c: MSG_ZEROCOPY regressions: leaks, failed sends, accepted sockets, coalescing. */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kmemleak.h"
#include "vsc.h"
#include "vsc_sock.h"

#ifndef MSG_ZEROCOPY
#define MSG_ZEROCOPY 0x4000000
#endif

/*
 * kmemleak misses a leaked object while some stale word still points at it (freed memory reused
 * unzeroed); leaking it on several sockets makes finding at least one near certain.
 */
#define LEAK_ROUNDS 8

/*
 * The cases here declare VSC_KVER_VSOCK_ZEROCOPY: from that version on SO_ZEROCOPY must be
 * accepted, and a refusal is a failure, not a skip.
 */
static void require_zerocopy(int fd)
{
	int one = 1;

	SAFE(setsockopt(fd, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof(one)));
}

/* A zerocopy send is complete once its notification waits in the error queue. */
static void expect_completion(int fd)
{
	EXPECT_TRUE(vsc_poll(fd, 0, VSC_SETTLE_MS) & POLLERR);
}

static void wait_eof(int fd)
{
	char byte;

	ASSERT_TRUE(vsc_poll(fd, POLLIN, VSC_SETTLE_MS) & POLLIN);
	EXPECT_EQ(SAFE(recv(fd, &byte, 1, MSG_DONTWAIT)), 0);
}

/* Accepts LEAK_ROUNDS connections; each sends byte `expected` (after "sent") and closes. */
static void one_byte_each_server(const struct vsc_env *env, char expected)
{
	int listener = vsc_listen(SOCK_STREAM, env->port, 1), round;

	for (round = 0; round < LEAK_ROUNDS; round++) {
		int fd;
		char byte;

		vsc_signal("listening");
		fd = SAFE(accept(listener, NULL, NULL));
		vsc_wait("sent");
		vsc_recv_all(fd, &byte, 1);
		EXPECT_EQ(byte, expected);
		wait_eof(fd);
		SAFE(close(fd));
		vsc_signal("closed");
	}
	SAFE(close(listener));
}

static void errqueue_server(const struct vsc_env *env)
{
	one_byte_each_server(env, 'z');
}

static void errqueue_client(const struct vsc_env *env)
{
	int round;

	vsc_kmemleak_begin();
	for (round = 0; round < LEAK_ROUNDS; round++) {
		int fd = vsc_connect_peer(SOCK_STREAM, env);

		require_zerocopy(fd);
		EXPECT_EQ(SAFE(send(fd, "z", 1, MSG_ZEROCOPY)), 1);
		vsc_signal("sent");
		expect_completion(fd);
		/* The notification is never read: closing the socket must free it. */
		SAFE(close(fd));
		vsc_wait("closed");
	}
	vsc_kmemleak_expect_none(VSC_KMEMLEAK_VSOCK_SYMBOLS);
}
VSC_CASE(zerocopy_leak_errqueue, .sock_type = SOCK_STREAM,
	 .summary = "an unread completion in the error queue is freed with its socket (kmemleak)",
	 .server = errqueue_server, .client = errqueue_client, .needs = VSC_NEED_KMEMLEAK,
	 .timeout_s = 40,
	 .tags = VSC_TAGS("vsock_test 27", "vsock: Fix sk_error_queue memory leak",
			  "CVE-2024-53118"),
	 .min_kver = VSC_KVER_VSOCK_ZEROCOPY);

/* net/core/sock.c: sock_kmalloc() cannot give one buffer beyond the largest page allocation. */
#define CONTROL_MAX (4096ul << 10)

/*
 * sendmsg() copies control data into socket option memory (sk_omem_alloc, bounded by
 * net.core.optmem_max); a control buffer one byte short of that leaves no room for the
 * zerocopy completion that virtio_transport_init_zcopy_skb() then allocates, so the send
 * fails with ENOMEM after its skb was built.
 */
static ssize_t send_with_optmem_exhausted(int fd)
{
	unsigned long optmem_max = 0;
	struct msghdr msg = { 0 };
	struct iovec iov = { .iov_base = "e", .iov_len = 1 };
	ssize_t ret;
	int err;
	FILE *f;

	f = fopen("/proc/sys/net/core/optmem_max", "re");
	ASSERT_TRUE(f != NULL);
	ASSERT_EQ(fscanf(f, "%lu", &optmem_max), 1);
	fclose(f);
	if (optmem_max < 2 || optmem_max - 1 > CONTROL_MAX)
		vsc_skip("net.core.optmem_max is %lu: no control buffer can fill it", optmem_max);
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_controllen = optmem_max - 1;
	msg.msg_control = calloc(1, msg.msg_controllen);
	ASSERT_TRUE(msg.msg_control != NULL);
	vsc_step_at(__FILE__, __LINE__, "sendmsg(MSG_ZEROCOPY) with optmem nearly full");
	ret = sendmsg(fd, &msg, MSG_ZEROCOPY);
	err = errno;
	free(msg.msg_control);
	errno = err;
	return ret;
}

static void enomem_server(const struct vsc_env *env)
{
	int listener, fd = vsc_accept_peer(SOCK_STREAM, env, &listener);
	char byte;

	vsc_wait("sent");
	/* Only the plain send's byte arrives: the failed one sent nothing. */
	vsc_recv_all(fd, &byte, 1);
	EXPECT_EQ(byte, 'p');
	wait_eof(fd);
	SAFE(close(fd));
	SAFE(close(listener));
	vsc_signal("closed");
}

static void enomem_client(const struct vsc_env *env)
{
	int fd = vsc_connect_peer(SOCK_STREAM, env);

	require_zerocopy(fd);
	EXPECT_ERRNO(send_with_optmem_exhausted(fd), ENOMEM);
	/* The failure leaves the connection as it was. */
	vsc_send_all(fd, "p", 1);
	vsc_signal("sent");
	SAFE(close(fd));
	vsc_wait("closed");
}
VSC_CASE(zerocopy_enomem_sends_nothing, .sock_type = SOCK_STREAM,
	 .summary = "a MSG_ZEROCOPY send failing for want of option memory sends nothing (ENOMEM)",
	 .server = enomem_server, .client = enomem_client,
	 .tags = VSC_TAGS("vsock_test 28", "virtio/vsock: Improve MSG_ZEROCOPY error handling",
			  "CVE-2024-53117"),
	 .min_kver = VSC_KVER_VSOCK_ZEROCOPY);

static void zcskb_server(const struct vsc_env *env)
{
	one_byte_each_server(env, 'p');
}

static void zcskb_client(const struct vsc_env *env)
{
	int round;

	vsc_kmemleak_begin();
	for (round = 0; round < LEAK_ROUNDS; round++) {
		int fd = vsc_connect_peer(SOCK_STREAM, env);

		require_zerocopy(fd);
		EXPECT_ERRNO(send_with_optmem_exhausted(fd), ENOMEM);
		vsc_send_all(fd, "p", 1);
		vsc_signal("sent");
		SAFE(close(fd));
		vsc_wait("closed");
	}
	/* The skbs built for the failed sends must not outlive them. */
	vsc_kmemleak_expect_none(VSC_KMEMLEAK_VSOCK_SYMBOLS);
}
VSC_CASE(zerocopy_leak_completion_skb, .sock_type = SOCK_STREAM,
	 .summary = "a MSG_ZEROCOPY send failing with ENOMEM frees the skb it built (kmemleak)",
	 .server = zcskb_server, .client = zcskb_client, .needs = VSC_NEED_KMEMLEAK,
	 .timeout_s = 40,
	 .tags = VSC_TAGS("vsock_test 28", "virtio/vsock: Improve MSG_ZEROCOPY error handling",
			  "CVE-2024-53117"),
	 .min_kver = VSC_KVER_VSOCK_ZEROCOPY);

static void accepted_server(const struct vsc_env *env)
{
	int probe = SAFE(socket(AF_VSOCK, SOCK_STREAM, 0)), listener, fd, value = 0;
	socklen_t len = sizeof(value);

	/* A socket from socket() takes SO_ZEROCOPY where the kernel has it at all. */
	require_zerocopy(probe);
	SAFE(close(probe));
	fd = vsc_accept_peer(SOCK_STREAM, env, &listener);
	/* Accepted sockets must route SOL_SOCKET options through vsock's own handler too. */
	value = 1;
	if (setsockopt(fd, SOL_SOCKET, SO_ZEROCOPY, &value, sizeof(value)) != 0)
		vsc_fail_at(__FILE__, __LINE__,
			      "setsockopt(SO_ZEROCOPY) on the accepted socket failed: %s",
			      vsc_errname(errno));
	value = 0;
	SAFE(getsockopt(fd, SOL_SOCKET, SO_ZEROCOPY, &value, &len));
	EXPECT_EQ(value, 1);
	vsc_signal("done");
	SAFE(close(fd));
	SAFE(close(listener));
}

static void accepted_client(const struct vsc_env *env)
{
	int fd = vsc_connect_peer(SOCK_STREAM, env);

	vsc_wait("done");
	SAFE(close(fd));
}
VSC_CASE(zerocopy_accepted_socket_sockopt, .sock_type = SOCK_STREAM,
	 .summary = "SO_ZEROCOPY can be set on an accept()ed socket as on one from socket()",
	 .server = accepted_server, .client = accepted_client,
	 .tags = VSC_TAGS("vsock_test 36",
			  "vsock: Make accept()ed sockets use custom setsockopt()"),
	 .min_kver = VSC_KVER_VSOCK_ZEROCOPY);

/*
 * A linear packet with tailroom to spare (more than a page), then a MSG_ZEROCOPY one no longer
 * than GOOD_COPY_LEN (128, virtio_transport_common.c): the receiver may append a small packet
 * to the previous one, but must not copy a zerocopy packet whose bytes are in page fragments.
 */
#define LINEAR_BYTES 4097
#define ZEROCOPY_BYTES 128
#define TOTAL_BYTES (LINEAR_BYTES + ZEROCOPY_BYTES)

static void coalesce_server(const struct vsc_env *env)
{
	unsigned char buf[TOTAL_BYTES], expected[TOTAL_BYTES];
	int listener, fd = vsc_accept_peer(SOCK_STREAM, env, &listener), lowat = TOTAL_BYTES;

	/* Both packets must be queued before reading, or there is nothing to coalesce with. */
	SAFE(setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &lowat, sizeof(lowat)));
	vsc_signal("ready");
	vsc_wait("sent");
	ASSERT_TRUE(vsc_poll(fd, POLLIN, VSC_SETTLE_MS) & POLLIN);
	vsc_recv_all(fd, buf, sizeof(buf));
	vsc_fill_pattern(expected, sizeof(expected), 0);
	EXPECT_TRUE(memcmp(buf, expected, LINEAR_BYTES) == 0);
	if (memcmp(buf + LINEAR_BYTES, expected + LINEAR_BYTES, ZEROCOPY_BYTES) != 0)
		vsc_fail_at(__FILE__, __LINE__, "the %d bytes sent with MSG_ZEROCOPY arrived "
			      "corrupted", ZEROCOPY_BYTES);
	vsc_signal("read");
	vsc_wait("done");
	SAFE(close(fd));
	SAFE(close(listener));
}

static void coalesce_client(const struct vsc_env *env)
{
	static unsigned char buf[TOTAL_BYTES];
	int fd = vsc_connect_peer(SOCK_STREAM, env);

	require_zerocopy(fd);
	vsc_fill_pattern(buf, sizeof(buf), 0);
	vsc_wait("ready");
	vsc_send_all(fd, buf, LINEAR_BYTES);
	/* The kernel sends from these pages until the completion: buf stays untouched till then. */
	EXPECT_EQ(SAFE(send(fd, buf + LINEAR_BYTES, ZEROCOPY_BYTES, MSG_ZEROCOPY)), ZEROCOPY_BYTES);
	vsc_signal("sent");
	vsc_wait("read");
	expect_completion(fd);
	vsc_signal("done");
	SAFE(close(fd));
}
VSC_CASE(zerocopy_not_coalesced, .sock_type = SOCK_STREAM,
	 .summary = "a small MSG_ZEROCOPY packet queued after a large one arrives intact",
	 .server = coalesce_server, .client = coalesce_client,
	 .tags = VSC_TAGS("vsock_test 37", "vsock/virtio: Coalesce only linear skb"),
	 .min_kver = VSC_KVER_VSOCK_ZEROCOPY);
