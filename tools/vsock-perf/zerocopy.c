/*
 * zerocopy.c: send --bytes with MSG_ZEROCOPY (vsock has it since Linux 6.7): the kernel pins
 * the pages and says on the error queue when it let go of them. The buffer holds one constant
 * byte, so reusing it before a completion changes nothing that is in flight.
 */
#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <linux/errqueue.h>
#include <linux/vm_sockets.h>

#include "perf.h"

/* The kernel-internal ENOTSUPP, which sock_setsockopt() leaked for SO_ZEROCOPY until 5.x. */
#define KERNEL_ENOTSUPP 524

struct completions {
	unsigned long long sends;	/* zerocopy sends made: each gets one notification id */
	unsigned long long done;	/* ids the kernel has reported */
	unsigned long long copied;	/* of those, reported as copied after all */
};

/* Reads every notification queued now; with `wait`, blocks until at least one came. */
static void read_completions(int fd, struct completions *c, int wait, const struct options *o)
{
	char control[128];
	struct msghdr msg;
	struct cmsghdr *cm;
	struct sock_extended_err *err;
	unsigned int ids;

	for (;;) {
		msg = (struct msghdr){ .msg_control = control, .msg_controllen = sizeof(control) };
		if (recvmsg(fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) {
			struct pollfd p = { .fd = fd };

			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				fail("recvmsg(MSG_ERRQUEUE) on %s: %s", peer_name(o), errno_text(errno));
			if (!wait)
				return;
			/* POLLERR is reported whatever `events` holds. */
			if (poll(&p, 1, -1) < 0 && errno != EINTR)
				fail("poll for completions on %s: %s", peer_name(o), errno_text(errno));
			continue;
		}
		wait = 0;
		for (cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
			if (cm->cmsg_level != SOL_VSOCK || cm->cmsg_type != VSOCK_RECVERR)
				fail("error queue of %s: a message of level %d type %d, not SOL_VSOCK/VSOCK_RECVERR",
				     peer_name(o), cm->cmsg_level, cm->cmsg_type);
			err = (struct sock_extended_err *)CMSG_DATA(cm);
			if (err->ee_origin != SO_EE_ORIGIN_ZEROCOPY || err->ee_errno)
				fail("error queue of %s: origin %u errno %u, not a zerocopy completion",
				     peer_name(o), err->ee_origin, err->ee_errno);
			/* ids ee_info..ee_data, inclusive (32-bit counters that may wrap). */
			ids = err->ee_data - err->ee_info + 1;
			c->done += ids;
			if (err->ee_code & SO_EE_CODE_ZEROCOPY_COPIED)
				c->copied += ids;
		}
	}
}

unsigned long long send_zerocopy(int fd, const char *buf, const struct options *o,
				 unsigned long long *copied)
{
	struct completions c = { 0 };
	unsigned long long sent = 0;
	int one = 1;
	ssize_t n;
	size_t len;

	/* Before 6.7 the socket layer refuses SO_ZEROCOPY for every family but IP and RDS. */
	if (setsockopt(fd, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof(one)) != 0) {
		if (errno == EOPNOTSUPP || errno == ENOPROTOOPT || errno == KERNEL_ENOTSUPP)
			fail_status(EXIT_UNSUPPORTED,
				    "MSG_ZEROCOPY: this kernel has no zerocopy for vsock (SO_ZEROCOPY: %s; added in Linux 6.7)",
				    errno == KERNEL_ENOTSUPP ? "ENOTSUPP (524)" : errno_text(errno));
		fail("setsockopt(SO_ZEROCOPY) on %s: %s", peer_name(o), errno_text(errno));
	}
	doing = "sending with MSG_ZEROCOPY";
	while (sent < o->bytes) {
		len = o->bytes - sent < o->chunk ? (size_t)(o->bytes - sent) : o->chunk;
		n = send(fd, buf, len, MSG_ZEROCOPY);
		if (n < 0 && errno == EINTR)
			continue;
		/* ENOBUFS: too many pages pinned (RLIMIT_MEMLOCK): let completions free some. */
		if (n < 0 && errno == ENOBUFS && c.done < c.sends) {
			read_completions(fd, &c, 1, o);
			continue;
		}
		if (n < 0)
			fail("send(MSG_ZEROCOPY) to %s after %llu bytes: %s", peer_name(o), sent,
			     errno_text(errno));
		sent += (unsigned long long)n;
		c.sends++;
		read_completions(fd, &c, 0, o);
	}
	doing = "waiting for zerocopy completions";
	while (c.done < c.sends)
		read_completions(fd, &c, 1, o);
	*copied = c.copied;
	return sent;
}
