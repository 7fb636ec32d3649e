/* unit_fake_guest.c: the fake guest the unit tests drive rings with (see unit_fake_guest.h). */
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "unit_fake_guest.h"
#include "vsc.h"

void fake_guest_init(struct fake_guest *g, uint64_t features)
{
	struct vu_mem_table table = { .nregions = 1 };
	int fd = SAFE(memfd_create("guest", 0));
	char error[256];

	SAFE(ftruncate(fd, GUEST_BYTES));
	table.regions[0] = (struct vu_region){ .guest_phys_addr = 0, .memory_size = GUEST_BYTES,
					       .userspace_addr = QEMU_VA };
	vu_device_init(&g->dev, 3, 0);
	g->dev.features = features;
	ASSERT_EQ(vu_mem_set(&g->dev.mem, &table, 8 + sizeof(struct vu_region), &fd, 1, error,
			     sizeof(error)), 0);
	SAFE(close(fd));
	g->mem = vu_mem_gpa(&g->dev.mem, 0, GUEST_BYTES);
	g->avail = (void *)(g->mem + AVAIL_AT);
	g->used = (void *)(g->mem + USED_AT);
	g->ring = &g->dev.vrings[0];
	g->ring->num = RING_NUM;
	g->ring->desc = g->mem + DESC_AT;
	g->ring->avail = g->avail;
	g->ring->used = g->used;
	g->ring->enabled = 1;
}

void fake_desc(struct fake_guest *g, uint64_t table, unsigned int i, uint64_t addr, uint32_t len,
	       uint16_t flags, uint16_t next)
{
	uint8_t *d = g->mem + table + 16 * i;

	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
}

void fake_offer(struct fake_guest *g, uint16_t head)
{
	g->avail[2 + g->avail[1] % RING_NUM] = head;
	g->avail[1]++;
}

uint16_t *fake_used_event(struct fake_guest *g)
{
	return &g->avail[2 + RING_NUM];
}

uint16_t *fake_avail_event(struct fake_guest *g)
{
	return &g->used[2 + 4 * RING_NUM];
}
