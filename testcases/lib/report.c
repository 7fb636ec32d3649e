/* report.c: how a role records steps, failures and skips, and writes diagnostic lines. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vsc_internal.h"

struct vsc_role vsc_self = { .label = "test", .state = NULL, .control_fd = -1 };

void vsc_out(const char *fmt, ...)
{
	char line[2048];
	va_list ap;
	int len;

	va_start(ap, fmt);
	len = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (len < 0)
		return;
	if ((size_t)len > sizeof(line) - 2)
		len = sizeof(line) - 2;
	line[len++] = '\n';
	/* One write per line: the harness and both roles share this descriptor. */
	if (write(STDOUT_FILENO, line, (size_t)len) < 0)
		_exit(3);
}

static void vdiag(const char *fmt, va_list ap)
{
	char text[VSC_TEXT_MAX];

	vsnprintf(text, sizeof(text), fmt, ap);
	vsc_out("# [%s] %s", vsc_self.label, text);
}

void vsc_diag(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vdiag(fmt, ap);
	va_end(ap);
}

void vsc_step_at(const char *file, int line, const char *what)
{
	if (vsc_self.state)
		snprintf(vsc_self.state->step, sizeof(vsc_self.state->step), "%s:%d %s", file, line,
			 what);
}

void vsc_role_exit(int outcome, const char *reason)
{
	struct vsc_role_state *st = vsc_self.state;

	if (st) {
		if (reason && !st->reason[0])
			snprintf(st->reason, sizeof(st->reason), "%s", reason);
		st->outcome = outcome;
	}
	_exit(0);
}

static void vfail_at(const char *file, int line, const char *fmt, va_list ap)
{
	char text[VSC_TEXT_MAX], where[VSC_TEXT_MAX];

	vsnprintf(text, sizeof(text), fmt, ap);
	snprintf(where, sizeof(where), "%s:%d: %s", file, line, text);
	vsc_out("# [%s] %s", vsc_self.label, where);
	if (vsc_self.state) {
		vsc_self.state->failures++;
		if (!vsc_self.state->reason[0])
			snprintf(vsc_self.state->reason, sizeof(vsc_self.state->reason), "[%s] %s",
				 vsc_self.label, where);
	}
}

void vsc_fail_at(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail_at(file, line, fmt, ap);
	va_end(ap);
}

void vsc_fatal_at(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail_at(file, line, fmt, ap);
	va_end(ap);
	vsc_stop();
}

void vsc_stop(void)
{
	vsc_role_exit(VSC_FAIL, NULL);
}

int vsc_check_eq_at(const char *file, int line, const char *a_text, const char *b_text,
		    long long a, long long b)
{
	if (a == b)
		return 0;
	vsc_fail_at(file, line, "%s == %s: got %lld, expected %lld", a_text, b_text, a, b);
	return 1;
}

int vsc_check_errno_at(const char *file, int line, const char *call_text, long ret, int err,
		       int expected_err)
{
	if (ret != -1)
		vsc_fail_at(file, line, "%s returned %ld, expected failure with %s", call_text,
			      ret, vsc_errname(expected_err));
	else if (err != expected_err)
		vsc_fail_at(file, line, "%s failed with %s, expected %s", call_text,
			      vsc_errname(err), vsc_errname(expected_err));
	else
		return 0;
	return 1;
}

void vsc_skip(const char *fmt, ...)
{
	char text[VSC_TEXT_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	/* A failure already recorded stands: skipping afterwards must not hide it. */
	if (vsc_self.state && vsc_self.state->failures) {
		vsc_out("# [%s] then skipped: %s", vsc_self.label, text);
		vsc_role_exit(VSC_FAIL, NULL);
	}
	vsc_role_exit(VSC_SKIP, text);
}
