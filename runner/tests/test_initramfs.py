"""Tests for vsc.initramfs: base image layout, the content-keyed cache, and the appended run.conf."""

import shutil
import stat
import subprocess
import tempfile
import unittest
import zlib
from pathlib import Path
from unittest import mock

from tests.test_cpio import read_newc
from vsc import initramfs
from vsc.errors import UserError


def read_image(path: Path) -> tuple[dict, bytes]:
    """Members of the gzip'd first archive by name, and whatever follows the gzip stream."""
    raw = path.read_bytes()
    unzip = zlib.decompressobj(wbits=31)
    blob = unzip.decompress(raw)
    members, end = read_newc(blob)
    assert end == len(blob)
    return {m["name"]: m for m in members}, unzip.unused_data


class InitramfsTest(unittest.TestCase):
    def setUp(self):
        self.tmp = Path(tempfile.mkdtemp(prefix="vsc-test-initramfs-"))
        self.addCleanup(shutil.rmtree, self.tmp)
        self.cache = self.tmp / "cache"
        self.busybox = self.make("in/busybox", b"BUSYBOX")
        self.init = self.make("in/guest_init.sh", b"#!/bin/sh\necho init\n")
        self.bins = [self.make("in/vsc_a", b"A"), self.make("in/vsc_b", b"B")]
        self.mods = [self.make("mods/virtio.ko", b"M1"), self.make("mods/virtio_console.ko", b"M2")]

    def make(self, name: str, data: bytes) -> Path:
        path = self.tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return path

    def build(self, **changes) -> Path:
        args = dict(busybox=self.busybox, init_script=self.init, guest_binaries=self.bins,
                    module_files=self.mods, cache_dir=self.cache)
        args.update(changes)
        return initramfs.build_base(**args)

    def test_layout(self):
        image = self.build()
        self.assertEqual(image.parent, self.cache)
        self.assertEqual(image.stat().st_mode & 0o777, 0o644)
        members, rest = read_image(image)
        self.assertEqual(rest, b"")
        self.assertEqual(members["init"]["data"], b"#!/bin/sh\necho init\n")
        self.assertEqual(members["init"]["mode"], stat.S_IFREG | 0o755)
        self.assertEqual(members["bin/busybox"]["mode"], stat.S_IFREG | 0o755)
        self.assertEqual(members["bin/sh"]["data"], b"/bin/busybox")
        self.assertEqual(members["usr/bin/vsc_b"]["data"], b"B")
        self.assertEqual(members["usr/bin/vsc_b"]["mode"], stat.S_IFREG | 0o755)
        self.assertEqual(members["lib/modules/vsockcheck/virtio_console.ko"]["data"], b"M2")
        self.assertEqual(members["etc/vsockcheck/modules"]["data"], b"virtio.ko\nvirtio_console.ko\n")
        for d in ("dev", "proc", "sys", "tmp", "run"):
            self.assertTrue(stat.S_ISDIR(members[d]["mode"]), d)

    def test_gzip_header_is_reproducible(self):
        first = self.build().read_bytes()
        self.assertEqual(first[4:8], b"\0\0\0\0")  # mtime
        self.assertEqual(first, self.build(cache_dir=self.tmp / "other").read_bytes())

    def test_same_inputs_reuse_the_cached_image(self):
        first = self.build()
        with mock.patch.object(initramfs, "_write_gzip") as write:
            self.assertEqual(self.build(), first)
            write.assert_not_called()
        self.assertEqual(sorted(p.name for p in self.cache.iterdir()), [first.name])

    def test_key_covers_bytes_names_and_order(self):
        first = self.build()
        renamed = self.make("in/renamed/vsc_a2", b"A")
        keys = {first.name,
                self.build(guest_binaries=[renamed, self.bins[1]]).name,
                self.build(module_files=list(reversed(self.mods))).name,
                self.build(init_script=self.make("in/init2", b"#!/bin/sh\n")).name,
                self.build(busybox=self.make("in/busybox2", b"BUSYBOX2")).name}
        self.assertEqual(len(keys), 5)
        # Same content under another directory is the same image.
        self.assertEqual(self.build(guest_binaries=[self.make("x/vsc_a", b"A"), self.bins[1]]), first)

    def test_failed_write_leaves_no_file(self):
        with mock.patch.object(initramfs, "_write_gzip", side_effect=RuntimeError("disk on fire")):
            with self.assertRaises(RuntimeError):
                self.build()
        self.assertEqual(list(self.cache.iterdir()), [])

    def test_bad_inputs_are_user_errors(self):
        cases = [dict(busybox=self.tmp / "missing"),
                 dict(guest_binaries=[self.tmp / "nope"]),
                 dict(guest_binaries=[self.bins[0], self.make("dup/vsc_a", b"other")]),
                 dict(module_files=[self.make("mods/vsock.ko.xz", b"xz")])]
        for changes in cases:
            with self.assertRaises(UserError, msg=changes):
                self.build(**changes)

    def test_run_config_tail(self):
        base = self.build()
        out = initramfs.with_run_config(base, {"MODE": "suite", "TEST_ARGS": "it's a test"}, self.tmp / "r.img")
        self.assertEqual(out, self.tmp / "r.img")
        raw = out.read_bytes()
        self.assertTrue(raw.startswith(base.read_bytes()))
        members, rest = read_image(out)
        self.assertIn("init", members)
        # The kernel wants the appended archive at a 4-byte aligned offset; zeros before it are skipped.
        tail = rest.lstrip(b"\0")
        self.assertEqual((len(raw) - len(tail)) % 4, 0)
        appended, end = read_newc(tail)
        self.assertEqual(end, len(tail))
        conf = {m["name"]: m for m in appended}["etc/vsockcheck/run.conf"]
        self.assertEqual(conf["mode"], stat.S_IFREG | 0o644)
        self.assertEqual(conf["data"], b"MODE=suite\nTEST_ARGS='it'\"'\"'s a test'\n")

    def test_run_config_keys_and_values(self):
        for bad in ({"mode": "x"}, {"MODE1": "x"}, {"": "x"}, {"A B": "x"}, {"X": "a\0b"}, {"X": 3}):
            with self.assertRaises(ValueError, msg=bad):
                initramfs.run_config_text(bad)

    @unittest.skipUnless(shutil.which("busybox"), "busybox not installed")
    def test_busybox_sh_reads_values_back(self):
        values = {"A": "plain", "B": "two words", "C": "quote ' and \" and $HOME `id` \\",
                  "D": "line\nbreak", "E": ""}
        conf = self.make("run.conf", initramfs.run_config_text(values).encode())
        for key, value in values.items():
            shown = subprocess.run(["busybox", "sh", "-c", f'. "$1"; printf %s "${key}"', "sh", str(conf)],
                                   capture_output=True, check=True).stdout.decode()
            self.assertEqual(shown, value, key)


if __name__ == "__main__":
    unittest.main()
