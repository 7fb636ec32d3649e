/* unit_pcap_out.c: the pcap writer's bytes, checked against the format (libpcap's savefile layout). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "pcap_out.h"

static int failures;

#define CHECK(cond)                                                              \
	do {                                                                     \
		if (!(cond)) {                                                   \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
			failures++;                                              \
		}                                                                \
	} while (0)

static uint32_t le32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static size_t read_pipe(int fd, uint8_t *buf, size_t size)
{
	size_t total = 0;
	ssize_t n;

	while (total < size && (n = read(fd, buf + total, size - total)) > 0)
		total += (size_t)n;
	return total;
}

static void header_and_record(void)
{
	static const uint8_t frame[] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 };
	struct timespec when = { .tv_sec = 1700000000, .tv_nsec = 123456789 };
	uint8_t got[128];
	int pipefd[2];
	size_t len;

	CHECK(pipe(pipefd) == 0);
	CHECK(pcap_out_header(pipefd[1], 65792) == 0);
	CHECK(pcap_out_record(pipefd[1], &when, frame, 6, sizeof(frame)) == 0);
	close(pipefd[1]);
	len = read_pipe(pipefd[0], got, sizeof(got));
	close(pipefd[0]);
	CHECK(len == PCAP_FILE_HEADER_LEN + PCAP_RECORD_HEADER_LEN + 6);
	CHECK(memcmp(got, "\x4d\x3c\xb2\xa1", 4) == 0);	/* nanosecond magic, little-endian */
	CHECK(got[4] == 2 && got[5] == 0 && got[6] == 4 && got[7] == 0);
	CHECK(le32(got + 16) == 65792);
	CHECK(le32(got + 20) == 271);
	CHECK(le32(got + 24) == 1700000000);
	CHECK(le32(got + 28) == 123456789);
	CHECK(le32(got + 32) == 6);	/* included */
	CHECK(le32(got + 36) == 10);	/* on the wire */
	CHECK(memcmp(got + 40, frame, 6) == 0);
}

static void refuses_bad_lengths(void)
{
	static uint8_t frame[8];
	struct timespec when = { 0 };

	/* More captured than the frame had, and more than a record can hold. */
	CHECK(pcap_out_record(-1, &when, frame, 8, 4) == -EINVAL);
	CHECK(pcap_out_record(-1, &when, frame, 1 << 20, 1 << 20) == -EINVAL);
}

static void reports_write_errors(void)
{
	struct timespec when = { 0 };

	CHECK(pcap_out_header(-1, 100) == -EBADF);
	CHECK(pcap_out_record(-1, &when, "x", 1, 1) == -EBADF);
}

int main(void)
{
	header_and_record();
	refuses_bad_lengths();
	reports_write_errors();
	if (failures) {
		printf("vsockmon-capture-unit: %d checks failed\n", failures);
		return 1;
	}
	printf("vsockmon-capture-unit: all checks passed\n");
	return 0;
}
