/* vu_queue.c: split virtqueue access; every index and length from the guest is checked here. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "vu_queue.h"

#define DESC_F_NEXT 1
#define DESC_F_WRITE 2
#define DESC_F_INDIRECT 4
#define AVAIL_F_NO_INTERRUPT 1
#define USED_F_NO_NOTIFY 1

/* Packed: an indirect table may sit at any guest address; the ring's own is 16-byte aligned. */
struct vring_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
} __attribute__((packed));

/* The rings are aligned (checked at SET_VRING_ADDR): atomic access to their fields is sound. */
struct vring_avail {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[];	/* then, with EVENT_IDX, used_event */
};

struct vring_used_elem {
	uint32_t id;
	uint32_t len;
};

struct vring_used {
	uint16_t flags;
	uint16_t idx;
	struct vring_used_elem ring[];	/* then, with EVENT_IDX, avail_event */
};

/* What one descriptor walk fills, and where it reports a broken rule. */
struct walk {
	const struct vu_device *dev;
	struct vu_chain *chain;
	char *error;
	size_t error_size;
};

static int broken(const struct walk *w, const char *what, unsigned int value)
{
	snprintf(w->error, w->error_size, "guest broke the ring: %s (%u)", what, value);
	return -1;
}

/* The guest may rewrite a descriptor while we look: each field is read exactly once. */
static struct vring_desc read_desc(const struct vring_desc *table, unsigned int index)
{
	const volatile struct vring_desc *src = &table[index];
	struct vring_desc d;

	d.addr = src->addr;
	d.len = src->len;
	d.flags = src->flags;
	d.next = src->next;
	return d;
}

static uint16_t *used_event(const struct vu_vring *ring)
{
	return &((struct vring_avail *)ring->avail)->ring[ring->num];
}

static uint16_t *avail_event(const struct vu_vring *ring)
{
	return (uint16_t *)&((struct vring_used *)ring->used)->ring[ring->num];
}

/* A buffer joins the chain: readable ones first, then writable ones (virtio 1.x 2.7.4.2). */
static int add_buffer(struct walk *w, const struct vring_desc *d, unsigned int index)
{
	struct vu_chain *chain = w->chain;
	struct vu_segment *seg;

	if (d->flags & DESC_F_WRITE) {
		if (chain->n_out == VU_CHAIN_MAX_SEGMENTS)
			return broken(w, "chain too long", chain->head);
		seg = &chain->out[chain->n_out++];
		chain->out_bytes += d->len;
	} else {
		if (chain->n_out || chain->n_in == VU_CHAIN_MAX_SEGMENTS)
			return broken(w, "readable after writable, or too long", chain->head);
		seg = &chain->in[chain->n_in++];
		chain->in_bytes += d->len;
	}
	/* The used ring counts bytes in 32 bits: a longer chain could not be accounted for. */
	if (chain->in_bytes + chain->out_bytes > UINT32_MAX)
		return broken(w, "chain holds more than 4 GiB", chain->head);
	seg->len = d->len;
	seg->addr = vu_mem_gpa(&w->dev->mem, d->addr, d->len);
	if (!seg->addr && d->len)
		return broken(w, "buffer outside guest memory", index);
	return 0;
}

/*
 * A descriptor naming a table of descriptors (virtio 1.x 2.7.5.3), walked whole here. Its own
 * F_WRITE flag is ignored, as 2.7.5.3.2 requires (Linux's balloon driver sets it).
 */
