"""vsock-hostwrap against a fake hybrid bridge: an unmodified program's AF_VSOCK calls, caught by
seccomp user notification, become bridge traffic.

vsock-hostwrap-peer (tools/vsock-hostwrap/test_peer.c) makes the calls and prints a line per
check ("ok ..." / "not ok ..."); a Python fake plays the bridge (CONNECT/OK and an echo, or a close
for the guest's RST) and the guest connecting to the host's listener on <UDS>_<port>. The peer
refuses to run outside a seccomp filter, so no AF_VSOCK socket is made on this machine."""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import unittest
from pathlib import Path

from tests import bridge_rig
from tests.unix_server import UnixServer, read_line
from vsc.paths import GUEST_BIN_DIR

HOSTWRAP = GUEST_BIN_DIR / "vsock-hostwrap"
PEER = GUEST_BIN_DIR / "vsock-hostwrap-peer"
GUEST_CID = 3
ECHO_PORT, REFUSED_PORT = 1000, 1001
OWN_ERROR = 125
TIMEOUT_S = 60


class FakeBridge(UnixServer):
    """The bridge's UDS: CONNECT 1000 answers OK 41000 and echoes; any other port closes at once
    (the guest's RST)."""

    def __init__(self, path: Path):
        self.requests: list[bytes] = []
        super().__init__(path, backlog=16, threaded=True)

    def handle(self, conn):
        request = read_line(conn)
        self.requests.append(request)
        if request != b"CONNECT %d\n" % ECHO_PORT:
            return
        conn.sendall(b"OK 41000\n")
        while data := conn.recv(4096):
            conn.sendall(data)


class EchoServer(UnixServer):
    def handle(self, conn):
        while data := conn.recv(4096):
            conn.sendall(data)


def guest_connects(path: str) -> bytes:
    """What the device does for a guest's connect to CID 2 port P: connect to <UDS>_P; then the
    guest echoes what the host program sends ("hello")."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(20)
        s.connect(path)
        data = s.recv(5)
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        s.recv(1)  # the host's close
        return data


class Run:
    """vsock-hostwrap running the peer's `case`; its stdout read line by line."""

    def __init__(self, uds: Path, *args: str, bridge: Path | None = None):
        argv = [str(HOSTWRAP), "--bridge", str(bridge or uds), "--guest-cid", str(GUEST_CID),
                "--", str(PEER), *args]
        self.process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True)
        # Never a hang: a run that outlives its time is killed, and its checks then fail.
        self.watchdog = threading.Timer(TIMEOUT_S, self.process.kill)
        self.watchdog.start()
        self.lines: list[str] = []

    def wait_for(self, prefix: str) -> str:
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))
            if line.startswith(prefix):
                return line.rstrip("\n")
        raise AssertionError(f"the peer never printed {prefix!r}: {self.lines}")

    def finish(self) -> tuple[int, list[str], str]:
        out, err = self.process.communicate()
        self.watchdog.cancel()
        self.lines += out.splitlines()
        return self.process.returncode, self.lines, err


