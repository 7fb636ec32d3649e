"""What vsockcheck exec prints after a run: each peer's output, labelled, then how each ended."""

from __future__ import annotations

from vsc.exec_plan import ROLES
from vsc.exec_run import ExecResult
from vsc.results import printable


def _output_lines(path) -> list[str]:
    try:
        text = path.read_text("utf-8", "replace")
    except OSError as e:
        return [f"(cannot read {path}: {e.strerror})"]
    return text.splitlines()


def lines(result: ExecResult) -> list[str]:
    """The peers' output, each line prefixed with its role, then one status line per peer."""
    shown = []
    for role in ROLES:
        peer = result.peers[role]
        output = _output_lines(peer.log)
        shown.append(f"--- {role} ({peer.where}): {len(output)} lines of output ({peer.log.name})")
        shown += [f"{role}| {printable(line.expandtabs())}" for line in output]
    for guest, console, tail in result.consoles:
        shown.append(f"--- {guest}: the last {len(tail)} lines of its console ({console})")
        shown += [f"console| {printable(line.expandtabs())}" for line in tail]
    for note in result.notes:
        shown.append(f"note: {printable(note)}")
    for role in ROLES:
        peer = result.peers[role]
        shown.append(f"{role} ({peer.where}): {printable(peer.how())}")
    return shown


def verdict(result: ExecResult) -> str:
    if result.ok:
        return "vsockcheck exec: passed: both peers exited 0"
    failed = [f"{role} {result.peers[role].how()}" for role in ROLES if not result.peers[role].ok]
    return "vsockcheck exec: failed: " + "; ".join(printable(f) for f in failed)
