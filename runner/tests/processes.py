"""Finding processes a test left behind: QEMU, the device, an engine, a host peer."""

import os
from pathlib import Path


def naming(*paths: Path) -> list[str]:
    """Command lines of live processes (not zombies, not this test) that name one of paths."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if any(str(path) in cmdline for path in paths) and state != "Z" and "unittest" not in cmdline:
            found.append(cmdline)
    return found


def qemus_naming(*paths: Path) -> list[str]:
    return [cmdline for cmdline in naming(*paths) if "qemu-system" in cmdline]
