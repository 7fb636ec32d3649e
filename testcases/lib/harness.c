/* harness.c: runs each case's roles as process groups under a deadline and prints its KTAP result. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "vsc_internal.h"

#define MAX_ROLES 2
#define MAX_KERNEL_LINES 8

struct role_slot {
	const char *label;
	pid_t pid;		/* 0 once reaped */
	int status;		/* from waitpid */
	int stopped_by_harness;	/* killed because the other role had already failed, or timeout */
	struct vsc_role_state *state;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void vsc_raise_verdict(struct case_result *r, enum verdict v, const char *reason)
{
	if (v > r->verdict || (v == r->verdict && !r->reason[0])) {
		r->verdict = v;
		snprintf(r->reason, sizeof(r->reason), "%s", reason ? reason : "");
	}
}

static pid_t spawn_role(const struct harness *h, struct role_slot *slot,
			void (*fn)(const struct vsc_env *), const struct vsc_env *env, int control_fd,
			int other_fd)
{
	pid_t harness = getpid(), pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0) {
		sigset_t all;

		setpgid(0, 0);
		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		/* The harness ignores SIGPIPE (a split side writes to a peer that may be gone). */
		signal(SIGPIPE, SIG_DFL);
		/* A harness killed from outside (a split side stopped mid-case) takes its role along. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != harness)
			_exit(0);
		close(h->signal_fd);
		if (h->split)
			close(vsc_split_control_fd(h->split));
		if (other_fd >= 0)
			close(other_fd);
		vsc_self.label = slot->label;
		vsc_self.state = slot->state;
		vsc_control_attach(control_fd);
		fn(env);
		vsc_role_exit(slot->state->failures ? VSC_FAIL : VSC_PASS, NULL);
	}
	setpgid(pid, pid);	/* also here: the parent may signal the group before the child runs */
	slot->pid = pid;
	return pid;
}

/*
 * Whether a role's end ends the case: a failure, a crash, or a skip (the other role would wait
 * for a peer that is not coming). A role that ended because its peer had gone is not a cause:
 * the peer's end is.
 */
static int role_ends_case(const struct role_slot *s)
{
	int outcome = s->state->outcome;

	if (WIFSIGNALED(s->status))
		return 1;
	return outcome != VSC_PASS && outcome != VSC_PEER_GONE;
}

static void stop_group(struct role_slot *s)
{
	if (s->pid > 0) {
		s->stopped_by_harness = 1;
		kill(-s->pid, SIGKILL);
	}
}

/*
 * Reaps every finished child: the roles, and any process a role left behind (reparented to us
 * as subreaper). Returns how many roles are still running.
 */
static int reap(struct role_slot *slots, int n)
{
	int running = 0, status, i, j;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (i = 0; i < n; i++) {
			if (slots[i].pid != pid)
				continue;
			slots[i].pid = 0;
			slots[i].status = status;
			/* The first role to fail is the cause: stop the other, which may wait forever. */
			if (!slots[i].stopped_by_harness && role_ends_case(&slots[i]))
				for (j = 0; j < n; j++)
					if (j != i)
						stop_group(&slots[j]);
		}
	}
	for (i = 0; i < n; i++)
		running += slots[i].pid > 0;
	return running;
}

/* Appends " [label] in step" for each role still running: where it was when it was stopped. */
static void note_running(const struct role_slot *slots, int n, char *where, size_t size)
{
	size_t used = strlen(where);
	int i;

	for (i = 0; i < n && used < size; i++)
		if (slots[i].pid > 0)
			used += (size_t)snprintf(where + used, size - used, " [%s] in %s",
						 slots[i].label,
						 slots[i].state->step[0] ? slots[i].state->step : "?");
}

/* Sleeps until a child changes state, the split side has work, or `left` seconds pass. */
static void wait_event(struct harness *h, double left)
{
	struct pollfd pfds[3] = { { .fd = h->signal_fd, .events = POLLIN } };
	struct signalfd_siginfo info;
	int n = 1;

	if (h->split)
		n += vsc_split_poll_fds(h->split, pfds + 1);
	if (poll(pfds, (nfds_t)n, (int)(left * 1000) + 1) <= 0)
		return;
	if (pfds[0].revents & POLLIN)
		while (read(h->signal_fd, &info, sizeof(info)) == sizeof(info))
			;
	if (h->split)
		vsc_split_service(h->split, pfds + 1, n - 1);
}

/*
 * Waits for the roles until the deadline; returns 1 if the deadline passed. `where` gets the
 * roles still running when they were stopped (at the deadline, or when the other side failed).
 */
static int wait_roles(struct harness *h, struct role_slot *slots, int n, unsigned int timeout_s,
		      char *where, size_t where_size)
{
	double deadline = now_s() + timeout_s;
	int i, stopped_for_remote = 0;

	while (reap(slots, n) > 0) {
		double left = deadline - now_s();

		if (!stopped_for_remote && h->split && vsc_split_remote_failed(h->split)) {
			/* The first role to fail is the cause, on whichever side it ran. */
			note_running(slots, n, where, where_size);
			for (i = 0; i < n; i++)
				stop_group(&slots[i]);
			stopped_for_remote = 1;
		}
		if (left <= 0) {
			if (!stopped_for_remote)
				note_running(slots, n, where, where_size);
			return 1;
		}
		wait_event(h, left);
	}
	return 0;
}

