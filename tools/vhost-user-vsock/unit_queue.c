/* unit_queue.c: the split virtqueue layer against a fake guest: chains, indirect tables, and
 * which kicks and interrupts the event idx and flag rules let through. */
#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "unit_fake_guest.h"
#include "vsc.h"
#include "vu_queue.h"

static int pop(struct fake_guest *g, struct vu_chain *chain)
{
	char error[256] = "";
	int ret = vu_queue_pop(&g->dev, g->ring, chain, error, sizeof(error));

	if (ret < 0)
		vsc_diag("pop: %s", error);
	return ret;
}

/* Each hostile layout must be refused with its reason, never followed outside guest memory. */
static void expect_refused_at(const char *file, int line, struct fake_guest *g, const char *reason)
{
	struct vu_chain chain;
	char error[256] = "";
	int ret = vu_queue_pop(&g->dev, g->ring, &chain, error, sizeof(error));

	if (ret != -1 || !strstr(error, reason))
		vsc_fail_at(file, line, "expected -1 with \"%s\", got %d with \"%s\"", reason, ret,
			    error);
	vu_device_reset(&g->dev);
}
#define expect_refused(g, reason) expect_refused_at(__FILE__, __LINE__, g, reason)

static void ring_walk(const struct vsc_env *env)
{
	struct fake_guest g;
	struct vu_chain chain;
	char text[16] = "";

	(void)env;
	fake_guest_init(&g, 0);
	EXPECT_EQ(pop(&g, &chain), 0);
	/* A header split over two readable descriptors, then one writable: read across the seam. */
	memcpy(g.mem + 0x8000, "hello ", 6);
	memcpy(g.mem + 0x9000, "world", 5);
	fake_desc(&g, DESC_AT, 0, 0x8000, 6, F_NEXT, 1);
	fake_desc(&g, DESC_AT, 1, 0x9000, 5, F_NEXT, 2);
	fake_desc(&g, DESC_AT, 2, 0xa000, 100, F_WRITE, 0);
	fake_offer(&g, 0);
	ASSERT_EQ(pop(&g, &chain), 1);
	EXPECT_EQ(chain.n_in, 2);
	EXPECT_EQ(chain.n_out, 1);
	EXPECT_EQ(chain.in_bytes, 11);
	EXPECT_EQ(vu_chain_read(&chain, 0, text, 11), 11);
	EXPECT_TRUE(memcmp(text, "hello world", 11) == 0);
	EXPECT_EQ(vu_chain_write(&chain, 0, "reply", 5), 5);
	EXPECT_TRUE(memcmp(g.mem + 0xa000, "reply", 5) == 0);
	vu_queue_push(g.ring, &chain, 5);
	EXPECT_EQ(g.used[1], 1);	/* used idx */
	EXPECT_EQ(((uint32_t *)(g.used + 2))[0], 0);	/* id: the head */
	EXPECT_EQ(((uint32_t *)(g.used + 2))[1], 5);	/* len written */
	vu_device_reset(&g.dev);
}
VSC_CASE(vu_ring_walk,
	 .summary = "a chain split over descriptors is read across the seam and returned",
	 .run = ring_walk);

static void hostile_rings(const struct vsc_env *env)
{
	struct fake_guest g;

	(void)env;
	fake_guest_init(&g, 0);
	fake_desc(&g, DESC_AT, 0, 0x8000, 16, F_NEXT, 0);	/* a chain that points back at itself */
	fake_offer(&g, 0);
	expect_refused(&g, "descriptor chain loops");

	fake_guest_init(&g, 0);
	fake_offer(&g, RING_NUM + 3);		/* a head outside the table */
	expect_refused(&g, "descriptor index out of range");

	fake_guest_init(&g, 0);
	fake_desc(&g, DESC_AT, 0, GUEST_BYTES - 8, 16, 0, 0);	/* a buffer running off guest memory */
	fake_offer(&g, 0);
	expect_refused(&g, "buffer outside guest memory");

	fake_guest_init(&g, 0);
	fake_desc(&g, DESC_AT, 0, 0x8000, 16, F_WRITE | F_NEXT, 1);	/* writable, then readable */
	fake_desc(&g, DESC_AT, 1, 0x9000, 16, 0, 0);
	fake_offer(&g, 0);
	expect_refused(&g, "readable after writable");

	fake_guest_init(&g, 0);
	fake_desc(&g, DESC_AT, 0, TABLES_AT, 16, F_INDIRECT, 0);	/* INDIRECT_DESC not acked */
	fake_desc(&g, TABLES_AT, 0, 0x8000, 16, 0, 0);
	fake_offer(&g, 0);
	expect_refused(&g, "indirect descriptor (not negotiated)");

	/* Buffers of 1 byte and 4 GiB - 1: refused on the sum, before the second is translated. */
	fake_guest_init(&g, 0);
	fake_desc(&g, DESC_AT, 0, 0x8000, 1, F_NEXT, 1);
	fake_desc(&g, DESC_AT, 1, 0x9000, UINT32_MAX, 0, 0);
	fake_offer(&g, 0);
	expect_refused(&g, "more than 4 GiB");

	fake_guest_init(&g, 0);
	g.avail[1] = RING_NUM + 1;		/* more entries made available than the ring has */
	expect_refused(&g, "avail index ran ahead");
}
VSC_CASE(vu_hostile_rings,
	 .summary = "loops, out-of-range heads and buffers, bad order are refused",
	 .run = hostile_rings);

