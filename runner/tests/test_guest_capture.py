"""run --capture in the guest: what the runner makes of vsockmon-capture's pcap and console lines,
vsockmon in each cached Debian kernel, and a loopback guest's capture as tshark decodes it."""

import shutil
import struct
import subprocess
import tempfile
import types
import unittest
from pathlib import Path

from tests import processes
from tests.test_guest_runs import Run, default_kernel_cached
from tests.test_pcap_decode import TSHARK, decode
from vsc import guest_capture, guest_script, guest_session, kernels, topology, topology_loopback, vsock_pcap
from vsc.cli import DEFAULT_KERNEL
from vsc.errors import UserError
from vsc.paths import GUEST_BIN_DIR

# virtio_vsock_hdr ops (include/uapi/linux/virtio_vsock.h).
OP_REQUEST, OP_RESPONSE, OP_RST, OP_SHUTDOWN, OP_RW = 1, 2, 3, 4, 5
TRANSPORT_VIRTIO = 2
LOOPBACK_CID = 1
SUMMARY = ("vsockcheck-capture: vsockmon-capture: {frames} frames written, {drops} dropped by the kernel "
           "(PACKET_STATISTICS packets {frames} drops {drops}), 0 cut to 65792 bytes")
STARTED = "vsockcheck-capture: vsockmon-capture: capturing on vsockmon0"


