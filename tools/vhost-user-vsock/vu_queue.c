/* vu_queue.c: split virtqueue access; every index and length from the guest is checked here. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "vu_queue.h"

#define DESC_F_NEXT 1
#define DESC_F_WRITE 2
#define DESC_F_INDIRECT 4

struct vring_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
} __attribute__((packed));

struct vring_avail {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[];
} __attribute__((packed));

struct vring_used_elem {
	uint32_t id;
	uint32_t len;
} __attribute__((packed));

struct vring_used {
	uint16_t flags;
	uint16_t idx;
	struct vring_used_elem ring[];
} __attribute__((packed));

static int broken(char *error, size_t error_size, const char *what, unsigned int value)
{
	snprintf(error, error_size, "guest broke the ring: %s (%u)", what, value);
	return -1;
}

int vu_queue_pop(struct vu_device *dev, struct vu_vring *ring, struct vu_chain *chain,
		 char *error, size_t error_size)
{
	struct vring_avail *avail = ring->avail;
	const struct vring_desc *table = ring->desc;
	uint16_t avail_idx, index;
	unsigned int steps;

	if (!ring->enabled || !avail || !table || !ring->used)
		return 0;
	avail_idx = __atomic_load_n(&avail->idx, __ATOMIC_ACQUIRE);
	if (avail_idx == (uint16_t)ring->last_avail)
		return 0;
	if ((uint16_t)(avail_idx - (uint16_t)ring->last_avail) > ring->num)
		return broken(error, error_size, "avail index ran ahead by more than the ring", avail_idx);
	index = avail->ring[ring->last_avail % ring->num];
	memset(chain, 0, sizeof(*chain));
	chain->head = index;
	/* A chain visits each descriptor once at most: more steps than the ring holds is a loop. */
	for (steps = 0;; steps++) {
		struct vring_desc copy_of_desc;
		const struct vring_desc *d = &copy_of_desc;
		struct vu_segment *seg;

		if (index >= ring->num)
			return broken(error, error_size, "descriptor index out of range", index);
		if (steps >= ring->num)
			return broken(error, error_size, "descriptor chain loops", chain->head);
		/* One read of the guest's descriptor: it may change it while we look. */
		memcpy(&copy_of_desc, (const void *)&table[index], sizeof(copy_of_desc));
		if (d->flags & DESC_F_INDIRECT)
			return broken(error, error_size, "indirect descriptor (not negotiated)", index);
		if (d->flags & DESC_F_WRITE) {
			if (chain->n_out == VU_CHAIN_MAX_SEGMENTS)
				return broken(error, error_size, "chain too long", chain->head);
			seg = &chain->out[chain->n_out++];
			chain->out_bytes += d->len;
		} else {
			/* Readable descriptors come first (virtio 1.x 2.7.4.2). */
			if (chain->n_out || chain->n_in == VU_CHAIN_MAX_SEGMENTS)
				return broken(error, error_size, "readable after writable, or too long",
					      chain->head);
			seg = &chain->in[chain->n_in++];
			chain->in_bytes += d->len;
		}
		seg->len = d->len;
		seg->addr = vu_mem_gpa(&dev->mem, d->addr, d->len);
		if (!seg->addr && d->len)
			return broken(error, error_size, "buffer outside guest memory", index);
		if (!(d->flags & DESC_F_NEXT))
			break;
		index = d->next;
	}
	ring->last_avail++;
	return 1;
}

void vu_queue_push(struct vu_vring *ring, const struct vu_chain *chain, uint32_t written)
{
	struct vring_used *used = ring->used;
	uint16_t idx = used->idx;

	used->ring[idx % ring->num].id = chain->head;
	used->ring[idx % ring->num].len = written;
	/* The element must be visible before the index that publishes it. */
	__atomic_store_n(&used->idx, (uint16_t)(idx + 1), __ATOMIC_RELEASE);
	ring->pushed_since_notify++;
}

void vu_queue_notify(struct vu_device *dev, struct vu_vring *ring)
{
	uint64_t one = 1;

	(void)dev;
	if (!ring->pushed_since_notify)
		return;
	ring->pushed_since_notify = 0;
	if (ring->call_fd >= 0 && write(ring->call_fd, &one, sizeof(one)) < 0)
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