@unittest.skipUnless(HOSTWRAP.exists() and PEER.exists(), "vsock-hostwrap is not built: run make")
class HostWrap(unittest.TestCase):
    def setUp(self):
        self.tmp = Path(tempfile.mkdtemp(prefix="vsc-hostwrap-"))
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)
        self.uds = self.tmp / "bridge.sock"
        self.bridge = FakeBridge(self.uds)
        self.addCleanup(self.bridge.close)

    def listener(self, port) -> str:
        return f"{self.uds}_{port}"

    def assert_passed(self, run: Run, *, checks: int):
        code, lines, err = run.finish()
        failed = [line for line in lines if line.startswith("not ok")]
        self.assertEqual((code, failed), (0, []), f"stdout {lines}\nstderr {err}")
        self.assertEqual(len([line for line in lines if line.startswith("ok ")]), checks, lines)
        return lines, err

    def test_connect_carries_data_both_ways(self):
        lines, _ = self.assert_passed(Run(self.uds, "connect", str(GUEST_CID), str(ECHO_PORT)),
                                      checks=4)
        self.assertIn("local 2 41000", lines)  # the bridge's OK names the host end's port
        self.assertEqual(self.bridge.requests, [b"CONNECT 1000\n"])

    def test_refused_connect_is_econnreset_and_the_socket_connects_later(self):
        self.assert_passed(Run(self.uds, "refused", str(GUEST_CID), str(REFUSED_PORT),
                               str(ECHO_PORT)), checks=4)
        self.assertEqual(self.bridge.requests, [b"CONNECT 1001\n"] * 2 + [b"CONNECT 1000\n"])

    def test_other_cids_and_bad_addresses_never_reach_the_bridge(self):
        self.assert_passed(Run(self.uds, "other_cid", "7"), checks=8)
        self.assertEqual(self.bridge.requests, [])

    def test_bind_listen_accept_on_the_uds_port_path(self):
        # A dead listener's path from an earlier run is taken over.
        stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        stale.bind(self.listener(2000))
        stale.close()
        run = Run(self.uds, "listen", str(GUEST_CID), "2000")
        run.wait_for("listening 2000")
        self.assertEqual(guest_connects(self.listener(2000)), b"hello")
        self.assert_passed(run, checks=6)
        self.assertFalse(os.path.exists(self.listener(2000)), "the listener's path stays")

    def test_bind_port_any_picks_a_free_port(self):
        run = Run(self.uds, "listen", str(GUEST_CID), str(0xFFFFFFFF))
        port = int(run.wait_for("listening ").split()[1])
        self.assertGreaterEqual(port, 49152)
        self.assertEqual(guest_connects(self.listener(port)), b"hello")
        self.assert_passed(run, checks=8)

    def test_vsock_options_roundtrip(self):
        self.assert_passed(Run(self.uds, "sockopt"), checks=15)

    def test_seqpacket_and_dgram_are_refused_with_one_note_each(self):
        _, err = self.assert_passed(Run(self.uds, "types"), checks=5)
        self.assertEqual(err.count("SOCK_SEQPACKET): ESOCKTNOSUPPORT"), 1, err)
        self.assertEqual(err.count("SOCK_DGRAM): ESOCKTNOSUPPORT"), 1, err)

    def test_socket_flags_nonblocking_accept_and_local_cid(self):
        self.assert_passed(Run(self.uds, "flags", "2100"), checks=6)

    def test_exit_status_is_the_programs(self):
        for args, status in ((("exit", "0"), 0), (("exit", "3"), 3),
                             (("kill", "9"), 128 + 9), (("kill", "15"), 128 + 15)):
            with self.subTest(args=args):
                code, _, err = Run(self.uds, *args).finish()
                self.assertEqual(code, status, err)

    def test_other_families_are_untouched(self):
        echo = EchoServer(self.tmp / "echo.sock")
        self.addCleanup(echo.close)
        tcp = socket.create_server(("127.0.0.1", 0))
        self.addCleanup(tcp.close)

        def serve_tcp():
            conn, _ = tcp.accept()
            with conn:
                while data := conn.recv(4096):
                    conn.sendall(data)
        threading.Thread(target=serve_tcp, daemon=True).start()
        self.assert_passed(Run(self.uds, "native", str(self.tmp / "echo.sock"),
                               str(tcp.getsockname()[1])), checks=5)
        self.assertEqual(self.bridge.requests, [])

    def test_threads_connect_while_one_waits_in_accept(self):
        run = Run(self.uds, "threads", str(GUEST_CID), str(ECHO_PORT), "2001")
        run.wait_for("connectors done")
        self.assertEqual(guest_connects(self.listener(2001)), b"hello")
        self.assert_passed(run, checks=4 * 2 + 4)
        self.assertEqual(self.bridge.requests, [b"CONNECT 1000\n"] * 4)

    def test_connect_is_served_while_another_thread_waits_in_accept(self):
        run = Run(self.uds, "waiting_accept", str(GUEST_CID), str(ECHO_PORT), "2002")
        run.wait_for("connected while accepting")
        self.assertEqual(guest_connects(self.listener(2002)), b"hello")
        self.assert_passed(run, checks=2 + 4)

    def test_fork_child_connects_and_accepts_on_its_parents_listener(self):
        run = Run(self.uds, "fork", str(GUEST_CID), str(ECHO_PORT), "2003")
        run.wait_for("child connected")
        self.assertEqual(guest_connects(self.listener(2003)), b"hello")
        self.assert_passed(run, checks=2 + 4 + 2)

    def test_a_signal_ends_a_waiting_accept(self):
        run = Run(self.uds, "signal", str(GUEST_CID), "2004")
        run.wait_for("listening 2004")
        self.assertEqual(guest_connects(self.listener(2004)), b"hello")
        self.assert_passed(run, checks=1 + 4)

    def test_sigterm_goes_to_the_program_and_the_listener_path_goes(self):
        run = Run(self.uds, "wait", "2005")
        run.wait_for("listening 2005")
        run.process.send_signal(signal.SIGTERM)
        code, lines, err = run.finish()
        self.assertEqual(code, 128 + signal.SIGTERM, f"{lines} {err}")
        self.assertFalse(os.path.exists(self.listener(2005)))

    def test_an_unreachable_bridge_is_hostwraps_own_error(self):
        code, lines, err = Run(self.uds, "connect", str(GUEST_CID), str(ECHO_PORT),
                               bridge=self.tmp / "missing.sock").finish()
        self.assertEqual(code, OWN_ERROR, lines)
        self.assertRegex(err, r"connect\(fd \d+, CID 3 port 1000\) of pid \d+: bridge .*missing"
                              r"\.sock: cannot be reached: No such file or directory")

    def test_bad_command_lines_are_hostwraps_own_error(self):
        for argv in ([], ["--bridge", str(self.uds), "--", "true"],
                     ["--bridge", str(self.uds), "--guest-cid", "x", "--", "true"],
                     ["--bridge", "x" * 100, "--guest-cid", "3", "--", "true"]):
            with self.subTest(argv=argv):
                done = subprocess.run([str(HOSTWRAP), *argv], capture_output=True, text=True,
                                      timeout=TIMEOUT_S)
                self.assertEqual(done.returncode, OWN_ERROR)
                self.assertEqual(len(done.stderr.splitlines()), 1, done.stderr)

    def test_the_peer_refuses_to_run_without_the_filter(self):
        done = subprocess.run([str(PEER), "types"], capture_output=True, text=True,
                              timeout=TIMEOUT_S)
        self.assertEqual(done.returncode, 2)
        self.assertEqual(done.stdout, "")


