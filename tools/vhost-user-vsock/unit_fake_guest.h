/* unit_fake_guest.h: a fake guest for the unit tests: memory, one split ring, a driver's moves. */
#ifndef UNIT_FAKE_GUEST_H
#define UNIT_FAKE_GUEST_H

#include <stdint.h>

#include "vu_device.h"

/*
 * One 64 KiB memfd region at guest-physical 0 (and QEMU virtual 0x7f0000000000), ring 0 of 8
 * descriptors at fixed offsets, free space for indirect tables at 0x4000, buffers from 0x8000.
 */
#define RING_NUM 8
#define GUEST_BYTES (64u << 10)
#define DESC_AT 0x1000
#define AVAIL_AT 0x2000
#define USED_AT 0x3000
#define TABLES_AT 0x4000
#define QEMU_VA 0x7f0000000000ull

#define F_NEXT 1
#define F_WRITE 2
#define F_INDIRECT 4

struct fake_guest {
	struct vu_device dev;
	struct vu_vring *ring;	/* &dev.vrings[0] */
	uint8_t *mem;
	uint16_t *avail;	/* flags, idx, ring[RING_NUM], used_event */
	uint16_t *used;		/* flags, idx, then id/len pairs as u32, then avail_event */
};

/* A device with `features` acked and ring 0 set up as QEMU would; no call fd. */
void fake_guest_init(struct fake_guest *g, uint64_t features);

/* Writes descriptor `i` of the table at guest address `table` (DESC_AT: the ring's own). */
void fake_desc(struct fake_guest *g, uint64_t table, unsigned int i, uint64_t addr, uint32_t len,
	       uint16_t flags, uint16_t next);

/* Makes chain `head` available, as the driver does. */
void fake_offer(struct fake_guest *g, uint16_t head);

/* The event idx fields: used_event (driver writes), avail_event (device writes). */
uint16_t *fake_used_event(struct fake_guest *g);
uint16_t *fake_avail_event(struct fake_guest *g);

#endif
