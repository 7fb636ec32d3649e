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
from vsc import dist_bundle, dist_guest, fixture_check, fixtures_guest, kernels, topology
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
        run = self.boot("debian:bookworm", dist_guest.MODPROBE)
        self.check_ktap(run, [c.name for c in run.cases])
        self.check_tools_were_there(run)

    def test_trixie_insmod_of_compressed_modules_from_module_dir(self):
        run = self.boot("debian:trixie", dist_guest.MODULE_DIR)
        self.check_ktap(run, [c.name for c in run.cases])
        self.check_tools_were_there(run)

    def test_bookworm_fixtures_against_vhost_vsock(self):
        run = self.boot("debian:bookworm", dist_guest.MODPROBE, ("--fixtures",))
        # A fixture's result is named after its name (a QEMU-format file's: qemu_<stem>).
        names = [fixtures_guest.PREFIX + fixture_check.inspect(p).name for p in fixture_check.discover()]
        self.check_ktap(run, names)

    def boot(self, spec: str, layout: str, runner_args: tuple[str, ...] = ()) -> dist_guest.BundleRun:
        kernel = kernel_cached(spec)
        if kernel is None:
            self.skipTest(f"{spec} is not cached: run 'vsockcheck kernels fetch'")
        self.where = self.top / self.id().rsplit(".", 1)[-1]
        results = self.where / "results"
        results.mkdir(parents=True)
        run = dist_guest.run(kernel, self.tarball, self.where / "work", results, layout=layout,
                             runner_args=runner_args)
        self.assertEqual(processes.qemus_naming(results), [], "QEMU outlived the run")
        self.kernel = kernel
        return run

    def check_ktap(self, run: dist_guest.BundleRun, names: list[str]):
        """One KTAP document from the bundle's runner, every module loaded, a result for each of
        `names`, none failed, every SKIP and XFAIL with its reason, exit status 0."""
        where = f"console: {self.where / 'results' / 'console.log'}; output: {self.where / 'results' / 'guest.out'}"
        self.assertEqual(run.lines[0], "KTAP version 1", where)
        self.assertEqual([line for line in run.lines if "cannot load module" in line], [], where)
        self.assertIn(f"# vsockcheck-guest: kernel {self.kernel.release}, bundle {self.version}, "
                      "transports: loopback", "\n".join(run.lines), where)
        self.assertEqual(run.report.problems, [], where)
        self.assertEqual(run.report.plan, len(names), where)
        # (In order for the suite; the fixtures run in the shell's glob order.)
        self.assertEqual(sorted(r.name for r in run.report.results), sorted(names), where)

        # A failure shows with its diagnostics: the results directory is gone when the test ends.
        failed = [f"{r.name}: {r.status} {r.reason} | " + " | ".join(r.diagnostics[-8:])
                  for r in run.report.results if r.status not in (PASS, SKIP, XFAIL)]
        self.assertEqual(failed, [], where)
        unexplained = [r.name for r in run.report.results if r.status in (SKIP, XFAIL) and not r.reason.strip()]
        self.assertEqual(unexplained, [], "SKIP or XFAIL without a reason")
        self.assertTrue(any(r.status == PASS for r in run.report.results), "nothing passed")
        self.assertEqual(run.exit_status, 0, where)

    def check_tools_were_there(self, run: dist_guest.BundleRun):
        """The tools came from the bundle, linked into /usr/bin: no case skipped for want of one."""
        for result in run.report.results:
            for tool in topology.GUEST_TOOLS:
                self.assertNotIn(f"/usr/bin/{tool.name} is not in this image", result.reason, result.name)

if __name__ == "__main__":
    unittest.main()
