"""Kernel source trees for build-kernel: a local path, checked, or Debian's linux-source-X.Y of a suite,
downloaded through the private apt and unpacked once into the cache."""

import json
import shutil
import subprocess
from pathlib import Path

from vsc import apt_private, cache_entry, kernels
from vsc.errors import UserError

META_PACKAGE = "linux-source"   # Debian's meta package: Depends on linux-source-X.Y of the suite
MARKER = "source.json"          # written last in a finished cache entry: its presence means complete
# What makes a directory a kernel source tree we can build vsock from.
TREE_MARKS = ("Makefile", "Kconfig", "net/vmw_vsock")


def sources_root() -> Path:
    return kernels.kernels_root().parent / "sources"


def source_tree(spec: str) -> Path:
    """The source tree a SPEC names: `debian:<suite>` (downloaded and unpacked once) or a path (checked)."""
    if spec.startswith("debian:"):
        suite = spec[len("debian:"):]
        if suite not in apt_private.SUITES:
            raise UserError(f"unknown Debian suite {suite!r} in source {spec!r}: use one of "
                            + ", ".join("debian:" + s for s in apt_private.SUITES))
        return _cached(suite) or _download(suite)
    return check_tree(Path(spec).expanduser())


def check_tree(path: Path) -> Path:
    """path, resolved, if it holds a kernel source tree; UserError naming what is missing otherwise."""
    if not path.is_dir():
        raise UserError(f"kernel source {path}: no such directory (give a kernel source tree or debian:<suite>)")
    missing = [mark for mark in TREE_MARKS if not (path / mark).exists()]
    if missing:
        raise UserError(f"kernel source {path} is not a kernel source tree: no {', '.join(missing)}")
    return path.resolve()


def _cached(suite: str) -> Path | None:
    """The newest finished tree of the suite, without asking apt (so a cached source works offline)."""
    found = []
    for marker in (sources_root() / suite).glob(f"*/{MARKER}"):
        if marker.parent.name.startswith("."):
            continue
        try:
            record = json.loads(marker.read_text())
            tree = marker.parent / record["tree"]
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise UserError(f"damaged source cache entry {marker.parent}: {e}; delete it and try again") from None
        found.append((marker.stat().st_mtime, tree))
    return check_tree(max(found)[1]) if found else None


def package_for(suite: str) -> tuple[str, str]:
    """(linux-source-X.Y, version) that the suite's linux-source meta package points at."""
    meta = apt_private.parse_record(apt_private.show(suite, META_PACKAGE))
    names = [alt[0] for clause in apt_private.parse_depends(meta.get("Depends", ""))
             for alt in clause if alt[0].startswith(META_PACKAGE + "-")]
    if not names:
        raise UserError(f"debian:{suite}: package {META_PACKAGE} depends on no {META_PACKAGE}-X.Y")
    record = apt_private.parse_record(apt_private.show(suite, names[0]))
    if record.get("Package") != names[0] or "Version" not in record:
        raise UserError(f"debian:{suite}: apt-cache gave no usable record for package {names[0]}")
    return names[0], record["Version"]


def _download(suite: str) -> Path:
    apt_private.update(suite)
    name, version = package_for(suite)
    final = sources_root() / suite / version
    cache_entry.remove_abandoned(final.parent)
    with cache_entry.filling(final, MARKER) as work:
        print(f"vsockcheck: downloading {name} {version} (debian:{suite}) into {final}", flush=True)
        (deb,) = apt_private.download(suite, [(name, version)], work)
        apt_private.extract(suite, deb, work / "deb")
        tarballs = sorted((work / "deb/usr/src").glob(f"{name}.tar.*"))
        if not tarballs:
            raise UserError(f"debian:{suite}: {deb.name} holds no usr/src/{name}.tar.*")
        _run(["tar", "-xf", str(tarballs[0]), "-C", str(work)], f"unpack {tarballs[0].name}")
        shutil.rmtree(work / "deb")
        deb.unlink()
        check_tree(work / name)
        (work / MARKER).write_text(json.dumps({"package": name, "version": version, "tree": name}) + "\n")
    return check_tree(final / name)


def _run(argv: list[str], what: str) -> None:
    try:
        proc = subprocess.run(argv, capture_output=True, text=True)
    except OSError as e:
        raise UserError(f"cannot run {argv[0]} to {what}: {e.strerror}") from None
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["(no message)"])[-1]
        raise UserError(f"{argv[0]} could not {what}: {tail}")
