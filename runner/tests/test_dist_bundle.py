"""make dist's tarball: what it holds, with which modes, and the runner's own argument handling.
No guest here (test_dist_guest boots one); nothing here runs the test program."""

import shlex
import shutil
import subprocess
import tarfile
import tempfile
import unittest
from pathlib import Path

from vsc import dist_bundle, dist_guest, fixtures_guest, topology, topology_loopback
from vsc.errors import UserError
from vsc.paths import PROJECT_ROOT

FIXTURES = PROJECT_ROOT / "testcases" / "fixtures"
VERSION = "1.2-test"


def fake_bin_dir(top: Path) -> Path:
    """Every program the bundle takes, as small non-ELF files (static as far as the check goes)."""
    bin_dir = top / "bin"
    bin_dir.mkdir()
    for program in dist_bundle.programs(bin_dir):
        program.write_bytes(b"program " + program.name.encode())
    return bin_dir


def conf_values(text: str) -> dict[str, str]:
    """suite.conf's KEY=value lines as sh would read them."""
    values = {}
    for line in text.splitlines():
        key, _, value = line.partition("=")
        words = shlex.split(value)
        values[key] = words[0] if words else ""
    return values


class Contents(unittest.TestCase):
    def setUp(self):
        self.top = Path(tempfile.mkdtemp(prefix="vsc-dist-"))
        self.addCleanup(shutil.rmtree, self.top, True)
        self.bin_dir = fake_bin_dir(self.top)

    def tarball(self) -> Path:
        files = dist_bundle.members(VERSION, self.bin_dir)
        return dist_bundle.write_tarball(files, VERSION, self.top / "dist", mtime=1700000000)

    def test_the_tarball_holds_the_runner_programs_tools_and_every_fixture(self):
        out = self.tarball()
        self.assertEqual(out.name, f"vsockcheck-{VERSION}.tar.gz")
        with tarfile.open(out) as tar:
            files = {m.name: m for m in tar.getmembers() if m.isfile()}
            dirs = {m.name for m in tar.getmembers() if m.isdir()}
        top = f"vsockcheck-{VERSION}"
        tools = [p.name for p in topology.GUEST_TOOLS]
        expected = {f"{top}/vsockcheck-guest.sh", f"{top}/README.md", f"{top}/suite.conf",
                    f"{top}/bin/{topology.TEST_PROGRAM.name}",
                    f"{top}/bin/{fixtures_guest.ENGINE.name}", f"{top}/bin/{fixtures_guest.AGENT.name}"}
        expected |= {f"{top}/bin/{name}" for name in tools}
        expected |= {f"{top}/fixtures/{p.relative_to(FIXTURES).as_posix()}" for p in FIXTURES.rglob("*") if p.is_file()}
        self.assertEqual(set(files), expected)
        self.assertIn(f"{top}/fixtures/schema.json", files)
        self.assertIn(top, dirs)
        # Programs and the runner executable, the rest not; all root's, so an image gets root's files.
        for name, member in files.items():
            executable = name.endswith(".sh") or "/bin/" in name
            self.assertEqual(member.mode, 0o755 if executable else 0o644, name)
            self.assertEqual((member.uid, member.gid, member.mtime), (0, 0, 1700000000), name)

    def test_suite_conf_says_what_the_python_runner_says(self):
        with tarfile.open(self.tarball()) as tar:
            text = tar.extractfile(f"vsockcheck-{VERSION}/suite.conf").read().decode()
        conf = conf_values(text)
        self.assertEqual(conf["VSC_VERSION"], VERSION)
        self.assertEqual(conf["VSC_LOOPBACK_ARGS"].split(), topology_loopback.test_args())
        self.assertEqual(conf["VSC_TOOLS"].split(), [p.name for p in topology.GUEST_TOOLS])
        common = conf["VSC_COMMON_MODULES"].split()
        # Every module of the Python runner's guests is either common or one host kind's transport,
        # except the harness's port driver.
        self.assertEqual(set(common) | {conf["VSC_VIRTIO_MODULE"]} | set(dist_bundle.HARNESS_ONLY_MODULES),
                         set(topology.MODULES))
        self.assertIn("vsock_loopback", common)
        self.assertNotIn(conf["VSC_HYPERV_MODULE"], common)

    def test_the_same_inputs_give_the_same_tarball(self):
        first = self.tarball().read_bytes()
        self.assertEqual(self.tarball().read_bytes(), first)
        # Not the clock's time in the gzip header (two builds a second apart would differ), and
        # no file name there either.
        self.assertEqual(int.from_bytes(first[4:8], "little"), 1700000000)
        self.assertEqual(first[3] & 0x08, 0, "the gzip header names a file")

    def test_a_dynamic_program_is_refused_with_its_name(self):
        shutil.copy("/bin/true", self.bin_dir / "vsock-ss")
        with self.assertRaisesRegex(UserError, "vsock-ss: it is dynamically linked"):
            dist_bundle.members(VERSION, self.bin_dir)

    def test_a_missing_program_says_run_make(self):
        (self.bin_dir / "vsockcat").unlink()
        with self.assertRaisesRegex(UserError, r"vsockcat: cannot read it .*run make first"):
            dist_bundle.members(VERSION, self.bin_dir)

    def test_the_guest_image_takes_the_tarball_below_opt_with_a_stable_link(self):
        entries, top = dist_guest.bundle_entries(self.tarball())
        self.assertEqual(top, f"vsockcheck-{VERSION}")
        paths = {e.path for e in entries}
        self.assertIn(f"opt/{top}/vsockcheck-guest.sh", paths)
        self.assertIn(dist_guest.LINK, paths)


