"""Tests for vsockcheck bisect without a kernel: the driver on a small git repository with a fake
step, the step's verdict mapping with the build and the run faked, and the parsing of git's result."""

import io
import json
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import unittest
from contextlib import redirect_stdout
from pathlib import Path
from unittest import mock

from vsc import bisect, bisect_step, kbuild
from vsc.errors import UserError

RUNNER = Path(__file__).resolve().parents[1]
GIT = ["git", "-c", "user.name=vsockcheck test", "-c", "user.email=test@vsockcheck.invalid",
       "-c", "commit.gpgsign=false", "-c", "init.defaultBranch=main"]

# The fake step: the commit's file `verdict` says what to answer (good, bad, skip, exit N, hang),
# the way the real step answers (its line, step.json, a results.json for a bad commit).
FAKE_STEP = textwrap.dedent("""\
    import json, os, signal, subprocess, sys, time
    results = sys.argv[1]
    sha = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    subject = subprocess.run(["git", "log", "-1", "--format=%s"], capture_output=True, text=True).stdout.strip()
    what = open("verdict").read().split()
    with open(os.path.join(results, "steps.txt"), "a") as out:
        out.write(sha + "\\n")
    if what[0] == "exit":
        sys.exit(int(what[1]))
    if what[0] == "hang":
        # Like a build: a child in a session of its own, which the step stops, taking a moment.
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
        def stop(signum, frame):
            time.sleep(1)
            child.terminate()
            child.wait()
            sys.exit(130)
        signal.signal(signal.SIGTERM, stop)
        open(os.path.join(results, "child.pid"), "w").write(str(child.pid))
        open(os.path.join(results, "step.pid"), "w").write(str(os.getpid()))
        time.sleep(60)
        sys.exit(0)
    step_dir = os.path.join(results, sha)
    os.makedirs(step_dir, exist_ok=True)
    reason = "fail: 300000 bytes in flight" if what[0] == "bad" else ""
    json.dump({"sha": sha, "subject": subject, "verdict": what[0], "reason": reason, "seconds": 1.0,
               "build_seconds": 0.5, "kernel": None, "results": step_dir}, open(os.path.join(step_dir, "step.json"), "w"))
    if what[0] == "bad":
        json.dump({"cases": [{"name": "case_x", "status": "fail", "reason": "",
                              "diagnostics": ["queued 300000 bytes", "credit.c:160: too many"]}]},
                  open(os.path.join(step_dir, "results.json"), "w"))
    print("%s%s %s %s" % (sys.argv[2], sha[:12], what[0], subject), flush=True)
    sys.exit({"good": 0, "bad": 1, "skip": 125}[what[0]])
""")


