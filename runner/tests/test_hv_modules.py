"""hv_modules and topology_hvsock without a guest: the attachment mode from a config, the modversions
comparison between hv_sock.ko's __versions and vmbus_sim's Module.symvers, the packaged hv_sock.ko taken
alone, and the hvsock guest's arguments and case selection."""

import shutil
import struct
import dataclasses
import tempfile
import unittest
from pathlib import Path

from tests import fake_kernel
from vsc import hv_modules, modules, topology, topology_hvsock
from vsc.catalogue import Case
from vsc.errors import UserError
from vsc.kernels import Kernel


def elf_with_sections(sections: dict[bytes, bytes]) -> bytes:
    """An ELF64 relocatable holding these named sections, then .shstrtab."""
    names = b"\0" + b"".join(name + b"\0" for name in sections) + b".shstrtab\0"
    body, headers, at, name_at = b"", [(0,) * 10], 64, 1
    for name, data in sections.items():
        headers.append((name_at, 1, 0, 0, at + len(body), len(data), 0, 0, 1, 0))
        body += data
        name_at += len(name) + 1
    headers.append((name_at, 3, 0, 0, at + len(body), len(names), 0, 0, 1, 0))
    body += names
    shoff = at + len(body)
    header = b"\x7fELF\x02\x01\x01" + bytes(9) + struct.pack(
        "<HHIQQQIHHHHHH", 1, 62, 1, 0, 0, shoff, 0, 64, 0, 0, 64, len(headers), len(headers) - 1)
    return header + body + b"".join(struct.pack("<IIQQQQIIQQ", *h) for h in headers)


def versions_section(crcs: dict[str, int]) -> bytes:
    return b"".join(struct.pack("<Q", crc) + name.encode().ljust(56, b"\0") for name, crc in crcs.items())


EXPECTED = {name: 0x1000 + i for i, name in enumerate(hv_modules.HV_VMBUS_SYMBOLS)}
EXPECTED["module_layout"] = 0xdead  # hv_sock imports more than hv_vmbus's symbols


def symvers(crcs: dict[str, int]) -> str:
    return "".join(f"0x{crc:08x}\t{name}\t/build/vmbus_sim/vmbus_sim\tEXPORT_SYMBOL_GPL\t\n"
                   for name, crc in crcs.items())


class AttachModeTest(unittest.TestCase):
    def test_hv_vmbus_module_exports(self):
        self.assertEqual(hv_modules.attach_mode({"CONFIG_HYPERV": "m"}), hv_modules.EXPORTS)  # 5.10-6.12

    def test_hv_vmbus_builtin_livepatch(self):
        config = {"CONFIG_HYPERV": "y", "CONFIG_HYPERV_VMBUS": "y"}  # sid 7.2
        self.assertEqual(hv_modules.attach_mode(config), hv_modules.LIVEPATCH)

    def test_vmbus_option_wins_over_hyperv(self):
        config = {"CONFIG_HYPERV": "y", "CONFIG_HYPERV_VMBUS": "m"}
        self.assertEqual(hv_modules.attach_mode(config), hv_modules.EXPORTS)

    def test_old_kernel_hyperv_builtin(self):
        self.assertEqual(hv_modules.attach_mode({"CONFIG_HYPERV": "y"}), hv_modules.LIVEPATCH)

    def test_no_hyperv(self):
        self.assertEqual(hv_modules.attach_mode({}), hv_modules.EXPORTS)


