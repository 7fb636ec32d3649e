/*
 * latency.c: round trips of small messages. The connecting side writes --size bytes and reads
 * them back, --count times, and reports the percentiles of the round-trip times; the listening
 * side echoes what it reads until EOF.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "perf.h"

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void read_exactly(int fd, char *buf, size_t len, const struct options *o,
			 unsigned long long trip)
{
	ssize_t n;

	while (len) {
		n = read_some(fd, buf, len, o);
		if (n == 0)
			fail("round trip %llu with %s: the peer closed with %zu bytes of the echo missing",
			     trip + 1, peer_name(o), len);
		buf += n;
		len -= (size_t)n;
	}
}

static int serve_echo(const struct options *o, char *buf)
{
	int listener = start_listening(o), fd;
	unsigned long long echoed = 0;
	struct report r = { 0 };
	ssize_t n;

	fd = accept_one(listener, o);
	close(listener);
	doing = "echoing round trips";
	while ((n = read_some(fd, buf, o->chunk, o)) > 0) {
		write_all(fd, buf, (size_t)n, o, echoed);
		echoed += (unsigned long long)n;
	}
	report_text(&r, "role", "echo");
	report_u64(&r, "echoed_bytes", echoed);
	report_print(&r, o);
	close(fd);
	done_listening();
	return 0;
}

static void report_trips(const struct options *o, uint64_t *rtt_ns, unsigned long long count)
{
	struct report r = { 0 };
	uint64_t sum = 0;
	unsigned long long i;

	for (i = 0; i < count; i++)
		sum += rtt_ns[i];
	sort_u64(rtt_ns, count);
	report_u64(&r, "count", count);
	report_u64(&r, "size", o->msg_size);
	report_f(&r, "min_us", "%.1f", rtt_ns[0] / 1e3);
	report_f(&r, "p50_us", "%.1f", percentile(rtt_ns, count, 50) / 1e3);
	report_f(&r, "p90_us", "%.1f", percentile(rtt_ns, count, 90) / 1e3);
	report_f(&r, "p99_us", "%.1f", percentile(rtt_ns, count, 99) / 1e3);
	report_f(&r, "max_us", "%.1f", rtt_ns[count - 1] / 1e3);
	report_f(&r, "mean_us", "%.1f", (double)sum / (double)count / 1e3);
	report_print(&r, o);
}

int run_latency(const struct options *o, char *buf)
{
	unsigned long long i;
	uint64_t *rtt_ns, started;
	char *echo;
	int fd;

	if (!connects(o))
		return serve_echo(o, buf);
	rtt_ns = calloc(o->count, sizeof(*rtt_ns));
	echo = malloc(o->msg_size);
	if (!rtt_ns || !echo)
		fail("cannot allocate room for %llu round trips", o->count);
	fd = open_connection(o);
	doing = "timing round trips";
	for (i = 0; i < o->count; i++) {
		memset(buf, (int)(i & 0xff), o->msg_size);
		started = now_ns();
		write_all(fd, buf, o->msg_size, o, 0);
		read_exactly(fd, echo, o->msg_size, o, i);
		rtt_ns[i] = now_ns() - started;
		if (memcmp(echo, buf, o->msg_size) != 0)
			fail("round trip %llu with %s: the echo differs from what was sent", i + 1,
			     peer_name(o));
	}
	if (shutdown(fd, SHUT_WR) != 0)
		fail("shutdown(SHUT_WR) to %s: %s", peer_name(o), errno_text(errno));
	doing = "waiting for the echo side to close";
	if (read_some(fd, echo, o->msg_size, o) != 0)
		fail("%s sent more than it was sent", peer_name(o));
	report_trips(o, rtt_ns, o->count);
	close(fd);
	free(rtt_ns);
	free(echo);
	return 0;
}
