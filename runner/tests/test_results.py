"""Tests for the result writers (KTAP, JUnit, JSON) and the text the runner prints."""

import json
import tempfile
import unittest
import xml.etree.ElementTree as ET
from pathlib import Path

from vsc.errors import UserError
from vsc.ktap import CaseResult, Parser, Report, synthesize_result
from vsc.results import (SCHEMA_VERSION, RunInfo, format_case_line, format_counts, format_table,
                         load_counts, write_json, write_junit, write_ktap)

KTAP = """\
KTAP version 1
# vsockcheck: kernel 6.1.0-56-cloud-amd64 (Debian 6.1.192-2), topology loopback, peer CID 1
1..7
# vsockcheck: begin 1 socket_stream timeout=10
ok 1 socket_stream
# vsockcheck: begin 2 connect_no_listener timeout=10
# [client] connect.c:42: connect(fd 3, 1:20020) returned 0, expected failure with ECONNRESET
# second line
not ok 2 connect_no_listener
# vsockcheck: begin 3 seqpacket_msg_bounds timeout=10
ok 3 seqpacket_msg_bounds # SKIP no SOCK_SEQPACKET in AF_VSOCK (needs 5.14, kernel is 5.10)
# vsockcheck: begin 4 stream_16mib timeout=30
not ok 4 stream_16mib # TIMEOUT after 30 s: [client] in stream.c:88 recv()
# vsockcheck: begin 5 known_bug timeout=10
# kernel fixed in 6.2
ok 5 known_bug # XFAIL commit abc123
# vsockcheck: begin 6 setup_broken timeout=10
not ok 6 setup_broken # ERROR socket(AF_VSOCK) failed: EAFNOSUPPORT
# vsockcheck: begin 7 console_garbage timeout=10
# bell \x07 and escape \x1b[0m <&>
not ok 7 console_garbage
# vsockcheck-guest: exit=1
"""

INFO = RunInfo(kernel_name="debian:bookworm 6.1.0-56-cloud-amd64", kernel_release="6.1.0-56-cloud-amd64",
               kernel_version="6.1.192-2", topology="loopback", accel="tcg", qemu_version="7.2.19",
               started_at="2025-06-01T12:00:00+00:00",
               durations={"initramfs_s": 0.25, "boot_s": 1.5, "tests_s": 12.0, "poweroff_s": 0.1,
                          "total_s": 13.85},
               command_line=["vsockcheck", "run", "debian:bookworm", "--topology", "loopback"])


def sample_report() -> Report:
    parser = Parser()
    for i, line in enumerate(KTAP.splitlines()):
        parser.feed(line, t=float(i))
    return parser.finish()


