"""build-kernel on Debian trixie's linux-source: the guest kernel (minimal + vsock-guest) is a valid
SPEC, a second build compiles nothing, a touched af_vsock.c recompiles only itself, the kernel
boots and passes the loopback suite, and a fragment line Kconfig refuses is a BuildError."""

import os
import re
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

from slow_tests import kernels as slow_kernels
from vsc import kbuild, kernel_source, kernels
from vsc.paths import PROJECT_ROOT

VSOCKCHECK = PROJECT_ROOT / "runner" / "vsockcheck"


def compiled(log: Path) -> list[str]:
    """The objects Kbuild compiled, from its '  CC      path.o' lines."""
    return re.findall(r"^\s+CC\s+(\S+)$", log.read_text(), re.MULTILINE)


class GuestKernelTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.spec = slow_kernels.guest_kernel()
        cls.src = kernel_source.source_tree(slow_kernels.SOURCE)

    def rebuild(self) -> kbuild.BuiltKernel:
        return kbuild.build_kernel(self.src, kbuild.DEFAULT_FRAGMENTS, self.spec, jobs=slow_kernels.JOBS)

    def test_output_is_a_kernel_spec_with_vsock_built_in(self):
        kernel = kernels.resolve(str(self.spec), fetch=False)
        self.assertTrue(kernel.release.startswith("6.12."), kernel.release)
        self.assertEqual(kernel.vmlinuz, self.spec / f"boot/vmlinuz-{kernel.release}")
        self.assertIsNone(kernel.modules_dir)
        config = kernel.config.read_text()
        for line in ("CONFIG_VSOCKETS=y", "CONFIG_VIRTIO_VSOCKETS=y", "CONFIG_VSOCKETS_LOOPBACK=y",
                     "# CONFIG_MODULES is not set"):
            self.assertIn(line, config.splitlines())
        self.assertNotIn("CONFIG_VHOST_VSOCK=y", config)
        obj = (self.spec / "build").resolve()
        self.assertEqual(obj.parent, self.src)
        self.assertTrue((obj / "arch/x86/boot/bzImage").is_file())

    def test_second_build_compiles_nothing(self):
        image = kernels.resolve(str(self.spec), fetch=False).vmlinuz
        before = image.read_bytes(), image.stat().st_mtime_ns
        built = self.rebuild()
        print(f"\n  no-op rebuild: {built.seconds:.1f} s", file=sys.stderr)
        self.assertEqual(compiled(built.log), [])
        self.assertEqual((image.read_bytes(), image.stat().st_mtime_ns), before)

    def test_touched_af_vsock_recompiles_only_itself(self):
        os.utime(self.src / "net/vmw_vsock/af_vsock.c")
        image = kernels.resolve(str(self.spec), fetch=False).vmlinuz
        mtime = image.stat().st_mtime_ns
        built = self.rebuild()
        print(f"\n  rebuild after touching af_vsock.c: {built.seconds:.1f} s", file=sys.stderr)
        objects = compiled(built.log)
        self.assertIn("net/vmw_vsock/af_vsock.o", objects)
        # Relinking recompiles what embeds the build's version stamp (vmlinux's and the bzImage
        # setup's); nothing else depends on af_vsock.c.
        self.assertLessEqual(set(objects), {"net/vmw_vsock/af_vsock.o", "init/version.o", "init/version-timestamp.o",
                                            "arch/x86/boot/version.o", "arch/x86/boot/compressed/misc.o"}, objects)
        self.assertNotEqual(image.stat().st_mtime_ns, mtime)

    def test_boots_and_passes_loopback(self):
        with tempfile.TemporaryDirectory(prefix="vsockcheck-slow-") as results:
            done = subprocess.run([sys.executable, str(VSOCKCHECK), "run", "--kernel", str(self.spec),
                                   "--topology", "loopback", "--results", results],
                                  capture_output=True, text=True)
        last = (done.stdout.strip().splitlines() or ["(no output)"])[-1]
        self.assertEqual(done.returncode, 0, f"{last}\n{done.stdout[-3000:]}{done.stderr[-2000:]}")
        counts = re.fullmatch(r"(\d+) passed, (\d+) failed, (\d+) skipped", last)
        self.assertIsNotNone(counts, last)
        self.assertEqual(counts.group(2), "0", last)
        self.assertGreater(int(counts.group(1)), 100, last)
        print(f"\n  loopback: {last}", file=sys.stderr)


class BadFragmentTest(unittest.TestCase):
    def test_a_line_kconfig_refuses_is_a_build_error(self):
        src = kernel_source.source_tree(slow_kernels.SOURCE)
        with tempfile.TemporaryDirectory() as tmp:
            frag = Path(tmp) / "vsockmon.config"
            frag.write_text("# vsockmon without vhost_vsock\nCONFIG_VSOCKMON=y\n")
            with self.assertRaises(kbuild.BuildError) as e:
                kbuild.build_kernel(src, (*kbuild.DEFAULT_FRAGMENTS, str(frag)), Path(tmp) / "out",
                                    jobs=slow_kernels.JOBS, quiet=True)
        self.assertIn(f"CONFIG_VSOCKMON=y from {frag}:2 did not stick (not set): it depends on VHOST_VSOCK",
                      str(e.exception))
        self.assertTrue(e.exception.log.is_file())


if __name__ == "__main__":
    unittest.main()
