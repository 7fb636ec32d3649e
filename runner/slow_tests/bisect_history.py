"""What the bisect slow tests share: a throwaway git history on a Debian kernel source with one
planted regression among harmless commits, and the test that `vsockcheck bisect` names exactly that
commit, leaves the repository as it was, and builds incrementally.

A test module subclasses PlantedRevert (with unittest.TestCase) and sets what differs: the case
that catches the regression, the patch that plants it, the topology and kconfig fragments it runs
with, the files the harmless commits touch, and a text the failing step's log must show.

The repository's tree is a hard-linked copy of the cached source: it costs seconds, not a 1.4 GB
copy, and it is safe because nothing writes a source file in place (git checkout and git apply
replace files, our edits write a new file and rename it, Kbuild writes only into its object
tree). The test checks at the end that the cached files it edited are untouched.
"""

import hashlib
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

from vsc import bisect, bisect_step, kbuild, kernel_source
from vsc.paths import BUILD_DIR, PROJECT_ROOT

SOURCE = "debian:trixie"
BRANCH = "history"
# VSC_BISECT_SEED picks another position for the planted commit; the default makes runs repeatable.
SEED = int(os.environ.get("VSC_BISECT_SEED", "7"))
GIT_IDENTITY = ["-c", "user.name=vsockcheck bisect test", "-c", "user.email=bisect-test@vsockcheck.invalid",
                "-c", "commit.gpgsign=false", "-c", "core.autocrlf=false"]
BISECT_TIMEOUT_S = 3 * 3600
# A build after the first must take at most this share of the first one's time.
INCREMENTAL_SHARE = 0.5


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *GIT_IDENTITY, "-C", str(repo), *args], check=True, capture_output=True,
                          text=True, stdin=subprocess.DEVNULL).stdout


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def append(path: Path, text: str) -> None:
    """Append text by writing a new file and renaming it over path: the old inode is the cache's."""
    new = path.with_name(path.name + ".vsc-new")
    new.write_bytes(path.read_bytes() + text.encode())
    shutil.copymode(path, new)
    os.replace(new, path)


def patched_files(patch: Path) -> set[str]:
    """The files a diff changes (its +++ b/ lines)."""
    return {line[len("+++ b/"):].strip() for line in patch.read_text().splitlines() if line.startswith("+++ b/")}


def linked_copy(src: Path, dest: Path) -> None:
    """dest: src's files hard-linked, without build-kernel's object and output trees or a .git."""
    dest.mkdir(parents=True)
    skip = (kbuild.OBJ_PREFIX, kbuild.OUT_PREFIX, ".git")
    entries = [str(e) for e in src.iterdir() if not e.name.startswith(skip)]
    subprocess.run(["cp", "-al", *entries, str(dest)], check=True)


