"""Tests for vsc.shared_libs: which guest programs need ld.so, and which libraries ldd names."""

import shutil
import tempfile
import unittest
from pathlib import Path

from tests.test_initramfs import read_image
from vsc import initramfs, shared_libs
from vsc.paths import GUEST_BIN_DIR

LDD_SAMPLE = """\
\tlinux-vdso.so.1 (0x00007ffd5e3f2000)
\tlibwrap.so.0 => /lib/x86_64-linux-gnu/libwrap.so.0 (0x00007f6252321000)
\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f6252096000)
\t/lib64/ld-linux-x86-64.so.2 (0x00007f62523ea000)
"""


class SharedLibsTest(unittest.TestCase):
    def test_ldd_output_gives_libraries_and_loader_not_the_vdso(self):
        self.assertEqual(shared_libs.parse_ldd(LDD_SAMPLE),
                         [Path("/lib/x86_64-linux-gnu/libwrap.so.0"),
                          Path("/lib/x86_64-linux-gnu/libc.so.6"), Path("/lib64/ld-linux-x86-64.so.2")])

    def test_non_elf_and_static_programs_need_nothing(self):
        self.assertFalse(shared_libs.is_dynamic(b"#!/bin/sh\necho hi\n"))
        self.assertFalse(shared_libs.is_dynamic(b"\x7fELF"))
        static = GUEST_BIN_DIR / "vhost-user-vsock"
        if static.exists():
            self.assertFalse(shared_libs.is_dynamic(static.read_bytes()))
            self.assertEqual(shared_libs.libraries_of([static]), [])

    @unittest.skipUnless(Path("/usr/bin/socat").exists(), "socat is not installed")
    def test_a_dynamic_program_brings_libc_and_the_loader_into_the_image(self):
        socat = Path("/usr/bin/socat")
        self.assertTrue(shared_libs.is_dynamic(socat.read_bytes()))
        libs = shared_libs.libraries_of([socat])
        names = {p.name for p in libs}
        self.assertIn("libc.so.6", names)
        self.assertIn("ld-linux-x86-64.so.2", names)
        tmp = Path(tempfile.mkdtemp(prefix="vsc-test-shared-libs-"))
        self.addCleanup(shutil.rmtree, tmp)
        (tmp / "init").write_bytes(b"#!/bin/sh\n")
        image = initramfs.build_base(tmp / "init", tmp / "init", [socat], [], tmp / "cache", libraries=libs)
        members, _ = read_image(image)
        self.assertIn("lib64/ld-linux-x86-64.so.2", members)
        self.assertIn("usr/bin/socat", members)
        self.assertTrue(any(name.endswith("/libc.so.6") for name in members))


if __name__ == "__main__":
    unittest.main()
