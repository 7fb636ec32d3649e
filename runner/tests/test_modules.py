"""Tests for vsc.modules: modules.dep/builtin parsing, load-order planning, and plain .ko output."""

import shutil
import subprocess
import tempfile
import unittest
from pathlib import Path
from unittest import mock

from tests import fake_kernel
from vsc import modules
from vsc.errors import UserError
from vsc.kernels import Kernel

WANTED = ["virtio_pci", "virtio_console", "vsock_loopback", "vmw_vsock_virtio_transport", "vsock_diag"]
MISSING_OPTIONS = {
    "vsock": "CONFIG_VSOCKETS",
    "vsock_loopback": "CONFIG_VSOCKETS_LOOPBACK",
    "vmw_vsock_virtio_transport": "CONFIG_VIRTIO_VSOCKETS",
    "vmw_vsock_virtio_transport_common": "CONFIG_VIRTIO_VSOCKETS_COMMON",
    "vsock_diag": "CONFIG_VSOCKETS_DIAG",
    "virtio_console": "CONFIG_VIRTIO_CONSOLE",
    "virtio_pci": "CONFIG_VIRTIO_PCI",
}


class Parsing(unittest.TestCase):
    def test_module_name(self):
        self.assertEqual(modules.module_name("kernel/net/vmw_vsock/vsock.ko.xz"), "vsock")
        self.assertEqual(modules.module_name("virtio-rng.ko.zst"), "virtio_rng")
        self.assertEqual(modules.module_name("vsock-diag"), "vsock_diag")
        self.assertEqual(modules.module_name("a.ko.gz"), "a")

    def test_modules_dep(self):
        text = ("kernel/net/vmw_vsock/vsock.ko.xz:\n"
                "kernel/net/vmw_vsock/vsock_diag.ko.xz: kernel/net/vmw_vsock/vsock.ko.xz\n"
                "\n"
                "kernel/char/hw_random/virtio-rng.ko: kernel/drivers/virtio/virtio_ring.ko kernel/drivers/virtio/virtio.ko\n")
        deps = modules.parse_modules_dep(text, Path("/m"))
        self.assertEqual(deps["vsock"], (Path("/m/kernel/net/vmw_vsock/vsock.ko.xz"), ()))
        self.assertEqual(deps["vsock_diag"][1], ("vsock",))
        self.assertEqual(deps["virtio_rng"], (Path("/m/kernel/char/hw_random/virtio-rng.ko"), ("virtio_ring", "virtio")))

    def test_modules_builtin(self):
        text = "kernel/drivers/virtio/virtio_pci.ko\nkernel/drivers/char/virtio-console.ko\n\n"
        self.assertEqual(modules.parse_modules_builtin(text), {"virtio_pci", "virtio_console"})

    def test_config(self):
        text = "# comment\nCONFIG_VSOCKETS=m\nCONFIG_VIRTIO_PCI=y\n# CONFIG_VSOCKETS_DIAG is not set\nCONFIG_LOCALVERSION=\"-vsc\"\n"
        self.assertEqual(modules.parse_config(text),
                         {"CONFIG_VSOCKETS": "m", "CONFIG_VIRTIO_PCI": "y", "CONFIG_LOCALVERSION": "-vsc"})

    def test_modinfo_of_an_elf_module(self):
        info = modules.modinfo(fake_kernel.elf_module("vsock_diag", ["vsock"]))
        self.assertEqual((info["name"], info["depends"], info["license"]), ("vsock_diag", "vsock", "GPL"))
        with self.assertRaises(ValueError):
            modules.modinfo(b"not elf at all")


