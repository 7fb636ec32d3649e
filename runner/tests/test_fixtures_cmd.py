"""`vsockcheck fixtures` with fake engines: selection, targets, bad files and the reports."""

import contextlib
import io
import json
import sys
import tempfile
import types
import unittest
from pathlib import Path
from types import SimpleNamespace
from unittest import mock

from tests.fixture_schema_sample import SCHEMA
from tests.test_fixture_check import GOOD, LEGACY
from vsc import cli, fixture_check, fixtures_cmd, kernels, qemu
from vsc.fixture_schema import Schema
from vsc.guest_session import GuestRun
from vsc.ktap_report import CaseResult, Report

KERNEL_NAME = "debian:bookworm 6.1.0-56-cloud-amd64"


def fake_kernel(config: Path, name: str = KERNEL_NAME) -> SimpleNamespace:
    """What the command needs of a kernel; `config` says whether it has vhost_vsock (engine 2)."""
    return SimpleNamespace(name=name, release="6.1.0-56-cloud-amd64", version="6.1.192-2",
                           modules_dir=None, config=config, modules_builtin=None)


def fixture_text(name: str, target: str) -> str:
    return GOOD.replace('"handshake"', f'"{name}"').replace('"target": "both"', f'"target": "{target}"')


class FakeEngine:
    """An engine module: run() reports each fixture as `outcomes` says (default pass)."""

    def __init__(self, target: str, outcomes: dict[str, str], prefix_names: bool = False):
        self.module = types.ModuleType(f"fake_{target}")
        self.module.run = self.run
        self.target = target
        self.outcomes = outcomes
        self.prefix_names = prefix_names  # the engine names its results <target>/<name>
        self.calls = []

    def run(self, kernel, fixtures, results_dir, workdir):
        self.calls.append([Path(f).stem for f in fixtures])
        assert workdir.is_dir()
        report = Report(plan=len(fixtures))
        for i, path in enumerate(fixtures, 1):
            name = fixture_check.inspect(path).name
            status = self.outcomes.get(name, "pass")
            shown = f"{self.target}/{name}" if self.prefix_names else name
            report.results.append(CaseResult(i, shown, status, diagnostics=(f"{status} from the fake",)))
        (results_dir / f"{self.target}.ktap").write_text("KTAP version 1\n")
        return GuestRun(report, "tcg", ["fake"], {"boot_s": 1.0, "total_s": 2.0})


