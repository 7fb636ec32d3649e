"""The runner end to end with real guests: panics, hangs, interruption and bad input are reported, not lost."""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import xml.etree.ElementTree as ET
from pathlib import Path

from tests import processes
from vsc import catalogue, guest_session, kernels, topology_loopback
from vsc.cli import DEFAULT_KERNEL
from vsc.errors import UserError
from vsc.paths import GUEST_BIN_DIR, PROJECT_ROOT

VSOCKCHECK = PROJECT_ROOT / "runner" / "vsockcheck"
_TOP = None


def setUpModule():
    global _TOP
    _TOP = Path(tempfile.mkdtemp(prefix="vsc-test-"))


def tearDownModule():
    shutil.rmtree(_TOP, ignore_errors=True)


def default_kernel_cached() -> bool:
    try:
        kernels.resolve(DEFAULT_KERNEL, fetch=False)
        return True
    except UserError:
        return False


class Run:
    """One `vsockcheck run` with a private TMPDIR and results directory."""

    def __init__(self, *args: str, top: Path | None = None):
        self.top = Path(tempfile.mkdtemp(dir=top or _TOP))
        self.tmp = self.top / "tmp"
        self.tmp.mkdir()
        self.results = self.top / "results"
        self.argv = [sys.executable, str(VSOCKCHECK), "run", "--accel", "tcg", "--results",
                     str(self.results), *args]
        self.env = dict(os.environ, TMPDIR=str(self.tmp))

    def run(self, timeout=300) -> subprocess.CompletedProcess:
        return subprocess.run(self.argv, capture_output=True, text=True, env=self.env, timeout=timeout)

    def cases(self) -> dict:
        data = json.loads((self.results / "results.json").read_text())
        return {c["name"]: c for c in data["cases"]}


@unittest.skipUnless((GUEST_BIN_DIR / "vsockcheck-tests").exists(), "the test program is not built: run make")
@unittest.skipUnless(default_kernel_cached(), f"{DEFAULT_KERNEL} is not cached: run 'vsockcheck kernels fetch'")
class GuestFailures(unittest.TestCase):
    def assert_clean(self, run: Run):
        self.assertEqual(processes.qemus_naming(run.results), [], "QEMU outlived the runner")
        self.assertEqual(list(run.tmp.iterdir()), [], "temporary files were left behind")

    def test_panicking_guest_fails_every_case_with_the_reason(self):
        run = Run("--guest-mode", "panic", "--pick", "bind_port,socket_stream")
        done = run.run()
        self.assertEqual(done.returncode, 1, done.stderr)
        cases = run.cases()
        self.assertEqual(set(cases), {"bind_port", "socket_stream"})
        for case in cases.values():
            self.assertEqual(case["status"], "error")
            self.assertIn("the guest kernel panicked", case["reason"])
        self.assertIn("0 passed, 2 failed, 0 skipped", done.stdout.splitlines()[-1])
        self.assert_clean(run)

    def test_silent_guest_is_stopped_at_the_boot_deadline(self):
        run = Run("--guest-mode", "hang", "--boot-timeout", "3", "--pick", "bind_port")
        started = time.monotonic()
        done = run.run()
        self.assertLess(time.monotonic() - started, 60)
        self.assertEqual(done.returncode, 1, done.stderr)
        self.assertRegex(run.cases()["bind_port"]["reason"], r"printed nothing for \d+ s and was stopped")
        self.assert_clean(run)

    def test_sigterm_stops_qemu_and_removes_temporary_files(self):
        run = Run("--guest-mode", "hang", "--boot-timeout", "120", "--pick", "bind_port")
        proc = subprocess.Popen(run.argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=run.env)
        deadline = time.monotonic() + 60
        while not processes.qemus_naming(run.results) and time.monotonic() < deadline:
            time.sleep(0.1)  # waiting for the runner to start QEMU
        self.assertTrue(processes.qemus_naming(run.results), "QEMU never started")
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
        self.assertEqual(proc.returncode, 130)
        self.assertIn("interrupted", err)
        self.assertNotIn("Traceback", err)
        self.assert_clean(run)

    def test_a_killed_runner_takes_qemu_with_it(self):
        run = Run("--guest-mode", "hang", "--boot-timeout", "120", "--pick", "bind_port")
        proc = subprocess.Popen(run.argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=run.env)
        deadline = time.monotonic() + 60
        while not processes.qemus_naming(run.results) and time.monotonic() < deadline:
            time.sleep(0.1)  # waiting for the runner to start QEMU
        self.assertTrue(processes.qemus_naming(run.results), "QEMU never started")
        proc.kill()
        proc.wait()
        deadline = time.monotonic() + 10
        while processes.qemus_naming(run.results) and time.monotonic() < deadline:
            time.sleep(0.1)  # the kernel delivers the parent-death signal asynchronously
        self.assertEqual(processes.qemus_naming(run.results), [])
        shutil.rmtree(run.tmp)  # a SIGKILLed runner cannot clean up; only QEMU is the point here

    def test_a_small_run_writes_every_result_file(self):
        run = Run("--pick", "bind_port", "--pick", "bind_port_any")
        done = run.run()
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)
        self.assertEqual(done.stdout.splitlines()[-1], "2 passed, 0 failed, 0 skipped")
        suite = ET.parse(run.results / "junit.xml").getroot()
        suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
        self.assertEqual(suite.get("tests"), "2")
        ktap = (run.results / "results.ktap").read_text().splitlines()
        self.assertEqual(ktap[0], "KTAP version 1")
        self.assertIn("1..2", ktap)
        self.assertTrue((run.results / "console.log").stat().st_size > 0)
        self.assert_clean(run)