static void indirect_walk(const struct vsc_env *env)
{
	struct fake_guest g;
	struct vu_chain chain;
	char text[32] = "";

	(void)env;
	fake_guest_init(&g, VU_F_INDIRECT_DESC);
	/*
	 * A direct readable descriptor, then an indirect one ending the chain (legal, if unusual:
	 * 2.7.5.3.2). Its F_WRITE must be ignored. The table's entries are linked out of order:
	 * 0 -> 2 -> 1, two readable, then one writable.
	 */
	memcpy(g.mem + 0x8000, "hdr:", 4);
	memcpy(g.mem + 0x9000, "hello ", 6);
	memcpy(g.mem + 0x9100, "world", 5);
	fake_desc(&g, DESC_AT, 5, 0x8000, 4, F_NEXT, 6);
	fake_desc(&g, DESC_AT, 6, TABLES_AT, 3 * 16, F_INDIRECT | F_WRITE, 0);
	fake_desc(&g, TABLES_AT, 0, 0x9000, 6, F_NEXT, 2);
	fake_desc(&g, TABLES_AT, 2, 0x9100, 5, F_NEXT, 1);
	fake_desc(&g, TABLES_AT, 1, 0xa000, 64, F_WRITE, 0);
	fake_offer(&g, 5);
	ASSERT_EQ(pop(&g, &chain), 1);
	EXPECT_EQ(chain.head, 5);
	EXPECT_EQ(chain.n_in, 3);
	EXPECT_EQ(chain.n_out, 1);
	EXPECT_EQ(chain.in_bytes, 15);
	EXPECT_EQ(chain.out_bytes, 64);
	EXPECT_EQ(vu_chain_read(&chain, 0, text, sizeof(text)), 15);
	EXPECT_TRUE(memcmp(text, "hdr:hello world", 15) == 0);
	/* Reading from an offset inside the table's second segment. */
	EXPECT_EQ(vu_chain_read(&chain, 12, text, 3), 3);
	EXPECT_TRUE(memcmp(text, "rld", 3) == 0);
	EXPECT_EQ(vu_chain_write(&chain, 0, "ok", 2), 2);
	EXPECT_TRUE(memcmp(g.mem + 0xa000, "ok", 2) == 0);
	vu_queue_push(g.ring, &chain, 2);
	EXPECT_EQ(((uint32_t *)(g.used + 2))[0], 5);	/* the ring's head, not a table index */

	/* The common Linux layout: the indirect descriptor alone is the head. */
	fake_desc(&g, DESC_AT, 0, TABLES_AT + 0x100, 16, F_INDIRECT, 0);
	fake_desc(&g, TABLES_AT + 0x100, 0, 0xb000, 32, F_WRITE, 0);
	fake_offer(&g, 0);
	ASSERT_EQ(pop(&g, &chain), 1);
	EXPECT_EQ(chain.n_in, 0);
	EXPECT_EQ(chain.n_out, 1);
	EXPECT_TRUE(chain.out[0].addr == g.mem + 0xb000);

	/* An empty table gives an empty chain, not an error. */
	fake_desc(&g, DESC_AT, 1, TABLES_AT, 0, F_INDIRECT, 0);
	fake_offer(&g, 1);
	ASSERT_EQ(pop(&g, &chain), 1);
	EXPECT_EQ(chain.n_in + chain.n_out, 0);
	vu_device_reset(&g.dev);
}
VSC_CASE(vu_indirect_walk,
	 .summary = "indirect tables, alone or after direct descriptors, read in link order",
	 .run = indirect_walk);

