"""Tests for vsc.kmod and vsc.kmod_headers: header packages, Makefile paths, glibc wrappers, cache keys,
errors; apt and make are faked, nothing is downloaded or compiled."""

import os
import shutil
import stat
import subprocess
import tempfile
import unittest
from pathlib import Path
from unittest import mock

from tests import fake_debs
from vsc import apt_private, kernels, kmod, kmod_headers
from vsc.errors import UserError

# What apt-cache shows for each suite's flavour headers (Depends trimmed to what matters).
FLAVOURS = {
    "bullseye": ("5.10.0-46-cloud-amd64", "5.10.262-1",
                 "linux-headers-5.10.0-46-common (= 5.10.262-1), linux-kbuild-5.10 (>= 5.10.262-1), "
                 "linux-compiler-gcc-10-x86"),
    "bookworm": ("6.1.0-56-cloud-amd64", "6.1.192-2",
                 "linux-headers-6.1.0-56-common (= 6.1.192-2), linux-kbuild-6.1 (>= 6.1.192-2), "
                 "linux-compiler-gcc-12-x86"),
    "trixie": ("6.12.117+deb13-cloud-amd64", "6.12.117-1",
               "linux-headers-6.12.117+deb13-common (= 6.12.117-1), linux-kbuild-6.12.117+deb13 (= 6.12.117-1), "
               "gcc-14, linux-base, linux-image-6.12.117+deb13-cloud-amd64 | linux-image-6.12.117+deb13-cloud-amd64-dbg"),
    "sid": ("7.2.13+deb14-cloud-amd64", "7.2.13-1",
            "linux-headers-7.2.13+deb14-common (= 7.2.13-1), linux-kbuild-7.2.13+deb14 (= 7.2.13-1), "
            "gcc-16-for-host, linux-base-7.2.13+deb14-cloud-amd64 (= 7.2.13-1)"),
}
EXPECTED = {
    "bullseye": [("linux-headers-5.10.0-46-cloud-amd64", "5.10.262-1"),
                 ("linux-headers-5.10.0-46-common", "5.10.262-1"), ("linux-kbuild-5.10", None)],
    "bookworm": [("linux-headers-6.1.0-56-cloud-amd64", "6.1.192-2"),
                 ("linux-headers-6.1.0-56-common", "6.1.192-2"), ("linux-kbuild-6.1", None)],
    "trixie": [("linux-headers-6.12.117+deb13-cloud-amd64", "6.12.117-1"),
               ("linux-headers-6.12.117+deb13-common", "6.12.117-1"),
               ("linux-kbuild-6.12.117+deb13", "6.12.117-1")],
    "sid": [("linux-headers-7.2.13+deb14-cloud-amd64", "7.2.13-1"),
            ("linux-headers-7.2.13+deb14-common", "7.2.13-1"), ("linux-kbuild-7.2.13+deb14", "7.2.13-1")],
}
HOST_LOADER = Path("/lib/x86_64-linux-gnu") / kmod_headers.LOADER


def flavour_record(suite: str) -> str:
    release, version, depends = FLAVOURS[suite]
    return f"Package: linux-headers-{release}\nVersion: {version}\nDepends: {depends}\n"


class TempDir(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self._tmp.cleanup)
        self.tmp = Path(self._tmp.name)


class HeaderPackages(unittest.TestCase):
    def test_each_suite_takes_exactly_flavour_common_and_kbuild(self):
        for suite in FLAVOURS:
            with self.subTest(suite=suite):
                self.assertEqual(kmod_headers.header_packages(flavour_record(suite), FLAVOURS[suite][0]),
                                 EXPECTED[suite])

    def test_a_flavour_without_common_headers_is_an_error(self):
        record = "Package: linux-headers-6.1.0-56-cloud-amd64\nVersion: 6.1.192-2\nDepends: linux-kbuild-6.1\n"
        with self.assertRaisesRegex(UserError, "linux-headers-6.1.0-56-cloud-amd64 depends on no common package"):
            kmod_headers.header_packages(record, "6.1.0-56-cloud-amd64")

    def test_a_record_of_another_package_is_an_error(self):
        with self.assertRaisesRegex(UserError, "no usable record for package linux-headers-6.1.0-56-cloud-amd64"):
            kmod_headers.header_packages(flavour_record("sid"), "6.1.0-56-cloud-amd64")