class CrcTest(unittest.TestCase):
    def test_versions_read_from_elf(self):
        data = elf_with_sections({b".modinfo": b"name=hv_sock\0", b"__versions": versions_section(EXPECTED)})
        self.assertEqual(hv_modules.module_versions(data), EXPECTED)
        self.assertEqual(modules.modinfo(data), {"name": "hv_sock"})

    def test_no_versions_section(self):
        self.assertEqual(hv_modules.module_versions(elf_with_sections({b".modinfo": b"name=x\0"})), {})

    def test_truncated_versions_section(self):
        data = elf_with_sections({b"__versions": versions_section(EXPECTED)[:-1]})
        with self.assertRaisesRegex(ValueError, "not a multiple of 64"):
            hv_modules.module_versions(data)

    def test_symvers(self):
        text = symvers({"vmbus_open": 0x9c634fe1}) + "garbage line\n"
        self.assertEqual(hv_modules.parse_symvers(text), {"vmbus_open": 0x9c634fe1})

    def test_all_match(self):
        rows = hv_modules.compare(EXPECTED, dict(EXPECTED))
        self.assertEqual([r.name for r in rows], list(hv_modules.HV_VMBUS_SYMBOLS))
        self.assertEqual(hv_modules.mismatches(rows), [])

    def test_mismatch_named_per_symbol(self):
        provided = dict(EXPECTED, vmbus_open=0x1, vmbus_close=0x2)
        del provided["hv_pkt_iter_close"]
        bad = hv_modules.mismatches(hv_modules.compare(EXPECTED, provided))
        self.assertEqual([r.name for r in bad], ["vmbus_open", "vmbus_close", "hv_pkt_iter_close"])
        self.assertEqual(bad[0].describe(), f"vmbus_open: hv_sock.ko expects 0x{EXPECTED['vmbus_open']:08x}, "
                                            "vmbus_sim exports 0x00000001")
        self.assertIn("vmbus_sim exports none", bad[2].describe())

    def test_check_crcs_from_files(self):
        with tempfile.TemporaryDirectory() as tmp:
            top = Path(tmp)
            hv_sock = top / "hv_sock.ko"
            hv_sock.write_bytes(elf_with_sections({b"__versions": versions_section(EXPECTED)}))
            (top / "vmbus_sim").mkdir()
            sim = top / "vmbus_sim/vmbus_sim.ko"
            sim.write_bytes(b"")
            (top / "Module.symvers").write_text(symvers(dict(EXPECTED, __hv_pkt_iter_next=7)))
            bad = hv_modules.mismatches(hv_modules.check_crcs(hv_sock, sim))
            self.assertEqual([r.name for r in bad], ["__hv_pkt_iter_next"])
            hv_sock.write_bytes(elf_with_sections({b".modinfo": b"name=hv_sock\0"}))
            self.assertEqual(hv_modules.check_crcs(hv_sock, sim), [])  # no modversions: nothing to compare

    @unittest.skipUnless(shutil.which("objcopy"), "objcopy not installed")
    def test_strip_versions(self):
        with tempfile.TemporaryDirectory() as tmp:
            module = Path(tmp) / "hv_sock.ko"
            module.write_bytes(elf_with_sections({b".modinfo": b"name=hv_sock\0",
                                                  b"__versions": versions_section(EXPECTED)}))
            hv_modules.strip_versions(module)
            data = module.read_bytes()
            self.assertEqual(hv_modules.module_versions(data), {})
            self.assertEqual(modules.modinfo(data), {"name": "hv_sock"})

    def test_packaged_bookworm_hv_sock(self):
        """The measured CRC of vmbus_proto_version in Debian's 6.1 hv_sock.ko (hv_sock.md)."""
        packaged = Path("/tmp/hvk/bookworm.ko")
        if not packaged.is_file():
            self.skipTest(f"{packaged} not here")
        versions = hv_modules.module_versions(packaged.read_bytes())
        self.assertEqual(versions["vmbus_proto_version"], 0x46a417ca)
        self.assertTrue(set(hv_modules.HV_VMBUS_SYMBOLS) <= set(versions))


