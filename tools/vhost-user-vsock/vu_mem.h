/* vu_mem.h: the guest memory QEMU shares with the backend, and the one checked translation. */
#ifndef VU_MEM_H
#define VU_MEM_H

#include <stddef.h>
#include <stdint.h>

#include "vu_proto.h"

struct vu_mem_region {
	uint64_t guest_phys_addr;
	uint64_t size;
	uint64_t userspace_addr;	/* where QEMU has it: vring addresses come in this space */
	void *mapping;			/* our mmap() of the region's fd, from offset 0 */
	size_t mapping_size;
	uint8_t *host;			/* mapping + mmap_offset: the region's first byte */
};

struct vu_mem {
	struct vu_mem_region regions[VU_MAX_REGIONS];
	int count;
};

/* Replaces the table with the one in `table`, mapping one fd per region; 0, or -1 with `error`. */
int vu_mem_set(struct vu_mem *mem, const struct vu_mem_table *table, uint32_t payload_size,
	       const int *fds, int nfds, char *error, size_t error_size);
void vu_mem_clear(struct vu_mem *mem);

/*
 * The host address of [addr, addr + len) given as a guest-physical (vu_mem_gpa) or a QEMU
 * virtual (vu_mem_uva) address, or NULL unless the whole range lies inside one region.
 */
void *vu_mem_gpa(const struct vu_mem *mem, uint64_t addr, uint64_t len);
void *vu_mem_uva(const struct vu_mem *mem, uint64_t addr, uint64_t len);

#endif
