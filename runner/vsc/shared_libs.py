"""The shared libraries and dynamic loader a guest program needs, so a Debian binary (socat)
runs in the busybox initramfs: none for a static ELF, what `ldd` lists for a dynamic one."""

from __future__ import annotations

import re
import struct
import subprocess
from pathlib import Path

from vsc.errors import UserError

PT_INTERP = 3
# "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" or "/lib64/ld-linux-x86-64.so.2 (0x...)"
_LDD_PATH = re.compile(r"(?:=>\s*)?(/\S+)\s+\(0x[0-9a-f]+\)")


def is_dynamic(data: bytes) -> bool:
    """True for a 64-bit little-endian ELF with a PT_INTERP program header (it needs ld.so)."""
    if len(data) < 64 or data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        return False
    phoff, = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    for i in range(phnum):
        at = phoff + i * phentsize
        if at + 4 > len(data):
            return False
        if struct.unpack_from("<I", data, at)[0] == PT_INTERP:
            return True
    return False


def parse_ldd(text: str) -> list[Path]:
    """The absolute paths in ldd's output (libraries and the loader; the vDSO has no path)."""
    return [Path(m.group(1)) for m in map(_LDD_PATH.search, text.splitlines()) if m]


def libraries_of(binaries: list[Path]) -> list[Path]:
    """Every library the dynamic ones among `binaries` load, each once, in a stable order."""
    found: dict[str, Path] = {}
    for binary in binaries:
        try:
            data = Path(binary).read_bytes()
        except OSError:
            continue  # the initramfs builder reports unreadable binaries with their purpose
        if not is_dynamic(data):
            continue
        done = subprocess.run(["ldd", str(binary)], capture_output=True, text=True)
        if done.returncode != 0 or "not found" in done.stdout:
            raise UserError(f"guest program {binary}: ldd cannot resolve its libraries: "
                            f"{(done.stdout + done.stderr).strip().splitlines()[-1:]}")
        for path in parse_ldd(done.stdout):
            found.setdefault(str(path), path)
    return [found[k] for k in sorted(found)]
