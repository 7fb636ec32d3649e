/*
 * relay.c: a connection and an input/output pair (stdin/stdout, or -e CMD's pipes) copied both
 * ways until EOF each way, each EOF passed on by itself (a half-close, never a full close).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vsc.h"	/* vsc_errname */
#include "vsockcat.h"

#define CHUNK 65536

/*
 * One direction: what was read from `from` waits in buf until `to` has taken all of it; only
 * then is `from` read again. The connection and -e's pipes are non-blocking, so a full peer
 * never stalls the other direction (a writer blocked on a full peer while the peer blocks
 * writing to us would deadlock both); a blocking stdout holds us only as long as its reader.
 */
struct flow {
	int from, to;
	const char *from_name, *to_name;	/* "stdin", "the connection", "CMD's stdin" */
	int to_is_socket;		/* its EOF is shutdown(SHUT_WR), else close() */
	int reader_may_leave;		/* `to` is CMD's stdin: CMD not reading is no error */
	char buf[CHUNK];
	size_t len, off;
	int done;			/* `from` said EOF (or `to` went away) and `to` has its EOF */
};

static int failed(char *err, size_t err_size, const char *call, const char *name, int e)
{
	snprintf(err, err_size, "%s %s: %s (%s)", call, name, vsc_errname(e), strerror(e));
	return -1;
}

/* `to` gets its EOF: the peer reads EOF, or CMD's stdin / our stdout ends. */
static int pass_eof(struct flow *f, char *err, size_t err_size)
{
	f->done = 1;
	if (!f->to_is_socket) {
		close(f->to);
		return 0;
	}
	/*
	 * ENOTCONN: the peer is gone already (reset, or closed both ways). What we had is handed
	 * over; the other direction's read says whether the connection ended in an error.
	 */
	if (shutdown(f->to, SHUT_WR) < 0 && errno != ENOTCONN)
		return failed(err, err_size, "shutdown(SHUT_WR) of", f->to_name, errno);
	return 0;
}

static int fill(struct flow *f, char *err, size_t err_size)
{
	ssize_t n = read(f->from, f->buf, sizeof(f->buf));

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (n < 0)
		return failed(err, err_size, "read from", f->from_name, errno);
	if (n == 0) {
		return pass_eof(f, err, err_size);
	}
	f->len = (size_t)n;
	f->off = 0;
	return 0;
}

static int drain(struct flow *f, char *err, size_t err_size)
{
	ssize_t n = write(f->to, f->buf + f->off, f->len - f->off);

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (n < 0 && errno == EPIPE && f->reader_may_leave) {
		/* CMD closed its stdin or ended: what it did not read is its choice. */
		f->len = f->off = 0;
		return pass_eof(f, err, err_size);
	}
	if (n < 0)
		return failed(err, err_size, "write to", f->to_name, errno);
	f->off += (size_t)n;
	if (f->off == f->len)
		f->len = f->off = 0;
	return 0;
}

/* The two pollfds of f: its source while the buffer is empty, else its sink. */
static void want(const struct flow *f, struct pollfd *from, struct pollfd *to)
{
	int pending = f->len > f->off;

	*from = (struct pollfd){ .fd = f->done || pending ? -1 : f->from, .events = POLLIN };
	/* A CMD that went away shows as POLLERR on its stdin pipe even while we wait for input. */
	*to = (struct pollfd){ .fd = f->done || (!pending && !f->reader_may_leave) ? -1 : f->to,
			       .events = pending ? POLLOUT : 0 };
}

static int step(struct flow *f, const struct pollfd *from, const struct pollfd *to, char *err,
		size_t err_size)
{
	if (f->done)
		return 0;
	if (to->revents && f->len > f->off)
		return drain(f, err, err_size);
	if (to->revents & POLLERR) {
		/* Only when idle and reader_may_leave: CMD's stdin has no reader any more. */
		return pass_eof(f, err, err_size);
	}
	/* POLLHUP and POLLERR too: the read says EOF or the error (ECONNRESET, ...). */
	if (from->revents)
		return fill(f, err, err_size);
	return 0;
}

static void flow_init(struct flow *f, int from, const char *from_name, int to, const char *to_name)
{
	f->from = from;
	f->to = to;
	f->from_name = from_name;
	f->to_name = to_name;
	f->to_is_socket = 0;
	f->reader_may_leave = 0;
	f->len = f->off = 0;
	f->done = 0;
}

int vsockcat_relay(const struct vsockcat_ends *ends, char *err, size_t err_size)
{
	static struct flow up, down;	/* 64 KiB each: not on the stack */
	struct flow *flows[2] = { &up, &down };
	int flags, i, ret;

	flow_init(&up, ends->in, ends->in_name, ends->sock, "the connection");
	up.to_is_socket = 1;
	flow_init(&down, ends->sock, "the connection", ends->out, ends->out_name);
	down.reader_may_leave = ends->out_is_cmd;
	/* Ours alone: a non-blocking socket lets a full peer never stall the other direction. */
	flags = fcntl(ends->sock, F_GETFL);
	if (flags < 0 || fcntl(ends->sock, F_SETFL, flags | O_NONBLOCK) < 0) {
		ret = failed(err, err_size, "fcntl(O_NONBLOCK) of", "the connection", errno);
		close(ends->in);
		close(ends->out);
		return ret;
	}
	ret = 0;
	while (!ret && (!up.done || !down.done)) {
		struct pollfd p[4];

		for (i = 0; i < 2; i++)
			want(flows[i], &p[2 * i], &p[2 * i + 1]);
		if (poll(p, 4, -1) < 0) {
			if (errno != EINTR)
				ret = failed(err, err_size, "poll of", "the connection", errno);
			continue;
		}
		for (i = 0; i < 2 && !ret; i++)
			ret = step(flows[i], &p[2 * i], &p[2 * i + 1], err, err_size);
	}
	close(ends->in);
	if (!down.done)
		close(ends->out);
	return ret;
}
