/* vu_queue.h: split virtqueues (virtio 1.x, 2.7) in guest memory: take chains, return them. */
#ifndef VU_QUEUE_H
#define VU_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#include "vu_device.h"

#define VU_CHAIN_MAX_SEGMENTS 64
/* An indirect table with more entries than a chain can hold is refused before it is walked. */
#define VU_INDIRECT_MAX_DESCS (2 * VU_CHAIN_MAX_SEGMENTS)

struct vu_segment {
	uint8_t *addr;		/* host address, checked to lie inside guest memory */
	uint32_t len;
};

/* One descriptor chain: what the driver gave us to read, then what we may write. */
struct vu_chain {
	uint16_t head;
	struct vu_segment in[VU_CHAIN_MAX_SEGMENTS];	/* driver -> device (readable) */
	struct vu_segment out[VU_CHAIN_MAX_SEGMENTS];	/* device -> driver (writable) */
	int n_in, n_out;
	uint64_t in_bytes, out_bytes;
};

/*
 * Takes the next chain the driver made available. Returns 1 with `chain` filled, 0 when the
 * ring is empty, -1 when the driver broke the rules (why: `error`; the ring is then unusable).
 * A chain may hold direct descriptors and, last, one indirect table (when INDIRECT_DESC was
 * negotiated); `chain->head` is what vu_queue_push returns.
 *
 * Kicks: from the first chain taken until a call finds the ring empty, the driver is asked not
 * to kick (EVENT_IDX: avail_event stays behind; without it: VRING_USED_F_NO_NOTIFY). The call
 * that finds the ring empty asks for kicks again and looks once more, so a chain made available
 * meanwhile is returned, not missed. Hence: wait for a kick only after a 0 from here; a caller
 * that stops taking chains earlier must come back on its own.
 */
int vu_queue_pop(struct vu_device *dev, struct vu_vring *ring, struct vu_chain *chain,
		 char *error, size_t error_size);

/* Returns a chain to the driver, saying how many bytes we wrote into it; no notification yet. */
void vu_queue_push(struct vu_vring *ring, const struct vu_chain *chain, uint32_t written);

/*
 * Tells the driver about the chains pushed since the last call (one interrupt per batch), if
 * it wants to hear: with EVENT_IDX, when the pushed entries reach its used_event; without it,
 * unless it set VRING_AVAIL_F_NO_INTERRUPT.
 */
void vu_queue_notify(struct vu_device *dev, struct vu_vring *ring);

/* Copies between a chain's segments and a flat buffer; they return the bytes copied. */
size_t vu_chain_read(const struct vu_chain *chain, size_t offset, void *buf, size_t len);
size_t vu_chain_write(const struct vu_chain *chain, size_t offset, const void *buf, size_t len);

#endif
