"""make dist's bundle booted in the project's own guest (debian:bookworm) in place of the usual
initramfs contents: the bundle's runner loads the vsock modules and runs the loopback suite from
the bundle, and its KTAP must parse with every case ok or SKIP (or XFAIL) with a reason."""

import shutil
import tempfile
import unittest
from pathlib import Path

from tests import processes
from vsc import dist_bundle, dist_guest, kernels, topology
from vsc.errors import UserError
from vsc.ktap_syntax import PASS, SKIP, XFAIL
from vsc.paths import GUEST_BIN_DIR

KERNEL = "debian:bookworm"


def kernel_cached():
    try:
        return kernels.resolve(KERNEL, fetch=False)
    except UserError:
        return None


@unittest.skipUnless(all(p.exists() for p in dist_bundle.programs(GUEST_BIN_DIR)),
                     "the bundle's programs are not built: run make")
@unittest.skipUnless(kernel_cached(), f"{KERNEL} is not cached: run 'vsockcheck kernels fetch'")
class BundleInGuest(unittest.TestCase):
    def test_the_bundle_runs_the_loopback_suite_with_nothing_failed(self):
        top = Path(tempfile.mkdtemp(prefix="vsc-dist-guest-"))
        self.addCleanup(shutil.rmtree, top, True)
        results = top / "results"
        results.mkdir()
        tarball = dist_bundle.build(top / "dist")
        version = tarball.name[len("vsockcheck-"):-len(".tar.gz")]
        run = dist_guest.run(kernel_cached(), tarball, top / "work", results)
        self.assertEqual(processes.qemus_naming(results), [], "QEMU outlived the run")
        where = f"console: {results / 'console.log'}; output: {results / 'guest.out'}"

        # One KTAP document, from the bundle's runner, over loopback.
        self.assertEqual(run.lines[0], "KTAP version 1", where)
        self.assertIn(f"# vsockcheck-guest: kernel {kernel_cached().release}, bundle {version}, "
                      "transports: loopback", "\n".join(run.lines), where)
        self.assertEqual(run.report.problems, [], where)
        self.assertEqual(run.report.plan, len(run.cases), where)
        self.assertEqual([r.name for r in run.report.results], [c.name for c in run.cases], where)

        failed = [f"{r.name}: {r.status} {r.reason}" for r in run.report.results if r.status not in (PASS, SKIP, XFAIL)]
        self.assertEqual(failed, [], where)
        unexplained = [r.name for r in run.report.results if r.status in (SKIP, XFAIL) and not r.reason.strip()]
        self.assertEqual(unexplained, [], "SKIP or XFAIL without a reason")
        self.assertTrue(any(r.status == PASS for r in run.report.results), "nothing passed")
        # The tools came from the bundle, linked into /usr/bin: the cases that run them did not skip
        # for want of them.
        for result in run.report.results:
            for tool in topology.GUEST_TOOLS:
                self.assertNotIn(f"/usr/bin/{tool.name} is not in this image", result.reason, result.name)
        self.assertEqual(run.exit_status, 0, where)


if __name__ == "__main__":
    unittest.main()
