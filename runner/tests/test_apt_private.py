"""Tests for vsc.apt_private: record parsing, Depends-following package selection, and apt failures as one line."""

import os
import tempfile
import unittest
from pathlib import Path
from unittest import mock

from vsc import apt_private
from vsc.errors import UserError

# apt-cache show style records, shaped like the real ones (trimmed).
BOOKWORM = {
    "linux-image-cloud-amd64": """Package: linux-image-cloud-amd64
Source: linux-signed-amd64 (6.1.192+2)
Version: 6.1.192-2
Depends: linux-image-6.1.0-56-cloud-amd64 (= 6.1.192-2)
Description: Linux for x86-64 cloud (meta-package)
 This package depends on the latest Linux kernel
 and modules for use on cloud platforms.
""",
    "linux-image-6.1.0-56-cloud-amd64": """Package: linux-image-6.1.0-56-cloud-amd64
Version: 6.1.192-2
Depends: kmod, linux-base (>= 4.3~), initramfs-tools (>= 0.120+deb8u2) | linux-initramfs-tool
Size: 26713492
""",
}
SID = {
    "linux-image-cloud-amd64": """Package: linux-image-cloud-amd64
Version: 7.2.13-1
Depends: linux-base-cloud-amd64 (= 7.2.13-1), linux-image-7.2.13+deb14-cloud-amd64 (= 7.2.13-1)
""",
    "linux-base-cloud-amd64": """Package: linux-base-cloud-amd64
Version: 7.2.13-1
Depends: linux-base-7.2.13+deb14-cloud-amd64 (= 7.2.13-1)
""",
    "linux-image-7.2.13+deb14-cloud-amd64": """Package: linux-image-7.2.13+deb14-cloud-amd64
Version: 7.2.13-1
Depends: dracut | initramfs-tools (>= 0.120+deb8u2) | linux-initramfs-tool, linux-base-7.2.13+deb14-cloud-amd64 (= 7.2.13-1), linux-binary-7.2.13+deb14-cloud-amd64 (= 7.2.13-1), linux-modules-7.2.13+deb14-cloud-amd64 (= 7.2.13-1)
Pre-Depends: linux-base (>= 4.17~)
""",
    "linux-base-7.2.13+deb14-cloud-amd64": "Package: linux-base-7.2.13+deb14-cloud-amd64\nVersion: 7.2.13-1\n",
    "linux-binary-7.2.13+deb14-cloud-amd64": """Package: linux-binary-7.2.13+deb14-cloud-amd64
Version: 7.2.13-1
Depends: linux-base-7.2.13+deb14-cloud-amd64 (= 7.2.13-1)
""",
    "linux-modules-7.2.13+deb14-cloud-amd64": """Package: linux-modules-7.2.13+deb14-cloud-amd64
Version: 7.2.13-1
Depends: kmod, linux-base-7.2.13+deb14-cloud-amd64 (= 7.2.13-1)
""",
}


def fake_show(records: dict, calls: list):
    def show(name, version):
        calls.append((name, version))
        if name not in records:
            raise UserError(f"debian:test: looking up package {name} failed: E: No packages found")
        return records[name] + "\n" + records[name].replace("Version: ", "Version: 0.old-")  # an older version after
    return show


