"""Tests for vsc.kernel_roles: a kernel that cannot play its guest's part is refused in one line."""

import os
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

from tests import fake_kernel
from vsc import kernel_roles, modules
from vsc.errors import UserError
from vsc.kernels import Kernel
from vsc.paths import PROJECT_ROOT

VSOCKCHECK = PROJECT_ROOT / "runner" / "vsockcheck"

GUEST_CONFIG = "CONFIG_VSOCKETS=y\nCONFIG_VIRTIO_VSOCKETS=y\nCONFIG_VSOCKETS_LOOPBACK=y\n# CONFIG_VHOST_VSOCK is not set\n"
HOST_CONFIG = GUEST_CONFIG.replace("# CONFIG_VHOST_VSOCK is not set", "CONFIG_VHOST_VSOCK=y")


class Roles(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.root = Path(self._tmp.name)

    def tearDown(self):
        self._tmp.cleanup()

    def build_tree(self, name: str, config: str) -> Kernel:
        """A kernel as a build tree gives it: .config, modules.builtin, no modules directory."""
        tree = self.root / name
        tree.mkdir()
        (tree / ".config").write_text(config)
        return Kernel(str(tree), "6.12.117", "6.12.117", tree / "bzImage", None, tree / ".config", None)

    def debian(self) -> Kernel:
        """A Debian-like kernel: vhost_vsock and the vsock transports are modules."""
        moddir = self.root / "deb/lib/modules/6.1.0-vsc"
        tree = dict(fake_kernel.VSOCK_TREE)
        tree["kernel/drivers/vhost/vhost.ko"] = []
        tree["kernel/drivers/vhost/vhost_vsock.ko"] = ["vhost", "vmw_vsock_virtio_transport_common", "vsock"]
        fake_kernel.modules_tree(moddir, tree=tree)
        config = self.root / "deb/config"
        config.write_text(GUEST_CONFIG.replace("=y", "=m").replace("# CONFIG_VHOST_VSOCK is not set",
                                                                   "CONFIG_VHOST_VSOCK=m"))
        return Kernel("debian:test", "6.1.0-vsc", "6.1.0-vsc", self.root / "vmlinuz", moddir, config)

    def test_guest_kernel_is_a_guest_not_a_host(self):
        guest = self.build_tree("guest", GUEST_CONFIG)
        kernel_roles.require(guest, kernel_roles.GUEST, "topology g2h")
        with self.assertRaises(UserError) as cm:
            kernel_roles.require(guest, kernel_roles.HOST, "nested L1")
        message = str(cm.exception)
        self.assertNotIn("\n", message)
        self.assertTrue(message.startswith(f"nested L1 hosts guests through vhost_vsock: kernel {guest.name}: "), message)
        self.assertIn("CONFIG_VHOST_VSOCK=y or =m", message)
        self.assertIn("kconfig/vsock-host.config", message)

    def test_host_kernel_is_a_host_not_a_guest(self):
        host = self.build_tree("host", HOST_CONFIG)
        kernel_roles.require(host, kernel_roles.HOST, "nested L1")
        with self.assertRaises(UserError) as cm:
            kernel_roles.require(host, kernel_roles.GUEST, "topology g2g")
        message = str(cm.exception)
        self.assertNotIn("\n", message)
        self.assertTrue(message.startswith(f"topology g2g: kernel {host.name} has vhost_vsock built in "
                                           "(CONFIG_VHOST_VSOCK=y), so every connect() to a CID above 2"), message)
        self.assertTrue(message.endswith("build the guest kernel without kconfig/vsock-host.config"), message)

    def test_builtin_found_through_modules_builtin_too(self):
        """A kernel without a .config entry for it still says so in modules.builtin."""
        tree = self.root / "listed"
        tree.mkdir()
        (tree / "modules.builtin").write_text("kernel/drivers/vhost/vhost_vsock.ko\n")
        kernel = Kernel(str(tree), "6.12.117", "6.12.117", tree / "bzImage", None, None, tree / "modules.builtin")
        with self.assertRaisesRegex(UserError, "has vhost_vsock built in"):
            kernel_roles.require(kernel, kernel_roles.GUEST, "nested L2")
        kernel_roles.require(kernel, kernel_roles.HOST, "nested L1")

    def test_modular_debian_kernel_plays_both(self):
        kernel = self.debian()
        self.assertIn("vhost_vsock", [modules.module_name(p) for p in modules.plan(kernel, ["vhost_vsock"]).load])
        kernel_roles.require(kernel, kernel_roles.GUEST, "topology g2h")
        kernel_roles.require(kernel, kernel_roles.HOST, "nested L1")

    def test_topologies(self):
        guest, host = self.build_tree("guest", GUEST_CONFIG), self.build_tree("host", HOST_CONFIG)
        for topology in ("loopback", "g2h", "g2g"):
            kernel_roles.require_topology(topology, guest)
        kernel_roles.require_topology("nested", host, guest)
        for topology in ("g2h", "g2g"):
            with self.subTest(topology=topology), self.assertRaisesRegex(UserError, f"^topology {topology}'s guests?: "
                                                                         "kernel .* has vhost_vsock built in"):
                kernel_roles.require_topology(topology, host)

    def test_nested_l1_without_vhost(self):
        guest = self.build_tree("guest", GUEST_CONFIG)
        with self.assertRaisesRegex(UserError, "^nested L1 hosts guests through vhost_vsock: .*CONFIG_VHOST_VSOCK"):
            kernel_roles.require_topology("nested", guest, guest)

    def test_nested_l2_defaults_to_l1s_host_kernel(self):
        host = self.build_tree("host", HOST_CONFIG)
        with self.assertRaises(UserError) as cm:
            kernel_roles.require_topology("nested", host)
        self.assertRegex(str(cm.exception), r"^nested L2 \(no --l2-kernel: L1's kernel\): kernel .* has vhost_vsock "
                                            r"built in \(CONFIG_VHOST_VSOCK=y\), .*; give --l2-kernel a kernel built "
                                            r"without kconfig/vsock-host.config$")
        with self.assertRaisesRegex(UserError, r"^nested L2: kernel .* has vhost_vsock built in"):
            kernel_roles.require_topology("nested", host, host)

    def test_every_topology_has_its_guests_listed(self):
        from vsc import cli, exec_placement
        self.assertEqual(set(kernel_roles.TOPOLOGY_GUESTS), set(cli.TOPOLOGIES))
        # exec places its peers in every topology but hvsock (whose peer is the simulated Hyper-V host).
        self.assertEqual(set(kernel_roles.TOPOLOGY_GUESTS) - {"hvsock"}, set(exec_placement.PLACEMENTS))

    def test_unknown_role(self):
        with self.assertRaises(ValueError):
            kernel_roles.require(self.build_tree("x", GUEST_CONFIG), "peer", "topology g2h")



class Refusals(unittest.TestCase):
    """The commands refuse before anything is built or booted: one error line, exit 2."""

    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.root = Path(self._tmp.name)
        self.guest = self.tree("guest", GUEST_CONFIG)
        self.host = self.tree("host", HOST_CONFIG)

    def tearDown(self):
        self._tmp.cleanup()

    def tree(self, name: str, config: str) -> Path:
        """A kernel build tree as --kernel accepts it: bzImage, .config, modules.builtin."""
        tree = self.root / name
        (tree / "arch/x86/boot").mkdir(parents=True)
        (tree / "arch/x86/boot/bzImage").write_bytes(fake_kernel.bzimage("6.12.117"))
        (tree / ".config").write_text(config)
        (tree / "modules.builtin").write_text("")
        return tree

    def vsockcheck(self, *args: str) -> subprocess.CompletedProcess:
        env = dict(os.environ, XDG_CACHE_HOME=str(self.root / "cache"))
        return subprocess.run([sys.executable, str(VSOCKCHECK), *args, "--results", str(self.root / "results")],
                              capture_output=True, text=True, env=env, timeout=60)

    def assert_refused(self, done: subprocess.CompletedProcess, pattern: str) -> None:
        self.assertEqual(done.returncode, 2, done.stderr)
        self.assertEqual(done.stdout, "")
        lines = done.stderr.splitlines()
        self.assertEqual(len(lines), 1, done.stderr)
        self.assertRegex(lines[0], "^vsockcheck: error: " + pattern)
        self.assertFalse((self.root / "results").exists())

    def test_run_g2h_on_a_host_kernel(self):
        done = self.vsockcheck("run", "--kernel", str(self.host), "--topology", "g2h")
        self.assert_refused(done, f"topology g2h's guest: kernel {self.host} has vhost_vsock built in "
                                  r"\(CONFIG_VHOST_VSOCK=y\)")

    def test_run_nested_l1_without_vhost(self):
        done = self.vsockcheck("run", "--kernel", str(self.guest), "--topology", "nested")
        self.assert_refused(done, f"nested L1 hosts guests through vhost_vsock: kernel {self.guest}: .*CONFIG_VHOST_VSOCK")

    def test_run_nested_with_the_host_kernel_for_l2(self):
        done = self.vsockcheck("run", "--kernel", str(self.host), "--topology", "nested")
        self.assert_refused(done, r"nested L2 \(no --l2-kernel: L1's kernel\)")

    def test_exec_g2g_on_a_host_kernel(self):
        done = self.vsockcheck("exec", "--topology", "g2g", "--kernel", str(self.host),
                               "--server", "/bin/true", "--client", "/bin/true")
        self.assert_refused(done, "topology g2g's guests: kernel .* has vhost_vsock built in")


if __name__ == "__main__":
    unittest.main()