class CountsAndTextTest(unittest.TestCase):
    def test_counts_line_exact(self):
        self.assertEqual(format_counts(sample_report()), "2 passed, 4 failed, 1 skipped")
        self.assertEqual(format_counts(Report()), "0 passed, 0 failed, 0 skipped")

    def test_case_lines(self):
        r = {x.number: x for x in sample_report().results}
        self.assertEqual(format_case_line(r[1]), "  ok        1  socket_stream")
        self.assertEqual(format_case_line(r[2]), "  FAIL      2  connect_no_listener  [client] connect.c:42: "
                         "connect(fd 3, 1:20020) returned 0, expected failure with ECONNRESET")
        self.assertEqual(format_case_line(r[3]), "  SKIP      3  seqpacket_msg_bounds  (no SOCK_SEQPACKET "
                         "in AF_VSOCK (needs 5.14, kernel is 5.10))")
        self.assertEqual(format_case_line(r[4]), "  TIMEOUT   4  stream_16mib  after 30 s: [client] in "
                         "stream.c:88 recv()")
        self.assertEqual(format_case_line(r[5]), "  XFAIL     5  known_bug  (commit abc123)")
        self.assertEqual(format_case_line(r[6]), "  ERROR     6  setup_broken  socket(AF_VSOCK) failed: "
                         "EAFNOSUPPORT")
        self.assertEqual(format_case_line(r[7]), "  FAIL      7  console_garbage  bell \ufffd and escape \ufffd[0m <&>")

    def test_case_line_is_one_line(self):
        r = synthesize_result(9, "x", "error", "guest died", ["Kernel panic\n- not syncing"])
        self.assertEqual(format_case_line(r), "  ERROR     9  x  guest died")
        r = CaseResult(10, "y", "fail", "", ("multi\nline",))
        self.assertEqual(format_case_line(r), "  FAIL     10  y  multi line")

    def test_table_aligned(self):
        lines = format_table(sample_report()).splitlines()
        self.assertEqual(len(lines), 8)
        self.assertEqual(lines[0].split(), ["#", "name", "status", "reason"])
        status_col = lines[0].index("status")
        self.assertTrue(all(line[status_col - 2:status_col] == "  " for line in lines))
        self.assertEqual(lines[1], "  1  socket_stream         ok")
        self.assertEqual(lines[3][status_col:], "SKIP     no SOCK_SEQPACKET in AF_VSOCK (needs 5.14, kernel is 5.10)")

    def test_table_shows_subtests_indented(self):
        parser = Parser()
        for line in "KTAP version 1\n1..1\n  KTAP version 1\n  1..1\n  ok 1 inner\nok 1 outer\n".splitlines():
            parser.feed(line)
        lines = format_table(parser.finish()).splitlines()
        self.assertEqual([line.split()[:2] for line in lines[1:]], [["1", "outer"], ["1.1", "inner"]])
        self.assertIn("    inner", lines[2])


class WriterTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = Path(self.tmp.name)
        self.report = sample_report()

    def tearDown(self):
        self.tmp.cleanup()

    def test_ktap_file(self):
        write_ktap(self.report, self.dir / "results.ktap")
        text = (self.dir / "results.ktap").read_text()
        self.assertTrue(text.startswith("KTAP version 1\n"))
        self.assertIn("\n1..7\n", text)
        self.assertIn("not ok 4 stream_16mib # TIMEOUT after 30 s", text)

    def test_junit_counts_and_attributes(self):
        write_junit(self.report, INFO, self.dir / "junit.xml")
        root = ET.parse(self.dir / "junit.xml").getroot()
        self.assertEqual(root.tag, "testsuites")
        suites = root.findall("testsuite")
        self.assertEqual(len(suites), 1)
        suite = suites[0]
        self.assertEqual(suite.get("name"), "vsockcheck loopback debian:bookworm 6.1.0-56-cloud-amd64")
        self.assertEqual({k: suite.get(k) for k in ("tests", "failures", "errors", "skipped")},
                         {"tests": "7", "failures": "3", "errors": "1", "skipped": "1"})
        self.assertEqual({k: root.get(k) for k in ("tests", "failures", "errors", "skipped")},
                         {"tests": "7", "failures": "3", "errors": "1", "skipped": "1"})
        self.assertEqual(suite.get("time"), "12.000")
        cases = suite.findall("testcase")
        self.assertEqual(len(cases), 7)
        self.assertEqual({c.get("classname") for c in cases}, {"vsockcheck.loopback"})
        self.assertEqual(len(suite.findall("testcase/failure")), int(suite.get("failures")))
        self.assertEqual(len(suite.findall("testcase/error")), int(suite.get("errors")))
        self.assertEqual(len(suite.findall("testcase/skipped")), int(suite.get("skipped")))
        props = {p.get("name"): p.get("value") for p in suite.find("properties")}
        self.assertEqual(props["kernel.release"], "6.1.0-56-cloud-amd64")
        self.assertEqual(props["accel"], "tcg")
        self.assertEqual(props["duration.boot_s"], "1.500")

    def test_junit_case_contents(self):
        write_junit(self.report, INFO, self.dir / "junit.xml")
        cases = {c.get("name"): c for c in ET.parse(self.dir / "junit.xml").getroot().iter("testcase")}
        self.assertEqual(list(cases["socket_stream"]), [])
        self.assertEqual(cases["socket_stream"].get("time"), "1.000")
        failure = cases["connect_no_listener"].find("failure")
        self.assertEqual(failure.get("type"), "fail")
        self.assertTrue(failure.get("message").startswith("[client] connect.c:42:"))
        self.assertEqual(failure.text.splitlines()[1], "second line")
        self.assertEqual(cases["stream_16mib"].find("failure").get("message"),
                         "after 30 s: [client] in stream.c:88 recv()")
        self.assertEqual(cases["stream_16mib"].find("failure").get("type"), "timeout")
        # A broken test is an <error>, not a <failure>: the kernel did nothing wrong.
        self.assertIsNone(cases["setup_broken"].find("failure"))
        self.assertEqual(cases["setup_broken"].find("error").get("type"), "error")
        self.assertEqual(cases["seqpacket_msg_bounds"].find("skipped").get("message"),
                         "no SOCK_SEQPACKET in AF_VSOCK (needs 5.14, kernel is 5.10)")
        xfail = cases["known_bug"]
        self.assertIsNone(xfail.find("failure"))
        self.assertEqual(xfail.find("system-out").text,
                         "expected failure (XFAIL): commit abc123\nkernel fixed in 6.2")
        garbage = cases["console_garbage"].find("failure").text
        self.assertEqual(garbage, "bell \ufffd and escape \ufffd[0m <&>")

    def test_json_round_trip(self):
        report = self.report
        report.add_result(synthesize_result(8, "never_ran", "error", "guest stopped before this case ran", []))
        write_json(report, INFO, self.dir / "results.json")
        doc = json.loads((self.dir / "results.json").read_text())
        self.assertEqual((doc["schema"], doc["schema_version"]), ("vsockcheck-results", SCHEMA_VERSION))
        self.assertEqual(doc["run"]["kernel"], {"name": INFO.kernel_name, "release": INFO.kernel_release,
                                                "version": INFO.kernel_version})
        self.assertEqual(doc["run"]["durations_s"], INFO.durations)
        self.assertEqual(doc["run"]["command_line"], INFO.command_line)
        self.assertEqual(doc["guest"]["exit_code"], 1)
        self.assertEqual(doc["guest"]["plan"], 7)
        self.assertEqual(doc["counts"], {"passed": 2, "failed": 5, "skipped": 1, "total": 8,
                                         "by_status": {"pass": 1, "fail": 2, "skip": 1, "xfail": 1,
                                                       "timeout": 1, "error": 2}})
        rebuilt = [CaseResult(c["number"], c["name"], c["status"], c["reason"], tuple(c["diagnostics"]),
                              (), c["duration_s"], c["synthesized"]) for c in doc["cases"]]
        self.assertEqual(rebuilt, sorted(report.results, key=lambda r: r.number))
        self.assertTrue(doc["cases"][-1]["synthesized"])
        self.assertIsNone(doc["cases"][-1]["duration_s"])

    def test_unwritable_path_is_user_error(self):
        with self.assertRaises(UserError):
            write_json(self.report, INFO, self.dir / "missing-dir" / "results.json")


if __name__ == "__main__":
    unittest.main()


class LoadCounts(unittest.TestCase):
    def test_counts_round_trip_through_results_json(self):
        parser = Parser()
        for line in ["KTAP version 1", "1..3", "ok 1 a", "not ok 2 b", "ok 3 c # SKIP why"]:
            parser.feed(line)
        report = parser.finish()
        info = RunInfo("k", "r", "v", "loopback", "tcg", "qemu", "2026-01-01T00:00:00+0000")
        with tempfile.TemporaryDirectory() as tmp:
            write_json(report, info, Path(tmp) / "results.json")
            counts = load_counts(Path(tmp) / "results.json")
        self.assertEqual((counts.passed, counts.failed, counts.skipped), (1, 1, 1))

    def test_unreadable_file_is_a_user_error(self):
        with self.assertRaises(UserError):
            load_counts(Path("/nonexistent/results.json"))
