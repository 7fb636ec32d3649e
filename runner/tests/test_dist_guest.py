"""make dist's bundle booted in the project's own guest in place of the usual initramfs contents:
the bundle's runner loads the vsock modules and runs the loopback suite from the bundle, and its
KTAP must parse with every case ok or SKIP (or XFAIL) with a reason. debian:bookworm with the
modules in a modules.dep tree (modprobe); debian:trixie, whose modules are .ko.xz, with them
loose in a directory (--module-dir: insmod after decompressing, dependencies from .modinfo)."""

import shutil
import tempfile
import unittest
from pathlib import Path

from tests import processes
from vsc import dist_bundle, dist_guest, kernels, topology
from vsc.errors import UserError
from vsc.ktap_syntax import PASS, SKIP, XFAIL
from vsc.paths import GUEST_BIN_DIR



def kernel_cached(spec: str):
    try:
        return kernels.resolve(spec, fetch=False)
    except UserError:
        return None


@unittest.skipUnless(all(p.exists() for p in dist_bundle.programs(GUEST_BIN_DIR)),
                     "the bundle's programs are not built: run make")
class BundleInGuest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.top = Path(tempfile.mkdtemp(prefix="vsc-dist-guest-"))
        cls.tarball = dist_bundle.build(cls.top / "dist")
        cls.version = cls.tarball.name[len("vsockcheck-"):-len(".tar.gz")]

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.top, ignore_errors=True)

    def test_bookworm_modprobe_from_the_module_tree(self):
        self.check_suite("debian:bookworm", dist_guest.MODPROBE)

    def test_trixie_insmod_of_compressed_modules_from_module_dir(self):
        self.check_suite("debian:trixie", dist_guest.MODULE_DIR)

    def check_suite(self, spec: str, layout: str):
        kernel = kernel_cached(spec)
        if kernel is None:
            self.skipTest(f"{spec} is not cached: run 'vsockcheck kernels fetch'")
        results = self.top / layout / "results"
        results.mkdir(parents=True)
        run = dist_guest.run(kernel, self.tarball, self.top / layout / "work", results, layout=layout)
        self.assertEqual(processes.qemus_naming(results), [], "QEMU outlived the run")
        where = f"console: {results / 'console.log'}; output: {results / 'guest.out'}"

        # One KTAP document, from the bundle's runner, over loopback.
        self.assertEqual(run.lines[0], "KTAP version 1", where)
        # Every module loaded: the runner names none it could not load.
        self.assertEqual([line for line in run.lines if "cannot load module" in line], [], where)
        self.assertIn(f"# vsockcheck-guest: kernel {kernel.release}, bundle {self.version}, "
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
