/* kmemleak.c: asks the kernel's memory leak detector about objects a case's pattern leaked. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include "kmemleak.h"
#include "vsc_internal.h"

#define DEBUGFS_DIR "/sys/kernel/debug"
#define DEBUGFS_MAGIC_NUMBER 0x64626720

/*
 * mm/kmemleak.c reports no object younger than MSECS_MIN_AGE (5000 ms): a fresh object may still
 * be on its way to whoever keeps it. A little more, so the newest object is surely old enough.
 */
#define KMEMLEAK_MIN_AGE_MS 5500

#define REPORT_MAX (4u << 20)
#define TIMER_LIST "/proc/timer_list"
#define RECORD_HEAD "unreferenced object"
#define FRAMES_QUOTED 4

const char *vsc_kmemleak_unavailable(void)
{
	static char reason[VSC_TEXT_MAX];
	struct statfs fs;
	int err;

	if (access(VSC_KMEMLEAK_PATH, R_OK | W_OK) == 0)
		return NULL;
	err = errno;
	if (statfs(DEBUGFS_DIR, &fs) != 0 || fs.f_type != DEBUGFS_MAGIC_NUMBER)
		snprintf(reason, sizeof(reason), "debugfs (kmemleak's home) is not mounted on %s",
			 DEBUGFS_DIR);
	else if (err == ENOENT)
		snprintf(reason, sizeof(reason), "kernel has no kmemleak (CONFIG_DEBUG_KMEMLEAK)");
	else
		snprintf(reason, sizeof(reason), "%s cannot be read and written: %s",
			 VSC_KMEMLEAK_PATH, vsc_errname(err));
	return reason;
}

/* 0, or the errno of the failed open or write. */
static int command(const char *cmd)
{
	int fd = open(VSC_KMEMLEAK_PATH, O_WRONLY | O_CLOEXEC), err = 0;
	ssize_t n;

	if (fd < 0)
		return errno;
	do
		n = write(fd, cmd, strlen(cmd));
	while (n < 0 && errno == EINTR);
	if (n < 0)
		err = errno;
	close(fd);
	return err;
}

/* jiffies when vsc_kmemleak_begin() ran, 0 if unknown. */
static unsigned long long begin_jiffies;

/* The kernel's jiffies, which kmemleak stamps on each object; 0 if /proc/timer_list lacks it. */
static unsigned long long read_jiffies(void)
{
	unsigned long long jiffies = 0;
	char line[256];
	FILE *f = fopen(TIMER_LIST, "re");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "jiffies: %llu", &jiffies) == 1)
			break;
	if (f)
		fclose(f);
	return jiffies;
}

void vsc_kmemleak_begin_at(const char *file, int line)
{
	int err;

	vsc_step_at(file, line, "echo clear > " VSC_KMEMLEAK_PATH);
	err = command("clear");
	if (err)
		vsc_fatal_at(file, line, "writing \"clear\" to %s failed: %s",
			      VSC_KMEMLEAK_PATH, vsc_errname(err));
	/* An earlier case's leak may be reported only now, being too young before: not ours. */
	begin_jiffies = read_jiffies();
}

/* The report, NUL-terminated, in a malloc()ed buffer; NULL with errno set on failure. */
static char *read_report(void)
{
	int fd = open(VSC_KMEMLEAK_PATH, O_RDONLY | O_CLOEXEC);
	size_t used = 0, size = 64u << 10;
	char *buf;

	if (fd < 0)
		return NULL;
	buf = malloc(size);
	while (buf) {
		ssize_t n;

		if (used + 1 == size) {
			char *bigger = size < REPORT_MAX ? realloc(buf, size * 2) : NULL;

			if (!bigger)
				break;	/* a report this long has already said enough */
			buf = bigger;
			size *= 2;
		}
		n = read(fd, buf + used, size - 1 - used);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int err = errno;

			free(buf);
			close(fd);
			errno = err;
			return NULL;
		}
		if (n == 0)
			break;
		used += (size_t)n;
	}
	close(fd);
	if (buf)
		buf[used] = '\0';
	return buf;
}

/* Function name of a backtrace line ("    vsock_create+0x1f/0x80 [vsock]"), without offset. */
static size_t frame_name(const char *line, const char **name)
{
	const char *p = line + strspn(line, " \t");

	/* Older kernels print "[<ffffffffc0a1b2c3>] name+off/size"; skip the address. */
	if (p[0] == '[' && p[1] == '<')
		p = strchr(p, ']') ? strchr(p, ']') + 1 : p;
	p += strspn(p, " \t");
	*name = p;
	return strcspn(p, "+ \n");
}