class RewriteMakefile(unittest.TestCase):
    def test_include_and_kbuild_output_point_into_the_root(self):
        text = ("KBUILD_OUTPUT=/usr/src/linux-headers-7.2.13+deb14-cloud-amd64\n"
                "include /usr/src/linux-headers-7.2.13+deb14-common/Makefile\n")
        root = Path("/cache/headers/R/root")
        once = kmod_headers.rewrite_makefile(text, root)
        self.assertEqual(once, "KBUILD_OUTPUT=/cache/headers/R/root/usr/src/linux-headers-7.2.13+deb14-cloud-amd64\n"
                               "include /cache/headers/R/root/usr/src/linux-headers-7.2.13+deb14-common/Makefile\n")
        self.assertEqual(kmod_headers.rewrite_makefile(once, root), once, "a second rewrite changes nothing")


class Glibc(TempDir):
    def test_host_programs_need_no_newer_glibc_than_the_host(self):
        needed = kmod_headers.glibc_needed(Path("/usr/bin/make").read_bytes())
        self.assertIsNotNone(needed)
        self.assertLessEqual(needed, kmod_headers.host_glibc())
        self.assertGreaterEqual(needed, (2, 2))

    def test_not_elf(self):
        self.assertIsNone(kmod_headers.glibc_needed(b"#!/bin/sh\necho hi\n"))
        self.assertIsNone(kmod_headers.glibc_needed(b"\x7fELF\x02\x01" + bytes(10)), "cut short")

    def tree_with_tools(self) -> Path:
        tree = self.tmp / "usr/lib/linux-kbuild-7.2"
        (tree / "scripts/mod").mkdir(parents=True)
        shutil.copy(shutil.which("echo"), tree / "scripts/mod/modpost.real-lsb-64")
        (tree / "scripts/setlocalversion").write_text("#!/bin/sh\necho\n")
        (tree / "scripts/setlocalversion").chmod(0o755)
        (tree / "scripts/mod/modpost").symlink_to("modpost.real-lsb-64")
        return tree

    def test_only_elf_programs_needing_a_newer_glibc_are_picked(self):
        tree = self.tree_with_tools()
        self.assertEqual(kmod_headers.tools_needing_newer_glibc(tree, kmod_headers.host_glibc()), [])
        found = kmod_headers.tools_needing_newer_glibc(tree, (2, 0))
        self.assertEqual([p.name for p, _ in found], ["modpost.real-lsb-64"], "not the script, not the symlink")

    @unittest.skipUnless(HOST_LOADER.is_file(), f"no {HOST_LOADER}")
    def test_a_wrapped_tool_runs_with_its_arguments(self):
        tree = self.tree_with_tools()
        kmod_headers.wrap_tools(kmod_headers.tools_needing_newer_glibc(tree, (2, 0)), HOST_LOADER.parent,
                                self.tmp, self.tmp)
        tool = tree / "scripts/mod/modpost.real-lsb-64"
        self.assertTrue((tree / "scripts/mod/modpost.real-lsb-64.bin").is_file())
        self.assertTrue(tool.stat().st_mode & stat.S_IXUSR)
        self.assertIn(f'exec "{HOST_LOADER}" --library-path "{HOST_LOADER.parent}:/lib/x86_64-linux-gnu" '
                      f'"{tool}.bin" "$@"', tool.read_text())
        # Called through the symlink, as Kbuild does: "$0.bin" must still be found.
        out = subprocess.run([str(tree / "scripts/mod/modpost"), "two words", "x"], capture_output=True, text=True)
        self.assertEqual((out.returncode, out.stdout), (0, "two words x\n"), out.stderr)


class FakeTrees(TempDir):
    """A project with Kbuild and one module source, and kernel trees that are only files."""

    def setUp(self):
        super().setUp()
        self.project = self.tmp / "project"
        (self.project / "testcases/kmod").mkdir(parents=True)
        (self.project / "Kbuild").write_text("obj-m += testcases/kmod/\n")
        (self.project / "testcases/kmod/Kbuild").write_text("obj-m += probe.o\n")
        (self.project / "testcases/kmod/probe.c").write_text("int x;\n")

    def tree(self, name: str = "tree", config: str = "CONFIG_MODULES=y\nCONFIG_VSOCKETS=m\n",
             release: str = "6.1.0-56-cloud-amd64", symvers: bool = True) -> Path:
        tree = self.tmp / name
        (tree / "include/generated").mkdir(parents=True)
        (tree / "Makefile").write_text("all:\n")
        (tree / ".config").write_text(config)
        (tree / "include/generated/utsrelease.h").write_text(f'#define UTS_RELEASE "{release}"\n')
        if symvers:
            (tree / "Module.symvers").write_text("0x1\tvsock_find_bound_socket\tvmlinux\tEXPORT_SYMBOL_GPL\t\n")
        return tree

    def local_kernel(self, spec: Path, release: str = "6.1.0-56-cloud-amd64", config: Path | None = None):
        return kernels.Kernel(str(spec), release, release, spec / f"boot/vmlinuz-{release}", None, config, None)


