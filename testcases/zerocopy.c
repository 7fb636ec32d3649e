/* zerocopy.c: MSG_ZEROCOPY sends: the data, completions on MSG_ERRQUEUE, fallbacks to copy. */
#include <poll.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <linux/errqueue.h>	/* after <time.h>: it uses struct timespec */

#include "vsc.h"
#include "vsc_sock.h"

/* include/linux/socket.h and uapi/linux/vm_sockets.h of 6.7; older build headers lack them. */
#ifndef SOL_VSOCK
#define SOL_VSOCK 287
#endif
#ifndef VSOCK_RECVERR
#define VSOCK_RECVERR 1
#endif

/*
 * Before VSC_KVER_VSOCK_ZEROCOPY the option is refused. A run-time probe would turn a refusal on
 * a newer kernel into a SKIP, so the version decides and setsockopt() must then succeed.
 */
/*
 * Reading the error queue of an AF_VSOCK socket: "vsock: read from socket's error queue" (6.7,
 * and Debian's 6.1 through the stable series). 5.10 ignores MSG_ERRQUEUE and does an ordinary
 * read, so checks of the error queue mean nothing there.
 */
#define ERRQUEUE_KVER "6.1"

#define PAGE_BYTES 4096u
#define MAX_VECS 3
#define MAX_BYTES (100 * PAGE_BYTES)

struct zc_vec {
	size_t len;
	size_t offset;	/* where the data starts in its first page: an unaligned base */
	int unmapped;	/* its pages are unmapped before sendmsg() */
};

struct zc_layout {
	const char *name;
	int count;
	struct zc_vec vecs[MAX_VECS];
};

#define VEC(bytes) { .len = (bytes) }

/* The reference tests' iovec layouts that must go out zerocopied. */
static const struct zc_layout zerocopied_layouts[] = {
	{ "unaligned tail", 3, { VEC(PAGE_BYTES), VEC(PAGE_BYTES), VEC(200) } },
	{ "page aligned", 3, { VEC(PAGE_BYTES), VEC(2 * PAGE_BYTES), VEC(3 * PAGE_BYTES) } },
	{ "over 64 KiB", 3, { VEC(16 * PAGE_BYTES), VEC(16 * PAGE_BYTES), VEC(16 * PAGE_BYTES) } },
	{ "unaligned middle", 3,
	  { VEC(PAGE_BYTES), { .len = 100, .offset = 1 }, VEC(PAGE_BYTES) } },
};
#define ZEROCOPIED_LAYOUTS (sizeof(zerocopied_layouts) / sizeof(zerocopied_layouts[0]))

/* Their layouts that fail or fall back to a copy, and one of ours (fault_after_64k). */
static const struct zc_layout unmapped_middle = {
	"unmapped middle page", 3,
	{ VEC(PAGE_BYTES), { .len = PAGE_BYTES, .unmapped = 1 }, VEC(PAGE_BYTES) }
};
/* A packet carries 64 KiB at most: the first takes the first vector whole, the second faults. */
static const struct zc_layout fault_after_64k = {
	"64 KiB, then an unmapped page", 2,
	{ VEC(16 * PAGE_BYTES), { .len = PAGE_BYTES, .unmapped = 1 } }
};
static const struct zc_layout one_page = { "one page", 1, { VEC(PAGE_BYTES) } };
/* Larger than the peer's default 256 KiB buffer, so no single packet can carry it. */
static const struct zc_layout over_peer_buffer = { "over the peer buffer", 1, { VEC(MAX_BYTES) } };

/* Pattern offsets: data sent after a failed send must not look like the failed data. */
#define SEED_FIRST 0
#define SEED_AFTER (1u << 20)

struct zc_buffer {
	char *map;
	size_t map_len;
	struct iovec iov[MAX_VECS];
	int count;
	size_t bytes;	/* what the mapped vectors hold */
};

static char received[MAX_BYTES + 1], expected[MAX_BYTES];

