"""Tests for vsc.peer_relay: bytes both ways, the transcript, and a clean end on either side's close."""

import os
import shutil
import socket
import tempfile
import threading
import time
import unittest
from pathlib import Path

from vsc import peer_relay
from vsc.errors import UserError
from vsc.peer_relay import End, PeerRelay


def open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


def recv_exactly(sock: socket.socket, size: int) -> bytes:
    sock.settimeout(5)
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            break
        data += chunk
    return data


def wait_until(predicate, what: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        time.sleep(0.01)


class RelayTest(unittest.TestCase):
    def setUp(self):
        self.tmp = Path(tempfile.mkdtemp(prefix="vsc-test-relay-"))
        self.addCleanup(shutil.rmtree, self.tmp)
        self.fds_before = open_fds()
        self.threads_before = threading.active_count()
        # Each end of the relay faces one socketpair; the test holds the far sides.
        self.guest_a, relay_a = socket.socketpair()
        self.guest_b, relay_b = socket.socketpair()
        self.transcript = self.tmp / "peer-transcript.txt"
        self.relay = PeerRelay(End("guest-a", relay_a), End("guest-b", relay_b), self.transcript)

    def tearDown(self):
        self.relay.stop()
        self.guest_a.close()
        self.guest_b.close()
        self.assertEqual(threading.active_count(), self.threads_before, "the relay thread outlived stop()")
        self.assertEqual(open_fds(), self.fds_before, "a descriptor leaked")

    def test_bytes_cross_both_ways_and_are_written_down(self):
        with self.relay:
            self.guest_a.sendall(b"B listening\n")
            self.assertEqual(recv_exactly(self.guest_b, 12), b"B listening\n")
            self.guest_b.sendall(b"V port 20001\n")
            self.assertEqual(recv_exactly(self.guest_a, 13), b"V port 20001\n")
        lines = self.transcript.read_text().splitlines()
        self.assertTrue(lines[0].startswith("# peer channel guest-a <-> guest-b"))
        self.assertRegex(lines[1], r"^\s*\d+\.\d{3} guest-a > guest-b b'B listening\\n'$")
        self.assertRegex(lines[2], r"^\s*\d+\.\d{3} guest-b > guest-a b'V port 20001\\n'$")
        self.assertIn("the runner stopped the relay", lines[-1])
        self.assertEqual(self.relay.bytes, {"guest-a": 12, "guest-b": 13})

    def test_a_large_transfer_arrives_whole_and_in_order(self):
        payload = os.urandom(3 * peer_relay.CHUNK + 17)
        with self.relay:
            sender = threading.Thread(target=self.guest_a.sendall, args=(payload,))
            sender.start()
            received = recv_exactly(self.guest_b, len(payload))
            sender.join()
        self.assertEqual(received, payload)

    def check_close_of(self, closing: socket.socket, surviving: socket.socket, name: str) -> None:
        with self.relay:
            closing.sendall(b"last words\n")
            closing.close()
            # What the closing end sent before it went is still delivered, then end of file.
            self.assertEqual(recv_exactly(surviving, 100), b"last words\n")
            wait_until(self.relay.done, "the relay ends")
        self.assertEqual(self.relay.closed_by, name)
        self.assertIn(f"{name} closed its end", self.transcript.read_text())

    def test_a_closing_closes_b(self):
        self.check_close_of(self.guest_a, self.guest_b, "guest-a")

    def test_b_closing_closes_a(self):
        self.check_close_of(self.guest_b, self.guest_a, "guest-b")

    def test_a_reset_counts_as_a_close(self):
        with self.relay:
            # SO_LINGER 0: close() sends a reset instead of an orderly end.
            self.guest_b.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")
            self.guest_b.close()
            self.assertEqual(recv_exactly(self.guest_a, 1), b"")
            wait_until(self.relay.done, "the relay ends")
        self.assertEqual(self.relay.closed_by, "guest-b")

    def test_an_end_that_never_reads_does_not_block_the_stop(self):
        payload = b"x" * (4 * peer_relay.MAX_PENDING)
        self.guest_a.setblocking(False)
        with self.relay:
            sent = 0
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:  # fill every buffer on the way to guest_b
                try:
                    sent += self.guest_a.send(payload)
                except BlockingIOError:
                    break
            self.assertLess(sent, len(payload) * 2, "the relay queued without bound")
            started = time.monotonic()
        self.assertLess(time.monotonic() - started, 2)

    def test_stop_without_start_closes_everything(self):
        self.relay.stop()
        self.relay.stop()


class ConnectUnixTest(unittest.TestCase):
    def setUp(self):
        self.tmp = Path(tempfile.mkdtemp(prefix="vsc-test-relay-"))
        self.addCleanup(shutil.rmtree, self.tmp)

    def test_waits_for_the_listener(self):
        path = self.tmp / "peer.sock"
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.addCleanup(server.close)

        def listen_later():
            time.sleep(0.2)
            server.bind(str(path))
            server.listen(1)
        threading.Thread(target=listen_later).start()
        sock = peer_relay.connect_unix(path, timeout_s=5)
        sock.close()

    def test_a_listener_that_never_comes_is_a_user_error(self):
        with self.assertRaisesRegex(UserError, "nothing listened there within"):
            peer_relay.connect_unix(self.tmp / "none.sock", timeout_s=0.1)

    def test_a_dead_listener_process_ends_the_wait(self):
        with self.assertRaisesRegex(UserError, "exited before listening"):
            peer_relay.connect_unix(self.tmp / "none.sock", timeout_s=30, alive=lambda: False)


if __name__ == "__main__":
    unittest.main()
