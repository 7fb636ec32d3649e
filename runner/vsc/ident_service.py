"""The identity service on this machine: what a guest reaches at CID 2 on the identity port,
through our device's bridge (a Unix listener at <uds>_<port>). Each connection gets the line
`vsockcheck-ident NAME`, then its bytes echoed until end of file (vsockcheck-tests --ident is
the same service in a guest)."""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path


class IdentityService:
    def __init__(self, path: Path, name: str):
        self.path = Path(path)
        self.name = name
        self.listener: socket.socket | None = None
        self.connections = 0

    def __enter__(self) -> "IdentityService":
        if self.path.exists():
            self.path.unlink()
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(str(self.path))
        self.listener.listen(16)
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.listener.close()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return  # closed by __exit__
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            try:
                conn.sendall(f"vsockcheck-ident {self.name}\n".encode())
                while data := conn.recv(65536):
                    conn.sendall(data)
            except OSError:
                pass  # the guest reset the connection: nothing to answer
