"""Engine 2 of the packet fixtures (vsc.fixtures_guest): the guest it asks for and how missing
results are accounted for, without a guest; then a few small fixtures in a real guest."""

import json
import shlex
import shutil
import tempfile
import unittest
from pathlib import Path
from unittest import mock

from tests.test_guest_runs import default_kernel_cached
from vsc import fixtures_guest, guest_session, kernels, qemu
from vsc.cli import DEFAULT_KERNEL
from vsc.errors import UserError
from vsc.ktap_syntax import ERROR, FAIL, PASS, SKIP


class _FakeQemu:
    """Stands in for a QEMU that has already exited, after writing what a test gives it."""

    returncode = 0

    def stop(self) -> None:
        pass


class WithoutGuest(unittest.TestCase):
    def setUp(self):
        self.top = Path(tempfile.mkdtemp(prefix="vsc-test-fxg-"))
        self.results = self.top / "results"
        self.results.mkdir()
        self.fixtures = []
        for name, body in (("alpha", {"format": "vsockcheck-fixture/1", "name": "alpha", "steps": []}),
                           ("beta", {"format": "vsockcheck-fixture/1", "name": "beta",
                                     "timeout_ms": "0x1388", "steps": []}),
                           ("gamma", [{"op": "send"}])):
            path = self.top / f"{name}.json"
            path.write_text(json.dumps(body))
            self.fixtures.append(path)

    def tearDown(self):
        shutil.rmtree(self.top, ignore_errors=True)

    def test_cases_are_named_by_file_stem_with_their_timeouts(self):
        cases = [fixtures_guest.case_for(p) for p in self.fixtures]
        self.assertEqual([c.name for c in cases], ["vhost_vsock/alpha", "vhost_vsock/beta", "vhost_vsock/gamma"])
        # No timeout_ms: the default; "0x1388": 5 s; a legacy array: the default.
        self.assertEqual([c.timeout_s for c in cases], [30, 5, 30])

    def test_timeout_of_a_broken_file_is_the_default(self):
        broken = self.top / "broken.json"
        broken.write_text("{ not json")
        self.assertEqual(fixtures_guest.timeout_ms(broken), fixtures_guest.DEFAULT_TIMEOUT_MS)
        odd = self.top / "odd.json"
        odd.write_text(json.dumps({"timeout_ms": True}))
        self.assertEqual(fixtures_guest.timeout_ms(odd), fixtures_guest.DEFAULT_TIMEOUT_MS)

    def test_script_runs_the_engine_over_every_file_with_its_trace_port(self):
        spaced = self.top / "it's here.json"
        spaced.write_text("{}")
        script = fixtures_guest.guest_script(self.fixtures + [spaced])
        self.assertIn(f". {guest_session.GUEST_LIB}\n", script)
        self.assertIn(f"wait_port {fixtures_guest.TRACE_PORT}", script)
        engine_line = next(line for line in script.splitlines() if line.startswith("vsock-fixtures-guest "))
        words = shlex.split(engine_line.replace('"$trace"', "TRACE"))
        self.assertEqual(words[:5], ["vsock-fixtures-guest", "--prefix", "vhost_vsock/", "--trace", "TRACE"])
        self.assertEqual(words[5:7], ["alpha.json", "beta.json"])
        self.assertEqual(words[-3:], ["gamma.json", "it's here.json", "2>/dev/console"])

    def test_no_fixtures_is_an_error(self):
        with self.assertRaises(UserError):
            fixtures_guest.run(object(), [], self.results, self.top / "work")

    def run_with_guest_output(self, ktap: str, console: str):
        """fixtures_guest.run, with a fake boot that 'prints' ktap and console and exits."""
        seen = {}

        def fake_boot(session, running):
            seen["spec"] = session.spec
            seen["plain_devices"] = session.plain_devices
            session.files.ktap.write_text(ktap)
            session.files.console.write_text(console)
            session.guest = _FakeQemu()
            session.times["image"] = session.times["qemu"] = session.times["start"]
            return session.guest

        with mock.patch.object(guest_session.GuestSession, "boot", fake_boot):
            run = fixtures_guest.run(object(), self.fixtures, self.results, self.top / "work")
        return run, seen

    def test_guest_carries_engine_agent_fixtures_and_vhost_vsock(self):
        ktap = ("KTAP version 1\n1..3\nok 1 vhost_vsock/alpha\nnot ok 2 vhost_vsock/beta\n"
                "ok 3 vhost_vsock/gamma # SKIP legacy\n# vsockcheck-guest: exit=1\n")
        run, seen = self.run_with_guest_output(ktap, "")
        spec = seen["spec"]
        self.assertIn("vhost_vsock", spec.modules)
        self.assertEqual(spec.mode, "script")
        self.assertEqual(spec.guest_tools, (fixtures_guest.ENGINE, fixtures_guest.AGENT))
        shipped = {entry.path for entry in spec.run_files}
        for path in self.fixtures:
            self.assertIn(f"{fixtures_guest.FIXTURES_DIR}/{path.name}", shipped)
        trace = self.results / "vhost_vsock.trace.jsonl"
        self.assertEqual(seen["plain_devices"], qemu.output_port_args(fixtures_guest.TRACE_PORT, trace))
        self.assertEqual([(r.name, r.status) for r in run.report.results],
                         [("vhost_vsock/alpha", PASS), ("vhost_vsock/beta", FAIL), ("vhost_vsock/gamma", SKIP)])
        self.assertTrue((self.results / "vhost_vsock.ktap").exists())

    def test_fixtures_a_panicked_guest_never_reported_are_errors_with_the_console(self):
        ktap = "KTAP version 1\n1..3\nok 1 vhost_vsock/alpha\n"
        console = "boot\n[ 9.1] BUG: kernel NULL pointer dereference\n[ 9.2] Kernel panic - not syncing: Fatal exception\n"
        run, _ = self.run_with_guest_output(ktap, console)
        results = run.report.results
        self.assertEqual([(r.name, r.status) for r in results],
                         [("vhost_vsock/alpha", PASS), ("vhost_vsock/beta", ERROR), ("vhost_vsock/gamma", ERROR)])
        self.assertIn("panicked", results[1].reason)
        self.assertIn("console: [ 9.2] Kernel panic - not syncing: Fatal exception", results[1].diagnostics)
        self.assertEqual(results[2].diagnostics, ())