class CacheKey(FakeTrees):
    def key(self, tree: Path, cc: str = "gcc") -> str:
        return kmod.cache_key("6.1.0-56-cloud-amd64", kmod.source_files(self.project), tree, cc, self.project)

    def test_sources_found(self):
        self.assertEqual(kmod.source_files(self.project),
                         [Path("Kbuild"), Path("testcases/kmod/Kbuild"), Path("testcases/kmod/probe.c")])

    def test_same_inputs_same_key_and_each_input_counts(self):
        tree = self.tree()
        first = self.key(tree)
        self.assertRegex(first, r"^6\.1\.0-56-cloud-amd64-[0-9a-f]{16}$")
        self.assertEqual(self.key(tree), first)
        self.assertNotEqual(self.key(tree, cc="gcc-12"), first)
        (tree / "Module.symvers").write_text("other\n")
        after_symvers = self.key(tree)
        self.assertNotEqual(after_symvers, first)
        (tree / ".config").write_text("CONFIG_MODULES=y\nCONFIG_VSOCKETS=y\n")
        after_config = self.key(tree)
        self.assertNotEqual(after_config, after_symvers)
        (self.project / "testcases/kmod/probe.c").write_text("int y;\n")
        self.assertNotEqual(self.key(tree), after_config)

    def test_no_sources(self):
        (self.project / "Kbuild").unlink()
        with self.assertRaisesRegex(UserError, "no Kbuild or no module sources"):
            kmod.source_files(self.project)


class LocalTrees(FakeTrees):
    def test_build_link_of_build_kernel_output(self):
        tree = self.tree("objtree")
        spec = self.tmp / "spec"
        spec.mkdir()
        (spec / "build").symlink_to(tree)
        self.assertEqual(kmod.build_tree(self.local_kernel(spec)), tree.resolve())

    def test_build_tree_as_spec(self):
        tree = self.tree("linux")
        self.assertEqual(kmod.build_tree(self.local_kernel(tree)), tree.resolve())

    def test_no_build_tree(self):
        spec = self.tmp / "unpacked"
        spec.mkdir()
        with self.assertRaisesRegex(UserError, rf"^kernel {spec}: no kernel build tree .*{spec}/build.*build-kernel"):
            kmod.build_tree(self.local_kernel(spec))

    def test_kernel_without_modules(self):
        tree = self.tree(config="# CONFIG_MODULES is not set\nCONFIG_VSOCKETS=y\n")
        with self.assertRaisesRegex(UserError, "is built without CONFIG_MODULES .*CONFIG_MODULES=y"):
            kmod.build_tree(self.local_kernel(tree, config=tree / ".config"))
        with self.assertRaisesRegex(UserError, "is built without CONFIG_MODULES"):
            kmod.check_tree(self.local_kernel(tree), tree)

    def test_tree_checks(self):
        cases = [
            (self.tree("novsock", config="CONFIG_MODULES=y\n"), "has no CONFIG_VSOCKETS"),
            (self.tree("other", release="6.1.0-57-cloud-amd64"), "is of release 6.1.0-57-cloud-amd64, not 6.1.0-56"),
            (self.tree("nosymvers", symvers=False), "has no Module.symvers"),
        ]
        for tree, message in cases:
            with self.subTest(tree=tree.name), self.assertRaisesRegex(UserError, message):
                kmod.check_tree(self.local_kernel(tree), tree)

    def test_compiler(self):
        tree = self.tree()
        self.assertEqual(kmod.compiler(tree), "gcc", "a local tree: this machine's gcc")
        (tree / ".kernelvariables").write_text("CC = $(if $(DEBIAN_KERNEL_USE_CCACHE),$(CCACHE)) $(CROSS_COMPILE)gcc-99\n")
        self.assertEqual(kmod.compiler(tree), "gcc", "gcc-99 is not here")
        with mock.patch("shutil.which", side_effect=lambda name: f"/usr/bin/{name}" if name == "gcc-99" else None):
            self.assertEqual(kmod.compiler(tree), "gcc-99", "the kernel's own compiler when this machine has it")


