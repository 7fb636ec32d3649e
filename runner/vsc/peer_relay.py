"""Carries the peer channel between its two ends (two guests' control ports, or a guest's and the
host program's) and writes down every byte that crosses, with the time and the direction."""

from __future__ import annotations

import errno
import os
import select
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from vsc.errors import UserError

CHUNK = 65536
# Bytes waiting for one end before the relay stops reading from the other: the control channel
# carries short lines, so only a stuck end ever gets here, and it must not take the runner's memory.
MAX_PENDING = 1 << 20
# After one end has gone, how long the other may take to accept what is still on its way to it.
FLUSH_S = 2.0
CONNECT_POLL_S = 0.01


@dataclass
class End:
    """One end of the channel: a connected stream socket and the name the transcript gives it."""

    name: str
    sock: socket.socket


def connect_unix(path: Path, timeout_s: float, alive: Callable[[], bool] = lambda: True) -> socket.socket:
    """A stream connection to the Unix socket `path`, waiting up to timeout_s for something (QEMU)
    to listen there; `alive` says whether that listener's process still runs."""
    deadline = time.monotonic() + timeout_s
    while True:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(str(path))
            return sock
        except (FileNotFoundError, ConnectionRefusedError) as e:
            sock.close()
            if not alive():
                raise UserError(f"peer channel {path}: its QEMU exited before listening there") from None
            if time.monotonic() > deadline:
                raise UserError(f"peer channel {path}: nothing listened there within {timeout_s:.0f} s "
                                f"({e.strerror})") from None
        except OSError as e:
            sock.close()
            raise UserError(f"peer channel {path}: cannot connect ({e.strerror})") from None
        time.sleep(CONNECT_POLL_S)  # QEMU creates its listening socket as it starts: nothing to wait on


class PeerRelay:
    """Pumps bytes both ways in a thread until either end closes, then closes the other, so its
    side sees the peer gone. Leaving the with-block stops the thread and closes every descriptor."""

    def __init__(self, a: End, b: End, transcript: Path):
        self.ends = (a, b)
        self.transcript_path = Path(transcript)
        self.closed_by: str | None = None  # the end whose close ended the relay
        self.bytes = {a.name: 0, b.name: 0}  # bytes each end sent
        self._wake_r, self._wake_w = os.pipe()
        self._thread: threading.Thread | None = None
        self._transcript = None
        self._started = time.monotonic()
        self._closed = False

    def start(self) -> "PeerRelay":
        try:
            self._transcript = open(self.transcript_path, "w", encoding="utf-8")
        except OSError as e:
            self._close_all()
            raise UserError(f"peer transcript {self.transcript_path}: cannot write it ({e.strerror})") from None
        a, b = self.ends
        self._write(f"# peer channel {a.name} <-> {b.name}; seconds since the relay started, "
                    "sender > receiver, the bytes")
        for end in self.ends:
            end.sock.setblocking(False)
        self._started = time.monotonic()
        self._thread = threading.Thread(target=self._pump, name="vsc-peer-relay", daemon=True)
        self._thread.start()
        return self

    def done(self) -> bool:
        """Whether the relay has ended (one end closed, or stop() was called)."""
        return self._thread is not None and not self._thread.is_alive()

    def stop(self) -> None:
        """Ends the relay, waits for its thread, closes every descriptor; safe to call any number of times."""
        if self._thread is not None and self._thread.is_alive():
            try:
                os.write(self._wake_w, b"x")
            except OSError:
                pass
            self._thread.join()
        self._close_all()

    def __enter__(self) -> "PeerRelay":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _pump(self) -> None:
        a, b = self.ends
        other = {a.name: b, b.name: a}
        pending = {a.name: bytearray(), b.name: bytearray()}  # bytes on their way to that end
        flush_deadline = None  # set once one end has gone: then only what is pending still moves
        try:
            while True:
                readable = [] if flush_deadline is not None else [
                    e.sock for e in self.ends if len(pending[other[e.name].name]) < MAX_PENDING]
                writable = [e.sock for e in self.ends if pending[e.name]]
                if flush_deadline is not None and not writable:
                    return
                timeout = None if flush_deadline is None else max(0.0, flush_deadline - time.monotonic())
                r, w, _ = select.select([self._wake_r, *readable], writable, [], timeout)
                if self._wake_r in r:
                    self._note("the runner stopped the relay")
                    return
                if not r and not w:
                    self._note("gave up delivering the last bytes")  # the flush deadline passed
                    return
                for end in self.ends:
                    if end.sock in r and not self._receive(end, pending[other[end.name].name]):
                        self.closed_by = end.name
                        self._note(f"{end.name} closed its end; closing {other[end.name].name}'s")
                        flush_deadline = time.monotonic() + FLUSH_S
                        break
                for end in self.ends:
                    if end.sock in w and not self._send(end, pending[end.name]):
                        self.closed_by = self.closed_by or end.name
                        self._note(f"{end.name} stopped accepting bytes; closing {other[end.name].name}'s")
                        return
        except Exception as e:  # never let the thread die silently: the transcript says why
            self._note(f"relay failed: {e!r}")
        finally:
            self._close_sockets()

    def _receive(self, end: End, into: bytearray) -> bool:
        """Reads what `end` sent into the other end's queue; False at end of file or a reset."""
        try:
            data = end.sock.recv(CHUNK)
        except BlockingIOError:
            return True
        except OSError as e:
            if e.errno not in (errno.ECONNRESET, errno.EPIPE):
                raise
            data = b""
        if not data:
            return False
        self.bytes[end.name] += len(data)
        receiver = self.ends[1] if end is self.ends[0] else self.ends[0]
        self._write(f"{self._elapsed()} {end.name} > {receiver.name} {bytes(data)!r}")
        into += data
        return True

    def _send(self, end: End, queue: bytearray) -> bool:
        try:
            sent = end.sock.send(queue)
        except BlockingIOError:
            return True
        except OSError as e:
            if e.errno not in (errno.ECONNRESET, errno.EPIPE):
                raise
            queue.clear()
            return False
        del queue[:sent]
        return True

    def _note(self, text: str) -> None:
        self._write(f"{self._elapsed()} # {text}")

    def _elapsed(self) -> str:
        return f"{time.monotonic() - self._started:9.3f}"

    def _write(self, line: str) -> None:
        if self._transcript is not None and not self._transcript.closed:
            self._transcript.write(line + "\n")
            self._transcript.flush()  # the transcript is read when a run went wrong: keep it current

    def _close_sockets(self) -> None:
        for end in self.ends:
            try:
                end.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # not connected any more
            end.sock.close()

    def _close_all(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._close_sockets()
        for fd in (self._wake_r, self._wake_w):
            os.close(fd)
        if self._transcript is not None:
            self._transcript.close()