# Small fixtures of the issue-6 format, the kinds engine 2 must carry: a handshake with data,
# an RST from an unbound port, a split header, and an engine act it does not have.
GUEST_FIXTURES = {
    "kernel_listens_rw": {
        "format": "vsockcheck-fixture/1", "name": "kernel_listens_rw", "target": "vhost_vsock",
        "description": "The engine connects to a listening kernel socket; one message each way.",
        "connections": {"c": {"type": "stream", "engine_port": 5000, "kernel_port": 1234,
                              "setup": "kernel_listens"}},
        "steps": [
            {"agent": {"do": "send", "sock": "c", "data": "ping", "result": {"value": 4}}},
            {"expect": {"conn": "c", "op": "RW", "payload": "ping"}},
            {"send": {"conn": "c", "op": "RW", "payload": "pong"}},
            {"agent": {"do": "recv", "sock": "c", "len": 16, "result": {"data": "pong"}}},
        ],
    },
    "rst_from_unbound_port_split_header": {
        "format": "vsockcheck-fixture/1", "name": "rst_from_unbound_port_split_header",
        "target": "vhost_vsock",
        "description": "A REQUEST to a port nobody listens on, its header split over two "
                       "descriptors, is answered by an RST with no credit.",
        "connections": {"c": {"type": "stream", "engine_port": 7000, "kernel_port": 9999}},
        "steps": [
            {"send": {"conn": "c", "op": "REQUEST", "layout": [20, 24]}},
            {"expect": {"conn": "c", "op": "RST", "buf_alloc": 0, "fwd_cnt": 0}},
        ],
    },
    "transport_reset_is_engine_1s": {
        "format": "vsockcheck-fixture/1", "name": "transport_reset_is_engine_1s",
        "target": "vhost_vsock", "description": "Engine 2 has no transport reset to send.",
        "steps": [{"engine": {"do": "transport_reset"}}],
    },
}


@unittest.skipUnless(fixtures_guest.ENGINE.exists() and fixtures_guest.AGENT.exists(),
                     "vsock-fixtures-guest or vsock-fixture-agent is not built: run make")
@unittest.skipUnless(default_kernel_cached(), f"{DEFAULT_KERNEL} is not cached: run 'vsockcheck kernels fetch'")
class InGuest(unittest.TestCase):
    def test_small_fixtures_on_the_default_kernel(self):
        top = Path(tempfile.mkdtemp(prefix="vsc-test-fxg-guest-"))
        self.addCleanup(shutil.rmtree, top, True)
        results = top / "results"
        results.mkdir()
        paths = []
        for name, body in GUEST_FIXTURES.items():
            path = top / f"{name}.json"
            path.write_text(json.dumps(body, indent=1))
            paths.append(path)
        kernel = kernels.resolve(DEFAULT_KERNEL, fetch=False)
        run = fixtures_guest.run(kernel, paths, results, top / "work")
        got = {r.name: r for r in run.report.results}
        explain = (results / "vhost_vsock.ktap").read_text(errors="replace")
        self.assertEqual(got["vhost_vsock/kernel_listens_rw"].status, PASS, explain)
        self.assertEqual(got["vhost_vsock/rst_from_unbound_port_split_header"].status, PASS, explain)
        skipped = got["vhost_vsock/transport_reset_is_engine_1s"]
        self.assertEqual(skipped.status, SKIP, explain)
        self.assertIn("transport_reset", skipped.reason)
        events = [json.loads(line) for line in (results / "vhost_vsock.trace.jsonl").read_text().splitlines()]
        rst = [e for e in events if e.get("fixture") == "rst_from_unbound_port_split_header"
               and e.get("event") == "rx"]
        self.assertEqual([e["hdr"]["op"] for e in rst][:1], ["RST"], events)


if __name__ == "__main__":
    unittest.main()