static int names_any(const char *start, const char *end, const char *const *symbols)
{
	const char *const *s;

	for (s = symbols; *s; s++) {
		const char *hit = strstr(start, *s);

		if (hit && hit < end)
			return 1;
	}
	return 0;
}

/* One line: "unreferenced object 0x... (size N): comm "x", frames a < b < c < d". */
static void condense(const char *record, const char *end, char *out, size_t size)
{
	const char *line = record, *trace = strstr(record, "backtrace");
	size_t used, head = strcspn(record, "\n"), comm_len = 0;
	const char *comm = strstr(record, "comm \"");
	int frames = 0;

	if (head && record[head - 1] == ':')
		head--;
	if (comm && comm < end) {
		comm += strlen("comm ");
		comm_len = strcspn(comm, ",\n");
	}
	used = (size_t)snprintf(out, size, "%.*s: comm %.*s, allocated by", (int)head, record,
				(int)comm_len, comm ? comm : "");
	if (!trace || trace > end)
		return;
	for (line = strchr(trace, '\n'); line && line < end && frames < FRAMES_QUOTED;
	     line = strchr(line + 1, '\n')) {
		const char *name;
		size_t len = frame_name(line + 1, &name);

		if (!len || name >= end)
			continue;
		if (used >= size)
			break;
		used += (size_t)snprintf(out + used, size - used, "%s%.*s", frames ? " < " : " ",
					 (int)len, name);
		frames++;
	}
}

/* Whether the record was allocated before jiffies `since` ("jiffies N" on its comm line). */
static int older_than(const char *record, const char *end, unsigned long long since)
{
	const char *stamp = strstr(record, " jiffies ");
	unsigned long long jiffies;

	if (!since || !stamp || stamp > end || sscanf(stamp, " jiffies %llu", &jiffies) != 1)
		return 0;
	return (long long)(jiffies - since) < 0;	/* wraps like the kernel's time_before() */
}

int vsc_kmemleak_count(const char *report, unsigned long long since,
		       const char *const *symbols, char *first, size_t first_size)
{
	const char *record = strstr(report, RECORD_HEAD);
	int found = 0;

	if (first_size)
		first[0] = '\0';
	while (record) {
		const char *next = strstr(record + 1, RECORD_HEAD);
		const char *end = next ? next : record + strlen(record);
		const char *trace = strstr(record, "backtrace");

		/* Only the allocation backtrace counts: the hex dump may hold any bytes. */
		if (trace && trace < end && names_any(trace, end, symbols) &&
		    !older_than(record, end, since)) {
			if (!found && first_size)
				condense(record, end, first, first_size);
			found++;
		}
		record = next;
	}
	return found;
}

/*
 * The one wait in the library that no event can end: kmemleak cannot tell when an object is old
 * enough to report, so wait out its minimum age on the clock (a bounded poll without a socket).
 */
static void wait_min_age(void)
{
	struct timespec now, until;
	long left_ms;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += KMEMLEAK_MIN_AGE_MS / 1000;
	until.tv_nsec += (KMEMLEAK_MIN_AGE_MS % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		left_ms = (until.tv_sec - now.tv_sec) * 1000 +
			  (until.tv_nsec - now.tv_nsec) / 1000000;
		if (left_ms <= 0)
			return;
		poll(NULL, 0, (int)left_ms);
	}
}

int vsc_kmemleak_expect_none_at(const char *file, int line, const char *const *symbols)
{
	char first[VSC_TEXT_MAX], *report;
	int err, found, i;

	vsc_step_at(file, line, "waiting out kmemleak's minimum object age");
	wait_min_age();
	/* The first scan records each object's checksum; only the second may report it. */
	for (i = 0; i < 2; i++) {
		vsc_step_at(file, line, "echo scan > " VSC_KMEMLEAK_PATH);
		err = command("scan");
		if (err == EPERM)
			vsc_skip("kmemleak is disabled (kmemleak=off, or it stopped after an "
				 "error): \"scan\" fails with EPERM");
		if (err)
			vsc_fatal_at(file, line, "writing \"scan\" to %s failed: %s",
				      VSC_KMEMLEAK_PATH, vsc_errname(err));
	}
	vsc_step_at(file, line, "reading " VSC_KMEMLEAK_PATH);
	report = read_report();
	if (!report)
		vsc_fatal_at(file, line, "reading %s failed: %s", VSC_KMEMLEAK_PATH,
			      vsc_errname(errno));
	found = vsc_kmemleak_count(report, begin_jiffies, symbols, first, sizeof(first));
	free(report);
	if (found)
		vsc_fail_at(file, line, "kmemleak: %d unreferenced object%s from vsock; %s",
			      found, found == 1 ? "" : "s", first);
	return found;
}
