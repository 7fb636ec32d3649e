"""The backend's pcap capture as Wireshark reads it: every record decodes to the packet written.

build/bin/vu-pcap-write runs the backend's own writer (vu_pcap.c) over packets given here; tshark
then decodes the file with its vsock dissector (LINKTYPE_VSOCK)."""

import shutil
import subprocess
import tempfile
import time
import unittest
from dataclasses import dataclass
from pathlib import Path

from vsc.paths import GUEST_BIN_DIR

WRITER = GUEST_BIN_DIR / "vu-pcap-write"
TSHARK = shutil.which("tshark")

# vsockmon ops (include/uapi/linux/vsockmon.h) for each virtio op, as the kernel maps them.
MONITOR_OP = {1: 1, 2: 1, 3: 2, 4: 2, 5: 4, 6: 3, 7: 3}
TRANSPORT_VIRTIO = 2
HEADERS = 32 + 44   # af_vsockmon_hdr, virtio_vsock_hdr
FILE_HEADER, RECORD_HEADER = 24, 16


@dataclass(frozen=True)
class Packet:
    src_cid: int
    dst_cid: int
    src_port: int
    dst_port: int
    type: int
    op: int
    flags: int
    len: int        # the header's claim, whatever the payload is
    payload: bytes = b""

    def line(self) -> str:
        return (f"{self.src_cid} {self.dst_cid} {self.src_port} {self.dst_port} {self.type} "
                f"{self.op} {self.flags} {self.len} {self.payload.hex() or '-'}\n")


PACKETS = [
    Packet(3, 2, 1025, 1234, 1, 1, 0, 0),                       # REQUEST
    Packet(2, 3, 1234, 1025, 1, 2, 0, 0),                       # RESPONSE
    Packet(3, 2, 1025, 1234, 1, 5, 0, 5, b"hello"),             # RW
    Packet(3, 4, 50000, 7, 2, 5, 1, 17, bytes(range(17))),      # RW, SEQPACKET with EOM
    Packet(3, 2, 1025, 1234, 1, 6, 0, 0),                       # CREDIT_UPDATE
    Packet(3, 2, 1025, 1234, 1, 7, 0, 0),                       # CREDIT_REQUEST
    Packet(3, 2, 1025, 1234, 1, 4, 3, 0),                       # SHUTDOWN, both directions
    Packet(2, 3, 1234, 1025, 1, 3, 0, 0),                       # RST
    Packet(3, 2, 1, 2, 1, 0, 0, 0),                             # INVALID
    Packet(3, 2, 1, 2, 1, 200, 0, 0),                           # an op nobody knows
    # the largest CID and port values, and a header claiming far more than it carries
    Packet(0xFFFFFFFF_FFFFFFFF, 0x1122334455667788, 0xFFFFFFFF, 0, 1, 5, 0, 60000, b"\xff" * 3),
]

FIELDS = ["frame.cap_len", "frame.len", "vsock.src_cid", "vsock.dst_cid", "vsock.src_port",
          "vsock.dst_port", "vsock.op", "vsock.trans", "vsock.trans_len", "vsock.virtio.src_cid",
          "vsock.virtio.dst_cid", "vsock.virtio.op", "vsock.virtio.type", "vsock.virtio.len",
          "vsock.virtio.flags", "vsock.payload", "_ws.malformed"]


def expected_fields(p: Packet) -> dict[str, str]:
    return {
        "frame.cap_len": str(HEADERS + len(p.payload)),
        "frame.len": str(HEADERS + len(p.payload)),
        "vsock.src_cid": str(p.src_cid), "vsock.dst_cid": str(p.dst_cid),
        "vsock.src_port": str(p.src_port), "vsock.dst_port": str(p.dst_port),
        "vsock.op": str(MONITOR_OP.get(p.op, 0)),
        "vsock.trans": str(TRANSPORT_VIRTIO), "vsock.trans_len": "44",
        "vsock.virtio.src_cid": str(p.src_cid), "vsock.virtio.dst_cid": str(p.dst_cid),
        "vsock.virtio.op": str(p.op), "vsock.virtio.type": str(p.type),
        "vsock.virtio.len": str(p.len), "vsock.virtio.flags": f"0x{p.flags:08x}",
        "vsock.payload": p.payload.hex(), "_ws.malformed": "",
    }


def decode(capture: Path, work: str) -> list[dict[str, str]]:
    """tshark's reading of `capture`: one dict of FIELDS per record."""
    args = [TSHARK, "-n", "-r", str(capture), "-T", "fields", "-E", "separator=/t",
            "-E", "occurrence=f"]
    for field in FIELDS:
        args += ["-e", field]
    # tshark's own profile and settings would live in $HOME: keep them in the temp dir.
    done = subprocess.run(args, capture_output=True, text=True, timeout=60,
                          env={"HOME": work, "PATH": "/usr/bin:/bin"})
    if done.returncode != 0:
        raise AssertionError(f"tshark -r {capture} failed: {done.stderr.strip()}")
    return [dict(zip(FIELDS, row.split("\t"))) for row in done.stdout.splitlines()]


@unittest.skipUnless(TSHARK, "tshark is not installed (Debian package tshark; make deps)")
@unittest.skipUnless(WRITER.exists(), f"{WRITER} is not built: run make")
class PcapDecode(unittest.TestCase):
    def test_every_record_decodes_to_the_packet_written(self):
        with tempfile.TemporaryDirectory(prefix="vsockcheck-pcap-") as work:
            capture = Path(work) / "capture.pcap"
            subprocess.run([str(WRITER), str(capture)], input="".join(p.line() for p in PACKETS),
                           text=True, check=True, timeout=30)
            records = decode(capture, work)
        self.assertEqual(len(records), len(PACKETS))
        for number, (record, packet) in enumerate(zip(records, PACKETS), 1):
            with self.subTest(record=number, packet=packet):
                self.assertEqual(record, expected_fields(packet))

    def test_a_killed_writer_leaves_every_packet_it_took(self):
        """No buffer between the writer and the file: SIGKILL loses nothing already handed over."""
        taken = PACKETS[:3]
        size = FILE_HEADER + sum(RECORD_HEADER + HEADERS + len(p.payload) for p in taken)
        with tempfile.TemporaryDirectory(prefix="vsockcheck-pcap-") as work:
            capture = Path(work) / "capture.pcap"
            writer = subprocess.Popen([str(WRITER), str(capture)], stdin=subprocess.PIPE,
                                      text=True)
            try:
                writer.stdin.write("".join(p.line() for p in taken))
                writer.stdin.flush()    # stdin stays open: the writer waits for more
                deadline = time.monotonic() + 10
                while (not capture.exists() or capture.stat().st_size < size) and \
                        time.monotonic() < deadline and writer.poll() is None:
                    time.sleep(0.01)    # polls the file the writer fills; no other signal
            finally:
                writer.kill()
                writer.wait()
                writer.stdin.close()
            self.assertEqual(capture.stat().st_size, size)
            self.assertEqual(decode(capture, work), [expected_fields(p) for p in taken])


if __name__ == "__main__":
    unittest.main()
