"""make dist's bundle booted in the project's own guest, the way an image that is not ours runs it.

The initramfs keeps the usual base (busybox, guest_init.sh, guest_lib.sh) but nothing of the suite:
guest_init.sh loads only the harness's modules (the KTAP port) and runs, as MODE script, the
bundle's vsockcheck-guest.sh from /opt/vsockcheck. The vsock modules sit where a distribution puts
them, /lib/modules/<release>/ with modules.dep and modules.builtin, for the bundle's runner to
modprobe; the test program and tools come only from the unpacked tarball."""

from __future__ import annotations

import shlex
import tarfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from vsc import catalogue, cpio, fixtures_guest, guest_script, guest_session, initramfs, modules, topology
from vsc.catalogue import Case
from vsc.errors import UserError
from vsc.ktap import Parser
from vsc.ktap_report import Report
from vsc.paths import cache_root

GUEST_DIR = "opt"                    # the tarball is unpacked here, relative to /
LINK = "opt/vsockcheck"              # -> its top directory, vsockcheck-<version>
# guest_init.sh needs these for the KTAP port before it runs the script; the rest is the bundle's.
HARNESS_MODULES = ("virtio_pci", "virtio_console")
RUNNER = f"/{LINK}/vsockcheck-guest.sh"
# Two ways an image holds its modules: a distribution's tree with modules.dep (the runner's
# modprobe finds them), or the kernel's files as shipped (maybe compressed) in a directory of
# their own, without modules.dep (the runner's --module-dir: insmod, dependencies from .modinfo).
MODPROBE, MODULE_DIR = "modprobe", "module-dir"
LOOSE_MODULES = "opt/kernel-modules"
BOOT_S = 60.0


@dataclass
class BundleRun:
    lines: list[str]       # everything on the KTAP port, guest_init's exit line last
    exit_status: int       # vsockcheck-guest.sh's
    report: Report         # the KTAP document, parsed
    cases: list[Case]      # what the bundle's test program lists (--list opens no socket)


def bundle_entries(tarball: Path) -> tuple[list[cpio.Entry], str]:
    """The tarball's members as initramfs members below GUEST_DIR, and its top directory."""
    entries, tops = [], set()
    try:
        with tarfile.open(tarball, "r:gz") as tar:
            for member in tar.getmembers():
                path = PurePosixPath(member.name)
                if path.is_absolute() or ".." in path.parts:
                    raise UserError(f"bundle {tarball}: member {member.name!r} would land outside its directory")
                tops.add(path.parts[0])
                where = f"{GUEST_DIR}/{path}"
                if member.isdir():
                    entries.append(cpio.directory(where))
                elif member.isfile():
                    entries.append(cpio.file(where, tar.extractfile(member).read(), member.mode & 0o777))
                else:
                    raise UserError(f"bundle {tarball}: member {member.name!r} is neither a file nor a directory")
    except (OSError, tarfile.TarError) as e:
        raise UserError(f"bundle {tarball}: cannot read it ({e})") from None
    if len(tops) != 1:
        raise UserError(f"bundle {tarball}: expected one top directory, found {sorted(tops) or 'none'}")
    top = tops.pop()
    return entries + [cpio.symlink(LINK, top)], top


def bundle_modules() -> list[str]:
    """What the image holds of the kernel's modules: the project guests' list, and vhost_vsock
    for the runner's --fixtures."""
    return list(dict.fromkeys([*topology.MODULES, *fixtures_guest.MODULES]))


def module_tree_entries(kernel, workdir: Path) -> list[cpio.Entry]:
    """The vsock modules (and what they need) at lib/modules/<release>/ in the kernel's own layout,
    decompressed (busybox modprobe reads plain .ko), with modules.dep and modules.builtin."""
    if kernel.modules_dir is None:
        return []
    plan = modules.plan(kernel, bundle_modules())
    tree = workdir / "lib-modules" / kernel.release
    for source in plan.load:
        relative = source.relative_to(kernel.modules_dir)
        target = tree / relative.parent / (relative.name[: relative.name.index(".ko")] + ".ko")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(modules.read_module(source))
    tree.mkdir(parents=True, exist_ok=True)
    modules.write_modules_dep(tree)
    (tree / "modules.builtin").write_text("".join(n + "\n" for n in sorted(modules.builtin_names(kernel))))
    return [cpio.file(f"lib/modules/{kernel.release}/{p.relative_to(tree).as_posix()}", p.read_bytes(), 0o644)
            for p in sorted(tree.rglob("*")) if p.is_file()]


