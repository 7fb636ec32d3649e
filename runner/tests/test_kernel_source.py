"""Tests for vsc.kernel_source: a path is checked; debian:<suite> is downloaded (apt faked, no network),
unpacked once, and found again in the cache without asking apt."""

import subprocess
import tempfile
import unittest
from pathlib import Path
from unittest import mock

from tests import fake_debs, fake_kernel_tree
from vsc import apt_private, kernel_source
from vsc.errors import UserError

RECORDS = {
    "linux-source": "Package: linux-source\nVersion: 6.12.117-1\nDepends: linux-source-6.12 (= 6.12.117-1)\n",
    "linux-source-6.12": "Package: linux-source-6.12\nVersion: 6.12.117-1\nDepends: binutils, bzip2\n",
}


class PathTest(unittest.TestCase):
    def test_a_kernel_tree_is_returned_resolved(self):
        with tempfile.TemporaryDirectory() as tmp:
            src = fake_kernel_tree.make_tree(Path(tmp) / "linux")
            self.assertEqual(kernel_source.source_tree(f"{tmp}/./linux"), src.resolve())
            (src / "net/vmw_vsock/Kconfig").unlink()
            (src / "net/vmw_vsock").rmdir()
            with self.assertRaises(UserError) as e:
                kernel_source.source_tree(str(src))
            self.assertIn("no net/vmw_vsock", str(e.exception))
            with self.assertRaises(UserError) as e:
                kernel_source.source_tree(f"{tmp}/absent")
            self.assertIn("no such directory", str(e.exception))

    def test_unknown_suite(self):
        with self.assertRaises(UserError) as e:
            kernel_source.source_tree("debian:potato")
        self.assertIn("debian:trixie", str(e.exception))


class DebianTest(unittest.TestCase):
    def setUp(self):
        self.tmp = fake_debs.temp_cache(self)
        self.deb = self._source_deb()
        self.downloads = 0

    def _source_deb(self) -> Path:
        """linux-source-6.12_..._all.deb holding usr/src/linux-source-6.12.tar.xz of a stand-in tree."""
        tree = fake_kernel_tree.make_tree(self.tmp / "tar" / "linux-source-6.12")
        tarball = self.tmp / "linux-source-6.12.tar.xz"
        subprocess.run(["tar", "-cJf", str(tarball), "-C", str(tree.parent), tree.name], check=True)
        return fake_debs.build_deb(self.tmp, "linux-source-6.12", {"usr/src/linux-source-6.12.tar.xz": tarball.read_bytes()},
                                   "6.12.117-1", arch="all")

    def _download(self, suite, packages, dest):
        self.assertEqual((suite, packages), ("trixie", [("linux-source-6.12", "6.12.117-1")]))
        self.downloads += 1
        target = dest / self.deb.name
        target.write_bytes(self.deb.read_bytes())
        return [target]

    def test_downloaded_once_then_found_offline(self):
        with mock.patch.object(apt_private, "update") as update, \
                mock.patch.object(apt_private, "show", side_effect=lambda suite, name: RECORDS[name]), \
                mock.patch.object(apt_private, "download", side_effect=self._download), \
                mock.patch("builtins.print"):
            tree = kernel_source.source_tree("debian:trixie")
            self.assertEqual(tree, (kernel_source.sources_root() / "trixie/6.12.117-1/linux-source-6.12").resolve())
            self.assertTrue((tree / "Makefile").is_file())
            self.assertEqual(sorted(p.name for p in tree.parent.iterdir()), ["linux-source-6.12", "source.json"])
            update.side_effect = AssertionError("apt asked again")
            self.assertEqual(kernel_source.source_tree("debian:trixie"), tree)
        self.assertEqual(self.downloads, 1)

    def test_a_failed_unpack_leaves_nothing(self):
        self.deb.write_bytes(b"not a deb")
        with mock.patch.object(apt_private, "update"), \
                mock.patch.object(apt_private, "show", side_effect=lambda suite, name: RECORDS[name]), \
                mock.patch.object(apt_private, "download", side_effect=self._download), \
                mock.patch("builtins.print"):
            with self.assertRaises(UserError) as e:
                kernel_source.source_tree("debian:trixie")
        self.assertIn("dpkg-deb could not unpack", str(e.exception))
        self.assertEqual(list((kernel_source.sources_root() / "trixie").iterdir()), [])


if __name__ == "__main__":
    unittest.main()