def alive(pid: int) -> bool:
    """Whether pid runs (a zombie does not: with git gone, its reaper may be slow or absent)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def stop_if_alive(pid: int) -> None:
    if alive(pid):
        os.kill(pid, signal.SIGKILL)


class FakeRepo:
    """A git repository whose commits hold a file `verdict`, one commit per given verdict."""

    def __init__(self, root: Path, verdicts: list[str]):
        self.path = root / "repo"
        self.path.mkdir()
        self.git("init", "-q")
        self.shas = []
        for i, verdict in enumerate(verdicts):
            (self.path / "verdict").write_text(verdict + "\n")
            (self.path / "notes").write_text(f"commit {i}\n")
            self.git("add", "-A")
            self.git("commit", "-q", "-m", f"commit {i}: {verdict}")
            self.shas.append(self.git("rev-parse", "HEAD").strip())

    def git(self, *args: str) -> str:
        return subprocess.run([*GIT, "-C", str(self.path), *args], check=True, capture_output=True,
                              text=True).stdout

    def branch(self) -> str:
        return self.git("symbolic-ref", "--short", "HEAD").strip()

    def bisecting(self) -> bool:
        return (self.path / ".git" / "BISECT_START").exists()


class DriverTest(unittest.TestCase):
    def setUp(self):
        self.tmp = Path(tempfile.mkdtemp(prefix="vsc-bisect-test-"))
        self.addCleanup(subprocess.run, ["rm", "-rf", str(self.tmp)])
        self.results = self.tmp / "results"
        self.step_script = self.tmp / "fake_step.py"
        self.step_script.write_text(FAKE_STEP)
        self.step = [sys.executable, str(self.step_script), str(self.results), bisect_step.LINE_PREFIX]

    def bisect(self, repo: FakeRepo, good: str, bad: str) -> tuple[int, str]:
        out = io.StringIO()
        with redirect_stdout(out):
            code = bisect.run(repo.path, good, bad, "case_x", self.results, self.step)
        return code, out.getvalue()

    def steps_run(self) -> list[str]:
        return (self.results / "steps.txt").read_text().split()

    def test_finds_the_first_bad_commit_and_resets(self):
        repo = FakeRepo(self.tmp, ["good"] * 5 + ["bad"] * 4)
        code, out = self.bisect(repo, repo.shas[0], "main")
        self.assertEqual(code, bisect.EXIT_FOUND, out)
        self.assertIn(f"first bad commit: {repo.shas[5]} commit 5: bad\n", out)
        self.assertIn("  case_x: fail\n  queued 300000 bytes\n  credit.c:160: too many\n", out)
        self.assertIn(f"full results: {self.results / repo.shas[5]}/", out)
        # Both ends first, good before bad; then a few steps, each echoed on one line.
        self.assertEqual(self.steps_run()[:2], [repo.shas[0], repo.shas[8]])
        self.assertLessEqual(len(self.steps_run()), 2 + 3)
        self.assertIn(f"  {repo.shas[0][:12]} good commit 0: good\n", out)
        self.assertEqual(repo.branch(), "main")
        self.assertFalse(repo.bisecting())
        self.assertTrue((self.results / bisect.LOG_FILE).exists())

    def test_adjacent_ends_need_no_run(self):
        repo = FakeRepo(self.tmp, ["good", "bad"])
        code, out = self.bisect(repo, repo.shas[0], repo.shas[1])
        self.assertEqual(code, bisect.EXIT_FOUND, out)
        self.assertIn(f"first bad commit: {repo.shas[1]} commit 1: bad", out)
        self.assertEqual(len(self.steps_run()), 2)

    def test_skips_around_the_culprit_leave_candidates(self):
        repo = FakeRepo(self.tmp, ["good", "good", "skip", "skip", "bad", "bad"])
        code, out = self.bisect(repo, repo.shas[0], repo.shas[5])
        self.assertEqual(code, bisect.EXIT_UNDECIDED, out)
        self.assertIn("no single first bad commit", out)
        for sha in repo.shas[2:5]:
            self.assertIn(sha, out)
        self.assertEqual(repo.branch(), "main")
        self.assertFalse(repo.bisecting())

    def check_end_error(self, verdicts: list[str], message: str) -> None:
        repo = FakeRepo(self.tmp, verdicts)
        with self.assertRaisesRegex(UserError, message):
            self.bisect(repo, repo.shas[0], repo.shas[-1])
        self.assertEqual(repo.branch(), "main")
        self.assertFalse(repo.bisecting())

    def test_case_failing_at_good_is_an_error(self):
        self.check_end_error(["bad", "bad", "bad"], r"the case fails at --good [0-9a-f]{12} \(fail: 300000")

    def test_case_passing_at_bad_is_an_error(self):
        self.check_end_error(["good", "good", "good"], r"the case passes at --bad")

    def test_skip_at_an_end_is_an_error(self):
        self.check_end_error(["good", "bad", "skip"], r"cannot tell whether --bad [0-9a-f]{12} is bad")

    def test_step_crash_at_an_end_is_an_error(self):
        self.check_end_error(["exit 2", "bad"], r"the bisect step failed at [0-9a-f]{12} with exit code 2")

    def test_bad_input(self):
        repo = FakeRepo(self.tmp, ["good", "good", "bad"])
        cases = [
            ((repo.path, "nosuchrev", "main"), r"--good nosuchrev: no such commit"),
            ((repo.path, repo.shas[2], repo.shas[0]), r"is not an ancestor of --bad"),
            ((repo.path, "main", "main"), r"are the same commit"),
            ((self.tmp / "missing", "a", "b"), r"no such directory"),
            ((self.tmp, "a", "b"), r"is not a git work tree"),
            ((repo.path / ".git", "a", "b"), r"inside the git work tree|is not a git work tree"),
        ]
        for (src, good, bad), message in cases:
            with self.subTest(message=message), self.assertRaisesRegex(UserError, message):
                bisect.run(src, good, bad, "case_x", self.results, self.step)
        (repo.path / "verdict").write_text("changed\n")
        with self.assertRaisesRegex(UserError, r"uncommitted changes to tracked files \(M verdict"):
            bisect.run(repo.path, repo.shas[0], "main", "case_x", self.results, self.step)
        repo.git("checkout", "-q", "verdict")
        repo.git("bisect", "start")
        with self.assertRaisesRegex(UserError, r"a git bisect is already under way"):
            bisect.run(repo.path, repo.shas[0], "main", "case_x", self.results, self.step)
        self.assertTrue(repo.bisecting(), "a bisect we did not start must be left alone")

    def test_untracked_build_output_is_excluded(self):
        repo = FakeRepo(self.tmp, ["good", "bad"])
        (repo.path / "obj-x" / "spec").mkdir(parents=True)
        bisect.exclude_build_output(repo.path, [repo.path / "obj-x" / "spec", self.tmp / "elsewhere"])
        bisect.exclude_build_output(repo.path, [repo.path / "obj-x"])
        exclude = (repo.path / ".git" / "info" / "exclude").read_text()
        self.assertEqual(exclude.count("/obj-x/\n"), 1)
        self.assertEqual(repo.git("status", "--porcelain"), "")

    def test_interrupt_stops_the_step_and_resets(self):
        repo = FakeRepo(self.tmp, ["good", "good", "hang", "good", "bad"])
        driver = textwrap.dedent(f"""\
            import signal, sys
            from pathlib import Path
            sys.path.insert(0, {str(RUNNER)!r})
            from vsc import bisect
            def interrupt(signum, frame):
                raise KeyboardInterrupt
            signal.signal(signal.SIGTERM, interrupt)
            sys.exit(bisect.run(Path(sys.argv[1]), sys.argv[2], sys.argv[3], "case_x", Path(sys.argv[4]),
                                sys.argv[5:]))
        """)
        proc = subprocess.Popen([sys.executable, "-c", driver, str(repo.path), repo.shas[0], repo.shas[4],
                                 str(self.results), *self.step], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        pid_file = self.results / "step.pid"
        deadline = time.monotonic() + 30
        while not pid_file.exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        self.assertTrue(pid_file.exists(), "the hanging step never started")
        for name in ("step.pid", "child.pid"):
            self.addCleanup(stop_if_alive, int((self.results / name).read_text()))
        time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
        self.assertEqual(proc.returncode, bisect.EXIT_INTERRUPTED, out + err)
        self.assertIn("interrupted; the tree is back where it was", err)
        self.assertFalse(alive(int(pid_file.read_text())), "the step outlived the bisect")
        self.assertFalse(alive(int((self.results / "child.pid").read_text())),
                         "the step's child (its build) outlived the bisect")
        self.assertEqual(repo.branch(), "main")
        self.assertFalse(repo.bisecting())


class ParseTest(unittest.TestCase):
    def test_first_bad_commit(self):
        sha = "a" * 40
        text = f"running x\n{sha} is the first bad commit\ncommit {sha}\nAuthor: x\n\n    subject\n"
        self.assertEqual(bisect.parse_outcome(text), bisect.Outcome(first_bad=sha))

    def test_candidates(self):
        shas = ["b" * 40, "c" * 40]
        text = ("There are only 'skip'ped commits left to test.\nThe first bad commit could be any of:\n"
                + "".join(s + "\n" for s in shas) + "We cannot bisect more!\n")
        self.assertEqual(bisect.parse_outcome(text), bisect.Outcome(candidates=shas))

    def test_nothing_yet(self):
        self.assertEqual(bisect.parse_outcome("Bisecting: 3 revisions left to test after this\n"),
                         bisect.Outcome())


class StepTest(unittest.TestCase):
    """The real step with the build and the `vsockcheck run` faked."""

    def setUp(self):
        self.tmp = Path(tempfile.mkdtemp(prefix="vsc-bisect-step-"))
        self.addCleanup(subprocess.run, ["rm", "-rf", str(self.tmp)])
        self.repo = FakeRepo(self.tmp, ["good"])
        self.sha = self.repo.shas[0]
        self.results = self.tmp / "results"
        self.log = self.tmp / "build.log"
        self.log.write_text("")

    def write_results(self, status: str | None, name: str = "case_x") -> None:
        step_dir = self.results / self.sha
        step_dir.mkdir(parents=True, exist_ok=True)
        if status is not None:
            (step_dir / "results.json").write_text(json.dumps(
                {"cases": [{"name": name, "status": status, "reason": "why", "diagnostics": []}]}))

    def step(self, run_exit: int = 0, build_error: bool = False,
             status: str | None = "pass") -> tuple[int, dict | None, str]:
        """Run the step; the fake `vsockcheck run` writes results.json with the status and exits run_exit."""
        fake_run = self.tmp / "fake_vsockcheck"
        payload = json.dumps({"cases": [{"name": "case_x", "status": status, "reason": "why",
                                         "diagnostics": []}]}) if status else None
        fake_run.write_text(textwrap.dedent(f"""\
            import os, sys
            results = sys.argv[sys.argv.index("--results") + 1]
            assert sys.argv[1:6] == ["run", "--kernel", {str(self.tmp / "spec")!r}, "--topology", "loopback"], sys.argv
            assert sys.argv[6:8] == ["--pick", "case_x"], sys.argv
            if {payload!r} is not None:
                open(results + "/results.json", "w").write({payload!r})
            print("the run's own output", flush=True)
            if {run_exit} < 0:
                os.kill(os.getpid(), -{run_exit})
            sys.exit({run_exit})
        """))
        built = kbuild.BuiltKernel(spec=self.tmp / "spec", release="6.12.117", seconds=3.0, log=self.log)
        build = mock.Mock(return_value=built)
        if build_error:
            build.side_effect = kbuild.BuildError("make failed: net/vmw_vsock/af_vsock.c:10: error: x", self.log)
        out = io.StringIO()
        with mock.patch.object(kbuild, "build_kernel", build), \
                mock.patch.object(bisect_step, "VSOCKCHECK", fake_run), redirect_stdout(out):
            code = bisect_step.main(self.repo.path, "case_x", "loopback", ["minimal"], self.results)
        build.assert_called_once_with(self.repo.path, ["minimal"], quiet=True)
        step_file = self.results / self.sha / "step.json"
        record = json.loads(step_file.read_text()) if step_file.exists() else None
        return code, record, out.getvalue()

    def test_verdicts(self):
        for status, run_exit, code, verdict in (("pass", 0, 0, "good"), ("xfail", 0, 0, "good"),
                                                ("fail", 1, 1, "bad"), ("timeout", 1, 1, "bad"),
                                                ("skip", 0, 125, "skip"), ("error", 1, 125, "skip")):
            with self.subTest(status=status):
                got, record, out = self.step(run_exit=run_exit, status=status)
                self.assertEqual((got, record["verdict"]), (code, verdict))
                self.assertEqual(record["build_seconds"], 3.0)
                self.assertTrue(out.startswith(bisect_step.LINE_PREFIX + self.sha[:12]), out)
                if verdict != "good" or status == "xfail":
                    self.assertIn(status, record["reason"])

    def test_build_failure_skips(self):
        code, record, out = self.step(build_error=True)
        self.assertEqual(code, 125)
        self.assertRegex(record["reason"], r"^build failed: make failed: net/vmw_vsock/af_vsock.c:10")

    def test_run_that_could_not_happen_skips(self):
        code, record, _ = self.step(run_exit=2, status=None)
        self.assertEqual(code, 125)
        self.assertEqual(record["reason"], "vsockcheck run exited 2: the run's own output")

    def test_run_killed_skips_and_interrupted_run_stops(self):
        code, record, _ = self.step(run_exit=-9, status=None)
        self.assertEqual(code, 125)
        self.assertEqual(record["reason"], "vsockcheck run was killed by signal 9: the run's own output")
        code, _, out = self.step(run_exit=130, status=None)
        self.assertEqual(code, bisect_step.EXIT_INTERRUPTED)
        self.assertIn("interrupted", out)

    def test_missing_result_skips(self):
        code, record, _ = self.step(run_exit=1, status=None)
        self.assertEqual(code, 125)
        self.assertIn("no results.json", record["reason"])

    def test_stale_results_are_not_read(self):
        self.write_results("pass")
        code, record, _ = self.step(run_exit=1, status=None)
        self.assertEqual(code, 125, record)

    def test_reason_falls_back_to_the_last_diagnostic(self):
        results = self.tmp / "r.json"
        results.write_text(json.dumps({"cases": [{"name": "case_x", "status": "fail", "reason": "",
                                                  "diagnostics": ["queued 9 bytes", "credit.c:157: too many"]}]}))
        self.assertEqual(bisect_step.verdict_of(results, "case_x"), ("bad", "fail: credit.c:157: too many"))

    def test_case_not_in_results(self):
        results = self.tmp / "r.json"
        results.write_text(json.dumps({"cases": [{"name": "other", "status": "pass"}]}))
        self.assertEqual(bisect_step.verdict_of(results, "case_x"),
                         ("skip", "case case_x is not in r.json"))


if __name__ == "__main__":
    unittest.main()