/* Ring head 0 names a table at TABLES_AT of `len` bytes with `flags` on the naming descriptor. */
static void indirect_head(struct fake_guest *g, uint32_t len, uint16_t flags)
{
	fake_guest_init(g, VU_F_INDIRECT_DESC);
	fake_desc(g, DESC_AT, 0, TABLES_AT, len, F_INDIRECT | flags, 1);
	fake_offer(g, 0);
}

static void indirect_hostile(const struct vsc_env *env)
{
	struct fake_guest g;
	unsigned int i;

	(void)env;
	fake_guest_init(&g, VU_F_INDIRECT_DESC);	/* a table running off guest memory */
	fake_desc(&g, DESC_AT, 0, GUEST_BYTES - 16, 32, F_INDIRECT, 0);
	fake_offer(&g, 0);
	expect_refused(&g, "indirect table outside guest memory");

	indirect_head(&g, 16, F_NEXT);		/* INDIRECT and NEXT together */
	fake_desc(&g, TABLES_AT, 0, 0x8000, 16, 0, 0);
	expect_refused(&g, "indirect descriptor with NEXT");

	indirect_head(&g, 24, 0);		/* a length that is not whole descriptors */
	expect_refused(&g, "not a multiple of 16");

	indirect_head(&g, 16 * (VU_INDIRECT_MAX_DESCS + 1), 0);
	expect_refused(&g, "indirect table too long");

	indirect_head(&g, 32, 0);		/* an entry naming a table of its own */
	fake_desc(&g, TABLES_AT, 0, 0x8000, 16, F_NEXT, 1);
	fake_desc(&g, TABLES_AT, 1, TABLES_AT + 0x100, 16, F_INDIRECT, 0);
	expect_refused(&g, "nested indirect descriptor");

	indirect_head(&g, 32, 0);		/* entries linked in a circle */
	fake_desc(&g, TABLES_AT, 0, 0x8000, 16, F_NEXT, 1);
	fake_desc(&g, TABLES_AT, 1, 0x9000, 16, F_NEXT, 0);
	expect_refused(&g, "indirect table loops");

	indirect_head(&g, 32, 0);		/* a link past the table's end */
	fake_desc(&g, TABLES_AT, 0, 0x8000, 16, F_NEXT, 2);
	expect_refused(&g, "indirect next out of range");

	indirect_head(&g, 16, 0);		/* a buffer in the table running off guest memory */
	fake_desc(&g, TABLES_AT, 0, GUEST_BYTES - 8, 16, 0, 0);
	expect_refused(&g, "buffer outside guest memory");

	fake_guest_init(&g, VU_F_INDIRECT_DESC);	/* writable direct, then a readable entry */
	fake_desc(&g, DESC_AT, 0, 0xa000, 16, F_WRITE | F_NEXT, 1);
	fake_desc(&g, DESC_AT, 1, TABLES_AT, 16, F_INDIRECT, 0);
	fake_desc(&g, TABLES_AT, 0, 0x8000, 16, 0, 0);
	fake_offer(&g, 0);
	expect_refused(&g, "readable after writable");

	/* A full table of readable entries: more segments than a chain holds. */
	indirect_head(&g, 16 * VU_INDIRECT_MAX_DESCS, 0);
	for (i = 0; i < VU_INDIRECT_MAX_DESCS; i++)
		fake_desc(&g, TABLES_AT, i, 0x8000, 16, F_NEXT, (uint16_t)(i + 1));
	expect_refused(&g, "too long");
}
VSC_CASE(vu_indirect_hostile,
	 .summary = "indirect tables outside memory, nested, looped, cut or too long: refused",
	 .run = indirect_hostile);

