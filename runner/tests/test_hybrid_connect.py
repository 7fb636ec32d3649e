"""The CONNECT handshake of the hybrid-vsock bridge (Firecracker's protocol), against our
vhost-user vsock device and a real guest: what a host program sees for each way of dialling, and
that the device keeps serving afterwards.

The protocol (Firecracker docs/vsock.md): a host program connects to the VM's Unix socket and
writes "CONNECT <port>\\n", <port> a decimal 32-bit guest port. When the guest accepts, the device
answers "OK <host port>\\n" and relays from then on; otherwise it closes the stream without an
answer. So every case below ends in one of two ways for the host program: the exact OK line, or
a clean close (EOF, no bytes) within a bound, never a hang."""

import os
import re
import signal
import socket
import time
import unittest

from tests.bridge_rig import Rig, bridge_connect, missing, recv_all, wait_listening
from tests.unix_server import read_line

WHY_NOT = missing()
CID = 3
ECHO_PORT = 1234	# guest: echoes every connection (socat fork, room for 64 waiting)
GREET_PORT = 1235	# guest: writes "greet <its peer's port>" first, then closes
ABSENT_PORT = 4321	# guest: nobody listens
ANSWER_S = 30.0		# a host program's bound for any answer under TCG on a shared machine
OK_LINE = re.compile(rb"OK ([1-9][0-9]*)\n")

GUEST = (
    f"socat VSOCK-LISTEN:{ECHO_PORT},fork,backlog=64 EXEC:cat & "
    f"socat VSOCK-LISTEN:{GREET_PORT},fork SYSTEM:'echo greet $SOCAT_PEERPORT' & "
    f"{wait_listening(ECHO_PORT)}; {wait_listening(GREET_PORT)}; echo READY; sleep 3600")


def dial(uds, timeout: float = ANSWER_S) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(str(uds))
    return s


def ok_port(test: unittest.TestCase, line: bytes) -> int:
    match = OK_LINE.fullmatch(line)
    test.assertIsNotNone(match, f"not an 'OK <port>\\n' line: {line!r}")
    port = int(match.group(1))
    test.assertLess(port, 1 << 32, line)
    return port


