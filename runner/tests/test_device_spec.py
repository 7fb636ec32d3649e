"""--device: the template's parsing and argv (device_spec), and VhostUserDevice starting, waiting
for and stopping a backend given as a template, with stand-in backends (no QEMU, no vsock)."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path
from unittest import mock

from tests.fake_kernel import bzimage
from vsc import device_spec, vhost_user_device
from vsc.paths import PROJECT_ROOT
from vsc.errors import UserError
from vsc.vhost_user_device import VhostUserDevice, VmPort

A = VmPort(3, Path("/w/a.sock"), Path("/w/a.uds"))
B = VmPort(4, Path("/w/b.sock"), Path("/w/b.uds"))


def argv(text, vms):
    return device_spec.parse(text).argv(vms)


def error_of(call, *args) -> str:
    with unittest.TestCase().assertRaises(UserError) as caught:
        call(*args)
    return str(caught.exception)


class Parse(unittest.TestCase):
    def test_ours_is_the_default_and_builds_no_argv(self):
        self.assertFalse(device_spec.parse("ours").external)
        self.assertEqual(device_spec.parse("ours"), device_spec.DeviceSpec())

    def test_one_vm_template_fills_every_placeholder(self):
        self.assertEqual(argv("vhost-user:/opt/dev --vm cid={cid},socket={socket},uds={uds} -v", [A]),
                         ["/opt/dev", "--vm", "cid=3,socket=/w/a.sock,uds=/w/a.uds", "-v"])

    def test_rust_vmm_style_options(self):
        self.assertEqual(argv("vhost-user:vhost-device-vsock --socket {socket} --guest-cid {cid} --uds-path {uds}",
                              [A]),
                         ["vhost-device-vsock", "--socket", "/w/a.sock", "--guest-cid", "3", "--uds-path", "/w/a.uds"])

    def test_each_repeats_across_words_once_per_vm(self):
        self.assertEqual(argv("vhost-user:dev {each:--vm guest-cid={cid},socket={socket}} --log x", [A, B]),
                         ["dev", "--vm", "guest-cid=3,socket=/w/a.sock", "--vm", "guest-cid=4,socket=/w/b.sock",
                          "--log", "x"])
        self.assertTrue(device_spec.serves_many("dev {each:{socket}}"))
        self.assertFalse(device_spec.serves_many("dev {socket}"))

    def test_quotes_and_literal_braces(self):
        self.assertEqual(argv("vhost-user:sh -c 'exec dev \"$0\"' {socket} '{{json}}'", [A]),
                         ["sh", "-c", 'exec dev "$0"', "/w/a.sock", "{json}"])

    def test_errors_name_the_template_and_the_placeholder(self):
        for text, wanted in (
                ("vhost-user:dev {sockt}", "unknown placeholder {sockt}"),
                ("vhost-user:dev {socket} {", "a lone '{'"),
                ("vhost-user:dev {socket} }", "a lone '}'"),
                ("vhost-user:dev {each:{socket}", "has no closing brace"),
                ("vhost-user:dev {each:{each:{socket}}}", "{each:...} inside {each:...}"),
                ("vhost-user:dev '{socket}", "No closing quotation"),
                ("vhost-user:dev {cid}", "no {socket} placeholder"),
                ("vhost-user:  ", "template is empty"),
                ("qemu:dev", "expected 'ours' or 'vhost-user:")):
            with self.subTest(text=text):
                message = error_of(device_spec.parse, text)
                self.assertIn(wanted, message)
                if text.startswith("vhost-user:") and text.strip() != "vhost-user:":
                    self.assertIn(repr(text[len("vhost-user:"):]), message)

    def test_single_vm_template_refused_for_two_vms(self):
        message = error_of(argv, "vhost-user:dev {socket}", [A, B])
        self.assertIn("placeholder {socket} outside {each:...}", message)
        self.assertIn("CIDs 3, 4", message)

    def test_uds_of_a_vm_without_bridge(self):
        message = error_of(argv, "vhost-user:dev {socket} {uds}", [VmPort(3, Path("/w/a.sock"))])
        self.assertIn("placeholder {uds}: the guest with CID 3 has no bridge socket", message)

    def test_a_path_that_would_split_is_refused(self):
        message = error_of(argv, "vhost-user:dev {socket}", [VmPort(3, Path("/w w/a.sock"))])
        self.assertIn("placeholder {socket} would be '/w w/a.sock'", message)


class CheckTopology(unittest.TestCase):
    def test_ours_goes_anywhere(self):
        for topology in ("loopback", "g2h", "g2g", "nested", "hvsock"):
            device_spec.check_topology(device_spec.DeviceSpec(), topology)

    def test_external_only_on_g2h_and_g2g(self):
        spec = device_spec.parse("vhost-user:dev {socket}")
        device_spec.check_topology(spec, "g2h")
        for topology, wanted in (("loopback", "topology loopback has no vhost-user device"),
                                 ("g2g", "topology g2g puts both guests on one device")):
            self.assertIn(wanted, error_of(device_spec.check_topology, spec, topology))
        device_spec.check_topology(device_spec.parse("vhost-user:dev {each:{socket}}"), "g2g")


# A stand-in backend: binds a Unix socket at each path given, says so, and waits for SIGTERM.
LISTENER = ("import socket, sys, time\n"
            "s = [socket.socket(socket.AF_UNIX) for p in sys.argv[1:]]\n"
            "[x.bind(p) for x, p in zip(s, sys.argv[1:])]\n"
            "print('listening', flush=True)\n"
            "time.sleep(600)\n")


class ExternalBackend(unittest.TestCase):
    def setUp(self):
        self.work = Path(tempfile.mkdtemp(prefix="vsc-test-device-"))
        self.addCleanup(shutil.rmtree, self.work, True)
        self.vms = [VmPort(3, self.work / "a.sock", self.work / "a.uds"),
                    VmPort(4, self.work / "b.sock", self.work / "b.uds")]
        self.script = self.work / "listener.py"
        self.script.write_text(LISTENER)

    def device(self, template, vms=None):
        spec = device_spec.parse("vhost-user:" + template)
        return VhostUserDevice(vms or self.vms[:1], self.work / "backend.log", device=spec)

    def test_ready_when_the_sockets_appear_and_stopped_on_leaving(self):
        device = self.device(f"{sys.executable} {self.script} {{each:{{socket}}}}", self.vms)
        with device:
            self.assertIsNone(device.process.poll())
            self.assertTrue(all(vm.socket_path.exists() for vm in self.vms))
            self.assertEqual(device.qemu_args(4)[1], f"socket,id=vsc_vsock4,path={self.vms[1].socket_path}")
        self.assertIsNotNone(device.process.poll())
        self.assertIsNone(device.early_exit_note())
        self.assertIn("listening", (self.work / "backend.log").read_text())

    def test_a_wrapper_and_its_children_are_stopped(self):
        # sh forks the listener (no exec): stopping must reach the whole group.
        device = self.device(f"sh -c '{sys.executable} {self.script} \"$0\"; echo after' {{socket}}")
        with device:
            pass
        time.sleep(0.2)
        self.assertEqual(_processes_naming(str(self.script)), [])

    def test_backend_that_exits_early_is_named_with_its_log(self):
        device = self.device("sh -c 'echo cannot open /dev/vhost-vsock >&2; exit 3' {socket}")
        message = error_of(device.start)
        self.assertIn("--device template", message)
        self.assertIn("exited with status 3", message)
        self.assertIn("cannot open /dev/vhost-vsock", message)
        self.assertIn(str(self.vms[0].socket_path), message)

    def test_socket_that_never_appears(self):
        device = self.device(f"sh -c 'echo starting; sleep 60' {{socket}}")
        with mock.patch.object(vhost_user_device, "EXTERNAL_READY_TIMEOUT_S", 0.5):
            message = error_of(device.start)
        self.assertIn("did not create it within 0.5 s", message)
        self.assertIn("backend.log ends: starting", message)
        self.assertIsNotNone(device.process.poll())

    def test_missing_command(self):
        message = error_of(self.device("/nonexistent/backend {socket}").start)
        self.assertIn("command '/nonexistent/backend' is not found", message)

    def test_a_backend_dying_during_the_run_is_noted(self):
        device = self.device(
            f"sh -c '{sys.executable} {self.script} \"$0\" & sleep 1; echo crashed; exit 9' {{socket}}")
        with device:
            device.process.wait(10)
        note = device.early_exit_note()
        self.assertIn("exited with status 9 before the run ended", note)
        self.assertIn("crashed", note)
        # What it left behind in its process group is gone too.
        time.sleep(0.2)
        self.assertEqual(_processes_naming(str(self.script)), [])


class RunRefuses(unittest.TestCase):
    def one_error_line(self, *args):
        done = subprocess.run([sys.executable, str(PROJECT_ROOT / "runner" / "vsockcheck"), "run", *args],
                              capture_output=True, text=True, timeout=60)
        self.assertEqual(done.returncode, 2, done.stdout + done.stderr)
        self.assertNotIn("Traceback", done.stderr)
        self.assertEqual(len(done.stderr.strip().splitlines()), 1, done.stderr)
        return done.stderr

    def test_before_any_boot(self):
        self.assertIn("unknown placeholder {guest}",
                      self.one_error_line("--topology", "g2h", "--device", "vhost-user:dev {socket} {guest}"))
        self.assertIn("topology nested has no vhost-user device",
                      self.one_error_line("--topology", "nested", "--device", "vhost-user:dev {socket}"))
        self.assertIn("topology g2g puts both guests on one device",
                      self.one_error_line("--topology", "g2g", "--device", "vhost-user:dev {socket}"))


# A stand-in for `vsockcheck run` in the matrix: records its arguments, then fails as a bad run does.
RECORDER = ("import json, os, sys\n"
            "with open(os.environ['RECORD'], 'a') as f: f.write(json.dumps(sys.argv[1:]) + '\\n')\n"
            "print('vsockcheck: error: recorded', file=sys.stderr)\n"
            "sys.exit(2)\n")


class MatrixPassesTheDevice(unittest.TestCase):
    def setUp(self):
        self.work = Path(tempfile.mkdtemp(prefix="vsc-test-device-matrix-"))
        self.addCleanup(shutil.rmtree, self.work, True)
        self.kernel = self.work / "vmlinuz-6.1.0-test"
        self.kernel.write_bytes(bzimage("6.1.0-test"))
        program = self.work / "run.py"
        program.write_text("#!" + sys.executable + "\n" + RECORDER)
        program.chmod(0o755)
        self.env = dict(os.environ, VSC_MATRIX_RUN_PROGRAM=str(program), RECORD=str(self.work / "runs"))

    def matrix(self, *args):
        return subprocess.run([sys.executable, str(PROJECT_ROOT / "runner" / "vsockcheck"), "matrix", "--kernel",
                               str(self.kernel), "--results", str(self.work / "m"), *args],
                              capture_output=True, text=True, env=self.env, timeout=60)

    def runs(self):
        return [json.loads(line) for line in (self.work / "runs").read_text().splitlines()]

    def test_each_run_gets_the_template(self):
        device = "vhost-user:dev {each:--vm {cid},{socket}}"
        done = self.matrix("--topology", "g2h", "--topology", "g2g", "--device", device)
        self.assertEqual(done.returncode, 1, done.stderr)
        runs = self.runs()
        self.assertEqual(len(runs), 2)
        for argv in runs:
            self.assertEqual(argv[argv.index("--device") + 1], device)

    def test_ours_adds_nothing(self):
        self.matrix("--topology", "g2h")
        self.assertNotIn("--device", self.runs()[0])

    def test_bad_device_stops_before_any_run(self):
        done = self.matrix("--topology", "loopback", "--device", "vhost-user:dev {socket}")
        self.assertEqual(done.returncode, 2)
        self.assertIn("topology loopback has no vhost-user device", done.stderr)
        self.assertFalse((self.work / "runs").exists())


def _processes_naming(text: str) -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
            except (OSError, IndexError):
                continue
            if text in cmdline and state != "Z" and "unittest" not in cmdline:
                found.append(f"{proc.name} {cmdline}")
    return found


if __name__ == "__main__":
    unittest.main()
