"""The proof of --device: our own device started as an external command from a template gives the
same results as the default path, in g2h (through the hybrid bridge) and g2g (two VMs, {each:...}).
Real guests, one at a time."""

import shlex
import shutil
import tempfile
import unittest
from pathlib import Path

from tests import processes
from tests.test_guest_runs import Run, default_kernel_cached
from tests.test_topologies import PICKED, split_programs
from vsc import vhost_user_device
from vsc.cli import DEFAULT_KERNEL

BACKEND = vhost_user_device.DEFAULT_PROGRAM
G2H_TEMPLATE = f"{BACKEND} --vm cid={{cid}},socket={{socket}},uds={{uds}} --verbose"
G2G_TEMPLATE = f"{BACKEND} {{each:--vm cid={{cid}},socket={{socket}}}} --verbose"


@unittest.skipUnless(default_kernel_cached(), f"{DEFAULT_KERNEL} is not cached")
@unittest.skipUnless(BACKEND.exists() and split_programs(), "not built: run make")
class OurDeviceAsExternalCommand(unittest.TestCase):
    def setUp(self):
        self.top = Path(tempfile.mkdtemp(prefix="vsc-test-device-ext-"))
        self.addCleanup(shutil.rmtree, self.top, True)

    def statuses(self, topology: str, *device: str) -> tuple[dict, Run, str]:
        run = Run("--topology", topology, "--show-command", *device,
                  *(arg for name in PICKED for arg in ("--pick", name)), top=self.top)
        done = run.run()
        self.assertNotIn("Traceback", done.stderr)
        self.assertIn(done.returncode, (0, 1), done.stdout + done.stderr)
        self.assertEqual(processes.naming(run.top), [], "a process outlived the run")
        self.assertEqual(list(run.tmp.iterdir()), [], "temporary files were left behind")
        return {name: case["status"] for name, case in run.cases().items()}, run, done.stdout

    def backend_argv(self, stdout: str) -> list[str]:
        line = next(line for line in stdout.splitlines() if line.startswith("backend: "))
        return shlex.split(line.split(":", 1)[1])

    def assert_same_results(self, topology: str, template: str, vm_options: int) -> None:
        default, _, _ = self.statuses(topology)
        external, run, stdout = self.statuses(topology, "--device", f"vhost-user:{template}")
        self.assertEqual(set(default), set(PICKED))
        self.assertEqual(external, default)
        # The backend run was the template's, not ours built by the runner: no --pcap, our --verbose
        # last, and the placeholders filled in with this run's sockets.
        argv = self.backend_argv(stdout)
        self.assertEqual(argv[0], str(BACKEND))
        self.assertEqual(argv.count("--vm"), vm_options)
        self.assertNotIn("{", " ".join(argv))
        self.assertIn("device " + template, stdout)
        self.assertGreater((run.results / "backend.log").stat().st_size, 0)

    def test_g2h_external_matches_default(self):
        self.assert_same_results("g2h", G2H_TEMPLATE, vm_options=1)

    def test_g2g_external_with_each_matches_default(self):
        self.assert_same_results("g2g", G2G_TEMPLATE, vm_options=2)


if __name__ == "__main__":
    unittest.main()