static size_t page_round(size_t n)
{
	return (n + PAGE_BYTES - 1) / PAGE_BYTES * PAGE_BYTES;
}

static size_t layout_bytes(const struct zc_layout *l)
{
	size_t bytes = 0;
	int i;

	for (i = 0; i < l->count; i++)
		if (!l->vecs[i].unmapped)
			bytes += l->vecs[i].len;
	return bytes;
}

/* One mapping for the whole layout, each vector in pages of its own, holes punched last. */
static void zc_build(struct zc_buffer *b, const struct zc_layout *l, uint64_t seed)
{
	size_t slot = 0;
	int i;

	ASSERT_EQ(sysconf(_SC_PAGESIZE), PAGE_BYTES);
	memset(b, 0, sizeof(*b));
	for (i = 0; i < l->count; i++)
		b->map_len += page_round(l->vecs[i].offset + l->vecs[i].len);
	b->map = mmap(NULL, b->map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_TRUE(b->map != MAP_FAILED);
	b->count = l->count;
	for (i = 0; i < l->count; i++) {
		const struct zc_vec *v = &l->vecs[i];

		b->iov[i].iov_base = b->map + slot + v->offset;
		b->iov[i].iov_len = v->len;
		if (!v->unmapped) {
			vsc_fill_pattern(b->iov[i].iov_base, v->len, seed + b->bytes);
			b->bytes += v->len;
		}
		slot += page_round(v->offset + v->len);
	}
	for (i = 0, slot = 0; i < l->count; i++) {
		size_t len = page_round(l->vecs[i].offset + l->vecs[i].len);

		if (l->vecs[i].unmapped)
			SAFE(munmap(b->map + slot, len));
		slot += len;
	}
}

static void zc_free(struct zc_buffer *b)
{
	SAFE(munmap(b->map, b->map_len));
}

static ssize_t zc_send(int fd, struct zc_buffer *b, int flags)
{
	struct msghdr msg = { .msg_iov = b->iov, .msg_iovlen = (size_t)b->count };

	return sendmsg(fd, &msg, flags);
}

static void zc_enable(int fd)
{
	int one = 1;

	SAFE(setsockopt(fd, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof(one)));
}

/* The receiving side: `bytes` of the pattern from `seed`, as one message for SEQPACKET. */
static void zc_expect_data(int fd, int type, const struct zc_layout *l, uint64_t seed)
{
	size_t bytes = layout_bytes(l);

	if (type == SOCK_SEQPACKET) {
		struct iovec iov = { received, bytes + 1 };
		struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };

		EXPECT_EQ(SAFE(recvmsg(fd, &msg, 0)), bytes);
		EXPECT_EQ(msg.msg_flags & MSG_TRUNC, 0);
	} else {
		vsc_recv_all(fd, received, bytes);
	}
	vsc_fill_pattern(expected, bytes, seed);
	if (memcmp(received, expected, bytes) != 0)
		vsc_fail_at(__FILE__, __LINE__, "%s: received bytes differ from those sent",
			      l->name);
}

struct zc_completion {
	uint32_t lo, hi;	/* the range of send calls it completes */
	int copied;		/* the kernel copied the data after all */
};

