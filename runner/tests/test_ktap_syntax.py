"""Tests for KTAP line syntax: result lines, directives, escapes, and writing them back."""

import unittest

from vsc.ktap_syntax import format_result, parse_diagnostic, parse_plan, parse_result, parse_version


class ResultLineTest(unittest.TestCase):
    def check(self, line, number, name, status, reason=""):
        r = parse_result(line)
        self.assertEqual((r.number, r.name, r.status, r.reason), (number, name, status, reason), line)

    def test_directives(self):
        self.check("ok 1 a", 1, "a", "pass")
        self.check("not ok 2 b", 2, "b", "fail")
        self.check("not ok 3 c # SKIP why", 3, "c", "skip", "why")
        self.check("ok 4 d # XFAIL bug 123", 4, "d", "xfail", "bug 123")
        self.check("not ok 5 e # TODO later", 5, "e", "xfail", "later")
        self.check("not ok 6 f # TIMEOUT 30 seconds", 6, "f", "timeout", "30 seconds")
        self.check("not ok 7 # error setup broke", 7, "", "error", "setup broke")
        self.check("ok 8 g # SKIP", 8, "g", "skip")

    def test_unknown_directive_falls_back(self):
        self.check("ok 5 check return code # rcode=0", 5, "check return code", "pass", "rcode=0")
        self.check("not ok 6 h # SKIPPED x", 6, "h", "fail", "SKIPPED x")

    def test_tap_dash_and_escaped_hash(self):
        self.check("ok 1 - dashed name", 1, "dashed name", "pass")
        self.check("ok 2 a\\#b # SKIP c", 2, "a#b", "skip", "c")
        self.assertEqual(format_result(2, "a#b", "skip", "c"), "ok 2 a\\#b # SKIP c")

    def test_not_results(self):
        for line in ("ok", "okay 1 x", "ok x 1", "not ok", "ok 1x", "nope"):
            self.assertIsNone(parse_result(line), line)

    def test_format_each_status(self):
        self.assertEqual(format_result(1, "a", "pass", ""), "ok 1 a")
        self.assertEqual(format_result(2, "b", "fail", ""), "not ok 2 b")
        self.assertEqual(format_result(3, "c", "xfail", "bug"), "ok 3 c # XFAIL bug")
        self.assertEqual(format_result(4, "d", "timeout", "30 s"), "not ok 4 d # TIMEOUT 30 s")
        self.assertEqual(format_result(5, "e", "error", "x"), "not ok 5 e # ERROR x")


class OtherLinesTest(unittest.TestCase):
    def test_version_plan_diagnostic(self):
        self.assertEqual(parse_version("KTAP version 1"), "KTAP version 1")
        self.assertEqual(parse_version("TAP version 13"), "TAP version 13")
        self.assertIsNone(parse_version("KTAP version one"))
        self.assertEqual(parse_plan("1..4"), (4, ""))
        self.assertEqual(parse_plan("1..0 # SKIP no vsock"), (0, "SKIP no vsock"))
        self.assertIsNone(parse_plan("2..4"))
        self.assertEqual(parse_diagnostic("# [client] x"), "[client] x")
        self.assertEqual(parse_diagnostic("#tight"), "tight")
        self.assertIsNone(parse_diagnostic("[ 1.0] kernel"))


if __name__ == "__main__":
    unittest.main()
