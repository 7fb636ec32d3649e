"""`vsockcheck fixtures record`: a LINKTYPE_VSOCK capture turned into a virtio_transport fixture
skeleton (synthetic capture), and one real g2h run of a simple connect case."""

import json
import struct
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

from tests.test_guest_runs import default_kernel_cached
from vsc import fixture_check, fixture_record, vsock_pcap
from vsc.cli import DEFAULT_KERNEL
from vsc.errors import UserError
from vsc.paths import GUEST_BIN_DIR, PROJECT_ROOT

GUEST, HOST, ELSEWHERE = 3, 2, 99
REQUEST, RESPONSE, RST, SHUTDOWN, RW, CREDIT_UPDATE = 1, 2, 3, 4, 5, 6


def record(src_cid, dst_cid, src_port, dst_port, op, payload=b"", sock_type=1, flags=0, buf_alloc=65536,
           claimed_len=None) -> bytes:
    """One pcap record as our device writes it: vsockmon header (zeros here), virtio header, payload."""
    header = struct.pack("<QQIIIHHIII", src_cid, dst_cid, src_port, dst_port,
                         len(payload) if claimed_len is None else claimed_len, sock_type, op, flags, buf_alloc, 0)
    body = bytes(32) + header + payload
    return struct.pack("<IIII", 1, 2, len(body), len(body)) + body


def capture(*records: bytes) -> bytes:
    return struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 271) + b"".join(records)


# The host connects to the guest's listener on 20000, sends, the guest answers with a long uniform
# payload and an unprompted credit update, both shut down; the guest also connects to the host, and
# tries a CID nobody has.
EXCHANGE = capture(
    record(HOST, GUEST, 1025, 20000, REQUEST),
    record(GUEST, HOST, 20000, 1025, RESPONSE, buf_alloc=262144),
    record(HOST, GUEST, 1025, 20000, RW, b"hello"),
    record(GUEST, HOST, 20000, 1025, CREDIT_UPDATE, buf_alloc=262144),
    record(GUEST, HOST, 20000, 1025, RW, b"A" * 100, buf_alloc=262144),
    record(GUEST, HOST, 20000, 1025, RW, b"\x00\x01", buf_alloc=262144, claimed_len=4096),
    record(HOST, GUEST, 1025, 20000, SHUTDOWN, flags=3),
    record(GUEST, HOST, 20000, 1025, RST, buf_alloc=262144),
    record(GUEST, ELSEWHERE, 50000, 7, REQUEST),
    record(GUEST, HOST, 50001, 30000, REQUEST, sock_type=2),
    record(HOST, GUEST, 30000, 50001, RESPONSE, sock_type=2, buf_alloc=4096),
)


