"""Boots one test guest, follows the KTAP it prints, and turns a hang or a panic into results."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from vsc import cpio, guest_capture, initramfs, modules, qemu, shared_libs
from vsc.catalogue import Case
from vsc.errors import UserError
from vsc.ktap import Parser
from vsc.ktap_report import CaseBegan, CaseFinished, Event, Report, synthesize_result
from vsc.ktap_syntax import ERROR, FAIL, TIMEOUT
from vsc.paths import PROJECT_ROOT, cache_root
from vsc.vhost_user_device import VhostUserDevice, VmPort

BUSYBOX = Path("/usr/bin/busybox")
INIT_SCRIPT = PROJECT_ROOT / "runner" / "vsc" / "guest_init.sh"
# Shell functions for guest_init.sh and the guests' scripts, at GUEST_LIB in every image.
GUEST_LIB_SOURCE = PROJECT_ROOT / "runner" / "vsc" / "guest_lib.sh"
GUEST_LIB = "/usr/lib/vsockcheck/guest_lib.sh"
# The guest's harness enforces each case's own timeout; this is how much longer the runner waits
# before it decides the guest kernel itself has stopped.
CASE_GRACE_S = 20.0
IDLE_S = 30.0
POLL_S = 0.05
CONSOLE_TAIL_LINES = 15
USER_FILES_DIR = "opt/vsockcheck"  # where vsockcheck exec --files go (as GuestSpec.run_files)


@dataclass
class GuestRun:
    """What one guest produced, with every planned case accounted for."""

    report: Report
    accel: str
    argv: list[str]
    durations: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class GuestSpec:
    kernel: object                 # kernels.Kernel
    modules: tuple[str, ...]
    test_program: Path
    test_args: list[str]
    cases: list[Case]              # in run order: case N is cases[N-1]
    guest_tools: tuple[Path, ...] = ()  # more programs the cases run, shipped to /usr/bin/ too
    device_cid: int | None = None  # attach our vhost-user vsock device, with this guest CID
    mode: str = "suite"            # guest_init.sh MODE: suite, script, panic, hang
    script: str = ""               # MODE script: shell commands the guest runs (vsc.guest_script)
    accel: str = "auto"
    boot_timeout_s: float = 60.0
    memory_mib: int = 512
    cpus: int = 2
    cpu_model: str | None = None  # QEMU -cpu; None: qemu.cpu_args's default
    image_files: tuple[cpio.Entry, ...] = ()  # more members of the cached base image
    run_files: tuple[cpio.Entry, ...] = ()    # more members of the per-run tail
    extra_modules: tuple[Path, ...] = ()  # our own test modules (run --kmod), loaded after `modules`
    capture: bool = False          # run --capture: vsockmon-capture records in the guest (vsc.guest_capture)


@dataclass(frozen=True)
class GuestFiles:
    """Where one guest's output goes in the results directory."""

    ktap: Path     # the raw stream the guest wrote on its KTAP port
    console: Path  # the serial console
    qemu_log: Path  # QEMU's own stdout and stderr

    @classmethod
    def named(cls, results_dir: Path, label: str = "") -> "GuestFiles":
        """The guest of a one-guest run keeps the plain names; another guest's files carry its label."""
        if not label:
            return cls(results_dir / "guest.ktap", results_dir / "console.log", results_dir / "qemu.log")
        return cls(results_dir / f"{label}.ktap", results_dir / f"{label}-console.log",
                   results_dir / f"{label}-qemu.log")


