/* report.c: vsock-perf's output: the report line (text or JSON), errors, the timeout, time. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "perf.h"

const char *mode_name;
const char *volatile doing = "starting";
char listen_path[108];

static void vfail(int status, const char *fmt, va_list ap) __attribute__((noreturn));
static void vfail(int status, const char *fmt, va_list ap)
{
	fprintf(stderr, "vsock-perf: %s: ", mode_name ? mode_name : "error");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	if (listen_path[0])
		unlink(listen_path);
	exit(status);
}

void fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(1, fmt, ap);
}

void fail_status(int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(status, fmt, ap);
}

/* "Connection reset by peer (ECONNRESET)" */
const char *errno_text(int err)
{
	static char text[128];
	const char *name = strerrorname_np(err);

	snprintf(text, sizeof(text), "%s (%s)", strerror(err), name ? name : "?");
	return text;
}

double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_alarm(int sig)
{
	char line[192];
	int len;

	(void)sig;
	len = snprintf(line, sizeof(line), "vsock-perf: %s: timed out while %s\n", mode_name,
		       doing);
	if (write(STDERR_FILENO, line, (size_t)len) < 0)
		_exit(3);
	if (listen_path[0])
		unlink(listen_path);
	_exit(3);
}

static void on_terminate(int sig)
{
	(void)sig;
	if (listen_path[0])
		unlink(listen_path);
	_exit(1);
}

void install_signals(unsigned int timeout_s)
{
	signal(SIGPIPE, SIG_IGN);	/* a peer that closes early is an EPIPE, reported */
	signal(SIGALRM, on_alarm);
	signal(SIGTERM, on_terminate);
	signal(SIGINT, on_terminate);
	alarm(timeout_s);
}

static void report_add(struct report *r, const char *key, int is_text, const char *value)
{
	if (r->count == REPORT_FIELDS_MAX)
		fail("internal: more than %d report fields", REPORT_FIELDS_MAX);
	r->field[r->count].key = key;
	r->field[r->count].is_text = is_text;
	snprintf(r->field[r->count].value, sizeof(r->field[0].value), "%s", value);
	r->count++;
}

void report_u64(struct report *r, const char *key, unsigned long long value)
{
	char text[32];

	snprintf(text, sizeof(text), "%llu", value);
	report_add(r, key, 0, text);
}

void report_f(struct report *r, const char *key, const char *format, double value)
{
	char text[64];

	snprintf(text, sizeof(text), format, value);
	report_add(r, key, 0, text);
}

/* Text values are words the program chose (no quotes or backslashes to escape). */
void report_text(struct report *r, const char *key, const char *value)
{
	report_add(r, key, 1, value);
}

/* The report as one line with its newline: text or JSON; cut short only past `size`. */
void report_format(const struct report *r, const char *mode, int json, char *line, size_t size)
{
	size_t len;
	int i;

	if (json)
		snprintf(line, size, "{\"tool\": \"vsock-perf\", \"mode\": \"%s\"", mode);
	else
		snprintf(line, size, "vsock-perf: %s", mode);
	for (i = 0; i < r->count; i++) {
		len = strlen(line);
		if (json)
			snprintf(line + len, size - len,
				 r->field[i].is_text ? ", \"%s\": \"%s\"" : ", \"%s\": %s",
				 r->field[i].key, r->field[i].value);
		else
			snprintf(line + len, size - len, " %s=%s", r->field[i].key, r->field[i].value);
	}
	len = strlen(line);
	snprintf(line + len, size - len, json ? "}\n" : "\n");
}

void report_print(const struct report *r, const struct options *o)
{
	char line[REPORT_FIELDS_MAX * 96 + 64];

	report_format(r, mode_name, o->json, line, sizeof(line));
	if (fputs(line, stdout) == EOF || fflush(stdout) != 0)
		fail("writing to stdout: %s", errno_text(errno));
}
