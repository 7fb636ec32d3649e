/* connrate.c: connections per second: connrate connects, sends a byte, reads it back, closes, N
 * times; echo accepts each, echoes its byte and closes it. */
#include <stdio.h>
#include <unistd.h>

#include "perf.h"

int run_echo(const struct options *o)
{
	int listener = start_listening(o), fd;
	unsigned long long served = 0;
	struct report r = { 0 };
	char byte;

	while (!o->count || served < o->count) {
		fd = accept_one(listener, o);
		doing = "reading a connection's byte";
		if (read_some(fd, &byte, 1, o) != 1)
			fail("connection %llu on %s: closed before its byte", served + 1, peer_name(o));
		doing = "echoing a connection's byte";
		write_all(fd, &byte, 1, o, 0);
		close(fd);
		served++;
	}
	report_u64(&r, "connections", served);
	report_print(&r, o);
	close(listener);
	done_listening();
	return 0;
}

int run_connrate(const struct options *o)
{
	double started = now_s(), seconds;
	struct report r = { 0 };
	unsigned long long i;
	char byte;
	int fd;

	for (i = 0; i < o->count; i++) {
		fd = open_connection(o);
		byte = (char)i;
		write_all(fd, &byte, 1, o, 0);
		doing = "waiting for the echoed byte";
		if (read_some(fd, &byte, 1, o) != 1)
			fail("connection %llu to %s: closed before the echo", i + 1, peer_name(o));
		close(fd);
	}
	seconds = now_s() - started;
	report_u64(&r, "count", o->count);
	report_f(&r, "seconds", "%.6f", seconds);
	report_f(&r, "conn_per_s", "%.1f", seconds > 0 ? (double)o->count / seconds : 0);
	report_print(&r, o);
	return 0;
}