def run_bisect(argv: list[str]) -> subprocess.CompletedProcess:
    """argv to its end. Interrupted or out of time, the driver gets SIGTERM, not subprocess.run's
    SIGKILL: only then does it stop its build and QEMU and reset the repository."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            stdin=subprocess.DEVNULL)
    try:
        stdout, stderr = proc.communicate(timeout=BISECT_TIMEOUT_S)
    except BaseException:
        proc.terminate()
        proc.communicate(timeout=120)
        raise
    return subprocess.CompletedProcess(argv, proc.returncode, stdout, stderr)


class PlantedRevert:
    """The test; a subclass (with unittest.TestCase) sets these."""

    CASE: str                # the case that catches the planted regression
    PATCH: Path              # our diff that plants it
    PLANTED_SUBJECT: str     # the planted commit's subject
    TOPOLOGY: str            # where the case runs
    CONFIG: tuple = ()       # kconfig fragments (empty: build-kernel's default)
    HARMLESS: tuple = ()     # (file, line appended) of the harmless commits, in turn
    COMMITS: int = 10        # commits after the base, the planted one among them
    LOG_TEXT: str = ""       # what the first bad commit's log must show
    WORK: Path = BUILD_DIR / "slow" / "bisect"

    def setUp(self):
        self.repo = self.WORK / "repo"
        self.results = self.WORK / "results"
        for old in (self.repo, self.results):
            shutil.rmtree(old, ignore_errors=True)
        if not os.environ.get("VSC_KEEP_BISECT_REPO"):
            self.addCleanup(shutil.rmtree, self.repo, ignore_errors=True)

    def make_history(self, src: Path) -> tuple[str, str, dict[str, float]]:
        """The repository: base commit, then COMMITS commits with the revert at a seeded place.
        Returns (base sha, planted sha, seconds per stage)."""
        times = {}
        t = time.monotonic()
        linked_copy(src, self.repo)
        times["copy (hard links)"] = time.monotonic() - t
        t = time.monotonic()
        git(self.repo, "-c", f"init.defaultBranch={BRANCH}", "init", "-q")
        git(self.repo, "add", "-A")
        git(self.repo, "commit", "-q", "-m", f"Debian {src.name} as unpacked from {SOURCE}")
        times["git add + commit of the tree"] = time.monotonic() - t
        t = time.monotonic()
        base = git(self.repo, "rev-parse", "HEAD").strip()
        planted_at = random.Random(SEED).randrange(1, self.COMMITS - 1)  # never the first or the last
        planted = None
        for n in range(self.COMMITS):
            if n == planted_at:
                git(self.repo, "apply", str(self.PATCH))
                git(self.repo, "commit", "-q", "-a", "-m", self.PLANTED_SUBJECT)
                planted = git(self.repo, "rev-parse", "HEAD").strip()
                continue
            path, line = self.HARMLESS[n % len(self.HARMLESS)]
            append(self.repo / path, line.format(n=n))
            git(self.repo, "commit", "-q", "-a", "-m", f"bisect test: harmless commit {n} ({path})")
        times["history"] = time.monotonic() - t
        return base, planted, times

    def test_bisect_names_the_planted_commit(self):
        started = time.monotonic()
        src = kernel_source.source_tree(SOURCE)
        watched = {path: digest(src / path) for path in {p for p, _ in self.HARMLESS} | patched_files(self.PATCH)}
        base, planted, times = self.make_history(src)
        argv = ["nice", "-n", "10", sys.executable, str(PROJECT_ROOT / "runner" / "vsockcheck"), "bisect",
                "--good", base, "--bad", BRANCH, "--test", self.CASE, "--topology", self.TOPOLOGY,
                *[arg for fragment in self.CONFIG for arg in ("--config", fragment)],
                "--results", str(self.results), str(self.repo)]
        t = time.monotonic()
        done = run_bisect(argv)
        times["vsockcheck bisect"] = time.monotonic() - t
        output = done.stdout + done.stderr
        print(f"\n$ {' '.join(argv)}\n{output}", end="")

        self.assertEqual(done.returncode, 0, output)
        subject = git(self.repo, "log", "-1", "--format=%s", planted).strip()
        found = [line for line in done.stdout.splitlines() if line.startswith("first bad commit: ")]
        self.assertEqual(found, [f"first bad commit: {planted} {subject}"], output)
        self.assertIn(self.LOG_TEXT, done.stdout)
        # Back on the branch, nothing changed, the build output ignored.
        self.assertEqual(git(self.repo, "symbolic-ref", "--short", "HEAD").strip(), BRANCH)
        self.assertFalse((self.repo / ".git" / "BISECT_START").exists())
        self.assertEqual(git(self.repo, "status", "--porcelain"), "")

        steps = sorted((bisect.read_step(self.results, d.name) for d in self.results.iterdir()
                        if (d / bisect_step.STEP_FILE).is_file()), key=lambda s: s.sha == base, reverse=True)
        first, later = steps[0], steps[1:]
        self.assertEqual(first.sha, base)
        self.assertGreaterEqual(len(later), 2, "the bad end and at least one step")
        for step in later:
            self.assertLess(step.build_seconds, first.build_seconds * INCREMENTAL_SHARE,
                            f"{step.sha[:12]} built in {step.build_seconds} s, not incrementally "
                            f"(the first build took {first.build_seconds} s)")
        for path, before in watched.items():
            self.assertEqual(digest(src / path), before, f"the cached source {src / path} was modified")

        times["whole test"] = time.monotonic() - started
        print("measured:")
        for what, seconds in times.items():
            print(f"  {what}: {seconds:.0f} s")
        for step in steps:
            print(f"  step {step.sha[:12]} {step.verdict}: build {step.build_seconds} s, "
                  f"whole step {step.seconds} s  {step.subject}")


