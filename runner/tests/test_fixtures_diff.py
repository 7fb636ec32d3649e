"""`vsockcheck fixtures diff` on two synthetic runs: the first differing step and field, per fixture."""

import contextlib
import io
import json
import shutil
import tempfile
import unittest
from pathlib import Path

from vsc import cli, fixture_diff


def hdr(op: int, **fields) -> dict:
    base = {"src_cid": 3, "dst_cid": 2, "src_port": "$c.port", "dst_port": 1234, "len": 0, "type": 1,
            "op": op, "flags": 0, "buf_alloc": 262144, "fwd_cnt": 0}
    return {**base, **fields}


def trace_of(fixture: str, rx_op: int | None, result: str = "pass", fwd_cnt: int = 0) -> list[dict]:
    events = [{"fixture": fixture, "step": 0, "event": "agent", "do": "connect", "ret": -1, "errno": "EINPROGRESS"},
              {"fixture": fixture, "step": 1, "event": "tx", "hdr": hdr(1), "payload_len": 0}]
    if rx_op is not None:
        events.append({"fixture": fixture, "step": 2, "event": "rx", "hdr": hdr(rx_op, fwd_cnt=fwd_cnt),
                       "payload_len": 0})
    events.append({"fixture": fixture, "step": 3, "event": "end", "result": result, "reason": ""})
    return events


def write_run(directory: Path, version: str, cases: dict[str, str], traces: dict[str, list[list[dict]]]) -> Path:
    directory.mkdir(parents=True)
    document = {"run": {"kernel": {"name": f"k {version}", "release": "r", "version": version}},
                "cases": [{"name": n, "status": s, "reason": "" if s != "xfail" else "known bug"}
                          for n, s in cases.items()]}
    (directory / "results.json").write_text(json.dumps(document))
    for target, fixtures in traces.items():
        lines = [json.dumps(e) for events in fixtures for e in events]
        (directory / f"{target}.trace.jsonl").write_text("\n".join(lines) + "\n")
    return directory