def pcap(*records: bytes) -> bytes:
    """A little-endian, nanosecond LINKTYPE_VSOCK pcap of these frames."""
    out = struct.pack("<IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 65792, vsock_pcap.LINKTYPE_VSOCK)
    for frame in records:
        out += struct.pack("<IIII", 0, 0, len(frame), len(frame)) + frame
    return out


def frame(op: int) -> bytes:
    """An af_vsockmon_hdr and a virtio_vsock_hdr from CID 1 port 1024 to CID 1 port 20000."""
    monitor = struct.pack("<QQIIHHH2x", 1, 1, 1024, 20000, 1, TRANSPORT_VIRTIO, 44)
    return monitor + vsock_pcap.VIRTIO_HEADER.pack(1, 1, 1024, 20000, 0, 1, op, 0, 65536, 0)


class Outcome(unittest.TestCase):
    def setUp(self):
        self.dir = Path(tempfile.mkdtemp(prefix="vsc-capture-"))
        self.addCleanup(shutil.rmtree, self.dir, ignore_errors=True)
        self.pcap = self.dir / guest_capture.file_name()
        self.console = self.dir / "console.log"

    def outcome(self, console: list[str], data: bytes | None):
        self.console.write_text("".join(line + "\n" for line in console))
        if data is not None:
            self.pcap.write_bytes(data)
        return guest_capture.outcome(self.pcap, self.console, "the guest")

    def test_a_clean_capture_is_listed_without_notes(self):
        files, notes = self.outcome(["[    1.0] boot", STARTED, SUMMARY.format(frames=2, drops=0)],
                                    pcap(frame(OP_REQUEST), frame(OP_RESPONSE)))
        self.assertEqual((files, notes), (["guest-capture.pcap"], []))

    def test_kernel_drops_are_noted(self):
        files, notes = self.outcome([STARTED, SUMMARY.format(frames=1, drops=3)], pcap(frame(OP_RW)))
        self.assertEqual(files, ["guest-capture.pcap"])
        self.assertEqual(len(notes), 1)
        self.assertIn("capture incomplete", notes[0])
        self.assertIn("3 dropped by the kernel", notes[0])

    def test_a_pcap_without_packets_is_removed_not_presented(self):
        files, notes = self.outcome([STARTED, SUMMARY.format(frames=0, drops=0)], pcap())
        self.assertEqual(files, [])
        self.assertFalse(self.pcap.exists())
        self.assertEqual(notes, ["the guest: no vsock packet was captured, so there is no guest-capture.pcap"])

    def test_a_failed_start_is_noted_and_its_empty_port_file_removed(self):
        line = ("vsockcheck-capture: not recording: vsockmon-capture ended (exit 3): vsockmon-capture: "
                "rtnl_link_add vsockmon0 type vsockmon: Operation not supported")
        files, notes = self.outcome([line], b"")
        self.assertEqual(files, [])
        self.assertFalse(self.pcap.exists())
        self.assertTrue(notes[0].startswith("the guest: capture not recording: vsockmon-capture ended (exit 3)"),
                        notes)
        self.assertEqual(len(notes), 2, notes)  # and: no packet, no file

    def test_a_capture_never_stopped_is_noted_and_kept(self):
        files, notes = self.outcome([STARTED], pcap(frame(OP_REQUEST)))
        self.assertEqual(files, ["guest-capture.pcap"])
        self.assertEqual(len(notes), 1)
        self.assertIn("not stopped cleanly", notes[0])

    def test_a_tool_error_is_noted(self):
        files, notes = self.outcome([STARTED, "vsockcheck-capture: vsockmon-capture: recv: Network is down",
                                     SUMMARY.format(frames=1, drops=0),
                                     "vsockcheck-capture: vsockmon-capture exited with status 1"],
                                    pcap(frame(OP_REQUEST)))
        self.assertEqual(notes, ["the guest: capture: vsockmon-capture: recv: Network is down",
                                 "the guest: capture: vsockmon-capture exited with status 1"])

    def test_a_cut_record_is_noted_and_the_file_kept(self):
        files, notes = self.outcome([STARTED], pcap(frame(OP_REQUEST))[:-10])
        self.assertEqual(files, ["guest-capture.pcap"])
        self.assertTrue(any("cut short" in note for note in notes), notes)

    def test_file_names_say_whose_capture(self):
        self.assertEqual(guest_capture.file_name(), "guest-capture.pcap")
        self.assertEqual(guest_capture.file_name("b"), "guest-capture-b.pcap")


class Availability(unittest.TestCase):
    def fake_kernel(self, modules: list[str]):
        root = Path(tempfile.mkdtemp(prefix="vsc-capture-kernel-"))
        self.addCleanup(shutil.rmtree, root, ignore_errors=True)
        (root / "modules.dep").write_text("".join(f"kernel/net/{m}.ko:\n" for m in modules))
        return types.SimpleNamespace(name="fake", modules_dir=root, modules_builtin=None, config=None)

    def test_a_kernel_without_vsockmon_says_so(self):
        reason = guest_capture.unavailable(self.fake_kernel(["vsock"]))
        self.assertIn("--capture: no guest capture", reason)
        self.assertIn("CONFIG_VSOCKMON", reason)

    def test_a_kernel_with_vsockmon_can_capture(self):
        self.assertIsNone(guest_capture.unavailable(self.fake_kernel(["vsock", "vsockmon"])))

    def test_without_capture_nothing_is_wanted(self):
        request = types.SimpleNamespace(capture=False, kernel=self.fake_kernel([]))
        self.assertEqual(guest_capture.wanted(request), (False, None))

    def test_every_cached_debian_kernel_has_vsockmon(self):
        found = 0
        for suite in kernels.KNOWN:
            try:
                kernel = kernels.resolve(f"debian:{suite}", fetch=False)
            except UserError:
                continue  # not cached here
            found += 1
            with self.subTest(suite=suite):
                self.assertIsNone(guest_capture.unavailable(kernel))
        if not found:
            self.skipTest("no Debian kernel is cached: run 'vsockcheck kernels fetch'")


@unittest.skipUnless(TSHARK, "tshark is not installed (Debian package tshark; make deps)")
@unittest.skipUnless(guest_capture.TOOL.exists() and (GUEST_BIN_DIR / "vsockcheck-tests").exists(),
                     "vsockmon-capture or the test program is not built: run make")
@unittest.skipUnless(default_kernel_cached(), "the default kernel is not cached: run 'vsockcheck kernels fetch'")
class LoopbackGuestCapture(unittest.TestCase):
    """Two cases over vsock_loopback: a connection that carries data, and one shut down."""

    def test_tshark_decodes_the_guests_packets(self):
        # Its own temporary root: test_guest_runs's module-level one is gone once that module has run.
        top = Path(tempfile.mkdtemp(prefix="vsc-capture-run-"))
        self.addCleanup(shutil.rmtree, top, ignore_errors=True)
        run = Run("--capture", "--pick", "stream_msg_peek", "--pick", "shutdown_wr", top=top)
        done = run.run()
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)
        self.assertEqual(processes.qemus_naming(run.results), [], "QEMU outlived the runner")
        self.assertNotIn("capture", "".join(l for l in done.stdout.splitlines() if l.startswith("vsockcheck: ")))
        capture = run.results / guest_capture.file_name()
        self.assertIn(capture.name, done.stdout.splitlines()[-2])  # the results line lists it
        packets = vsock_pcap.read(capture)
        records = decode(capture, str(run.tmp))
        self.assertEqual(len(records), len(packets))
        self.assertGreater(len(records), 0)
        for record, packet in zip(records, packets):
            self.assertEqual(record["_ws.malformed"], "")
            self.assertEqual(record["vsock.trans"], str(TRANSPORT_VIRTIO))
            self.assertEqual((record["vsock.src_cid"], record["vsock.dst_cid"]), (str(LOOPBACK_CID),) * 2)
            self.assertEqual(record["vsock.virtio.op"], str(packet.op))
            self.assertEqual(record["vsock.virtio.len"], str(len(packet.payload)))
        ops = {int(r["vsock.virtio.op"]) for r in records}
        # Each case connects (REQUEST, RESPONSE), stream_msg_peek sends data (RW), shutdown_wr
        # shuts down (SHUTDOWN), and the closes end in RST.
        self.assertLessEqual({OP_REQUEST, OP_RESPONSE, OP_RW, OP_SHUTDOWN, OP_RST}, ops)
        self.assertTrue(any(p.op == OP_RW and p.payload for p in packets), "no RW packet carried data")
        console = (run.results / "console.log").read_text(errors="replace")
        self.assertIn(f"{len(packets)} frames written, 0 dropped by the kernel", console)