@unittest.skipIf(WHY_NOT, WHY_NOT)
class Handshake(unittest.TestCase):
    """One guest with an echo and a greeting listener, shared by the cases; each case checks
    that the device still serves a fresh connection after it."""

    @classmethod
    def setUpClass(cls):
        cls.rig = Rig().__enter__()
        cls.addClassCleanup(cls.rig.__exit__, None, None, None)
        cls.rig.backend([CID])
        cls.uds = cls.rig.uds(CID)
        cls.guest = cls.rig.guest(CID, GUEST)
        cls.guest.wait_for("READY")

    def log_mark(self) -> int:
        return len(self.rig.backend_log())

    def log_since(self, mark: int) -> str:
        return self.rig.backend_log()[mark:]

    def assert_serves(self, payload: bytes = b"still-serving\n"):
        s, line = bridge_connect(self.uds, ECHO_PORT, timeout=ANSWER_S)
        with s:
            ok_port(self, line)
            s.sendall(payload)
            self.assertEqual(recv_exactly(s, len(payload)), payload)
        self.assertNotIn("dropping the connection", self.rig.backend_log())

    def assert_refused_without_answer(self, sent: bytes, why_in_log: str | None):
        """Sends `sent`, then reads: the device must close with no byte and no reset (it reads
        what it refuses: ECONNRESET would be a close over unread bytes), and log `why_in_log`."""
        mark = self.log_mark()
        with dial(self.uds) as s:
            s.sendall(sent)
            self.assertEqual(recv_all(s), b"", sent)
        if why_in_log:
            deadline = time.monotonic() + ANSWER_S
            while why_in_log not in self.log_since(mark) and time.monotonic() < deadline:
                time.sleep(0.05)  # the log is a plain file: nothing to wait on
            self.assertIn(why_in_log, self.log_since(mark), sent)

    def test_ok_line_syntax(self):
        """Expected: exactly b"OK <port>\\n", <port> decimal without sign or leading zero, below
        2^32, the port the guest sees as its peer's, and nothing else before the guest's first
        byte (the guest writes at once)."""
        s, line = bridge_connect(self.uds, GREET_PORT)
        with s:
            port = ok_port(self, line)
            self.assertEqual(recv_all(s), b"greet %d\n" % port)
        self.assert_serves()

    def test_connect_word_in_any_case(self):
        """Expected: the word is case-insensitive (Firecracker lowercases it), spaces before the
        port may repeat: each line gets an OK and relays."""
        for line in (b"connect %d\n", b"CoNnEcT   %d\n"):
            with dial(self.uds) as s:
                s.sendall(line % ECHO_PORT)
                ok_port(self, read_line(s))
                s.sendall(b"case\n")
                self.assertEqual(recv_exactly(s, 5), b"case\n")

    def test_line_and_data_in_one_write(self):
        """Expected: bytes after the newline in the same write are the guest's, none lost."""
        with dial(self.uds) as s:
            s.sendall(b"CONNECT %d\nfirst-bytes\n" % ECHO_PORT)
            ok_port(self, read_line(s))
            self.assertEqual(recv_exactly(s, 12), b"first-bytes\n")

    def test_line_split_across_writes(self):
        """Expected: a line arriving in pieces (Firecracker reads it from a stream) is one line:
        OK, then relaying. Pieces as small as one byte."""
        for pieces in ([b"CONN", b"ECT 12", b"34", b"\n"], [bytes([b]) for b in b"CONNECT 1234\n"]):
            with dial(self.uds) as s:
                for piece in pieces:
                    s.sendall(piece)
                    time.sleep(0.05)  # each piece a separate read on the device: not a wait
                ok_port(self, read_line(s))
                s.sendall(b"split\n")
                self.assertEqual(recv_exactly(s, 6), b"split\n")

    def test_client_closes_before_the_newline(self):
        """Expected: a host program that stops writing before the newline (half-close) gets a
        clean close with no answer; one that closes outright leaves the device serving (devices
        have crashed on this, issue 10)."""
        for partial in (b"", b"CONN", b"CONNECT", b"CONNECT 1234"):
            with dial(self.uds) as s:
                s.sendall(partial)
                s.shutdown(socket.SHUT_WR)
                self.assertEqual(recv_all(s), b"", partial)
            with dial(self.uds) as s:
                s.sendall(partial)
        self.assert_serves()

    def test_client_closes_right_after_the_newline(self):
        """Expected: the guest accepts, the OK cannot be delivered, the device resets the
        guest's side (logged) and goes on serving others."""
        mark = self.log_mark()
        for _ in range(4):
            with dial(self.uds) as s:
                s.sendall(b"CONNECT %d\n" % ECHO_PORT)
        self.assert_serves()
        self.assertIn("writing the OK line failed", self.log_since(mark))

    def test_connect_without_a_port(self):
        """Expected: "CONNECT" with no port (or only spaces) is malformed: closed, no answer."""
        for bad in (b"CONNECT\n", b"CONNECT \n", b"CONNECT   \n"):
            self.assert_refused_without_answer(bad, "malformed CONNECT line")
        self.assert_serves()

    def test_port_over_32_bits(self):
        """Expected: a port of 2^32 or more is malformed (guest ports are 32-bit): closed, no
        answer, the guest never asked. 2^32-1 is a well-formed line (here: nobody listens)."""
        for bad in (b"CONNECT 4294967296\n", b"CONNECT 18446744073709551617\n"):
            self.assert_refused_without_answer(bad, "malformed CONNECT line")
        self.assert_refused_without_answer(b"CONNECT 4294967295\n", None)
        self.assert_serves()

    def test_garbage(self):
        """Expected: anything not "CONNECT <digits>\\n" is closed with no answer; a line that
        never ends is cut at 32 bytes (no buffering without bound)."""
        for bad in (b"\x00\xff\xfe\n", b"GET / HTTP/1.1\r\n\r\n", b"CONNECT -1\n",
                    b"CONNECT 12a\n", b"CONNECT +5\n", b"HELLO 1234\n", b"x" * 100):
            self.assert_refused_without_answer(bad, "malformed CONNECT line")
        self.assert_serves()

    def test_guest_listener_absent(self):
        """Expected: the guest answers the REQUEST with RST; the host program sees a clean close
        with no OK line, within a bound (never a hang)."""
        for _ in range(3):
            s, line = bridge_connect(self.uds, ABSENT_PORT, timeout=ANSWER_S)
            with s:
                self.assertEqual(line, b"")
                self.assertEqual(recv_all(s), b"")
        self.assert_serves()

    def test_guest_that_never_answers(self):
        """Expected: with the guest frozen (QEMU stopped), the REQUEST gets no answer; the host
        program sees a clean close once the device gives up (VU_BRIDGE_RESPONSE_MS), not a
        hang; the guest's late answer, once it runs again, is reset and the device serves on."""
        mark = self.log_mark()
        os.killpg(self.guest.guest.process.pid, signal.SIGSTOP)
        try:
            s, line = bridge_connect(self.uds, ECHO_PORT, timeout=ANSWER_S)
            with s:
                self.assertEqual(line, b"")
        finally:
            os.killpg(self.guest.guest.process.pid, signal.SIGCONT)
        self.assertIn("did not answer within", self.log_since(mark))
        self.assert_serves()

    def test_rapid_redials(self):
        """Expected: dialling the same guest port again as soon as the last stream closed works
        every time (no stale connection in the way), with an OK each time."""
        for i in range(20):
            s, line = bridge_connect(self.uds, ECHO_PORT, timeout=ANSWER_S)
            with s:
                ok_port(self, line)
                s.sendall(b"redial %02d\n" % i)
                self.assertEqual(recv_exactly(s, 10), b"redial %02d\n" % i)

    def test_many_concurrent_connects(self):
        """Expected: 32 host programs dialling at once each get their own OK with distinct host
        ports, and each stream relays its own bytes only."""
        streams = []
        try:
            for _ in range(32):
                s = dial(self.uds, timeout=ANSWER_S * 2)
                streams.append(s)
                s.sendall(b"CONNECT %d\n" % ECHO_PORT)
            ports = [ok_port(self, read_line(s)) for s in streams]
            self.assertEqual(len(set(ports)), len(ports), ports)
            for i, s in enumerate(streams):
                s.sendall(b"stream %02d\n" % i)
            for i, s in enumerate(streams):
                self.assertEqual(recv_exactly(s, 10), b"stream %02d\n" % i)
        finally:
            for s in streams:
                s.close()
        self.assert_serves()


