/* vu_mem.c: mapping QEMU's memory regions and translating addresses into them, with bounds. */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vu_mem.h"

void vu_mem_clear(struct vu_mem *mem)
{
	int i;

	for (i = 0; i < mem->count; i++)
		munmap(mem->regions[i].mapping, mem->regions[i].mapping_size);
	memset(mem, 0, sizeof(*mem));
}

static int region_ok(const struct vu_region *r)
{
	return r->memory_size && r->guest_phys_addr + r->memory_size > r->guest_phys_addr &&
	       r->userspace_addr + r->memory_size > r->userspace_addr &&
	       r->mmap_offset + r->memory_size > r->mmap_offset;
}

int vu_mem_set(struct vu_mem *mem, const struct vu_mem_table *table, uint32_t payload_size,
	       const int *fds, int nfds, char *error, size_t error_size)
{
	struct vu_mem fresh;
	uint32_t i;

	memset(&fresh, 0, sizeof(fresh));
	if (payload_size < 8 || table->nregions > VU_MAX_REGIONS ||
	    payload_size < 8 + table->nregions * sizeof(struct vu_region) ||
	    (int)table->nregions != nfds) {
		snprintf(error, error_size, "SET_MEM_TABLE: %u regions, %d fds, %u payload bytes",
			 table->nregions, nfds, payload_size);
		return -1;
	}
	for (i = 0; i < table->nregions; i++) {
		const struct vu_region *r = &table->regions[i];
		struct vu_mem_region *m = &fresh.regions[i];

		if (!region_ok(r)) {
			snprintf(error, error_size, "SET_MEM_TABLE: region %u wraps or is empty", i);
			vu_mem_clear(&fresh);
			return -1;
		}
		m->mapping_size = (size_t)(r->mmap_offset + r->memory_size);
		m->mapping = mmap(NULL, m->mapping_size, PROT_READ | PROT_WRITE, MAP_SHARED, fds[i],
				  0);
		if (m->mapping == MAP_FAILED) {
			snprintf(error, error_size, "SET_MEM_TABLE: mmap of region %u (%llu bytes): %m",
				 i, (unsigned long long)m->mapping_size);
			m->mapping = NULL;
			vu_mem_clear(&fresh);
			return -1;
		}
		m->guest_phys_addr = r->guest_phys_addr;
		m->size = r->memory_size;
		m->userspace_addr = r->userspace_addr;
		m->host = (uint8_t *)m->mapping + r->mmap_offset;
		fresh.count = (int)i + 1;
	}
	vu_mem_clear(mem);
	*mem = fresh;
	return 0;
}

static void *translate(const struct vu_mem *mem, uint64_t addr, uint64_t len, int by_uva)
{
	int i;

	if (addr + len < addr)
		return NULL;
	for (i = 0; i < mem->count; i++) {
		const struct vu_mem_region *r = &mem->regions[i];
		uint64_t start = by_uva ? r->userspace_addr : r->guest_phys_addr;

		if (addr >= start && addr - start <= r->size && len <= r->size - (addr - start))
			return r->host + (addr - start);
	}
	return NULL;
}

void *vu_mem_gpa(const struct vu_mem *mem, uint64_t addr, uint64_t len)
{
	return translate(mem, addr, len, 0);
}

void *vu_mem_uva(const struct vu_mem *mem, uint64_t addr, uint64_t len)
{
	return translate(mem, addr, len, 1);
}
