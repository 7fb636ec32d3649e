"""Our userspace vsock device (build/bin/vhost-user-vsock) running beside a guest's QEMU."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from vsc import qemu
from vsc.errors import UserError
from vsc.paths import GUEST_BIN_DIR

PROGRAM = GUEST_BIN_DIR / "vhost-user-vsock"
READY_TIMEOUT_S = 5.0
CHARDEV_ID = "vsc_vsock"


class VhostUserDevice:
    """The backend process, listening on `socket_path` for QEMU; stopped on leaving the with-block."""

    def __init__(self, socket_path: Path, guest_cid: int, log: Path):
        self.socket_path = Path(socket_path)
        self.guest_cid = guest_cid
        self.log = log
        self.process: subprocess.Popen | None = None

    def qemu_args(self) -> list[str]:
        return ["-chardev", f"socket,id={CHARDEV_ID},path={self.socket_path}",
                "-device", f"vhost-user-vsock-pci,chardev={CHARDEV_ID}"]

    def start(self) -> "VhostUserDevice":
        if not PROGRAM.exists():
            raise UserError(f"{PROGRAM} is missing: run 'make' first")
        with open(self.log, "wb") as out:
            self.process = subprocess.Popen(
                [str(PROGRAM), "--socket-path", str(self.socket_path), "--guest-cid",
                 str(self.guest_cid), "--verbose"],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True, preexec_fn=qemu.die_with_runner)
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not self.socket_path.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                last = (self.log.read_text(errors="replace").strip().splitlines() or ["no output"])[-1]
                raise UserError(f"{PROGRAM.name} did not start listening on {self.socket_path}: {last}")
            time.sleep(0.01)  # the backend creates its socket right after it starts
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> "VhostUserDevice":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