class Diff(unittest.TestCase):
    def setUp(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        top = Path(tmp.name)
        self.a = write_run(top / "a", "6.1.192-2",
                           {"vhost_vsock/rst_reply": "pass", "vhost_vsock/credit": "pass",
                            "vhost_vsock/same": "pass", "virtio_transport/same": "pass",
                            "virtio_transport/kmsg": "pass"},
                           {"vhost_vsock": [trace_of("rst_reply", 3), trace_of("credit", 6, fwd_cnt=5),
                                            trace_of("same", 2)],
                            "virtio_transport": [trace_of("same", 2), trace_of("kmsg", 2)]})
        self.b = write_run(top / "b", "5.10.262-1",
                           {"vhost_vsock/rst_reply": "fail", "vhost_vsock/credit": "pass",
                            "vhost_vsock/same": "pass", "virtio_transport/same": "pass",
                            "virtio_transport/kmsg": "fail", "virtio_transport/new_one": "pass"},
                           {"vhost_vsock": [trace_of("rst_reply", None, "fail"), trace_of("credit", 6, fwd_cnt=0),
                                            trace_of("vhost_vsock/same", 2)],
                            "virtio_transport": [trace_of("same", 2), trace_of("kmsg", 2)]})

    def test_first_difference_per_fixture(self):
        a, b = fixture_diff.Side.read(self.a), fixture_diff.Side.read(self.b)
        lines, compared = fixture_diff.compare(a, b, ("virtio_transport", "vhost_vsock"), [])
        self.assertEqual(compared, 6)
        self.assertEqual(lines, [
            "vhost_vsock/credit step 2 rx fwd_cnt: 6.1.192 5, 5.10.262 0",
            # The outcome follows the first difference when it differs too.
            "vhost_vsock/rst_reply step 2 rx op: 6.1.192 RST, 5.10.262 (none); "
            "result: 6.1.192 pass, 5.10.262 fail",
            "virtio_transport/kmsg result: 6.1.192 pass, 5.10.262 fail",
            "virtio_transport/new_one: only run on 5.10.262",
        ])

    def test_a_skipped_fixture_shows_only_its_outcome(self):
        top = self.a.parent
        a = write_run(top / "skip_a", "5.10.262-1", {"vhost_vsock/seq": "skip"},
                      {"vhost_vsock": [[{"fixture": "seq", "step": -1, "event": "end", "result": "skip",
                                         "reason": "needs kernel 5.14"}]]})
        b = write_run(top / "skip_b", "7.2.13-1", {"vhost_vsock/seq": "pass"},
                      {"vhost_vsock": [trace_of("seq", 2)]})
        lines, _ = fixture_diff.compare(fixture_diff.Side.read(a), fixture_diff.Side.read(b),
                                        ("vhost_vsock",), [])
        self.assertEqual(lines, ["vhost_vsock/seq result: 5.10.262 skip, 7.2.13 pass"])

    def test_setup_events_come_before_the_end(self):
        # Both setup events and the end carry step -1: the end still sorts last.
        setup = {"fixture": "x", "step": -1, "event": "agent", "do": "accept", "ret": 0, "errno": None}
        end = {"fixture": "x", "step": -1, "event": "end", "result": "pass", "reason": ""}
        step0 = {"fixture": "x", "step": 0, "event": "agent", "do": "recv", "ret": 5, "errno": None}
        found = fixture_diff.first_difference([setup, step0, end], [setup, end])
        self.assertEqual(found[:3], (0, "agent", "do"))

    def test_a_shorter_trace_shows_none(self):
        longer = trace_of("x", 3)
        shorter = longer[:2]
        self.assertEqual(fixture_diff.first_difference(longer, shorter), (2, "rx", "op", "RST", "(none)"))
        self.assertEqual(fixture_diff.first_difference(shorter, longer), (2, "rx", "op", "(none)", "RST"))
        self.assertIsNone(fixture_diff.first_difference(longer, list(longer)))

    def test_selection_by_target_and_pick(self):
        a, b = fixture_diff.Side.read(self.a), fixture_diff.Side.read(self.b)
        lines, compared = fixture_diff.compare(a, b, ("vhost_vsock",), ["cred*"])
        self.assertEqual((lines, compared), (["vhost_vsock/credit step 2 rx fwd_cnt: 6.1.192 5, 5.10.262 0"], 1))

    def vsockcheck(self, *args: str) -> tuple[int, str]:
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
            status = cli.main(list(args))
        return status, out.getvalue()

    def test_command_reads_existing_results_and_says_how_it_ended(self):
        status, out = self.vsockcheck("fixtures", "diff", "--kernel", "debian:bookworm", "--kernel",
                                      "debian:bullseye", "--results", str(self.a), "--results", str(self.b))
        self.assertEqual(status, 1)
        self.assertIn("4 of 6 fixtures differ between 6.1.192 and 5.10.262", out)
        status, out = self.vsockcheck("fixtures", "diff", "--kernel", "debian:bookworm", "--kernel",
                                      "debian:bullseye", "--results", str(self.a), "--results", str(self.a) + "/")
        self.assertEqual(status, 2)  # the same directory twice is refused
        copy = self.a.parent / "a-again"
        shutil.copytree(self.a, copy)
        status, out = self.vsockcheck("fixtures", "diff", "--kernel", "debian:bookworm", "--kernel",
                                      "debian:bookworm", "--results", str(self.a), "--results", str(copy))
        self.assertEqual((status, out.splitlines()[-1]),
                         (0, "no difference between 6.1.192#1 and 6.1.192#2 in 5 fixtures"))

    def test_nothing_differs(self):
        a = fixture_diff.Side.read(self.a)
        lines, compared = fixture_diff.compare(a, fixture_diff.Side.read(self.a), ("vhost_vsock",), [])
        self.assertEqual((lines, compared), ([], 3))

    def test_broken_trace_line_is_named(self):
        (self.a / "vhost_vsock.trace.jsonl").write_text('{"fixture": "x"}\nnot json\n')
        with self.assertRaises(Exception) as caught:
            fixture_diff.Side.read(self.a)
        self.assertIn("vhost_vsock.trace.jsonl:2: not a JSON object", str(caught.exception))


if __name__ == "__main__":
    unittest.main()
