"""Tests for build-kernel without compiling a kernel: fragments, the stick check, the object tree's key,
make's command lines, error text, and the whole orchestration on a stand-in kernel tree
(tests/fake_kernel_tree.py) whose Makefile acts like Kbuild on the files build-kernel reads."""

import contextlib
import io
import os
import signal
import tempfile
import threading
import time
import unittest
from pathlib import Path
from unittest import mock

from tests import fake_kernel_tree
from vsc import bench_kbuild, cli, kbuild, kernels, kernelspec
from vsc import kconfig_fragments as kf
from vsc.errors import UserError
from vsc.paths import PROJECT_ROOT


class FragmentTest(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.tmp = Path(self._tmp.name)

    def tearDown(self):
        self._tmp.cleanup()

    def test_names_resolve_to_kconfig_files(self):
        self.assertEqual(kf.fragment_path("vsock-host"), PROJECT_ROOT / "kconfig/vsock-host.config")
        for name in kbuild.DEFAULT_FRAGMENTS + ("vsock-host", "hyperv", "debug"):
            self.assertTrue(kf.fragment_path(name).is_file(), name)

    def test_unknown_name_lists_the_known_ones(self):
        with self.assertRaises(UserError) as e:
            kf.fragment_path("vsock-hots")
        self.assertIn("'vsock-hots'", str(e.exception))
        self.assertIn("vsock-host", str(e.exception))

    def test_paths_are_taken_as_paths(self):
        frag = self.tmp / "mine.config"
        frag.write_text("CONFIG_X=y\n")
        self.assertEqual(kf.fragment_path(str(frag)), frag.resolve())
        with self.assertRaises(UserError) as e:
            kf.fragment_path(str(self.tmp / "absent.config"))
        self.assertIn("no such file", str(e.exception))

    def test_every_fragment_of_the_project_parses_and_says_what_it_is_for(self):
        for name in kf.names():
            path = kf.fragment_path(name)
            self.assertTrue(kf.parse(path), name)
            self.assertTrue(path.read_text().startswith(f"# vsockcheck {name}.config: "), name)

    def test_vsock_lines_live_only_in_vsock_guest(self):
        options = {name: {line.option for line in kf.parse(kf.fragment_path(name))} for name in kf.names()}
        self.assertIn("CONFIG_VSOCKETS", options["vsock-guest"])
        for name in kf.names():
            if name not in ("vsock-guest", "hvsock-guest"):
                self.assertFalse({"CONFIG_VSOCKETS", "CONFIG_VIRTIO_VSOCKETS"} & options[name], name)
        # hvsock-guest only takes the virtio transport back out (merged after vsock-guest).
        self.assertEqual([(l.option, l.value) for l in kf.parse(kf.fragment_path("hvsock-guest"))],
                         [("CONFIG_VIRTIO_VSOCKETS", None)])
        # A plain guest kernel must not get vhost_vsock (h2g would take every connect to CID > 2).
        for name in kbuild.DEFAULT_FRAGMENTS:
            self.assertNotIn("CONFIG_VHOST_VSOCK", options[name], name)

    def test_parse_reads_set_and_unset_lines_with_their_place(self):
        frag = self.tmp / "f.config"
        frag.write_text("# a comment\n\nCONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C=\"text\"\n")
        lines = kf.parse(frag)
        self.assertEqual([(l.option, l.value, l.lineno) for l in lines],
                         [("CONFIG_A", "y", 3), ("CONFIG_B", None, 4), ("CONFIG_C", '"text"', 5)])
        self.assertEqual(lines[1].text(), "# CONFIG_B is not set")

    def test_parse_refuses_a_line_that_is_not_kconfig(self):
        frag = self.tmp / "f.config"
        frag.write_text("CONFIG_A=y\nVSOCKETS=y\n")
        with self.assertRaises(UserError) as e:
            kf.parse(frag)
        self.assertIn("f.config:2", str(e.exception))
        self.assertIn("'VSOCKETS=y'", str(e.exception))

    def test_stick_check(self):
        frag = self.tmp / "f.config"
        frag.write_text("CONFIG_A=y\nCONFIG_B=m\n# CONFIG_C is not set\nCONFIG_D=8\nCONFIG_E=y\nCONFIG_E=m\n"
                        "# CONFIG_F is not set\n")
        config_file = self.tmp / ".config"
        config_file.write_text("CONFIG_A=y\nCONFIG_B=y\nCONFIG_C=y\nCONFIG_D=8\nCONFIG_E=m\n# CONFIG_F is not set\n")
        config = kf.read_config(config_file)
        bad = kf.unstuck(kf.parse(frag), config)
        self.assertEqual([l.option for l in bad], ["CONFIG_B", "CONFIG_C"])
        self.assertEqual(kf.describe(bad[0], config, None), f"CONFIG_B=m from {frag}:2 did not stick (got y)")
        self.assertEqual(kf.describe(bad[1], config, None),
                         f"# CONFIG_C is not set from {frag}:3 did not stick (got y)")

    def test_describe_names_the_dependency_from_kconfig(self):
        src = fake_kernel_tree.make_tree(self.tmp / "src")
        (src / "vsockcheck-obj-x").mkdir()
        (src / "vsockcheck-obj-x/Kconfig").write_text("config VSOCKMON\n\tdepends on WRONG\n")
        line = kf.FragmentLine("CONFIG_VSOCKMON", "y", PROJECT_ROOT / "kconfig/vsock-host.config", 12)
        self.assertEqual(kf.describe(line, {}, src), "CONFIG_VSOCKMON=y from kconfig/vsock-host.config:12 "
                                                     "did not stick (not set): it depends on VHOST_VSOCK")
        self.assertEqual(kf.kconfig_depends(src, "VHOST_VSOCK"), "VSOCKETS && EVENTFD")
        self.assertIsNone(kf.kconfig_depends(src, "NOTHING"))


class KeyAndCommandTest(unittest.TestCase):
    def test_object_key_follows_contents_and_order(self):
        a, b = "CONFIG_A=y\n", "CONFIG_B=y\n"
        self.assertEqual(kbuild.object_key([a, b]), kbuild.object_key([a, b]))
        self.assertNotEqual(kbuild.object_key([a, b]), kbuild.object_key([b, a]))
        self.assertNotEqual(kbuild.object_key([a + b]), kbuild.object_key([a, b]))
        self.assertRegex(kbuild.object_key([a]), r"^[0-9a-f]{12}$")

    def test_compiler_goes_through_ccache_when_on_path(self):
        with mock.patch("shutil.which", return_value="/usr/bin/ccache"):
            self.assertEqual(kbuild.compiler(), "ccache gcc")
        with mock.patch("shutil.which", return_value=None):
            self.assertEqual(kbuild.compiler(), "gcc")

    def test_make_argv(self):
        self.assertEqual(kbuild.make_argv("vsockcheck-obj-k", ["bzImage", "modules"], "ccache gcc", 2),
                         ["make", "ARCH=x86_64", "O=vsockcheck-obj-k", "CC=ccache gcc", "-j2", "bzImage", "modules"])
        self.assertEqual(kbuild.make_argv("o", ["modules_install"], "gcc", None, ["INSTALL_MOD_PATH=/out"]),
                         ["make", "ARCH=x86_64", "O=o", "CC=gcc", "INSTALL_MOD_PATH=/out", "modules_install"])
        self.assertEqual(kbuild.merge_argv("o", [Path("/k/a.config"), Path("/k/b.config")]),
                         ["sh", "scripts/kconfig/merge_config.sh", "-m", "-O", "o", "o/.config",
                          "/k/a.config", "/k/b.config"])

    def test_first_errors_of_a_make_log(self):
        log = ("  CC      net/vmw_vsock/af_vsock.o\n"
               "../net/vmw_vsock/af_vsock.c:12:1: error: unknown type name 'bad'\n"
               "../net/vmw_vsock/af_vsock.c: In function 'x':\n"
               "../net/vmw_vsock/af_vsock.c:40:5: error: 'y' undeclared\n"
               "make[4]: *** [../scripts/Makefile.build:229: net/vmw_vsock/af_vsock.o] Error 1\n")
        self.assertEqual(kbuild.first_errors(log), [
            "../net/vmw_vsock/af_vsock.c:12:1: error: unknown type name 'bad'",
            "../net/vmw_vsock/af_vsock.c:40:5: error: 'y' undeclared"])
        self.assertEqual(kbuild.first_errors("a\nmake: *** No rule to make target 'x'.  Stop.\n"),
                         ["make: *** No rule to make target 'x'.  Stop."])
        self.assertEqual(kbuild.first_errors("\n".join(map(str, range(9)))), ["4", "5", "6", "7", "8"])


class FakeTreeCase(unittest.TestCase):
    """A stand-in kernel tree in a temporary directory, and fragments written beside it."""

    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.tmp = Path(self._tmp.name)
        self.src = fake_kernel_tree.make_tree(self.tmp / "linux")

    def tearDown(self):
        self._tmp.cleanup()

    def fragment(self, name: str, text: str) -> str:
        path = self.tmp / f"{name}.config"
        path.write_text(text)
        return str(path)

    def build(self, *fragments: str, out: Path | None = None) -> kbuild.BuiltKernel:
        return kbuild.build_kernel(self.src, fragments, out, jobs=2, quiet=True)


class BuildOnFakeTreeTest(FakeTreeCase):

    def test_output_is_a_kernel_spec_and_a_second_build_changes_nothing(self):
        frag = self.fragment("plain", "CONFIG_VSOCKETS=y\n")
        built = self.build(frag)
        obj = self.src / (kbuild.OBJ_PREFIX + kbuild.object_key([Path(frag).read_text()]))
        self.assertEqual(built.spec, self.src / (kbuild.OUT_PREFIX + obj.name[len(kbuild.OBJ_PREFIX):]))
        self.assertEqual(built.release, fake_kernel_tree.RELEASE)
        self.assertEqual(built.log, obj / kbuild.LOG_NAME)
        self.assertEqual(os.readlink(built.spec / "build"), f"../{obj.name}")
        cc = kbuild.compiler()
        self.assertEqual(fake_kernel_tree.calls(obj), [f"tinyconfig CC={cc}", "merge", "olddefconfig", "compile"])
        kernel = kernels.resolve(str(built.spec), fetch=False)
        self.assertEqual(kernel.release, fake_kernel_tree.RELEASE)
        self.assertEqual(kernel.vmlinuz, built.spec / f"boot/vmlinuz-{fake_kernel_tree.RELEASE}")
        self.assertIsNone(kernel.modules_dir)
        self.assertIn("CONFIG_VSOCKETS=y", kernel.config.read_text())
        config_time = (obj / ".config").stat().st_mtime_ns
        image_time = kernel.vmlinuz.stat().st_mtime_ns

        self.build(frag)
        self.assertEqual(len(fake_kernel_tree.calls(obj)), 4, "configure or compile ran again")
        self.assertEqual((obj / ".config").stat().st_mtime_ns, config_time)
        self.assertEqual(kernel.vmlinuz.stat().st_mtime_ns, image_time)

        (self.src / "init/main.c").write_text("int main = 1;\n")
        self.build(frag)
        self.assertEqual(fake_kernel_tree.calls(obj)[4:], ["compile"])
        self.assertEqual(kernel.vmlinuz.read_text(), "int main = 1;\n")

    def test_same_config_made_again_keeps_its_time(self):
        frag = self.fragment("plain", "CONFIG_VSOCKETS=y\n")
        built = self.build(frag)
        obj = built.spec / "build"
        config_time = (obj / ".config").stat().st_mtime_ns
        (obj / kbuild.INPUT_NAME).write_text("made from something else\n")
        self.build(frag)
        self.assertEqual(fake_kernel_tree.calls(obj)[4:], [f"tinyconfig CC={kbuild.compiler()}", "merge",
                                                          "olddefconfig"])
        self.assertEqual((obj / ".config").stat().st_mtime_ns, config_time)

    def test_other_fragments_get_their_own_object_tree(self):
        a = self.build(self.fragment("a", "CONFIG_A=y\n"))
        b = self.build(self.fragment("b", "CONFIG_B=y\n"))
        self.assertNotEqual(os.readlink(a.spec / "build"), os.readlink(b.spec / "build"))
        self.assertEqual((a.spec / "build").resolve().parent, self.src)

    def test_modules_are_installed_with_a_modules_dep(self):
        built = self.build(self.fragment("mods", "CONFIG_MODULES=y\nCONFIG_HYPERV_VSOCKETS=m\n"))
        obj = built.spec / "build"
        # make -j2 bzImage modules: in either order
        self.assertEqual(sorted(fake_kernel_tree.calls(obj)[3:5]), ["compile", "modules"])
        self.assertEqual(fake_kernel_tree.calls(obj)[5:], ["modules_install"])
        kernel = kernels.resolve(str(built.spec), fetch=False)
        self.assertEqual(kernel.modules_dir, built.spec / "lib/modules" / fake_kernel_tree.RELEASE)
        # No depmod ran (the stand-in has none, as this machine may not): modules.dep is ours.
        self.assertEqual((kernel.modules_dir / "modules.dep").read_text(),
                         "kernel/hv_sock.ko: kernel/hv_vmbus.ko\nkernel/hv_vmbus.ko:\n")

    def test_out_directory(self):
        out = self.tmp / "out"
        built = self.build(self.fragment("plain", "CONFIG_A=y\n"), out=out)
        self.assertEqual(built.spec, out)
        self.assertEqual(Path(os.readlink(out / "build")).parent, self.src)
        self.assertIsInstance(kernelspec.parse(str(out)), kernelspec.LocalKernel)
        # A stale image of another release in out would make two kernels: it goes.
        (out / "boot/vmlinuz-1.0").write_text("old")
        self.build(self.fragment("plain", "CONFIG_A=y\n"), out=out)
        self.assertEqual(sorted(p.name for p in (out / "boot").iterdir()),
                         [f"config-{fake_kernel_tree.RELEASE}", f"vmlinuz-{fake_kernel_tree.RELEASE}"])
        foreign = self.tmp / "foreign"
        foreign.mkdir()
        (foreign / "notes.txt").write_text("mine")
        with self.assertRaises(UserError) as e:
            self.build(self.fragment("plain", "CONFIG_A=y\n"), out=foreign)
        self.assertIn("not written by build-kernel", str(e.exception))

    def test_a_line_that_did_not_stick_is_a_build_error_naming_it(self):
        frag = self.fragment("mon", "CONFIG_VSOCKETS=y\n\nCONFIG_VSOCKMON=y\n")
        with self.assertRaises(kbuild.BuildError) as e:
            self.build(frag)
        self.assertIn(f"CONFIG_VSOCKMON=y from {frag}:3 did not stick (not set): it depends on VHOST_VSOCK",
                      str(e.exception))
        self.assertNotIn("compile", fake_kernel_tree.calls(e.exception.log.parent))

    def test_compile_error_quotes_the_error_and_the_log(self):
        with self.assertRaises(kbuild.BuildError) as e:
            self.build(self.fragment("fail", "CONFIG_FAIL=y\n"))
        message = str(e.exception)
        self.assertIn("make bzImage failed (status 2)", message)
        self.assertIn("init/main.c:3:1: error: planted failure", message)
        self.assertNotIn("***", message)
        self.assertIn(str(e.exception.log), message)
        self.assertIn("error: planted failure", e.exception.log.read_text())

    def test_interrupt_stops_make_and_what_it_started(self):
        frag = self.fragment("slow", "CONFIG_SLOW=y\n")
        obj = self.src / (kbuild.OBJ_PREFIX + kbuild.object_key([Path(frag).read_text()]))
        pid_file = obj / "sleeper.pid"

        def interrupt_once_sleeping():
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and not (pid_file.is_file() and pid_file.read_text().strip()):
                time.sleep(0.05)
            os.kill(os.getpid(), signal.SIGINT)

        # Ctrl-C raises KeyboardInterrupt even when this test runs in a background job, which
        # starts with SIGINT ignored.
        self.addCleanup(signal.signal, signal.SIGINT, signal.signal(signal.SIGINT, signal.default_int_handler))
        threading.Thread(target=interrupt_once_sleeping, daemon=True).start()
        with self.assertRaises(KeyboardInterrupt):
            self.build(frag)
        sleeper = int(pid_file.read_text())
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and _alive(sleeper):
            time.sleep(0.05)
        self.assertFalse(_alive(sleeper), "make's child survived the interrupt")

    def test_not_a_kernel_tree(self):
        with self.assertRaises(UserError) as e:
            kbuild.build_kernel(self.tmp, ["minimal"], quiet=True)
        self.assertIn("not a kernel source tree", str(e.exception))


class CommandLineTest(FakeTreeCase):
    def run_cli(self, *argv: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = cli.main(list(argv))
        return status, out.getvalue(), err.getvalue()

    def test_last_line_is_the_spec_and_kernels_fetch_accepts_it(self):
        status, out, err = self.run_cli("build-kernel", str(self.src), "--config",
                                        self.fragment("plain", "CONFIG_A=y\n"), "--jobs", "1")
        self.assertEqual((status, err), (0, ""))
        lines = out.splitlines()
        spec = lines[-1]
        self.assertTrue(lines[0].startswith("build-kernel: configure "), lines)
        self.assertLessEqual(len(lines), 5)
        status, out, _ = self.run_cli("kernels", "fetch", spec)
        self.assertEqual(status, 0)
        self.assertIn(f"local kernel {fake_kernel_tree.RELEASE}", out)

    def test_bad_inputs_are_one_line_and_status_2(self):
        for argv in (["build-kernel", str(self.tmp)], ["build-kernel", str(self.src), "--config", "nope"],
                     ["build-kernel", "debian:potato"], ["build-kernel", str(self.src), "--jobs", "0"]):
            status, out, err = self.run_cli(*argv)
            self.assertEqual(status, 2, argv)
            self.assertEqual(len(err.splitlines()), 1, err)
            self.assertTrue(err.startswith("vsockcheck: error: "), err)

    def test_build_error_is_one_line(self):
        status, out, err = self.run_cli("build-kernel", str(self.src), "--config",
                                        self.fragment("fail", "CONFIG_FAIL=y\n"))
        self.assertEqual(status, 2)
        self.assertEqual(len(err.splitlines()), 1, err)
        self.assertIn("planted failure", err)

    def test_interrupt_exits_130(self):
        with mock.patch.object(kbuild, "build_kernel", side_effect=KeyboardInterrupt):
            status, out, err = self.run_cli("build-kernel", str(self.src))
        self.assertEqual(status, 130)
        self.assertIn("make stopped", err)


class BenchFiguresTest(unittest.TestCase):
    def test_stats_log_counts_and_line(self):
        with tempfile.TemporaryDirectory() as tmp:
            log = Path(tmp) / "stats.log"
            log.write_text("# a.c\ncache_miss\ndirect_cache_miss\n# b.c\ndirect_cache_hit\nlocal_storage_hit\n"
                           "# c.c\npreprocessed_cache_hit\n# d.c\nrecache\n")
            counts = bench_kbuild.read_stats_log(log)
            self.assertEqual(bench_kbuild.read_stats_log(Path(tmp) / "absent"), {})
        figure = bench_kbuild.Figure("first", 12.5, 3 * 2**20, counts)
        self.assertRegex(bench_kbuild.lines([figure])[1],
                         r"^  first +12.5 s  bzImage 3.00 MiB  ccache 2 hits, 2 compiled$")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead too: it only waits for its parent to collect it.
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.is_file() and stat.read_text().split(") ")[-1].startswith("Z"))


if __name__ == "__main__":
    unittest.main()
