"""run --capture inside the guests: vsockmon-capture records what a vsockmon link taps (the
virtio transports and vsock_loopback) and writes it as pcap on a virtio-serial port of its own,
which lands in the results directory as guest-capture*.pcap. guest_init.sh starts it before the
suite and stops it after; what it says goes to the guest's console, marked CONSOLE_MARK."""

from __future__ import annotations

import re
from pathlib import Path

from vsc import modules, qemu, vsock_pcap
from vsc.errors import UserError
from vsc.paths import GUEST_BIN_DIR

PORT = "vsockcheck.capture"
TOOL = GUEST_BIN_DIR / "vsockmon-capture"
MODULE = "vsockmon"
CONSOLE_MARK = "vsockcheck-capture: "
# guest_init.sh's console line when the tool could not start; the tool's own once it records.
NOT_RECORDING = "not recording: "
CAPTURING = "vsockmon-capture: capturing on"
_DROPS = re.compile(r"(\d+) dropped by the kernel")
_SUMMARY = re.compile(r"vsockmon-capture: \d+ frames written")


def file_name(guest: str = "") -> str:
    """guest-capture.pcap for a run's one guest; guest-capture-<guest>.pcap for one of several."""
    return f"guest-capture-{guest}.pcap" if guest else "guest-capture.pcap"


def unavailable(kernel) -> str | None:
    """Why guests of `kernel` cannot capture (no vsockmon, neither a module nor built in), or None."""
    try:
        modules.plan(kernel, [MODULE])
    except UserError as e:
        return f"--capture: no guest capture: {e}"
    return None


def port_args(path: Path) -> list[str]:
    """The virtio-serial port the guest writes its pcap to; QEMU keeps it in path."""
    return qemu.output_port_args(PORT, path)


def console_lines(console_log: Path) -> list[str]:
    """What guest_init.sh said about the capture, without its mark."""
    try:
        text = console_log.read_text("utf-8", "replace")
    except OSError:
        return []
    lines = []
    for line in text.splitlines():
        at = line.find(CONSOLE_MARK)
        if at >= 0:
            lines.append(line[at + len(CONSOLE_MARK):].strip())
    return lines


def outcome(pcap: Path, console_log: Path, who: str) -> tuple[list[str], list[str]]:
    """(files to list, notes) for one guest's capture. A pcap without a packet is removed, not
    presented as a capture, and a note says so; so do a start that failed, a stop that never
    came and frames the kernel dropped."""
    notes = []
    said = console_lines(console_log)
    for line in said:
        if line.startswith(NOT_RECORDING):
            notes.append(f"{who}: capture {line}")
        elif _SUMMARY.search(line):
            drops = _DROPS.search(line)
            if drops and int(drops.group(1)) > 0:
                notes.append(f"{who}: capture incomplete: {line}")
        elif CAPTURING not in line:
            notes.append(f"{who}: capture: {line}")  # an error of the tool's, or its exit status
    started = not any(line.startswith(NOT_RECORDING) for line in said)
    if started and not any(_SUMMARY.search(line) for line in said):
        notes.append(f"{who}: the capture was not stopped cleanly (the guest ended first): "
                     f"{pcap.name} holds what it wrote until then")
    try:
        packets = vsock_pcap.read(pcap) if pcap.is_file() and pcap.stat().st_size > 0 else []
    except UserError as e:
        notes.append(f"{who}: {e}")
        return [pcap.name], notes
    if not packets:
        pcap.unlink(missing_ok=True)
        notes.append(f"{who}: no vsock packet was captured, so there is no {pcap.name}")
        return [], notes
    return [pcap.name], notes


def wanted(request) -> tuple[bool, str | None]:
    """Whether a run's guests capture (topology.RunRequest.capture, and vsockmon in the kernel),
    and the note to keep when --capture was given but they cannot."""
    if not request.capture:
        return False, None
    reason = unavailable(request.kernel)
    return reason is None, reason


def add_to(done, pcap: Path, console_log: Path, who: str) -> None:
    """Lists one guest's capture with a topology's files and notes (done: topology.TopologyRun)."""
    files, notes = outcome(pcap, console_log, who)
    done.files.extend(files)
    for note in notes:
        done.note(note)
