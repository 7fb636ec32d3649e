/* unit_vring.c: engine 2's driver-side ring on the build machine; the test plays vhost by
 * writing the used ring itself (no device is opened). */
#include <stdlib.h>
#include <string.h>

#include "vsc.h"
#include "vring.h"

#define NUM 8

struct fake {
	struct fxg_ring ring;
	uint8_t *mem;
	uint8_t buffers[4][64];
	char why[256];
};

static struct fake *fake_new(void)
{
	struct fake *f = calloc(1, sizeof(*f));

	ASSERT_TRUE(f != NULL);
	f->mem = aligned_alloc(4096, fxg_ring_bytes(NUM));
	ASSERT_TRUE(f->mem != NULL);
	memset(f->mem, 0, fxg_ring_bytes(NUM));
	fxg_ring_init(&f->ring, f->mem, NUM);
	return f;
}

static void fake_free(struct fake *f)
{
	free(f->mem);
	free(f);
}

/* What vhost does when it is done with a chain. */
static void vhost_uses(struct fake *f, uint32_t id, uint32_t len)
{
	struct vring_used *used = f->ring.used;

	used->ring[used->idx % NUM].id = id;
	used->ring[used->idx % NUM].len = len;
	__atomic_store_n(&used->idx, used->idx + 1, __ATOMIC_RELEASE);
}

static int publish_buffer(struct fake *f, int index, int writes)
{
	struct fxg_segment s = { f->buffers[index], sizeof(f->buffers[index]), writes };

	return fxg_ring_publish(&f->ring, &s, 1, index);
}

static int reap(struct fake *f, struct fxg_used *used, unsigned int *lost, unsigned int *n_lost)
{
	return fxg_ring_reap(&f->ring, used, lost, NUM, n_lost, f->why, sizeof(f->why));
}

static void round_trip(const struct vsc_env *env)
{
	struct fake *f = fake_new();
	struct fxg_segment split[3] = {
		{ f->buffers[0], 20, 0 }, { f->buffers[1], 24, 0 }, { f->buffers[2], 4, 0 },
	};
	unsigned int lost[NUM], n_lost, i;
	struct fxg_used used;
	int head;

	(void)env;
	head = fxg_ring_publish(&f->ring, split, 3, 7);
	ASSERT_TRUE(head >= 0);
	EXPECT_EQ(f->ring.avail->idx, 1);
	EXPECT_EQ(f->ring.avail->ring[0], head);
	/* The chain as vhost walks it: linked by NEXT, read-only, our addresses and lengths. */
	{
		uint16_t id = head;

		for (i = 0; i < 3; i++) {
			struct vring_desc *d = &f->ring.desc[id];

			EXPECT_EQ(d->addr, (uintptr_t)split[i].addr);
			EXPECT_EQ(d->len, split[i].len);
			EXPECT_EQ(d->flags & VRING_DESC_F_WRITE, 0);
			EXPECT_EQ(!!(d->flags & VRING_DESC_F_NEXT), i < 2);
			id = d->next;
		}
	}
	EXPECT_EQ(f->ring.n_free, NUM - 3);
	EXPECT_EQ(reap(f, &used, lost, &n_lost), 0);
	vhost_uses(f, head, 0);
	ASSERT_EQ(reap(f, &used, lost, &n_lost), 1);
	EXPECT_EQ(used.head, head);
	EXPECT_EQ(used.cookie, 7);
	EXPECT_EQ(n_lost, 0);
	EXPECT_EQ(f->ring.n_free, NUM);
	EXPECT_EQ(f->ring.outstanding, 0);
	/* Many times round the ring: indexes wrap, descriptors come back. */
	for (i = 0; i < 5 * NUM; i++) {
		head = publish_buffer(f, i % 4, 1);
		ASSERT_TRUE(head >= 0);
		vhost_uses(f, head, 44);
		ASSERT_EQ(reap(f, &used, lost, &n_lost), 1);
		EXPECT_EQ(used.cookie, i % 4);
		EXPECT_EQ(used.len, 44);
	}
	EXPECT_EQ(f->ring.n_free, NUM);
	fake_free(f);
}
VSC_CASE(fxg_ring_round_trip, .summary = "engine 2 ring: a chain published, used and reaped; indexes wrap",
	 .run = round_trip);