/* Takes one notification off the error queue: 1 if there was one, 0 if the queue is empty. */
static int zc_read_completion(int fd, struct zc_completion *c)
{
	char control[128];
	struct msghdr msg = { .msg_control = control, .msg_controllen = sizeof(control) };
	struct sock_extended_err ee;
	struct cmsghdr *cm;
	ssize_t n;

	vsc_step_at(__FILE__, __LINE__, "recvmsg(MSG_ERRQUEUE)");
	n = recvmsg(fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT);
	if (n < 0 && errno == EAGAIN)
		return 0;
	if (n < 0)
		vsc_fatal_at(__FILE__, __LINE__, "recvmsg(MSG_ERRQUEUE) failed: %s",
			      vsc_errname(errno));
	EXPECT_EQ(n, 0);
	EXPECT_TRUE(msg.msg_flags & MSG_ERRQUEUE);
	cm = CMSG_FIRSTHDR(&msg);
	ASSERT_TRUE(cm != NULL);
	EXPECT_EQ(cm->cmsg_level, SOL_VSOCK);
	EXPECT_EQ(cm->cmsg_type, VSOCK_RECVERR);
	ASSERT_TRUE(cm->cmsg_len >= CMSG_LEN(sizeof(ee)));
	memcpy(&ee, CMSG_DATA(cm), sizeof(ee));
	EXPECT_EQ(ee.ee_origin, SO_EE_ORIGIN_ZEROCOPY);
	EXPECT_EQ(ee.ee_errno, 0);
	c->lo = ee.ee_info;
	c->hi = ee.ee_data;
	c->copied = !!(ee.ee_code & SO_EE_CODE_ZEROCOPY_COPIED);
	return 1;
}

/* Exactly one completion, for send call `id`, zerocopied or copied as said. */
static void zc_expect_completion(int fd, const struct zc_layout *l, uint32_t id, int copied)
{
	struct zc_completion c;

	if (!(vsc_poll(fd, 0, VSC_SETTLE_MS) & POLLERR) || !zc_read_completion(fd, &c)) {
		vsc_fail_at(__FILE__, __LINE__, "%s: no completion within %d ms", l->name,
			      VSC_SETTLE_MS);
		return;
	}
	if (c.lo != id || c.hi != id)
		vsc_fail_at(__FILE__, __LINE__, "%s: completion covers sends %u..%u, not %u",
			      l->name, c.lo, c.hi, id);
	if (c.copied != copied)
		vsc_fail_at(__FILE__, __LINE__, "%s: completion says %s, expected %s", l->name,
			      c.copied ? "copied" : "zerocopied", copied ? "copied" : "zerocopied");
	if (zc_read_completion(fd, &c))
		vsc_fail_at(__FILE__, __LINE__, "%s: a second completion, sends %u..%u",
			      l->name, c.lo, c.hi);
}

static void zc_expect_no_completion(int fd, const struct zc_layout *l)
{
	struct zc_completion c;

	EXPECT_EQ(vsc_poll(fd, 0, 0) & POLLERR, 0);
	if (zc_read_completion(fd, &c))
		vsc_fail_at(__FILE__, __LINE__, "%s: unexpected completion for sends %u..%u",
			      l->name, c.lo, c.hi);
}

/* Sends each layout in turn and waits for the peer to read it before taking its completion. */
static void zerocopied_client(const struct vsc_env *env, int type)
{
	int fd = vsc_connect_peer(type, env);
	struct zc_buffer b;
	uint32_t i;

	zc_enable(fd);
	for (i = 0; i < ZEROCOPIED_LAYOUTS; i++) {
		zc_build(&b, &zerocopied_layouts[i], SEED_FIRST);
		EXPECT_EQ(SAFE(zc_send(fd, &b, MSG_ZEROCOPY)), b.bytes);
		vsc_wait("read");
		zc_expect_completion(fd, &zerocopied_layouts[i], i, 0);
		zc_free(&b);
	}
	vsc_signal("done");
	SAFE(close(fd));
}

static void zerocopied_server(const struct vsc_env *env, int type)
{
	int listener, fd = vsc_accept_peer(type, env, &listener);
	size_t i;

	for (i = 0; i < ZEROCOPIED_LAYOUTS; i++) {
		zc_expect_data(fd, type, &zerocopied_layouts[i], SEED_FIRST);
		vsc_signal("read");
	}
	vsc_wait("done");
	SAFE(close(fd));
	SAFE(close(listener));
}

