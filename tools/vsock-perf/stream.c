/*
 * stream.c: throughput. recv reads until EOF and times from the first byte to EOF; send writes
 * --bytes in --chunk writes, shuts down writing and waits for the receiver's close. Either may
 * be the side that connects (--cid or --bridge) or the side that listens.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "perf.h"

/* The connection for a stream mode: connected to the peer, or the one accepted. */
static int stream_connection(const struct options *o)
{
	int listener, fd;

	if (connects(o))
		return open_connection(o);
	listener = start_listening(o);
	fd = accept_one(listener, o);
	close(listener);
	return fd;
}

static void wait_readable(int fd, const struct options *o)
{
	struct pollfd p = { .fd = fd, .events = POLLIN | POLLRDHUP };

	while (poll(&p, 1, -1) < 0)
		if (errno != EINTR)
			fail("poll on %s: %s", peer_name(o), errno_text(errno));
}

static void print_rate(const struct options *o, unsigned long long bytes, double seconds,
		       unsigned long long calls)
{
	struct report r = { 0 };

	report_u64(&r, "bytes", bytes);
	report_f(&r, "seconds", "%.6f", seconds);
	report_f(&r, "mib_per_s", "%.2f", seconds > 0 ? (double)bytes / (1 << 20) / seconds : 0);
	if (o->json) {
		/* The text line stays as the runner parses it; JSON says more. */
		report_u64(&r, "chunk", o->chunk);
		report_u64(&r, "calls", calls);
		report_text(&r, "role", connects(o) ? "connect" : "listen");
	}
	report_print(&r, o);
}

int run_recv(const struct options *o, char *buf)
{
	unsigned long long total = 0, reads = 0;
	double first = 0;
	ssize_t n;
	int fd;

	fd = stream_connection(o);
	doing = "receiving";
	for (;;) {
		if (o->poll_before_read)
			wait_readable(fd, o);
		n = read_some(fd, buf, o->chunk, o);
		reads++;
		if (n == 0)
			break;
		if (!total)
			first = now_s();
		total += (unsigned long long)n;
	}
	print_rate(o, total, total ? now_s() - first : 0, reads);
	close(fd);
	done_listening();
	return 0;
}

/* Reads until the peer closes; what it sends is counted, not kept. */
static unsigned long long wait_for_close(int fd, char *buf, size_t size, const struct options *o)
{
	unsigned long long extra = 0;
	ssize_t n;

	doing = "waiting for the peer to close";
	while ((n = read_some(fd, buf, size, o)) > 0)
		extra += (unsigned long long)n;
	return extra;
}

int run_send(const struct options *o, char *buf)
{
	unsigned long long sent = 0, extra, copied = 0, writes = 0;
	double started;
	size_t len;
	int fd;

	memset(buf, 0x5a, o->chunk);
	fd = stream_connection(o);
	started = now_s();
	doing = "sending";
	if (o->zerocopy)
		sent = send_zerocopy(fd, buf, o, &copied);
	while (sent < o->bytes) {
		len = o->bytes - sent < o->chunk ? (size_t)(o->bytes - sent) : o->chunk;
		write_all(fd, buf, len, o, sent);
		sent += len;
		writes++;
	}
	if (shutdown(fd, SHUT_WR) != 0)
		fail("shutdown(SHUT_WR) to %s: %s", peer_name(o), errno_text(errno));
	extra = wait_for_close(fd, buf, o->chunk, o);
	if (o->zerocopy) {
		struct report r = { 0 };
		double seconds = now_s() - started;

		report_u64(&r, "bytes", sent);
		report_f(&r, "seconds", "%.6f", seconds);
		report_f(&r, "mib_per_s", "%.2f", seconds > 0 ? (double)sent / (1 << 20) / seconds : 0);
		report_u64(&r, "zerocopy", 1);
		/* Sends the kernel copied after all (SO_EE_CODE_ZEROCOPY_COPIED). */
		report_u64(&r, "copied_sends", copied);
		report_print(&r, o);
	} else {
		print_rate(o, sent, now_s() - started, writes);
	}
	if (extra)
		fail("%s sent %llu bytes back; recv should send nothing", peer_name(o), extra);
	close(fd);
	done_listening();
	return 0;
}