def loose_module_entries(kernel) -> list[cpio.Entry]:
    """The vsock modules (and what they need) as the kernel ships them, below LOOSE_MODULES."""
    if kernel.modules_dir is None:
        return []
    plan = modules.plan(kernel, bundle_modules())
    return [cpio.file(f"{LOOSE_MODULES}/{path.relative_to(kernel.modules_dir).as_posix()}", path.read_bytes(), 0o644)
            for path in plan.load]


def script(layout: str, runner_args: tuple[str, ...] = ()) -> str:
    """What guest_init.sh runs: the bundle's runner; its stderr (module notes) goes to the
    console, so the KTAP port carries the KTAP document and guest_init's exit line only."""
    args = [RUNNER, *(["--module-dir", f"/{LOOSE_MODULES}"] if layout == MODULE_DIR else []), *runner_args]
    return shlex.join(args) + " 2>/dev/console"


def build_image(kernel, tarball: Path, workdir: Path, cache_dir: Path | None = None, layout: str = MODPROBE,
                runner_args: tuple[str, ...] = ()) -> Path:
    """The initramfs: the usual base without the suite, the kernel's modules laid out as `layout`
    says, the unpacked bundle."""
    harness = modules.materialize(modules.plan(kernel, list(HARNESS_MODULES)), workdir / "harness-modules")
    bundle, _ = bundle_entries(tarball)
    try:
        guest_lib = guest_session.GUEST_LIB_SOURCE.read_bytes()
    except OSError as e:
        raise UserError(f"{guest_session.GUEST_LIB_SOURCE}: cannot read it ({e.strerror})") from None
    if layout not in (MODPROBE, MODULE_DIR):
        raise ValueError(f"module layout {layout!r}")
    kernel_modules = module_tree_entries(kernel, workdir) if layout == MODPROBE else loose_module_entries(kernel)
    extra = [cpio.file(guest_session.GUEST_LIB.lstrip("/"), guest_lib, 0o644), *kernel_modules, *bundle]
    base = initramfs.build_base(guest_session.BUSYBOX, guest_session.INIT_SCRIPT, [], harness,
                                cache_dir or cache_root() / "initramfs", extra=extra)
    return initramfs.with_run_config(base, {"MODE": "script", "SCRIPT": script(layout, runner_args)}, workdir / "initrd.img")


def listed_cases(tarball: Path, workdir: Path) -> list[Case]:
    """The cases of the bundle's own test program (unpacked to workdir to run its --list)."""
    try:
        with tarfile.open(tarball, "r:gz") as tar:
            member = next((m for m in tar.getmembers() if m.name.endswith("/bin/" + topology.TEST_PROGRAM.name)), None)
            if member is None:
                raise UserError(f"bundle {tarball}: no bin/{topology.TEST_PROGRAM.name}")
            program = workdir / topology.TEST_PROGRAM.name
            program.write_bytes(tar.extractfile(member).read())
    except (OSError, tarfile.TarError) as e:
        raise UserError(f"bundle {tarball}: cannot read it ({e})") from None
    program.chmod(0o755)
    return catalogue.read(program)


def run(kernel, tarball: Path, workdir: Path, results_dir: Path, accel: str = "tcg",
        layout: str = MODPROBE, runner_args: tuple[str, ...] = ()) -> BundleRun:
    """Boots one guest of `kernel` with the bundle and returns what its runner printed, parsed.
    The guest may take each case's own timeout, and a boot, before it is given up."""
    workdir.mkdir(parents=True, exist_ok=True)
    cases = listed_cases(tarball, workdir)
    # Each bundle gives a base image of its own: keep them out of the shared initramfs cache.
    initrd = build_image(kernel, tarball, workdir, cache_dir=workdir / "initramfs", layout=layout,
                         runner_args=runner_args)
    spec = guest_session.GuestSpec(kernel=kernel, modules=(), test_program=topology.TEST_PROGRAM,
                                   test_args=[], cases=cases, accel=accel)
    done = guest_script.run(spec, script(layout, runner_args), workdir, results_dir, initrd=initrd,
                            timeout_s=BOOT_S + sum(c.timeout_s for c in cases))
    parser = Parser()
    for line in done.lines:
        parser.feed(line)
    return BundleRun(done.lines, done.exit_status, parser.finish(), cases)