/* A send that faults on an unmapped page fails whole, without a completion or a used id. */
static void unmapped_client(const struct vsc_env *env, int type)
{
	int fd = vsc_connect_peer(type, env);
	struct zc_buffer b;

	zc_enable(fd);
	zc_build(&b, &unmapped_middle, SEED_FIRST);
	EXPECT_ERRNO(zc_send(fd, &b, MSG_ZEROCOPY), ENOMEM);
	zc_expect_no_completion(fd, &unmapped_middle);
	zc_free(&b);
	zc_build(&b, &one_page, SEED_AFTER);
	EXPECT_EQ(SAFE(zc_send(fd, &b, MSG_ZEROCOPY)), b.bytes);
	vsc_wait("read");
	zc_expect_completion(fd, &one_page, 0, 0);
	zc_free(&b);
	vsc_signal("done");
	SAFE(close(fd));
}

static void after_failure_server(const struct vsc_env *env, int type)
{
	int listener, fd = vsc_accept_peer(type, env, &listener);

	/* The first bytes to arrive are the ones sent after the failure. */
	zc_expect_data(fd, type, &one_page, SEED_AFTER);
	EXPECT_ERRNO(recv(fd, received, sizeof(received), MSG_DONTWAIT), EAGAIN);
	vsc_signal("read");
	vsc_wait("done");
	SAFE(close(fd));
	SAFE(close(listener));
}

/* Without SO_ZEROCOPY the flag is ignored: an ordinary copy, and no completion at all. */
static void no_option_client(const struct vsc_env *env, int type)
{
	int fd = vsc_connect_peer(type, env);
	struct zc_buffer b;

	zc_build(&b, &one_page, SEED_FIRST);
	EXPECT_EQ(SAFE(zc_send(fd, &b, MSG_ZEROCOPY)), b.bytes);
	vsc_wait("read");
	zc_expect_no_completion(fd, &one_page);
	zc_free(&b);
	vsc_signal("done");
	SAFE(close(fd));
}

static void one_page_server(const struct vsc_env *env, int type)
{
	int listener, fd = vsc_accept_peer(type, env, &listener);

	zc_expect_data(fd, type, &one_page, SEED_FIRST);
	vsc_signal("read");
	vsc_wait("done");
	SAFE(close(fd));
	SAFE(close(listener));
}

static void stream_zerocopied_server(const struct vsc_env *env)
{
	zerocopied_server(env, SOCK_STREAM);
}

static void stream_zerocopied_client(const struct vsc_env *env)
{
	zerocopied_client(env, SOCK_STREAM);
}
VSC_CASE(zerocopy_stream_layouts, .sock_type = SOCK_STREAM,
	 .summary = "MSG_ZEROCOPY, four iovec layouts: data intact, one zerocopied completion each",
	 .server = stream_zerocopied_server, .client = stream_zerocopied_client,
	 .min_kver = VSC_KVER_VSOCK_ZEROCOPY,
	 .tags = VSC_TAGS("vsock_test 18"));

static void stream_unmapped_server(const struct vsc_env *env)
{
	after_failure_server(env, SOCK_STREAM);
}

static void stream_unmapped_client(const struct vsc_env *env)
{
	unmapped_client(env, SOCK_STREAM);
}
VSC_CASE(zerocopy_stream_unmapped_page, .sock_type = SOCK_STREAM,
	 .summary = "MSG_ZEROCOPY from an iovec with a hole: ENOMEM, nothing sent or completed",
	 .server = stream_unmapped_server, .client = stream_unmapped_client,
	 .min_kver = VSC_KVER_VSOCK_ZEROCOPY,
	 .tags = VSC_TAGS("vsock_test 18"));

static void stream_no_option_server(const struct vsc_env *env)
{
	one_page_server(env, SOCK_STREAM);
}

static void stream_no_option_client(const struct vsc_env *env)
{
	no_option_client(env, SOCK_STREAM);
}
VSC_CASE(zerocopy_stream_without_so_zerocopy, .sock_type = SOCK_STREAM,
	 .summary = "MSG_ZEROCOPY without SO_ZEROCOPY is an ordinary send with no completion",
	 .server = stream_no_option_server, .client = stream_no_option_client,
	 .min_kver = ERRQUEUE_KVER,
	 .tags = VSC_TAGS("vsock_test 18"));

