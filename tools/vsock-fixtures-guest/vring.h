/* vring.h: the driver side of one split virtqueue (virtio 1.x, 2.7) that vhost serves. */
#ifndef FXG_VRING_H
#define FXG_VRING_H

#include <stddef.h>
#include <stdint.h>

#include <linux/virtio_ring.h>

#define FXG_RING_MAX 1024

/* One piece of a chain: an address in the shared region (identity-mapped) and its length. */
struct fxg_segment {
	void *addr;
	uint32_t len;
	int device_writes;	/* VRING_DESC_F_WRITE: a receive buffer */
};

/* What vhost gave back: the chain's head, the bytes it wrote, and the caller's cookie. */
struct fxg_used {
	uint16_t head;
	uint32_t len;
	unsigned int cookie;
};

enum fxg_head_state { FXG_HEAD_FREE, FXG_HEAD_OUTSTANDING };

struct fxg_head {
	enum fxg_head_state state;
	uint16_t n_desc;	/* descriptors of its chain, head first */
	uint32_t seq;		/* when it was published: vhost returns chains in this order */
	uint32_t writable;	/* bytes vhost may write into it */
	unsigned int cookie;
};

struct fxg_ring {
	unsigned int num;		/* a power of two, at most FXG_RING_MAX */
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint16_t avail_idx;		/* the next avail->idx we publish */
	uint16_t used_seen;		/* used entries taken so far */
	uint32_t next_seq;
	uint16_t free_desc[FXG_RING_MAX];
	uint16_t chain_next[FXG_RING_MAX];	/* our copy of each descriptor's next */
	unsigned int n_free;
	struct fxg_head heads[FXG_RING_MAX];
	unsigned int outstanding;	/* chains vhost holds */
	unsigned long lost;		/* chains vhost skipped without returning them */
};

/* Bytes a ring of `num` entries needs in the shared region (three page-aligned parts). */
size_t fxg_ring_bytes(unsigned int num);

/* Lays the ring out at `mem` (page-aligned, zeroed, fxg_ring_bytes(num) long). */
void fxg_ring_init(struct fxg_ring *ring, void *mem, unsigned int num);

/*
 * Makes one chain available (no kick). Returns its head, or -1 when fewer than n_segments
 * descriptors are free (reap first).
 */
int fxg_ring_publish(struct fxg_ring *ring, const struct fxg_segment *segments, int n_segments,
		     unsigned int cookie);

/*
 * Takes the next used entry. 1 with `out`; 0 when there is none; -1 when vhost wrote a value
 * that cannot be (an id that is not a chain it holds, a len beyond the chain's writable bytes,
 * a used index that jumped past the ring): `why` names it and the ring is unusable.
 *
 * vhost returns the chains of one queue in the order it took them. A chain it refused (a bad
 * TX chain, a too-small RX buffer: vq_err, the error eventfd) is never returned, so a chain
 * published before the returned one and still held is one of those: it is counted in `lost`
 * and its descriptors are freed (vhost has moved past them and never reads them again).
 * `lost_cookies` receives their cookies (up to `max_lost`), `*n_lost` how many there were.
 */
int fxg_ring_reap(struct fxg_ring *ring, struct fxg_used *out, unsigned int *lost_cookies,
		  unsigned int max_lost, unsigned int *n_lost, char *why, size_t why_size);

#endif
