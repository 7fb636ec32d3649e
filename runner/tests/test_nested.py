"""The nested topology's pieces: what each level and pass runs, the L2 command lines, L1's image,
the merged report, the uncompressed L2 images, the identity service. (The nested suite itself
runs in make check's topology layer.)"""

import gzip
import io
import shlex
import socket
import subprocess
import tempfile
import unittest
from pathlib import Path

from vsc import cpio, ident_service, initramfs, nested_payload, report_merge, topology, topology_nested
from vsc.catalogue import Case
from vsc.ktap_report import CaseResult, Report
from vsc.paths import PROJECT_ROOT


def case(name: str) -> Case:
    return Case(name, "stream", "server+client", "-", 10, "", ())


def option(args: list[str], name: str) -> str | None:
    return args[args.index(name) + 1] if name in args else None


class PassArgsTest(unittest.TestCase):
    def test_exactly_one_solo_side_per_pass_with_opposite_roles(self):
        for pass_name, solo_level in (("l1", 1), ("l2", 2)):
            args = {level: topology_nested.pass_args(pass_name, level, []) for level in (1, 2)}
            self.assertIn("--solo", args[solo_level], pass_name)
            self.assertNotIn("--solo", args[3 - solo_level], pass_name)
            self.assertEqual(option(args[solo_level], "--split"), "server")
            self.assertEqual(option(args[3 - solo_level], "--split"), "client")

    def test_each_level_names_the_other_as_its_peer(self):
        l1 = topology_nested.pass_args("l1", 1, [])
        l2 = topology_nested.pass_args("l1", 2, [])
        self.assertEqual(option(l1, "--peer-cid"), option(l2, "--local-cid"))
        self.assertEqual(option(l2, "--peer-cid"), "2")  # L2a reaches L1 as its host
        self.assertEqual(option(l1, "--device-cid"), str(topology_nested.L1_CID))
        self.assertEqual(option(l1, "--level"), "1")
        self.assertEqual(option(l2, "--level"), "2")
        self.assertEqual(option(l1, "--l2-qmp"), topology_nested.QMP_SOCKET)
        self.assertIsNone(option(l2, "--l2-qmp"))

    def test_silent_cid_only_where_vhost_drops_it(self):
        """Only L2a's connects to an unknown CID go unanswered (vhost in L1 drops them)."""
        self.assertEqual(option(topology_nested.pass_args("l2", 2, []), "--silent-cid"), str(topology.SILENT_CID))
        for pass_name, level in (("l1", 1), ("l1", 2), ("l2", 1)):
            self.assertIsNone(option(topology_nested.pass_args(pass_name, level, []), "--silent-cid"))

    def test_nested_cases_run_in_pass_l1_only(self):
        for level in (1, 2):
            self.assertEqual(option(topology_nested.pass_args("l2", level, []), "--skip"), "nested_*")
            self.assertNotIn("--skip", topology_nested.pass_args("l1", level, []))
        cases = [case("nested_bind_cids"), case("stream_msg_peek")]
        self.assertEqual([c.name for c in topology_nested.pass_cases("l2", cases)], ["stream_msg_peek"])
        self.assertEqual(topology_nested.pass_cases("l1", cases), cases)

    def test_user_selection_reaches_both_levels(self):
        for level in (1, 2):
            args = topology_nested.pass_args("l1", level, ["--pick", "stream_*"])
            self.assertEqual(option(args, "--pick"), "stream_*")


class L2CommandLineTest(unittest.TestCase):
    def argv(self, control: bool) -> list[str]:
        return topology_nested.l2_argv(initrd="/l2/a.img", ktap="/k", console="/c", cid=5, memory_mib=256,
                                       control=control, qmp="/q.sock", aux="/aux" if control else None)

    def test_vhost_vsock_on_a_root_port_with_its_cid(self):
        argv = " ".join(self.argv(True))
        self.assertIn("-device pcie-root-port,id=vsc_l2_rp", argv)
        self.assertIn("-device vhost-vsock-pci,id=vsc_l2_vsock,guest-cid=5,bus=vsc_l2_rp", argv)
        self.assertIn("-qmp unix:/q.sock,server=on,wait=off", argv)

    def test_kernel_vhost_needs_no_shared_memory_and_no_waiting_port(self):
        argv = self.argv(True)
        self.assertFalse(any("memory-backend" in a for a in argv))
        peers = [a for a in argv if "vsc_peer" in a and a.startswith("socket,")]
        self.assertEqual(len(peers), 2, "one control socket per pass")
        self.assertTrue(all("wait=off" in a for a in peers))
        self.assertIn(topology_nested.PEER_SOCKET, " ".join(peers))
        self.assertIn(topology_nested.PEER_SOCKET_L1, " ".join(peers))

    def test_sibling_has_no_control_port(self):
        argv = " ".join(self.argv(False))
        self.assertNotIn("vsc_peer", argv)
        self.assertIn("guest-cid=5", argv)

    def test_l2a_script_is_valid_shell_and_finds_its_ports_before_set_f(self):
        script = topology_nested.l2a_script(["--pick", "x*"])
        done = subprocess.run(["/usr/bin/busybox", "sh", "-n", "-c", script], capture_output=True, text=True)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertLess(script.index("find_port"), script.index("set -f"))
        self.assertIn(topology.PEER_PORT_WORD, script)  # guest_init.sh fills in pass l2's port
        self.assertIn("--control $control", script)     # pass l1's port, found by name

    def test_a_selection_of_nested_cases_only_runs_pass_l1_alone(self):
        script = topology_nested.l2a_script(["--pick", "nested_*"], pass_l2=False)
        self.assertNotIn(topology.PEER_PORT_WORD, script)
        self.assertEqual(script.count(topology_nested.TEST_BIN), 1)
        self.assertIn("--split client", script)


