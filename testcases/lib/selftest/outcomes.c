/*
 * outcomes.c: cases that end in every way a case can, so the runner's tests can check that the
 * harness reports each one right. Run on the build machine; no vsock socket is opened.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "vsc.h"

static void kernel_alarm(const struct vsc_env *env)
{
	int fd;

	(void)env;
	/* Only in a guest vsockcheck booted: never make the build machine's kernel print a trace. */
	if (access("/etc/vsockcheck/run.conf", F_OK) != 0)
		vsc_skip("only inside a vsockcheck guest");
	/* sysrq 'l' makes the kernel log a backtrace ("Call Trace:") in its own facility. */
	fd = SAFE(open("/proc/sysrq-trigger", O_WRONLY));
	SAFE(write(fd, "l", 1));
	SAFE(close(fd));
}
VSC_CASE(outcome_kernel_alarm_fails_case, .summary = "a kernel backtrace during a case fails it",
	 .run = kernel_alarm);

static void guest_panics(const struct vsc_env *env)
{
	int fd;

	(void)env;
	if (access("/etc/vsockcheck/run.conf", F_OK) != 0)
		vsc_skip("only inside a vsockcheck guest");
	vsc_diag("about to crash the guest kernel");
	fd = SAFE(open("/proc/sysrq-trigger", O_WRONLY));
	SAFE(write(fd, "c", 1));
	SAFE(close(fd));
}
VSC_CASE(outcome_guest_panics, .summary = "the kernel panics in mid-case: the runner reports that case",
	 .run = guest_panics);

static void pair_server(const struct vsc_env *env)
{
	vsc_signal("ready");
	vsc_send_value("port", env->port);
	vsc_wait("done");
}

static void pair_client(const struct vsc_env *env)
{
	vsc_wait("ready");
	EXPECT_EQ(vsc_recv_value("port"), env->port);
	vsc_signal("done");
}
VSC_CASE(outcome_pass_pair, .summary = "barriers and a value cross the peer channel",
	 .server = pair_server, .client = pair_client);

/* Waits outside the peer channel, as a server in accept() waits for a client that skipped. */
static void skip_server(const struct vsc_env *env)
{
	(void)env;
	SAFE(pause());
}

static void skip_client(const struct vsc_env *env)
{
	(void)env;
	vsc_skip("the client role does not apply here");
}
VSC_CASE(outcome_client_role_skips, .summary = "a role's run-time skip ends the case as SKIP; its peer is stopped",
	 .server = skip_server, .client = skip_client);

/*
 * For the split-mode test, which kills the client side's program while this case runs: with
 * VSC_OUTCOME_HOLD set the client holds the case open; without it the case passes at once.
 */
static void hold_server(const struct vsc_env *env)
{
	(void)env;
	vsc_signal("holding");
	vsc_wait("released");
}

static void hold_client(const struct vsc_env *env)
{
	(void)env;
	vsc_wait("holding");
	if (getenv("VSC_OUTCOME_HOLD"))
		SAFE(pause());
	vsc_signal("released");
}
VSC_CASE(outcome_hold_until_released, .summary = "a case the split-mode test holds open and kills a side in",
	 .server = hold_server, .client = hold_client, .timeout_s = 60);

static void expect_goes_on(const struct vsc_env *env)
{
	(void)env;
	EXPECT_EQ(1 + 1, 3);
	vsc_diag("still running after a failed EXPECT");
}
VSC_CASE(outcome_expect_fails_and_goes_on, .summary = "EXPECT records the failure and goes on",
	 .run = expect_goes_on);

static void assert_stops(const struct vsc_env *env)
{
	(void)env;
	ASSERT_ERRNO(close(-1), EINTR);
	vsc_diag("not reached");
}
VSC_CASE(outcome_assert_errno_stops, .summary = "ASSERT_ERRNO names both errnos and stops",
	 .run = assert_stops);

static void crash_server(const struct vsc_env *env)
{
	(void)env;
	vsc_wait("never");
}

static void crash_client(const struct vsc_env *env)
{
	(void)env;
	SAFE(getpid());
	raise(SIGSEGV);
}
VSC_CASE(outcome_crash_is_named, .summary = "a role killed by a signal is reported with the signal",
	 .server = crash_server, .client = crash_client);

static void hang_server(const struct vsc_env *env)
{
	(void)env;
	vsc_wait("never");
}

static void hang_client(const struct vsc_env *env)
{
	(void)env;
	SAFE(pause());
}
VSC_CASE(outcome_timeout_names_steps, .summary = "a hung case is stopped at its deadline",
	 .server = hang_server, .client = hang_client, .timeout_s = 1);

static void skip_now(const struct vsc_env *env)
{
	(void)env;
	vsc_skip("nothing to test on %s", "this machine");
}
VSC_CASE(outcome_skip_at_run_time, .summary = "vsc_skip gives SKIP with its reason", .run = skip_now);

static void never_runs(const struct vsc_env *env)
{
	(void)env;
	abort();
}
VSC_CASE(outcome_skip_min_kver, .summary = "a case for a future kernel is skipped unrun",
	 .run = never_runs, .min_kver = "99.0");

/* Prints what the nested options gave the case, for the runner's command-line tests. */
static void nested_env(const struct vsc_env *env)
{
	vsc_diag("level=%u l2_cid=%d sibling_cid=%d ident_port=%u l2_qmp=%s sibling_qmp=%s",
		 env->level, (int)env->l2_cid, (int)env->sibling_cid, env->ident_port,
		 env->l2_qmp ? env->l2_qmp : "(none)", env->sibling_qmp ? env->sibling_qmp : "(none)");
}
VSC_CASE(outcome_nested_env, .summary = "a nested case sees the --level, CIDs, port and QMP path given",
	 .run = nested_env, .needs = VSC_NEED_NESTED);

static void barrier_a(const struct vsc_env *env)
{
	(void)env;
	vsc_signal("a");
	vsc_wait("end");
}

static void barrier_b(const struct vsc_env *env)
{
	(void)env;
	vsc_wait("b");
}
VSC_CASE(outcome_barrier_mismatch, .summary = "mismatched barriers are a broken test, not a failure",
	 .server = barrier_a, .client = barrier_b);

static void exits_early(const struct vsc_env *env)
{
	(void)env;
	exit(0);
}
VSC_CASE(outcome_exit_without_result, .summary = "a role that calls exit() has no result",
	 .run = exits_early);

static void fails_first(const struct vsc_env *env)
{
	(void)env;
	ASSERT_EQ(2, 3);
}

static void blocks_in_pause(const struct vsc_env *env)
{
	(void)env;
	pause();
}
VSC_CASE(outcome_peer_failure_stops_other, .summary = "a failing role stops its peer at once",
	 .server = fails_first, .client = blocks_in_pause, .timeout_s = 30);

static void unknown_expectation(const struct vsc_env *env)
{
	(void)env;
	vsc_expected_errno("no_such_behaviour");
}
VSC_CASE(outcome_unknown_expectation, .summary = "asking for an expectation nobody wrote is broken",
	 .run = unknown_expectation);

static void fails_with_unknown_bug(const struct vsc_env *env)
{
	(void)env;
	EXPECT_EQ(1, 2);
}
VSC_CASE(outcome_known_bug_without_row, .summary = "a known_bug key with no table row is a broken test",
	 .run = fails_with_unknown_bug, .known_bug = "no_such_bug");

