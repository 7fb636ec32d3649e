/* table.c: the inode-keyed table of hostwrap's vsock sockets, swept against /proc/net/unix. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"
#include "table.h"

/* af_vsock.c: VSOCK_DEFAULT_BUFFER_SIZE, _MIN_SIZE, _MAX_SIZE, _CONNECT_TIMEOUT */
#define DEFAULT_BUFFER_SIZE (256 * 1024)
#define DEFAULT_BUFFER_MIN_SIZE 128
#define DEFAULT_BUFFER_MAX_SIZE (256 * 1024)
#define DEFAULT_CONNECT_TIMEOUT_SEC 2

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct vsock_state *entries;
static size_t count, capacity;

void table_lock(void)
{
	pthread_mutex_lock(&lock);
}

void table_unlock(void)
{
	pthread_mutex_unlock(&lock);
}

struct vsock_state *table_find(unsigned long ino)
{
	size_t i;

	for (i = 0; i < count; i++)
		if (entries[i].ino == ino)
			return &entries[i];
	return NULL;
}

static int compare_inodes(const void *a, const void *b)
{
	unsigned long x = *(const unsigned long *)a, y = *(const unsigned long *)b;

	return x < y ? -1 : x > y;
}

/* The inodes of every Unix socket of this network namespace, sorted: their number, or -1. */
static long live_inodes(unsigned long **out)
{
	FILE *f = fopen("/proc/net/unix", "re");
	char line[512];
	unsigned long *inodes = NULL, ino, *grown;
	size_t n = 0, room = 0;

	if (!f)
		return -1;
	if (!fgets(line, sizeof(line), f)) {	/* the header */
		fclose(f);
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		/* Num RefCount Protocol Flags Type St Inode [Path] */
		if (sscanf(line, "%*s %*s %*s %*s %*s %*s %lu", &ino) != 1)
			continue;
		if (n == room) {
			room = room ? room * 2 : 256;
			grown = realloc(inodes, room * sizeof(*inodes));
			if (!grown) {
				free(inodes);
				fclose(f);
				return -1;
			}
			inodes = grown;
		}
		inodes[n++] = ino;
	}
	fclose(f);
	qsort(inodes, n, sizeof(*inodes), compare_inodes);
	*out = inodes;
	return (long)n;
}

/* Drops the entries of sockets that are gone (every fd of theirs closed). */
static void sweep(void)
{
	unsigned long *live = NULL;
	long n = live_inodes(&live);
	size_t i, kept = 0;

	if (n < 0) {
		hw_verbose("cannot read /proc/net/unix: keeping every entry");
		return;
	}
	for (i = 0; i < count; i++)
		if (bsearch(&entries[i].ino, live, (size_t)n, sizeof(*live), compare_inodes))
			entries[kept++] = entries[i];
	count = kept;
	free(live);
}

struct vsock_state *table_add(unsigned long ino, const struct vsock_state *like)
{
	struct vsock_state *slot = table_find(ino);

	if (!slot) {
		if (count == capacity)
			sweep();
		if (count == capacity) {
			size_t room = capacity ? capacity * 2 : 64;
			struct vsock_state *grown = realloc(entries, room * sizeof(*entries));

			if (!grown)
				return NULL;
			entries = grown;
			capacity = room;
		}
		slot = &entries[count++];
	}
	if (like) {
		*slot = *like;
	} else {
		memset(slot, 0, sizeof(*slot));
		slot->buffer_size = DEFAULT_BUFFER_SIZE;
		slot->buffer_min_size = DEFAULT_BUFFER_MIN_SIZE;
		slot->buffer_max_size = DEFAULT_BUFFER_MAX_SIZE;
		slot->connect_timeout_sec = DEFAULT_CONNECT_TIMEOUT_SEC;
	}
	slot->ino = ino;
	return slot;
}

int table_port_taken(unsigned int port)
{
	size_t i;

	sweep();
	for (i = 0; i < count; i++)
		if (entries[i].bound && !entries[i].connected && entries[i].local_port == port)
			return 1;
	return 0;
}