class Parsing(unittest.TestCase):
    def test_first_record_with_continuation_lines(self):
        record = apt_private.parse_record("\n" + BOOKWORM["linux-image-cloud-amd64"] + "\nPackage: other\nVersion: 1\n")
        self.assertEqual(record["Package"], "linux-image-cloud-amd64")
        self.assertEqual(record["Version"], "6.1.192-2")
        self.assertEqual(record["Description"].splitlines()[1], "This package depends on the latest Linux kernel")

    def test_depends(self):
        clauses = apt_private.parse_depends(
            "kmod, linux-base (>= 4.3~), dracut | initramfs-tools (>= 0.120+deb8u2) | linux-initramfs-tool, "
            "linux-binary-7.2.13+deb14-cloud-amd64 (= 7.2.13-1), libc6:any (=2.36-9)")
        self.assertEqual(clauses, [
            [("kmod", None)], [("linux-base", None)],
            [("dracut", None), ("initramfs-tools", None), ("linux-initramfs-tool", None)],
            [("linux-binary-7.2.13+deb14-cloud-amd64", "7.2.13-1")], [("libc6", "2.36-9")]])
        self.assertEqual(apt_private.parse_depends(""), [])

    def test_error_line_is_apts_first_error(self):
        stderr = ("Reading package lists...\nE: Failed to fetch http://x/InRelease  Could not connect to x\n"
                  "E: Some index files failed to download. They have been ignored, or old ones used instead.\n"
                  "W: Download is performed unsandboxed as root\n")
        self.assertEqual(apt_private.error_line(stderr), "E: Failed to fetch http://x/InRelease  Could not connect to x")
        self.assertEqual(apt_private.error_line("a\nlast words\n\n"), "last words")
        self.assertEqual(apt_private.error_line(""), "(no message)")


class Selection(unittest.TestCase):
    def test_single_image_package(self):
        calls = []
        chosen = apt_private.select_packages(fake_show(BOOKWORM, calls), "linux-image-cloud-amd64")
        self.assertEqual(chosen, [("linux-image-cloud-amd64", "6.1.192-2"), ("linux-image-6.1.0-56-cloud-amd64", "6.1.192-2")])
        # The meta package's candidate, then the exact version it pins; linux-base, kmod and initramfs-tools are not kernels.
        self.assertEqual(calls, [("linux-image-cloud-amd64", None), ("linux-image-6.1.0-56-cloud-amd64", "6.1.192-2")])

    def test_sid_split_packages_each_once(self):
        calls = []
        chosen = apt_private.select_packages(fake_show(SID, calls), "linux-image-cloud-amd64")
        self.assertEqual([name for name, _ in chosen], [
            "linux-image-cloud-amd64", "linux-base-cloud-amd64", "linux-image-7.2.13+deb14-cloud-amd64",
            "linux-base-7.2.13+deb14-cloud-amd64", "linux-binary-7.2.13+deb14-cloud-amd64",
            "linux-modules-7.2.13+deb14-cloud-amd64"])
        self.assertEqual({version for _, version in chosen}, {"7.2.13-1"})
        self.assertEqual(len(calls), len(chosen))

    def test_unknown_package(self):
        records = dict(SID)
        del records["linux-modules-7.2.13+deb14-cloud-amd64"]
        with self.assertRaisesRegex(UserError, "linux-modules-7.2.13.* failed: E: No packages found"):
            apt_private.select_packages(fake_show(records, []), "linux-image-cloud-amd64")

    def test_record_of_another_package(self):
        with self.assertRaisesRegex(UserError, "no usable record for package linux-image-cloud-amd64"):
            apt_private.select_packages(lambda name, version: "Package: something-else\nVersion: 1\n",
                                        "linux-image-cloud-amd64")