/*
 * A message larger than the peer's buffer goes out in several packets as credit returns;
 * none can take the pages whole, so every part is copied and each completion says so.
 */
static void over_peer_server(const struct vsc_env *env)
{
	int listener, fd = vsc_accept_peer(SOCK_STREAM, env, &listener);

	zc_expect_data(fd, SOCK_STREAM, &over_peer_buffer, SEED_FIRST);
	vsc_signal("read");
	vsc_wait("done");
	SAFE(close(fd));
	SAFE(close(listener));
}

static void over_peer_client(const struct vsc_env *env)
{
	int fd = vsc_connect_peer(SOCK_STREAM, env);
	struct zc_completion c;
	struct zc_buffer b;
	uint32_t next = 0;

	zc_enable(fd);
	zc_build(&b, &over_peer_buffer, SEED_FIRST);
	EXPECT_EQ(SAFE(zc_send(fd, &b, MSG_ZEROCOPY)), b.bytes);
	vsc_wait("read");
	EXPECT_TRUE(vsc_poll(fd, 0, VSC_SETTLE_MS) & POLLERR);
	/* A notification per pass of the send loop, merged while queued: 0..n without gaps. */
	while (zc_read_completion(fd, &c)) {
		if (c.lo != next || c.hi < c.lo)
			vsc_fail_at(__FILE__, __LINE__,
				      "completion covers sends %u..%u, expected to start at %u",
				      c.lo, c.hi, next);
		EXPECT_TRUE(c.copied);
		next = c.hi + 1;
	}
	EXPECT_TRUE(next > 0);
	zc_free(&b);
	vsc_signal("done");
	SAFE(close(fd));
}
VSC_CASE(zerocopy_stream_over_peer_buffer, .sock_type = SOCK_STREAM,
	 .summary = "MSG_ZEROCOPY beyond the peer's buffer arrives intact; completions say copied",
	 .server = over_peer_server, .client = over_peer_client,
	 .min_kver = VSC_KVER_VSOCK_ZEROCOPY,
	 .tags = VSC_TAGS("vsock_test 18"));

/*
 * A STREAM send cut short by a fault returns what went out, and what went out is still
 * completed: the notification is not tied to a last packet that never left.
 */
static void partial_server(const struct vsc_env *env)
{
	int listener, fd = vsc_accept_peer(SOCK_STREAM, env, &listener);

	zc_expect_data(fd, SOCK_STREAM, &fault_after_64k, SEED_FIRST);
	EXPECT_ERRNO(recv(fd, received, sizeof(received), MSG_DONTWAIT), EAGAIN);
	vsc_signal("read");
	vsc_wait("done");
	SAFE(close(fd));
	SAFE(close(listener));
}

static void partial_client(const struct vsc_env *env)
{
	int fd = vsc_connect_peer(SOCK_STREAM, env);
	struct zc_buffer b;

	zc_enable(fd);
	zc_build(&b, &fault_after_64k, SEED_FIRST);
	EXPECT_EQ(SAFE(zc_send(fd, &b, MSG_ZEROCOPY)), b.bytes);
	vsc_wait("read");
	zc_expect_completion(fd, &fault_after_64k, 0, 0);
	zc_free(&b);
	vsc_signal("done");
	SAFE(close(fd));
}
VSC_CASE(zerocopy_stream_partial_send, .sock_type = SOCK_STREAM,
	 .summary = "MSG_ZEROCOPY cut short by a hole returns the bytes sent, and they complete",
	 .server = partial_server, .client = partial_client,
	 .min_kver = VSC_KVER_VSOCK_ZEROCOPY,
	 .tags = VSC_TAGS("vsock/virtio: fix zerocopy completion for multi-skb sends"));

