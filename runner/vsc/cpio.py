"""Deterministic newc cpio writer: the same entries always give the same bytes."""

import io
import stat
from dataclasses import dataclass
from typing import BinaryIO, Iterable

MAGIC = b"070701"
TRAILER = "TRAILER!!!"


@dataclass(frozen=True)
class Entry:
    """One archive member: path inside the archive, its type, content (or link target), permission bits."""

    path: str
    kind: int  # stat.S_IFREG, stat.S_IFDIR or stat.S_IFLNK
    data: bytes = b""
    mode: int = 0o644


def file(path: str, data: bytes, mode: int = 0o644) -> Entry:
    return Entry(path, stat.S_IFREG, data, mode)


def directory(path: str, mode: int = 0o755) -> Entry:
    return Entry(path, stat.S_IFDIR, b"", mode)


def symlink(path: str, target: str) -> Entry:
    return Entry(path, stat.S_IFLNK, target.encode(), 0o777)


def normalize(path: str) -> str:
    """'/usr//bin/x' and 'usr/bin/x' name the same member; the archive stores the relative form."""
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if not parts or ".." in parts:
        raise ValueError(f"cpio: bad member path {path!r}")
    return "/".join(parts)


def _complete(entries: Iterable[Entry]) -> list[Entry]:
    """Normalize paths, reject duplicates, add missing parent directories, sort parents first."""
    by_path: dict[str, Entry] = {}
    for entry in entries:
        if entry.kind not in (stat.S_IFREG, stat.S_IFDIR, stat.S_IFLNK):
            raise ValueError(f"cpio: unsupported member type for {entry.path!r}")
        path = normalize(entry.path)
        if path in by_path:
            raise ValueError(f"cpio: {path!r} given twice")
        by_path[path] = Entry(path, entry.kind, entry.data, entry.mode & 0o7777)
    for path in list(by_path):
        parent = path.rpartition("/")[0]
        while parent:
            existing = by_path.get(parent)
            if existing is None:
                by_path[parent] = directory(parent)
            elif existing.kind != stat.S_IFDIR:
                raise ValueError(f"cpio: {parent!r} is not a directory but holds {path!r}")
            parent = parent.rpartition("/")[0]
    # Sorting by components keeps every directory ahead of its contents.
    return sorted(by_path.values(), key=lambda e: e.path.split("/"))


def _pad(length: int) -> bytes:
    return b"\0" * (-length % 4)


def _member(ino: int, mode: int, nlink: int, name: str, data: bytes) -> bytes:
    name_bytes = name.encode() + b"\0"
    fields = (ino, mode, 0, 0, nlink, 0, len(data), 0, 0, 0, 0, len(name_bytes), 0)
    header = MAGIC + b"".join(b"%08X" % f for f in fields)
    head = header + name_bytes
    return head + _pad(len(head)) + data + _pad(len(data))


def write(entries: Iterable[Entry], fileobj: BinaryIO) -> None:
    """Write a complete newc archive (uid/gid 0, mtime 0, inodes 1..n, then TRAILER!!!) to fileobj."""
    for ino, entry in enumerate(_complete(entries), start=1):
        nlink = 2 if entry.kind == stat.S_IFDIR else 1
        fileobj.write(_member(ino, entry.kind | entry.mode, nlink, entry.path, entry.data))
    fileobj.write(_member(0, 0, 1, TRAILER, b""))


def to_bytes(entries: Iterable[Entry]) -> bytes:
    buffer = io.BytesIO()
    write(entries, buffer)
    return buffer.getvalue()
