"""Tests for the KTAP parser, its problem reports, and the normalised KTAP writer."""

import unittest

from vsc.ktap import (CaseBegan, CaseFinished, GuestExited, Parser, PlanSeen, Report, synthesize_result,
                      to_ktap)

SAMPLE = """\
KTAP version 1
# vsockcheck: kernel 6.1.0-56-cloud-amd64 (Debian 6.1.192-2), topology loopback, peer CID 1
1..4
# vsockcheck: begin 1 socket_stream timeout=10
ok 1 socket_stream
# vsockcheck: begin 2 connect_no_listener timeout=10
# [client] connect.c:42: connect(fd 3, 1:20020) returned 0, expected failure with ECONNRESET
not ok 2 connect_no_listener
# vsockcheck: begin 3 seqpacket_msg_bounds timeout=10
ok 3 seqpacket_msg_bounds # SKIP no SOCK_SEQPACKET in AF_VSOCK (needs 5.14, kernel is 5.10)
# vsockcheck: begin 4 stream_16mib timeout=30
not ok 4 stream_16mib # TIMEOUT after 30 s: [client] in stream.c:88 recv()
# vsockcheck-guest: exit=1
"""


def parse(text: str, times=None) -> tuple[Report, list]:
    parser, events = Parser(), []
    for i, line in enumerate(text.splitlines()):
        events += parser.feed(line, None if times is None else times[i])
    return parser.finish(), events


class SampleTest(unittest.TestCase):
    def setUp(self):
        self.report, self.events = parse(SAMPLE, times=[float(i) for i in range(13)])

    def test_results(self):
        got = [(r.number, r.name, r.status, r.reason) for r in self.report.results]
        self.assertEqual(got, [
            (1, "socket_stream", "pass", ""),
            (2, "connect_no_listener", "fail", ""),
            (3, "seqpacket_msg_bounds", "skip", "no SOCK_SEQPACKET in AF_VSOCK (needs 5.14, kernel is 5.10)"),
            (4, "stream_16mib", "timeout", "after 30 s: [client] in stream.c:88 recv()"),
        ])

    def test_diagnostics_exclude_markers(self):
        self.assertEqual(self.report.results[0].diagnostics, ())
        self.assertEqual(self.report.results[1].diagnostics, (
            "[client] connect.c:42: connect(fd 3, 1:20020) returned 0, expected failure with ECONNRESET",))

    def test_header_exit_plan_and_no_problems(self):
        self.assertEqual(self.report.version, "KTAP version 1")
        self.assertEqual(self.report.plan, 4)
        self.assertEqual(self.report.header, [
            "vsockcheck: kernel 6.1.0-56-cloud-amd64 (Debian 6.1.192-2), topology loopback, peer CID 1"])
        self.assertEqual(self.report.guest_exit, 1)
        self.assertEqual(self.report.problems, [])
        self.assertEqual(self.report.unparsed, [])
        self.assertEqual(self.report.missing(), [])
        self.assertIsNone(self.report.unfinished())

    def test_events_in_order(self):
        kinds = [type(e).__name__ for e in self.events]
        self.assertEqual(kinds, ["PlanSeen"] + ["CaseBegan", "CaseFinished"] * 4 + ["GuestExited"])
        self.assertEqual(self.events[0], PlanSeen(4))
        self.assertEqual(self.events[1], CaseBegan(1, "socket_stream", 10.0, 3.0))
        self.assertEqual(self.events[-1], GuestExited(1))

    def test_durations_from_begin_to_result(self):
        self.assertEqual([r.duration_s for r in self.report.results], [1.0, 2.0, 1.0, 1.0])

    def test_no_timestamps_no_durations(self):
        report, _ = parse(SAMPLE)
        self.assertEqual({r.duration_s for r in report.results}, {None})

    def test_to_ktap_round_trip_is_stable(self):
        text = to_ktap(self.report)
        again, _ = parse(text)
        self.assertEqual(to_ktap(again), text)
        self.assertEqual([(r.number, r.name, r.status, r.reason, r.diagnostics) for r in again.results],
                         [(r.number, r.name, r.status, r.reason, r.diagnostics) for r in self.report.results])
        self.assertEqual(again.guest_exit, 1)
        self.assertEqual(again.problems, [])