static void judge_role(const struct role_slot *s, struct case_result *r)
{
	const struct vsc_role_state *st = s->state;
	char text[2 * VSC_TEXT_MAX];

	if (s->stopped_by_harness)
		return;
	if (WIFSIGNALED(s->status)) {
		snprintf(text, sizeof(text), "[%s] killed by %s in %s", s->label,
			 sigabbrev_np(WTERMSIG(s->status)) ?: "a signal", st->step[0] ? st->step : "?");
		vsc_out("# %s", text);
		vsc_raise_verdict(r, V_FAIL, text);
		return;
	}
	switch (st->outcome) {
	case VSC_PASS:
	case VSC_PEER_GONE:
		break;
	case VSC_FAIL:
		vsc_raise_verdict(r, V_FAIL, st->reason);
		break;
	case VSC_SKIP:
		vsc_raise_verdict(r, V_SKIP, st->reason);
		break;
	case VSC_BROKEN:
		vsc_raise_verdict(r, V_ERROR, st->reason);
		break;
	default:
		snprintf(text, sizeof(text), "[%s] exited with status %d without a result", s->label,
			 WEXITSTATUS(s->status));
		vsc_raise_verdict(r, V_ERROR, text);
	}
}

/*
 * A role that found the case does not apply here ends it (role_ends_case stops the other):
 * what its peer saw next, an EOF or a reset, is a consequence of the skip, not a failure.
 */
static void judge_skip(const struct role_slot *slots, int n, struct case_result *r)
{
	int i;

	for (i = 0; i < n; i++)
		if (!slots[i].stopped_by_harness && !WIFSIGNALED(slots[i].status) &&
		    slots[i].state->outcome == VSC_SKIP) {
			r->verdict = V_SKIP;
			snprintf(r->reason, sizeof(r->reason), "%s", slots[i].state->reason);
			return;
		}
}

static void judge_timeout(unsigned int timeout_s, const char *where, struct case_result *r)
{
	char text[2 * VSC_TEXT_MAX];

	snprintf(text, sizeof(text), "after %u s:%s", timeout_s, where);
	vsc_raise_verdict(r, V_TIMEOUT, text);
}

static void judge_kernel(struct harness *h, unsigned long taint_before, struct case_result *r)
{
	char lines[MAX_KERNEL_LINES][VSC_TEXT_MAX];
	unsigned long gained = vsc_taint_read() & ~taint_before;
	int n, i;

	if (!h->kmsg)
		return;
	n = vsc_kmsg_alarms(h->kmsg, lines, MAX_KERNEL_LINES);
	for (i = 0; i < n; i++)
		vsc_out("# kernel: %s", lines[i]);
	if (n)
		vsc_raise_verdict(r, V_FAIL, lines[0]);
	if (gained) {
		char letters[32], text[VSC_TEXT_MAX];

		vsc_taint_describe(gained, letters, sizeof(letters));
		snprintf(text, sizeof(text), "kernel: taint gained %s (0x%lx)", letters, gained);
		vsc_out("# %s", text);
		vsc_raise_verdict(r, V_FAIL, text);
	}
}

/* A failure the kernel is known to have (its fix is missing) is reported as such. */
static void judge_known_bug(const struct vsc_case *c, struct case_result *r)
{
	const char *reason;
	int unknown;

	if (!c->known_bug || r->verdict != V_FAIL)
		return;
	reason = vsc_known_bug(c->known_bug, &unknown);
	if (unknown) {
		char text[VSC_TEXT_MAX];

		snprintf(text, sizeof(text), "known_bug \"%s\" has no row in expectations.c",
			 c->known_bug);
		r->verdict = V_ERROR;
		snprintf(r->reason, sizeof(r->reason), "%s", text);
	} else if (reason) {
		r->verdict = V_XFAIL;
		snprintf(r->reason, sizeof(r->reason), "%s", reason);
	}
}

static void print_result(int number, const char *name, const struct case_result *r)
{
	switch (r->verdict) {
	case V_PASS:
		vsc_out("ok %d %s", number, name);
		break;
	case V_SKIP:
		vsc_out("ok %d %s # SKIP %s", number, name, r->reason);
		break;
	case V_XFAIL:
		vsc_out("ok %d %s # XFAIL %s", number, name, r->reason);
		break;
	case V_FAIL:
		vsc_out("not ok %d %s", number, name);
		break;
	case V_TIMEOUT:
		vsc_out("not ok %d %s # TIMEOUT %s", number, name, r->reason);
		break;
	case V_ERROR:
		vsc_out("not ok %d %s # ERROR %s", number, name, r->reason);
		break;
	}
}

