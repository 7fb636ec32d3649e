/* exact_unit.c: the byte-exact pattern and its locator on corrupted buffers (no vsock used). */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vsc.h"
#include "vsc_exact.h"

#define STREAM_CONN 7
#define STREAM_BASE (3ull << 20)	/* the buffer is a piece from the middle of a stream */
#define STREAM_BYTES 8192

/* A clean piece of stream STREAM_CONN at STREAM_BASE, with room to grow by a few KiB. */
static unsigned char *clean_stream(void)
{
	unsigned char *buf = malloc(STREAM_BYTES * 2);

	ASSERT_TRUE(buf != NULL);
	vsc_exact_fill(buf, STREAM_BYTES * 2, STREAM_CONN, STREAM_BASE);
	return buf;
}

/* Locates the fault in buf[0, len) and checks kind, place, source and size. */
static void expect_fault(const unsigned char *buf, size_t len, enum vsc_exact_kind kind,
			 uint64_t at, uint64_t got, uint64_t bytes)
{
	struct vsc_exact_fault f;
	char text[256];

	ASSERT_EQ(vsc_exact_locate(buf, len, STREAM_CONN, STREAM_BASE, &f), 1);
	vsc_exact_describe(&f, STREAM_CONN, text, sizeof(text));
	vsc_diag("%s", text);
	EXPECT_EQ(f.kind, kind);
	EXPECT_EQ(f.at, STREAM_BASE + at);
	EXPECT_EQ(f.got, STREAM_BASE + got);
	EXPECT_EQ(f.bytes, bytes);
}

static void words_round_trip(const struct vsc_env *env)
{
	unsigned char buf[64], piece[13];
	unsigned int conn;
	uint64_t offset, word;
	size_t i;

	(void)env;
	word = vsc_exact_word(255, VSC_EXACT_MAX_OFFSET - 8);
	ASSERT_EQ(vsc_exact_decode(&word, &conn, &offset), 0);
	EXPECT_EQ(conn, 255);
	EXPECT_EQ(offset, VSC_EXACT_MAX_OFFSET - 8);
	/* Any alignment of fill gives the same bytes as the aligned stream. */
	vsc_exact_fill(buf, sizeof(buf), 3, 4096);
	vsc_exact_fill(piece, sizeof(piece), 3, 4096 + 5);
	EXPECT_TRUE(memcmp(buf + 5, piece, sizeof(piece)) == 0);
	/* Eight bytes read at the wrong alignment are no word. */
	for (i = 1; i < 8; i++)
		EXPECT_EQ(vsc_exact_decode(buf + i, &conn, &offset), -1);
}
VSC_CASE(lib_exact_words, .summary = "pattern words name their connection and offset; misaligned bytes decode to nothing",
	 .run = words_round_trip);

static void sum_any_split(const struct vsc_env *env)
{
	unsigned char *buf = clean_stream();
	struct vsc_exact_sum whole = { 0 }, split = { 0 }, swapped = { 0 };
	unsigned char t;

	(void)env;
	vsc_exact_sum_add(&whole, buf, STREAM_BYTES);
	vsc_exact_sum_add(&split, buf, 3);
	vsc_exact_sum_add(&split, buf + 3, 4000);
	vsc_exact_sum_add(&split, buf + 4003, STREAM_BYTES - 4003);
	EXPECT_EQ(vsc_exact_sum_value(&whole), vsc_exact_sum_value(&split));
	t = buf[100];
	buf[100] = buf[101];
	buf[101] = t;
	vsc_exact_sum_add(&swapped, buf, STREAM_BYTES);
	EXPECT_TRUE(vsc_exact_sum_value(&whole) != vsc_exact_sum_value(&swapped));
	free(buf);
}
VSC_CASE(lib_exact_sum, .summary = "the running sum is the same for any split and changes when two bytes swap",
	 .run = sum_any_split);

