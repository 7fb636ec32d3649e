"""Scripted guests beside our vhost-user vsock backend, for the interop tests: each guest runs one
shell command line (with socat and vsock-ss in its initramfs) and prints markers on its KTAP port."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import tempfile
import time
from pathlib import Path

from tests.unix_server import read_line
from vsc import guest_session, kernels, qemu
from vsc.cli import DEFAULT_KERNEL
from vsc.errors import UserError
from vsc.paths import GUEST_BIN_DIR
from vsc.vhost_user_device import VhostUserDevice, VmPort, program

SOCAT = Path("/usr/bin/socat")
VSOCK_SS = GUEST_BIN_DIR / "vsock-ss"
MODULES = ("virtio_pci", "virtio_console", "vsock", "vmw_vsock_virtio_transport", "vsock_diag")
# The guest's "test program": its arguments are one command line. Fixed content, so the cached
# base image is shared by every test; the command travels in run.conf.
RUNNER_SCRIPT = '#!/bin/sh\n# Runs its arguments as one shell command line.\neval "$*"\n'
READY_S = 180.0  # boot under TCG on a machine shared with other helpers' guests


def default_kernel():
    try:
        return kernels.resolve(DEFAULT_KERNEL, fetch=False)
    except UserError:
        return None


def missing() -> str | None:
    """Why these tests cannot run here, or None."""
    if not SOCAT.exists():
        return "socat is not installed (make deps)"
    if not program().exists() or not VSOCK_SS.exists():
        return "not built: run make"
    if default_kernel() is None:
        return f"{DEFAULT_KERNEL} is not cached"
    return None


def wait_listening(port: int) -> str:
    """Guest shell: wait until a vsock socket listens on `port` (sock_diag, not a sleep)."""
    return f"until vsock-ss -l -H | grep -q ':{port} '; do sleep 0.1; done"


class RunningGuest:
    def __init__(self, guest: qemu.Guest, out: Path, console: Path):
        self.guest, self.out, self.console = guest, out, console

    def text(self) -> str:
        return self.out.read_text(errors="replace") if self.out.exists() else ""

    def wait_for(self, marker: str, timeout: float = READY_S) -> str:
        """The guest's output once `marker` is in it; an AssertionError if the guest ends first."""
        deadline = time.monotonic() + timeout
        while marker not in self.text():
            if self.guest.returncode is not None or time.monotonic() > deadline:
                tail = self.console.read_text(errors="replace").splitlines()[-8:] \
                    if self.console.exists() else []
                raise AssertionError(f"guest never printed {marker!r}; output {self.text()!r}; "
                                     f"console tail {tail}")
            time.sleep(0.05)  # QEMU appends to a plain file: nothing to wait on
        return self.text()

    def kill(self) -> None:
        """SIGKILL to QEMU: the backend sees its connection drop mid-flight."""
        os.killpg(self.guest.process.pid, signal.SIGKILL)
        self.guest.wait(10)


class Rig(contextlib.ExitStack):
    """A temporary directory, one backend, and the guests booted on it; all gone on exit."""

    def __enter__(self) -> "Rig":
        super().__enter__()
        self.dir = Path(self.enter_context(tempfile.TemporaryDirectory(prefix="vsockcheck-bridge-")))
        self.kernel = default_kernel()
        runner = self.dir / "vsc-guest-script"
        runner.write_text(RUNNER_SCRIPT)
        runner.chmod(0o755)
        self.runner = runner
        self.count = 0
        return self

    def backend(self, cids: list[int], bridges: bool = True) -> VhostUserDevice:
        self.ports = [VmPort(cid, self.dir / f"vu{cid}.sock", self.dir / f"uds{cid}" if bridges else None)
                      for cid in cids]
        self.log = self.dir / "backend.log"
        self.device = self.enter_context(VhostUserDevice(self.ports, self.log))
        return self.device

    def uds(self, cid: int) -> Path:
        return next(p.uds_path for p in self.ports if p.cid == cid)

    def guest(self, cid: int, command: str) -> RunningGuest:
        self.count += 1
        name = f"g{self.count}-cid{cid}"
        work = self.dir / name
        work.mkdir()
        spec = guest_session.GuestSpec(
            kernel=self.kernel, modules=MODULES, test_program=self.runner, test_args=[command],
            cases=[], guest_tools=(SOCAT, VSOCK_SS), accel="tcg", cpus=1)
        initrd = guest_session.build_image(spec, work)
        out, console = work / "out", work / "console.log"
        argv = qemu.guest_argv(vmlinuz=self.kernel.vmlinuz, initrd=initrd, ktap_path=out,
                               console_log=console, accel="tcg", memory_mib=512, cpus=1,
                               devices=self.device.qemu_args(cid))
        guest = self.enter_context(qemu.Guest(argv, log=work / "qemu.log"))
        return RunningGuest(guest, out, console)

    def backend_log(self) -> str:
        return self.log.read_text(errors="replace")


def bridge_connect(uds: Path, port: int, timeout: float = 10.0) -> tuple[socket.socket, bytes]:
    """Connects to a VM's bridge and asks for `port`: (the stream, the answer line or b"")."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(str(uds))
    s.sendall(b"CONNECT %d\n" % port)
    return s, read_line(s)


def recv_all(s: socket.socket) -> bytes:
    parts = []
    while chunk := s.recv(1 << 16):
        parts.append(chunk)
    return b"".join(parts)