class ErrorExcerpt(unittest.TestCase):
    def test_compiler_error_first_not_makes_echo(self):
        log = ("make: Entering directory '/h'\n  CC [M]  /b/testcases/kmod/vsc_probe.o\n"
               "/b/testcases/kmod/vsc_probe.c:71:9: error: implicit declaration of function 'sock_put'\n"
               "cc1: some warnings being treated as errors\n"
               "make[3]: *** [/h/scripts/Makefile.build:291: /b/testcases/kmod/vsc_probe.o] Error 1\n")
        self.assertEqual(kmod.error_excerpt(log),
                         ["/b/testcases/kmod/vsc_probe.c:71:9: error: implicit declaration of function 'sock_put'"])

    def test_modpost_and_missing_tool(self):
        log = ('ERROR: modpost: "vsock_find_bound_socket" [/b/vsc_probe.ko] undefined!\n'
               "/bin/sh: 1: pahole: not found\n")
        self.assertEqual(len(kmod.error_excerpt(log)), 2)

    def test_no_error_line_gives_the_last_lines(self):
        self.assertEqual(kmod.error_excerpt("a\nb\nc\nd\n"), ["b", "c", "d"])


FAKE_MAKE = """#!/bin/sh
# Stands for make: counts its calls; "fail" in $FAKE_MAKE_MODE prints a compiler error.
echo call >>"$FAKE_MAKE_CALLS"
for arg; do case "$arg" in M=*) out=${arg#M=};; esac; done
if [ "$FAKE_MAKE_MODE" = fail ]; then
	echo "$out/testcases/kmod/vsc_probe.c:3:1: error: expected ';' before '}' token" >&2
	echo "make[2]: *** [Makefile.build:291: vsc_probe.o] Error 1" >&2
	exit 2
fi
echo testcases/kmod/vsc_probe.o >"$out/modules.order"
echo ko >"$out/testcases/kmod/vsc_probe.ko"
"""


class BuildModules(FakeTrees):
    """build_modules with a fake make on PATH: the copy, the cache, the error message."""

    def setUp(self):
        super().setUp()
        bin_dir = self.tmp / "bin"
        bin_dir.mkdir()
        (bin_dir / "make").write_text(FAKE_MAKE)
        (bin_dir / "make").chmod(0o755)
        self.calls = self.tmp / "calls"
        env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "FAKE_MAKE_CALLS": str(self.calls), "FAKE_MAKE_MODE": ""}
        patcher = mock.patch.dict(os.environ, env)
        patcher.start()
        self.addCleanup(patcher.stop)
        self.spec_tree = self.tree("linux")
        self.kernel = self.local_kernel(self.spec_tree)

    def make_calls(self) -> int:
        return len(self.calls.read_text().split()) if self.calls.is_file() else 0

    def test_built_in_a_copy_once(self):
        out = self.tmp / "out"
        built = kmod.build_modules(self.kernel, out)
        self.assertEqual([p.name for p in built], ["vsc_probe.ko"])
        copy = built[0].parent.parent.parent
        self.assertEqual(copy.parent, out)
        self.assertTrue((copy / "Kbuild").is_file() and (copy / "testcases/kmod/vsc_probe.c").is_file())
        self.assertIn(f"M={copy}", (copy / kmod.LOG).read_text())
        self.assertEqual(kmod.build_modules(self.kernel, out), built)
        self.assertEqual(self.make_calls(), 1, "the second call is served from the cache")

    def test_compile_error_names_the_kernel_and_quotes_the_error(self):
        os.environ["FAKE_MAKE_MODE"] = "fail"
        with self.assertRaises(UserError) as caught:
            kmod.build_modules(self.kernel, self.tmp / "out")
        message = str(caught.exception)
        self.assertRegex(message, rf"^kernel {self.spec_tree}: building the test modules failed: "
                                  r"\S+/testcases/kmod/vsc_probe.c:3:1: error: expected ';'")
        self.assertNotIn("*** [", message)
        self.assertIn("build.log", message)
        os.environ["FAKE_MAKE_MODE"] = ""
        kmod.build_modules(self.kernel, self.tmp / "out")
        self.assertEqual(self.make_calls(), 2, "a failed build is not cached")


