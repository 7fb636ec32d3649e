"""The g2g and g2h topologies: their command lines, the peer port in the guest, and picked cases
run for real across two guests and across a guest and the host program."""

import dataclasses
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import types
import unittest
from pathlib import Path
from unittest import mock

from tests import processes
from tests import test_pcap_decode
from tests.test_guest_runs import Run, default_kernel_cached
from vsc import initramfs, kernels, qemu, topology, topology_g2g, topology_g2h
from vsc import vhost_user_device
from vsc.catalogue import Case
from vsc.cli import DEFAULT_KERNEL
from vsc.topology import RunRequest
from vsc.paths import GUEST_BIN_DIR, PROJECT_ROOT

VSOCKCHECK = PROJECT_ROOT / "runner" / "vsockcheck"
# A few cases that need both sides: a transfer, a shutdown, a refused connect (one process, to
# the peer's CID), a connect to a bound socket that does not listen.
PICKED = ("stream_msg_peek", "shutdown_wr", "connect_no_listener", "connect_bound_not_listening")


def init_functions() -> str:
    """The shell functions of guest_init.sh and guest_lib.sh (name() { ... }), without the rest."""
    text = "\n".join((PROJECT_ROOT / "runner" / "vsc" / name).read_text() for name in ("guest_lib.sh", "guest_init.sh"))
    return "\n".join(re.findall(r"^[a-z_]+\(\) \{\n.*?^\}$", text, re.M | re.S))


class CommandLines(unittest.TestCase):
    SELECTION = ["--pick", "stream_*", "--skip", "stream_msg_oob"]

    def option(self, argv: list[str], name: str) -> str:
        return argv[argv.index(name) + 1]

    def test_g2g_guests_name_each_other(self):
        a = topology_g2g.test_args_a(self.SELECTION)
        b = topology_g2g.test_args_b(self.SELECTION)
        self.assertEqual(a[:3], ["--split", "server", "--solo"])
        self.assertEqual(b[:2], ["--split", "client"])
        self.assertNotIn("--solo", b)
        for argv, own, peer in ((a, "3", "4"), (b, "4", "3")):
            self.assertEqual(self.option(argv, "--peer-cid"), peer)
            self.assertEqual(self.option(argv, "--local-cid"), own)
            self.assertEqual(self.option(argv, "--device-cid"), own)
            self.assertEqual(self.option(argv, "--control"), topology.PEER_PORT_WORD)
            self.assertEqual(argv[-4:], self.SELECTION)
        self.assertEqual(self.option(a, "--port-base"), self.option(b, "--port-base"))

    def test_g2h_guest_and_host_program(self):
        guest = topology_g2h.test_args(self.SELECTION)
        host = topology_g2h.host_argv(7, Path("/run/x/bridge.sock"), self.SELECTION)
        self.assertEqual(guest[:3], ["--split", "server", "--solo"])
        self.assertEqual((self.option(guest, "--peer-cid"), self.option(guest, "--local-cid"),
                          self.option(guest, "--device-cid")), ("2", "3", "3"))
        self.assertEqual(host[0], str(GUEST_BIN_DIR / "vsockcheck-host"))
        self.assertEqual(host[1:3], ["--split", "client"])
        self.assertNotIn("--solo", host)
        self.assertEqual(self.option(host, "--control-fd"), "7")
        self.assertEqual(self.option(host, "--bridge"), "/run/x/bridge.sock")
        self.assertEqual((self.option(host, "--peer-cid"), self.option(host, "--local-cid")), ("3", "2"))
        self.assertIn("--no-kernel-log", host)
        self.assertEqual(self.option(host, "--port-base"), self.option(guest, "--port-base"))
        self.assertEqual(host[-4:], self.SELECTION)

    def test_peer_port_waits_for_the_relay(self):
        argv = qemu.guest_argv(vmlinuz=Path("/k"), initrd=Path("/i"), ktap_path=Path("/o/ktap"),
                               console_log=Path("/o/console.log"), peer_socket=Path("/w/a,b.sock"))
        chardevs = [argv[i + 1] for i, arg in enumerate(argv) if arg == "-chardev"]
        self.assertIn("socket,id=vsc_peer,path=/w/a,,b.sock,server=on,wait=on", chardevs)
        devices = [argv[i + 1] for i, arg in enumerate(argv) if arg == "-device"]
        self.assertIn("virtserialport,bus=vsc_serial.0,chardev=vsc_peer,name=vsockcheck.peer", devices)
        # Without a peer there is no second port.
        plain = qemu.guest_argv(vmlinuz=Path("/k"), initrd=Path("/i"), ktap_path=Path("/o/ktap"),
                                console_log=None)
        self.assertNotIn("vsockcheck.peer", " ".join(plain))

    def test_run_conf_placeholder_becomes_the_port(self):
        # What the runner writes into run.conf, sourced and substituted by guest_init.sh's own function.
        conf = initramfs.run_config_text({"TEST_ARGS": " ".join(topology_g2g.test_args_b(["--pick", "a*"]))})
        script = (init_functions() + f"\nPEER_PORT_WORD={topology.PEER_PORT_WORD}\n" + conf
                  + 'with_peer_port "$TEST_ARGS" /dev/vport1p2\n')
        done = subprocess.run(["busybox", "sh", "-c", script], capture_output=True, text=True, timeout=10)
        self.assertEqual(done.stderr, "")
        words = done.stdout.split()
        self.assertEqual(words[words.index("--control") + 1], "/dev/vport1p2")
        self.assertNotIn(topology.PEER_PORT_WORD, done.stdout)
        self.assertEqual(words[-2:], ["--pick", "a*"])


