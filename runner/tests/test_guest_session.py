"""Tests for vsc.guest_session.build_image: what goes into the guest's /usr/bin and its module list."""

import shutil
import tempfile
import unittest
from pathlib import Path
from unittest import mock

from tests.test_initramfs import read_image
from vsc import guest_session
from vsc.kernels import Kernel


class BuildImageTest(unittest.TestCase):
    def setUp(self):
        self.tmp = Path(tempfile.mkdtemp(prefix="vsc-test-guest-session-"))
        self.addCleanup(shutil.rmtree, self.tmp)
        self.busybox = self.make("busybox", b"BUSYBOX")
        self.program = self.make("bin/vsockcheck-tests", b"TESTS")
        self.tool = self.make("bin/vsock-ss", b"SS")

    def make(self, name: str, data: bytes) -> Path:
        path = self.tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return path

    def build(self, planned: list[Path] = (), **changes) -> dict:
        config = self.tmp / "config"
        config.write_text("CONFIG_VSOCKETS_LOOPBACK=y\nCONFIG_VIRTIO_VSOCKETS=m\n")
        kernel = Kernel("test-kernel", "6.12.0", "6.12.0", self.tmp / "vmlinuz", None, config)
        fields = dict(kernel=kernel, modules=(), test_program=self.program, test_args=["--list"], cases=[])
        fields.update(changes)
        spec = guest_session.GuestSpec(**fields)
        with mock.patch.object(guest_session, "BUSYBOX", self.busybox), \
                mock.patch.object(guest_session.modules, "plan", return_value=[]), \
                mock.patch.object(guest_session.modules, "materialize", return_value=list(planned)):
            image = guest_session.build_image(spec, self.tmp, cache_dir=self.tmp / "cache")
        members, _ = read_image(image)
        return members

    def test_builtin_modules_are_listed_for_the_guest(self):
        """testcases/lib/module.c reads the list: a built-in module may have no /sys/module entry."""
        self.assertEqual(self.build()["lib/modules/vsockcheck/builtin"]["data"], b"vsock_loopback\n")

    def test_guest_tools_ship_next_to_the_test_program(self):
        members = self.build(guest_tools=(self.tool,))
        self.assertEqual(members["usr/bin/vsockcheck-tests"]["data"], b"TESTS")
        self.assertEqual(members["usr/bin/vsock-ss"]["data"], b"SS")

    def test_no_guest_tools_by_default(self):
        self.assertNotIn("usr/bin/vsock-ss", self.build())

    def test_test_modules_load_after_the_kernels_own(self):
        vsock = self.make("modules/vsock.ko", b"VSOCK")
        probe = self.make("kmod/vsc_probe.ko", b"PROBE")
        members = self.build(planned=[vsock], extra_modules=(probe,))
        self.assertEqual(members["etc/vsockcheck/modules"]["data"], b"vsock.ko\nvsc_probe.ko\n")
        self.assertEqual(members["lib/modules/vsockcheck/vsc_probe.ko"]["data"], b"PROBE")


if __name__ == "__main__":
    unittest.main()
