"""build-kernel: a kernel built from a source tree and kconfig fragments, incrementally, and laid
out as a directory that `--kernel` accepts.

Recipe: `make tinyconfig` (x86_64), the fragments merged with the tree's merge_config.sh -m, `make
olddefconfig`, every fragment line checked against the result, then `make bzImage` (and modules).
The object tree is a direct child of the source tree named after a hash of the fragments: Kbuild
then writes relative paths (srctree := ..), so ccache hits across copies of the same source, and
the same fragments always find their earlier objects (only what changed rebuilds)."""

import filecmp
import hashlib
import os
import shlex
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from vsc import cache_entry, kernel_source, kernelspec, modules
from vsc import kconfig_fragments as fragments_mod
from vsc.errors import UserError
from vsc.kconfig_fragments import fragment_path  # noqa: F401  (part of this module's interface)

DEFAULT_FRAGMENTS = ("minimal", "vsock-guest")
ARCH = "x86_64"
BASE_CONFIG = "tinyconfig"
# Part of the object tree's key: a change of recipe (base config, arch) gets a fresh tree.
RECIPE = f"vsockcheck kbuild 1: {ARCH} {BASE_CONFIG} + merge_config.sh -m + olddefconfig"
OBJ_PREFIX = "vsockcheck-obj-"
OUT_PREFIX = "vsockcheck-kernel-"
INPUT_NAME = "vsockcheck-fragments.config"  # in the object tree: the fragments its .config was made from
LOG_NAME = "vsockcheck-build.log"
LOCK_NAME = "vsockcheck-build.lock"
OUT_MARK = ".vsockcheck-kernel"             # in an output directory: build-kernel wrote it
ERROR_LINES = 5
STOP_GRACE_S = 10.0


class BuildError(UserError):
    """A build that failed: the message quotes the first error lines; .log is the whole log."""

    def __init__(self, message: str, log: Path):
        super().__init__(message)
        self.log = log


@dataclass(frozen=True)
class BuiltKernel:
    spec: Path       # the directory to pass as --kernel
    release: str     # uname -r
    seconds: float   # wall time of this call
    log: Path        # the log of configure and make


def object_key(fragment_texts: Sequence[str]) -> str:
    """A short hash of the recipe and the fragments' contents, in order (a later fragment wins)."""
    h = hashlib.sha256(RECIPE.encode())
    for text in fragment_texts:
        data = text.encode()
        h.update(len(data).to_bytes(8, "little") + data)
    return h.hexdigest()[:12]


def compiler() -> str:
    """CC for make: through ccache when it is on PATH."""
    return "ccache gcc" if shutil.which("ccache") else "gcc"


def make_argv(obj_name: str, targets: Sequence[str], cc: str, jobs: int | None = None,
              extra: Sequence[str] = ()) -> list[str]:
    """make, run in the source tree, for an object tree that is its child obj_name."""
    argv = ["make", f"ARCH={ARCH}", f"O={obj_name}", f"CC={cc}"]
    if jobs:
        argv.append(f"-j{jobs}")
    return argv + list(extra) + list(targets)


def merge_argv(obj_name: str, fragment_paths: Sequence[Path]) -> list[str]:
    return ["sh", "scripts/kconfig/merge_config.sh", "-m", "-O", obj_name, f"{obj_name}/.config",
            *map(str, fragment_paths)]


def first_errors(log_text: str) -> list[str]:
    """What to quote of a failed step: its first 'error:' lines, else make's '***' lines, else the tail."""
    lines = [line.rstrip() for line in log_text.splitlines() if line.strip()]
    for wanted in (lambda line: "error:" in line, lambda line: "***" in line):
        found = [line for line in lines if wanted(line)]
        if found:
            return found[:ERROR_LINES]
    return lines[-ERROR_LINES:]


def build_kernel(src: Path, fragments: Sequence[str], out: Path | None = None, *,
                 jobs: int | None = None, quiet: bool = False) -> BuiltKernel:
    started = time.monotonic()
    src = kernel_source.check_tree(Path(src))
    if not fragments:
        raise UserError("build-kernel: no config fragment given")
    paths = [fragment_path(f) for f in fragments]
    lines = [line for path in paths for line in fragments_mod.parse(path)]
    texts = [path.read_text() for path in paths]
    key = object_key(texts)
    obj = src / f"{OBJ_PREFIX}{key}"
    out = Path(out).expanduser().resolve() if out is not None else src / f"{OUT_PREFIX}{key}"
    _check_out(out)
    say = (lambda message: None) if quiet else (lambda message: print(f"build-kernel: {message}", flush=True))
    obj.mkdir(exist_ok=True)
    log = obj / LOG_NAME
    with cache_entry.locked(obj / LOCK_NAME, lambda: say(f"waiting for another build in {obj}")):
        log.write_text("")
        steps = _Steps(src, obj, log, compiler(), jobs or os.cpu_count() or 1)
        names = " + ".join(fragments_mod.display(p) if "/" in f or f.endswith(".config") else f
                           for f, p in zip(fragments, paths))
        t = time.monotonic()
        merged = "".join(f"# --- {fragments_mod.display(p)}\n{text}" for p, text in zip(paths, texts))
        changed = steps.configure(paths, merged)
        say(f"configure {names} in {obj}: " + (f"{time.monotonic() - t:.1f} s" if changed else "unchanged"))
        config = fragments_mod.read_config(obj / ".config")
        bad = fragments_mod.unstuck(lines, config)
        if bad:
            raise BuildError("; ".join(fragments_mod.describe(line, config, src) for line in bad)
                             + f" (config in {obj / '.config'})", log)
        with_modules = config.get("CONFIG_MODULES") == "y"
        targets = ["bzImage", "modules"] if with_modules else ["bzImage"]
        t = time.monotonic()
        steps.make(targets)
        say(f"make {' '.join(targets)}: {time.monotonic() - t:.1f} s (log {log})")
        t = time.monotonic()
        release = (obj / "include/config/kernel.release").read_text().strip()
        _install(steps, out, release, with_modules)
        say(f"install {release} into {out}: {time.monotonic() - t:.1f} s")
    found = kernelspec.parse(str(out))
    if found.vmlinuz != out / "boot" / f"vmlinuz-{release}":
        raise BuildError(f"{out} is not read back as the kernel just built (found {found.vmlinuz})", log)
    return BuiltKernel(out, release, time.monotonic() - started, log)