/* How many times the device wrote the call eventfd since the last look (a counter read). */
static uint64_t signals(int call_fd)
{
	uint64_t count = 0;

	if (read(call_fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		vsc_fatal_at(__FILE__, __LINE__, "read(call eventfd): %s", strerror(errno));
	return count;
}

/* Pushes `n` completions of chain 0, then notifies once; the device's side of one batch. */
static void complete(struct fake_guest *g, unsigned int n)
{
	struct vu_chain chain = { .head = 0 };

	while (n--)
		vu_queue_push(g->ring, &chain, 0);
	vu_queue_notify(&g->dev, g->ring);
}

static int guest_with_call_fd(struct fake_guest *g, uint64_t features)
{
	fake_guest_init(g, features);
	g->ring->call_fd = SAFE(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
	return g->ring->call_fd;
}

static void event_idx_notify(const struct vsc_env *env)
{
	struct fake_guest g;
	int call;

	(void)env;
	call = guest_with_call_fd(&g, VU_F_EVENT_IDX);
	*fake_used_event(&g) = 0;		/* tell me when entry 0 is used */
	complete(&g, 1);
	EXPECT_EQ(signals(call), 1);
	*fake_used_event(&g) = 5;		/* ... when entry 5 is used: not by 1..2 */
	complete(&g, 2);
	EXPECT_EQ(signals(call), 0);
	complete(&g, 3);			/* entries 3..5: crosses 5 */
	EXPECT_EQ(signals(call), 1);
	complete(&g, 1);			/* entry 6: the driver has not asked again */
	EXPECT_EQ(signals(call), 0);
	/* With EVENT_IDX the device ignores NO_INTERRUPT (2.7.10): the event index rules. */
	g.avail[0] = 1;
	*fake_used_event(&g) = 7;
	complete(&g, 1);
	EXPECT_EQ(signals(call), 1);
	vu_device_reset(&g.dev);

	/* Across the u16 wrap: used idx 0xfffe, the driver waits for entry 0xffff, then for 1. */
	call = guest_with_call_fd(&g, VU_F_EVENT_IDX);
	g.ring->used_idx = 0xfffe;
	g.used[1] = 0xfffe;
	*fake_used_event(&g) = 0xffff;
	complete(&g, 1);			/* entry 0xfffe */
	EXPECT_EQ(signals(call), 0);
	complete(&g, 1);			/* entry 0xffff */
	EXPECT_EQ(signals(call), 1);
	EXPECT_EQ(g.used[1], 0);
	*fake_used_event(&g) = 1;
	complete(&g, 1);			/* entry 0 */
	EXPECT_EQ(signals(call), 0);
	complete(&g, 3);			/* entries 1..3 */
	EXPECT_EQ(signals(call), 1);
	/* One batch from before the wrap to after it, over the event at 0xffff. */
	g.ring->used_idx = 0xfffd;
	*fake_used_event(&g) = 0xffff;
	complete(&g, 4);			/* entries 0xfffd..0 */
	EXPECT_EQ(signals(call), 1);
	/* Nothing pushed: nothing said. */
	vu_queue_notify(&g.dev, g.ring);
	EXPECT_EQ(signals(call), 0);
	vu_device_reset(&g.dev);
}
VSC_CASE(vu_event_idx_notify,
	 .summary = "EVENT_IDX: a signal only when used_event is crossed, across the u16 wrap",
	 .run = event_idx_notify);

static void no_interrupt_flag(const struct vsc_env *env)
{
	struct fake_guest g;
	int call;

	(void)env;
	call = guest_with_call_fd(&g, 0);
	*fake_used_event(&g) = 0x8000;		/* meaningless without EVENT_IDX */
	complete(&g, 1);
	EXPECT_EQ(signals(call), 1);
	g.avail[0] = 1;				/* VRING_AVAIL_F_NO_INTERRUPT */
	complete(&g, 2);
	EXPECT_EQ(signals(call), 0);
	g.avail[0] = 0;
	complete(&g, 1);
	EXPECT_EQ(signals(call), 1);
	vu_device_reset(&g.dev);
}
VSC_CASE(vu_no_interrupt_flag,
	 .summary = "without EVENT_IDX the guest's NO_INTERRUPT flag is honoured",
	 .run = no_interrupt_flag);

static void kick_suppression(const struct vsc_env *env)
{
	struct fake_guest g;
	struct vu_chain chain;
	int i;

	(void)env;
	/* EVENT_IDX: avail_event is left alone while draining, then set to the next index. */
	fake_guest_init(&g, VU_F_EVENT_IDX);
	*fake_avail_event(&g) = 0xaaaa;
	fake_desc(&g, DESC_AT, 0, 0x8000, 16, 0, 0);
	for (i = 0; i < 3; i++)
		fake_offer(&g, 0);
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(pop(&g, &chain), 1);
		EXPECT_EQ(*fake_avail_event(&g), 0xaaaa);
	}
	EXPECT_EQ(pop(&g, &chain), 0);
	EXPECT_EQ(*fake_avail_event(&g), 3);
	EXPECT_EQ(g.used[0], 0);		/* the flag is not used with EVENT_IDX */
	fake_offer(&g, 0);
	ASSERT_EQ(pop(&g, &chain), 1);
	EXPECT_EQ(pop(&g, &chain), 0);
	EXPECT_EQ(*fake_avail_event(&g), 4);
	vu_device_reset(&g.dev);

	/* Without it: VRING_USED_F_NO_NOTIFY while draining, cleared when the ring is empty. */
	fake_guest_init(&g, 0);
	fake_desc(&g, DESC_AT, 0, 0x8000, 16, 0, 0);
	fake_offer(&g, 0);
	fake_offer(&g, 0);
	ASSERT_EQ(pop(&g, &chain), 1);
	EXPECT_EQ(g.used[0], 1);
	ASSERT_EQ(pop(&g, &chain), 1);
	EXPECT_EQ(g.used[0], 1);
	EXPECT_EQ(pop(&g, &chain), 0);
	EXPECT_EQ(g.used[0], 0);
	EXPECT_EQ(*fake_avail_event(&g), 0);	/* untouched without EVENT_IDX */
	vu_device_reset(&g.dev);
}
VSC_CASE(vu_kick_suppression,
	 .summary = "kicks suppressed while draining, asked for again when the ring is empty",
	 .run = kick_suppression);

/* Sends SET_VRING_ADDR for ring 0 straight to the handler; its result. */
static int set_used_addr(struct fake_guest *g, uint64_t used_gpa, char *error, size_t size)
{
	struct vu_msg msg = { .hdr = { VU_SET_VRING_ADDR, VU_FLAG_VERSION,
				       sizeof(struct vu_vring_addr) } };

	msg.payload.addr = (struct vu_vring_addr){ .index = 0, .desc_uaddr = QEMU_VA + DESC_AT,
						   .avail_uaddr = QEMU_VA + AVAIL_AT,
						   .used_uaddr = QEMU_VA + used_gpa };
	return vu_device_handle(&g->dev, -1, &msg, error, size);
}

static void ring_bounds(const struct vsc_env *env)
{
	/* The used ring of 8 with avail_event is 70 bytes: its last 4-aligned start is 72 back. */
	uint64_t last_start = GUEST_BYTES - 72;
	struct fake_guest g;
	char error[256];

	(void)env;
	fake_guest_init(&g, 0);
	/* One slot further, the trailing avail_event would be the 2 bytes past guest memory. */
	EXPECT_EQ(set_used_addr(&g, last_start + 4, error, sizeof(error)), -1);
	EXPECT_TRUE(strstr(error, "outside the memory table") != NULL);
	EXPECT_EQ(set_used_addr(&g, USED_AT + 2, error, sizeof(error)), -1);
	EXPECT_TRUE(strstr(error, "misaligned") != NULL);
	/* The last place that fits; the device carries on from the used idx it finds there. */
	g.mem[last_start + 2] = 7;
	EXPECT_EQ(set_used_addr(&g, last_start, error, sizeof(error)), 0);
	EXPECT_EQ(g.ring->used_idx, 7);
	vu_device_reset(&g.dev);
}
VSC_CASE(vu_ring_bounds,
	 .summary = "a used ring must hold avail_event inside guest memory, 4-byte aligned",
	 .run = ring_bounds);

/*
 * Not a timing: how many call_fd writes 1000 completions cost, one notify per completion, with
 * a driver modelled on Linux's: its interrupt handler defers the work, which runs `lag`
 * completions later, takes everything used, and then asks again (EVENT_IDX: used_event = the
 * next index; without it the flags stay 0, as the handler does not set NO_INTERRUPT).
 */
static uint64_t calls_per_1000(uint64_t features, unsigned int lag)
{
	unsigned int sent, since_signal = 0;
	int pending = 0, call;
	struct fake_guest g;
	uint64_t total = 0;

	call = guest_with_call_fd(&g, features);
	for (sent = 0; sent < 1000; sent++) {
		complete(&g, 1);
		if (signals(call)) {
			total++;
			pending = 1;
		}
		if (pending && ++since_signal == lag) {
			*fake_used_event(&g) = g.used[1];
			pending = 0;
			since_signal = 0;
		}
	}
	vu_device_reset(&g.dev);
	return total;
}

static void notify_count(const struct vsc_env *env)
{
	unsigned int lag = 8;
	uint64_t with = calls_per_1000(VU_F_EVENT_IDX, lag), without = calls_per_1000(0, lag);

	(void)env;
	vsc_diag("call_fd writes per 1000 packets, driver lag %u: %llu with EVENT_IDX, %llu without",
		 lag, (unsigned long long)with, (unsigned long long)without);
	/* The model's arithmetic: one signal per `lag` completions, or one per completion. */
	EXPECT_EQ(with, (1000 + lag - 1) / lag);
	EXPECT_EQ(without, 1000);
}
VSC_CASE(vu_notify_count,
	 .summary = "call_fd writes per 1000 packets with and without EVENT_IDX (printed)",
	 .run = notify_count);
