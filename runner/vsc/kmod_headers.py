"""A Debian kernel's linux-headers tree, ready for out-of-tree builds on this machine: fetched once, paths and host tools fixed."""

import os
import re
import shutil
import struct
from pathlib import Path

from vsc import apt_private, cache_entry
from vsc.errors import UserError
from vsc.paths import cache_root

READY = "ready"  # written last into a finished entry
# The flavour's Depends also names its compiler (gcc-14, linux-compiler-gcc-12-x86), linux-base and
# such: of them only the -common headers and the kbuild tools are needed to build a module.
HEADER_PREFIXES = ("linux-headers-", "linux-kbuild-")
# Runs the host tools of kbuild packages built against a newer glibc than this machine's (trixie's
# and sid's objtool, modpost, resolve_btfids need 2.38; bookworm has 2.36). A newer glibc runs
# older programs, so sid's serves every suite: one mechanism for all.
RUNTIME_SUITE = "sid"
RUNTIME_PACKAGES = ("libc6", "libelf1t64")
LOADER = "ld-linux-x86-64.so.2"
SYSTEM_LIBDIR = "/lib/x86_64-linux-gnu"
SHT_GNU_VERNEED = 0x6ffffffe


def headers_root() -> Path:
    return cache_root() / "headers"


def debian_headers(suite: str, release: str, version: str) -> Path:
    """The usr/src/linux-headers-<release> directory for make -C, from the cache or fetched now."""
    entry = headers_root() / release
    with cache_entry.locked(entry.with_name(entry.name + ".lock")):
        if not (entry / READY).is_file():
            _prepare(suite, release, version, entry)
    return entry / "root/usr/src" / f"linux-headers-{release}"


def header_packages(flavour_record: str, release: str) -> list[tuple[str, str | None]]:
    """The flavour headers and, from its Depends, the -common headers and the kbuild tools: (name, pinned
    version or None). Only these three: following every Depends would pull in a compiler and linux-base."""
    fields = apt_private.parse_record(flavour_record)
    name = f"linux-headers-{release}"
    if fields.get("Package") != name or "Version" not in fields:
        raise UserError(f"apt-cache gave no usable record for package {name}")
    chosen: list[tuple[str, str | None]] = [(name, fields["Version"])]
    for alternatives in apt_private.parse_depends(fields.get("Depends", "")):
        pick = next((alt for alt in alternatives if alt[0].startswith(HEADER_PREFIXES)), None)
        if pick and pick[0] not in (n for n, _ in chosen):
            chosen.append(pick)
    kinds = {"common": any(n.endswith("-common") for n, _ in chosen),
             "kbuild": any(n.startswith("linux-kbuild-") for n, _ in chosen)}
    missing = [k for k, found in kinds.items() if not found]
    if missing:
        raise UserError(f"package {name} depends on no {' and no '.join(missing)} package: "
                        "cannot assemble a headers tree from it")
    return chosen


def rewrite_makefile(text: str, root: Path) -> str:
    """The flavour Makefile includes the -common tree by absolute path (/usr/src/...), and sid's sets
    KBUILD_OUTPUT the same way: point both into the unpacked root. Idempotent."""
    return re.sub(r"(?<=[ =])/usr/src/", f"{root}/usr/src/", text)


def glibc_needed(data: bytes) -> tuple[int, ...] | None:
    """The newest GLIBC_x.y version an ELF64 little-endian file needs (its .gnu.version_r), or None."""
    if data[:4] != b"\x7fELF" or data[4:6] != b"\x02\x01":
        return None
    try:
        (shoff,) = struct.unpack_from("<Q", data, 0x28)
        shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
        sections = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]
        newest = None
        for _, kind, _, _, offset, _, link, count, _, _ in sections:
            if kind != SHT_GNU_VERNEED:
                continue
            strings = sections[link][4]
            for _ in range(count):
                _, aux_count, _, aux, following = struct.unpack_from("<HHIII", data, offset)
                at = offset + aux
                for _ in range(aux_count):
                    _, _, _, name_at, aux_next = struct.unpack_from("<IHHII", data, at)
                    name = data[strings + name_at: data.index(b"\0", strings + name_at)].decode("ascii", "replace")
                    m = re.fullmatch(r"GLIBC_(\d+(?:\.\d+)*)", name)
                    if m:
                        version = tuple(int(p) for p in m.group(1).split("."))
                        newest = max(newest or version, version)
                    at += aux_next
                offset += following
        return newest
    except (struct.error, ValueError, IndexError):
        return None


def host_glibc() -> tuple[int, ...]:
    """This machine's glibc version, e.g. (2, 36)."""
    text = os.confstr("CS_GNU_LIBC_VERSION") or ""
    m = re.fullmatch(r"glibc (\d+(?:\.\d+)*)", text)
    if not m:
        raise UserError(f"cannot tell this machine's glibc version (confstr says {text!r})")
    return tuple(int(p) for p in m.group(1).split("."))