static void seqpacket_zerocopied_server(const struct vsc_env *env)
{
	zerocopied_server(env, SOCK_SEQPACKET);
}

static void seqpacket_zerocopied_client(const struct vsc_env *env)
{
	zerocopied_client(env, SOCK_SEQPACKET);
}
VSC_CASE(zerocopy_seqpacket_layouts, .sock_type = SOCK_SEQPACKET,
	 .summary = "MSG_ZEROCOPY messages, 4 iovec layouts: whole, one zerocopied completion each",
	 .server = seqpacket_zerocopied_server, .client = seqpacket_zerocopied_client,
	 .needs = VSC_NEED_SEQPACKET, .min_kver = VSC_KVER_VSOCK_ZEROCOPY,
	 .tags = VSC_TAGS("vsock_test 19"));

static void seqpacket_unmapped_server(const struct vsc_env *env)
{
	after_failure_server(env, SOCK_SEQPACKET);
}

static void seqpacket_unmapped_client(const struct vsc_env *env)
{
	unmapped_client(env, SOCK_SEQPACKET);
}
VSC_CASE(zerocopy_seqpacket_unmapped_page, .sock_type = SOCK_SEQPACKET,
	 .summary = "MSG_ZEROCOPY message with an unmapped page: ENOMEM, nothing sent or completed",
	 .server = seqpacket_unmapped_server, .client = seqpacket_unmapped_client,
	 .needs = VSC_NEED_SEQPACKET, .min_kver = VSC_KVER_VSOCK_ZEROCOPY,
	 .tags = VSC_TAGS("vsock_test 19"));

static void seqpacket_no_option_server(const struct vsc_env *env)
{
	one_page_server(env, SOCK_SEQPACKET);
}

static void seqpacket_no_option_client(const struct vsc_env *env)
{
	no_option_client(env, SOCK_SEQPACKET);
}
VSC_CASE(zerocopy_seqpacket_without_so_zerocopy, .sock_type = SOCK_SEQPACKET,
	 .summary = "MSG_ZEROCOPY message without SO_ZEROCOPY: an ordinary send, no completion",
	 .server = seqpacket_no_option_server, .client = seqpacket_no_option_client,
	 .needs = VSC_NEED_SEQPACKET, .min_kver = ERRQUEUE_KVER,
	 .tags = VSC_TAGS("vsock_test 19"));

static void empty_errqueue_server(const struct vsc_env *env)
{
	int listener, fd = vsc_accept_peer(SOCK_STREAM, env, &listener);

	vsc_send_all(fd, "d", 1);
	vsc_wait("done");
	SAFE(close(fd));
	SAFE(close(listener));
}

static void empty_errqueue_client(const struct vsc_env *env)
{
	int fd = vsc_connect_peer(SOCK_STREAM, env);
	char control[128], byte;
	struct iovec iov = { &byte, 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
			      .msg_controllen = sizeof(control) };

	/* With ordinary data queued, reading the error queue must neither block nor take it. */
	EXPECT_TRUE(vsc_poll(fd, POLLIN, VSC_SETTLE_MS) & POLLIN);
	EXPECT_ERRNO(recvmsg(fd, &msg, MSG_ERRQUEUE), EAGAIN);
	EXPECT_EQ(SAFE(recv(fd, &byte, 1, MSG_DONTWAIT)), 1);
	EXPECT_EQ(byte, 'd');
	vsc_signal("done");
	SAFE(close(fd));
}
VSC_CASE(zerocopy_empty_errqueue, .sock_type = SOCK_STREAM,
	 .summary = "recvmsg(MSG_ERRQUEUE) with nothing on the error queue gives EAGAIN at once",
	 .server = empty_errqueue_server, .client = empty_errqueue_client,
	 .min_kver = ERRQUEUE_KVER,
	 .tags = VSC_TAGS("vsock_test 20"));
