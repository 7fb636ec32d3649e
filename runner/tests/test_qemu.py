"""Tests for vsc.qemu: the command line, stopping a guest's whole process group, the cached KVM probe."""

import json
import os
import shlex
import shutil
import tempfile
import textwrap
import time
import unittest
from pathlib import Path
from unittest import mock

from vsc import qemu
from vsc.errors import UserError

# Stands in for qemu-system-x86_64: answers --version, counts its runs, and "boots" as FAKE_QEMU says.
FAKE_QEMU = textwrap.dedent("""\
    #!/usr/bin/python3
    import os, sys, time
    if sys.argv[1:] == ["--version"]:
        print("QEMU emulator version 0.0.0-fake"); sys.exit(0)
    with open(os.environ["FAKE_QEMU_RUNS"], "a") as runs:
        runs.write(" ".join(sys.argv[1:]) + "\\n")
    console = sys.argv[sys.argv.index("-serial") + 1].removeprefix("file:")
    behaviour = os.environ["FAKE_QEMU"]
    if behaviour == "boots":
        open(console, "w").write("[    0.000000] Linux version 6.1.0-fake\\nKernel panic\\n")
    elif behaviour == "hangs":
        time.sleep(60)
    """)


def group_alive(pgid: int) -> bool:
    """Whether any process of the group still runs; zombies do not count (this machine's init reaps late)."""
    # A signalled process other than our child dies a moment after killpg returns: allow it a second.
    deadline = time.monotonic() + 1
    while _group_members(pgid) and time.monotonic() < deadline:
        time.sleep(0.01)
    return bool(_group_members(pgid))


def _group_members(pgid: int) -> list[str]:
    members = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[2] == str(pgid) and fields[0] != "Z":
            members.append(pid)
    return members


def wait_for_text(path: Path, text: str) -> None:
    deadline = time.monotonic() + 10
    while text not in (path.read_text() if path.exists() else ""):
        if time.monotonic() > deadline:
            raise AssertionError(f"{text!r} never appeared in {path}")
        time.sleep(0.01)


class ArgvTest(unittest.TestCase):
    def argv(self, **changes):
        args = dict(vmlinuz=Path("/k/vmlinuz"), initrd=Path("/i/run.img"), ktap_path=Path("/o/ktap"),
                    console_log=Path("/o/console.log"))
        args.update(changes)
        return qemu.guest_argv(**args)

    def test_tcg_command_line(self):
        argv = self.argv()
        self.assertEqual(argv[0], "qemu-system-x86_64")
        joined = " ".join(argv)
        for piece in ("-machine q35 -accel tcg,thread=single", "-cpu max", "-m 512", "-smp 1", "-kernel /k/vmlinuz",
                      "-initrd /i/run.img", "-serial file:/o/console.log", "-nographic", "-no-reboot",
                      "-nodefaults", "-display none", "-monitor none"):
            self.assertIn(piece, joined)
        append = argv[argv.index("-append") + 1].split()
        self.assertEqual(append[:2], ["console=ttyS0", "panic=-1"])
        self.assertFalse(any(w.startswith("oops=") for w in append))
        self.assertNotIn("quiet", append)

    def test_tcg_threads(self):
        # Multi-threaded TCG only when asked for (see qemu.TCG_THREADS); anything else is refused.
        self.assertIn("-accel tcg,thread=multi", " ".join(self.argv(accel="tcg-multi")))
        self.assertIn("-machine q35,memory-backend=vsc_mem -accel tcg,thread=single",
                      " ".join(self.argv(devices=["-device", "x"])))
        with self.assertRaises(ValueError):
            self.argv(accel="hvf")

    def test_ktap_port(self):
        argv = self.argv(ktap_path=Path("/o/a,b"))
        chardev = argv[argv.index("-chardev") + 1]
        self.assertEqual(chardev, "file,id=vsc_ktap,path=/o/a,,b")
        devices = [argv[i + 1] for i, a in enumerate(argv) if a == "-device"]
        self.assertEqual(devices[0], "virtio-serial-pci,id=vsc_serial")
        self.assertIn("chardev=vsc_ktap", devices[1])
        self.assertTrue(devices[1].startswith("virtserialport,"))
        self.assertIn("name=vsockcheck.ktap", devices[1])

    def test_options(self):
        argv = self.argv(accel="kvm", memory_mib=1024, cpus=2, quiet=True, extra_append=("loglevel=8",),
                         console_log=None)
        joined = " ".join(argv)
        for piece in ("-machine q35 -accel kvm", "-cpu host", "-m 1024", "-smp 2", "-serial mon:stdio"):
            self.assertIn(piece, joined)
        self.assertTrue(argv[argv.index("-append") + 1].endswith(" quiet loglevel=8"))

    def test_show_command_round_trips(self):
        argv = self.argv(initrd=Path("/tmp/with space/run.img"))
        self.assertEqual(shlex.split(qemu.show_command(argv)), argv)