static int walk_indirect(struct walk *w, const struct vring_desc *d, unsigned int index)
{
	const struct vring_desc *table;
	unsigned int count, i, steps;

	if (!(w->dev->features & VU_F_INDIRECT_DESC))
		return broken(w, "indirect descriptor (not negotiated)", index);
	/* It ends the chain: a driver MUST NOT set both INDIRECT and NEXT (2.7.5.3.1). */
	if (d->flags & DESC_F_NEXT)
		return broken(w, "indirect descriptor with NEXT", index);
	if (d->len % sizeof(struct vring_desc))
		return broken(w, "indirect table length not a multiple of 16", d->len);
	count = d->len / sizeof(struct vring_desc);
	if (count > VU_INDIRECT_MAX_DESCS)
		return broken(w, "indirect table too long", d->len);
	if (!count)
		return 0;
	table = vu_mem_gpa(&w->dev->mem, d->addr, d->len);
	if (!table)
		return broken(w, "indirect table outside guest memory", index);
	/* Each entry is visited once at most: more steps than the table holds is a loop. */
	for (i = 0, steps = 0;; steps++) {
		struct vring_desc entry;

		if (steps >= count)
			return broken(w, "indirect table loops", w->chain->head);
		entry = read_desc(table, i);
		if (entry.flags & DESC_F_INDIRECT)
			return broken(w, "nested indirect descriptor", i);
		if (add_buffer(w, &entry, i))
			return -1;
		if (!(entry.flags & DESC_F_NEXT))
			return 0;
		i = entry.next;
		if (i >= count)
			return broken(w, "indirect next out of range", i);
	}
}

/* Follows the chain that starts at descriptor `head` of the ring's own table. */
static int walk_chain(struct walk *w, const struct vu_vring *ring, uint16_t head)
{
	unsigned int index = head, steps;

	memset(w->chain, 0, sizeof(*w->chain));
	w->chain->head = head;
	/* A chain visits each descriptor once at most: more steps than the ring holds is a loop. */
	for (steps = 0;; steps++) {
		struct vring_desc d;

		if (index >= ring->num)
			return broken(w, "descriptor index out of range", index);
		if (steps >= ring->num)
			return broken(w, "descriptor chain loops", head);
		d = read_desc(ring->desc, index);
		if (d.flags & DESC_F_INDIRECT)
			return walk_indirect(w, &d, index);
		if (add_buffer(w, &d, index))
			return -1;
		if (!(d.flags & DESC_F_NEXT))
			return 0;
		index = d.next;
	}
}

/* Acquire: the ring entries and descriptors we read next were written before this index. */
static uint16_t load_avail_idx(const struct vu_vring *ring)
{
	return __atomic_load_n(&((struct vring_avail *)ring->avail)->idx, __ATOMIC_ACQUIRE);
}

static void write_used_flags(struct vu_vring *ring, uint16_t flags)
{
	ring->used_flags = flags;
	__atomic_store_n(&((struct vring_used *)ring->used)->flags, flags, __ATOMIC_RELAXED);
}

/* While we drain, kicks would only wake us for chains we are about to take anyway. */
static void kicks_off(const struct vu_device *dev, struct vu_vring *ring)
{
	/* With EVENT_IDX, avail_event already lies behind avail idx: the driver will not kick. */
	if (!(dev->features & VU_F_EVENT_IDX) && !(ring->used_flags & USED_F_NO_NOTIFY))
		write_used_flags(ring, ring->used_flags | USED_F_NO_NOTIFY);
}

/*
 * The ring looked empty: asks the driver to kick for its next chain, then looks again; returns
 * the avail idx seen then. The full fence orders our store before that load: without it the
 * store could wait in a store buffer while we read the old idx, and the driver, reading our old
 * avail_event or flags, would not kick: both sides would wait for each other (the driver's
 * mirror is: store avail idx, fence, load avail_event or flags).
 */
static uint16_t kicks_on(const struct vu_device *dev, struct vu_vring *ring, uint16_t avail_idx)
{
	if (dev->features & VU_F_EVENT_IDX)
		__atomic_store_n(avail_event(ring), (uint16_t)ring->last_avail, __ATOMIC_RELAXED);
	else if (ring->used_flags & USED_F_NO_NOTIFY)
		write_used_flags(ring, ring->used_flags & ~USED_F_NO_NOTIFY);
	else
		return avail_idx;	/* kicks were on all along: the first look stands */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return load_avail_idx(ring);
}

