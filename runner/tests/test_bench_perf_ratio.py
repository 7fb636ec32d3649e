"""bench_perf_ratio's pure parts: the compiler command, the guest script, reading both tools'
figures; the guest run itself is `runner/bench.py --perf-ratio`."""

import tempfile
import unittest
from pathlib import Path

from vsc import bench_perf_ratio as ratio
from vsc.errors import UserError


class BuildCommand(unittest.TestCase):
    def tree(self, names):
        tmp = Path(tempfile.mkdtemp())
        self.addCleanup(lambda: __import__("shutil").rmtree(tmp))
        (tmp / ratio.TOOL_DIR).mkdir(parents=True)
        for name in names:
            (tmp / ratio.TOOL_DIR / name).write_text("")
        return tmp

    def test_static_with_the_zerocopy_helper_when_the_tree_has_it(self):
        tree = self.tree(["vsock_perf.c", "msg_zerocopy_common.c"])
        argv = ratio.build_argv(tree, Path("/out/vsock_perf"))
        self.assertEqual(argv[:2], ["gcc", "-static"])
        self.assertEqual(argv[-3:], ["/out/vsock_perf", str(tree / ratio.TOOL_DIR / "vsock_perf.c"),
                                     str(tree / ratio.TOOL_DIR / "msg_zerocopy_common.c")])

    def test_older_tree_builds_the_one_file_and_a_tree_without_it_is_named(self):
        argv = ratio.build_argv(self.tree(["vsock_perf.c"]), Path("/out/x"))
        self.assertTrue(argv[-1].endswith("vsock_perf.c"))
        with self.assertRaisesRegex(UserError, "no vsock_perf.c"):
            ratio.build_argv(self.tree([]), Path("/out/x"))


class GuestScript(unittest.TestCase):
    def test_both_tools_get_the_same_bytes_and_buffer_size_in_alternating_order(self):
        lines = ratio.guest_commands(1000, 4096, rounds=2).splitlines()
        marks = [line.split("'")[1] for line in lines if line.startswith(f"echo '{ratio.MARK}")]
        self.assertEqual(marks, [ratio.MARK + m for m in ("round 1 theirs", "round 1 ours", "round 2 ours",
                                                          "round 2 theirs", "end")])
        theirs = [line for line in lines if line.startswith("vsock_perf ")]
        ours = [line for line in lines if line.startswith("vsock-perf ")]
        self.assertEqual((len(theirs), len(ours)), (4, 4))
        self.assertTrue(all("--bytes 1000" in line and "--buf-size 4096" in line for line in theirs))
        self.assertTrue(all("--chunk 4096" in line for line in ours))
        self.assertEqual(sum("--bytes 1000" in line for line in ours), 2)   # the senders


class Parse(unittest.TestCase):
    LINES = [
        "perf-ratio: round 1 theirs", "Run as receiver", "total bytes received: 1048576",
        "rx performance: 0.838861 Gbits/s",
        "perf-ratio: round 1 ours", "vsock-perf: recv listening port=6103",
        "vsock-perf: send bytes=1048576 seconds=0.2 mib_per_s=5.00",
        "vsock-perf: recv bytes=1048576 seconds=0.1 mib_per_s=90.00",
        "perf-ratio: round 2 ours", "vsock-perf: recv bytes=1000 seconds=0.1 mib_per_s=1.00",
        "perf-ratio: round 2 theirs", "connect: Connection reset by peer",
        "perf-ratio: end",
    ]

    def test_receiver_figures_in_mib_per_s_and_short_or_failed_rounds_are_problems(self):
        found = ratio.parse(self.LINES, 1048576)
        self.assertEqual(found.ours, {1: 90.0})
        self.assertEqual(list(found.theirs), [1])
        self.assertAlmostEqual(found.theirs[1], 100.0, places=3)   # 0.838861e9 bits/s
        self.assertAlmostEqual(found.ratio(), 0.9, places=4)
        self.assertEqual(found.problems, ["round 2 ours: received 1000 bytes, not 1048576",
                                          "round 2 theirs: connect: Connection reset by peer"])

    def test_the_ratio_pairs_each_round(self):
        found = ratio.Rounds(ours={1: 10.0, 2: 40.0, 3: 30.0, 4: 5.0}, theirs={1: 20.0, 2: 40.0, 3: 25.0})
        self.assertAlmostEqual(found.ratio(), 1.0)    # of 0.5, 1.0 and 1.2; round 4 has no pair
        table = ratio.table(found)
        self.assertEqual(table[2].split()[-5:], ["20.0", "40.0", "25.0", "-", "25.0"])

    def test_no_ratio_without_both_figures_and_the_table_says_so(self):
        found = ratio.parse(self.LINES[:4], 1048576)
        self.assertIsNone(found.ratio())
        self.assertIn("  ours / theirs: - (target at least 0.95)", ratio.table(found))


if __name__ == "__main__":
    unittest.main()
