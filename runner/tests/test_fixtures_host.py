"""Engine 1 of the packet fixtures (vsc.fixtures_host): its plan, and one guest run end to end
where the engine and the agent are built and a kernel is cached."""

import os
import shutil
import stat
import subprocess
import tempfile
import unittest
from pathlib import Path
from unittest import mock

from vsc import fixtures_host, kernels, topology, vhost_user_device
from vsc.cli import DEFAULT_KERNEL
from vsc.errors import UserError
from vsc.ktap_syntax import ERROR, PASS, SKIP

REQUEST_RST = """{
  "format": "vsockcheck-fixture/1", "name": "t_request_rst",
  "description": "a REQUEST to a port nobody listens on is answered by one RST",
  "target": "virtio_transport",
  "connections": {"c": {"type": "stream", "engine_port": 1024, "kernel_port": 1024}},
  "steps": [
    {"send": {"conn": "c", "op": "REQUEST"}},
    {"expect": {"conn": "c", "op": "RST", "len": 0, "buf_alloc": 0, "fwd_cnt": 0}},
    {"expect_none": {}, "for_ms": 300}
  ]
}
"""

HANDSHAKE = """{
  "format": "vsockcheck-fixture/1", "name": "t_handshake",
  "description": "the kernel's listener answers REQUEST with RESPONSE and takes data",
  "target": "virtio_transport", "timeout_ms": 20000,
  "connections": {"c": {"type": "stream", "engine_port": 5001, "kernel_port": 1234}},
  "steps": [
    {"agent": {"do": "listen", "sock": "srv", "type": "stream", "port": 1234, "result": 0}},
    {"send": {"conn": "c", "op": "REQUEST"}},
    {"expect": {"conn": "c", "op": "RESPONSE", "len": 0}},
    {"agent": {"do": "accept", "sock": "srv", "as": "a", "result": 0}},
    {"send": {"conn": "c", "op": "RW", "payload": "hello"}},
    {"agent": {"do": "recv", "sock": "a", "len": 64, "result": {"data": "hello"}}}
  ]
}
"""

TRANSPORT_RESET = """{
  "format": "vsockcheck-fixture/1", "name": "t_transport_reset",
  "description": "engine 1 has no event queue: a fixture that needs TRANSPORT_RESET SKIPs",
  "target": "virtio_transport",
  "steps": [
    {"engine": {"do": "transport_reset"}}
  ]
}
"""

# Stands in for the engine: listens where QEMU will look, reports one of three fixtures, dies.
DYING_ENGINE = """#!/usr/bin/python3
import socket, sys
args = sys.argv[1:]
vm = args[args.index("--vm") + 1]
path = dict(item.split("=", 1) for item in vm.split(","))["socket"]
listener = socket.socket(socket.AF_UNIX)
listener.bind(path)
listener.listen(1)
print("KTAP version 1\\n1..3\\nok 1 virtio_transport/one", flush=True)
print("engine: giving up", file=sys.stderr, flush=True)
sys.exit(3)
"""


def kernel_or_none():
    try:
        return kernels.resolve(DEFAULT_KERNEL, fetch=False)
    except UserError:
        return None