def build_image(spec: GuestSpec, workdir: Path, cache_dir: Path | None = None) -> Path:
    """The initramfs for this run: a cached base image plus a small per-run settings archive."""
    workdir.mkdir(parents=True, exist_ok=True)
    capture_modules = [guest_capture.MODULE] if spec.capture else []
    plan = modules.plan(spec.kernel, list(spec.modules) + capture_modules)
    module_files = modules.materialize(plan, workdir / "modules") + list(spec.extra_modules)
    programs = [spec.test_program, *spec.guest_tools, *([guest_capture.TOOL] if spec.capture else [])]
    base = initramfs.build_base(BUSYBOX, INIT_SCRIPT, programs, module_files,
                                cache_dir or cache_root() / "initramfs",
                                libraries=shared_libs.libraries_of(programs),
                                extra=[_guest_lib(), cpio.file(*modules.builtin_list_entry(spec.kernel), 0o644),
                                       *spec.image_files])
    settings = {"MODE": spec.mode, "TEST_BIN": f"/usr/bin/{spec.test_program.name}",
                "TEST_ARGS": " ".join(spec.test_args)}
    if spec.script:
        settings["SCRIPT"] = spec.script
    if spec.capture:
        settings["CAPTURE_PORT"] = guest_capture.PORT
    return initramfs.with_run_config(base, settings, workdir / "initrd.img", list(spec.run_files))


def _guest_lib() -> cpio.Entry:
    try:
        data = GUEST_LIB_SOURCE.read_bytes()
    except OSError as e:
        raise UserError(f"{GUEST_LIB_SOURCE}: cannot read it ({e.strerror})") from None
    return cpio.file(GUEST_LIB.lstrip("/"), data, 0o644)


class GuestSession:
    """One test guest: its image, its QEMU, the KTAP it prints, and a result for every planned case.

    A topology boots each of its guests with boot(), follows the one its results come from with
    follow(), and reads the report with result(); the with-block passed to boot() stops QEMU."""

    def __init__(self, spec: GuestSpec, workdir: Path, results_dir: Path, label: str = "",
                 devices: list[str] = (), peer_socket: Path | None = None, plain_devices: list[str] = (),
                 capture_name: str = ""):
        self.spec = spec
        self.workdir = workdir / label if label else workdir
        self.files = GuestFiles.named(results_dir, label)
        # With spec.capture, where the guest's pcap lands (guest_capture.file_name).
        self.capture_pcap = results_dir / (capture_name or guest_capture.file_name())
        self.devices = list(devices)  # need shared guest RAM (qemu.guest_argv)
        self.plain_devices = list(plain_devices)
        self.peer_socket = peer_socket
        self.times = {"start": time.monotonic()}
        self.accel = ""
        self.argv: list[str] = []
        self.guest: qemu.Guest | None = None
        self.follower: _Follower | None = None
        self.stream: KtapStream | None = None
        self.stalled: float | None = None

    def boot(self, running: contextlib.ExitStack) -> qemu.Guest:
        """Builds the image and starts QEMU; leaving `running` stops it."""
        initrd = build_image(self.spec, self.workdir)
        self.times["image"] = time.monotonic()
        spec = self.spec
        self.accel = qemu.accel_for(spec.kernel.vmlinuz) if spec.accel == "auto" else spec.accel
        self.files.ktap.write_bytes(b"")
        self.argv = qemu.guest_argv(vmlinuz=spec.kernel.vmlinuz, initrd=initrd, ktap_path=self.files.ktap,
                                    console_log=self.files.console, accel=self.accel,
                                    memory_mib=spec.memory_mib, cpus=spec.cpus, devices=self.devices,
                                    cpu_model=spec.cpu_model,
                                    peer_socket=self.peer_socket,
                                    plain_devices=self.plain_devices + self._capture_port())
        self.guest = running.enter_context(qemu.Guest(self.argv, log=self.files.qemu_log))
        self.times["qemu"] = time.monotonic()
        return self.guest

    def _capture_port(self) -> list[str]:
        if not self.spec.capture:
            return []
        self.capture_pcap.write_bytes(b"")  # not the pcap of an earlier run into this directory
        return guest_capture.port_args(self.capture_pcap)

    def follow(self, on_result: Callable[[object], None] = lambda result: None,
               more: list[KtapStream] = (), quiet_after: dict[str, float] | None = None) -> None:
        """Follows the KTAP until QEMU exits or the guest falls silent, then stops QEMU. `more` are
        further KTAP files this guest's QEMU writes (a nested guest's own guest); output on any
        of them keeps the guest alive. quiet_after: see KtapStream."""
        self.stream = KtapStream(self.files.ktap, on_result, quiet_after=quiet_after)
        self.follower = _Follower(self.spec.boot_timeout_s, self.times)
        self.stalled = self.follower.follow(self.guest, [self.stream, *more])
        self.guest.stop()
        self.times["end"] = time.monotonic()

    def result(self, on_result: Callable[[object], None] = lambda result: None) -> GuestRun:
        """The complete report of a followed guest: a result for each planned case, saying why if missing."""
        report = self.stream_report(self.stream, self.spec.cases, self.files.console, on_result)
        return GuestRun(report, self.accel, self.argv, durations(self.times))

    def stream_report(self, stream: "KtapStream", cases: list[Case], console_log: Path,
                      on_result: Callable[[object], None] = lambda result: None) -> Report:
        """One followed stream's report, with a result for each of `cases`; console_log is the
        console of the kernel that wrote the stream (it says why cases are missing)."""
        report = stream.parser.finish()
        _account_for_every_case(report, cases, self.stalled, self.guest.returncode, console_log, on_result)
        return report

    def how_it_ended(self, stopped: bool) -> str | None:
        """For a guest nobody followed: None if its harness reported its exit, else what went wrong,
        with the end of its console; `stopped` says the runner had to stop its QEMU."""
        ended = self.ending(stopped)
        if ended is None:
            return None
        why, tail = ended
        return "; ".join([why, f"console ({self.files.console.name}) ends:"] + tail) if tail else why

    def ending(self, stopped: bool) -> tuple[str, list[str]] | None:
        """how_it_ended in two parts: what went wrong, and the last lines of the console."""
        if b"# vsockcheck-guest: exit=" in _read_bytes(self.files.ktap):
            return None
        return console_ending(self.files.console, stopped, self.guest.returncode if self.guest else None)


