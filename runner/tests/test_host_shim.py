"""vsockcheck-host's shim against a fake hybrid bridge: AF_VSOCK calls become bridge traffic.

vsc-host-shimtest holds the shim's own cases; a Python fake plays the bridge (CONNECT/OK, or a
close for the guest's RST) and the guest connecting to the host's listener on <UDS>_<port>."""

import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import unittest
from pathlib import Path

from tests.unix_server import UnixServer, read_line
from vsc.ktap import Parser
from vsc.paths import GUEST_BIN_DIR

SHIMTEST = GUEST_BIN_DIR / "vsc-host-shimtest"
HOST_PROGRAM = GUEST_BIN_DIR / "vsockcheck-host"
GUEST_CID = 3
UNMAPPABLE = "g2h: the host end is a Unix socket through the hybrid bridge: "


class FakeBridge(UnixServer):
    """The bridge's UDS: ports 1000 and 1003 answer OK 41000 and echo, port 1001 closes at once,
    port 1002 answers OK 41002 and closes (the guest shut down and reset)."""

    def __init__(self, path: Path):
        self.requests: list[bytes] = []
        super().__init__(path, threaded=True)

    def handle(self, conn):
        request = read_line(conn)
        self.requests.append(request)
        if request == b"CONNECT 1002\n":
            conn.sendall(b"OK 41002\n")
            return
        if request not in (b"CONNECT 1000\n", b"CONNECT 1003\n"):
            return
        conn.sendall(b"OK 41000\n")
        while data := conn.recv(4096):
            conn.sendall(data)


def guest_connects(path: Path, got: dict):
    """The guest side of a connect to CID 2 port 2000: the bridge connects to <UDS>_2000."""
    target = f"{path}_2000"
    deadline = time.monotonic() + 20
    while not os.path.exists(target) and time.monotonic() < deadline:
        time.sleep(0.02)  # the case creates the listener; nothing else announces it
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(target)
        s.sendall(b"hello")
        got["reply"] = s.recv(5)


