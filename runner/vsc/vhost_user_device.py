"""Our userspace vsock device (build/bin/vhost-user-vsock): one process beside the QEMUs of
several guests, each VM with its own vhost-user socket and, optionally, a hybrid-vsock bridge."""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from vsc import qemu
from vsc.errors import UserError
from vsc.sanitizers import sanitizer_findings
from vsc.paths import GUEST_BIN_DIR

DEFAULT_PROGRAM = GUEST_BIN_DIR / "vhost-user-vsock"
PROGRAM_ENV = "VSC_BACKEND_PROGRAM"  # e.g. a sanitizer build of the backend
READY_TIMEOUT_S = 5.0
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
    """The backend process serving `vms`; ready once every VM's socket exists; stopped (SIGTERM,
    which unlinks its sockets) on leaving the with-block."""

    def __init__(self, vms: list[VmPort], log: Path, pcap: Path | None = None):
        if not vms:
            raise ValueError("VhostUserDevice needs at least one VmPort")
        cids = [vm.cid for vm in vms]
        if len(set(cids)) != len(cids):
            raise ValueError(f"VhostUserDevice: duplicate guest CIDs {cids}")
        self.vms = list(vms)
        self.log = Path(log)
        self.pcap = pcap
        self.process: subprocess.Popen | None = None

    def qemu_args(self, cid: int) -> list[str]:
        """The -chardev/-device pair for the QEMU of the guest with this CID."""
        vm = next((vm for vm in self.vms if vm.cid == cid), None)
        if vm is None:
            raise ValueError(f"no VM with cid {cid} on this backend ({[v.cid for v in self.vms]})")
        chardev = f"vsc_vsock{cid}"
        return ["-chardev", f"socket,id={chardev},path={vm.socket_path}",
                "-device", f"vhost-user-vsock-pci,chardev={chardev}"]

    def start(self) -> "VhostUserDevice":
        binary = program()
        if not binary.exists():
            raise UserError(f"{binary} is missing: run 'make' first")
        argv = backend_argv(binary, self.vms, self.pcap)
        with open(self.log, "wb") as out:
            self.process = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True, preexec_fn=qemu.die_with_runner)
        deadline = time.monotonic() + READY_TIMEOUT_S
        # The backend creates every bridge socket first and the vhost-user sockets last.
        while not all(vm.socket_path.exists() for vm in self.vms):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                last = (self.log.read_text(errors="replace").strip().splitlines() or ["no output"])[-1]
                raise UserError(f"{binary.name} did not start listening on "
                                f"{', '.join(str(vm.socket_path) for vm in self.vms)}: {last}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

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
            raise UserError(f"{program().name}: sanitizer report in {self.log}: {found[0]}")