def processes_naming(path: Path) -> list[int]:
    """Processes whose command line names path (our work directory): QEMU and the engine."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().decode("utf-8", "replace")
        except OSError:
            continue
        if str(path) in cmdline and proc.name != str(os.getpid()):
            found.append(int(proc.name))
    return found


def engine_has_fixture_mode() -> bool:
    binary = vhost_user_device.program()
    if not binary.exists():
        return False
    done = subprocess.run([str(binary), "--fixtures", "--help"], capture_output=True, timeout=10)
    return done.returncode == 0


class Plan(unittest.TestCase):
    def setUp(self):
        self.dir = Path(tempfile.mkdtemp(prefix="vsc-test-"))
        self.addCleanup(shutil.rmtree, self.dir, True)

    def test_result_names_carry_the_target(self):
        self.assertEqual(fixtures_host.result_names([Path("a/x.json"), Path("b/y.json")]),
                         ["virtio_transport/x", "virtio_transport/y"])

    def test_budget_counts_each_fixture_timeout_and_the_default(self):
        short = self.dir / "short.json"
        short.write_text('{"timeout_ms": 4000}')
        broken = self.dir / "broken.json"
        broken.write_text("{")
        legacy = self.dir / "legacy.json"
        legacy.write_text("[]")
        got = fixtures_host.budget_s([short, broken, legacy])
        want = fixtures_host.BOOT_S + 4 + 30 + 30 + 3 * fixtures_host.FIXTURE_SLACK_S
        self.assertAlmostEqual(got, want)

    def test_agent_script_opens_its_port_once_for_both_directions(self):
        script = fixtures_host.agent_script()
        self.assertIn(f"wait_port {fixtures_host.AGENT_PORT_NAME}", script)
        self.assertIn('vsock-fixture-agent <>"$port" >&0', script)

    def test_engine_argv(self):
        argv = fixtures_host.engine_argv(Path("/b/vhost-user-vsock"), Path("/w/s.sock"), Path("/w/a.sock"),
                                         Path("/r/t.jsonl"), [Path("f.json")])
        self.assertEqual(argv, ["/b/vhost-user-vsock", "--fixtures", "--vm", "cid=3,socket=/w/s.sock",
                                "--agent-socket", "/w/a.sock", "--trace", "/r/t.jsonl",
                                "--prefix", "virtio_transport/", "--verbose", "f.json"])

    def test_missing_results_are_errors_with_the_logs_tail(self):
        ktap = self.dir / "e.ktap"
        ktap.write_text("KTAP version 1\n1..3\nok 1 virtio_transport/one\n")
        log = self.dir / "engine.log"
        log.write_text("starting\nQEMU closed the vhost-user connection\n")
        report = fixtures_host._report(ktap, ["virtio_transport/one", "virtio_transport/two",
                                              "virtio_transport/three"], "it died", log, self.dir / "none")
        self.assertEqual([(r.name, r.status) for r in report.results],
                         [("virtio_transport/one", PASS), ("virtio_transport/two", ERROR),
                          ("virtio_transport/three", ERROR)])
        self.assertEqual(report.results[1].reason, "not run: it died")
        self.assertIn("QEMU closed the vhost-user connection", report.results[2].diagnostics)


@unittest.skipUnless(kernel_or_none(), f"kernel {DEFAULT_KERNEL} is not cached")
class GuestRuns(unittest.TestCase):
    def setUp(self):
        self.dir = Path(tempfile.mkdtemp(prefix="vsockcheck-test-fxhost-"))
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.kernel = kernel_or_none()

    def assertNothingLeft(self):
        self.assertEqual(processes_naming(self.dir), [], "a QEMU or engine process was left behind")

    def test_dying_engine_leaves_errors_and_no_process(self):
        fake = self.dir / "dying-engine"
        fake.write_text(DYING_ENGINE)
        fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
        fixtures = [self.dir / f"{name}.json" for name in ("one", "two", "three")]
        for path in fixtures:
            path.write_text("{}")
        with mock.patch.dict(os.environ, {vhost_user_device.PROGRAM_ENV: str(fake)}):
            run = fixtures_host.run_with(self.kernel, fixtures, self.dir / "results", self.dir / "work",
                                         topology.TEST_PROGRAM, "true")
        self.assertEqual([r.status for r in run.report.results], [PASS, ERROR, ERROR])
        self.assertIn("status 3", run.report.results[1].reason)
        self.assertIn("engine: giving up", run.report.results[2].diagnostics)
        self.assertNothingLeft()

    @unittest.skipUnless(fixtures_host.AGENT_PROGRAM.exists(), "vsock-fixture-agent is not built")
    @unittest.skipUnless(engine_has_fixture_mode(), "vhost-user-vsock has no --fixtures mode yet")
    def test_fixtures_against_a_guest(self):
        fixtures = []
        for name, text in (("t_request_rst", REQUEST_RST), ("t_handshake", HANDSHAKE),
                           ("t_transport_reset", TRANSPORT_RESET)):
            fixtures.append(self.dir / f"{name}.json")
            fixtures[-1].write_text(text)
        results = self.dir / "results"
        run = fixtures_host.run(self.kernel, fixtures, results, self.dir / "work")
        got = {r.name: r for r in run.report.results}
        diagnostics = "\n".join(line for r in run.report.results for line in r.diagnostics)
        self.assertEqual(got["virtio_transport/t_request_rst"].status, PASS, diagnostics)
        self.assertEqual(got["virtio_transport/t_handshake"].status, PASS, diagnostics)
        self.assertEqual(got["virtio_transport/t_transport_reset"].status, SKIP)
        self.assertIn("event queue", got["virtio_transport/t_transport_reset"].reason)
        trace = (results / fixtures_host.TRACE_NAME).read_text()
        self.assertIn('"t_handshake"', trace)
        self.assertNothingLeft()


if __name__ == "__main__":
    unittest.main()