WHY_NO_GUEST = bridge_rig.missing()


@unittest.skipUnless(HOSTWRAP.exists() and PEER.exists(), "vsock-hostwrap is not built: run make")
@unittest.skipIf(WHY_NO_GUEST, WHY_NO_GUEST)
class RealDevice(unittest.TestCase):
    def test_a_guest_on_our_device_and_a_wrapped_program_both_ways(self):
        with bridge_rig.Rig() as rig:
            rig.backend([GUEST_CID])
            uds = rig.uds(GUEST_CID)
            # The guest echoes on port 1234, then calls CID 2 port 2100 until the host listens
            # (each refused attempt is a connect the device answers with RST) and echoes there.
            guest = rig.guest(GUEST_CID, (
                "socat VSOCK-LISTEN:1234,fork EXEC:cat & "
                f"{bridge_rig.wait_listening(1234)}; echo READY; "
                "until socat -t 5 VSOCK-CONNECT:2:2100 EXEC:cat; do sleep 0.2; done; "
                "echo DONE; sleep 3600"))
            guest.wait_for("READY")
            code, lines, err = Run(uds, "connect", str(GUEST_CID), "1234").finish()
            self.assertEqual(code, 0, f"{lines} {err}")
            self.assertEqual([line for line in lines if line.startswith("not ok")], [])
            self.assertIn("ok data both ways", lines)
            code, lines, err = Run(uds, "listen", str(GUEST_CID), "2100").finish()
            self.assertEqual(code, 0, f"{lines} {err}")
            self.assertIn("ok data both ways on an accepted socket", lines)
            self.assertEqual([line for line in lines if line.startswith("not ok")], [])
            guest.wait_for("DONE")


if __name__ == "__main__":
    unittest.main()
