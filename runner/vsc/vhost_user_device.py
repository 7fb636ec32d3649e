"""Our userspace vsock device (build/bin/vhost-user-vsock): one process beside the QEMUs of
several guests, each VM with its own vhost-user socket and, optionally, a hybrid-vsock bridge."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from vsc import device_spec, qemu
from vsc.errors import UserError
from vsc.sanitizers import sanitizer_findings
from vsc.paths import GUEST_BIN_DIR

DEFAULT_PROGRAM = GUEST_BIN_DIR / "vhost-user-vsock"
PROGRAM_ENV = "VSC_BACKEND_PROGRAM"  # e.g. a sanitizer build of the backend
READY_TIMEOUT_S = 5.0
# A device author's backend may be a debug build, or set up more before it listens.
EXTERNAL_READY_TIMEOUT_S = 10.0
LOG_TAIL_LINES = 5
STOP_TIMEOUT_S = 5.0


def program() -> Path:
    """The backend binary to start: $VSC_BACKEND_PROGRAM if set, else the one `make` builds."""
    return Path(os.environ.get(PROGRAM_ENV) or DEFAULT_PROGRAM)


@dataclass(frozen=True)
class VmPort:
    """One guest of the backend: its CID, the socket its QEMU connects to, its bridge socket."""

    cid: int
    socket_path: Path
    uds_path: Path | None = None

    def option(self) -> str:
        text = f"cid={self.cid},socket={self.socket_path}"
        if self.uds_path is not None:
            text += f",uds={self.uds_path}"
        if text.count(",") != (2 if self.uds_path is not None else 1):
            raise UserError(f"vhost-user-vsock: a path may not contain a comma: {text}")
        return text


def backend_argv(binary: Path, vms: list[VmPort], pcap: Path | None, verbose: bool = True) -> list[str]:
    argv = [str(binary)]
    for vm in vms:
        argv += ["--vm", vm.option()]
    if pcap is not None:
        argv += ["--pcap", str(pcap)]
    return argv + (["--verbose"] if verbose else [])


class VhostUserDevice:
    """The backend process serving `vms`: ours, or the one `device` (--device vhost-user:...)
    names. Ready once every VM's vhost-user socket exists; stopped (SIGTERM, which makes ours
    unlink its sockets; an external backend's whole process group) on leaving the with-block."""

    def __init__(self, vms: list[VmPort], log: Path, pcap: Path | None = None,
                 device: device_spec.DeviceSpec = device_spec.DeviceSpec()):
        if not vms:
            raise ValueError("VhostUserDevice needs at least one VmPort")
        cids = [vm.cid for vm in vms]
        if len(set(cids)) != len(cids):
            raise ValueError(f"VhostUserDevice: duplicate guest CIDs {cids}")
        self.vms = list(vms)
        self.log = Path(log)
        self.pcap = pcap
        self.device = device
        self.process: subprocess.Popen | None = None
        self.exited_early: int | None = None  # its status, when it ended before we stopped it

    def qemu_args(self, cid: int) -> list[str]:
        """The -chardev/-device pair for the QEMU of the guest with this CID."""
        vm = next((vm for vm in self.vms if vm.cid == cid), None)
        if vm is None:
            raise ValueError(f"no VM with cid {cid} on this backend ({[v.cid for v in self.vms]})")
        chardev = f"vsc_vsock{cid}"
        return ["-chardev", f"socket,id={chardev},path={vm.socket_path}",
                "-device", f"vhost-user-vsock-pci,chardev={chardev}"]

    def start(self) -> "VhostUserDevice":
        if self.device.external:
            argv, timeout_s = self.device.argv(self.vms), EXTERNAL_READY_TIMEOUT_S
            if shutil.which(argv[0]) is None:
                raise UserError(f"--device template {self.device.template!r}: command {argv[0]!r} is not "
                                "found or not executable")
        else:
            binary = program()
            if not binary.exists():
                raise UserError(f"{binary} is missing: run 'make' first")
            argv, timeout_s = backend_argv(binary, self.vms, self.pcap), READY_TIMEOUT_S
        with open(self.log, "wb") as out:
            try:
                self.process = subprocess.Popen(
                    argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                    start_new_session=True, preexec_fn=qemu.die_with_runner)
            except OSError as e:
                raise UserError(f"{self.name()}: cannot start {argv[0]}: {e.strerror}") from None
        deadline = time.monotonic() + timeout_s
        # Ours creates every bridge socket first and the vhost-user sockets last; an external
        # backend is only asked for the vhost-user sockets, which QEMU needs.
        while not all(vm.socket_path.exists() for vm in self.vms):
            status = self.process.poll()
            if status is not None or time.monotonic() > deadline:
                self.stop()
                how = (f"exited with status {status}" if status is not None
                       else f"did not create it within {timeout_s:g} s")
                missing = ", ".join(str(vm.socket_path) for vm in self.vms if not vm.socket_path.exists())
                raise UserError(f"{self.name()} {how}: no socket {missing}; {self.log_tail()}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is not None:
            if self.exited_early is None:
                self.exited_early = self.process.returncode
            if self.device.external:
                # What it left running in its group (a wrapper's children) goes too.
                _signal_group(self.process.pid, signal.SIGKILL)
            return
        if self.device.external:
            # Its command may be a wrapper with children: end the whole group it leads.
            _signal_group(self.process.pid, signal.SIGTERM)
        else:
            self.process.terminate()
        try:
            self.process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            _signal_group(self.process.pid, signal.SIGKILL)
            self.process.kill()
            self.process.wait()

    def name(self) -> str:
        """The backend as errors and notes name it."""
        if self.device.external:
            return f"the device of --device template {self.device.template!r}"
        return program().name

    def log_tail(self) -> str:
        try:
            lines = [line for line in self.log.read_text(errors="replace").splitlines() if line.strip()]
        except OSError:
            lines = []
        tail = lines[-LOG_TAIL_LINES:]
        return f"{self.log.name} ends: " + " | ".join(tail) if tail else f"{self.log.name} is empty"

    def early_exit_note(self) -> str | None:
        """What to say when the backend ended by itself during the run (a crash, most likely)."""
        if self.exited_early is None:
            return None
        status = self.exited_early
        how = f"killed by signal {-status}" if status < 0 else f"exited with status {status}"
        return f"{self.name()} {how} before the run ended; {self.log_tail()}"

    def findings(self) -> list[str]:
        """Sanitizer reports in the backend's log (a sanitizer build stops at its first one)."""
        if not self.log.exists():
            return []
        return sanitizer_findings(self.log.read_text(errors="replace"))

    def __enter__(self) -> "VhostUserDevice":
        return self.start()

    def __exit__(self, exc_type, *exc) -> None:
        self.stop()
        found = self.findings()
        # A memory error in the device would make every result of the run suspect: say so, unless
        # an error is already on its way out.
        if found and exc_type is None:
            raise UserError(f"{self.name()}: sanitizer report in {self.log}: {found[0]}")


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass
