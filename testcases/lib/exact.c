/* exact.c: the byte-exact stream pattern, its running sum, and the locator of a stream's first fault. */
#include <endian.h>
#include <stdio.h>
#include <string.h>

#include "vsc_exact.h"

/*
 * A word is MAGIC:16 | conn:8 | offset/8:40, mixed by a bijection so that its bytes look random:
 * a lost byte shows at its own place (not after a run of equal zero bytes) but for a 1 in 256
 * coincidence, and 8 bytes read at the wrong alignment almost never decode (the magic must
 * come back).
 */
#define WORD_MAGIC 0x5653ull		/* "VS" */
#define MIX_K 0x9e3779b97f4a7c15ull	/* odd: multiplying by it is invertible mod 2^64 */

static uint64_t mix_k_inverse(void)
{
	uint64_t inv = MIX_K;
	int i;

	/* Newton's iteration doubles the correct low bits: 3, 6, 12, 24, 48, 96. */
	for (i = 0; i < 5; i++)
		inv *= 2 - MIX_K * inv;
	return inv;
}

static uint64_t mix(uint64_t x)
{
	x *= MIX_K;
	x ^= x >> 32;
	x *= MIX_K;
	return x ^ (x >> 32);
}

static uint64_t unmix(uint64_t x)
{
	uint64_t inv = mix_k_inverse();

	x ^= x >> 32;	/* a shift of half the width undoes itself */
	x *= inv;
	x ^= x >> 32;
	return x * inv;
}

uint64_t vsc_exact_word(unsigned int conn, uint64_t offset)
{
	uint64_t plain = WORD_MAGIC << 48 | (uint64_t)(conn & 0xff) << 40 |
			 ((offset >> 3) & ((1ull << 40) - 1));

	return htole64(mix(plain));
}

int vsc_exact_decode(const void *p, unsigned int *conn, uint64_t *offset)
{
	uint64_t word, plain;

	memcpy(&word, p, sizeof(word));
	plain = unmix(le64toh(word));
	if (plain >> 48 != WORD_MAGIC)
		return -1;
	*conn = (unsigned int)(plain >> 40 & 0xff);
	*offset = (plain & ((1ull << 40) - 1)) << 3;
	return 0;
}

static unsigned char expected_byte(unsigned int conn, uint64_t pos)
{
	uint64_t word = vsc_exact_word(conn, pos & ~7ull);

	return ((const unsigned char *)&word)[pos & 7];
}

void vsc_exact_fill(void *buf, size_t len, unsigned int conn, uint64_t offset)
{
	unsigned char *p = buf;
	size_t i = 0;

	for (; i < len && ((offset + i) & 7); i++)
		p[i] = expected_byte(conn, offset + i);
	for (; i + 8 <= len; i += 8) {
		uint64_t word = vsc_exact_word(conn, offset + i);

		memcpy(p + i, &word, 8);
	}
	for (; i < len; i++)
		p[i] = expected_byte(conn, offset + i);
}

void vsc_exact_sum_add(struct vsc_exact_sum *sum, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	size_t i;

	for (i = 0; i < len; i++) {
		sum->a += p[i];
		sum->b += sum->a;
	}
}

uint64_t vsc_exact_sum_value(const struct vsc_exact_sum *sum)
{
	return sum->b ^ (sum->a << 32 | sum->a >> 32);
}

/* The stream offset that the bytes at buf[q] were sent for, if 16 bytes from q realign; else -1. */
static int realign(const unsigned char *buf, size_t len, size_t q, unsigned int *conn,
		   uint64_t *offset)
{
	unsigned int c1, c2;
	uint64_t o1, o2;

	if (q + 16 > len || vsc_exact_decode(buf + q, &c1, &o1) ||
	    vsc_exact_decode(buf + q + 8, &c2, &o2))
		return -1;
	if (c1 != c2 || o2 != o1 + 8)
		return -1;
	*conn = c1;
	*offset = o1;
	return 0;
}

/* Where `needle` (n bytes) first occurs in buf[from, len), or -1. */
static long find_bytes(const unsigned char *buf, size_t len, size_t from, const unsigned char *needle,
		       size_t n)
{
	const unsigned char *hit;

	if (from >= len)
		return -1;
	hit = memmem(buf + from, len - from, needle, n);
	return hit ? hit - buf : -1;
}

/* Same bytes, another order: a scramble inside [i, end) that keeps the stream aligned after it. */
static int same_bytes(const unsigned char *got, unsigned int conn, uint64_t base, size_t i,
		      size_t end)
{
	unsigned int count[256] = { 0 };
	size_t j;

	for (j = i; j < end; j++) {
		count[got[j]]++;
		count[expected_byte(conn, base + j)]--;
	}
	for (j = 0; j < 256; j++)
		if (count[j])
			return 0;
	return 1;
}