static void locate_clean_lost_duplicated(const struct vsc_env *env)
{
	unsigned char *buf = clean_stream();
	struct vsc_exact_fault f;

	(void)env;
	EXPECT_EQ(vsc_exact_locate(buf, STREAM_BYTES, STREAM_CONN, STREAM_BASE, &f), 0);
	/* One byte dropped at 1003, then 13 at an aligned 2048 (on a fresh copy each). */
	memmove(buf + 1003, buf + 1004, STREAM_BYTES - 1004);
	expect_fault(buf, STREAM_BYTES - 1, VSC_EXACT_LOST, 1003, 1004, 1);
	free(buf);
	buf = clean_stream();
	memmove(buf + 2048, buf + 2048 + 13, STREAM_BYTES - 2048 - 13);
	expect_fault(buf, STREAM_BYTES - 13, VSC_EXACT_LOST, 2048, 2061, 13);
	free(buf);
	/* Bytes 1500..1504 a second time right after themselves. */
	buf = clean_stream();
	memmove(buf + 1510, buf + 1505, STREAM_BYTES - 1510);
	memcpy(buf + 1505, buf + 1500, 5);
	expect_fault(buf, STREAM_BYTES, VSC_EXACT_DUPLICATED, 1505, 1500, 5);
	free(buf);
}
VSC_CASE(lib_exact_locate_lost_duplicated, .summary = "the locator finds a clean stream clean and names lost and duplicated bytes",
	 .run = locate_clean_lost_duplicated);

static void locate_reordered_corrupt_foreign(const struct vsc_env *env)
{
	unsigned char *buf = clean_stream(), tmp[512], t;
	struct vsc_exact_fault f;

	(void)env;
	/* Two 512-byte ranges swapped: 1536.. came first, 1024.. after it. */
	memcpy(tmp, buf + 1024, 512);
	memcpy(buf + 1024, buf + 1536, 512);
	memcpy(buf + 1536, tmp, 512);
	expect_fault(buf, STREAM_BYTES, VSC_EXACT_REORDERED, 1024, 1536, 512);
	ASSERT_EQ(vsc_exact_locate(buf, STREAM_BYTES, STREAM_CONN, STREAM_BASE, &f), 1);
	EXPECT_EQ(f.later_at, STREAM_BASE + 1536);
	free(buf);
	/* Two neighbouring bytes swapped inside a word. */
	buf = clean_stream();
	t = buf[3001];
	buf[3001] = buf[3002];
	buf[3002] = t;
	expect_fault(buf, STREAM_BYTES, VSC_EXACT_REORDERED, 3001, 3002, 2);
	free(buf);
	/* One bit flipped. */
	buf = clean_stream();
	buf[4100] ^= 0x10;
	expect_fault(buf, STREAM_BYTES, VSC_EXACT_CORRUPT, 4100, 4100, 1);
	free(buf);
	/* Connection 9's words where connection 7's belong. */
	buf = clean_stream();
	vsc_exact_fill(buf + 5000, 64, 9, STREAM_BASE + 5000);
	ASSERT_EQ(vsc_exact_locate(buf, STREAM_BYTES, STREAM_CONN, STREAM_BASE, &f), 1);
	EXPECT_EQ(f.kind, VSC_EXACT_FOREIGN);
	EXPECT_EQ(f.got_conn, 9);
	EXPECT_EQ(f.at, STREAM_BASE + 5000);
	EXPECT_EQ(f.got, STREAM_BASE + 5000);
	free(buf);
	/* Zeros to the end: no word to realign on. */
	buf = clean_stream();
	memset(buf + 6000, 0, STREAM_BYTES - 6000);
	ASSERT_EQ(vsc_exact_locate(buf, STREAM_BYTES, STREAM_CONN, STREAM_BASE, &f), 1);
	EXPECT_EQ(f.kind, VSC_EXACT_CORRUPT);
	EXPECT_EQ(f.at, STREAM_BASE + 6000);
	EXPECT_EQ(f.bytes, 0);
	free(buf);
}
VSC_CASE(lib_exact_locate_reordered_corrupt, .summary = "the locator names swapped ranges, swapped bytes, a flipped bit and another connection's bytes",
	 .run = locate_reordered_corrupt_foreign);

/* Odd sizes, so the receiver's chunks and the sender's writes never line up. */
static const unsigned int unit_write_sizes[] = { 1, 4097, 65537, 3, 0 };