static void refuses_bad_values(const struct vsc_env *env)
{
	unsigned int lost[NUM], n_lost;
	struct fxg_used used;
	struct fake *f;
	int head;

	(void)env;
	/* An id that is no chain of ours (out of range, then a free descriptor). */
	f = fake_new();
	head = publish_buffer(f, 0, 1);
	vhost_uses(f, NUM + 3, 44);
	EXPECT_EQ(reap(f, &used, lost, &n_lost), -1);
	EXPECT_TRUE(strstr(f->why, "id 11 is not a chain vhost holds") != NULL);
	fake_free(f);
	f = fake_new();
	head = publish_buffer(f, 0, 1);
	vhost_uses(f, head + 1, 44);
	EXPECT_EQ(reap(f, &used, lost, &n_lost), -1);
	fake_free(f);
	/* More written than the buffer holds; anything written into a read-only chain. */
	f = fake_new();
	head = publish_buffer(f, 0, 1);
	vhost_uses(f, head, 65);
	EXPECT_EQ(reap(f, &used, lost, &n_lost), -1);
	EXPECT_TRUE(strstr(f->why, "len 65") != NULL);
	fake_free(f);
	f = fake_new();
	head = publish_buffer(f, 0, 0);
	vhost_uses(f, head, 1);
	EXPECT_EQ(reap(f, &used, lost, &n_lost), -1);
	fake_free(f);
	/* A used index moved past everything published. */
	f = fake_new();
	head = publish_buffer(f, 0, 1);
	f->ring.used->idx = 2;
	EXPECT_EQ(reap(f, &used, lost, &n_lost), -1);
	EXPECT_TRUE(strstr(f->why, "used.idx from 0 to 2") != NULL);
	fake_free(f);
	/* The same chain returned twice. */
	f = fake_new();
	head = publish_buffer(f, 0, 1);
	publish_buffer(f, 1, 1);
	vhost_uses(f, head, 44);
	vhost_uses(f, head, 44);
	EXPECT_EQ(reap(f, &used, lost, &n_lost), 1);
	EXPECT_EQ(reap(f, &used, lost, &n_lost), -1);
	fake_free(f);
}
VSC_CASE(fxg_ring_refuses_bad_values, .summary = "engine 2 ring: used ids, lens and indexes vhost cannot have written are refused",
	 .run = refuses_bad_values);

static void skipped_chains_are_lost(const struct vsc_env *env)
{
	struct fake *f = fake_new();
	unsigned int lost[NUM], n_lost;
	struct fxg_used used;
	int a, b, c;

	(void)env;
	a = publish_buffer(f, 0, 0);
	b = publish_buffer(f, 1, 0);
	c = publish_buffer(f, 2, 0);
	/* vhost refused a (vq_err) and moved on: b comes back, a never will. */
	vhost_uses(f, b, 0);
	ASSERT_EQ(reap(f, &used, lost, &n_lost), 1);
	EXPECT_EQ(used.cookie, 1);
	ASSERT_EQ(n_lost, 1);
	EXPECT_EQ(lost[0], 0);
	EXPECT_EQ(f->ring.lost, 1);
	EXPECT_EQ(f->ring.outstanding, 1);
	EXPECT_EQ(f->ring.n_free, NUM - 1);
	/* a's descriptor is free again; a late "return" of it is refused. */
	vhost_uses(f, a, 0);
	EXPECT_EQ(reap(f, &used, lost, &n_lost), -1);
	(void)c;
	fake_free(f);
}
VSC_CASE(fxg_ring_skipped_chains_are_lost, .summary = "engine 2 ring: a chain vhost skipped is counted lost once a later one returns",
	 .run = skipped_chains_are_lost);