class BadInput(unittest.TestCase):
    def one_error_line(self, *args: str) -> str:
        run = Run(*args)
        done = run.run(timeout=60)
        self.assertEqual(done.returncode, 2, done.stdout + done.stderr)
        self.assertNotIn("Traceback", done.stderr)
        lines = done.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, done.stderr)
        self.assertTrue(lines[0].startswith("vsockcheck: error: "), lines[0])
        return lines[0]

    def test_unknown_kernel_spec(self):
        line = self.one_error_line("--kernel", "debian:nosuchsuite")
        self.assertIn("debian:nosuchsuite", line)

    def test_missing_local_kernel(self):
        self.assertIn("/no/such/kernel", self.one_error_line("--kernel", "/no/such/kernel"))

    @unittest.skipUnless((GUEST_BIN_DIR / "vsockcheck-tests").exists(), "the test program is not built")
    def test_pick_matching_nothing(self):
        self.assertIn("no case matches", self.one_error_line("--pick", "no_such_case*"))

    @unittest.skipUnless(default_kernel_cached(), f"{DEFAULT_KERNEL} is not cached")
    def test_local_kernel_without_vsock_modules(self):
        kernel = kernels.resolve(DEFAULT_KERNEL, fetch=False)
        with tempfile.TemporaryDirectory() as tree:
            boot = Path(tree) / "boot"
            modules_dir = Path(tree) / "lib" / "modules" / kernel.release
            boot.mkdir()
            modules_dir.mkdir(parents=True)
            (boot / f"vmlinuz-{kernel.release}").symlink_to(kernel.vmlinuz)
            (modules_dir / "modules.dep").write_text("")
            (modules_dir / "modules.builtin").write_text("")
            line = self.one_error_line("--kernel", tree)
        self.assertRegex(line, r"CONFIG_[A-Z_]+")


@unittest.skipUnless((GUEST_BIN_DIR / "vsc-lib-outcomes").exists(), "the self-test program is not built")
@unittest.skipUnless(default_kernel_cached(), f"{DEFAULT_KERNEL} is not cached")
class KernelHealth(unittest.TestCase):
    def run_outcomes(self, *picks: str) -> dict:
        """Runs the library's self-test program in a guest; its results by case name."""
        program = GUEST_BIN_DIR / "vsc-lib-outcomes"
        spec = guest_session.GuestSpec(
            kernel=kernels.resolve(DEFAULT_KERNEL, fetch=False), modules=topology_loopback.MODULES,
            test_program=program, test_args=catalogue.selection_args(list(picks), []),
            cases=catalogue.read(program, list(picks)), accel="tcg")
        with tempfile.TemporaryDirectory(dir=_TOP) as work, tempfile.TemporaryDirectory(dir=_TOP) as out:
            run = guest_session.run(spec, Path(work), Path(out))
        return {r.name: r for r in run.report.results}

    def test_a_kernel_backtrace_during_a_case_fails_it_and_is_quoted(self):
        by_name = self.run_outcomes("outcome_kernel_alarm*", "outcome_pass_pair")
        alarm = by_name["outcome_kernel_alarm_fails_case"]
        self.assertEqual(alarm.status, "fail")
        self.assertTrue(any(d.startswith("kernel: ") and "Call Trace" in d for d in alarm.diagnostics),
                        alarm.diagnostics)
        # The case after it starts from a clean log: the alarm does not leak into it.
        self.assertEqual(by_name["outcome_pass_pair"].status, "pass")

    def test_a_panic_in_mid_case_fails_that_case_and_the_rest_are_not_run(self):
        by_name = self.run_outcomes("outcome_guest_panics", "outcome_pass_pair")
        dying = by_name["outcome_guest_panics"]
        self.assertEqual(dying.status, "fail")
        self.assertIn("the guest kernel panicked", dying.reason)
        self.assertIn("during this case", dying.reason)
        self.assertIn("about to crash the guest kernel", " ".join(dying.diagnostics))
        self.assertTrue(any(d.startswith("console: ") for d in dying.diagnostics))
        after = by_name["outcome_pass_pair"]
        self.assertEqual(after.status, "error")
        self.assertTrue(after.reason.startswith("not run: the guest kernel panicked"))