def console_ending(console_log: Path, stopped: bool, status: int | None) -> tuple[str, list[str]]:
    """Why a guest whose harness did not finish ended, and the last lines of its console; also for
    a guest the runner did not start itself (nested: L2a, whose QEMU's status L1 reports)."""
    lines = _console_lines(console_log)
    panic = next((line for line in lines if "Kernel panic" in line), None)
    if panic is not None:
        why = f"its kernel panicked ({panic.strip()})"
    elif stopped:
        why = "it was still running when the other side had finished, and was stopped"
    else:
        why = f"QEMU exited (status {status}) before its harness finished"
    return why, lines[-CONSOLE_TAIL_LINES:]


def last_lines(path: Path, count: int) -> list[str]:
    """The last `count` lines of a text file that are not blank ([] if it is missing)."""
    return _console_lines(path)[-count:]


def run(spec: GuestSpec, workdir: Path, results_dir: Path,
        on_result: Callable[[object], None] = lambda result: None) -> GuestRun:
    """Boots one guest and returns its complete report; on_result sees each case as it finishes."""
    session = GuestSession(spec, workdir, results_dir)
    with contextlib.ExitStack() as running:
        if spec.device_cid is not None:
            port = VmPort(spec.device_cid, workdir / "vhost-user-vsock.sock")
            device = running.enter_context(VhostUserDevice([port], results_dir / "vhost-user-vsock.log"))
            session.devices = device.qemu_args(spec.device_cid)
        session.boot(running)
        session.follow(on_result)
    return session.result(on_result)


class KtapStream:
    """One KTAP file a QEMU appends to, and its parser; on_result sees each case as it finishes.
    With ktap=False the file (a nested guest's console) only shows that the guest is alive."""

    def __init__(self, path: Path, on_result: Callable[[object], None] = lambda result: None,
                 ktap: bool = True, quiet_after: dict[str, float] | None = None):
        self.path = path
        self.ktap = ktap
        # A line starting with a key announces that many seconds of silence (an L2 boot).
        self.quiet_after = quiet_after or {}
        self.on_result = on_result
        self.parser = Parser()
        self.partial = b""
        self.first_began: float | None = None  # when its first case began