class ModuleFilesTest(unittest.TestCase):
    def kernel(self, top: Path, tree: dict) -> Kernel:
        modules_dir = top / "lib/modules/6.1.0-test"
        fake_kernel.modules_tree(modules_dir, ".xz", tree)
        return Kernel("debian:bookworm", "6.1.0-test", "6.1.0-1", top / "vmlinuz", modules_dir, None, None)

    def test_hv_sock_alone_decompressed(self):
        tree = dict(fake_kernel.VSOCK_TREE)
        tree["kernel/drivers/hv/hv_vmbus.ko"] = []
        tree["kernel/net/vmw_vsock/hv_sock.ko"] = ["vsock", "hv_vmbus"]
        with tempfile.TemporaryDirectory() as tmp:
            kernel = self.kernel(Path(tmp), tree)
            written = hv_modules.materialize_hv_sock(kernel, Path(tmp) / "out")
            self.assertEqual(written.name, "hv_sock.ko")
            self.assertEqual(modules.modinfo(written.read_bytes())["name"], "hv_sock")
            self.assertEqual(sorted(p.name for p in (Path(tmp) / "out").iterdir()), ["hv_sock.ko"])  # no hv_vmbus

    def test_no_hv_sock(self):
        with tempfile.TemporaryDirectory() as tmp:
            kernel = self.kernel(Path(tmp), fake_kernel.VSOCK_TREE)
            with self.assertRaisesRegex(UserError, r"no hv_sock module .*CONFIG_HYPERV_VSOCKETS=not set"):
                hv_modules.hv_sock_source(kernel)

    def test_builtin_virtio_transport_refused(self):
        """A built-in virtio transport holds the guest-to-host slot: hv_sock's insmod would fail with
        EBUSY in the guest; the runner says why before booting."""
        tree = dict(fake_kernel.VSOCK_TREE)
        tree["kernel/net/vmw_vsock/hv_sock.ko"] = ["vsock"]
        with tempfile.TemporaryDirectory() as tmp:
            kernel = self.kernel(Path(tmp), tree)
            config = Path(tmp) / "config"
            config.write_text("CONFIG_VSOCKETS=y\nCONFIG_VIRTIO_VSOCKETS=y\nCONFIG_HYPERV_VSOCKETS=m\n")
            kernel = dataclasses.replace(kernel, config=config)
            with self.assertRaisesRegex(UserError, r"virtio vsock transport built in .*hvsock-guest.config"):
                hv_modules.hv_sock_source(kernel)
            config.write_text("CONFIG_VSOCKETS=y\nCONFIG_VIRTIO_VSOCKETS=m\nCONFIG_HYPERV_VSOCKETS=m\n")
            self.assertEqual(hv_modules.hv_sock_source(kernel).name, "hv_sock.ko.xz")

    def test_vmbus_sim_picked_and_kept_from_kmod(self):
        built = [Path("/b/vsc_probe.ko"), Path("/b/vmbus_sim/vmbus_sim.ko")]
        self.assertEqual(hv_modules.vmbus_sim_module(built), built[1])
        self.assertEqual(hv_modules.test_modules(built), (built[0],))
        with self.assertRaisesRegex(UserError, "made no vmbus_sim.ko .*vsc_probe.ko"):
            hv_modules.vmbus_sim_module(built[:1])


def case(name: str, needs: str) -> Case:
    return Case(name, "stream", "one", needs, 10, "", ())


class TopologyHvsockTest(unittest.TestCase):
    CASES = [case("stream_basic", "-"), case("hvsock_echo", "hvsock"), case("seq_x", "seqpacket,hvsock"),
             case("nested_x", "nested")]

    def test_only_hvsock_cases(self):
        self.assertEqual([c.name for c in topology_hvsock.hvsock_cases(self.CASES)], ["hvsock_echo", "seq_x"])
        self.assertEqual(topology_hvsock.planned(self.CASES), 2)

    def test_args(self):
        args = topology_hvsock.test_args(topology_hvsock.hvsock_cases(self.CASES))
        self.assertEqual(args, ["--hvsock", "--peer-cid", "2", "--pick", "hvsock_echo", "--pick", "seq_x"])

    def test_no_virtio_transport(self):
        self.assertNotIn("vmw_vsock_virtio_transport", topology_hvsock.MODULES)
        self.assertEqual(set(topology.MODULES) - set(topology_hvsock.MODULES), {"vmw_vsock_virtio_transport"})

    def test_load_failures(self):
        text = ("# vsockcheck-init: insmod vsc_probe.ko failed: x\n"
                "# vsockcheck-init: insmod hv_sock.ko failed: insmod: can't insert 'hv_sock.ko': "
                "Invalid argument\nKTAP version 1\n")
        self.assertEqual(topology_hvsock.load_failures(text),
                         ["hv_sock.ko did not load: insmod: can't insert 'hv_sock.ko': Invalid argument"])

    def test_report(self):
        rows = hv_modules.compare(EXPECTED, dict(EXPECTED, vmbus_open=1))
        prepared = topology_hvsock.HvModules(Path("s"), Path("h"), hv_modules.EXPORTS, rows, forced=True)
        lines = prepared.report_lines("6.1.0-test")
        self.assertEqual(lines[0], "kernel 6.1.0-test: vmbus_sim attaches by exports")
        self.assertEqual(sum(line.startswith("  same") for line in lines), 11)
        self.assertTrue(any(line.startswith("  DIFFERS  vmbus_open:") for line in lines))
        self.assertIn("taint F", lines[-1])
        livepatch = topology_hvsock.HvModules(Path("s"), Path("h"), hv_modules.LIVEPATCH)
        self.assertIn("not compared", livepatch.report_lines("7.2")[1])


if __name__ == "__main__":
    unittest.main()
