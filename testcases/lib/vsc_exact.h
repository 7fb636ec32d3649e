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

/*
 * Streams of the pattern over connected sockets (exact_stream.c): a sender writes stream
 * `conn` in write_sizes[] turns; a receiver checks each EXACT_CHUNK as it lands and, at the
 * first wrong byte, reads a second chunk and records what the locator says.
 */
#define VSC_EXACT_CHUNK (64u << 10)
#define VSC_EXACT_MAX_WRITE (128u << 10)
#define VSC_EXACT_MAX_STREAMS 8

struct vsc_exact_stream {
	int fd;
	unsigned int conn;
	int sending;
	int done;		/* sender: shut down for writing; receiver: EOF seen */
	uint64_t offset;	/* sender: bytes sent; receiver: bytes checked */
	uint64_t received;	/* receiver: bytes read, checked or not */
	uint64_t limit;		/* sender: the byte count it stops at */
	int out_of_time;	/* sender: stopped short of its limit by send_seconds */
	const unsigned int *write_sizes;	/* sender: cycled through; 0-terminated */
	unsigned int next_write;
	int suspect;		/* receiver: the chunk at offset differs; more is read to say how */
	int faulted;		/* receiver: fault holds its description; the rest is only counted */
	char fault[512];
	struct vsc_exact_sum sum;
	unsigned char *buf;	/* sender: one write; receiver: two chunks */
	size_t fill;		/* receiver: bytes in buf from offset on */
};

/* limit and write_sizes matter to a sender only (write sizes up to VSC_EXACT_MAX_WRITE). */
void vsc_exact_stream_init(struct vsc_exact_stream *s, int fd, unsigned int conn, int sending,
			   uint64_t limit, const unsigned int *write_sizes);
void vsc_exact_stream_free(struct vsc_exact_stream *s);
/*
 * Moves every stream until each sender has shut down for writing (at its limit, or when
 * send_seconds have passed) and each receiver has seen EOF. A socket error, or no stream
 * moving for stall_ms, ends the role with the streams' places.
 */
void vsc_exact_pump(struct vsc_exact_stream *streams, unsigned int count, int send_seconds,
		    int stall_ms);

#endif
