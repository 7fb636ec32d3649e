"""vsock built in, no modules, everywhere in the runner: every topology, both fixture engines and
exec on the kernels slow_tests/kernels.py builds from trixie's source. guest_kernel() (vsock built
in, no vhost_vsock, MODULES=n) boots loopback, g2h, g2g and nested's L2; host_kernel() (vhost_vsock
built in too) boots nested's L1 and the fixtures' vhost_vsock engine. Each run must have no
failure and exactly the skips builtin_skips.py lists; the combinations the kernels make impossible
are refused in one line before anything boots."""

import json
import os
import shutil
import subprocess
import sys
import unittest
from pathlib import Path

from slow_tests import builtin_skips, kernels
from vsc.paths import BUILD_DIR, GUEST_BIN_DIR, PROJECT_ROOT

VSOCKCHECK = PROJECT_ROOT / "runner" / "vsockcheck"
RESULTS = BUILD_DIR / "slow" / "builtin-results"
PINGPONG = GUEST_BIN_DIR / "vsock-pingpong"
PAIR = ("--server", "vsock-pingpong server", "--client", "vsock-pingpong client")
# Longer than any run takes on a loaded machine (nested: the L2 boot allowance is 600 s).
RUN_TIMEOUT_S = 3600


def vsockcheck(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(VSOCKCHECK), *args], capture_output=True, text=True,
                          timeout=RUN_TIMEOUT_S, env=dict(os.environ))


