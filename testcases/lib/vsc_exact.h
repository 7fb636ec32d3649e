/*
 * vsc_exact.h: the byte-exact stream pattern (every 8-byte word names its connection and offset),
 * a running checksum, and the locator that says where and how a received stream went wrong.
 */
#ifndef VSC_EXACT_H
#define VSC_EXACT_H

#include <stddef.h>
#include <stdint.h>

#define VSC_EXACT_MAX_CONN 256			/* connection numbers 0..255 fit a word */
#define VSC_EXACT_MAX_OFFSET (8ull << 40)	/* 8 TiB per connection */

/* The word that stream `conn` carries at byte offset `offset` (a multiple of 8), little-endian. */
uint64_t vsc_exact_word(unsigned int conn, uint64_t offset);
/* 0 with conn and offset when the 8 bytes at p are a pattern word; -1 when they are not. */
int vsc_exact_decode(const void *p, unsigned int *conn, uint64_t *offset);
/* Stream `conn`'s bytes [offset, offset + len), at any alignment. */
void vsc_exact_fill(void *buf, size_t len, unsigned int conn, uint64_t offset);

/* A Fletcher-64 style running sum: order- and position-sensitive, any split of the stream. */
struct vsc_exact_sum {
	uint64_t a, b;
};
void vsc_exact_sum_add(struct vsc_exact_sum *sum, const void *buf, size_t len);
uint64_t vsc_exact_sum_value(const struct vsc_exact_sum *sum);

enum vsc_exact_kind {
	VSC_EXACT_LOST,		/* bytes [at, at + bytes) are missing: the stream goes on after them */
	VSC_EXACT_DUPLICATED,	/* bytes [got, got + bytes) came a second time at `at` */
	VSC_EXACT_REORDERED,	/* bytes came out of order; the skipped ones showed up at later_at */
	VSC_EXACT_FOREIGN,	/* another connection's word: got_conn's offset `got` */
	VSC_EXACT_CORRUPT,	/* bytes that are no pattern word at all */
};

/* The first place where a received stream differs from the pattern. */
struct vsc_exact_fault {
	enum vsc_exact_kind kind;
	uint64_t at;		/* stream offset of the first wrong byte */
	uint64_t got;		/* which offset the bytes found there were sent for */
	unsigned int got_conn;	/* and by which connection */
	uint64_t bytes;		/* how many bytes were lost, duplicated or reordered */
	uint64_t later_at;	/* REORDERED: where the skipped bytes arrived */
	unsigned char seen[8];	/* the bytes found at `at` */
	size_t seen_len;
};

/*
 * Compares buf (stream `conn`'s bytes from offset `base`) with the pattern. 0 when they match;
 * 1 with *fault filled for the first difference. The more bytes after the fault buf holds, the
 * better the diagnosis: the realignment needs 16 whole bytes, a reorder is found only in buf.
 */
int vsc_exact_locate(const void *buf, size_t len, unsigned int conn, uint64_t base,
		     struct vsc_exact_fault *fault);
/* "connection N, offset X: expected the word for offset X, got the one for offset Y (lost Z bytes)" */
void vsc_exact_describe(const struct vsc_exact_fault *fault, unsigned int conn, char *out,
			size_t size);

#endif