class DebianHeaders(FakeTrees):
    """debian_headers with apt faked by locally built .deb files."""

    RELEASE = "6.1.0-56-cloud-amd64"

    def setUp(self):
        super().setUp()
        self.tmp = fake_debs.temp_cache(self)
        r = self.RELEASE
        self.debs = {
            f"linux-headers-{r}": fake_debs.build_deb(self.tmp, f"linux-headers-{r}", {
                f"usr/src/linux-headers-{r}/Makefile": (b"include /usr/src/linux-headers-6.1.0-56-common/Makefile\n", 0o644),
                f"usr/src/linux-headers-{r}/.config": (b"CONFIG_MODULES=y\nCONFIG_VSOCKETS=m\n", 0o644)}, "6.1.192-2"),
            "linux-headers-6.1.0-56-common": fake_debs.build_deb(self.tmp, "linux-headers-6.1.0-56-common", {
                "usr/src/linux-headers-6.1.0-56-common/Makefile": (b"all:\n", 0o644)}, "6.1.192-2"),
            "linux-kbuild-6.1": fake_debs.build_deb(self.tmp, "linux-kbuild-6.1", {
                "usr/lib/linux-kbuild-6.1/scripts/mod/modpost": (Path(shutil.which("echo")).read_bytes(), 0o755)}, "6.1.192-2"),
        }
        records = {
            f"linux-headers-{r}": flavour_record("bookworm"),
            "linux-headers-6.1.0-56-common": "Package: linux-headers-6.1.0-56-common\nVersion: 6.1.192-2\n",
            "linux-kbuild-6.1": "Package: linux-kbuild-6.1\nVersion: 6.1.192-2\n",
        }
        self.downloads = []

        def download(suite, packages, dest):
            self.downloads.append(packages)
            for name, _ in packages:
                shutil.copy(self.debs[name], dest)
            return sorted(dest.glob("*.deb"))

        for name, fake in (("update", lambda suite, force=False: False),
                           ("show", lambda suite, name, version=None: records[name]),
                           ("download", download)):
            patcher = mock.patch.object(apt_private, name, side_effect=fake)
            patcher.start()
            self.addCleanup(patcher.stop)

    def test_fetched_once_with_paths_rewritten(self):
        headers = kmod_headers.debian_headers("bookworm", self.RELEASE, "6.1.192-2")
        entry = kmod_headers.headers_root() / self.RELEASE
        self.assertEqual(headers, entry / f"root/usr/src/linux-headers-{self.RELEASE}")
        self.assertEqual((headers / "Makefile").read_text(),
                         f"include {entry}/root/usr/src/linux-headers-6.1.0-56-common/Makefile\n")
        self.assertEqual(self.downloads, [[(f"linux-headers-{self.RELEASE}", "6.1.192-2"),
                                           ("linux-headers-6.1.0-56-common", "6.1.192-2"),
                                           ("linux-kbuild-6.1", "6.1.192-2")]])
        self.assertFalse((entry / "root/usr/lib/linux-kbuild-6.1/scripts/mod/modpost.bin").exists(),
                         "a tool that runs with this machine's glibc is left alone")
        self.assertEqual(kmod_headers.debian_headers("bookworm", self.RELEASE, "6.1.192-2"), headers)
        self.assertEqual(len(self.downloads), 1, "the second call is served from the cache")

    @unittest.skipUnless(HOST_LOADER.is_file(), f"no {HOST_LOADER}")
    def test_tools_needing_a_newer_glibc_are_wrapped(self):
        with mock.patch.object(kmod_headers, "host_glibc", return_value=(2, 0)), \
             mock.patch.object(kmod_headers, "_runtime_libdir", return_value=HOST_LOADER.parent):
            headers = kmod_headers.debian_headers("bookworm", self.RELEASE, "6.1.192-2")
        self.assertTrue(headers.is_dir())
        tool = kmod_headers.headers_root() / self.RELEASE / "root/usr/lib/linux-kbuild-6.1/scripts/mod/modpost"
        out = subprocess.run([str(tool), "ran"], capture_output=True, text=True)
        self.assertEqual(out.stdout, "ran\n", out.stderr)

    def test_headers_gone_from_the_archive(self):
        with mock.patch.object(apt_private, "show", side_effect=UserError("E: Version '6.1.192-2' not found")):
            with self.assertRaisesRegex(UserError, r"^debian:bookworm 6.1.0-56-cloud-amd64: its headers .* are not "
                                                   r"in the archive .*vsockcheck kernels fetch debian:bookworm"):
                kmod_headers.debian_headers("bookworm", self.RELEASE, "6.1.192-2")
        self.assertFalse((kmod_headers.headers_root() / self.RELEASE).exists())


if __name__ == "__main__":
    unittest.main()