@unittest.skipUnless(SHIMTEST.exists(), f"{SHIMTEST} is not built: run make")
class HostShim(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = Path(tempfile.mkdtemp(prefix="vsc-shim-"))
        cls.uds = cls.tmp / "bridge.sock"
        cls.bridge = FakeBridge(cls.uds)
        cls.guest = {}
        guest = threading.Thread(target=guest_connects, args=(cls.uds, cls.guest), daemon=True)
        guest.start()
        argv = [str(SHIMTEST), "--bridge", str(cls.uds), "--peer-cid", str(GUEST_CID)]
        if shutil.which("strace"):
            cls.trace = cls.tmp / "strace.log"
            argv = ["strace", "-f", "-qq", "-e", "trace=socket", "-o", str(cls.trace), *argv]
        else:
            cls.trace = None
        cls.done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        guest.join(timeout=5)
        parser = Parser()
        for line in cls.done.stdout.splitlines():
            parser.feed(line)
        cls.report = parser.finish()
        cls.cases = {r.name: r for r in cls.report.results}

    @classmethod
    def tearDownClass(cls):
        cls.bridge.close()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def assert_status(self, name, status, reason=None):
        case = self.cases[name]
        self.assertEqual(case.status, status, f"{name}: {case.reason}\n" + "\n".join(case.diagnostics))
        if reason is not None:
            self.assertEqual(case.reason, reason)

    def test_every_case_reported(self):
        self.assertEqual(self.report.problems, [])
        self.assertEqual(len(self.cases), 15, self.done.stdout)

    def test_connect_writes_connect_and_reads_ok(self):
        self.assert_status("shim_connect_echo", "pass")
        self.assertIn(b"CONNECT 1000\n", self.bridge.requests)

    def test_bridge_closing_without_ok_is_econnreset(self):
        self.assert_status("shim_connect_reset", "pass")
        self.assertEqual(self.bridge.requests.count(b"CONNECT 1001\n"), 2)

    def test_listener_is_the_uds_port_path(self):
        self.assert_status("shim_listen_accept", "pass")
        self.assertEqual(self.guest.get("reply"), b"world")
        # The path stays (a forked child may hold the listener), dead: it refuses, as vsock would.
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        with probe, self.assertRaises(ConnectionRefusedError):
            probe.connect(f"{self.uds}_2000")

    def test_bad_addresses_fail_with_the_kernels_errnos(self):
        self.assert_status("shim_bad_addresses", "pass")

    def test_send_and_recv_flags_as_vsock_takes_them(self):
        self.assert_status("shim_send_flags", "pass")

    def test_pollhup_only_after_our_shut_wr(self):
        self.assert_status("shim_poll_peer_hangup", "pass")

    def test_threads_connecting_one_socket_send_one_connect(self):
        self.assert_status("shim_connect_race", "pass")
        self.assertEqual(self.bridge.requests.count(b"CONNECT 1003\n"), 1)

    def test_unmappable_calls_skip_with_the_reason(self):
        self.assert_status("shim_skip_seqpacket_socket", "skip", UNMAPPABLE + "SOCK_SEQPACKET has no equivalent")
        self.assert_status("shim_skip_vsock_sockopt", "skip",
                           UNMAPPABLE + "SO_VM_SOCKETS_BUFFER_SIZE has no equivalent")
        self.assert_status("shim_skip_ioctl", "skip",
                           UNMAPPABLE + "ioctl(SIOCOUTQ) (the guest's unsent bytes) has no equivalent")
        self.assert_status("shim_skip_accept_address", "skip",
                           UNMAPPABLE + "the guest's port on an accepted connection (accept()'s address) "
                           "has no equivalent")
        self.assert_status("shim_skip_nonblocking_connect", "skip",
                           UNMAPPABLE + "a non-blocking connect() (the bridge's CONNECT handshake blocks) "
                           "has no equivalent")
        self.assert_status("shim_skip_other_cid", "skip",
                           UNMAPPABLE + f"connect() to CID {GUEST_CID + 1} (the bridge reaches CID {GUEST_CID} "
                           "only) has no equivalent")

    def test_needs_are_answered_for_the_bridge(self):
        self.assert_status("shim_need_seqpacket", "skip", UNMAPPABLE + "SOCK_SEQPACKET has no equivalent")
        self.assert_status("shim_min_kver_is_the_guests", "pass")

    def test_no_vsock_socket_is_opened_here(self):
        if not self.trace:
            self.skipTest("strace is not installed")
        calls = self.trace.read_text()
        self.assertIn("socket(AF_UNIX", calls)
        self.assertNotIn("AF_VSOCK", calls)


class HostProgramCommandLine(unittest.TestCase):
    @unittest.skipUnless(HOST_PROGRAM.exists(), f"{HOST_PROGRAM} is not built: run make")
    def test_bridge_is_required_and_solo_refused(self):
        done = subprocess.run([str(HOST_PROGRAM), "--split", "client", "--control-fd", "0"],
                              capture_output=True, text=True)
        self.assertEqual(done.returncode, 2)
        self.assertIn("--bridge is required", done.stderr)
        done = subprocess.run([str(HOST_PROGRAM), "--solo"], capture_output=True, text=True)
        self.assertEqual(done.returncode, 2)

    @unittest.skipUnless(HOST_PROGRAM.exists(), f"{HOST_PROGRAM} is not built: run make")
    def test_same_cases_as_the_guest_program(self):
        guest = subprocess.run([str(GUEST_BIN_DIR / "vsockcheck-tests"), "--list"], capture_output=True,
                               text=True, check=True)
        host = subprocess.run([str(HOST_PROGRAM), "--list"], capture_output=True, text=True, check=True)
        self.assertEqual(host.stdout, guest.stdout)


if __name__ == "__main__":
    unittest.main()


@unittest.skipUnless(HOST_PROGRAM.exists(), f"{HOST_PROGRAM} is not built: run make")
class HostProgramFollowsTheGuestKernel(unittest.TestCase):
    """Errnos and known bugs are judged by the kernel under test, which the guest side names."""

    def hello_from(self, kernel: str) -> str:
        ours, theirs = socket.socketpair()
        with tempfile.TemporaryDirectory(prefix="vsc-shim-") as tmp:
            host = subprocess.Popen(
                [str(HOST_PROGRAM), "--split", "client", "--control-fd", str(theirs.fileno()),
                 "--bridge", str(Path(tmp) / "bridge.sock"), "--peer-cid", str(GUEST_CID),
                 "--pick", "connect_no_listener"],
                pass_fds=[theirs.fileno()], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            theirs.close()
            ours.sendall(f"HELLO vsockcheck-split 2 server solo 1 {kernel}\n".encode())
            ours.recv(4096)  # the host side's own HELLO
            ours.close()     # then leave: the case reports the side gone
            out, _ = host.communicate(timeout=30)
        return out

    def test_host_side_adopts_the_guest_version(self):
        self.assertIn("# split: expectations follow the server side's kernel, 5.10.262", self.hello_from("5.10.262"))

    def test_a_version_that_is_no_version_is_an_error(self):
        out = self.hello_from("banana")
        self.assertIn("the server side's kernel version \"banana\" is not a version", out)
