"""Parse a kernel SPEC (debian:<suite> or a local path) and find the kernel image, modules and config in a local tree."""

import struct
from dataclasses import dataclass
from pathlib import Path

from vsc.errors import UserError

DEBIAN_SUITES = ("bullseye", "bookworm", "trixie", "sid")

VALID_FORMS = (
    "debian:bullseye, debian:bookworm, debian:trixie, debian:sid; "
    "or a path: a vmlinuz/bzImage file, a directory with boot/vmlinuz-<release> and "
    "[usr/]lib/modules/<release> (an extracted Debian kernel package), "
    "or a kernel build tree with arch/x86/boot/bzImage"
)


@dataclass(frozen=True)
class DebianSpec:
    """A Debian suite whose newest cloud kernel is wanted."""
    suite: str


@dataclass(frozen=True)
class LocalKernel:
    """What a local path holds: the image and, when found, the modules tree, .config and modules.builtin."""
    path: Path
    release: str
    vmlinuz: Path
    modules_dir: Path | None
    config: Path | None
    modules_builtin: Path | None


def parse(spec: str) -> DebianSpec | LocalKernel:
    """Turn a SPEC string into a DebianSpec or a LocalKernel; anything else is a UserError listing the valid forms."""
    spec = spec.strip()
    if not spec:
        raise UserError(f"empty kernel spec: use {VALID_FORMS}")
    if spec.startswith("debian:"):
        suite = spec[len("debian:"):]
        if suite not in DEBIAN_SUITES:
            raise UserError(f"unknown Debian suite {suite!r} in kernel spec {spec!r}: use one of "
                            + ", ".join("debian:" + s for s in DEBIAN_SUITES))
        return DebianSpec(suite)
    path = Path(spec).expanduser()
    if not path.exists():
        raise UserError(f"kernel spec {spec!r} is neither a known form nor an existing path: use {VALID_FORMS}")
    path = path.resolve()
    if path.is_file():
        return from_image(path)
    found = from_build_tree(path) or find_in_tree(path)
    if found is None:
        raise UserError(f"no kernel found in directory {spec}: expected {VALID_FORMS}")
    return found


def image_release(vmlinuz: Path) -> str | None:
    """The release (uname -r) written in a bzImage's setup header, or None if the file is not a bzImage."""
    with open(vmlinuz, "rb") as f:
        head = f.read(0x10000)
    # x86 boot protocol: "HdrS" at 0x202; at 0x20E the offset (minus 0x200) of the version string.
    if len(head) < 0x210 or head[0x202:0x206] != b"HdrS":
        return None
    (offset,) = struct.unpack_from("<H", head, 0x20E)
    start = offset + 0x200
    end = head.find(b"\0", start)
    if offset == 0 or end < 0:
        return None
    words = head[start:end].decode("ascii", "replace").split()
    return words[0] if words else None


def find_in_tree(root: Path) -> LocalKernel | None:
    """A kernel laid out as in an extracted Debian package: boot/vmlinuz-R or [usr/]lib/modules/R/vmlinuz."""
    images = {p.name[len("vmlinuz-"):]: p for p in sorted(root.glob("boot/vmlinuz-*"))}
    for moddir in ("lib/modules", "usr/lib/modules"):
        # sid's linux-binary-* puts the image inside the modules directory.
        images.update({p.parent.name: p for p in sorted(root.glob(f"{moddir}/*/vmlinuz"))})
    if not images:
        return None
    if len(images) > 1:
        raise UserError(f"{root} holds several kernels ({', '.join(sorted(images))}): give the vmlinuz file instead")
    release, vmlinuz = next(iter(images.items()))
    modules_dir = _first_dir(root / "lib/modules" / release, root / "usr/lib/modules" / release)
    config = _first_file(root / "boot" / f"config-{release}", modules_dir and modules_dir / "config")
    return LocalKernel(root, release, vmlinuz, modules_dir, config, _builtin_list(modules_dir))


def from_image(vmlinuz: Path) -> LocalKernel:
    """A vmlinuz/bzImage file, with the modules tree found next to it (its own dir, or a sibling lib/modules/R)."""
    release = image_release(vmlinuz)
    if release is None and vmlinuz.name.startswith("vmlinuz-"):
        release = vmlinuz.name[len("vmlinuz-"):]
    if release is None:
        raise UserError(f"{vmlinuz} is not a bzImage kernel (no 'HdrS' setup header) and its name is not vmlinuz-<release>")
    here = vmlinuz.parent
    modules_dir = _first_dir(
        here if here.name == release and _looks_like_modules(here) else None,
        here / "lib/modules" / release, here / "usr/lib/modules" / release, here / "modules" / release,
        here.parent / "lib/modules" / release, here.parent / "usr/lib/modules" / release,
    )
    config = _first_file(here / f"config-{release}", modules_dir and modules_dir / "config")
    return LocalKernel(vmlinuz, release, vmlinuz, modules_dir, config, _builtin_list(modules_dir))


def from_build_tree(root: Path) -> LocalKernel | None:
    """A built kernel source tree: arch/x86/boot/bzImage with .config and modules.builtin at the top."""
    image = root / "arch/x86/boot/bzImage"
    if not image.is_file():
        return None
    release_file = root / "include/config/kernel.release"
    release = image_release(image) or (release_file.read_text().strip() if release_file.is_file() else None)
    if not release:
        raise UserError(f"{image} has no readable release string: rebuild it with 'make bzImage'")
    # Modules from 'make modules_install' land wherever INSTALL_MOD_PATH pointed; we don't guess, so a
    # build tree stands for a kernel with what it needs built in (checked against .config by modules.plan).
    return LocalKernel(root, release, image, None, _first_file(root / ".config"), _first_file(root / "modules.builtin"))


def _looks_like_modules(d: Path) -> bool:
    return any((d / name).exists() for name in ("modules.dep", "modules.builtin", "modules.order", "kernel"))


def _first_dir(*candidates: Path | None) -> Path | None:
    return next((c for c in candidates if c is not None and c.is_dir()), None)


def _first_file(*candidates: Path | None) -> Path | None:
    return next((c for c in candidates if c and c.is_file()), None)


def _builtin_list(modules_dir: Path | None) -> Path | None:
    return _first_file(modules_dir / "modules.builtin") if modules_dir else None
