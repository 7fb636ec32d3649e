"""Engine 2 of the packet fixtures: one guest with vhost_vsock runs vsock-fixtures-guest, which
drives /dev/vhost-vsock as the guest driver while vsock-fixture-agent holds the kernel's sockets.

The engine's KTAP comes on the guest's KTAP port (results_dir/vhost_vsock.ktap), its trace on a
virtio-serial port of its own (results_dir/vhost_vsock.trace.jsonl), stderr of both programs on
the console (vhost_vsock-console.log)."""

from __future__ import annotations

import contextlib
import dataclasses
import shlex
from pathlib import Path

from vsc import guest_session, initramfs, qemu, topology
from vsc.catalogue import Case
from vsc.errors import UserError
from vsc.fixture_check import DEFAULT_TIMEOUT_MS, timeout_ms
from vsc.ktap_syntax import ERROR
from vsc.paths import GUEST_BIN_DIR

TARGET = "vhost_vsock"
PREFIX = TARGET + "/"
ENGINE = GUEST_BIN_DIR / "vsock-fixtures-guest"
AGENT = GUEST_BIN_DIR / "vsock-fixture-agent"
MODULES = topology.MODULES + ("vhost_vsock",)
FIXTURES_DIR = guest_session.USER_FILES_DIR  # in the guest, relative to /
TRACE_PORT = "vsockcheck.trace"
BOOT_S = 60.0
# Beyond a fixture's own timeout: its agent "reset", the device's release, and the kmsg check.
FIXTURE_GRACE_S = 20.0


def run(kernel, fixtures: list[Path], results_dir: Path, workdir: Path) -> guest_session.GuestRun:
    """Boots one guest of `kernel` and runs every fixture file in it; the report has a result for
    each (one the guest never reported is an ERROR saying why, with the console's last lines)."""
    fixtures = [Path(f) for f in fixtures]
    if not fixtures:
        raise UserError("fixtures: no fixture files to run on the vhost_vsock target")
    cases = [case_for(path) for path in fixtures]
    longest_s = max(case.timeout_s for case in cases) + FIXTURE_GRACE_S
    spec = guest_session.GuestSpec(
        kernel=kernel, modules=MODULES, test_program=topology.TEST_PROGRAM, test_args=[], cases=cases,
        guest_tools=(ENGINE, AGENT), mode="script", script=guest_script(fixtures),
        run_files=tuple(initramfs.user_file_entries(fixtures, FIXTURES_DIR)),
        boot_timeout_s=BOOT_S + longest_s)
    session = guest_session.GuestSession(
        spec, workdir, results_dir, label=TARGET,
        plain_devices=qemu.output_port_args(TRACE_PORT, results_dir / f"{TARGET}.trace.jsonl"))
    with contextlib.ExitStack() as running:
        session.boot(running)
        # The engine announces no per-fixture timeout: a result line allows the next fixture
        # its longest time (the follower's default allowance of silence is shorter).
        session.follow(quiet_after={"ok ": longest_s, "not ok ": longest_s, "1..": longest_s})
    guest = session.result()
    with_console_tail(guest.report, session.files.console)
    return guest


def case_for(path: Path, prefix: str = PREFIX) -> Case:
    """The result the engine reports for a fixture file: <prefix><stem>, with its timeout."""
    return Case(name=prefix + path.stem, sock_type="", roles="", needs="",
                timeout_s=int(timeout_ms(path) / 1000 + 0.999), summary="", tags=())


def guest_script(fixtures: list[Path], engine: Path = ENGINE, prefix: str = PREFIX) -> str:
    """Finds the trace port, then runs the engine over the fixtures in their order; stderr of
    the engine and its agent goes to the console, so the KTAP port carries KTAP only."""
    names = " ".join(shlex.quote(path.name) for path in fixtures)
    return (f". {guest_session.GUEST_LIB}\n"
            f"if ! trace=$(wait_port {TRACE_PORT}); then\n"
            f"\techo '# {engine.name}: no virtio-serial port named {TRACE_PORT}'\n"
            "\texit 1\n"
            "fi\n"
            f"cd /{FIXTURES_DIR} || exit 1\n"
            f"{engine.name} --prefix {prefix} --trace \"$trace\" {names} 2>/dev/console\n")


def with_console_tail(report, console_log: Path) -> None:
    """The runner's ERROR results for fixtures never reported say why; the first of them also
    carries the console's last lines (a panic or a hang shows there)."""
    tail = guest_session.last_lines(console_log, guest_session.CONSOLE_TAIL_LINES)
    for index, result in enumerate(report.results):
        if result.synthesized and result.status == ERROR and not result.diagnostics and tail:
            report.results[index] = dataclasses.replace(
                result, diagnostics=tuple("console: " + line for line in tail))
            return