class _Follower:
    """Reads the KTAP files as QEMU appends to them, and keeps the runner's own deadline."""

    def __init__(self, boot_timeout_s: float, times: dict):
        self.times = times
        self.last_output = time.monotonic()
        self.deadline = self.last_output + boot_timeout_s

    def follow(self, guest: qemu.Guest, streams: list[KtapStream]) -> float | None:
        """Returns None when QEMU exited by itself, else the seconds of silence after which it was stopped."""
        with contextlib.ExitStack() as files:
            readers = [(stream, files.enter_context(open(stream.path, "rb"))) for stream in streams]
            while True:
                exited = guest.returncode is not None
                for stream, reader in readers:
                    self._take(stream, reader.read())
                if exited:
                    return None
                if time.monotonic() > self.deadline:
                    return time.monotonic() - self.last_output
                time.sleep(POLL_S)  # QEMU appends to a plain file: there is nothing to wait on

    def _take(self, stream: KtapStream, chunk: bytes) -> None:
        if not chunk:
            return
        lines = (stream.partial + chunk).split(b"\n")
        stream.partial = lines.pop()
        for raw in lines:
            now = self.last_output = time.monotonic()
            self._extend(IDLE_S, now)
            for prefix, seconds in stream.quiet_after.items():
                if raw.startswith(prefix.encode()):
                    self._extend(seconds, now)
            if not stream.ktap:
                continue
            self.times.setdefault("first_line", now)
            for event in stream.parser.feed(raw.decode("utf-8", "replace"), t=now):
                self._on_event(stream, event, now)

    def _on_event(self, stream: KtapStream, event: Event, now: float) -> None:
        if isinstance(event, CaseBegan):
            if stream.first_began is None:
                stream.first_began = now
            self._extend((event.timeout_s or 0) + CASE_GRACE_S, now)
        elif isinstance(event, CaseFinished):
            self.times["last_result"] = now
            stream.on_result(event.result)

    def _extend(self, seconds: float, now: float) -> None:
        self.deadline = max(self.deadline, now + seconds)


def _account_for_every_case(report: Report, cases: list[Case], stalled: float | None,
                            exit_status: int | None, console_log: Path, on_result) -> None:
    """Adds a result for each planned case the guest never reported, saying why."""
    missing = [n for n in range(1, len(cases) + 1) if report.result(n) is None]
    if not missing:
        return
    lines = _console_lines(console_log)
    tail = lines[-CONSOLE_TAIL_LINES:]
    panic = next((line for line in lines if "Kernel panic" in line), None)
    if stalled is not None:
        why = f"the guest printed nothing for {stalled:.0f} s and was stopped"
    elif panic is not None:
        why = f"the guest kernel panicked ({panic.strip()})"
    else:
        why = f"QEMU exited (status {exit_status}) before the guest finished"
    dying = report.unfinished()
    for number in missing:
        name = cases[number - 1].name
        if dying is not None and dying.number == number:
            status = TIMEOUT if stalled is not None else FAIL
            lines = report.take_trailing() + ["console: " + line for line in tail]
            result = synthesize_result(number, name, status, why + " during this case", lines)
            report.add_result(result)
            on_result(result)
        else:
            report.add_result(synthesize_result(number, name, ERROR, "not run: " + why))
    report.results.sort(key=lambda r: r.number)


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b""


def _console_lines(console_log: Path) -> list[str]:
    try:
        text = console_log.read_text("utf-8", "replace")
    except OSError:
        return []
    return [line.rstrip() for line in text.splitlines() if line.strip()]


def durations(times: dict) -> dict[str, float]:
    """initramfs, accel probe, boot (QEMU start to the first KTAP line), tests, power-off, total."""
    first = times.get("first_line", times["end"])
    last = times.get("last_result", first)
    return {
        "initramfs_s": round(times["image"] - times["start"], 3),
        "accel_probe_s": round(times["qemu"] - times["image"], 3),
        "boot_s": round(first - times["qemu"], 3),
        "tests_s": round(last - first, 3),
        "poweroff_s": round(times["end"] - last, 3),
        "total_s": round(times["end"] - times["start"], 3),
    }
