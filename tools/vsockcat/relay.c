/* relay.c: stdin -> socket and socket -> stdout until EOF both ways, half-closing each way. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vsc.h"	/* vsc_errname */
#include "vsockcat.h"

#define CHUNK 65536

static int failed(char *err, size_t err_size, const char *call, int e)
{
	snprintf(err, err_size, "%s: %s (%s)", call, vsc_errname(e), strerror(e));
	return -1;
}

/* Writes all of buf; 0, or the errno. */
static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Moves one chunk from `from` to `to`. Returns 1 if data moved, 0 at EOF, -1 on an error (err
 * names the side).
 */
static int move(int from, int to, const char *read_call, const char *write_call, char *err,
		size_t err_size)
{
	static char buf[CHUNK];
	ssize_t n;
	int e;

	do
		n = read(from, buf, sizeof(buf));
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return failed(err, err_size, read_call, errno);
	if (n == 0)
		return 0;
	e = write_all(to, buf, (size_t)n);
	if (e)
		return failed(err, err_size, write_call, e);
	return 1;
}

int vsockcat_relay(int fd, char *err, size_t err_size)
{
	int stdin_open = 1, socket_open = 1;

	while (stdin_open || socket_open) {
		struct pollfd p[2] = {
			{ .fd = stdin_open ? STDIN_FILENO : -1, .events = POLLIN },
			{ .fd = socket_open ? fd : -1, .events = POLLIN },
		};
		int r;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return failed(err, err_size, "poll", errno);
		}
		/* POLLHUP and POLLERR too: the read that follows says EOF or the error. */
		if (p[0].revents) {
			r = move(STDIN_FILENO, fd, "read from stdin", "write to the socket", err,
				 err_size);
			if (r < 0)
				return -1;
			if (r == 0) {
				stdin_open = 0;
				if (shutdown(fd, SHUT_WR) < 0)
					return failed(err, err_size, "shutdown(SHUT_WR)", errno);
			}
		}
		if (p[1].revents) {
			r = move(fd, STDOUT_FILENO, "read from the socket", "write to stdout", err,
				 err_size);
			if (r < 0)
				return -1;
			if (r == 0) {
				socket_open = 0;
				/* The reader of our stdout sees the peer's EOF now, not at our exit. */
				close(STDOUT_FILENO);
			}
		}
	}
	return 0;
}