/* The local roles: both here, or in split mode this side's one (or none: a one-process case). */
static void start_roles(struct harness *h, const struct vsc_case *c, const struct vsc_env *env,
			struct role_slot *slots, int *n, struct case_result *r)
{
	int pair[2];

	if (c->run) {
		if (h->split && !vsc_split_solo(h->split))
			return;
		*n = 1;
		slots[0].label = "test";
		if (spawn_role(h, &slots[0], c->run, env, -1, -1) < 0)
			vsc_raise_verdict(r, V_ERROR, "fork failed");
		return;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
		vsc_raise_verdict(r, V_ERROR, "socketpair for the peer channel failed");
		return;
	}
	if (h->split) {
		/* The other end of this role's peer channel is the split relay, not a local role. */
		*n = 1;
		slots[0].label = vsc_split_side(h->split);
		if (spawn_role(h, &slots[0], strcmp(slots[0].label, "server") ? c->client : c->server,
			       env, pair[0], pair[1]) < 0) {
			vsc_raise_verdict(r, V_ERROR, "fork failed");
			close(pair[1]);
		} else {
			vsc_split_relay(h->split, pair[1]);
		}
		close(pair[0]);
		return;
	}
	*n = 2;
	slots[0].label = "server";
	slots[1].label = "client";
	if (spawn_role(h, &slots[0], c->server, env, pair[0], pair[1]) < 0 ||
	    spawn_role(h, &slots[1], c->client, env, pair[1], pair[0]) < 0)
		vsc_raise_verdict(r, V_ERROR, "fork failed");
	close(pair[0]);
	close(pair[1]);
}

/* Whether this side runs a role of the case (split mode: one-process cases on the solo side). */
static int has_local_role(const struct harness *h, const struct vsc_case *c)
{
	return !h->split || !c->run || vsc_split_solo(h->split);
}

/* Runs one case; returns 1 if it did not pass or skip. */
int vsc_run_case(struct harness *h, const struct vsc_case *c, int number,
		 const struct vsc_env *env)
{
	unsigned int timeout_s = c->timeout_s ? c->timeout_s : VSC_DEFAULT_TIMEOUT_S;
	struct role_slot slots[MAX_ROLES];
	struct case_result r = { V_PASS, "" }, kernel = { V_PASS, "" };
	char where[2 * VSC_TEXT_MAX] = "";
	unsigned long taint_before;
	const char *unmet = NULL;
	int n = 0, i;

	vsc_out("# vsockcheck: begin %d %s timeout=%u", number, c->name, timeout_s);
	if (has_local_role(h, c))
		unmet = h->unmet_need(c);
	if (h->split ? !vsc_split_agree(h->split, c, number, has_local_role(h, c), unmet, &r)
		     : unmet != NULL) {
		if (!h->split)
			vsc_raise_verdict(&r, V_SKIP, unmet);
		print_result(number, c->name, &r);
		return r.verdict >= V_ERROR;
	}
	memset(h->states, 0, sizeof(struct vsc_role_state) * MAX_ROLES);
	memset(slots, 0, sizeof(slots));
	for (i = 0; i < MAX_ROLES; i++)
		slots[i].state = &h->states[i];
	if (h->kmsg)
		vsc_kmsg_mark(h->kmsg);
	taint_before = vsc_taint_read();

	start_roles(h, c, env, slots, &n, &r);
	if (wait_roles(h, slots, n, timeout_s, where, sizeof(where)))
		judge_timeout(timeout_s, where, &r);
	for (i = 0; i < n; i++) {
		stop_group(&slots[i]);
		if (slots[i].pid > 0 && waitpid(slots[i].pid, &slots[i].status, 0) > 0)
			slots[i].pid = 0;
	}
	reap(slots, n);
	for (i = 0; i < n; i++)
		judge_role(&slots[i], &r);
	judge_skip(slots, n, &r);
	if (h->split)
		vsc_split_roles_done(h->split, c, timeout_s, where, &r);
	if (!h->split || vsc_split_solo(h->split))
		judge_known_bug(c, &r);
	/* After the known-bug verdict: a kernel splat always fails the case. */
	judge_kernel(h, taint_before, &kernel);
	if (h->split)
		vsc_split_verdict(h->split, &kernel, &r);
	else
		vsc_raise_verdict(&r, kernel.verdict, kernel.reason);
	print_result(number, c->name, &r);
	return r.verdict >= V_ERROR;
}

int vsc_harness_init(struct harness *h, int check_kernel_log)
{
	sigset_t chld;

	/* SIGCHLD stays blocked; the harness reads it from a signalfd, with a deadline. */
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	signal(SIGPIPE, SIG_IGN);
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	h->signal_fd = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC);
	if (h->signal_fd < 0)
		return -1;
	h->states = mmap(NULL, sizeof(struct vsc_role_state) * MAX_ROLES,
			 PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (h->states == MAP_FAILED)
		return -1;
	h->kmsg = check_kernel_log ? vsc_kmsg_open() : NULL;
	h->split = NULL;
	h->unmet_need = vsc_unmet_need;
	return 0;
}