static void pump_clean_pair(const struct vsc_env *env)
{
	struct vsc_exact_stream streams[2];
	int fds[2];

	(void)env;
	SAFE(socketpair(AF_UNIX, SOCK_STREAM, 0, fds));
	vsc_exact_stream_init(&streams[0], fds[0], 4, 1, 1000003, unit_write_sizes);
	vsc_exact_stream_init(&streams[1], fds[1], 4, 0, 0, NULL);
	vsc_exact_pump(streams, 2, 10, 5000);
	EXPECT_EQ(streams[0].offset, 1000003);
	EXPECT_EQ(streams[1].received, 1000003);
	EXPECT_EQ(streams[1].offset, 1000003);
	EXPECT_EQ(streams[1].faulted, 0);
	EXPECT_EQ(vsc_exact_sum_value(&streams[0].sum), vsc_exact_sum_value(&streams[1].sum));
	vsc_exact_stream_free(&streams[0]);
	vsc_exact_stream_free(&streams[1]);
	SAFE(close(fds[0]));
	SAFE(close(fds[1]));
}
VSC_CASE(lib_exact_pump_clean, .summary = "a pattern stream over a Unix socket pair arrives whole: counts and sums agree, no fault",
	 .run = pump_clean_pair);

/* A writer child: stream 2's first `len` bytes with `drop` bytes left out at `at`. */
static pid_t write_stream_dropping(int fd, size_t len, size_t at, size_t drop)
{
	pid_t pid = SAFE(fork());
	unsigned char *buf;

	if (pid)
		return pid;
	buf = malloc(len);
	if (!buf)
		_exit(1);
	vsc_exact_fill(buf, len, 2, 0);
	memmove(buf + at, buf + at + drop, len - at - drop);
	if (write(fd, buf, len - drop) != (ssize_t)(len - drop))
		_exit(1);
	_exit(0);
}

static void pump_locates_loss(const struct vsc_env *env)
{
	struct vsc_exact_stream stream;
	int fds[2], status;
	pid_t writer;

	(void)env;
	SAFE(socketpair(AF_UNIX, SOCK_STREAM, 0, fds));
	writer = write_stream_dropping(fds[0], 300000, 200000, 3);
	SAFE(close(fds[0]));
	vsc_exact_stream_init(&stream, fds[1], 2, 0, 0, NULL);
	vsc_exact_pump(&stream, 1, 10, 5000);
	SAFE(waitpid(writer, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	EXPECT_EQ(stream.received, 300000 - 3);
	ASSERT_EQ(stream.faulted, 1);
	vsc_diag("%s", stream.fault);
	EXPECT_TRUE(strcmp(stream.fault, "connection 2, offset 200000: expected the word for offset "
			   "200000, got the one for offset 200003 (lost 3 bytes)") == 0);
	vsc_exact_stream_free(&stream);
	SAFE(close(fds[1]));
}
VSC_CASE(lib_exact_pump_locates_loss, .summary = "a receiving stream missing 3 bytes in its fourth chunk names connection, offset and count",
	 .run = pump_locates_loss);

static void pump_time_bound(const struct vsc_env *env)
{
	struct vsc_exact_stream streams[2];
	int fds[2];

	(void)env;
	SAFE(socketpair(AF_UNIX, SOCK_STREAM, 0, fds));
	/* No time at all: the sender shuts down at once, short of its limit, and says so. */
	vsc_exact_stream_init(&streams[0], fds[0], 1, 1, 1 << 20, unit_write_sizes);
	vsc_exact_stream_init(&streams[1], fds[1], 1, 0, 0, NULL);
	vsc_exact_pump(streams, 2, 0, 5000);
	EXPECT_EQ(streams[0].out_of_time, 1);
	EXPECT_EQ(streams[0].offset, 0);
	EXPECT_EQ(streams[1].received, 0);
	EXPECT_EQ(streams[1].faulted, 0);
	vsc_exact_stream_free(&streams[0]);
	vsc_exact_stream_free(&streams[1]);
	SAFE(close(fds[0]));
	SAFE(close(fds[1]));
}
VSC_CASE(lib_exact_pump_time_bound, .summary = "a sender out of time shuts down short of its byte count and says so",
	 .run = pump_time_bound);
