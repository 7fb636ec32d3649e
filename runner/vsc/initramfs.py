"""Builds the guest initramfs: a cached base image plus a small per-run tail carrying run.conf."""

import gzip
import hashlib
import zlib
import os
import re
import shlex
import shutil
import tempfile
from pathlib import Path

from vsc import cpio
from vsc.errors import UserError

# Bump when the layout or compression changes, so that old cache entries are not reused.
LAYOUT = b"vsockcheck-initramfs-1\n"
MODULE_DIR = "lib/modules/vsockcheck"
MODULE_LIST = "etc/vsockcheck/modules"
RUN_CONF = "etc/vsockcheck/run.conf"
EMPTY_DIRS = ("dev", "proc", "sys", "tmp", "run", "etc/vsockcheck")
_KEY = re.compile(r"[A-Z_]+")


def _read(path: Path, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as e:
        raise UserError(f"{what} {path}: cannot read it ({e.strerror}); build or install it first") from None


def _unique_names(paths: list[Path], what: str) -> None:
    seen: set[str] = set()
    for path in paths:
        if path.name in seen:
            raise UserError(f"{what} {path}: another file has the same name {path.name!r}; rename one")
        seen.add(path.name)


def base_entries(busybox: Path, init_script: Path, guest_binaries: list[Path],
                 module_files: list[Path], libraries: list[Path] = (),
                 extra: list[cpio.Entry] = ()) -> list[cpio.Entry]:
    """Every member of the base image; modes are fixed here so the host's umask never changes the image.
    `libraries` (absolute paths, as ldd names them) keep their path in the guest, where ld.so looks;
    `extra` are more members as they are (the nested topology's QEMU and L2 kernel)."""
    guest_binaries = [Path(p) for p in guest_binaries]
    module_files = [Path(p) for p in module_files]
    _unique_names(guest_binaries, "guest binary")
    _unique_names(module_files, "kernel module")
    for module in module_files:
        if not module.name.endswith(".ko"):
            raise UserError(f"kernel module {module}: busybox insmod needs a plain .ko; decompress it first")
    entries = [
        cpio.file("init", _read(init_script, "init script"), 0o755),
        cpio.file("bin/busybox", _read(busybox, "busybox"), 0o755),
        cpio.symlink("bin/sh", "/bin/busybox"),
        cpio.file(MODULE_LIST, "".join(m.name + "\n" for m in module_files).encode(), 0o644),
    ]
    entries += [cpio.directory(d) for d in EMPTY_DIRS]
    entries += [cpio.file(f"usr/bin/{p.name}", _read(p, "guest binary"), 0o755) for p in guest_binaries]
    entries += [cpio.file(f"{MODULE_DIR}/{m.name}", _read(m, "kernel module"), 0o644) for m in module_files]
    entries += [cpio.file(str(lib).lstrip("/"), _read(lib, "shared library"), 0o755) for lib in libraries]
    return entries + list(extra)


def content_key(entries: list[cpio.Entry]) -> str:
    """sha256 over each member's name, type, mode and bytes (length-prefixed, so no two inputs collide)."""
    digest = hashlib.sha256(LAYOUT)
    for entry in sorted(entries, key=lambda e: cpio.normalize(e.path)):
        name = cpio.normalize(entry.path).encode()
        digest.update(b"%d %o %o %d\n" % (len(name), entry.kind, entry.mode, len(entry.data)))
        digest.update(name)
        digest.update(entry.data)
    return digest.hexdigest()


def _atomic_write(dest: Path, write) -> None:
    """Write through a temporary file in dest's directory, then rename, so readers never see half a file."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            os.fchmod(out.fileno(), 0o644)  # mkstemp makes it private; a cache entry is an ordinary file
            write(out)
        os.replace(tmp, dest)
    except BaseException:
        os.unlink(tmp)
        raise


def _write_gzip(entries: list[cpio.Entry], out) -> None:
    # filename="" and mtime=0 keep the gzip header free of anything that varies between builds.
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0, compresslevel=6) as gz:
        cpio.write(entries, gz)


def build_base(busybox: Path, init_script: Path, guest_binaries: list[Path],
               module_files: list[Path], cache_dir: Path, libraries: list[Path] = (),
               extra: list[cpio.Entry] = ()) -> Path:
    """Return cache_dir/<key>.cpio.gz for these inputs, building it only when it is not there yet."""
    entries = base_entries(busybox, init_script, guest_binaries, module_files, libraries, extra)
    image = Path(cache_dir) / f"{content_key(entries)}.cpio.gz"
    if not image.is_file():
        try:
            _atomic_write(image, lambda out: _write_gzip(entries, out))
        except OSError as e:
            raise UserError(f"initramfs cache {cache_dir}: cannot write {image.name} ({e.strerror})") from None
    return image


def run_config_text(settings: dict[str, str]) -> str:
    """KEY='value' lines that busybox sh can source; keys are [A-Z_]+ so they can only set plain variables."""
    lines = []
    for key in sorted(settings):
        value = settings[key]
        if not isinstance(key, str) or not _KEY.fullmatch(key):
            raise ValueError(f"run.conf: key {key!r} is not [A-Z_]+")
        if not isinstance(value, str) or "\0" in value:
            raise ValueError(f"run.conf: value of {key} must be a string without NUL bytes")
        lines.append(f"{key}={shlex.quote(value)}\n")
    return "".join(lines)


def user_file_entries(files: list[Path], guest_dir: str) -> list[cpio.Entry]:
    """Files a user ships into the guest (vsockcheck exec --files), all in guest_dir (relative to /);
    executable ones stay executable."""
    files = [Path(p) for p in files]
    _unique_names(files, "file")
    entries = [cpio.directory(guest_dir)]
    for path in files:
        mode = 0o755 if os.access(path, os.X_OK) else 0o644
        entries.append(cpio.file(f"{guest_dir}/{path.name}", _read(path, "file"), mode))
    return entries


def with_run_config(base: Path, settings: dict[str, str], out: Path, extra: list[cpio.Entry] = ()) -> Path:
    """Copy base to out and append an uncompressed newc archive holding etc/vsockcheck/run.conf
    and the `extra` members of this run only (kept out of the cached base)."""
    tail = cpio.to_bytes([cpio.file(RUN_CONF, run_config_text(settings).encode(), 0o644), *extra])
    try:
        with open(base, "rb") as src, open(out, "wb") as dst:
            shutil.copyfileobj(src, dst)
            # The kernel only looks for an uncompressed archive at a 4-byte aligned offset; zeros are skipped.
            dst.write(b"\0" * (-dst.tell() % 4))
            dst.write(tail)
    except OSError as e:
        raise UserError(f"initramfs {out}: cannot write it from {base} ({e.strerror})") from None
    return Path(out)


def uncompressed(image: bytes) -> bytes:
    """An image of with_run_config (a gzip'd base, zeros, an uncompressed tail) with the base
    decompressed: the same members, nothing for the kernel to gunzip."""
    inflater = zlib.decompressobj(wbits=31)  # 31: a gzip header and trailer
    try:
        base = inflater.decompress(image)
    except zlib.error as e:
        raise UserError(f"initramfs: cannot decompress its base ({e})") from None
    if not inflater.eof:
        raise UserError("initramfs: its gzip'd base is cut short")
    tail = inflater.unused_data.lstrip(b"\0")
    return base + b"\0" * (-len(base) % 4) + tail
