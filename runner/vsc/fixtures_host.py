"""Engine 1 of the packet fixtures (target virtio_transport): one guest whose virtio vsock
transport faces `vhost-user-vsock --fixtures` (the host, CID 2) in place of our device. The guest
runs vsock-fixture-agent with stdin and stdout on a virtio-serial port whose host end the engine
connects to; the engine's KTAP and trace go to the results directory, and every fixture gets a
result: one the engine never reported is an ERROR that says why, with the logs' last lines."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

from vsc import fixture_check, guest_session, qemu, topology, vhost_user_device
from vsc.errors import UserError
from vsc.guest_session import GuestRun, GuestSpec
from vsc.ktap import Parser
from vsc.ktap_report import Report, synthesize_result
from vsc.ktap_syntax import ERROR
from vsc.paths import GUEST_BIN_DIR
from vsc.sanitizers import sanitizer_findings

TARGET = "virtio_transport"
PREFIX = TARGET + "/"
GUEST_CID = 3
AGENT_PROGRAM = GUEST_BIN_DIR / "vsock-fixture-agent"
AGENT_PORT_NAME = "vsockcheck.agent"
MODULES = topology.MODULES
GUEST_LABEL = TARGET + "-guest"
KTAP_NAME = TARGET + ".ktap"
TRACE_NAME = TARGET + ".trace.jsonl"
ENGINE_LOG = TARGET + ".engine.log"

# QEMU start to a guest driver with its rings up (the engine itself gives up after 240 s).
BOOT_S = 180.0
# A fixture's own timeout_ms, and what comes around it: agent reset, end() (3 s at most), kmsg.
FIXTURE_SLACK_S = 10.0
# Once the engine or QEMU has ended, how long the other has to end by itself.
WIND_DOWN_S = 15.0
READY_TIMEOUT_S = 5.0
POLL_S = 0.05
TAIL_LINES = 15


def result_names(fixtures: list[Path]) -> list[str]:
    """The result name of each fixture, in run order: the prefix and the file's stem (a fixture's
    name is its stem)."""
    return [PREFIX + Path(f).stem for f in fixtures]


def budget_s(fixtures: list[Path]) -> float:
    """How long the engine may run: the boot, then each fixture's timeout_ms and its slack. A file
    that does not parse costs the default (the engine reports it at once)."""
    total = BOOT_S
    for path in fixtures:
        total += fixture_check.timeout_ms(Path(path)) / 1000 + FIXTURE_SLACK_S
    return total


def agent_script(program: str = AGENT_PROGRAM.name) -> str:
    """The guest's script: the agent on its port. A virtio-serial port opens once at a time, so
    one read-write open serves as both stdin and stdout; its stderr goes to the guest's output."""
    return (f". {guest_session.GUEST_LIB}\n"
            f"port=$(wait_port {AGENT_PORT_NAME}) || {{ echo 'no virtio-serial port {AGENT_PORT_NAME}'; exit 1; }}\n"
            f'exec {program} <>"$port" >&0\n')


def agent_port_args(socket_path: Path) -> list[str]:
    """The agent's port on the guest's virtio-serial bus; QEMU listens on socket_path and, with
    wait=on, starts the guest only once the engine has connected, so the agent never reads the
    end-of-file of a port nobody holds."""
    return ["-chardev", f"socket,id=vsc_agent,path={qemu._opt(socket_path)},server=on,wait=on",
            "-device", f"virtserialport,bus=vsc_serial.0,chardev=vsc_agent,name={AGENT_PORT_NAME}"]


def vhost_user_args(socket_path: Path) -> list[str]:
    return ["-chardev", f"socket,id=vsc_vsock,path={qemu._opt(socket_path)}",
            "-device", "vhost-user-vsock-pci,chardev=vsc_vsock"]


def engine_argv(binary: Path, socket_path: Path, agent_socket: Path, trace: Path,
                fixtures: list[Path]) -> list[str]:
    vm = vhost_user_device.VmPort(GUEST_CID, socket_path).option()
    return [str(binary), "--fixtures", "--vm", vm, "--agent-socket", str(agent_socket),
            "--trace", str(trace), "--prefix", PREFIX, "--verbose", *[str(f) for f in fixtures]]


class Engine:
    """The engine process: KTAP on stdout into one file, its log (stderr) into another; in a
    session of its own, stopped with its group on leaving the with-block."""

    def __init__(self, argv: list[str], ktap: Path, log: Path):
        self.argv, self.ktap, self.log = argv, ktap, log
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> "Engine":
        try:
            with open(self.ktap, "wb") as out, open(self.log, "wb") as err:
                self.process = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                                start_new_session=True, preexec_fn=qemu.die_with_runner)
        except OSError as e:
            raise UserError(f"{self.argv[0]}: cannot start it ({e.strerror})") from None
        return self

    def wait_listening(self, socket_path: Path) -> bool:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not socket_path.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    @property
    def returncode(self) -> int | None:
        return self.process.poll()

    def wait(self, timeout: float) -> int | None:
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self) -> None:
        for sig, grace in ((signal.SIGTERM, 2.0), (signal.SIGKILL, None)):
            if self.process.poll() is not None:
                return
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, sig)
            self.wait(grace)

    def __exit__(self, *exc) -> None:
        self.stop()