class RobustnessTest(unittest.TestCase):
    def test_console_noise_is_unparsed(self):
        text = ("[    1.234] vsock: loaded\nKTAP version 1\n1..1\n\x00\x01garbage\nok 1 a\n"
                "[    2.000] reboot: Power down\nok 1")
        report, _ = parse(text)
        self.assertEqual([r.name for r in report.results], ["a"])
        self.assertEqual(report.unparsed[0], "[    1.234] vsock: loaded")
        self.assertIn("\x00\x01garbage", report.unparsed)
        self.assertTrue(any("second result" in p for p in report.problems))

    def test_marker_lines_are_header_not_diagnostics(self):
        text = ("# vsockcheck-init: insmod vsock.ko failed: No such device\nKTAP version 1\n1..1\n"
                "# [client] x\n# vsockcheck-init: late\nok 1 a\n")
        report, _ = parse(text)
        self.assertEqual(report.header, ["vsockcheck-init: insmod vsock.ko failed: No such device",
                                         "vsockcheck-init: late"])
        self.assertEqual(report.results[0].diagnostics, ("[client] x",))

    def test_nothing_at_all(self):
        report, _ = parse("")
        self.assertEqual(report.results, [])
        self.assertEqual(len(report.problems), 2)

    def test_duplicate_out_of_order_beyond_plan(self):
        report, _ = parse("KTAP version 1\n1..3\nok 1 a\nok 3 c\nok 3 again\nok 2 b\nok 4 d\n")
        self.assertEqual([r.number for r in report.results], [1, 3, 2])
        problems = "\n".join(report.problems)
        self.assertIn("line 5: ignored second result for case 3", problems)
        self.assertIn("line 4: case 3 out of order (expected 2)", problems)
        self.assertIn("line 7: ignored result beyond the plan 1..3 for case 4", problems)
        self.assertEqual(report.unparsed, ["ok 3 again", "ok 4 d"])
        self.assertEqual(report.missing(), [])

    def test_trailing_plan_is_accepted(self):
        report, _ = parse("TAP version 13\nok 1 a\nok 2 b\n1..2\n")
        self.assertEqual((report.plan, report.version, report.problems), (2, "TAP version 13", []))

    def test_guest_died_mid_case(self):
        text = ("KTAP version 1\n1..4\n# vsockcheck: begin 1 a timeout=10\nok 1 a\n"
                "# vsockcheck: begin 2 b timeout=10\n# [client] b.c:9: sending\n")
        report, _ = parse(text)
        self.assertEqual(report.missing(), [2, 3, 4])
        self.assertEqual(report.unfinished(), CaseBegan(2, "b", 10.0, None))
        self.assertIn("plan 1..4 but no result for case 2-4", report.problems)
        self.assertEqual(report.take_trailing(), ["[client] b.c:9: sending"])
        self.assertEqual(report.trailing, [])

    def test_missing_with_expected_count_when_plan_lost(self):
        report, _ = parse("KTAP version 1\n# vsockcheck: begin 1 a\nok 1 a\n")
        self.assertEqual(report.missing(), [])
        self.assertEqual(report.missing(expected=3), [2, 3])
        self.assertIn("no plan line (1..N)", report.problems)

    def test_implausible_numbers_are_dropped(self):
        report, _ = parse("KTAP version 1\n1..1\nok 0 zero\nok 4294967295 huge\nok 1 a\n")
        self.assertEqual([r.number for r in report.results], [1])
        self.assertEqual(report.missing(), [])
        self.assertEqual(len(report.unparsed), 2)
        report, _ = parse("KTAP version 1\n1..1000\nok 1000 a\n")
        self.assertEqual((report.plan, report.results, report.missing()), (None, [], []))
        self.assertIn("line 2: ignored implausible plan line '1..1000'", report.problems)

    def test_name_taken_from_begin_marker_and_mismatch_reported(self):
        report, _ = parse("KTAP version 1\n1..2\n# vsockcheck: begin 1 alpha timeout=5\nok 1\n"
                          "# vsockcheck: begin 2 beta timeout=5\nok 2 gamma\n")
        self.assertEqual([r.name for r in report.results], ["alpha", "gamma"])
        self.assertTrue(any("reported as 'gamma' but began as 'beta'" in p for p in report.problems))

    def test_malformed_markers_and_repeated_version(self):
        text = ("KTAP version 1\n1..1\n# vsockcheck: begin x\n# vsockcheck-guest: exit=?\nok 1 a\n"
                "KTAP version 1\n")
        report, _ = parse(text)
        self.assertIsNone(report.guest_exit)
        problems = "\n".join(report.problems)
        self.assertIn("malformed begin marker", problems)
        self.assertIn("malformed exit marker", problems)
        self.assertIn("line 6: repeated version line", problems)

    def test_crlf_and_embedded_newlines(self):
        parser = Parser()
        events = parser.feed("KTAP version 1\r\n") + parser.feed("1..1\nok 1 a\r")
        self.assertEqual(events, [PlanSeen(1), CaseFinished(parser.finish().results[0])])

    def test_feed_after_finish_is_a_bug(self):
        parser = Parser()
        parser.finish()
        with self.assertRaises(RuntimeError):
            parser.feed("ok 1 a")