def tools_needing_newer_glibc(tree: Path, host: tuple[int, ...]) -> list[tuple[Path, tuple[int, ...]]]:
    """Executables under tree that need a newer glibc than `host`, with the version each needs."""
    found = []
    for path in sorted(tree.rglob("*")):
        if path.is_symlink() or not path.is_file() or not os.access(path, os.X_OK):
            continue
        with open(path, "rb") as f:
            if f.read(4) != b"\x7fELF":
                continue
        needed = glibc_needed(path.read_bytes())
        if needed and needed > host:
            found.append((path, needed))
    return found


def wrapper_script(real: Path, libdir: Path, needed: tuple[int, ...]) -> str:
    """Runs the program `real` with the glibc in libdir instead of the system's. Absolute paths, not
    "$0.bin": Kbuild may call a tool through a symlink of another name."""
    version = ".".join(map(str, needed))
    return ("#!/bin/sh\n"
            f"# vsockcheck: this program needs glibc {version}, newer than this machine's: run it with\n"
            f"# the one in {libdir}.\n"
            f'exec "{libdir}/{LOADER}" --library-path "{libdir}:{SYSTEM_LIBDIR}" "{real}" "$@"\n')


def wrap_tools(tools: list[tuple[Path, tuple[int, ...]]], libdir: Path, final: Path, work: Path) -> None:
    """Each tool X becomes X.bin, and X a wrapper_script that runs it with libdir's glibc. The tools
    are under `work` now and will be under `final` once the entry is renamed into place."""
    for path, needed in tools:
        real = path.with_name(path.name + ".bin")
        os.replace(path, real)
        path.write_text(wrapper_script(final / real.relative_to(work), libdir, needed))
        path.chmod(0o755)


def _prepare(suite: str, release: str, version: str, entry: Path) -> None:
    """Download the three packages, unpack, rewrite the Makefiles, wrap the host tools; mark ready."""
    apt_private.update(suite)
    name = f"linux-headers-{release}"
    try:
        record = apt_private.show(suite, name, version)
    except UserError as e:
        raise UserError(f"debian:{suite} {release}: its headers ({name} {version}) are not in the archive "
                        f"({e}); a newer kernel may have replaced it: 'vsockcheck kernels fetch debian:{suite}'") from None
    packages = []
    for package, pinned in header_packages(record, release):
        # Unpinned (kbuild for 5.10 and 6.1 is ">="): the version built with this kernel, else the candidate.
        packages.append((package, pinned or _available(suite, package, version)))
    shutil.rmtree(entry, ignore_errors=True)  # a half-prepared entry of an interrupted run
    cache_entry.remove_abandoned(entry.parent)
    with cache_entry.filling(entry, READY) as work:
        root = work / "root"
        _unpack(suite, packages, work, root)
        headers = root / "usr/src" / name
        for makefile in headers.glob("Makefile"):
            makefile.write_text(rewrite_makefile(makefile.read_text(), entry / "root"))
        tools = tools_needing_newer_glibc(root / "usr/lib", host_glibc())
        if tools:
            wrap_tools(tools, _runtime_libdir(), entry, work)
        (work / READY).write_text("".join(f"{n} {v}\n" for n, v in packages))


def _available(suite: str, package: str, wanted: str) -> str:
    try:
        return apt_private.parse_record(apt_private.show(suite, package, wanted))["Version"]
    except (UserError, KeyError):
        return apt_private.parse_record(apt_private.show(suite, package))["Version"]


def _unpack(suite: str, packages: list[tuple[str, str]], work: Path, root: Path) -> None:
    debs = work / "debs"
    debs.mkdir()
    for deb in apt_private.download(suite, packages, debs):
        apt_private.extract(suite, deb, root)
    shutil.rmtree(debs)


def _runtime_libdir() -> Path:
    """usr/lib/x86_64-linux-gnu of sid's libc6 and libelf, unpacked once under the headers cache."""
    entry = headers_root() / ".runtime-sid"
    with cache_entry.locked(entry.with_name(entry.name + ".lock")):
        if not (entry / READY).is_file():
            apt_private.update(RUNTIME_SUITE)
            packages = [(p, apt_private.parse_record(apt_private.show(RUNTIME_SUITE, p))["Version"])
                        for p in RUNTIME_PACKAGES]
            shutil.rmtree(entry, ignore_errors=True)
            with cache_entry.filling(entry, READY) as work:
                _unpack(RUNTIME_SUITE, packages, work, work / "root")
                (work / READY).write_text("".join(f"{n} {v}\n" for n, v in packages))
    loaders = [p for p in sorted((entry / "root").rglob(LOADER)) if (p.parent / "libc.so.6").exists()]
    if not loaders:
        raise UserError(f"{entry}: debian:{RUNTIME_SUITE}'s libc6 holds no {LOADER}")
    return loaders[0].parent