class L1ImageTest(unittest.TestCase):
    def test_payload_holds_qemu_its_tcg_module_and_firmware(self):
        names = {e.path for e in nested_payload.qemu_entries()}
        for path in ("usr/bin/qemu-system-x86_64", "usr/lib/x86_64-linux-gnu/qemu/accel-tcg-x86_64.so",
                     "usr/share/seabios/bios-256k.bin", "usr/share/qemu/linuxboot_dma.bin"):
            self.assertIn(path, names)
        self.assertTrue(any("libc.so" in n for n in names), "QEMU's libraries come along")

    def test_l1_script_is_valid_shell(self):
        script = PROJECT_ROOT / "runner" / "vsc" / "nested_l1.sh"
        done = subprocess.run(["/usr/bin/busybox", "sh", "-n", str(script)], capture_output=True, text=True)
        self.assertEqual(done.returncode, 0, done.stderr)

    def test_errors_of_l1_become_notes_with_their_detail(self):
        with tempfile.TemporaryDirectory() as tmp:
            ktap = Path(tmp) / "guest.ktap"
            ktap.write_text("# vsockcheck-nested: l2 started\n# vsockcheck-nested: error: l2a's QEMU exited; "
                            "its messages:\n# qemu: could not load module\n# vsockcheck-guest: exit=1\n")
            self.assertEqual(topology_nested._nested_errors(ktap),
                             ["L1: error: l2a's QEMU exited; its messages:; qemu: could not load module"])


class UncompressedImageTest(unittest.TestCase):
    def test_same_members_without_gzip(self):
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            base = tmp / "base.cpio.gz"
            base.write_bytes(gzip.compress(cpio.to_bytes([cpio.file("bin/x", b"x" * 5)])))
            image = initramfs.with_run_config(base, {"MODE": "script"}, tmp / "i.img",
                                              [cpio.file("l2/a.img", b"abc")])
            flat = initramfs.uncompressed(image.read_bytes())
            self.assertNotEqual(flat[:2], b"\x1f\x8b")
            listed = subprocess.run(["cpio", "-it", "--quiet"], input=flat, capture_output=True).stdout.decode()
            # cpio -t reads the first archive only; the tail starts 4-aligned after it.
            self.assertIn("bin/x", listed)
            self.assertIn(cpio.to_bytes([cpio.file(initramfs.RUN_CONF, b"MODE=script\n")])[:6], flat)
            self.assertIn(b"l2/a.img", flat)

    def test_a_cut_image_is_an_error_not_a_traceback(self):
        data = gzip.compress(b"0" * 1000)[:-12]
        with self.assertRaisesRegex(Exception, "cut short|cannot decompress"):
            initramfs.uncompressed(data)


class ReportMergeTest(unittest.TestCase):
    def report(self, names: list[str], problems=()) -> Report:
        r = Report(version="1", plan=len(names))
        r.results = [CaseResult(i + 1, n, "ok") for i, n in enumerate(names)]
        r.problems = list(problems)
        return r

    def test_numbers_follow_run_order_and_names_carry_the_pass(self):
        merged = report_merge.merge([("l2", self.report(["a", "b"])), ("l1", self.report(["n", "a", "b"], ["x"]))],
                                    [2, 3])
        self.assertEqual([(r.number, r.name) for r in merged.results],
                         [(1, "l2/a"), (2, "l2/b"), (3, "l1/n"), (4, "l1/a"), (5, "l1/b")])
        self.assertEqual(merged.plan, 5)
        self.assertEqual(merged.problems, ["l1: x"])

    def test_live_names_match_the_merged_ones(self):
        seen = []
        renamer = report_merge.Renamer([("l2", 2), ("l1", 3)], seen.append)
        renamer.callback("l1")(CaseResult(1, "n", "ok"))
        renamer.callback("l2")(CaseResult(2, "b", "ok"))
        self.assertEqual([(r.number, r.name) for r in seen], [(3, "l1/n"), (2, "l2/b")])


class IdentityServiceTest(unittest.TestCase):
    def test_greets_then_echoes_each_connection(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "bridge.sock_19999"
            with ident_service.IdentityService(path, "L0"):
                for _ in range(2):
                    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                        s.settimeout(5)
                        s.connect(str(path))
                        reader = s.makefile("rb")
                        self.assertEqual(reader.readline(), b"vsockcheck-ident L0\n")
                        s.sendall(b"ping")
                        self.assertEqual(reader.read(4), b"ping")
            self.assertFalse(path.exists(), "the listener's file is removed")


if __name__ == "__main__":
    unittest.main()
