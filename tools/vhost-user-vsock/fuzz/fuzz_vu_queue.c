/*
 * fuzz_vu_queue.c: libFuzzer target: the input is a guest's view of one virtqueue (features,
 * ring size, the device's starting index, then the bytes of guest memory holding descriptor
 * table, avail and used rings and buffers). Every chain the queue layer pops is read, written
 * and pushed back. Guest memory is two heap blocks, so ASan sees any access outside them.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vu_device.h"
#include "vu_queue.h"

/* virtio 1.x feature bits (2.7.5, 2.7.10) the queue layer may act on */
#define F_INDIRECT_DESC (1ull << 28)
#define F_EVENT_IDX (1ull << 29)

/*
 * Two regions adjacent in both guest-physical and QEMU address space but apart on the host:
 * a buffer that straddles them must be refused, never read as one block.
 */
#define REGION_BYTES 4096u
#define QEMU_VA 0x7f0000000000ull
#define RING_NUM_MAX 128	/* its desc table and rings fit in the first region */

struct input_header {
	uint8_t features;	/* bit 0: INDIRECT_DESC, bit 1: EVENT_IDX */
	uint8_t num_log2;	/* ring size 1 << (num_log2 % 8) */
	uint16_t last_avail;	/* SET_VRING_BASE */
} __attribute__((packed));

static void handle(struct vu_device *dev, uint32_t request, const void *payload, uint32_t size)
{
	struct vu_msg msg = { .hdr = { request, VU_FLAG_VERSION, size } };
	char error[256];

	memcpy(&msg.payload, payload, size);
	/* A refused ring set-up leaves the ring unusable: popping must then find nothing. */
	vu_device_handle(dev, -1, &msg, error, sizeof(error));
}

static int inside(const uint8_t *addr, uint32_t len, uint8_t *const region[2])
{
	int i;

	for (i = 0; i < 2; i++)
		if (addr >= region[i] && len <= REGION_BYTES &&
		    addr - region[i] <= (ptrdiff_t)(REGION_BYTES - len))
			return 1;
	return 0;
}

/* Reads and writes every byte of the chain; returns the bytes written. */
static uint32_t consume(const struct vu_chain *chain, uint8_t *const region[2])
{
	static uint8_t scratch[REGION_BYTES];
	uint64_t in = 0, out = 0;
	size_t offset, n;
	int i;

	/* Each segment must lie inside one region, and the totals must add up. */
	for (i = 0; i < chain->n_in; i++) {
		if (chain->in[i].len && !inside(chain->in[i].addr, chain->in[i].len, region))
			abort();
		in += chain->in[i].len;
	}
	for (i = 0; i < chain->n_out; i++) {
		if (chain->out[i].len && !inside(chain->out[i].addr, chain->out[i].len, region))
			abort();
		out += chain->out[i].len;
	}
	if (in != chain->in_bytes || out != chain->out_bytes)
		abort();
	for (offset = 0; (n = vu_chain_read(chain, offset, scratch, sizeof(scratch))); offset += n)
		;
	if (offset != chain->in_bytes)
		abort();
	memset(scratch, 0xa5, sizeof(scratch));
	for (offset = 0; (n = vu_chain_write(chain, offset, scratch, sizeof(scratch))); offset += n)
		;
	if (offset != chain->out_bytes)
		abort();
	return (uint32_t)offset;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input_header in;
	struct vu_chain chain;
	struct vu_device dev;
	struct vu_vring *ring = &dev.vrings[0];
	uint8_t *region[2];
	uint32_t num, avail_at, used_at, pops;
	size_t guest_bytes;
	char error[256];
	int i;

	if (size < sizeof(in))
		return 0;
	memcpy(&in, data, sizeof(in));
	data += sizeof(in);
	size -= sizeof(in);
	num = 1u << (in.num_log2 % 8);

	vu_device_init(&dev, 3, 0);
	dev.features = VU_F_VERSION_1 | (in.features & 1 ? F_INDIRECT_DESC : 0) |
		       (in.features & 2 ? F_EVENT_IDX : 0);
	/* Guest memory: the input's bytes from guest-physical 0 on, zeros after them. */
	for (i = 0; i < 2; i++) {
		region[i] = calloc(1, REGION_BYTES);
		if (!region[i])
			abort();
		guest_bytes = size > (size_t)i * REGION_BYTES ? size - (size_t)i * REGION_BYTES : 0;
		if (guest_bytes > REGION_BYTES)
			guest_bytes = REGION_BYTES;
		memcpy(region[i], data + (size_t)i * REGION_BYTES, guest_bytes);
		dev.mem.regions[i] = (struct vu_mem_region){
			.guest_phys_addr = (uint64_t)i * REGION_BYTES, .size = REGION_BYTES,
			.userspace_addr = QEMU_VA + (uint64_t)i * REGION_BYTES, .host = region[i] };
	}
	dev.mem.count = 2;

	/* The ring as QEMU sets it up: desc table at 0, then avail, then used (4-aligned). */
	avail_at = 16 * num;
	used_at = (avail_at + 6 + 2 * num + 3) & ~3u;
	{
		struct vu_vring_state state = { 0, num };
		struct vu_vring_addr addr = { .index = 0, .desc_uaddr = QEMU_VA,
					      .avail_uaddr = QEMU_VA + avail_at,
					      .used_uaddr = QEMU_VA + used_at };

		handle(&dev, VU_SET_VRING_NUM, &state, sizeof(state));
		state.num = in.last_avail;
		handle(&dev, VU_SET_VRING_BASE, &state, sizeof(state));
		handle(&dev, VU_SET_VRING_ADDR, &addr, sizeof(addr));
		state.num = 1;
		handle(&dev, VU_SET_VRING_ENABLE, &state, sizeof(state));
	}

	/*
	 * Pop until the ring is empty or broken. Our writes may land on the rings themselves (the
	 * guest may place buffers there) and move the avail index: bound the rounds, not the ring.
	 */
	for (pops = 0; pops < 4 * num; pops++) {
		if (vu_queue_pop(&dev, ring, &chain, error, sizeof(error)) != 1)
			break;
		vu_queue_push(ring, &chain, consume(&chain, region));
	}

	vu_queue_notify(&dev, ring);
	dev.mem.count = 0;	/* not mmap()ed: nothing for vu_mem_clear() to unmap */
	vu_device_reset(&dev);
	free(region[0]);
	free(region[1]);
	return 0;
}
