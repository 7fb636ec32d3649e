"""vsockcheck exec with real guests: our own program pair (vsock-pingpong) passes in every topology,
and a failing, hanging or interrupted peer is reported by name and leaves nothing behind."""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

from tests import processes
from tests.test_guest_runs import default_kernel_cached
from vsc import exec_run
from vsc.cli import DEFAULT_KERNEL
from vsc.paths import GUEST_BIN_DIR, PROJECT_ROOT

VSOCKCHECK = PROJECT_ROOT / "runner" / "vsockcheck"
PINGPONG = GUEST_BIN_DIR / "vsock-pingpong"
PAIR = ("--server", "vsock-pingpong server", "--client", "vsock-pingpong client")
_TOP = None


def setUpModule():
    global _TOP
    _TOP = Path(tempfile.mkdtemp(prefix="vsc-exec-test-"))


def tearDownModule():
    shutil.rmtree(_TOP, ignore_errors=True)


class Exec:
    """One `vsockcheck exec` with a private TMPDIR and results directory."""

    def __init__(self, topology: str, *args: str, timeout_s: float = 120):
        self.top = Path(tempfile.mkdtemp(dir=_TOP))
        self.tmp = self.top / "tmp"
        self.tmp.mkdir()
        self.results = self.top / "results"
        self.argv = [sys.executable, str(VSOCKCHECK), "exec", "--accel", "tcg", "--topology", topology,
                     "--results", str(self.results), "--timeout", str(timeout_s), "--files", str(PINGPONG), *args]
        self.env = dict(os.environ, TMPDIR=str(self.tmp))
        self.timeout_s = timeout_s

    def run(self) -> subprocess.CompletedProcess:
        return subprocess.run(self.argv, capture_output=True, text=True, env=self.env, timeout=self.timeout_s + 60)

    def popen(self) -> subprocess.Popen:
        return subprocess.Popen(self.argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=self.env)


