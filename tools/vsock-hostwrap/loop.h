/* loop.h: the notification loop, and the replies a handler gives to one notification. */
#ifndef HW_LOOP_H
#define HW_LOOP_H

#include <linux/seccomp.h>
#include <sys/types.h>

/* One call of the program, waiting for hostwrap's answer. */
struct notice {
	int listener;			/* the seccomp listener fd */
	struct seccomp_notif req;	/* req.pid: the calling thread; req.data: nr and args */
};

/* Whether the call still waits (a signal or the caller's death withdraws it). */
int notice_valid(const struct notice *n);
/* Let the call run natively. */
void notice_continue(const struct notice *n);
/* The call returns `value` (>= 0) or fails with `err`. */
void notice_return(const struct notice *n, long long value);
void notice_fail(const struct notice *n, int err);
/*
 * Install hostwrap's `fd` in the caller and make it the call's return value (ADDFD with
 * SEND), with O_CLOEXEC if `cloexec`: 0, or -1 with errno (the call was withdrawn: ENOENT).
 */
int notice_send_fd(const struct notice *n, int fd, int cloexec);
/* Install `fd` in the caller as its fd `target_fd`, replacing what was there (no reply). */
int notice_place_fd(const struct notice *n, int fd, int target_fd, int cloexec);
/*
 * Hand the call to a thread of its own, for calls that wait (connect, accept): `work` gets a
 * copy of the notice and `job`, and must reply and free `job`. The loop goes on with the next
 * notification at once. 0, or -1 when no thread could start (the call then failed with
 * EAGAIN and `job` is still the caller's).
 */
int notice_defer(const struct notice *n, void (*work)(struct notice *, void *), void *job);

/* Whether SECCOMP_ADDFD_FLAG_SEND is there (5.14): 0, or -1 with the reason printed. */
int loop_check_support(int listener);
/*
 * Serves notifications until `child` ends; signals from `signal_fd` (a signalfd) other than
 * SIGCHLD go to the child. The child's wait status, or -1 on hostwrap's own error.
 */
int loop_run(int listener, int signal_fd, pid_t child);

#endif
