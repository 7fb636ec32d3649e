"""Turn a kernel SPEC into a Kernel: a local path as it is, a Debian suite from the cache or freshly downloaded."""

import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from vsc import apt_private, cache_entry, kernelspec, modules
from vsc.errors import UserError
from vsc.paths import cache_root

META_PACKAGE = "linux-image-cloud-amd64"
MANIFEST = "manifest.json"
KNOWN = {
    "bullseye": "Debian 11 cloud kernel, Linux 5.10 (modules .ko under /lib/modules)",
    "bookworm": "Debian 12 cloud kernel, Linux 6.1 (modules .ko under /lib/modules)",
    "trixie": "Debian 13 cloud kernel, Linux 6.12 (modules .ko.xz under /usr/lib/modules)",
    "sid": "Debian unstable cloud kernel, newest Linux (split into linux-binary/linux-modules packages)",
}


@dataclass(frozen=True)
class Kernel:
    name: str            # e.g. "debian:bookworm 6.1.0-56-cloud-amd64" or the local path
    release: str         # uname -r of that kernel, e.g. "6.1.0-56-cloud-amd64"
    version: str         # package/real version when known, e.g. "6.1.192-2", else release
    vmlinuz: Path
    modules_dir: Path | None   # the lib/modules/<release> directory (modules.dep inside), None if no modules
    config: Path | None = None           # the kernel's .config, when known
    modules_builtin: Path | None = None  # its modules.builtin, when known


@dataclass(frozen=True)
class CachedKernel:
    spec: str
    release: str
    version: str
    path: Path
    size: int            # bytes on disk


def resolve(spec: str, fetch: bool) -> Kernel:
    """The kernel a SPEC names. A Debian kernel comes from the cache; if absent it is downloaded only when fetch."""
    parsed = kernelspec.parse(spec)
    if isinstance(parsed, kernelspec.LocalKernel):
        return Kernel(str(parsed.path), parsed.release, parsed.release, parsed.vmlinuz,
                      parsed.modules_dir, parsed.config, parsed.modules_builtin)
    cached = _newest_cached(parsed.suite)
    if cached is not None:
        return cached
    if not fetch:
        raise UserError(f"debian:{parsed.suite} is not in the cache ({kernels_root()}): "
                        f"run 'vsockcheck kernels fetch debian:{parsed.suite}'")
    return _download(parsed.suite, refresh=False)


def fetch(spec: str) -> Kernel:
    """Refresh the suite's package lists now and download its newest kernel unless that one is cached already."""
    parsed = kernelspec.parse(spec)
    if not isinstance(parsed, kernelspec.DebianSpec):
        raise UserError(f"only debian:<suite> kernels can be fetched, not the local path {spec}")
    return _download(parsed.suite, refresh=True)


def list_known() -> list[tuple[str, str]]:
    """(spec, description) of every Debian kernel vsockcheck knows how to fetch."""
    return [(f"debian:{suite}", description) for suite, description in KNOWN.items()]


def list_cached() -> list[CachedKernel]:
    """Every complete kernel in the cache, by suite and then by fetch time."""
    found = []
    for manifest in sorted(_manifests(kernels_root().glob(f"*/*/{MANIFEST}"))):
        try:
            kernel, record = read_manifest(manifest.parent)
        except UserError:
            continue  # a damaged entry is not a kernel; resolve will not use it either
        size = sum(p.lstat().st_size for p in manifest.parent.rglob("*") if p.is_file() and not p.is_symlink())
        found.append((record["suite"], record["fetched_at"],
                      CachedKernel(record["spec"], kernel.release, kernel.version, manifest.parent, size)))
    return [entry for _, _, entry in sorted(found, key=lambda e: (e[0], e[1]))]


def kernels_root() -> Path:
    return cache_root() / "kernels"


def write_manifest(directory: Path, kernel: Kernel, suite: str, packages: list[tuple[str, str]]) -> None:
    """Record a cached kernel; paths are relative so the cache can move. Written last: its presence means complete."""
    def rel(p: Path | None) -> str | None:
        return None if p is None else str(p.relative_to(directory))
    record = {
        "format": 1, "spec": f"debian:{suite}", "suite": suite, "release": kernel.release,
        "version": kernel.version, "vmlinuz": rel(kernel.vmlinuz), "modules_dir": rel(kernel.modules_dir),
        "config": rel(kernel.config), "modules_builtin": rel(kernel.modules_builtin),
        "packages": [list(p) for p in packages], "fetched_at": time.time(),
    }
    tmp = directory / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(record, indent=1) + "\n")
    os.replace(tmp, directory / MANIFEST)


def read_manifest(directory: Path) -> tuple[Kernel, dict]:
    """The Kernel a cache directory holds, and its manifest record."""
    try:
        record = json.loads((directory / MANIFEST).read_text())
        def path(key: str) -> Path | None:
            return None if record[key] is None else directory / record[key]
        kernel = Kernel(f"{record['spec']} {record['release']}", record["release"], record["version"],
                        path("vmlinuz"), path("modules_dir"), path("config"), path("modules_builtin"))
        record["fetched_at"] = float(record["fetched_at"])
        record["suite"] = str(record["suite"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise UserError(f"damaged kernel cache entry {directory}: {e}; delete it and fetch again") from None
    if not kernel.vmlinuz.is_file():
        raise UserError(f"damaged kernel cache entry {directory}: {kernel.vmlinuz} is missing; delete it and fetch again")
    return kernel, record


def _newest_cached(suite: str) -> Kernel | None:
    newest = None
    for manifest in _manifests((kernels_root() / suite).glob(f"*/{MANIFEST}")):
        kernel, record = read_manifest(manifest.parent)
        if newest is None or record["fetched_at"] > newest[0]:
            newest = (record["fetched_at"], kernel)
    return newest[1] if newest else None


def _manifests(found):
    """Manifests of finished entries: a .partial-* directory gets its manifest just before being renamed."""
    return (m for m in found if not m.parent.name.startswith("."))


def _download(suite: str, refresh: bool) -> Kernel:
    """Download the newest cloud kernel of a suite into kernels/<suite>/<version>, renamed into place when complete."""
    apt_private.update(suite, force=refresh)
    packages = apt_private.select_packages(lambda name, version: apt_private.show(suite, name, version), META_PACKAGE)
    version = packages[0][1]
    final = kernels_root() / suite / version
    if (final / MANIFEST).is_file():
        return read_manifest(final)[0]
    final.parent.mkdir(parents=True, exist_ok=True)
    cache_entry.remove_abandoned(final.parent)
    with cache_entry.filling(final, MANIFEST) as work:
        kernel = _unpack(suite, version, packages, work)
        write_manifest(work, kernel, suite, packages)
    return read_manifest(final)[0]


def _unpack(suite: str, version: str, packages: list[tuple[str, str]], work: Path) -> Kernel:
    debs_dir, root = work / "debs", work / "root"
    debs_dir.mkdir()
    # packages[0] is the meta package: it holds no files, and bullseye-security's mirror answers 404 for it.
    for deb in apt_private.download(suite, packages[1:], debs_dir):
        apt_private.extract(suite, deb, root)
    shutil.rmtree(debs_dir)
    found = kernelspec.find_in_tree(root)
    if found is None:
        raise UserError(f"debian:{suite}: packages {', '.join(n for n, _ in packages)} hold no vmlinuz")
    if found.modules_dir is not None and not (found.modules_dir / "modules.dep").is_file():
        modules.write_modules_dep(found.modules_dir)
    return Kernel(f"debian:{suite} {found.release}", found.release, version, found.vmlinuz,
                  found.modules_dir, found.config, found.modules_builtin)