@unittest.skipIf(WHY_NOT, WHY_NOT)
class BeforeTheGuest(unittest.TestCase):
    def test_connect_before_the_guest_driver_is_up(self):
        """Expected: with the device running and no guest (then a guest still booting), every
        dial ends in a clean close with no answer, at once; once the guest listens, the same
        device answers OK and relays."""
        with Rig() as rig:
            rig.backend([CID])
            uds = rig.uds(CID)
            s, line = bridge_connect(uds, ECHO_PORT, timeout=ANSWER_S)
            with s:
                self.assertEqual(line, b"")
            self.assertIn("but no guest running", rig.backend_log())
            guest = rig.guest(CID, GUEST)
            dials = 0
            while "READY" not in guest.text():
                s, line = bridge_connect(uds, ECHO_PORT, timeout=ANSWER_S)
                with s:
                    if line:  # the guest listened already: then the OK must be exact
                        ok_port(self, line)
                dials += 1
                time.sleep(0.2)  # pace the dials; the loop ends on the guest's READY
            guest.wait_for("READY")
            self.assertGreater(dials, 0)
            s, line = bridge_connect(uds, ECHO_PORT, timeout=ANSWER_S)
            with s:
                ok_port(self, line)
                s.sendall(b"booted\n")
                self.assertEqual(recv_exactly(s, 7), b"booted\n")
            self.assertNotIn("dropping the connection", rig.backend_log())


def recv_exactly(s: socket.socket, n: int) -> bytes:
    got = b""
    while len(got) < n and (chunk := s.recv(n - len(got))):
        got += chunk
    return got


if __name__ == "__main__":
    unittest.main()