class Skeleton(unittest.TestCase):
    def setUp(self):
        self.fixture = fixture_record.skeleton(vsock_pcap.parse(EXCHANGE), "recorded_case", "a test")

    def test_connections_carry_the_case_ports(self):
        self.assertEqual(self.fixture["connections"], {
            "c1": {"type": "stream", "engine_port": 1025, "kernel_port": 20000, "engine_buf_alloc": 65536,
                   "setup": "none"},
            "c2": {"type": "seqpacket", "engine_port": 30000, "kernel_port": "$c2.port", "engine_buf_alloc": 4096,
                   "setup": "none"}})
        self.assertEqual(self.fixture["device"], {"seqpacket": True})
        self.assertEqual(self.fixture["target"], "virtio_transport")

    def test_guest_packets_are_expected_host_packets_sent(self):
        self.assertEqual(self.fixture["steps"], [
            {"agent": {"do": "listen", "sock": "c1_l", "type": "stream", "port": 20000}},
            {"send": {"conn": "c1", "op": "REQUEST"}},
            {"expect": {"conn": "c1", "op": "RESPONSE", "len": 0}},
            {"agent": {"do": "accept", "sock": "c1_l", "as": "c1"}},
            {"send": {"conn": "c1", "op": "RW", "payload": {"hex": "68656c6c6f"}}},
            {"expect": {"conn": "c1", "op": "RW", "payload": {"byte": 65, "len": 100}}},
            {"expect": {"conn": "c1", "op": "RW", "len": 4096}},
            {"send": {"conn": "c1", "op": "SHUTDOWN", "flags": 3}},
            {"expect": {"conn": "c1", "op": "RST", "len": 0}},
            {"agent": {"do": "connect", "sock": "c2", "type": "seqpacket", "cid": "$engine_cid", "port": 30000,
                       "wait": False}},
            {"expect": {"conn": "c2", "op": "REQUEST", "len": 0}},
            {"send": {"conn": "c2", "op": "RESPONSE"}},
            {"await": "c2", "result": 0},
        ])
        self.assertIn("1 unprompted CREDIT_UPDATE", self.fixture["description"])
        self.assertIn("1 packets to other CIDs left out", self.fixture["description"])

    def test_text_is_the_same_fixture(self):
        self.assertEqual(json.loads(fixture_record.to_text(self.fixture)), self.fixture)

    def test_the_repository_schema_accepts_it(self):
        if not fixture_check.SCHEMA_PATH.exists():
            self.skipTest(f"{fixture_check.SCHEMA_PATH} is not there yet")
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "recorded_case.json"
            path.write_text(fixture_record.to_text(self.fixture))
            self.assertEqual(fixture_check.check(path), [])

    def test_malformed_captures_are_named(self):
        for data, message in ((b"nope", "not a pcap file"),
                              (EXCHANGE[:24 + 10], "byte 24: a record header cut short"),
                              (EXCHANGE[:-3], "cut short"),
                              (capture(struct.pack("<IIII", 0, 0, 8, 8) + bytes(8)), "has no whole vsock header"),
                              (EXCHANGE[:20] + struct.pack("<I", 1) + EXCHANGE[24:], "link type 1")):
            with self.subTest(message=message), self.assertRaises(UserError) as caught:
                vsock_pcap.parse(data, "cap.pcap")
            self.assertIn(message, str(caught.exception))


@unittest.skipUnless(default_kernel_cached(), f"{DEFAULT_KERNEL} is not in the kernel cache")
@unittest.skipUnless((GUEST_BIN_DIR / "vsockcheck-host").exists(), "build/bin is not built: run make")
class RealRecording(unittest.TestCase):
    """One simple connect case, run in g2h on the default kernel, recorded into a fixture."""

    def test_connect_case_becomes_a_fixture(self):
        with tempfile.TemporaryDirectory(prefix="vsc-test-") as tmp:
            output = Path(tmp) / "connect_accept_names.json"
            done = subprocess.run([sys.executable, str(PROJECT_ROOT / "runner" / "vsockcheck"), "fixtures", "record",
                                   "--case", "connect_accept_names", "--kernel", DEFAULT_KERNEL,
                                   "--results", str(Path(tmp) / "results"), "-o", str(output)],
                                  capture_output=True, text=True, timeout=600)
            self.assertEqual(done.returncode, 0, done.stderr)
            fixture = json.loads(output.read_text())
            steps = fixture["steps"]
            # The host program connects to the guest's listener: the handshake, then both sides close.
            self.assertEqual([next(iter(s)) for s in steps[:4]], ["agent", "send", "expect", "agent"])
            self.assertEqual((steps[1]["send"]["op"], steps[2]["expect"]["op"]), ("REQUEST", "RESPONSE"))
            self.assertEqual(set(fixture["connections"]), {"c"})
            self.assertEqual(fixture["connections"]["c"]["kernel_port"], steps[0]["agent"]["port"])
            if fixture_check.SCHEMA_PATH.exists():
                self.assertEqual(fixture_check.check(output), [])


if __name__ == "__main__":
    unittest.main()
