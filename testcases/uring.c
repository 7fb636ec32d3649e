/* uring.c: STREAM data sent and received through io_uring, with and without zerocopy. */
#include <liburing.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vsc.h"
#include "vsc_sock.h"

#define PAGE 4096
#define RING_ENTRIES 4
#define MAX_PIECES 3

/* One sendmsg's iovec: each piece sits at `offset` into pages of its own. */
struct layout {
	const char *name;
	int pieces;
	struct {
		size_t offset, len;
	} piece[MAX_PIECES];
};

static const struct layout layouts[] = {
	{ "page-aligned pieces of 1, 2 and 3 pages", 3,
	  { { 0, PAGE }, { 0, 2 * PAGE }, { 0, 3 * PAGE } } },
	/* Zerocopy pins whole pages: a piece starting and ending inside one must come out right. */
	{ "a 200-byte piece at page offset 1 between aligned ones", 3,
	  { { 0, PAGE }, { 1, 200 }, { 0, 3 * PAGE } } },
};
#define LAYOUTS (sizeof(layouts) / sizeof(layouts[0]))

static size_t layout_bytes(const struct layout *l)
{
	size_t total = 0;
	int i;

	for (i = 0; i < l->pieces; i++)
		total += l->piece[i].len;
	return total;
}

/* liburing returns -errno rather than setting errno. */
#define URING(call)                                                                        \
	({                                                                                 \
		vsc_step_at(__FILE__, __LINE__, #call);                                    \
		int uring_ret_ = (call);                                                   \
		if (uring_ret_ < 0)                                                        \
			vsc_fatal_at(__FILE__, __LINE__, "%s failed: %s", #call,       \
				      vsc_errname(-uring_ret_));                           \
		uring_ret_;                                                                \
	})

static void need_opcode(const struct io_uring_probe *probe, int op, const char *name,
			const char *since)
{
	if (!io_uring_opcode_supported(probe, op))
		vsc_skip("io_uring has no %s (added in %s)", name, since);
}

/*
 * Both roles probe before anything else, so a SKIP never leaves the other one waiting:
 * io_uring may be built out (ENOSYS) or switched off (kernel.io_uring_disabled: EPERM), and
 * zerocopy needs IORING_OP_SENDMSG_ZC (6.1) and a vsock that takes SO_ZEROCOPY (the case's
 * min_kver).
 */
static void open_ring(struct io_uring *ring, int zerocopy)
{
	struct io_uring_probe *probe;
	int ret = io_uring_queue_init(RING_ENTRIES, ring, 0);

	if (ret == -ENOSYS || ret == -EPERM)
		vsc_skip("io_uring_setup fails with %s", vsc_errname(-ret));
	if (ret < 0)
		vsc_fatal_at(__FILE__, __LINE__, "io_uring_queue_init failed: %s",
			      vsc_errname(-ret));
	probe = io_uring_get_probe_ring(ring);
	if (!probe)
		vsc_skip("io_uring cannot list its opcodes (IORING_REGISTER_PROBE, 5.6)");
	need_opcode(probe, IORING_OP_READV, "IORING_OP_READV", "5.1");
	need_opcode(probe, IORING_OP_SENDMSG, "IORING_OP_SENDMSG", "5.3");
	if (zerocopy)
		need_opcode(probe, IORING_OP_SENDMSG_ZC, "IORING_OP_SENDMSG_ZC", "6.1");
	io_uring_free_probe(probe);
}

/* Reads each layout's bytes with IORING_OP_READV, as many reads as it takes, and checks them. */
static void receive(const struct vsc_env *env, int zerocopy)
{
	static char got[6 * PAGE], want[6 * PAGE];
	struct io_uring ring;
	int listener, fd;
	size_t l;

	open_ring(&ring, zerocopy);
	fd = vsc_accept_peer(SOCK_STREAM, env, &listener);
	for (l = 0; l < LAYOUTS; l++) {
		size_t total = layout_bytes(&layouts[l]), done = 0;

		while (done < total) {
			struct iovec iov = { got + done, total - done };
			struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
			struct io_uring_cqe *cqe;
			int res;

			io_uring_prep_readv(sqe, fd, &iov, 1, 0);
			EXPECT_EQ(URING(io_uring_submit(&ring)), 1);
			URING(io_uring_wait_cqe(&ring, &cqe));
			res = cqe->res;
			io_uring_cqe_seen(&ring, cqe);
			if (res <= 0)
				vsc_fatal_at(__FILE__, __LINE__,
					      "readv after %zu of %zu bytes of %s: %s", done, total,
					      layouts[l].name,
					      res ? vsc_errname(-res) : "EOF");
			done += (size_t)res;
		}
		vsc_fill_pattern(want, total, 0);
		if (memcmp(got, want, total) != 0)
			vsc_fail_at(__FILE__, __LINE__, "the bytes of %s arrived changed",
				      layouts[l].name);
	}
	vsc_signal("received");
	io_uring_queue_exit(&ring);
	SAFE(close(fd));
	SAFE(close(listener));
}

/*
 * One IORING_OP_SENDMSG(_ZC) per layout. A zerocopy send completes twice: the result (with
 * IORING_CQE_F_MORE), then a notification (IORING_CQE_F_NOTIF) once the kernel has let go of
 * the pages; they may only be unmapped after that.
 */
static void send_layout(struct io_uring *ring, int fd, const struct layout *l, int zerocopy)
{
	struct iovec iov[MAX_PIECES];
	void *map[MAX_PIECES];
	size_t map_len[MAX_PIECES], total = layout_bytes(l), sent = 0;
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = (size_t)l->pieces };
	struct io_uring_sqe *sqe;
	int i, result_seen = 0, notif_seen = 0, more = 0;

	for (i = 0; i < l->pieces; i++) {
		map_len[i] = (l->piece[i].offset + l->piece[i].len + PAGE - 1) / PAGE * PAGE;
		map[i] = mmap(NULL, map_len[i], PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		ASSERT_TRUE(map[i] != MAP_FAILED);
		iov[i].iov_base = (char *)map[i] + l->piece[i].offset;
		iov[i].iov_len = l->piece[i].len;
		vsc_fill_pattern(iov[i].iov_base, iov[i].iov_len, sent);
		sent += l->piece[i].len;
	}
	sqe = io_uring_get_sqe(ring);
	if (zerocopy)
		io_uring_prep_sendmsg_zc(sqe, fd, &msg, 0);
	else
		io_uring_prep_sendmsg(sqe, fd, &msg, 0);
	EXPECT_EQ(URING(io_uring_submit(ring)), 1);
	while (!result_seen || (more && !notif_seen)) {
		struct io_uring_cqe *cqe;

		URING(io_uring_wait_cqe(ring, &cqe));
		if (cqe->flags & IORING_CQE_F_NOTIF) {
			notif_seen = 1;
		} else {
			result_seen = 1;
			more = !!(cqe->flags & IORING_CQE_F_MORE);
			if (cqe->res < 0)
				vsc_fatal_at(__FILE__, __LINE__, "sendmsg%s of %s failed: %s",
					      zerocopy ? "_zc" : "", l->name,
					      vsc_errname(-cqe->res));
			if ((size_t)cqe->res != total)
				vsc_fail_at(__FILE__, __LINE__,
					      "sendmsg%s of %s sent %d of %zu bytes",
					      zerocopy ? "_zc" : "", l->name, cqe->res, total);
		}
		io_uring_cqe_seen(ring, cqe);
	}
	/* Without a notification nothing says when the pages are free again. */
	if (zerocopy)
		EXPECT_TRUE(more && notif_seen);
	for (i = 0; i < l->pieces; i++)
		SAFE(munmap(map[i], map_len[i]));
}

static void send_all_layouts(const struct vsc_env *env, int zerocopy)
{
	struct io_uring ring;
	size_t l;
	int fd;

	open_ring(&ring, zerocopy);
	fd = vsc_connect_peer(SOCK_STREAM, env);
	if (zerocopy) {
		int one = 1;

		SAFE(setsockopt(fd, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof(one)));
	}
	for (l = 0; l < LAYOUTS; l++)
		send_layout(&ring, fd, &layouts[l], zerocopy);
	vsc_wait("received");
	io_uring_queue_exit(&ring);
	SAFE(close(fd));
}

static void copy_server(const struct vsc_env *env)
{
	receive(env, 0);
}

static void copy_client(const struct vsc_env *env)
{
	send_all_layouts(env, 0);
}
VSC_CASE(uring_sendmsg_readv, .sock_type = SOCK_STREAM,
	 .summary = "io_uring SENDMSG of 3-piece iovecs arrives whole through io_uring READV",
	 .server = copy_server, .client = copy_client,
	 .tags = VSC_TAGS("vsock_uring_test 0"));

static void zerocopy_server(const struct vsc_env *env)
{
	receive(env, 1);
}

static void zerocopy_client(const struct vsc_env *env)
{
	send_all_layouts(env, 1);
}
VSC_CASE(uring_sendmsg_zc_readv, .sock_type = SOCK_STREAM,
	 .summary = "io_uring SENDMSG_ZC, SO_ZEROCOPY on: full result, a notification, intact data",
	 .server = zerocopy_server, .client = zerocopy_client,
	 .min_kver = VSC_KVER_VSOCK_ZEROCOPY, .tags = VSC_TAGS("vsock_uring_test 1"));
