/* run_state.c: the time, the log and the failure rule both roles share. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "run_state.h"

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

long long stress_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void stress_log(const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&log_lock);
	fputs("sock-stress: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	pthread_mutex_unlock(&log_lock);
}

int stress_wait_ms(const struct run_state *rs, const char **why)
{
	long long left;

	*why = "no data moved for 60 s";
	if (!rs->deadline_ms)
		return STRESS_IO_TIMEOUT_MS;
	left = rs->deadline_ms - stress_now_ms();
	if (left <= 0) {
		*why = "the time limit (-t) ran out";
		return 0;
	}
	if (left < STRESS_IO_TIMEOUT_MS) {
		*why = "the time limit (-t) ran out";
		return (int)left;
	}
	return STRESS_IO_TIMEOUT_MS;
}

int stress_poll(const struct run_state *rs, int fd, short events, char *err, size_t err_size)
{
	struct pollfd p = { .fd = fd, .events = events };
	const char *why;
	int ms, n;

	for (;;) {
		ms = stress_wait_ms(rs, &why);
		if (ms == 0) {
			snprintf(err, err_size, "%s", why);
			return -1;
		}
		n = poll(&p, 1, ms);
		if (n > 0)
			return 0;
		if (n == 0) {
			snprintf(err, err_size, "%s", why);
			return -1;
		}
		if (errno != EINTR) {
			snprintf(err, err_size, "poll: %s", strerror(errno));
			return -1;
		}
	}
}

void stress_conn_failed(struct run_state *rs, long id, const char *what)
{
	atomic_fetch_add(&rs->failed, 1);
	stress_log("[%05ld] %s %s: %s", id, rs->o->server ? "server" : "client", rs->a->text, what);
	if (rs->o->exit_on_error) {
		stress_log("-e: exiting at the first error");
		exit(STRESS_EXIT_FAILED);
	}
}
