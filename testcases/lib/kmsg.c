/* kmsg.c: the kernel's health around each case: alarming log lines and new taint bits. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vsc_internal.h"

struct vsc_kmsg {
	int fd;
};

/* Substrings of kernel messages that mean the kernel hurt itself while the case ran. */
static const char *const alarm_patterns[] = {
	"Oops",	      "BUG:",	    "kernel BUG",	  "WARNING:",	   "KASAN",
	"UBSAN",      "general protection", "refcount_t", "blocked for more than", "hung_task",
	"kmemleak",   "Call Trace",
};

struct vsc_kmsg *vsc_kmsg_open(void)
{
	struct vsc_kmsg *k;
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0)
		return NULL;
	k = calloc(1, sizeof(*k));
	if (!k) {
		close(fd);
		return NULL;
	}
	k->fd = fd;
	vsc_kmsg_mark(k);
	return k;
}

void vsc_kmsg_mark(struct vsc_kmsg *k)
{
	lseek(k->fd, 0, SEEK_END);
}

/*
 * A record is "prio,seq,usec,flags[,...];text\n" plus continuation lines. Only the kernel's
 * own facility (0) counts: anyone may write user-facility lines into /dev/kmsg.
 */
const char *vsc_kmsg_record_alarm(const char *record, char *msg, size_t msg_size)
{
	const char *text = strchr(record, ';');
	unsigned long prio;
	char *end;
	size_t i, len;

	if (!text)
		return NULL;
	prio = strtoul(record, &end, 10);
	if (end == record || *end != ',' || (prio >> 3) != 0)
		return NULL;
	text++;
	len = strcspn(text, "\n");
	if (len >= msg_size)
		len = msg_size - 1;
	memcpy(msg, text, len);
	msg[len] = '\0';
	for (i = 0; i < sizeof(alarm_patterns) / sizeof(alarm_patterns[0]); i++)
		if (strstr(msg, alarm_patterns[i]))
			return msg;
	return NULL;
}

int vsc_kmsg_alarms(struct vsc_kmsg *k, char lines[][VSC_TEXT_MAX], int max)
{
	char record[8192];
	int found = 0;

	for (;;) {
		ssize_t n = read(k->fd, record, sizeof(record) - 1);

		if (n < 0 && errno == EPIPE)
			continue;	/* the ring overwrote records we had not read: go on */
		if (n <= 0)
			break;
		record[n] = '\0';
		if (found < max && vsc_kmsg_record_alarm(record, lines[found], VSC_TEXT_MAX))
			found++;
	}
	return found;
}

unsigned long vsc_taint_read(void)
{
	unsigned long bits = 0;
	FILE *f = fopen("/proc/sys/kernel/tainted", "re");

	if (f) {
		if (fscanf(f, "%lu", &bits) != 1)
			bits = 0;
		fclose(f);
	}
	return bits;
}

void vsc_taint_describe(unsigned long bits, char *out, size_t out_size)
{
	/* Letters of Documentation/admin-guide/tainted-kernels.rst, by bit number. */
	static const char letters[] = "PFSRMBUDAWCIOELKXTN";
	size_t used = 0, i;

	out[0] = '\0';
	for (i = 0; i < sizeof(letters) - 1 && used + 2 < out_size; i++)
		if (bits & (1UL << i))
			out[used++] = letters[i];
	out[used] = '\0';
}
