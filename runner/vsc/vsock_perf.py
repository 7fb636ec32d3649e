"""build/bin/vsock-perf: where it is, and the figures in the lines it prints."""

from __future__ import annotations

import re

from vsc.paths import GUEST_BIN_DIR

PROGRAM = GUEST_BIN_DIR / "vsock-perf"
# "vsock-perf: recv bytes=N seconds=S mib_per_s=X", "vsock-perf: recv listening port=P", ...
_REPORT = re.compile(r"vsock-perf: (recv|send|echo|connrate|latency) ((?:\w+=\S+ ?)+)$")


def report(line: str) -> tuple[str, dict[str, str]] | None:
    """(mode, {key: value}) for one of vsock-perf's report lines, else None."""
    found = _REPORT.match(line.strip())
    if not found:
        return None
    return found.group(1), dict(word.split("=", 1) for word in found.group(2).split())


def listening_line(mode: str, port: int) -> str:
    """What a listener prints once it accepts connections."""
    return f"vsock-perf: {mode} listening port={port}"