def run(kernel, fixtures: list[Path], results_dir: Path, workdir: Path) -> GuestRun:
    """Boots one guest with the agent, runs engine 1 over the fixtures (in order) and returns the
    report, a result for every fixture."""
    if not AGENT_PROGRAM.exists():
        raise UserError(f"{AGENT_PROGRAM} is missing: run 'make' first")
    return run_with(kernel, list(fixtures), results_dir, workdir, AGENT_PROGRAM, agent_script())


def run_with(kernel, fixtures: list[Path], results_dir: Path, workdir: Path, guest_program: Path,
             script: str, accel: str = "auto") -> GuestRun:
    """run(), with the program the guest carries and the script it runs given (tests)."""
    binary = vhost_user_device.program()
    if not binary.exists():
        raise UserError(f"{binary} is missing: run 'make' first")
    workdir.mkdir(parents=True, exist_ok=True)
    results_dir.mkdir(parents=True, exist_ok=True)
    names = result_names(fixtures)
    ktap, log = results_dir / KTAP_NAME, results_dir / ENGINE_LOG
    socket_path, agent_socket = workdir / "fx-vhost-user.sock", workdir / "fx-agent.sock"
    argv = engine_argv(binary, socket_path, agent_socket, results_dir / TRACE_NAME, fixtures)
    spec = GuestSpec(kernel=kernel, modules=MODULES, test_program=guest_program, test_args=[], cases=[],
                     mode="script", script=script, accel=accel, boot_timeout_s=BOOT_S)
    session = guest_session.GuestSession(spec, workdir, results_dir, label=GUEST_LABEL,
                                         devices=vhost_user_args(socket_path),
                                         plain_devices=agent_port_args(agent_socket))
    why = None
    with contextlib.ExitStack() as running:
        engine = running.enter_context(Engine(argv, ktap, log))
        if not engine.wait_listening(socket_path):
            engine.stop()
            why = f"the engine did not start (status {engine.returncode})"
        else:
            guest = session.boot(running)
            why = _follow(engine, guest, budget_s(fixtures))
    session.times["end"] = time.monotonic()
    report = _report(ktap, names, why, log, session.files.console)
    found = sanitizer_findings(log.read_text(errors="replace")) if log.exists() else []
    if found:
        report.problems.append(f"sanitizer report in {log.name}: {found[0]}")
    return GuestRun(report, session.accel, [*argv, "#", *session.argv], _durations(session.times))


def _follow(engine: Engine, guest: qemu.Guest, budget: float) -> str | None:
    """Waits for the engine to finish; None when it did by itself, else why it did not (a result
    it never printed says this). Stops the guest's QEMU once it has had time to power off."""
    deadline = time.monotonic() + budget
    while engine.returncode is None:
        if guest.returncode is not None:
            # The engine sees QEMU's vhost-user connection close and ends (its fixtures, or
            # the wind-down after them).
            if engine.wait(WIND_DOWN_S) is None:
                engine.stop()
                return f"the guest's QEMU exited (status {guest.returncode}) and the engine did not end"
            return f"the guest's QEMU exited (status {guest.returncode}) during the run"
        if time.monotonic() > deadline:
            engine.stop()
            return f"the engine ran past its budget of {budget:.0f} s and was stopped"
        time.sleep(POLL_S)
    status = engine.returncode
    if status not in (0, 1):
        guest.stop()
        return f"the engine exited with status {status}"
    # The engine closed the agent's port: the agent ends, the guest powers off.
    if guest.wait(WIND_DOWN_S) is None:
        guest.stop()
    return None


def _report(ktap: Path, names: list[str], why: str | None, log: Path, console: Path) -> Report:
    """The engine's KTAP, with an ERROR for each fixture it did not report."""
    parser = Parser()
    try:
        text = ktap.read_text("utf-8", "replace")
    except OSError:
        text = ""
    for line in text.splitlines():
        parser.feed(line)
    report = parser.finish()
    missing = [n for n in range(1, len(names) + 1) if report.result(n) is None]
    if not missing:
        return report
    reason = why or "the engine ended without reporting it"
    lines = []
    for label, path in (("engine log", log), ("console", console)):
        tail = guest_session.last_lines(path, TAIL_LINES)
        if tail:
            lines += [f"{label} ({path.name}) ends:"] + tail
    for number in missing:
        report.add_result(synthesize_result(number, names[number - 1], ERROR, "not run: " + reason, lines))
    report.results.sort(key=lambda r: r.number)
    return report


def _durations(times: dict) -> dict[str, float]:
    start, end = times["start"], times["end"]
    return {"initramfs_s": round(times.get("image", end) - start, 3), "total_s": round(end - start, 3)}
