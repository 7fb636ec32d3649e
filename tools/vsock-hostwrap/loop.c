/* loop.c: receives the program's calls from the seccomp listener and answers them. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "calls.h"
#include "loop.h"
#include "report.h"

int notice_valid(const struct notice *n)
{
	__u64 id = n->req.id;

	return ioctl(n->listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0;
}

static void respond(const struct notice *n, struct seccomp_notif_resp *resp)
{
	resp->id = n->req.id;
	/* ENOENT: the call was withdrawn (a signal, or the caller died): nobody to answer. */
	if (ioctl(n->listener, SECCOMP_IOCTL_NOTIF_SEND, resp) != 0 && errno != ENOENT)
		hw_own_error("answering call %d of pid %d: %s", n->req.data.nr, (int)n->req.pid,
			     strerror(errno));
}

void notice_continue(const struct notice *n)
{
	struct seccomp_notif_resp resp = { .flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE };

	respond(n, &resp);
}

void notice_return(const struct notice *n, long long value)
{
	struct seccomp_notif_resp resp = { .val = value };

	respond(n, &resp);
}

void notice_fail(const struct notice *n, int err)
{
	struct seccomp_notif_resp resp = { .error = -err };

	respond(n, &resp);
}

static int add_fd(const struct notice *n, int fd, int target_fd, unsigned int flags, int cloexec)
{
	struct seccomp_notif_addfd addfd = {
		.id = n->req.id,
		.flags = flags,
		.srcfd = (__u32)fd,
		.newfd = (__u32)target_fd,
		.newfd_flags = cloexec ? O_CLOEXEC : 0,
	};

	return ioctl(n->listener, SECCOMP_IOCTL_NOTIF_ADDFD, &addfd) < 0 ? -1 : 0;
}

int notice_send_fd(const struct notice *n, int fd, int cloexec)
{
	return add_fd(n, fd, 0, SECCOMP_ADDFD_FLAG_SEND, cloexec);
}

int notice_place_fd(const struct notice *n, int fd, int target_fd, int cloexec)
{
	return add_fd(n, fd, target_fd, SECCOMP_ADDFD_FLAG_SETFD, cloexec);
}

struct deferred {
	struct notice notice;
	void (*work)(struct notice *, void *);
	void *job;
};

static void *run_deferred(void *arg)
{
	struct deferred *d = arg;

	d->work(&d->notice, d->job);
	free(d);
	return NULL;
}

int notice_defer(const struct notice *n, void (*work)(struct notice *, void *), void *job)
{
	struct deferred *d = malloc(sizeof(*d));
	pthread_attr_t attr;
	pthread_t thread;
	int err = ENOMEM;

	if (d) {
		d->notice = *n;
		d->work = work;
		d->job = job;
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		err = pthread_create(&thread, &attr, run_deferred, d);
		pthread_attr_destroy(&attr);
		if (!err)
			return 0;
		free(d);
	}
	hw_own_error("cannot start a thread for call %d of pid %d: %s", n->req.data.nr,
		     (int)n->req.pid, strerror(err));
	notice_fail(n, EAGAIN);
	return -1;
}

int loop_check_support(int listener)
{
	/* Flags are checked before the id: EINVAL says SEND is unknown, ENOENT that it is known
	 * (no call has this id). */
	struct seccomp_notif_addfd probe = { .id = 0, .flags = SECCOMP_ADDFD_FLAG_SEND };

	if (ioctl(listener, SECCOMP_IOCTL_NOTIF_ADDFD, &probe) == 0 || errno != EINVAL)
		return 0;
	hw_own_error("SECCOMP_IOCTL_NOTIF_ADDFD with SECCOMP_ADDFD_FLAG_SEND: %s (needs Linux "
		     "5.14 or later)", strerror(errno));
	return -1;
}

static void serve_one(int listener)
{
	struct notice n = { .listener = listener };

	memset(&n.req, 0, sizeof(n.req));
	if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, &n.req) != 0) {
		/* ENOENT: withdrawn before we took it; EINTR: try again on the next poll. */
		if (errno != ENOENT && errno != EINTR)
			hw_own_error("SECCOMP_IOCTL_NOTIF_RECV: %s", strerror(errno));
		return;
	}
	calls_dispatch(&n);
}

/* A signal for hostwrap: the child's end (its wait status), or one to pass on (-1). */
static int take_signal(int signal_fd, pid_t child, int *status)
{
	struct signalfd_siginfo info;

	if (read(signal_fd, &info, sizeof(info)) != sizeof(info))
		return -1;
	if (info.ssi_signo != SIGCHLD) {
		hw_verbose("passing signal %u on to pid %d", info.ssi_signo, (int)child);
		kill(child, (int)info.ssi_signo);
		return -1;
	}
	return waitpid(child, status, WNOHANG) == child ? 0 : -1;
}

int loop_run(int listener, int signal_fd, pid_t child)
{
	struct pollfd fds[2] = {
		{ .fd = listener, .events = POLLIN },
		{ .fd = signal_fd, .events = POLLIN },
	};
	int status;

	for (;;) {
		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			hw_own_error("poll: %s", strerror(errno));
			return -1;
		}
		if (fds[1].revents & POLLIN && take_signal(signal_fd, child, &status) == 0)
			return status;
		if (fds[0].revents & POLLIN)
			serve_one(listener);
		/* POLLHUP: no process uses the filter any more; the child's SIGCHLD follows. */
		if (fds[0].revents & (POLLHUP | POLLERR))
			fds[0].fd = -1;
	}
}