class FixturesCommand(unittest.TestCase):
    def setUp(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        self.top = Path(tmp.name)
        self.fixtures = self.top / "fixtures"
        self.results = self.top / "results"
        self.files = {}
        self.config = self.top / "config"
        self.config.write_text("CONFIG_VHOST_VSOCK=y\n")
        self.kernel = fake_kernel(self.config)
        for area, name, text in (("connect", "both_sides", fixture_text("both_sides", "both")),
                                 ("connect", "host_only", fixture_text("host_only", "virtio_transport")),
                                 ("credit", "guest_only", fixture_text("guest_only", "vhost_vsock")),
                                 ("credit", "broken", fixture_text("broken", "both").replace("within_ms",
                                                                                             "whitin_ms")),
                                 ("qemu-legacy", "rst-no-listener", LEGACY)):
            path = self.fixtures / area / f"{name}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            self.files[name] = path
        self.host = FakeEngine("virtio_transport", {"host_only": "fail"})
        self.guest = FakeEngine("vhost_vsock", {}, prefix_names=True)
        schema = Schema(SCHEMA, "sample")
        for patch in (mock.patch.object(fixture_check, "FIXTURES_DIR", self.fixtures),
                      mock.patch.object(fixture_check, "discover",
                                        lambda root=None: sorted(self.fixtures.glob("*/*.json"))),
                      mock.patch.object(fixture_check, "load_schema", lambda path=None: schema),
                      mock.patch.object(kernels, "resolve", lambda spec, fetch: self.kernel),
                      mock.patch.object(qemu, "qemu_version", lambda binary: "7.2.0"),
                      mock.patch.dict(sys.modules, {"vsc.fixtures_host": self.host.module,
                                                    "vsc.fixtures_guest": self.guest.module})):
            patch.start()
            self.addCleanup(patch.stop)

    def vsockcheck(self, *args: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = cli.main(list(args))
        return status, out.getvalue(), err.getvalue()

    def results_json(self) -> dict:
        return json.loads((self.results / "results.json").read_text())

    def test_vhost_engine_refused_up_front_on_a_kernel_without_vhost_vsock(self):
        self.config.write_text("# CONFIG_VHOST_VSOCK is not set\n")
        status, out, err = self.vsockcheck("fixtures", "--results", str(self.results))
        self.assertEqual((status, out, self.host.calls, self.guest.calls), (2, "", [], []))
        self.assertRegex(err, "^vsockcheck: error: the fixtures' vhost_vsock engine hosts guests through vhost_vsock: "
                              f"kernel {KERNEL_NAME}: .*CONFIG_VHOST_VSOCK=y or =m; build the kernel with "
                              "kconfig/vsock-host.config, or run --target virtio_transport\n$")
        self.assertFalse(self.results.exists())
        status, _, _ = self.vsockcheck("fixtures", "--target", "virtio_transport", "--results", str(self.results))
        self.assertEqual((status, self.host.calls, self.guest.calls), (1, [["both_sides", "host_only"]], []))

    def test_both_targets_run_and_bad_files_count_as_failed(self):
        status, out, _ = self.vsockcheck("fixtures", "--results", str(self.results))
        self.assertEqual(status, 1)
        self.assertEqual(self.host.calls, [["both_sides", "host_only"]])
        self.assertEqual(self.guest.calls, [["both_sides", "guest_only", "rst-no-listener"]])
        cases = {c["name"]: c["status"] for c in self.results_json()["cases"]}
        self.assertEqual(cases, {"check/broken": "fail",
                                 "virtio_transport/both_sides": "pass", "virtio_transport/host_only": "fail",
                                 "vhost_vsock/both_sides": "pass", "vhost_vsock/guest_only": "pass",
                                 "vhost_vsock/qemu_rst_no_listener": "pass"})
        numbers = [c["number"] for c in self.results_json()["cases"]]
        self.assertEqual(numbers, [1, 2, 3, 4, 5, 6])
        self.assertIn('$.steps[2].whitin_ms: unknown field "whitin_ms"', out)
        self.assertTrue(out.rstrip().endswith("4 passed, 2 failed, 0 skipped"), out)
        for name in ("results.ktap", "junit.xml"):
            self.assertTrue((self.results / name).exists())
        ktap = (self.results / "results.ktap").read_text()
        self.assertIn("not ok 1 check/broken", ktap)
        self.assertEqual(self.results_json()["run"]["topology"], "fixtures")

    def test_pick_and_target_select(self):
        status, out, _ = self.vsockcheck("fixtures", "--results", str(self.results), "--target", "vhost_vsock",
                                         "--pick", "both_*", "--pick", "qemu_*")
        self.assertEqual(status, 0, out)
        self.assertEqual(self.host.calls, [])
        self.assertEqual(self.guest.calls, [["both_sides", "rst-no-listener"]])
        self.assertTrue(out.rstrip().endswith("2 passed, 0 failed, 0 skipped"), out)

    def test_pick_that_matches_nothing_is_bad_input(self):
        status, _, err = self.vsockcheck("fixtures", "--results", str(self.results), "--pick", "nothing*")
        self.assertEqual(status, 2)
        self.assertIn("--pick nothing*: no fixture matches", err)

    def test_a_missing_engine_makes_its_fixtures_errors(self):
        with mock.patch.dict(sys.modules, {"vsc.fixtures_guest": None}):  # import raises ImportError
            status, out, _ = self.vsockcheck("fixtures", "--results", str(self.results), "--pick", "guest_only")
        self.assertEqual(status, 1)
        case = self.results_json()["cases"][0]
        self.assertEqual((case["name"], case["status"]), ("vhost_vsock/guest_only", "error"))
        self.assertIn("no engine for vhost_vsock", case["reason"])

    def test_check_prints_each_problem_and_counts(self):
        status, out, _ = self.vsockcheck("fixtures", "check")
        self.assertEqual(status, 1)
        lines = out.splitlines()
        self.assertEqual(len(lines), 2, out)
        self.assertTrue(lines[0].startswith(f"{self.files['broken']}:"), lines[0])
        self.assertEqual(lines[1], "5 fixture files: 4 good, 1 bad")
        status, out, _ = self.vsockcheck("fixtures", "check", str(self.files["host_only"]))
        self.assertEqual((status, out), (0, "1 fixture files: 1 good, 0 bad\n"))


if __name__ == "__main__":
    unittest.main()


class TargetSelection(unittest.TestCase):
    """--target: "both" is the two virtio engines (as a fixture's "both"), "all" adds hv_sock."""

    def test_targets_of(self):
        self.assertEqual(fixtures_cmd.targets_of("both"), ("virtio_transport", "vhost_vsock"))
        self.assertEqual(fixtures_cmd.targets_of("all"), ("virtio_transport", "vhost_vsock", "hv_sock"))
        self.assertEqual(fixtures_cmd.targets_of("hv_sock"), ("hv_sock",))

    def test_hv_fixtures_go_to_engine_3_only(self):
        files = [fixture_check.FixtureFile(Path("a/v.json"), "v", "both"),
                 fixture_check.FixtureFile(Path("hv_sock/h.json"), "h", "hv_sock")]
        _, by_target = fixtures_cmd.select(files, [], "all")
        self.assertEqual({t: [f.name for f in v] for t, v in by_target.items()},
                         {"virtio_transport": ["v"], "vhost_vsock": ["v"], "hv_sock": ["h"]})
        _, by_target = fixtures_cmd.select(files, [], "both")
        self.assertNotIn("hv_sock", by_target)