class TreeTest(unittest.TestCase):
    """A temporary lib/modules/<release> directory and a Kernel pointing at it."""

    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.root = Path(self._tmp.name)
        self.moddir = self.root / "lib/modules/6.1.0-vsc"
        self.moddir.mkdir(parents=True)

    def tearDown(self):
        self._tmp.cleanup()

    def kernel(self, modules_dir="default", config=None, builtin=None) -> Kernel:
        return Kernel("test-kernel", "6.1.0-vsc", "6.1.0-vsc", self.root / "vmlinuz",
                      self.moddir if modules_dir == "default" else modules_dir, config, builtin)

    def write(self, name: str, text: str) -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    def names(self, plan) -> list[str]:
        return [modules.module_name(p) for p in plan.load]


class Planning(TreeTest):
    def setUp(self):
        super().setUp()
        fake_kernel.modules_tree(self.moddir)
        modules.write_modules_dep(self.moddir)

    def test_dependencies_first_each_once(self):
        plan = modules.plan(self.kernel(), WANTED[:1] + WANTED[2:])
        names = self.names(plan)
        self.assertEqual(len(names), len(set(names)))
        self.assertEqual(set(names), {"virtio_ring", "virtio", "virtio_pci_modern_dev", "virtio_pci_legacy_dev",
                                      "virtio_pci", "vsock", "vmw_vsock_virtio_transport_common", "vsock_loopback",
                                      "vmw_vsock_virtio_transport", "vsock_diag"})
        for name, (_, needs) in modules.parse_modules_dep((self.moddir / "modules.dep").read_text(), self.moddir).items():
            if name in names:
                for need in needs:
                    self.assertLess(names.index(need), names.index(name), f"{need} must load before {name}")
        self.assertEqual(plan.builtin, ())
        self.assertTrue(all(p.is_file() for p in plan.load))

    def test_dash_and_underscore_are_the_same(self):
        plan = modules.plan(self.kernel(), ["vsock-diag", "vsock_diag"])
        self.assertEqual(self.names(plan), ["vsock", "vsock_diag"])

    def test_builtin_modules_are_skipped(self):
        builtin = self.write("builtin", "kernel/drivers/char/virtio_console.ko\nkernel/drivers/virtio/virtio-pci.ko\n")
        fake_kernel.write_module(self.moddir, "kernel/drivers/char/virtio_console.ko", [])  # not in modules.dep
        plan = modules.plan(self.kernel(builtin=builtin), ["virtio_console", "vsock_diag"])
        self.assertEqual((self.names(plan), plan.builtin), (["vsock", "vsock_diag"], ("virtio_console",)))

    def test_builtin_list_found_in_modules_dir(self):
        (self.moddir / "modules.builtin").write_text("kernel/drivers/char/virtio_console.ko\n")
        self.assertEqual(modules.plan(self.kernel(), ["virtio_console"]).builtin, ("virtio_console",))

    def test_missing_module_names_its_config_option(self):
        (self.moddir / "modules.dep").write_text("")  # nothing loadable: each wanted module is missing
        for name, option in MISSING_OPTIONS.items():
            with self.subTest(name=name), self.assertRaises(UserError) as cm:
                modules.plan(self.kernel(), [name])
            message = str(cm.exception)
            self.assertIn(f"module {name} ", message)
            self.assertIn(f"{option}=y or =m", message)
            self.assertIn("test-kernel", message)

    def test_unknown_module_just_names_it(self):
        with self.assertRaises(UserError) as cm:
            modules.plan(self.kernel(), ["no_such_mod"])
        self.assertIn("module no_such_mod is neither built in nor in", str(cm.exception))
        self.assertNotIn("CONFIG_", str(cm.exception))

    def test_missing_dependency(self):
        (self.moddir / "modules.dep").write_text("kernel/a.ko: kernel/b.ko\n")
        with self.assertRaisesRegex(UserError, "module a needs module b, which is not in modules.dep"):
            modules.plan(self.kernel(), ["a"])

    def test_dependency_loop(self):
        (self.moddir / "modules.dep").write_text("kernel/a.ko: kernel/b.ko\nkernel/b.ko: kernel/a.ko\n")
        with self.assertRaisesRegex(UserError, "loop: a -> b -> a"):
            modules.plan(self.kernel(), ["a"])