NESTED = """\
KTAP version 1
1..2
  KTAP version 1
  1..2
    KTAP version 1
    1..2
    not ok 1 test_1
    ok 2 test_2
  # test_3: failed
  not ok 1 test_3
  ok 2 test_4 # SKIP
# example failed
not ok 1 example_test_1
ok 2 example_test_2
"""


class NestedTest(unittest.TestCase):
    def test_tree(self):
        report, events = parse(NESTED)
        self.assertEqual(report.problems, [])
        outer = report.results[0]
        self.assertEqual((outer.name, outer.status, outer.diagnostics), ("example_test_1", "fail",
                                                                         ("example failed",)))
        self.assertEqual([(s.name, s.status) for s in outer.subtests], [("test_3", "fail"), ("test_4", "skip")])
        self.assertEqual(outer.subtests[0].diagnostics, ("test_3: failed",))
        self.assertEqual([s.name for s in outer.subtests[0].subtests], ["test_1", "test_2"])
        self.assertEqual(report.results[1].subtests, ())
        self.assertEqual(sum(isinstance(e, CaseFinished) for e in events), 2)

    def test_round_trip(self):
        report, _ = parse(NESTED)
        self.assertEqual(to_ktap(report), "KTAP version 1\n" + NESTED.split("\n", 1)[1])

    def test_incomplete_subtests_reported(self):
        report, _ = parse("KTAP version 1\n1..1\n  KTAP version 1\n  1..3\n  ok 1 a\nok 1 parent\n")
        self.assertEqual(len(report.results[0].subtests), 1)
        self.assertTrue(any("subtests of case 1: plan 1..3 but no result for 2-3" in p for p in report.problems))

    def test_unindented_note_does_not_split_a_block(self):
        report, _ = parse("KTAP version 1\n1..1\n  KTAP version 1\n  1..2\n  ok 1 a\n# note\n  ok 2 b\n"
                          "ok 1 parent\n")
        self.assertEqual(report.problems, [])
        self.assertEqual([s.name for s in report.results[0].subtests], ["a", "b"])
        self.assertEqual(report.results[0].diagnostics, ("note",))

    def test_tap14_subtest_header_and_missing_version(self):
        report, _ = parse("TAP version 14\n1..1\n    # Subtest: group\n    1..1\n    ok 1 inner\n"
                          "ok 1 group\n")
        self.assertEqual(report.problems, [])
        self.assertEqual([s.name for s in report.results[0].subtests], ["inner"])
        self.assertEqual(report.results[0].diagnostics, ())

    def test_output_ends_inside_subtests(self):
        report, _ = parse("KTAP version 1\n1..1\n  KTAP version 1\n  1..1\n  ok 1 a\n")
        self.assertEqual(report.missing(), [1])
        self.assertTrue(any("ended inside a subtest block" in p for p in report.problems))


class SynthesizeTest(unittest.TestCase):
    def test_complete_ktap_after_synthesis(self):
        report, _ = parse("KTAP version 1\n1..3\n# vsockcheck: begin 1 a timeout=10\nok 1 a\n"
                          "# vsockcheck: begin 2 b timeout=10\n# [client] b.c:9: sending\n")
        dying = report.unfinished()
        report.add_result(synthesize_result(dying.number, dying.name, "error", "guest died during this case",
                                            report.take_trailing() + ["Kernel panic\n- not syncing"]))
        report.add_result(synthesize_result(3, "c", "error", "guest stopped before this case ran", []))
        self.assertEqual(report.missing(), [])
        text = to_ktap(report)
        self.assertIn("# [client] b.c:9: sending\n# Kernel panic\n# - not syncing\n"
                      "not ok 2 b # ERROR guest died during this case\n", text)
        again, _ = parse(text)
        self.assertEqual(again.missing(), [])
        self.assertEqual([r.status for r in again.results], ["pass", "error", "error"])
        self.assertEqual(again.problems, [])

    def test_synthesized_flag_and_validation(self):
        r = synthesize_result(1, "a", "timeout", "after\n30 s", ["x"], duration_s=30.0)
        self.assertTrue(r.synthesized)
        self.assertEqual((r.reason, r.diagnostics, r.duration_s), ("after 30 s", ("x",), 30.0))
        with self.assertRaises(ValueError):
            synthesize_result(1, "a", "crashed", "", [])
        report = Report()
        report.add_result(r)
        with self.assertRaises(ValueError):
            report.add_result(r)


if __name__ == "__main__":
    unittest.main()