int vu_queue_pop(struct vu_device *dev, struct vu_vring *ring, struct vu_chain *chain,
		 char *error, size_t error_size)
{
	struct walk w = { dev, chain, error, error_size };
	uint16_t avail_idx, head;

	if (!ring->enabled || !ring->avail || !ring->desc || !ring->used)
		return 0;
	avail_idx = load_avail_idx(ring);
	if (avail_idx == (uint16_t)ring->last_avail) {
		avail_idx = kicks_on(dev, ring, avail_idx);
		if (avail_idx == (uint16_t)ring->last_avail)
			return 0;
	}
	if ((uint16_t)(avail_idx - (uint16_t)ring->last_avail) > ring->num)
		return broken(&w, "avail index ran ahead by more than the ring", avail_idx);
	kicks_off(dev, ring);
	head = __atomic_load_n(&((struct vring_avail *)ring->avail)->ring[ring->last_avail % ring->num],
			       __ATOMIC_RELAXED);
	if (walk_chain(&w, ring, head))
		return -1;
	ring->last_avail++;
	return 1;
}

void vu_queue_push(struct vu_vring *ring, const struct vu_chain *chain, uint32_t written)
{
	struct vring_used *used = ring->used;
	struct vring_used_elem *elem = &used->ring[ring->used_idx % ring->num];

	elem->id = chain->head;
	elem->len = written;
	ring->used_idx++;
	/* Release: the element must be visible before the index that publishes it. */
	__atomic_store_n(&used->idx, ring->used_idx, __ATOMIC_RELEASE);
	ring->pushed_since_notify++;
}

/* virtio 1.x 2.7.10: did the entries from old_idx up to new_idx pass the driver's `event`? */
static int need_event(uint16_t event, uint16_t new_idx, uint16_t old_idx)
{
	return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old_idx);
}

void vu_queue_notify(struct vu_device *dev, struct vu_vring *ring)
{
	unsigned int pushed = ring->pushed_since_notify;
	uint64_t one = 1;
	int wanted;

	if (!pushed)
		return;
	ring->pushed_since_notify = 0;
	/*
	 * Full fence: our used idx must be visible before we read what the driver wants. The
	 * driver does the mirror (store used_event or flags, fence, load used idx), so at least
	 * one of us sees the other's store and no completion goes unsignalled.
	 */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (dev->features & VU_F_EVENT_IDX) {
		uint16_t event = __atomic_load_n(used_event(ring), __ATOMIC_RELAXED);

		/* The entries since the last call are used_idx - pushed .. used_idx (mod 2^16). */
		wanted = pushed > UINT16_MAX ||
			 need_event(event, ring->used_idx, (uint16_t)(ring->used_idx - pushed));
	} else {
		uint16_t flags = __atomic_load_n(&((struct vring_avail *)ring->avail)->flags,
						 __ATOMIC_RELAXED);

		wanted = !(flags & AVAIL_F_NO_INTERRUPT);
	}
	if (wanted && ring->call_fd >= 0 && write(ring->call_fd, &one, sizeof(one)) < 0)
		fprintf(stderr, "vhost-user-vsock: notifying the guest failed: %m\n");
}

static size_t copy(const struct vu_segment *segs, int n, size_t offset, uint8_t *buf, size_t len,
		   int to_chain)
{
	size_t done = 0;
	int i;

	for (i = 0; i < n && done < len; i++) {
		size_t take;

		if (offset >= segs[i].len) {
			offset -= segs[i].len;
			continue;
		}
		take = segs[i].len - offset;
		if (take > len - done)
			take = len - done;
		if (to_chain)
			memcpy(segs[i].addr + offset, buf + done, take);
		else
			memcpy(buf + done, segs[i].addr + offset, take);
		done += take;
		offset = 0;
	}
	return done;
}

size_t vu_chain_read(const struct vu_chain *chain, size_t offset, void *buf, size_t len)
{
	return copy(chain->in, chain->n_in, offset, buf, len, 0);
}

size_t vu_chain_write(const struct vu_chain *chain, size_t offset, const void *buf, size_t len)
{
	return copy(chain->out, chain->n_out, offset, (uint8_t *)buf, len, 1);
}
