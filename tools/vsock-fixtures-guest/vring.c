/* vring.c: publish descriptor chains to vhost and take back what it used, checking every value. */
#include "vring.h"

#include <stdio.h>
#include <string.h>

#define PAGE 4096u

static size_t page_round(size_t n)
{
	return (n + PAGE - 1) & ~(size_t)(PAGE - 1);
}

static size_t desc_bytes(unsigned int num)
{
	return page_round(sizeof(struct vring_desc) * num);
}

static size_t avail_bytes(unsigned int num)
{
	return page_round(sizeof(struct vring_avail) + sizeof(uint16_t) * (num + 1));
}

static size_t used_bytes(unsigned int num)
{
	return page_round(sizeof(struct vring_used) + sizeof(struct vring_used_elem) * num +
			  sizeof(uint16_t));
}

size_t fxg_ring_bytes(unsigned int num)
{
	return desc_bytes(num) + avail_bytes(num) + used_bytes(num);
}

void fxg_ring_init(struct fxg_ring *ring, void *mem, unsigned int num)
{
	uint8_t *at = mem;
	unsigned int i;

	memset(ring, 0, sizeof(*ring));
	ring->num = num;
	ring->desc = (struct vring_desc *)at;
	at += desc_bytes(num);
	ring->avail = (struct vring_avail *)at;
	at += avail_bytes(num);
	ring->used = (struct vring_used *)at;
	/* Popped from the end: descriptor 0 goes out first, which keeps traces readable. */
	for (i = 0; i < num; i++)
		ring->free_desc[i] = num - 1 - i;
	ring->n_free = num;
}

int fxg_ring_publish(struct fxg_ring *ring, const struct fxg_segment *segments, int n_segments,
		     unsigned int cookie)
{
	uint16_t ids[FXG_RING_MAX];
	struct fxg_head *head;
	uint32_t writable = 0;
	int i;

	if (n_segments < 1 || (unsigned int)n_segments > ring->n_free)
		return -1;
	for (i = 0; i < n_segments; i++)
		ids[i] = ring->free_desc[--ring->n_free];
	for (i = 0; i < n_segments; i++) {
		struct vring_desc *d = &ring->desc[ids[i]];

		d->addr = (uintptr_t)segments[i].addr;
		d->len = segments[i].len;
		d->flags = (segments[i].device_writes ? VRING_DESC_F_WRITE : 0) |
			   (i + 1 < n_segments ? VRING_DESC_F_NEXT : 0);
		d->next = i + 1 < n_segments ? ids[i + 1] : 0;
		ring->chain_next[ids[i]] = d->next;
		if (segments[i].device_writes)
			writable += segments[i].len;
	}
	head = &ring->heads[ids[0]];
	head->state = FXG_HEAD_OUTSTANDING;
	head->n_desc = n_segments;
	head->seq = ring->next_seq++;
	head->writable = writable;
	head->cookie = cookie;
	ring->outstanding++;
	ring->avail->ring[ring->avail_idx % ring->num] = ids[0];
	ring->avail_idx++;
	/* The descriptors and the ring entry must be visible before the index that covers them. */
	__atomic_store_n(&ring->avail->idx, ring->avail_idx, __ATOMIC_RELEASE);
	return ids[0];
}

/* Gives the descriptors of a chain back to the free list (by our copy of the links: the table
 * lies in memory vhost can write). */
static void free_chain(struct fxg_ring *ring, uint16_t head_id)
{
	struct fxg_head *head = &ring->heads[head_id];
	uint16_t id = head_id;
	unsigned int i;

	for (i = 0; i < head->n_desc; i++) {
		ring->free_desc[ring->n_free++] = id;
		id = ring->chain_next[id];
	}
	head->state = FXG_HEAD_FREE;
	ring->outstanding--;
}

int fxg_ring_reap(struct fxg_ring *ring, struct fxg_used *out, unsigned int *lost_cookies,
		  unsigned int max_lost, unsigned int *n_lost, char *why, size_t why_size)
{
	uint16_t used_idx = __atomic_load_n(&ring->used->idx, __ATOMIC_ACQUIRE);
	uint16_t ahead = used_idx - ring->used_seen;
	struct vring_used_elem elem;
	struct fxg_head *head;
	unsigned int i;

	*n_lost = 0;
	if (ahead == 0)
		return 0;
	if (ahead > ring->outstanding) {
		snprintf(why, why_size, "vhost moved used.idx from %u to %u with %u chains published",
			 ring->used_seen, used_idx, ring->outstanding);
		return -1;
	}
	/* One read of the entry: vhost could change it under us, a copy cannot. */
	memcpy(&elem, (void *)&ring->used->ring[ring->used_seen % ring->num], sizeof(elem));
	if (elem.id >= ring->num || ring->heads[elem.id].state != FXG_HEAD_OUTSTANDING) {
		snprintf(why, why_size, "used.ring[%u].id %u is not a chain vhost holds",
			 ring->used_seen % ring->num, elem.id);
		return -1;
	}
	head = &ring->heads[elem.id];
	if (elem.len > head->writable) {
		snprintf(why, why_size, "used.ring[%u]: len %u for chain %u of %u writable bytes",
			 ring->used_seen % ring->num, elem.len, elem.id, head->writable);
		return -1;
	}
	ring->used_seen++;
	for (i = 0; i < ring->num; i++) {
		struct fxg_head *older = &ring->heads[i];

		if (older->state != FXG_HEAD_OUTSTANDING || (int32_t)(older->seq - head->seq) >= 0)
			continue;
		if (*n_lost < max_lost)
			lost_cookies[*n_lost] = older->cookie;
		(*n_lost)++;
		ring->lost++;
		free_chain(ring, i);
	}
	out->head = elem.id;
	out->len = elem.len;
	out->cookie = head->cookie;
	free_chain(ring, elem.id);
	return 1;
}
