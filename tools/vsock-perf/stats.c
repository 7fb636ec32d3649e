/* stats.c: percentiles of measured round trips. */
#include <stdlib.h>

#include "perf.h"

static int compare_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

void sort_u64(uint64_t *values, size_t n)
{
	qsort(values, n, sizeof(*values), compare_u64);
}

/* Nearest rank: the smallest value with at least p% of the values at or below it. */
uint64_t percentile(const uint64_t *sorted, size_t n, unsigned int p)
{
	size_t rank;

	if (!n)
		return 0;
	if (p > 100)
		p = 100;
	rank = ((size_t)p * n + 99) / 100;
	return sorted[rank ? rank - 1 : 0];
}