class FakeApt(unittest.TestCase):
    """apt-get and apt-cache replaced by scripts on PATH: they log their arguments and fail on request."""

    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.tmp = Path(self._tmp.name)
        bin_dir = self.tmp / "bin"
        bin_dir.mkdir()
        for tool in ("apt-get", "apt-cache"):
            script = bin_dir / tool
            script.write_text(f'#!/bin/sh\necho "$@" >> {self.tmp}/{tool}.log\n'
                              f'if [ -e {self.tmp}/fail ]; then cat {self.tmp}/fail >&2; exit 100; fi\n'
                              'echo "Package: x"\n')
            script.chmod(0o755)
        env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "XDG_CACHE_HOME": str(self.tmp / "cache")}
        patcher = mock.patch.dict(os.environ, env)
        patcher.start()
        self.addCleanup(patcher.stop)
        self.addCleanup(self._tmp.cleanup)

    def fail_with(self, stderr: str):
        (self.tmp / "fail").write_text(stderr)

    def log(self, tool: str) -> list[str]:
        path = self.tmp / f"{tool}.log"
        return path.read_text().splitlines() if path.exists() else []

    def test_private_configuration_only(self):
        apt_private.show("bullseye", "linux-image-cloud-amd64")
        apt_dir = self.tmp / "cache/vsockcheck/apt/bullseye"
        sources = (apt_dir / "etc/sources.list").read_text()
        self.assertIn("http://deb.debian.org/debian bullseye main", sources)
        self.assertIn("http://deb.debian.org/debian-security bullseye-security main", sources)
        self.assertIn(f"[signed-by={apt_private.KEYRING}]", sources)
        args = self.log("apt-cache")[0].split()
        for key in ("Dir::Etc::SourceList", "Dir::Etc::SourceParts", "Dir::State", "Dir::Cache", "Dir::State::status"):
            value = next(a for a in args if a.startswith(key + "=")).split("=", 1)[1]
            self.assertTrue(value.startswith(str(apt_dir)), f"{key} points outside the private apt dir")
        self.assertEqual(args[-3:], ["show", "--no-all-versions", "linux-image-cloud-amd64"])

    def test_sid_has_no_security_suite(self):
        apt_private.show("sid", "x", "1.0")
        sources = (self.tmp / "cache/vsockcheck/apt/sid/etc/sources.list").read_text()
        self.assertEqual(sources.count("deb "), 1)
        self.assertEqual(self.log("apt-cache")[0].split()[-2:], ["show", "x=1.0"])

    def test_lists_refreshed_at_most_daily_unless_forced(self):
        self.assertTrue(apt_private.update("trixie"))
        self.assertFalse(apt_private.update("trixie"))
        self.assertTrue(apt_private.update("trixie", force=True))
        stamp = self.tmp / "cache/vsockcheck/apt/trixie/state/updated"
        os.utime(stamp, (0, 0))
        self.assertTrue(apt_private.update("trixie"))
        self.assertEqual(len(self.log("apt-get")), 3)
        self.assertIn("--error-on=any", self.log("apt-get")[0].split())

    def test_failed_update_is_retried_next_time(self):
        self.fail_with("E: Failed to fetch http://deb.debian.org/debian/dists/sid/InRelease  Could not connect\n"
                       "E: Some index files failed to download. They have been ignored, or old ones used instead.\n")
        with self.assertRaisesRegex(UserError, "^debian:sid: refreshing the package lists .* failed: "
                                               "E: Failed to fetch .*InRelease  Could not connect$"):
            apt_private.update("sid")
        (self.tmp / "fail").unlink()
        self.assertTrue(apt_private.update("sid"))

    def test_unknown_package_is_one_line(self):
        self.fail_with("N: Unable to locate package linux-image-nope\nE: No packages found\n")
        with self.assertRaises(UserError) as cm:
            apt_private.show("sid", "linux-image-nope")
        self.assertEqual(str(cm.exception),
                         "debian:sid: looking up package linux-image-nope failed: E: No packages found")

    def test_failed_download_is_one_line(self):
        self.fail_with("E: Failed to fetch http://deb.debian.org/x.deb  404  Not Found\nW: Download is unsandboxed\n")
        with self.assertRaises(UserError) as cm:
            apt_private.download("bookworm", [("linux-image-6.1.0-56-cloud-amd64", "6.1.192-2")], self.tmp)
        self.assertEqual(str(cm.exception), "debian:bookworm: downloading linux-image-6.1.0-56-cloud-amd64 failed: "
                                            "E: Failed to fetch http://deb.debian.org/x.deb  404  Not Found")

    def test_download_that_gives_no_file(self):
        with self.assertRaisesRegex(UserError, "gave 0 files for 1 packages"):
            apt_private.download("bookworm", [("linux-image-x", "1")], self.tmp)
        self.assertEqual(self.log("apt-get")[0].split()[-2:], ["download", "linux-image-x=1"])

    def test_missing_tool(self):
        with mock.patch.dict(os.environ, {"PATH": str(self.tmp / "nothing")}):
            with self.assertRaisesRegex(UserError, "debian:sid: cannot run apt-cache"):
                apt_private.show("sid", "x")


if __name__ == "__main__":
    unittest.main()
