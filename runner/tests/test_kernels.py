"""Tests for vsc.kernels: the cache manifest, resolving from the cache, and a fetch with apt faked (no network)."""

import os
import shutil
import tempfile
import unittest
from pathlib import Path
from unittest import mock

from tests import fake_debs, fake_kernel
from vsc import apt_private, kernels
from vsc.errors import UserError

R = "7.2.13+deb14-cloud-amd64"
RECORDS = {
    "linux-image-cloud-amd64": f"Package: linux-image-cloud-amd64\nVersion: 7.2.13-1\nDepends: linux-image-{R} (= 7.2.13-1)\n",
    f"linux-image-{R}": f"Package: linux-image-{R}\nVersion: 7.2.13-1\n"
                        f"Depends: linux-binary-{R} (= 7.2.13-1), linux-modules-{R} (= 7.2.13-1)\n",
    f"linux-binary-{R}": f"Package: linux-binary-{R}\nVersion: 7.2.13-1\n",
    f"linux-modules-{R}": f"Package: linux-modules-{R}\nVersion: 7.2.13-1\n",
}


class CacheTest(unittest.TestCase):
    def setUp(self):
        self.tmp = fake_debs.temp_cache(self)
        # Any use of apt in these tests is a bug: a cached kernel must resolve without the network.
        for name in ("update", "show", "download"):
            patcher = mock.patch.object(apt_private, name, side_effect=AssertionError(f"apt_private.{name} called"))
            patcher.start()
            self.addCleanup(patcher.stop)

    def cached_entry(self, suite: str, version: str, release: str, fetched_at: float | None = None) -> kernels.Kernel:
        directory = kernels.kernels_root() / suite / version
        image = directory / f"root/boot/vmlinuz-{release}"
        image.parent.mkdir(parents=True)
        image.write_bytes(fake_kernel.bzimage(release))
        moddir = directory / f"root/lib/modules/{release}"
        moddir.mkdir(parents=True)
        kernel = kernels.Kernel(f"debian:{suite} {release}", release, version, image, moddir, None, None)
        with mock.patch("time.time", return_value=fetched_at or 1000.0):
            kernels.write_manifest(directory, kernel, suite, [("linux-image-cloud-amd64", version)])
        return kernel


class Manifest(CacheTest):
    def test_round_trip(self):
        kernel = self.cached_entry("bookworm", "6.1.192-2", "6.1.0-56-cloud-amd64")
        directory = kernels.kernels_root() / "bookworm/6.1.192-2"
        again, record = kernels.read_manifest(directory)
        self.assertEqual(again, kernel)
        self.assertEqual(record["vmlinuz"], "root/boot/vmlinuz-6.1.0-56-cloud-amd64", "paths are stored relative")
        self.assertEqual(record["packages"], [["linux-image-cloud-amd64", "6.1.192-2"]])

    def test_moved_cache_still_resolves(self):
        self.cached_entry("bookworm", "6.1.192-2", "6.1.0-56-cloud-amd64")
        shutil.move(str(self.tmp / "cache"), str(self.tmp / "elsewhere"))
        with mock.patch.dict(os.environ, {"XDG_CACHE_HOME": str(self.tmp / "elsewhere")}):
            kernel = kernels.resolve("debian:bookworm", fetch=False)
        self.assertTrue(kernel.vmlinuz.is_file())

    def test_damaged_manifest(self):
        self.cached_entry("sid", "7.2.13-1", R)
        directory = kernels.kernels_root() / "sid/7.2.13-1"
        good = (directory / kernels.MANIFEST).read_text()
        for damage in ("{not json", good.replace('"fetched_at"', '"fetched"'), good.replace('"root/', '"gone/')):
            (directory / kernels.MANIFEST).write_text(damage)
            with self.subTest(damage=damage[:20]):
                with self.assertRaisesRegex(UserError, "damaged kernel cache entry .*delete it and fetch again"):
                    kernels.resolve("debian:sid", fetch=False)
                self.assertEqual(kernels.list_cached(), [])


class Resolve(CacheTest):
    def test_newest_cached_kernel_without_network(self):
        self.cached_entry("trixie", "6.12.107-1", "6.12.107+deb13-cloud-amd64", fetched_at=1000.0)
        newer = self.cached_entry("trixie", "6.12.117-1", "6.12.117+deb13-cloud-amd64", fetched_at=2000.0)
        self.assertEqual(kernels.resolve("debian:trixie", fetch=True), newer)
        self.assertEqual(newer.name, "debian:trixie 6.12.117+deb13-cloud-amd64")

    def test_not_cached_and_no_fetch(self):
        with self.assertRaisesRegex(UserError, "debian:sid is not in the cache .*vsockcheck kernels fetch debian:sid"):
            kernels.resolve("debian:sid", fetch=False)

    def test_half_downloaded_entry_is_not_a_kernel(self):
        self.cached_entry("sid", "7.2.13-1", R)
        # As if killed between writing the manifest and the rename into place.
        (kernels.kernels_root() / "sid/7.2.13-1").rename(kernels.kernels_root() / "sid/.partial-1-abc")
        with self.assertRaises(UserError):
            kernels.resolve("debian:sid", fetch=False)
        self.assertEqual(kernels.list_cached(), [])

    def test_local_tree(self):
        image = self.tmp / f"tree/boot/vmlinuz-{R}"
        image.parent.mkdir(parents=True)
        image.write_bytes(fake_kernel.bzimage(R))
        kernel = kernels.resolve(str(self.tmp / "tree"), fetch=False)
        self.assertEqual(kernel, kernels.Kernel(str(self.tmp / "tree"), R, R, image, None, None, None))

    def test_fetch_wants_a_debian_spec(self):
        (self.tmp / "bzImage").write_bytes(fake_kernel.bzimage(R))
        with self.assertRaisesRegex(UserError, "only debian:<suite> kernels can be fetched"):
            kernels.fetch(str(self.tmp / "bzImage"))