# The tool's own behaviour in a guest: a second link of the same name is refused, SIGINT stops it
# with its statistics and the link goes away, and without vsockmon.ko it says why (exit 3).
TOOL_SCRIPT = """
vsockmon-capture --out /tmp/a.pcap --ifname mon1 >/tmp/a.out 2>&1 &
pid=$!
tries=0
until grep -q 'capturing on mon1' /tmp/a.out; do
	tries=$((tries + 1)); [ "$tries" -gt 400 ] && { echo 'never started'; cat /tmp/a.out; exit 1; }
	sleep 0.05
done
ip link show mon1 | grep -q UP && echo 'mon1 up'
vsockmon-capture --out /tmp/b.pcap --ifname mon1; echo "second=$?"
kill -INT "$pid"; wait "$pid"; echo "first=$?"
cat /tmp/a.out
ip link show mon1 >/dev/null 2>&1 && echo 'mon1 left behind' || echo 'mon1 gone'
echo "header=$(head -c 24 /tmp/a.pcap | wc -c)"
rmmod vsockmon || echo 'rmmod failed'
vsockmon-capture --out /tmp/c.pcap; echo "unloaded=$?"
vsockmon-capture --out /tmp/c.pcap --fd 1; echo "usage=$?"
"""


@unittest.skipUnless(guest_capture.TOOL.exists() and (GUEST_BIN_DIR / "vsockcheck-tests").exists(),
                     "vsockmon-capture or the test program is not built: run make")
@unittest.skipUnless(default_kernel_cached(), "the default kernel is not cached: run 'vsockcheck kernels fetch'")
class ToolInGuest(unittest.TestCase):
    def test_link_signals_and_a_kernel_without_vsockmon(self):
        kernel = kernels.resolve(DEFAULT_KERNEL, fetch=False)
        spec = guest_session.GuestSpec(kernel=kernel, modules=topology_loopback.MODULES + (guest_capture.MODULE,),
                                       test_program=topology.TEST_PROGRAM, test_args=[], cases=[],
                                       guest_tools=(guest_capture.TOOL,), accel="tcg")
        with tempfile.TemporaryDirectory() as work, tempfile.TemporaryDirectory() as out:
            run = guest_script.run(spec, TOOL_SCRIPT, Path(work), Path(out), timeout_s=120)
        lines = run.lines
        self.assertIn("mon1 up", lines)
        self.assertIn("second=1", lines)
        self.assertTrue(any("rtnl_link_add mon1 type vsockmon" in line and "exists" in line for line in lines),
                        lines)
        self.assertIn("first=0", lines)
        self.assertTrue(any(line.startswith("vsockmon-capture: 0 frames written, 0 dropped by the kernel")
                            for line in lines), lines)
        self.assertIn("mon1 gone", lines)
        self.assertIn("header=24", lines)
        self.assertNotIn("rmmod failed", lines)
        self.assertIn("unloaded=3", lines)
        self.assertTrue(any("the kernel has no vsockmon link type" in line for line in lines), lines)
        self.assertIn("usage=2", lines)


if __name__ == "__main__":
    unittest.main()
