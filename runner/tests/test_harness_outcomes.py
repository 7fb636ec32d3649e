"""The C harness reports every way a case can end: run its self-test program on the build machine.

These cases open no vsock socket; they prove the harness (roles, deadline, errno names, skips)."""

import subprocess
import unittest

from vsc.ktap import Parser
from vsc.paths import GUEST_BIN_DIR

PROGRAM = GUEST_BIN_DIR / "vsc-lib-outcomes"


def run_outcomes(*args):
    done = subprocess.run([str(PROGRAM), "--no-kernel-log", *args], capture_output=True, text=True,
                          timeout=120)
    parser = Parser()
    for line in done.stdout.splitlines():
        parser.feed(line)
    report = parser.finish()
    return done, {r.name: r for r in report.results}, report


@unittest.skipUnless(PROGRAM.exists(), f"{PROGRAM} is not built: run make")
class HarnessOutcomes(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.done, cls.cases, cls.report = run_outcomes()

    def diag(self, name):
        return "\n".join(self.cases[name].diagnostics)

    def test_exit_status_says_some_failed(self):
        self.assertEqual(self.done.returncode, 1)
        self.assertEqual(self.report.problems, [])

    def test_pair_passes(self):
        self.assertEqual(self.cases["outcome_pass_pair"].status, "pass")

    def test_expect_records_and_goes_on(self):
        case = self.cases["outcome_expect_fails_and_goes_on"]
        self.assertEqual(case.status, "fail")
        self.assertRegex(self.diag(case.name), r"outcomes\.c:\d+: 1 \+ 1 == 3: got 2, expected 3")
        self.assertIn("still running after a failed EXPECT", self.diag(case.name))

    def test_assert_errno_names_both_errnos_and_stops(self):
        case = self.cases["outcome_assert_errno_stops"]
        self.assertEqual(case.status, "fail")
        self.assertIn("close(-1) failed with EBADF, expected EINTR", self.diag(case.name))
        self.assertNotIn("not reached", self.diag(case.name))

    def test_crash_names_the_signal_and_the_step(self):
        case = self.cases["outcome_crash_is_named"]
        self.assertEqual(case.status, "fail")
        self.assertRegex(self.diag(case.name), r"\[client\] killed by SEGV in .*outcomes\.c:\d+ getpid\(\)")

    def test_timeout_names_where_each_role_was(self):
        case = self.cases["outcome_timeout_names_steps"]
        self.assertEqual(case.status, "timeout")
        self.assertRegex(case.reason, r"after 1 s: \[server\] in .*waiting for the peer's \"never\"")
        self.assertRegex(case.reason, r"\[client\] in .*pause\(\)")

    def test_skips_carry_their_reason(self):
        self.assertEqual(self.cases["outcome_skip_at_run_time"].status, "skip")
        self.assertEqual(self.cases["outcome_skip_at_run_time"].reason, "nothing to test on this machine")
        self.assertEqual(self.cases["outcome_skip_min_kver"].status, "skip")
        self.assertRegex(self.cases["outcome_skip_min_kver"].reason, r"^needs kernel 99\.0, running ")

    def test_broken_tests_are_errors_not_failures(self):
        case = self.cases["outcome_barrier_mismatch"]
        self.assertEqual(case.status, "error")
        self.assertIn('waited for barrier "b", the peer sent "B a"', case.reason)
        self.assertEqual(self.cases["outcome_exit_without_result"].status, "error")
        self.assertIn("exited with status 0 without a result", self.cases["outcome_exit_without_result"].reason)
        self.assertEqual(self.cases["outcome_unknown_expectation"].status, "error")
        self.assertEqual(self.cases["outcome_known_bug_without_row"].status, "error")
        self.assertIn('known_bug "no_such_bug" has no row', self.cases["outcome_known_bug_without_row"].reason)

    def test_a_failing_role_stops_its_peer_before_the_deadline(self):
        case = self.cases["outcome_peer_failure_stops_other"]
        self.assertEqual(case.status, "fail")
        self.assertIn("2 == 3: got 2, expected 3", self.diag(case.name))

    def test_kernel_cases_stay_out_of_the_build_machine(self):
        for name in ("outcome_kernel_alarm_fails_case", "outcome_guest_panics"):
            self.assertEqual(self.cases[name].status, "skip")
            self.assertEqual(self.cases[name].reason, "only inside a vsockcheck guest")

    def test_every_result_line_is_numbered_in_order(self):
        self.assertEqual([r.number for r in self.report.results], list(range(1, len(self.cases) + 1)))


class HarnessCommandLine(unittest.TestCase):
    def test_pick_that_matches_nothing_is_one_clear_line(self):
        done = subprocess.run([str(PROGRAM), "--pick", "nothing*"], capture_output=True, text=True)
        self.assertEqual(done.returncode, 2)
        self.assertEqual(done.stderr.strip().splitlines()[-1].split(": ", 1)[1],
                         "no case matches the --pick/--skip globs")

    def test_bad_number_is_refused(self):
        done = subprocess.run([str(PROGRAM), "--peer-cid", "x12"], capture_output=True, text=True)
        self.assertEqual(done.returncode, 2)
        self.assertIn("bad --peer-cid: 'x12'", done.stderr)

    def refused(self, *args):
        """The last line of stderr (after the program name) of a command line that must fail."""
        done = subprocess.run([str(PROGRAM), *args], capture_output=True, text=True)
        self.assertEqual(done.returncode, 2, done.stderr)
        return done.stderr.strip().splitlines()[-1].split(": ", 1)[1]

    def test_bad_nested_values_name_their_option(self):
        for args, line in (
                (["--level", "3"], "bad --level (0, 1 or 2): '3' (see --help)"),
                (["--level", "1", "--l2-cid", "2"], "bad --l2-cid: '2' (see --help)"),
                (["--level", "1", "--l2-cid", "-1"], "bad --l2-cid: '-1' (see --help)"),
                (["--level", "1", "--l2-cid", "5", "--sibling-cid", "x"],
                 "bad --sibling-cid: 'x' (see --help)"),
                (["--level", "1", "--l2-cid", "5", "--l2-qmp", ""],
                 "bad --l2-qmp (empty, or too long for a Unix socket): '' (see --help)"),
                (["--level", "1", "--l2-cid", "5", "--sibling-qmp", "/" + "q" * 108],
                 f"bad --sibling-qmp (empty, or too long for a Unix socket): '/{'q' * 108}' (see --help)"),
                (["--ident-port", "4294967295"], "bad --ident-port: '4294967295' (see --help)"),
                (["--ident", "L 2"],
                 "bad --ident (1-32 letters, digits, '-', '_' or '.'): 'L 2' (see --help)")):
            with self.subTest(args=args):
                self.assertEqual(self.refused(*args), line)

    def test_nested_options_that_do_not_fit_together(self):
        self.assertEqual(self.refused("--level", "2"), "--level 1 and 2 need --l2-cid: '' (see --help)")
        self.assertEqual(self.refused("--l2-cid", "5"),
                         "--l2-cid and --sibling-cid need --level 1 or 2: '' (see --help)")
        self.assertEqual(self.refused("--level", "2", "--l2-cid", "5", "--l2-qmp", "/run/q.sock"),
                         "--l2-qmp needs --level 1: '/run/q.sock' (see --help)")
        self.assertEqual(self.refused("--level", "2", "--l2-cid", "5", "--sibling-qmp", "/run/b.sock"),
                         "--sibling-qmp needs --level 1: '/run/b.sock' (see --help)")

    def test_help_names_the_nested_options(self):
        done = subprocess.run([str(PROGRAM), "--help"], capture_output=True, text=True, check=True)
        for option in ("--level N", "--l2-cid CID", "--sibling-cid CID", "--l2-qmp PATH",
                       "--sibling-qmp PATH", "--ident-port PORT", "--ident NAME"):
            self.assertIn(f"  {option}", done.stdout)

    def test_nested_case_skips_outside_the_nested_topology(self):
        _, cases, _ = run_outcomes("--pick", "outcome_nested_env")
        self.assertEqual(cases["outcome_nested_env"].status, "skip")
        self.assertEqual(cases["outcome_nested_env"].reason,
                         "needs the nested topology (an L1 guest hosting an L2 guest)")

    def test_nested_options_reach_the_case(self):
        _, cases, _ = run_outcomes("--pick", "outcome_nested_env", "--level", "1", "--l2-cid", "5",
                                   "--sibling-cid", "6", "--l2-qmp", "/run/q.sock",
                                   "--sibling-qmp", "/run/b.sock", "--ident-port", "20999")
        self.assertEqual(cases["outcome_nested_env"].status, "pass")
        self.assertIn("level=1 l2_cid=5 sibling_cid=6 ident_port=20999 l2_qmp=/run/q.sock "
                      "sibling_qmp=/run/b.sock",
                      "\n".join(cases["outcome_nested_env"].diagnostics))
        _, cases, _ = run_outcomes("--pick", "outcome_nested_env", "--level", "2", "--l2-cid", "5",
                                   "--sibling-cid", "-1")
        self.assertIn("level=2 l2_cid=5 sibling_cid=-1 ident_port=19999 l2_qmp=(none) "
                      "sibling_qmp=(none)",
                      "\n".join(cases["outcome_nested_env"].diagnostics))

    def test_list_shows_the_nested_need(self):
        done = subprocess.run([str(PROGRAM), "--list", "--pick", "outcome_nested_env"],
                              capture_output=True, text=True, check=True)
        self.assertEqual(done.stdout.split("\t")[3], "nested")

    def test_list_honours_pick_and_skip(self):
        done = subprocess.run([str(PROGRAM), "--list", "--pick", "outcome_skip*", "--skip", "*kver"],
                              capture_output=True, text=True, check=True)
        self.assertEqual([line.split("\t")[0] for line in done.stdout.splitlines()],
                         ["outcome_skip_at_run_time"])
