/* fx_arena.c: the bump allocator that holds one fixture's model, freed at once. */
#include <stdio.h>
#include <stdlib.h>

#include "fx_model.h"

struct fx_arena_chunk {
	struct fx_arena_chunk *next;
	max_align_t data[];
};

void *fx_alloc(struct fx_arena *arena, size_t size)
{
	struct fx_arena_chunk *c = calloc(1, sizeof(*c) + size);

	if (!c) {
		fprintf(stderr, "vsock-fixtures: out of memory (%zu bytes)\n", size);
		abort();
	}
	c->next = arena->chunks;
	arena->chunks = c;
	return c->data;
}

void fx_arena_free(struct fx_arena *arena)
{
	while (arena->chunks) {
		struct fx_arena_chunk *next = arena->chunks->next;

		free(arena->chunks);
		arena->chunks = next;
	}
}
