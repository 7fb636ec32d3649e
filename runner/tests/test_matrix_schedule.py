"""`vsockcheck matrix` end to end with a fake `run` program (no QEMU): at most --jobs runs at once,
longest first, a run that fails or crashes is a column of ERROR cells, Ctrl-C / SIGTERM stop every
run and leave nothing behind."""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

from tests import processes
from tests.fake_kernel import bzimage
from vsc import matrix_schedule

RUNNER = Path(__file__).resolve().parents[1]
FAKE_RUN = RUNNER / "tests" / "fake_matrix_run.py"


class MatrixCommandTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = Path(self.tmp.name)
        self.log = self.dir / "runs.log"
        (self.dir / "tmp").mkdir()
        self.results = self.dir / "matrix"

    def tearDown(self):
        self.tmp.cleanup()

    def kernel(self, directory: str, release: str) -> str:
        path = self.dir / directory / f"vmlinuz-{release}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(bzimage(release))
        return str(path)

    def matrix(self, kernels, topologies, jobs=2, sleep=0.0, extra=(), addr_bind="pass"):
        env = dict(os.environ, VSC_MATRIX_RUN_PROGRAM=str(FAKE_RUN), FAKE_RUN_LOG=str(self.log),
                   FAKE_RUN_ADDR_BIND=addr_bind,
                   FAKE_RUN_TMP=str(self.dir / "tmp"), FAKE_RUN_SLEEP=str(sleep))
        argv = [sys.executable, str(RUNNER / "vsockcheck"), "matrix", "--jobs", str(jobs),
                "--results", str(self.results), *extra]
        argv += [a for k in kernels for a in ("--kernel", k)] + [a for t in topologies for a in ("--topology", t)]
        # Ctrl-C as in a terminal, even when this test runs in a background job, which starts with
        # SIGINT ignored (a Python started that way never raises KeyboardInterrupt).
        return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                                start_new_session=True,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))

    def log_lines(self):
        return [line.split(maxsplit=3) for line in self.log.read_text().splitlines()]

    def test_at_most_jobs_runs_at_once_longest_first(self):
        old, new = self.kernel("old", "5.10.0"), self.kernel("new", "7.2.0")
        child = self.matrix([old, new], ["g2h", "loopback", "g2g"], jobs=2, sleep=0.6)
        out, err = child.communicate(timeout=120)
        self.assertEqual(child.returncode, 1, err)  # the fake run reports one failing case
        started = [line.split("start ", 1)[1] for line in out.splitlines() if line.startswith("matrix: start ")]
        self.assertEqual(started, ["new 7.2.0 g2g", "old 5.10.0 g2g", "new 7.2.0 loopback", "old 5.10.0 loopback",
                                   "new 7.2.0 g2h", "old 5.10.0 g2h"])
        running, most = 0, 0
        for _, _, what, _ in sorted(self.log_lines(), key=lambda f: float(f[0])):
            running += 1 if what == "start" else -1
            most = max(most, running)
        self.assertEqual(most, 2)
        self.assertTrue(out.endswith("6 passed, 6 failed, 0 skipped\n"), out)
        for name in ("matrix.txt", "matrix.md", "matrix.html", "matrix.json"):
            self.assertTrue((self.results / name).is_file(), name)

    def test_a_run_that_fails_or_crashes_is_a_column_of_errors_with_its_last_stderr_line(self):
        good, broken, crash = self.kernel("good", "6.1.0"), self.kernel("broken", "6.1.0"), self.kernel("crash", "6.1.0")
        child = self.matrix([good, broken, crash], ["loopback"], jobs=3)
        out, err = child.communicate(timeout=120)
        self.assertEqual(child.returncode, 1, err)
        data = json.loads((self.results / "matrix.json").read_text())
        errors = {c["label"]: c["error"] for c in data["columns"]}
        self.assertEqual(errors["good 6.1.0 loopback"], None)
        self.assertEqual(errors["broken 6.1.0 loopback"],
                         "run exited with status 2: vsockcheck: error: guest never booted: no output in 60 s")
        self.assertEqual(errors["crash 6.1.0 loopback"], "run killed by SIGABRT")
        for row in data["rows"]:
            self.assertEqual([c["status"] for c in row["cells"][1:]], ["error", "error"])
        self.assertIn("broken 6.1.0 loopback  ERROR: run exited with status 2: vsockcheck: error: guest never", out)

    def test_compare_with_the_previous_matrix_names_the_regression(self):
        kernel = self.kernel("k", "6.1.0")
        out, err = self.matrix([kernel], ["loopback", "g2h"]).communicate(timeout=120)
        old = self.dir / "old.json"
        (self.results / "matrix.json").rename(old)
        child = self.matrix([kernel], ["loopback"], extra=("--compare", str(old)), addr_bind="timeout")
        out, err = child.communicate(timeout=120)
        self.assertEqual(child.returncode, 1, err)
        self.assertIn("addr_bind      pass→TIMEOUT\n", out)
        self.assertTrue(out.endswith(f"changed since {old}: 1 cells (1 regressions)\n"
                                     "removed columns: k 6.1.0 g2h\n0 passed, 2 failed, 0 skipped\n"), out)
        data = json.loads((self.results / "matrix.json").read_text())
        self.assertEqual(data["rows"][0]["cells"][0]["was"], "pass")

    def test_a_bad_kernel_spec_stops_before_any_run(self):
        child = self.matrix([self.kernel("good", "6.1.0"), str(self.dir / "missing")], ["loopback"])
        out, err = child.communicate(timeout=60)
        self.assertEqual(child.returncode, 2)
        self.assertRegex(err, r"^vsockcheck: error: kernel spec '.*missing' is neither")
        self.assertFalse(self.log.exists())

    def interrupt(self, signum):
        kernels = [self.kernel(f"k{i}", f"6.{i}.0") for i in range(3)]
        child = self.matrix(kernels, ["loopback"], jobs=2, sleep=60)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (not self.log.exists() or len(self.log_lines()) < 2):
            time.sleep(0.1)
        self.assertEqual(len(self.log_lines()), 2)
        os.kill(child.pid, signum)
        out, err = child.communicate(timeout=60)
        self.assertEqual(child.returncode, 130, err)
        self.assertIn("interrupted", err)
        self.assertEqual(sorted(f[2] for f in self.log_lines()), ["start", "start", "stopped", "stopped"])
        self.assertEqual(list((self.dir / "tmp").iterdir()), [])
        self.assertEqual(processes.naming(FAKE_RUN), [])

    def test_ctrl_c_stops_every_run_which_removes_its_files(self):
        self.interrupt(signal.SIGINT)

    def test_sigterm_stops_every_run_which_removes_its_files(self):
        self.interrupt(signal.SIGTERM)


class OrderTest(unittest.TestCase):
    def test_topology_first_then_newer_kernels(self):
        jobs = [matrix_schedule.Job(f"{r} {t}", t, r, [], Path("."))
                for r in ("5.10.262-1", "6.12.117-1", "6.1.192-2") for t in ("g2h", "nested", "loopback")]
        self.assertEqual([j.name for j in matrix_schedule.order(jobs)][:4],
                         ["6.12.117-1 nested", "6.1.192-2 nested", "5.10.262-1 nested", "6.12.117-1 loopback"])


if __name__ == "__main__":
    unittest.main()
