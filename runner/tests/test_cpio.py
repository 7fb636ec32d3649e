"""Tests for vsc.cpio: archives read back member by member, and identical inputs give identical bytes."""

import shutil
import stat
import subprocess
import unittest

from vsc import cpio

FIELDS = ("ino", "mode", "uid", "gid", "nlink", "mtime", "filesize",
          "devmajor", "devminor", "rdevmajor", "rdevminor", "namesize", "check")


def read_newc(blob: bytes, offset: int = 0) -> tuple[list[dict], int]:
    """An independent newc reader: the members up to TRAILER!!!, and the offset just past it."""
    members = []
    while True:
        if blob[offset:offset + 6] != b"070701":
            raise AssertionError(f"no newc magic at offset {offset}")
        header = {f: int(blob[offset + 6 + 8 * i:offset + 14 + 8 * i], 16) for i, f in enumerate(FIELDS)}
        name_start = offset + 110
        name = blob[name_start:name_start + header["namesize"] - 1].decode()
        assert blob[name_start + header["namesize"] - 1] == 0, "name not NUL-terminated"
        data_start = (name_start + header["namesize"] + 3) & ~3
        data = blob[data_start:data_start + header["filesize"]]
        offset = (data_start + header["filesize"] + 3) & ~3
        if name == "TRAILER!!!":
            return members, offset
        members.append(dict(header, name=name, data=data))


SAMPLE = [
    cpio.file("/usr/bin/tool", b"\x7fELF binary", 0o755),
    cpio.symlink("bin/sh", "/bin/busybox"),
    cpio.file("init", b"#!/bin/sh\n", 0o755),
    cpio.directory("proc"),
    cpio.file("etc/odd", b"abc", 0o600),  # 3 bytes: needs padding
]


class CpioTest(unittest.TestCase):
    def test_round_trip(self):
        blob = cpio.to_bytes(SAMPLE)
        members, end = read_newc(blob)
        self.assertEqual(end, len(blob))
        by_name = {m["name"]: m for m in members}
        self.assertEqual(by_name["usr/bin/tool"]["data"], b"\x7fELF binary")
        self.assertEqual(by_name["usr/bin/tool"]["mode"], stat.S_IFREG | 0o755)
        self.assertEqual(by_name["etc/odd"]["mode"], stat.S_IFREG | 0o600)
        self.assertEqual(by_name["etc/odd"]["data"], b"abc")
        self.assertEqual(by_name["bin/sh"]["mode"], stat.S_IFLNK | 0o777)
        self.assertEqual(by_name["bin/sh"]["data"], b"/bin/busybox")
        self.assertEqual(by_name["proc"]["mode"], stat.S_IFDIR | 0o755)

    def test_parents_are_implicit_and_come_first(self):
        names = [m["name"] for m in read_newc(cpio.to_bytes(SAMPLE))[0]]
        self.assertEqual(names, ["bin", "bin/sh", "etc", "etc/odd", "init", "proc", "usr", "usr/bin",
                                 "usr/bin/tool"])
        for i, name in enumerate(names):
            parent = name.rpartition("/")[0]
            if parent:
                self.assertIn(parent, names[:i])

    def test_owner_time_and_inodes_are_fixed(self):
        members = read_newc(cpio.to_bytes(SAMPLE))[0]
        self.assertEqual([m["ino"] for m in members], list(range(1, len(members) + 1)))
        for m in members:
            self.assertEqual((m["uid"], m["gid"], m["mtime"]), (0, 0, 0), m["name"])
            self.assertEqual(m["nlink"], 2 if stat.S_ISDIR(m["mode"]) else 1, m["name"])

    def test_same_input_same_bytes_whatever_the_order(self):
        self.assertEqual(cpio.to_bytes(SAMPLE), cpio.to_bytes(list(reversed(SAMPLE))))

    def test_explicit_directory_keeps_its_mode(self):
        members = read_newc(cpio.to_bytes([cpio.directory("tmp", 0o1777), cpio.file("tmp/x", b"")]))[0]
        self.assertEqual(members[0]["mode"], stat.S_IFDIR | 0o1777)

    def test_empty_archive_is_just_the_trailer(self):
        blob = cpio.to_bytes([])
        self.assertEqual(read_newc(blob), ([], len(blob)))
        self.assertEqual(len(blob) % 4, 0)

    def test_bad_input_is_refused(self):
        for entries in ([cpio.file("a", b""), cpio.file("/a", b"")],
                        [cpio.file("a", b""), cpio.file("a/b", b"")],
                        [cpio.file("../etc/passwd", b"")],
                        [cpio.file("/", b"")],
                        [cpio.Entry("dev/null", stat.S_IFCHR)]):
            with self.assertRaises(ValueError, msg=entries):
                cpio.to_bytes(entries)

    @unittest.skipUnless(shutil.which("cpio"), "GNU cpio not installed")
    def test_gnu_cpio_reads_it(self):
        listing = subprocess.run(["cpio", "-it", "--quiet"], input=cpio.to_bytes(SAMPLE),
                                 capture_output=True, check=True).stdout.decode().split()
        self.assertEqual(listing, ["bin", "bin/sh", "etc", "etc/odd", "init", "proc", "usr", "usr/bin",
                                   "usr/bin/tool"])


if __name__ == "__main__":
    unittest.main()