class CommandLineErrors(unittest.TestCase):
    def one_error_line(self, *args: str) -> str:
        done = subprocess.run([sys.executable, str(VSOCKCHECK), "run", *args], capture_output=True,
                              text=True, timeout=60)
        self.assertEqual(done.returncode, 2, done.stdout + done.stderr)
        lines = done.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, done.stderr)
        return lines[0]

    def test_peer_modes_need_a_peer_guest(self):
        self.assertIn("only topology g2g", self.one_error_line("--guest-mode", "peer-panic", "--topology", "g2h"))


def multi_vm_backend() -> bool:
    """Whether the backend serves several VMs (the engine's VmPort API)."""
    return hasattr(vhost_user_device, "VmPort") and vhost_user_device.program().exists()


def split_programs() -> bool:
    """Whether the test programs take --split (the guest's and the host's)."""
    program = GUEST_BIN_DIR / "vsockcheck-tests"
    if not program.exists() or not (GUEST_BIN_DIR / "vsockcheck-host").exists():
        return False
    done = subprocess.run([str(program), "--help"], capture_output=True, text=True)
    return "--split" in done.stdout + done.stderr


@dataclasses.dataclass(frozen=True)
class FakeVmPort:
    """The contract's VmPort, for the stand-in backend."""

    cid: int
    socket_path: Path
    uds_path: Path | None = None


class FakeBackend:
    """Stands in for the multi-VM backend: a process to start and stop, and no device for QEMU, so
    the g2g topology's own work (two guests, the relay, stopping B, the notes) runs without it."""

    def __init__(self, vms, log, pcap=None, device=None):
        self.vms, self.log = vms, log

    def early_exit_note(self):
        return None

    def qemu_args(self, cid):
        return []

    def __enter__(self):
        # Named after the run's socket paths, so the leftover check sees it.
        self.process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)",
                                         *(str(vm.socket_path) for vm in self.vms)])
        return self

    def __exit__(self, *exc):
        self.process.terminate()
        self.process.wait()