class Listing(CacheTest):
    def test_known(self):
        self.assertEqual([spec for spec, _ in kernels.list_known()],
                         ["debian:bullseye", "debian:bookworm", "debian:trixie", "debian:sid"])
        self.assertTrue(all(description for _, description in kernels.list_known()))

    def test_cached(self):
        self.assertEqual(kernels.list_cached(), [])
        self.cached_entry("sid", "7.2.13-1", R)
        self.cached_entry("bookworm", "6.1.192-2", "6.1.0-56-cloud-amd64")
        listed = kernels.list_cached()
        self.assertEqual([(c.spec, c.release, c.version) for c in listed],
                         [("debian:bookworm", "6.1.0-56-cloud-amd64", "6.1.192-2"), ("debian:sid", R, "7.2.13-1")])
        self.assertEqual(listed[1].path, kernels.kernels_root() / "sid/7.2.13-1")
        self.assertGreater(listed[1].size, 0x1000)


@unittest.skipUnless(shutil.which("dpkg-deb"), "dpkg-deb not installed")
class FetchWithFakeApt(CacheTest):
    @classmethod
    def setUpClass(cls):
        cls._debs = tempfile.TemporaryDirectory()
        work = Path(cls._debs.name)
        modules = work / "modules-tree"
        fake_kernel.modules_tree(modules, ".xz")
        cls.debs = [
            fake_debs.build_deb(work, f"linux-binary-{R}", {f"usr/lib/modules/{R}/vmlinuz": fake_kernel.bzimage(R)}, "7.2.13-1"),
            fake_debs.build_deb(work, f"linux-modules-{R}", {
                f"usr/lib/modules/{R}/{p.relative_to(modules)}": p.read_bytes() for p in modules.rglob("*.ko.xz")}, "7.2.13-1"),
        ]

    @classmethod
    def tearDownClass(cls):
        cls._debs.cleanup()

    def fake_download(self, suite, packages, dest):
        self.assertEqual([name for name, _ in packages], [f"linux-image-{R}", f"linux-binary-{R}", f"linux-modules-{R}"])
        for deb in self.debs:
            shutil.copy(deb, dest)
        return sorted(dest.glob("*.deb"))

    def fetch(self, download=None):
        with mock.patch.object(apt_private, "update", return_value=True) as update, \
             mock.patch.object(apt_private, "show", side_effect=lambda suite, name, version=None: RECORDS[name]), \
             mock.patch.object(apt_private, "download", side_effect=download or self.fake_download):
            kernel = kernels.fetch("debian:sid")
        update.assert_called_once_with("sid", force=True)
        return kernel

    def test_fetch_unpacks_and_writes_modules_dep(self):
        kernel = self.fetch()
        directory = kernels.kernels_root() / "sid/7.2.13-1"
        self.assertEqual((kernel.name, kernel.release, kernel.version), (f"debian:sid {R}", R, "7.2.13-1"))
        self.assertEqual(kernel.vmlinuz, directory / f"root/usr/lib/modules/{R}/vmlinuz")
        self.assertIn("kernel/net/vmw_vsock/vsock_loopback.ko.xz: kernel/net/vmw_vsock/vmw_vsock_virtio_transport_common"
                      ".ko.xz kernel/net/vmw_vsock/vsock.ko.xz", (kernel.modules_dir / "modules.dep").read_text())
        self.assertEqual(sorted(p.name for p in directory.iterdir()), [kernels.MANIFEST, "root"], "no .debs left")
        self.assertEqual(kernels.resolve("debian:sid", fetch=False), kernel)
        self.assertEqual(self.fetch(download=AssertionError("cached: no download")), kernel)

    def test_interrupted_fetch_leaves_nothing(self):
        def interrupted(suite, packages, dest):
            self.fake_download(suite, packages, dest)
            raise KeyboardInterrupt
        with self.assertRaises(KeyboardInterrupt):
            self.fetch(download=interrupted)
        self.assertEqual(list((kernels.kernels_root() / "sid").iterdir()), [])

    def test_failed_download_leaves_nothing(self):
        failure = UserError("debian:sid: downloading linux-binary failed: E: Failed to fetch")
        with self.assertRaisesRegex(UserError, "^debian:sid: downloading linux-binary failed: E: Failed to fetch$"):
            self.fetch(download=failure)
        self.assertEqual(list((kernels.kernels_root() / "sid").iterdir()), [])

    def test_abandoned_partial_download_is_removed(self):
        suite_dir = kernels.kernels_root() / "sid"
        dead = suite_dir / ".partial-999999999-x"  # above pid_max: no such process
        alive = suite_dir / f".partial-{os.getpid()}-y"
        dead.mkdir(parents=True)
        alive.mkdir()
        self.fetch()
        self.assertFalse(dead.exists())
        self.assertTrue(alive.exists(), "a fetch still running elsewhere is left alone")


if __name__ == "__main__":
    unittest.main()