class _Steps:
    """The commands of one build, each logged and stoppable."""

    def __init__(self, src: Path, obj: Path, log: Path, cc: str, jobs: int):
        self.src, self.obj, self.log, self.cc, self.jobs = src, obj, log, cc, jobs

    def configure(self, paths: Sequence[Path], merged: str) -> bool:
        """Make .config from the fragments unless it was made from these already; False if untouched."""
        config, record = self.obj / ".config", self.obj / INPUT_NAME
        if config.is_file() and record.is_file() and record.read_text() == merged:
            return False
        before = (config.read_bytes(), config.stat()) if config.is_file() else None
        record.unlink(missing_ok=True)
        self.run(make_argv(self.obj.name, [BASE_CONFIG], self.cc), f"make {BASE_CONFIG}")
        self.run(merge_argv(self.obj.name, paths), "merge_config.sh")
        self.run(make_argv(self.obj.name, ["olddefconfig"], self.cc), "make olddefconfig")
        if before is not None and config.read_bytes() == before[0]:
            # The same .config as before: keep its time too, or make would think every option changed.
            os.utime(config, ns=(before[1].st_atime_ns, before[1].st_mtime_ns))
        record.write_text(merged)
        return True

    def make(self, targets: Sequence[str], extra: Sequence[str] = ()) -> None:
        self.run(make_argv(self.obj.name, targets, self.cc, self.jobs, extra), "make " + " ".join(targets))

    def run(self, argv: list[str], what: str) -> None:
        """Run argv in the source tree, output appended to the log; on interrupt, stop its process group."""
        start = self.log.stat().st_size
        with open(self.log, "a") as f:
            f.write(f"$ {shlex.join(argv)}\n")
            f.flush()
            try:
                proc = subprocess.Popen(argv, cwd=self.src, stdin=subprocess.DEVNULL, stdout=f,
                                        stderr=subprocess.STDOUT, start_new_session=True,
                                        env=dict(os.environ, LC_ALL="C"))
            except OSError as e:
                raise BuildError(f"cannot run {argv[0]} ({what}): {e.strerror}", self.log) from None
            try:
                status = proc.wait()
            except BaseException:
                _stop(proc)
                raise
        if status != 0:
            with open(self.log, errors="replace") as f:
                f.seek(start)
                quoted = first_errors(f.read())
            raise BuildError(f"{what} failed (status {status}) in {self.src}: " + " | ".join(quoted)
                             + f" (full log: {self.log})", self.log)


def _stop(proc: subprocess.Popen) -> None:
    """make and every compiler it started: they share the process group Popen made for make."""
    for sig, wait_s in ((signal.SIGTERM, STOP_GRACE_S), (signal.SIGKILL, None)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(wait_s)
            return
        except subprocess.TimeoutExpired:
            continue


def _check_out(out: Path) -> None:
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / OUT_MARK).is_file())):
        raise UserError(f"--out {out}: exists and was not written by build-kernel; give a new or empty directory")


def _install(steps: _Steps, out: Path, release: str, with_modules: bool) -> None:
    """out/boot/vmlinuz-R, out/boot/config-R, out/lib/modules/R (with modules), out/build -> object tree."""
    boot = out / "boot"
    boot.mkdir(parents=True, exist_ok=True)
    (out / OUT_MARK).touch()
    # Another release left by an earlier build would make two kernels in one SPEC.
    for old in [*boot.glob("vmlinuz-*"), *boot.glob("config-*")]:
        if old.name not in (f"vmlinuz-{release}", f"config-{release}"):
            old.unlink()
    for old in (out / "lib/modules").glob("*"):
        if old.name != release or not with_modules:
            shutil.rmtree(old)
    _copy_if_changed(steps.obj / "arch/x86/boot/bzImage", boot / f"vmlinuz-{release}")
    _copy_if_changed(steps.obj / ".config", boot / f"config-{release}")
    if with_modules:
        shutil.rmtree(out / "lib/modules" / release, ignore_errors=True)
        steps.make(["modules_install"], [f"INSTALL_MOD_PATH={out}"])
        moddir = out / "lib/modules" / release
        if not (moddir / "modules.dep").is_file():
            modules.write_modules_dep(moddir)  # no depmod on this machine: Kbuild only warned
    link = out / "build"
    # Relative beside the object tree (the default out), so a copied source tree keeps working.
    target = os.path.relpath(steps.obj, out) if out.parent == steps.src else str(steps.obj)
    if not (link.is_symlink() and os.readlink(link) == target):
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(target)


def _copy_if_changed(source: Path, dest: Path) -> None:
    if not (dest.is_file() and filecmp.cmp(source, dest, shallow=False)):
        shutil.copyfile(source, dest)