/* The stream is aligned again from k on and the bytes in [i, k) differ: say how. */
static void local_fault(const unsigned char *got, size_t len, unsigned int conn, uint64_t base,
			size_t i, size_t k, struct vsc_exact_fault *f)
{
	size_t end = k, j;

	/* The scramble ends where the bytes match again for good (up to the realigned words). */
	while (end > i && got[end - 1] == expected_byte(conn, base + end - 1))
		end--;
	(void)len;
	f->bytes = end - i;
	f->got = f->at;
	f->got_conn = conn;
	if (!same_bytes(got, conn, base, i, end)) {
		f->kind = VSC_EXACT_CORRUPT;
		return;
	}
	f->kind = VSC_EXACT_REORDERED;
	for (j = i; j < end; j++)
		if (expected_byte(conn, base + j) == got[i]) {
			f->got = base + j;
			break;
		}
	for (j = i; j < end; j++)
		if (got[j] == expected_byte(conn, f->at)) {
			f->later_at = base + j;
			break;
		}
}

int vsc_exact_locate(const void *buf, size_t len, unsigned int conn, uint64_t base,
		     struct vsc_exact_fault *f)
{
	const unsigned char *got = buf;
	size_t i, k;

	for (i = 0; i < len; i++)
		if (got[i] != expected_byte(conn, base + i))
			break;
	if (i == len)
		return 0;
	memset(f, 0, sizeof(*f));
	f->at = base + i;
	f->seen_len = len - i < sizeof(f->seen) ? len - i : sizeof(f->seen);
	memcpy(f->seen, got + i, f->seen_len);
	f->kind = VSC_EXACT_CORRUPT;

	for (k = i; k < i + 8 + 16 && k < len; k++) {
		unsigned int c;
		uint64_t o, source;

		if (realign(got, len, k, &c, &o) || o < k - i)
			continue;
		source = o - (k - i);	/* what the byte at `at` was sent for, if the run holds */
		f->got_conn = c;
		f->got = source;
		if (c != conn) {
			f->kind = VSC_EXACT_FOREIGN;
		} else if (source > f->at) {
			unsigned char skipped[8];
			long later;

			f->bytes = source - f->at;
			f->kind = VSC_EXACT_LOST;
			/* Fewer than 4 skipped bytes are too common a string to look for. */
			if (f->bytes >= 4) {
				size_t n = f->bytes < 8 ? f->bytes : 8;

				vsc_exact_fill(skipped, n, conn, f->at);
				later = find_bytes(got, len, k, skipped, n);
				if (later >= 0) {
					f->kind = VSC_EXACT_REORDERED;
					f->later_at = base + (uint64_t)later;
				}
			}
		} else if (source < f->at) {
			f->bytes = f->at - source;
			f->kind = VSC_EXACT_DUPLICATED;
		} else {
			local_fault(got, len, conn, base, i, k, f);
		}
		return 1;
	}
	return 1;
}

void vsc_exact_describe(const struct vsc_exact_fault *f, unsigned int conn, char *out, size_t size)
{
	unsigned long long at = f->at, got = f->got, bytes = f->bytes;
	char seen[3 * sizeof(f->seen) + 1] = "";
	int n;
	size_t j;

	for (j = 0; j < f->seen_len; j++)
		snprintf(seen + 3 * j, sizeof(seen) - 3 * j, "%02x ", f->seen[j]);
	if (f->seen_len)
		seen[3 * f->seen_len - 1] = '\0';
	n = snprintf(out, size, "connection %u, offset %llu: expected the word for offset %llu, ",
		     conn, at, at);
	if (n < 0 || (size_t)n >= size)
		return;
	out += n;
	size -= (size_t)n;
	switch (f->kind) {
	case VSC_EXACT_LOST:
		snprintf(out, size, "got the one for offset %llu (lost %llu bytes)", got, bytes);
		break;
	case VSC_EXACT_DUPLICATED:
		snprintf(out, size, "got the one for offset %llu (duplicated %llu bytes: offsets "
			 "%llu..%llu came twice)", got, bytes, got, at - 1);
		break;
	case VSC_EXACT_REORDERED:
		snprintf(out, size, "got the one for offset %llu (reordered %llu bytes: the byte for "
			 "offset %llu came at stream offset %llu)", got, bytes, at,
			 (unsigned long long)f->later_at);
		break;
	case VSC_EXACT_FOREIGN:
		snprintf(out, size, "got connection %u's word for offset %llu (another connection's "
			 "bytes)", f->got_conn, got);
		break;
	case VSC_EXACT_CORRUPT:
		if (bytes)
			snprintf(out, size, "got bytes %s (no pattern word: %llu bytes corrupted)",
				 seen, bytes);
		else
			snprintf(out, size, "got bytes %s (no pattern word, and no realignment in "
				 "the bytes after them)", seen);
		break;
	}
}