@unittest.skipUnless(PINGPONG.exists(), "vsock-pingpong is not built: run make")
@unittest.skipUnless(default_kernel_cached(), f"{DEFAULT_KERNEL} is not cached: run 'vsockcheck kernels fetch'")
class ExecRuns(unittest.TestCase):
    def assert_clean(self, run: Exec):
        self.assertEqual(processes.naming(run.results, run.tmp), [], "a process outlived vsockcheck exec")
        self.assertEqual(list(run.tmp.iterdir()), [], "temporary files were left behind")

    def assert_pair_passed(self, run: Exec, done, server_cids: str, client_cids: str):
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)
        self.assertEqual(done.stdout.splitlines()[-1], "vsockcheck exec: passed: both peers exited 0")
        server_log = (run.results / "server.log").read_text()
        client_log = (run.results / "client.log").read_text()
        self.assertRegex(server_log, r"server: ok: echoed 65536 bytes from " + server_cids)
        self.assertRegex(client_log, r"client: ok: 65536 bytes to " + client_cids)
        # Printed too, labelled.
        self.assertIn("server| vsock-pingpong server: ok", done.stdout)
        self.assertIn("client| vsock-pingpong client: ok", done.stdout)
        self.assert_clean(run)

    def test_pingpong_loopback(self):
        run = Exec("loopback", *PAIR)
        done = run.run()
        self.assert_pair_passed(run, done, r"CID 1 port \d+ to local CID 1", r"CID 1 port \d+ and back from local CID 1")

    def test_pingpong_g2g(self):
        run = Exec("g2g", *PAIR)
        done = run.run()
        self.assert_pair_passed(run, done, r"CID 4 port \d+ to local CID 3", r"CID 3 port \d+ and back from local CID 4")

    def test_pingpong_g2h(self):
        # No skip when vsock-hostwrap is missing: g2h is not done until this passes.
        self.assertTrue(exec_run.HOSTWRAP.exists(), f"{exec_run.HOSTWRAP} is not built (branch hostwrap)")
        run = Exec("g2h", *PAIR)
        done = run.run()
        self.assert_pair_passed(run, done, r"CID 2 port \d+ to local CID 3", r"CID 3 port \d+ and back from local CID 2")

    def test_pingpong_nested(self):
        # L2a boots under TCG inside TCG (one to three minutes on a busy machine): the pair waits
        # for each other that long, and the run bounds it all.
        run = Exec("nested", "--server", "vsock-pingpong server --timeout 500",
                   "--client", "vsock-pingpong client --timeout 500", timeout_s=600)
        done = run.run()
        self.assert_pair_passed(run, done, r"CID 5 port \d+ to local CID 2", r"CID 2 port \d+ and back from local CID 5")
        self.assertIn("server (L1, CID 3, CID 2 toward L2a): exit 0", done.stdout)
        self.assertIn("client (L2a, CID 5, a guest of L1): exit 0", done.stdout)

    def test_a_client_whose_l2a_panics_is_named_with_l2as_console(self):
        # The client reaches L1's control port (the server, busybox nc, ends when it closes), then
        # panics L2a: L2a's QEMU exits in L1 without the client's status.
        run = Exec("nested", "--server", "nc -l -p $CONTROL_PORT",
                   "--client", "nc $CONTROL_HOST $CONTROL_PORT </dev/null && echo c >/proc/sysrq-trigger",
                   timeout_s=600)
        done = run.run()
        self.assertEqual(done.returncode, 1, done.stdout + done.stderr)
        self.assertIn("server (L1, CID 3, CID 2 toward L2a): exit 0", done.stdout)
        self.assertRegex(done.stdout, r"client \(L2a, CID 5, a guest of L1\): no exit status: L2a, CID 5: its kernel "
                                      r"panicked \(.*Kernel panic - not syncing: sysrq triggered crash\)\n")
        self.assertIn("--- L2a, CID 5: the last 15 lines of its console (l2a-console.log)", done.stdout)
        self.assertIn("vsockcheck exec: failed: client no exit status", done.stdout.splitlines()[-1])
        self.assert_clean(run)

    def test_a_failing_client_is_named_with_its_status(self):
        run = Exec("loopback", "--server", "vsock-pingpong server", "--client", "vsock-pingpong client && exit 3")
        done = run.run()
        self.assertEqual(done.returncode, 1, done.stdout + done.stderr)
        self.assertIn("server (the guest, CID 1): exit 0", done.stdout)
        self.assertIn("client (the guest, CID 1): exit 3", done.stdout)
        self.assertEqual(done.stdout.splitlines()[-1], "vsockcheck exec: failed: client exit 3")
        self.assert_clean(run)

    def test_a_panicking_guest_is_named_with_its_console(self):
        run = Exec("loopback", "--server", "echo c >/proc/sysrq-trigger", "--client", "true")
        done = run.run()
        self.assertEqual(done.returncode, 1, done.stdout + done.stderr)
        self.assertRegex(done.stdout, r"server \(the guest, CID 1\): no exit status: the guest: its kernel "
                                      r"panicked \(.*Kernel panic - not syncing: sysrq triggered crash\)\n")
        self.assertIn("--- the guest: the last 15 lines of its console (console.log)", done.stdout)
        self.assertRegex(done.stdout, r"client \(the guest, CID 1\): never started: the guest: its kernel panicked")
        self.assert_clean(run)

    def test_a_hanging_server_times_out_and_is_named(self):
        # The server never listens, so the client never starts; both guests are stopped at the timeout.
        run = Exec("g2g", "--server", "echo waiting; sleep 600", "--client", "true", timeout_s=25)
        started = time.monotonic()
        done = run.run()
        self.assertLess(time.monotonic() - started, 60)
        self.assertEqual(done.returncode, 1, done.stdout + done.stderr)
        self.assertIn("server (guest A, CID 3): timed out after 25 s (still running)", done.stdout)
        self.assertRegex(done.stdout, r"client \(guest B, CID 4\): timed out after 25 s, never started: "
                                      r"the server did not listen on TCP port \d+")
        self.assertIn("server| waiting", done.stdout)
        self.assertIn("vsockcheck exec: failed: server timed out", done.stdout.splitlines()[-1])
        self.assert_clean(run)

    def test_sigterm_leaves_no_qemu_device_or_temporary_files(self):
        run = Exec("g2g", "--server", "sleep 600", "--client", "true", timeout_s=200)
        proc = run.popen()
        deadline = time.monotonic() + 90
        started = run.results / "guest-a.ktap"
        while time.monotonic() < deadline and b"server started" not in (
                started.read_bytes() if started.exists() else b""):
            time.sleep(0.1)  # waiting for guest A to start the server
        self.assertLess(time.monotonic(), deadline, "guest A never started the server")
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
        self.assertEqual(proc.returncode, 130, err)
        self.assertIn("interrupted", err)
        self.assertNotIn("Traceback", err)
        self.assert_clean(run)