class BuiltinKernels(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.guest = str(kernels.guest_kernel())
        cls.host = str(kernels.host_kernel())

    def results_dir(self, name: str) -> Path:
        path = RESULTS / name
        shutil.rmtree(path, ignore_errors=True)
        return path

    def run_ok(self, name: str, *args: str) -> dict:
        """One vsockcheck command into RESULTS/name; its results.json."""
        results = self.results_dir(name)
        done = vsockcheck(*args, "--results", str(results))
        summary = f"vsockcheck {' '.join(args)}: exit {done.returncode}\n{done.stdout[-3000:]}{done.stderr[-2000:]}"
        json_path = results / "results.json"
        self.assertTrue(json_path.is_file(), summary)
        document = json.loads(json_path.read_text())
        self.assertIn(done.returncode, (0, 1), summary)
        return document

    def assert_as_expected(self, document: dict, expected: dict[str, str]) -> None:
        """No failure; the skips are exactly `expected` (name -> a part of the reason), apart
        from the race-dependent ones, which may skip for their own reason or pass."""
        failed = [f"{c['name']}: {c['status']} {c['reason']}" for c in document["cases"]
                  if c["status"] not in ("pass", "xfail", "skip")]
        self.assertEqual(failed, [], "failed on a built-in kernel")
        skipped = {c["name"]: c["reason"] for c in document["cases"] if c["status"] == "skip"}
        unexpected = []
        for name, reason in skipped.items():
            race = builtin_skips.RACE_DEPENDENT.get(name.rpartition("/")[2])
            wanted = expected.get(name, race)
            if wanted is None or wanted not in reason:
                unexpected.append(f"{name}: {reason!r} (expected: {wanted!r})")
        self.assertEqual(unexpected, [], "skips that builtin_skips.py does not list, or with another reason")
        missing = sorted(set(expected) - set(skipped))
        self.assertEqual(missing, [], "expected to skip but did not: update builtin_skips.py")
        self.assertGreater(document["counts"]["passed"], 0)

    def assert_refused(self, pattern: str, *args: str) -> None:
        results = self.results_dir("refused")
        done = vsockcheck(*args, "--results", str(results))
        self.assertEqual((done.returncode, done.stdout), (2, ""), done.stderr)
        self.assertEqual(len(done.stderr.splitlines()), 1, done.stderr)
        self.assertRegex(done.stderr, "^vsockcheck: error: " + pattern)
        self.assertFalse(results.exists(), "a refused run made its results directory")

    def test_loopback(self):
        document = self.run_ok("loopback", "run", "--kernel", self.guest, "--topology", "loopback")
        self.assert_as_expected(document, builtin_skips.LOOPBACK)

    def test_loopback_with_vhost_built_in(self):
        """Loopback never connects to a CID above 2, so vhost_vsock built in does not matter."""
        document = self.run_ok("loopback-host", "run", "--kernel", self.host, "--topology", "loopback")
        self.assert_as_expected(document, builtin_skips.LOOPBACK)

    def test_g2h(self):
        document = self.run_ok("g2h", "run", "--kernel", self.guest, "--topology", "g2h")
        self.assert_as_expected(document, builtin_skips.G2H)

    def test_g2g(self):
        document = self.run_ok("g2g", "run", "--kernel", self.guest, "--topology", "g2g")
        self.assert_as_expected(document, builtin_skips.G2G)

    def test_nested(self):
        document = self.run_ok("nested", "run", "--kernel", self.host, "--l2-kernel", self.guest,
                               "--topology", "nested")
        self.assert_as_expected(document, builtin_skips.NESTED)

    def test_fixtures_both_engines_on_the_host_kernel(self):
        document = self.run_ok("fixtures-host", "fixtures", "--kernel", self.host)
        self.assert_as_expected(document, builtin_skips.FIXTURES_HOST)
        engines = {c["name"].partition("/")[0] for c in document["cases"]}
        self.assertEqual(engines, {"virtio_transport", "vhost_vsock"})

    def test_fixtures_virtio_transport_on_the_guest_kernel(self):
        document = self.run_ok("fixtures-guest", "fixtures", "--kernel", self.guest, "--target", "virtio_transport")
        self.assert_as_expected(document, builtin_skips.FIXTURES_GUEST)

    @unittest.skipUnless(PINGPONG.exists(), "vsock-pingpong is not built: run make")
    def test_exec(self):
        for topology in ("loopback", "g2h", "g2g", "nested"):
            with self.subTest(topology=topology):
                kernel_args = (["--kernel", self.host, "--l2-kernel", self.guest] if topology == "nested"
                               else ["--kernel", self.guest])
                results = self.results_dir(f"exec-{topology}")
                done = vsockcheck("exec", "--topology", topology, *kernel_args, "--files", str(PINGPONG), *PAIR,
                                  "--results", str(results))
                self.assertEqual(done.returncode, 0, done.stdout[-3000:] + done.stderr)
                self.assertEqual(done.stdout.splitlines()[-1], "vsockcheck exec: passed: both peers exited 0")

    def test_refusals(self):
        """vhost_vsock built into a plain guest, or missing where a guest hosts others."""
        vhost_in_guest = r"kernel .* has vhost_vsock built in \(CONFIG_VHOST_VSOCK=y\)"
        no_vhost = r"hosts guests through vhost_vsock: kernel .*CONFIG_VHOST_VSOCK=y or =m"
        self.assert_refused("topology g2h's guest: " + vhost_in_guest, "run", "--kernel", self.host,
                            "--topology", "g2h")
        self.assert_refused("topology g2g's guests: " + vhost_in_guest, "run", "--kernel", self.host,
                            "--topology", "g2g")
        self.assert_refused("nested L1 " + no_vhost, "run", "--kernel", self.guest, "--topology", "nested")
        self.assert_refused(r"nested L2 \(no --l2-kernel: L1's kernel\): " + vhost_in_guest, "run",
                            "--kernel", self.host, "--topology", "nested")
        self.assert_refused("the fixtures' vhost_vsock engine " + no_vhost, "fixtures", "--kernel", self.guest)
        self.assert_refused("nested L1 " + no_vhost, "exec", "--topology", "nested", "--kernel", self.guest,
                            "--files", str(PINGPONG), *PAIR)


if __name__ == "__main__":
    unittest.main()