class ModulesDep(TreeTest):
    def test_written_like_depmod(self):
        fake_kernel.modules_tree(self.moddir, ".xz")
        modules.write_modules_dep(self.moddir)
        lines = dict(line.split(":", 1) for line in (self.moddir / "modules.dep").read_text().splitlines())
        self.assertEqual(lines["kernel/net/vmw_vsock/vsock.ko.xz"], "")
        # All dependencies, transitively, the first to load listed last.
        loopback = lines["kernel/net/vmw_vsock/vsock_loopback.ko.xz"].split()
        self.assertEqual(loopback, ["kernel/net/vmw_vsock/vmw_vsock_virtio_transport_common.ko.xz",
                                    "kernel/net/vmw_vsock/vsock.ko.xz"])
        virtio_pci = lines["kernel/drivers/virtio/virtio_pci.ko.xz"].split()
        self.assertLess(virtio_pci.index("kernel/drivers/virtio/virtio.ko.xz"),
                        virtio_pci.index("kernel/drivers/virtio/virtio_ring.ko.xz"))

    def test_plan_without_modules_dep_scans_the_modules(self):
        fake_kernel.modules_tree(self.moddir, ".gz")
        plan = modules.plan(self.kernel(), ["vsock_loopback"])
        self.assertEqual(self.names(plan), ["vsock", "vmw_vsock_virtio_transport_common", "vsock_loopback"])
        self.assertFalse((self.moddir / "modules.dep").exists(), "a local tree is read, never written")

    def test_unreadable_module(self):
        (self.moddir / "kernel").mkdir()
        (self.moddir / "kernel/broken.ko.xz").write_bytes(b"not xz")
        with self.assertRaisesRegex(UserError, "cannot read module .*broken.ko.xz"):
            modules.write_modules_dep(self.moddir)


class NoModulesDir(TreeTest):
    """A kernel build tree: no modules, so wanted modules must be built in according to .config."""

    def test_config_y_counts_as_builtin(self):
        config = self.write(".config", "\n".join(f"{o}=y" for o in MISSING_OPTIONS.values()) + "\n")
        plan = modules.plan(self.kernel(None, config), WANTED)
        self.assertEqual((plan.load, plan.builtin), ((), tuple(WANTED)))

    def test_config_m_without_modules_is_an_error(self):
        config = self.write(".config", "CONFIG_VSOCKETS=m\n")
        with self.assertRaisesRegex(UserError, r"module vsock is neither built in nor as a module \(the kernel has no "
                                               r"modules directory\): it needs CONFIG_VSOCKETS=y or =m; its config has CONFIG_VSOCKETS=m"):
            modules.plan(self.kernel(None, config), ["vsock"])

    def test_no_config_at_all(self):
        with self.assertRaisesRegex(UserError, "module virtio_pci .*CONFIG_VIRTIO_PCI=y or =m$"):
            modules.plan(self.kernel(None), ["virtio_pci"])

    def test_modules_builtin_of_the_build_tree(self):
        builtin = self.write("modules.builtin", "kernel/net/vmw_vsock/vsock_diag.ko\n")
        self.assertEqual(modules.plan(self.kernel(None, None, builtin), ["vsock-diag"]).builtin, ("vsock_diag",))