@unittest.skipUnless(shutil.which("busybox"), "busybox is not installed (apt-get install busybox-static)")
class RunnerArguments(unittest.TestCase):
    """vsockcheck-guest.sh under busybox sh, for what it does before it touches the kernel."""

    @classmethod
    def setUpClass(cls):
        cls.top = Path(tempfile.mkdtemp(prefix="vsc-dist-"))
        bin_dir = fake_bin_dir(cls.top)
        files = dist_bundle.members(VERSION, bin_dir)
        with tarfile.open(dist_bundle.write_tarball(files, VERSION, cls.top / "dist")) as tar:
            tar.extractall(cls.top / "unpacked")
        cls.runner = cls.top / "unpacked" / f"vsockcheck-{VERSION}" / "vsockcheck-guest.sh"

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.top, ignore_errors=True)

    def run_runner(self, *args):
        return subprocess.run(["busybox", "sh", str(self.runner), *args], capture_output=True, text=True,
                              timeout=30)

    def test_help_names_the_options_the_version_and_the_exit_statuses(self):
        done = self.run_runner("--help")
        self.assertEqual(done.returncode, 0, done.stderr)
        for word in ("--pick", "--skip", "--module-dir", "--no-modules", "--fixtures", "--list", VERSION,
                     "vsock_loopback", "0 nothing failed, 1 a case failed, 2 the suite could not run"):
            self.assertIn(word, done.stdout)

    def test_an_unknown_argument_is_named_and_exits_2(self):
        done = self.run_runner("--bogus")
        self.assertEqual(done.returncode, 2)
        self.assertIn("unknown argument '--bogus'", done.stderr)

    def test_an_option_without_its_value_exits_2(self):
        self.assertEqual(self.run_runner("--pick").returncode, 2)

    @unittest.skipUnless(shutil.which("shellcheck"), "shellcheck is not installed")
    def test_shellcheck_finds_nothing_in_posix_mode(self):
        done = subprocess.run(["shellcheck", "-s", "sh", str(dist_bundle.DIST_SOURCE / dist_bundle.RUNNER)],
                              capture_output=True, text=True)
        self.assertEqual(done.returncode, 0, done.stdout)


if __name__ == "__main__":
    unittest.main()
