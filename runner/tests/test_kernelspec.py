"""Tests for vsc.kernelspec: SPEC strings and the local kernel layouts they may point at."""

import tempfile
import unittest
from pathlib import Path

from tests import fake_kernel
from vsc import kernelspec
from vsc.errors import UserError

R = "6.1.0-56-cloud-amd64"


class TempDirTest(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.root = Path(self._tmp.name).resolve()

    def tearDown(self):
        self._tmp.cleanup()

    def put(self, relpath: str, data: bytes = b"") -> Path:
        path = self.root / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return path


class DebianSpecs(unittest.TestCase):
    def test_each_suite(self):
        for suite in ("bullseye", "bookworm", "trixie", "sid"):
            self.assertEqual(kernelspec.parse(f"debian:{suite}"), kernelspec.DebianSpec(suite))

    def test_surrounding_space_is_ignored(self):
        self.assertEqual(kernelspec.parse(" debian:sid\n"), kernelspec.DebianSpec("sid"))

    def test_unknown_suite_lists_the_known_ones(self):
        with self.assertRaises(UserError) as cm:
            kernelspec.parse("debian:jessie")
        message = str(cm.exception)
        self.assertIn("'jessie'", message)
        for suite in ("bullseye", "bookworm", "trixie", "sid"):
            self.assertIn(f"debian:{suite}", message)

    def test_empty_suite(self):
        with self.assertRaisesRegex(UserError, "unknown Debian suite ''"):
            kernelspec.parse("debian:")

    def test_empty_spec(self):
        with self.assertRaisesRegex(UserError, "empty kernel spec.*debian:bookworm"):
            kernelspec.parse("  ")

    def test_nonexistent_path_lists_valid_forms(self):
        with self.assertRaises(UserError) as cm:
            kernelspec.parse("/no/such/kernel")
        message = str(cm.exception)
        self.assertIn("'/no/such/kernel'", message)
        self.assertIn("debian:trixie", message)
        self.assertIn("arch/x86/boot/bzImage", message)
        self.assertNotIn("\n", message)


class LocalSpecs(TempDirTest):
    def test_release_from_bzimage_header(self):
        image = self.put("bzImage", fake_kernel.bzimage(R))
        self.assertEqual(kernelspec.image_release(image), R)
        self.assertIsNone(kernelspec.image_release(self.put("not-a-kernel", b"hello")))

    def test_extracted_debian_package(self):
        image = self.put(f"boot/vmlinuz-{R}", fake_kernel.bzimage(R))
        config = self.put(f"boot/config-{R}", b"CONFIG_VSOCKETS=m\n")
        builtin = self.put(f"lib/modules/{R}/modules.builtin", b"kernel/fs/ext4/ext4.ko\n")
        found = kernelspec.parse(str(self.root))
        self.assertEqual(found, kernelspec.LocalKernel(self.root, R, image, self.root / f"lib/modules/{R}", config, builtin))

    def test_usr_lib_modules_and_image_inside_it(self):
        # sid: linux-binary-R puts vmlinuz in usr/lib/modules/R, linux-base-R puts config there too.
        release = "7.2.13+deb14-cloud-amd64"
        image = self.put(f"usr/lib/modules/{release}/vmlinuz", fake_kernel.bzimage(release))
        config = self.put(f"usr/lib/modules/{release}/config", b"")
        found = kernelspec.parse(str(self.root))
        self.assertEqual((found.release, found.vmlinuz, found.modules_dir, found.config, found.modules_builtin),
                         (release, image, image.parent, config, None))

    def test_several_kernels_in_one_tree(self):
        self.put(f"boot/vmlinuz-{R}", fake_kernel.bzimage(R))
        self.put("boot/vmlinuz-5.10.0-46-cloud-amd64", fake_kernel.bzimage("5.10.0-46-cloud-amd64"))
        with self.assertRaisesRegex(UserError, "several kernels .*5.10.0-46-cloud-amd64, 6.1.0-56.*vmlinuz file"):
            kernelspec.parse(str(self.root))

    def test_directory_without_kernel(self):
        self.put("README", b"")
        with self.assertRaisesRegex(UserError, "no kernel found in directory"):
            kernelspec.parse(str(self.root))

    def test_image_file_with_sibling_modules(self):
        image = self.put("vmlinuz", fake_kernel.bzimage(R))  # no release in the name: the header has it
        (self.root / f"lib/modules/{R}/kernel").mkdir(parents=True)
        found = kernelspec.parse(str(image))
        self.assertEqual((found.path, found.release, found.modules_dir), (image, R, self.root / f"lib/modules/{R}"))

    def test_boot_image_file_finds_modules_beside_boot(self):
        image = self.put(f"boot/vmlinuz-{R}", fake_kernel.bzimage(R))
        config = self.put(f"boot/config-{R}", b"")
        (self.root / f"usr/lib/modules/{R}").mkdir(parents=True)
        found = kernelspec.parse(str(image))
        self.assertEqual((found.modules_dir, found.config), (self.root / f"usr/lib/modules/{R}", config))

    def test_image_file_inside_its_modules_dir(self):
        image = self.put(f"usr/lib/modules/{R}/vmlinuz", fake_kernel.bzimage(R))
        self.put(f"usr/lib/modules/{R}/modules.dep", b"")
        self.assertEqual(kernelspec.parse(str(image)).modules_dir, image.parent)

    def test_image_file_without_modules(self):
        image = self.put("bzImage", fake_kernel.bzimage(R))
        self.assertIsNone(kernelspec.parse(str(image)).modules_dir)

    def test_release_from_file_name_when_not_a_bzimage(self):
        image = self.put(f"vmlinuz-{R}", b"\x7fELF...")
        self.assertEqual(kernelspec.parse(str(image)).release, R)

    def test_unrecognised_file(self):
        path = self.put("notes.txt", b"hello")
        with self.assertRaisesRegex(UserError, "notes.txt is not a bzImage kernel"):
            kernelspec.parse(str(path))

    def test_build_tree(self):
        image = self.put("arch/x86/boot/bzImage", fake_kernel.bzimage("6.12.0-vsc"))
        config = self.put(".config", b"CONFIG_VSOCKETS=y\n")
        self.put("include/config/kernel.release", b"6.12.0-vsc\n")
        found = kernelspec.parse(str(self.root))
        self.assertEqual(found, kernelspec.LocalKernel(self.root, "6.12.0-vsc", image, None, config, None))

    def test_build_tree_release_from_kernel_release_file(self):
        self.put("arch/x86/boot/bzImage", b"truncated")
        self.put("include/config/kernel.release", b"6.12.0-vsc\n")
        self.put("modules.builtin", b"kernel/net/vmw_vsock/vsock.ko\n")
        found = kernelspec.parse(str(self.root))
        self.assertEqual((found.release, found.modules_builtin), ("6.12.0-vsc", self.root / "modules.builtin"))

    def test_build_tree_without_release(self):
        self.put("arch/x86/boot/bzImage", b"truncated")
        with self.assertRaisesRegex(UserError, "no readable release string"):
            kernelspec.parse(str(self.root))


if __name__ == "__main__":
    unittest.main()