class BuiltinNames(TreeTest):
    """What the guest is told is built in (modules.BUILTIN_LIST), from modules.builtin and .config."""

    def test_modules_builtin_and_config_together(self):
        builtin = self.write("modules.builtin", "kernel/drivers/vhost/vhost-net.ko\n")
        config = self.write(".config", "CONFIG_VSOCKETS_LOOPBACK=y\nCONFIG_VIRTIO_VSOCKETS=m\nCONFIG_VIRTIO_NET=y\n"
                                       "CONFIG_NET_FAILOVER=y\nCONFIG_FAILOVER=y\n")
        self.assertEqual(modules.builtin_names(self.kernel(None, config, builtin)),
                         {"vhost_net", "vsock_loopback", "virtio_net", "net_failover", "failover"})

    def test_list_entry_one_name_a_line(self):
        config = self.write(".config", "CONFIG_VSOCKETS=y\nCONFIG_VHOST_VSOCK=y\n")
        path, data = modules.builtin_list_entry(self.kernel(None, config))
        self.assertEqual((path, data), ("lib/modules/vsockcheck/builtin", b"vhost_vsock\nvsock\n"))

    def test_a_modular_kernel_lists_none_of_ours(self):
        config = self.write(".config", "CONFIG_VSOCKETS=m\nCONFIG_VHOST_VSOCK=m\n")
        self.assertEqual(modules.builtin_list_entry(self.kernel(None, config))[1], b"")

    def test_exec_network_modules_built_in(self):
        """exec --network wants failover and net_failover, which VIRTIO_NET=y selects as =y."""
        config = self.write(".config", "CONFIG_VIRTIO_NET=y\nCONFIG_NET_FAILOVER=y\nCONFIG_FAILOVER=y\n")
        plan = modules.plan(self.kernel(None, config), ["failover", "net_failover", "virtio_net"])
        self.assertEqual((plan.load, plan.builtin), ((), ("failover", "net_failover", "virtio_net")))


class Materialize(TreeTest):
    def test_every_compression_becomes_the_same_plain_ko(self):
        plain = fake_kernel.elf_module("vsock", [])
        for suffix in (".ko", ".ko.xz", ".ko.gz"):
            with self.subTest(suffix=suffix):
                source = fake_kernel.write_module(self.moddir, f"kernel/vsock{suffix}", [])
                out = modules.materialize(modules.ModulePlan((source,), ()), self.root / "out")
                self.assertEqual(out, [self.root / "out/vsock.ko"])
                self.assertEqual(out[0].read_bytes(), plain)
                source.unlink()

    @unittest.skipUnless(shutil.which("zstd"), "zstd command not installed")
    def test_zstd_through_the_command(self):
        plain = fake_kernel.write_module(self.moddir, "kernel/vsock.ko", [])
        compressed = self.moddir / "kernel/vsock.ko.zst"
        subprocess.run(["zstd", "-q", "-o", str(compressed), str(plain)], check=True)
        plain.rename(self.root / "original.ko")
        out = modules.materialize(modules.ModulePlan((compressed,), ()), self.root / "out")
        self.assertEqual(out[0].read_bytes(), (self.root / "original.ko").read_bytes())

    def test_zstd_without_the_command(self):
        module = self.moddir / "vsock.ko.zst"
        module.write_bytes(b"\x28\xb5\x2f\xfd")
        with mock.patch("shutil.which", return_value=None), self.assertRaisesRegex(UserError, "install the zstd package"):
            modules.materialize(modules.ModulePlan((module,), ()), self.root / "out")

    def test_load_order_is_kept(self):
        fake_kernel.modules_tree(self.moddir, ".xz")
        plan = modules.plan(self.kernel(), ["vsock_diag", "vsock_loopback"])
        out = modules.materialize(plan, self.root / "out")
        self.assertEqual([p.name for p in out], ["vsock.ko", "vsock_diag.ko", "vmw_vsock_virtio_transport_common.ko",
                                                 "vsock_loopback.ko"])
        self.assertEqual(sorted(p.name for p in (self.root / "out").iterdir()), sorted(p.name for p in out))

    def test_corrupt_module(self):
        module = self.moddir / "vsock.ko.xz"
        module.write_bytes(b"garbage")
        with self.assertRaisesRegex(UserError, "cannot read module .*vsock.ko.xz"):
            modules.materialize(modules.ModulePlan((module,), ()), self.root / "out")


if __name__ == "__main__":
    unittest.main()