class GuestTest(unittest.TestCase):
    def test_stop_kills_the_whole_group_and_is_idempotent(self):
        with tempfile.TemporaryDirectory() as tmp:
            log = Path(tmp) / "log"
            guest = qemu.Guest(["/bin/sh", "-c", "sleep 60 & echo started; sleep 60; wait"], log=log).start()
            wait_for_text(log, "started")
        pgid = guest.process.pid
        self.assertEqual(os.getpgid(pgid), pgid)  # a group of its own
        self.assertIsNone(guest.wait(0.1))
        guest.stop()
        self.assertIsNotNone(guest.returncode)
        self.assertFalse(group_alive(pgid))
        guest.stop()

    def test_sigkill_after_grace(self):
        with tempfile.TemporaryDirectory() as tmp:
            log = Path(tmp) / "log"
            guest = qemu.Guest(["/bin/sh", "-c", "trap '' TERM; echo ready; sleep 60"], log=log).start()
            wait_for_text(log, "ready")
        started = time.monotonic()
        guest.stop(grace=0.3)
        self.assertLess(time.monotonic() - started, 5)
        self.assertEqual(guest.returncode, -9)

    def test_context_manager_stops_on_any_exit(self):
        for error in (RuntimeError, KeyboardInterrupt):
            with self.assertRaises(error):
                with qemu.Guest(["sleep", "60"]) as guest:
                    raise error()
            self.assertIsNotNone(guest.returncode)

    def test_log_and_exit_status(self):
        with tempfile.TemporaryDirectory() as tmp:
            log = Path(tmp) / "qemu.log"
            with qemu.Guest(["/bin/sh", "-c", "echo out; echo err >&2; exit 3"], log=log) as guest:
                self.assertEqual(guest.wait(10), 3)
            self.assertEqual(log.read_text(), "out\nerr\n")

    def test_missing_binary_is_a_user_error(self):
        with self.assertRaises(UserError):
            qemu.Guest(["/nonexistent/qemu-system-x86_64"]).start()
        qemu.Guest(["unused"]).stop()  # never started: nothing to do


class AccelTest(unittest.TestCase):
    def setUp(self):
        self.tmp = Path(tempfile.mkdtemp(prefix="vsc-test-qemu-"))
        self.addCleanup(shutil.rmtree, self.tmp)
        fake = self.tmp / "fake-qemu"
        fake.write_text(FAKE_QEMU)
        fake.chmod(0o755)
        self.runs = self.tmp / "runs"
        self.runs.touch()
        self.vmlinuz = self.tmp / "vmlinuz"
        self.vmlinuz.write_bytes(b"kernel image")
        env = {"XDG_CACHE_HOME": str(self.tmp / "cache"), "FAKE_QEMU_RUNS": str(self.runs)}
        for patcher in (mock.patch.object(qemu, "QEMU", str(fake)), mock.patch.dict(os.environ, env),
                        mock.patch.object(qemu.os, "access", return_value=True)):
            patcher.start()
            self.addCleanup(patcher.stop)
        qemu.qemu_version.cache_clear()

    def probe_runs(self) -> int:
        return len(self.runs.read_text().splitlines())

    def test_kvm_verdict_is_probed_once_then_cached(self):
        os.environ["FAKE_QEMU"] = "boots"
        self.assertEqual(qemu.accel_for(self.vmlinuz), "kvm")
        self.assertEqual(qemu.accel_for(self.vmlinuz), "kvm")
        self.assertEqual(self.probe_runs(), 1)
        self.assertIn("-accel kvm", self.runs.read_text())
        verdicts = list((self.tmp / "cache/vsockcheck/kvm-probe").iterdir())
        self.assertEqual(len(verdicts), 1)
        self.assertTrue(json.loads(verdicts[0].read_text())["kvm"])

    def test_hanging_probe_falls_back_to_tcg(self):
        os.environ["FAKE_QEMU"] = "hangs"
        started = time.monotonic()
        self.assertEqual(qemu.accel_for(self.vmlinuz, timeout=0.5), "tcg")
        self.assertLess(time.monotonic() - started, 5)
        self.assertEqual(qemu.accel_for(self.vmlinuz, timeout=0.5), "tcg")
        self.assertEqual(self.probe_runs(), 1)

    def test_exit_without_banner_is_tcg(self):
        os.environ["FAKE_QEMU"] = "fails"
        self.assertEqual(qemu.accel_for(self.vmlinuz), "tcg")

    def test_another_kernel_is_probed_again(self):
        os.environ["FAKE_QEMU"] = "boots"
        qemu.accel_for(self.vmlinuz)
        other = self.tmp / "vmlinuz2"
        other.write_bytes(b"another kernel")
        qemu.accel_for(other)
        self.assertEqual(self.probe_runs(), 2)

    def test_no_kvm_device_means_tcg_without_probing(self):
        with mock.patch.object(qemu.os, "access", return_value=False):
            self.assertEqual(qemu.accel_for(self.vmlinuz), "tcg")
        self.assertEqual(self.probe_runs(), 0)

    def test_unreadable_kernel_is_a_user_error(self):
        with self.assertRaises(UserError):
            qemu.accel_for(self.tmp / "missing")


if __name__ == "__main__":
    unittest.main()
