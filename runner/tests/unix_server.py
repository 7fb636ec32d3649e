"""A Unix stream listener served from a thread, for the tests' stand-ins of the device's bridge."""

from __future__ import annotations

import socket
import threading
from pathlib import Path


def read_line(conn: socket.socket) -> bytes:
    """One line read byte by byte, as the bridge protocol is read (nothing after the newline is
    taken); what came before an EOF if there is no newline."""
    line = b""
    while not line.endswith(b"\n") and (byte := conn.recv(1)):
        line += byte
    return line


class UnixServer:
    """Listens on `path`; each connection goes to handle(conn), in its own thread if `threaded`,
    else one after the other. Subclasses write handle()."""

    def __init__(self, path: Path, backlog: int = 8, threaded: bool = False):
        self.path = path
        self.threaded = threaded
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(str(path))
        self.listener.listen(backlog)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def handle(self, conn: socket.socket) -> None:
        raise NotImplementedError

    def _one(self, conn: socket.socket) -> None:
        with conn:
            self.handle(conn)

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return  # closed
            if self.threaded:
                threading.Thread(target=self._one, args=(conn,), daemon=True).start()
            else:
                self._one(conn)

    def close(self) -> None:
        try:
            self.listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.listener.close()
        self.thread.join(5)
