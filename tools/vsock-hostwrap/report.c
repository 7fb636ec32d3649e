/* report.c: hostwrap's messages on stderr, one line each, and whether any was its own error. */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>

#include "report.h"

struct hw_config hw_config;
static atomic_int own_errors;

static void say(const char *fmt, va_list ap)
{
	char line[512];

	/* One write per line: several threads report at once. */
	vsnprintf(line, sizeof(line), fmt, ap);
	fprintf(stderr, "vsock-hostwrap: %s\n", line);
}

void hw_own_error(const char *fmt, ...)
{
	va_list ap;

	atomic_fetch_add(&own_errors, 1);
	va_start(ap, fmt);
	say(fmt, ap);
	va_end(ap);
}

void hw_note(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	say(fmt, ap);
	va_end(ap);
}

void hw_verbose(const char *fmt, ...)
{
	va_list ap;

	if (!hw_config.verbose)
		return;
	va_start(ap, fmt);
	say(fmt, ap);
	va_end(ap);
}

int hw_had_own_error(void)
{
	return atomic_load(&own_errors) != 0;
}
