"""Boots one guest that runs a shell script (guest_init.sh MODE script) and follows what it prints."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

from vsc import guest_session, qemu
from vsc.errors import UserError

POLL_S = 0.05
EXIT_LINE = re.compile(r"# vsockcheck-guest: exit=(\d+)$")


@dataclass
class ScriptRun:
    lines: list[str]          # everything the script printed, stdout and stderr
    exit_status: int          # the script's own exit status
    seconds: float            # QEMU start to QEMU exit


def run(spec: guest_session.GuestSpec, script: str, workdir: Path, results_dir: Path, *,
        devices: list[str] = (), timeout_s: float = 120.0,
        on_line: Callable[[str], None] = lambda line: None, initrd: Path | None = None) -> ScriptRun:
    """Runs `script` in a guest of spec; on_line sees each line as it arrives (to start host
    programs when the guest is ready for them). Raises UserError if the guest does not finish
    the script within timeout_s, naming the last line it printed. `initrd`: an image built
    elsewhere, already holding the script in its run.conf (make dist's bundle test)."""
    if initrd is None:
        spec = replace(spec, mode="script", script=script)
        initrd = guest_session.build_image(spec, workdir)
    accel = qemu.accel_for(spec.kernel.vmlinuz) if spec.accel == "auto" else spec.accel
    output = results_dir / "guest.out"
    output.write_bytes(b"")
    argv = qemu.guest_argv(vmlinuz=spec.kernel.vmlinuz, initrd=initrd, ktap_path=output,
                           console_log=results_dir / "console.log", accel=accel,
                           memory_mib=spec.memory_mib, cpus=spec.cpus, devices=list(devices))
    lines: list[str] = []
    status = None
    started = time.monotonic()
    with qemu.Guest(argv, log=results_dir / "qemu.log") as guest, open(output, "rb") as stream:
        partial = b""
        while True:
            exited = guest.returncode is not None
            chunk = stream.read()
            if chunk:
                pieces = (partial + chunk).split(b"\n")
                partial = pieces.pop()
                for raw in pieces:
                    line = raw.decode("utf-8", "replace")
                    lines.append(line)
                    found = EXIT_LINE.match(line)
                    if found:
                        status = int(found.group(1))
                    on_line(line)
            if exited:
                break
            if time.monotonic() - started > timeout_s:
                last = lines[-1] if lines else "nothing"
                raise UserError(f"the guest script did not finish within {timeout_s:.0f} s; "
                                f"its last line: {last!r} (console: {results_dir / 'console.log'})")
            time.sleep(POLL_S)  # QEMU appends to a plain file: there is nothing to wait on
    if status is None:
        raise UserError(f"the guest stopped before its script ended (QEMU status {guest.returncode}); "
                        f"console: {results_dir / 'console.log'}")
    return ScriptRun(lines, status, time.monotonic() - started)