FAKE_SPLIT = textwrap.dedent("""\
    #!/bin/sh
    # Stands in for vsockcheck-tests --split: one case; the server says hello, the client answers.
    while [ $# -gt 0 ]; do
        case $1 in
        --split) role=$2; shift ;;
        --control) port=$2; shift ;;
        esac
        shift
    done
    echo "KTAP version 1"
    echo "1..1"
    echo "# vsockcheck: begin 1 echo timeout=10"
    exec 4<>"$port"
    # The client speaks first: a read sees a vanished peer at once (end of file), while a write
    # to a port whose host end is closed would block until the case's timeout.
    if [ "$role" = server ]; then
        if read -r heard <&4; then echo "answer to $heard" >&4; echo "ok 1 echo"
        else echo "not ok 1 echo # the peer has gone"; fi
    else
        echo hello >&4
        read -r heard <&4
        echo "ok 1 echo"
    fi
    """)


@unittest.skipUnless(default_kernel_cached(), f"{DEFAULT_KERNEL} is not cached")
class G2gOrchestration(unittest.TestCase):
    """topology_g2g.run with a stand-in backend and test program: what it does with two guests."""

    def setUp(self):
        self.top = Path(tempfile.mkdtemp(prefix="vsc-test-g2g-"))
        self.addCleanup(shutil.rmtree, self.top, True)
        program = self.top / "vsockcheck-tests"
        program.write_text(FAKE_SPLIT)
        fake_device = types.SimpleNamespace(VmPort=FakeVmPort, VhostUserDevice=FakeBackend)
        for patcher in (mock.patch.object(topology_g2g, "vhost_user_device", fake_device),
                        mock.patch.object(topology, "TEST_PROGRAM", program),
                        mock.patch.object(topology, "GUEST_TOOLS", ())):
            patcher.start()
            self.addCleanup(patcher.stop)
        self.work, self.out = self.top / "work", self.top / "out"
        self.work.mkdir()
        self.out.mkdir()
        self.fds_before = set(os.listdir("/proc/self/fd"))

    def run_g2g(self, mode="suite", boot_timeout_s=60.0):
        request = RunRequest(kernel=kernels.resolve(DEFAULT_KERNEL, fetch=False),
                             cases=[Case("echo", "stream", "server+client", "", 10, "", ())], selection=[],
                             workdir=self.work, results_dir=self.out, mode=mode, accel="tcg",
                             boot_timeout_s=boot_timeout_s)
        return topology_g2g.run(request, lambda result: None)

    def assert_nothing_left(self):
        self.assertEqual(processes.naming(self.top), [])
        self.assertEqual([t.name for t in threading.enumerate() if t.name == "vsc-peer-relay"], [])
        self.assertEqual(set(os.listdir("/proc/self/fd")), self.fds_before, "a descriptor leaked")

    def test_both_guests_run_and_b_is_logged(self):
        done = self.run_g2g()
        self.assertEqual([(r.name, r.status) for r in done.guest.report.results], [("echo", "pass")])
        self.assertEqual(done.notes, [])
        self.assertIn("# vsockcheck-guest: exit=0", (self.out / "guest-b.ktap").read_text())
        transcript = (self.out / "peer-transcript.txt").read_text()
        self.assertIn("guest-b > guest-a b'hello\\n'", transcript)
        self.assertIn("guest-a > guest-b b'answer to hello\\n'", transcript)
        self.assertEqual([what for what, _ in done.commands], ["QEMU guest A", "QEMU guest B", "backend"])
        for name in done.files:
            if name not in ("backend.log", "capture.pcap"):  # written by the real backend only
                self.assertTrue((self.out / name).exists(), name)
        self.assert_nothing_left()

    def test_a_panicking_peer_is_noted_with_its_console(self):
        started = time.monotonic()
        done = self.run_g2g(mode="peer-panic")
        self.assertLess(time.monotonic() - started, 60)
        result = done.guest.report.results[0]
        self.assertEqual((result.status, result.reason), ("fail", "the peer has gone"))
        self.assertEqual(len(done.notes), 1)
        self.assertIn("guest B (CID 4, the client role) did not finish: its kernel panicked", done.notes[0])
        self.assertIn("guest-b-console.log", done.notes[0])
        self.assertIn(done.notes[0], done.guest.report.problems)
        self.assertIn("guest-b closed its end", (self.out / "peer-transcript.txt").read_text())
        self.assert_nothing_left()

    def test_a_hanging_peer_is_stopped_when_a_ends(self):
        done = self.run_g2g(mode="peer-hang")
        self.assertEqual(done.guest.report.results[0].status, "timeout")
        self.assertIn("it was still running when the other side had finished, and was stopped", done.notes[0])
        self.assert_nothing_left()

    def test_an_interrupt_stops_every_process_and_thread(self):
        def interrupt_when_both_guests_run():
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                if len([c for c in processes.naming(self.top) if "qemu-system" in c]) == 2:
                    break
                time.sleep(0.05)
            time.sleep(0.5)  # let the relay start: the interrupt must find everything running
            os.kill(os.getpid(), signal.SIGINT)
        # Ctrl-C's own handler, even where the test runs with SIGINT ignored (a background job).
        self.addCleanup(signal.signal, signal.SIGINT, signal.signal(signal.SIGINT, signal.default_int_handler))
        threading.Thread(target=interrupt_when_both_guests_run).start()
        with self.assertRaises(KeyboardInterrupt):
            self.run_g2g(mode="hang", boot_timeout_s=120)
        self.assert_nothing_left()


