"""Split mode of the C harness: two programs, one role each, agreeing over a control channel.

The library's self-test program (vsc-lib-outcomes, no vsock sockets) runs as the server side
(--solo) and the client side over a socketpair, on the build machine."""

import os
import socket
import subprocess
import tempfile
import threading
import time
import unittest
from pathlib import Path

from vsc.ktap import Parser
from vsc.paths import GUEST_BIN_DIR

PROGRAM = GUEST_BIN_DIR / "vsc-lib-outcomes"
# Nothing here should come near the cases' own deadlines; a hang shows as this timeout.
RUN_LIMIT_S = 90


def parse(stdout: str):
    parser = Parser()
    for line in stdout.splitlines():
        parser.feed(line)
    report = parser.finish()
    return report, {r.name: r for r in report.results}


def side_argv(side: str, fd: int, *args: str) -> list[str]:
    solo = ["--solo"] if side == "server" else []
    return [str(PROGRAM), "--no-kernel-log", "--split", side, *solo, "--control-fd", str(fd), *args]


class Pair:
    """The two sides, started over a socketpair; each side's extra arguments and environment."""

    def __init__(self, server_args=(), client_args=(), client_env=None, sides=("server", "client")):
        a, b = socket.socketpair()
        env = dict(os.environ, **(client_env or {}))
        self.server = subprocess.Popen(side_argv(sides[0], a.fileno(), *server_args), pass_fds=[a.fileno()],
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.client = subprocess.Popen(side_argv(sides[1], b.fileno(), *client_args), pass_fds=[b.fileno()],
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        a.close()
        b.close()

    def finish(self):
        out_server, _ = self.server.communicate(timeout=RUN_LIMIT_S)
        out_client, _ = self.client.communicate(timeout=RUN_LIMIT_S)
        return out_server, out_client


def verdicts(report):
    return [(r.number, r.name, r.status, r.reason) for r in report.results]


def leftover_sides() -> list[int]:
    """Processes still running a client side (its harness or a role forked from it)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if cmdline and cmdline[0] == str(PROGRAM).encode() and b"client" in cmdline:
            found.append(int(proc.name))
    return found


@unittest.skipUnless(PROGRAM.exists(), f"{PROGRAM} is not built: run make")
class SplitOutcomes(unittest.TestCase):
    """Every outcome case, split: both sides print the same verdicts."""

    @classmethod
    def setUpClass(cls):
        pair = Pair()
        cls.out_server, cls.out_client = pair.finish()
        cls.status = (pair.server.returncode, pair.client.returncode)
        cls.server_report, cls.server = parse(cls.out_server)
        cls.client_report, cls.client = parse(cls.out_client)

    def diag(self, cases, name):
        return "\n".join(cases[name].diagnostics)

    def test_both_sides_print_the_same_verdicts(self):
        self.assertEqual(self.server_report.problems, [])
        self.assertEqual(self.client_report.problems, [])
        self.assertEqual(verdicts(self.server_report), verdicts(self.client_report))
        self.assertEqual(len(self.server_report.results), len(program_cases()))
        self.assertEqual(self.status, (1, 1))

    def test_pair_passes_across_the_relay(self):
        self.assertEqual(self.server["outcome_pass_pair"].status, "pass")

    def test_failure_on_the_server_side_stops_the_client_side(self):
        case = self.client["outcome_peer_failure_stops_other"]
        self.assertEqual(case.status, "fail")
        self.assertRegex(self.diag(self.client, case.name), r"server side: \[server\] .*2 == 3: got 2, expected 3")

    def test_crash_on_the_client_side_is_named_on_both(self):
        for cases in (self.server, self.client):
            self.assertEqual(cases["outcome_crash_is_named"].status, "fail")
        self.assertRegex(self.diag(self.server, "outcome_crash_is_named"),
                         r"client side: \[client\] killed by SEGV in .*outcomes\.c:\d+ getpid\(\)")

    def test_error_names_the_side(self):
        case = self.server["outcome_barrier_mismatch"]
        self.assertEqual(case.status, "error")
        self.assertRegex(case.reason, r'^client side: \[client\] .*waited for barrier "b", the peer sent "B a"')

    def test_timeout_names_where_each_side_was(self):
        case = self.client["outcome_timeout_names_steps"]
        self.assertEqual(case.status, "timeout")
        self.assertRegex(case.reason, r"^after 1 s: \[server\] in .*waiting for the peer's \"never\" "
                                      r"\[client\] in .*pause\(\)$")

    def test_skip_on_one_side_skips_both_with_the_side_named(self):
        for cases in (self.server, self.client):
            case = cases["outcome_client_role_skips"]
            self.assertEqual((case.status, case.reason), ("skip", "client side: the client role does not apply here"))

    def test_one_process_cases_run_on_the_solo_side_and_both_print_them(self):
        self.assertIn("[test]", self.diag(self.server, "outcome_assert_errno_stops"))
        self.assertNotIn("\n# [test]", "\n" + self.out_client)
        for cases in (self.server, self.client):
            self.assertEqual(cases["outcome_skip_at_run_time"].reason, "nothing to test on this machine")
            self.assertEqual(cases["outcome_known_bug_without_row"].status, "error")
            self.assertRegex(cases["outcome_skip_min_kver"].reason, r"^needs kernel 99\.0, running ")


def program_cases() -> list[str]:
    done = subprocess.run([str(PROGRAM), "--list"], capture_output=True, text=True, check=True)
    return [line.split("\t")[0] for line in done.stdout.splitlines()]


@unittest.skipUnless(PROGRAM.exists(), f"{PROGRAM} is not built: run make")
class SplitSessionEnds(unittest.TestCase):
    """A side that goes away, or disagrees, ends the session with ERRORs, never a hang."""

    PICK = ["--pick", "outcome_pass_pair,outcome_hold_until_released,outcome_expect*,outcome_skip_at_run_time"]

    def test_a_side_killed_mid_case_makes_every_remaining_case_an_error_at_once(self):
        pair = Pair(self.PICK, self.PICK, client_env={"VSC_OUTCOME_HOLD": "1"})
        seen = []
        for line in pair.server.stdout:
            seen.append(line)
            if "begin 2 outcome_hold_until_released" in line:
                break
        time.sleep(0.3)   # let the client role reach its pause(); being earlier must not matter
        killed_at = time.monotonic()
        pair.client.kill()
        rest, _ = pair.server.communicate(timeout=RUN_LIMIT_S)
        self.assertLess(time.monotonic() - killed_at, 5)
        pair.client.communicate()
        report, cases = parse("".join(seen) + rest)
        self.assertEqual(report.problems, [])
        self.assertEqual(cases["outcome_pass_pair"].status, "pass")
        hold = cases["outcome_hold_until_released"]
        self.assertEqual(hold.status, "error")
        self.assertRegex(hold.reason, r"^the peer side went away during outcome_hold_until_released")
        for name in ("outcome_expect_fails_and_goes_on", "outcome_skip_at_run_time"):
            self.assertEqual((cases[name].status, cases[name].reason), ("error", hold.reason))
        self.assertEqual(pair.server.returncode, 1)
        # The killed side's role went with it (it was in pause(), with a 60 s deadline).
        deadline = time.monotonic() + 5
        while leftover_sides() and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(leftover_sides(), [])

    def test_different_case_lists_are_an_error_naming_both(self):
        pair = Pair(["--pick", "outcome_pass_pair,outcome_skip_at_run_time,outcome_unknown_expectation"],
                    ["--pick", "outcome_pass_pair,outcome_assert_errno_stops,outcome_unknown_expectation"])
        out_server, out_client = pair.finish()
        for out in (out_server, out_client):
            report, cases = parse(out)
            self.assertEqual(report.problems, [])
            self.assertEqual(cases["outcome_pass_pair"].status, "pass")
            second = report.results[1]
            self.assertEqual(second.status, "error")
            self.assertIn("case lists differ: case 2 is ", second.reason)
            self.assertIn("outcome_skip_at_run_time", second.reason)
            self.assertIn("outcome_assert_errno_stops", second.reason)
            self.assertEqual((report.results[2].status, report.results[2].reason), ("error", second.reason))

    def test_a_shorter_case_list_is_an_error_not_a_hang(self):
        pair = Pair(["--pick", "outcome_pass_pair,outcome_skip_at_run_time"], ["--pick", "outcome_pass_pair"])
        out_server, out_client = pair.finish()
        _, server = parse(out_server)
        self.assertEqual(server["outcome_skip_at_run_time"].status, "error")
        self.assertIn("the client side has no case 2", server["outcome_skip_at_run_time"].reason)
        self.assertIn("case lists differ: the server side goes on", out_client)
        self.assertEqual((pair.server.returncode, pair.client.returncode), (1, 1))

    def test_two_server_sides_are_refused_for_every_case(self):
        pair = Pair(["--pick", "outcome_pass_pair"], ["--pick", "outcome_pass_pair"], sides=("server", "server"))
        out_server, _ = pair.finish()
        _, cases = parse(out_server)
        self.assertEqual(cases["outcome_pass_pair"].status, "error")
        self.assertIn("both sides are server sides", cases["outcome_pass_pair"].reason)


@unittest.skipUnless(PROGRAM.exists(), f"{PROGRAM} is not built: run make")
class SplitControlPath(unittest.TestCase):
    def test_control_path_connects_to_a_unix_socket(self):
        """Each side connects to its own Unix socket; a relay between them stands in for the runner."""
        with tempfile.TemporaryDirectory(prefix="vsc-split-") as tmp:
            paths = [os.path.join(tmp, name) for name in ("server.sock", "client.sock")]
            listeners = []
            for path in paths:
                listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                listener.bind(path)
                listener.listen(1)
                listeners.append(listener)
            relay = threading.Thread(target=relay_between, args=(listeners,), daemon=True)
            relay.start()
            pick = ["--pick", "outcome_pass_pair,outcome_crash_is_named"]
            procs = [subprocess.Popen([str(PROGRAM), "--no-kernel-log", "--split", side, *solo, "--control", path,
                                       *pick], stdout=subprocess.PIPE, text=True)
                     for side, solo, path in (("server", ["--solo"], paths[0]), ("client", [], paths[1]))]
            outs = [p.communicate(timeout=RUN_LIMIT_S)[0] for p in procs]
            for listener in listeners:
                listener.close()
        reports = [parse(out)[0] for out in outs]
        self.assertEqual(verdicts(reports[0]), verdicts(reports[1]))
        self.assertEqual([r.status for r in reports[0].results], ["pass", "fail"])

    def test_control_that_is_no_socket_is_one_clear_line(self):
        done = subprocess.run([str(PROGRAM), "--split", "client", "--control", "/etc/hostname"],
                              capture_output=True, text=True)
        self.assertEqual(done.returncode, 2)
        self.assertIn("--control /etc/hostname: neither a character device nor a Unix socket", done.stderr)

    def test_split_needs_a_control_channel(self):
        done = subprocess.run([str(PROGRAM), "--split", "client"], capture_output=True, text=True)
        self.assertEqual(done.returncode, 2)
        self.assertIn("--split needs one of --control and --control-fd", done.stderr)


def relay_between(listeners):
    """Accepts one connection on each listener and copies bytes both ways until either closes."""
    ends = [listener.accept()[0] for listener in listeners]

    def copy(src, dst):
        while data := src.recv(4096):
            dst.sendall(data)
        dst.shutdown(socket.SHUT_WR)

    threads = [threading.Thread(target=copy, args=(ends[0], ends[1]), daemon=True),
               threading.Thread(target=copy, args=(ends[1], ends[0]), daemon=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for end in ends:
        end.close()


if __name__ == "__main__":
    unittest.main()


class SkipOnTheOtherSide(unittest.TestCase):
    """A side whose role skips ends the case as SKIP, whatever the other role saw next (the
    EOF of a connection the skipping role closed as it left is a consequence, not a failure)."""

    def test_a_skip_from_the_other_side_outweighs_what_followed_it_here(self):
        ours, theirs = socket.socketpair()
        server = subprocess.Popen(side_argv("server", theirs.fileno(), "--pick", "outcome_peer_failure_stops_other"),
                                  pass_fds=[theirs.fileno()], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True)
        theirs.close()
        peer = ours.makefile("rw", buffering=1)
        self.assertTrue(peer.readline().startswith("HELLO vsockcheck-split 2 server solo 1 "))
        peer.write("HELLO vsockcheck-split 2 client peer 1 6.1.192\n")
        self.assertEqual(peer.readline(), "CASE 1 outcome_peer_failure_stops_other run\n")
        peer.write("CASE 1 outcome_peer_failure_stops_other run\n")
        self.assertTrue(peer.readline().startswith("ROLE fail\t"))  # the server role's own end
        peer.write("ROLE skip\t\tthe client role does not apply here\n")
        peer.write("CHECKED pass\t\n")
        self.assertEqual(peer.readline(), "VERDICT skip\tclient side: the client role does not apply here\n")
        peer.write("DONE\n")
        out, _ = server.communicate(timeout=RUN_LIMIT_S)
        ours.close()
        case = parse(out)[1]["outcome_peer_failure_stops_other"]
        self.assertEqual((case.status, case.reason), ("skip", "client side: the client role does not apply here"))