class TopologyRun(Run):
    """One `vsockcheck run --topology T` with a private TMPDIR and results directory under `top`."""

    def __init__(self, top: Path, *args: str):
        super().__init__(*args, top=top)

    def leftovers(self) -> list[str]:
        """Processes still naming this run's directories, and files left in its TMPDIR."""
        return processes.naming(self.top) + [str(p) for p in self.tmp.iterdir()]


@unittest.skipUnless(default_kernel_cached(), f"{DEFAULT_KERNEL} is not cached")
@unittest.skipUnless(multi_vm_backend(), "the backend does not serve several VMs yet (branch engine)")
@unittest.skipUnless(split_programs(), "the test programs take no --split yet, or vsockcheck-host is missing (branch split)")
class SplitTopologies(unittest.TestCase):
    def setUp(self):
        self.top = Path(tempfile.mkdtemp(prefix="vsc-test-topo-"))
        self.addCleanup(shutil.rmtree, self.top, True)

    def picked(self, topology_name: str, *more: str) -> TopologyRun:
        run = TopologyRun(self.top, "--topology", topology_name, *more,
                          *(arg for name in PICKED for arg in ("--pick", name)))
        done = run.run()
        self.done = done
        self.assertNotIn("Traceback", done.stderr)
        self.assertIn(done.returncode, (0, 1), done.stdout + done.stderr)
        return run

    def assert_all_pass(self, run: TopologyRun) -> None:
        cases = run.cases()
        self.assertEqual(set(cases), set(PICKED))
        for name, case in cases.items():
            self.assertEqual(case["status"], "pass", f"{name}: {case['reason']} {case['diagnostics']}")
        self.assertEqual(self.done.returncode, 0)
        self.assertEqual(run.leftovers(), [])

    def test_g2g_picked_cases_pass_and_logs_are_kept(self):
        run = self.picked("g2g", "--show-command")
        self.assert_all_pass(run)
        for name in ("backend.log", "peer-transcript.txt", "guest-b.ktap", "guest-b-console.log"):
            self.assertTrue((run.results / name).stat().st_size > 0, name)
        self.assertIn("# vsockcheck-guest: exit=0", (run.results / "guest-b.ktap").read_text())
        shown = [line for line in self.done.stdout.splitlines() if line.startswith(("QEMU", "backend"))]
        self.assertEqual([line.split(":")[0] for line in shown], ["QEMU guest A", "QEMU guest B", "backend"])
        backend = shlex.split(shown[2].split(":", 1)[1])
        self.assertEqual(backend[backend.index("--vm") + 1].split(",")[0], "cid=3")
        self.assertNotIn("--pcap", backend)

    def test_g2g_capture_records_the_packets_and_tshark_decodes_them(self):
        run = TopologyRun(self.top, "--topology", "g2g", "--capture", "--pick", "connect_bound_not_listening")
        done = run.run()
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)
        self.assertIn("capture.pcap", done.stdout)
        if not test_pcap_decode.TSHARK:
            self.skipTest("tshark is not installed (Debian package tshark; make deps)")
        with tempfile.TemporaryDirectory(prefix="vsockcheck-pcap-") as work:
            records = test_pcap_decode.decode(run.results / "capture.pcap", work)
        self.assertEqual([r for r in records if r["_ws.malformed"]], [])
        # Guest B (CID 4, the client) asks guest A's bound port; A's kernel refuses with RST.
        route = [(r["vsock.src_cid"], r["vsock.dst_cid"], r["vsock.virtio.op"]) for r in records]
        self.assertIn(("4", "3", "1"), route, route)   # REQUEST
        self.assertIn(("3", "4", "3"), route, route)   # RST

    def test_g2h_picked_cases_pass_and_logs_are_kept(self):
        run = self.picked("g2h", "--show-command")
        self.assert_all_pass(run)
        for name in ("backend.log", "peer-transcript.txt", "host-program.log"):
            self.assertTrue((run.results / name).stat().st_size > 0, name)
        self.assertFalse((run.results / "capture.pcap").exists())
        self.assertTrue(any(line.startswith("host program: ") for line in self.done.stdout.splitlines()))

    def test_g2h_with_the_host_as_server_the_guest_connects_to_cid_2(self):
        run = self.picked("g2h", "--host-role", "server", "--show-command")
        self.assert_all_pass(run)
        host = [line for line in self.done.stdout.splitlines() if line.startswith("host program: ")]
        self.assertIn("--split server", host[0])
        # The guest's connects reached the host program's listeners through <uds>_<port>.
        self.assertRegex((run.results / "backend.log").read_text(), r"bridge\.sock_\d+")

    def test_g2g_peer_panic_is_reported_and_does_not_hang_the_run(self):
        run = TopologyRun(self.top, "--topology", "g2g", "--guest-mode", "peer-panic", "--pick", "shutdown_wr")
        started = time.monotonic()
        done = run.run()
        self.assertLess(time.monotonic() - started, 120)
        self.assertEqual(done.returncode, 1, done.stdout + done.stderr)
        self.assertNotEqual(run.cases()["shutdown_wr"]["status"], "pass")
        problems = json.loads((run.results / "results.json").read_text())["guest"]["problems"]
        note = next((p for p in problems if p.startswith("guest B")), "")
        self.assertIn("kernel panicked", note)
        self.assertIn("guest-b-console.log", note)
        self.assertIn("guest B (CID 4, the client role) did not finish", done.stdout)
        self.assertEqual(run.leftovers(), [])

    def test_interrupting_g2g_leaves_nothing_behind(self):
        run = TopologyRun(self.top, "--topology", "g2g", "--guest-mode", "hang", "--boot-timeout", "120",
                          "--pick", "shutdown_wr")
        # A background job inherits SIGINT ignored; the runner must see it as Ctrl-C does.
        proc = subprocess.Popen(run.argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=run.env,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        deadline = time.monotonic() + 60
        while len([c for c in processes.naming(run.top) if "qemu-system" in c]) < 2:
            self.assertLess(time.monotonic(), deadline, "the two guests never started")
            time.sleep(0.1)
        self.assertTrue(any("vhost-user-vsock" in c for c in processes.naming(run.top)))
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
        self.assertEqual(proc.returncode, 130, err)
        self.assertNotIn("Traceback", err)
        self.assertEqual(run.leftovers(), [])


if __name__ == "__main__":
    unittest.main()
