"""Runs a Placement (vsc.exec_placement) for vsockcheck exec: starts our device if a guest needs
it, boots the guests, starts the client once the server listens, and follows every peer to its
end, a dead guest or the timeout. Leaving it always stops QEMU, the device and the host peer."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

from vsc import exec_nested, exec_net, exec_plan, guest_session, initramfs, qemu, topology, vhost_user_device
from vsc.errors import UserError
from vsc.exec_placement import GuestPlacement, Placement
from vsc.exec_plan import CLIENT, GO, NO_GO, ROLES, SERVER, ExecRequest
from vsc.paths import GUEST_BIN_DIR
from vsc.peer_relay import connect_unix
from vsc.topology import BACKEND_LOG, PEER_FINISH_S

HOSTWRAP = GUEST_BIN_DIR / "vsock-hostwrap"
POLL_S = 0.05
SIGNAL_STATUS_BASE = 128  # a shell's status for a command that signal N killed is 128 + N


@dataclass
class Peer:
    """One peer as the run saw it."""

    role: str
    where: str
    log: Path
    started: bool = False
    listening: bool = False
    status: int | None = None     # its exit status, when it ended by itself
    killed_by: int | None = None  # the signal that ended a host peer
    problem: str | None = None    # why it has no exit status: not started, timed out, its guest died

    @property
    def done(self) -> bool:
        return self.status is not None or self.killed_by is not None or self.problem is not None

    @property
    def ok(self) -> bool:
        return self.status == 0

    def how(self) -> str:
        """exit N, killed by SIGNAL, or what kept it from an exit status of its own."""
        if self.problem is not None:
            return self.problem
        if self.killed_by is not None:
            return f"killed by {_signal_name(self.killed_by)}"
        if SIGNAL_STATUS_BASE < self.status <= SIGNAL_STATUS_BASE + 64:
            signum = self.status - SIGNAL_STATUS_BASE
            return f"exit {self.status} (killed by {_signal_name(signum)}, as its shell reports it)"
        return f"exit {self.status}"


@dataclass
class ExecResult:
    peers: dict[str, Peer]
    control_port: int
    commands: list[tuple[str, list[str]]] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what the guests said beside the peers' status
    # (guest, its console file, the console's last lines) of each guest that died under its peers
    consoles: list[tuple[str, str, list[str]]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(peer.ok for peer in self.peers.values())


def _signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


class _LineFile:
    """A file QEMU appends to, read line by line as it grows; `who` wrote it, if not the guest
    the runner booted (its notes name it)."""

    def __init__(self, path: Path, who: str = ""):
        self.stream = open(path, "rb")
        self.partial = b""
        self.who = who

    def new_lines(self) -> list[str]:
        chunk = self.stream.read()
        if not chunk:
            return []
        lines = (self.partial + chunk).split(b"\n")
        self.partial = lines.pop()
        return [raw.decode("utf-8", "replace") for raw in lines]

    def close(self) -> None:
        self.stream.close()


class _GuestRunning:
    """A booted guest of the placement, and where its script's status lines are read from: its
    own KTAP port and, in nested, the status port of its guest L2a (read after its own, so that
    L2a's lines written before L1 says L2a is gone are seen with that line)."""

    def __init__(self, placement: GuestPlacement, session: guest_session.GuestSession, qemu_guest: qemu.Guest,
                 results_dir: Path):
        self.placement = placement
        self.session = session
        self.qemu = qemu_guest
        self.l2_files = exec_nested.l2_files(results_dir) if placement.in_l2 else None
        self.streams = [_LineFile(session.files.ktap)]
        if self.l2_files is not None:
            self.streams.append(_LineFile(self.l2_files.ktap, placement.l2_name))
        self.go_socket = None  # the client's go channel, for a guest whose client waits for it
        self.ended = False
        self.l2_gone: int | None = None  # the exit status of L2a's QEMU, once L1 says it has exited
        self.l2_judged = False

    def new_lines(self) -> list[tuple[str, str]]:
        """(who wrote it, line) of every new line."""
        return [(stream.who, line) for stream in self.streams for line in stream.new_lines()]

    def close(self) -> None:
        for stream in self.streams:
            stream.close()


def run(request: ExecRequest, placement: Placement, control_port: int) -> ExecResult:
    out, work = request.results_dir, request.workdir
    if placement.host_peer is not None and not HOSTWRAP.exists():
        raise UserError(f"{HOSTWRAP} is missing: run 'make' (it runs the host peer of this topology)")
    peers = {role: Peer(role, placement.where[role], out / f"{role}.log") for role in ROLES}
    for peer in peers.values():
        peer.log.write_bytes(b"")
    result = ExecResult(peers, control_port)
    deadline = time.monotonic() + request.timeout_s
    with contextlib.ExitStack() as running:
        device, bridge = _start_device(placement, work, out, running)
        guests = [_boot(request, placement, g, device, running) for g in placement.guests]
        for guest in guests:
            if guest.session.peer_socket is not None:
                guest.go_socket = connect_unix(guest.session.peer_socket, max(0.0, deadline - time.monotonic()),
                                               alive=lambda q=guest.qemu: q.returncode is None)
                running.callback(guest.go_socket.close)
        host = _HostPeer(request, placement, bridge, peers, running) if placement.host_peer else None
        _follow(request, placement, guests, host, peers, result, deadline)
        # Each guest powers off once its peers have ended; give it a moment, then stop it.
        for guest in guests:
            guest.qemu.wait(PEER_FINISH_S)
            guest.close()
        result.commands = [(f"QEMU, {g.placement.name}", g.session.argv) for g in guests]
        result.commands += [(f"QEMU in {g.placement.name}, {g.placement.l2_name}", exec_nested.l2a_argv())
                            for g in guests if g.placement.in_l2]
        if device is not None:
            result.commands.append(("backend", list(device.process.args)))
        if host is not None and host.process is not None:
            result.commands.append((f"{host.role} on this machine", host.process.argv))
    result.files = [f"{role}.log" for role in ROLES] + _guest_files(placement, device is not None)
    return result


def _start_device(placement: Placement, work: Path, out: Path, running: contextlib.ExitStack):
    on_device = [g for g in placement.guests if g.device_cid is not None]
    if not on_device:
        return None, None
    bridge = None
    vms = []
    for g in on_device:
        uds = work / "bridge.sock" if g.bridge else None
        bridge = uds or bridge
        vms.append(vhost_user_device.VmPort(g.device_cid, work / f"vhost-user-{g.device_cid}.sock", uds_path=uds))
    return running.enter_context(vhost_user_device.VhostUserDevice(vms, out / BACKEND_LOG)), bridge


def _boot(request: ExecRequest, placement: Placement, g: GuestPlacement, device,
          running: contextlib.ExitStack) -> _GuestRunning:
    if g.in_l2:
        spec = exec_nested.l1_spec(request, placement, g)
        plain = exec_nested.l1_port_args(request.results_dir)
    else:
        peers = {role: (request.commands[role], placement.envs[role]) for role in g.peers}
        modules = topology.MODULES + (exec_net.MODULES if g.network else ())
        # Always the directory, even without --files: the script starts there.
        user_files = initramfs.user_file_entries(list(request.files), guest_session.USER_FILES_DIR)
        spec = guest_session.GuestSpec(
            kernel=request.kernel, modules=modules, test_program=topology.TEST_PROGRAM, test_args=[], cases=[],
            mode="script", script=exec_plan.guest_script(peers, g.network), run_files=tuple(user_files),
            accel=request.accel, boot_timeout_s=request.timeout_s, extra_modules=request.kmod_files)
        plain = []
    if g.network:
        plain += exec_net.qemu_args(placement.envs[SERVER].control_port if g.forward_control else None)
    for role in g.peers:
        plain += qemu.output_port_args(exec_plan.OUTPUT_PORT.format(role=role), request.results_dir / f"{role}.log")
    waits_for_go = CLIENT in g.peers and SERVER not in g.peers
    session = guest_session.GuestSession(
        spec, request.workdir, request.results_dir, label=g.label,
        devices=device.qemu_args(g.device_cid) if g.device_cid is not None else [],
        peer_socket=request.workdir / f"go-{g.label or 'guest'}.sock" if waits_for_go else None,
        plain_devices=plain)
    qemu_guest = session.boot(running)
    guest = _GuestRunning(g, session, qemu_guest, request.results_dir)
    running.callback(guest.close)
    return guest


class _HostPeer:
    """The peer that runs on this machine (g2h's client): `sh -c COMMAND` under vsock-hostwrap, in
    a directory holding the --files, started once the server listens."""

    def __init__(self, request: ExecRequest, placement: Placement, bridge: Path, peers: dict[str, Peer],
                 running: contextlib.ExitStack):
        self.role = placement.host_peer
        self.peer = peers[self.role]
        self.running = running
        files_dir = request.workdir / "host-files"
        files_dir.mkdir()
        for path in request.files:
            shutil.copy2(path, files_dir / path.name)
        env = placement.envs[self.role]
        self.argv = [str(HOSTWRAP), "--bridge", str(bridge), "--guest-cid", str(env.peer_cid), "--",
                     "sh", "-c", request.commands[self.role]]
        self.env = exec_plan.host_env(env, files_dir, dict(os.environ))
        self.cwd = files_dir
        self.process: qemu.Guest | None = None

    def start(self) -> None:
        self.process = self.running.enter_context(
            qemu.Guest(self.argv, log=self.peer.log, env=self.env, cwd=self.cwd))
        self.peer.started = True

    def check(self) -> None:
        status = self.process.returncode if self.process is not None else None
        if status is None or self.peer.done:
            return
        if status < 0:
            self.peer.killed_by = -status
        else:
            self.peer.status = status


def _follow(request: ExecRequest, placement: Placement, guests: list[_GuestRunning], host: _HostPeer | None,
            peers: dict[str, Peer], result: ExecResult, deadline: float) -> None:
    server, client = peers[SERVER], peers[CLIENT]
    port = placement.envs[SERVER].control_port
    released = False
    while True:
        for guest in guests:
            exited = guest.qemu.returncode is not None
            for who, line in guest.new_lines():
                _take_line(line, who, guest, peers, result, port)
            if guest.l2_gone is not None and not guest.l2_judged:
                guest.l2_judged = True
                _l2_gone(guest, peers, result.consoles)
            if exited and not guest.ended:
                guest.ended = True
                _guest_gone(guest, peers, result.consoles)
        if host is not None:
            host.check()
        if not released and (server.listening or server.done):
            released = True
            _release_client(server.listening, guests, host, client, port)
        if all(peer.done for peer in peers.values()):
            return
        if time.monotonic() > deadline:
            _timed_out(request.timeout_s, peers, port)
            return
        time.sleep(POLL_S)  # QEMU appends to plain files: there is nothing to wait on


def _take_line(line: str, who: str, guest: _GuestRunning, peers: dict[str, Peer], result: ExecResult,
               port: int) -> None:
    status = exec_plan.parse_status(line)
    if status is None:
        if line.startswith(exec_plan.NOTE_PREFIXES):
            result.notes.append((f"{who}: " if who else "") + line.removeprefix("# "))
        return
    role, what, code = status
    peer = peers[role]
    if what == "started":
        peer.started = True
    elif what == "listening":
        peer.listening = True
    elif what == "exit":
        peer.status = code
    elif what == "l2-gone":
        guest.l2_gone = code  # judged once every line read with it is taken
    elif what == "not-started":
        peer.problem = f"not started: the server ended before it listened on TCP port {port}"
    elif what == "no-output-port":
        peer.problem = (f"not started: its guest has no virtio-serial port "
                        f"{exec_plan.OUTPUT_PORT.format(role=role)}")


def _release_client(listening: bool, guests: list[_GuestRunning], host: _HostPeer | None, client: Peer,
                    port: int) -> None:
    """The server listens (or has ended without listening): tell the client's side to go (or not)."""
    for guest in guests:
        if guest.go_socket is not None:
            try:
                guest.go_socket.sendall(f"{GO if listening else NO_GO}\n".encode())
            except OSError:
                pass  # its guest has gone: _guest_gone says so
    if host is not None and host.role == CLIENT:
        if listening:
            host.start()
        else:
            client.problem = f"not started: the server ended before it listened on TCP port {port}"


def _guest_gone(guest: _GuestRunning, peers: dict[str, Peer], consoles: list) -> None:
    """A guest's QEMU has exited: its peers without a status of their own ended with it."""
    for role in guest.placement.peers:
        peer = peers[role]
        if peer.done:
            continue
        why, tail = guest.session.ending(stopped=False) or ("its QEMU exited after its script", [])
        peer.problem = f"{'no exit status' if peer.started else 'never started'}: {guest.placement.name}: {why}"
        if tail and not any(name == guest.placement.name for name, _, _ in consoles):
            consoles.append((guest.placement.name, guest.session.files.console.name, tail))


def _l2_gone(guest: _GuestRunning, peers: dict[str, Peer], consoles: list) -> None:
    """L2a's QEMU has exited (nested): its peers without a status of their own ended with it; why,
    its console says (a panic), or, if it never booted, its QEMU's last message."""
    name, files = guest.placement.l2_name, guest.l2_files
    for role in guest.placement.in_l2:
        peer = peers[role]
        if peer.done:
            continue
        why, tail = guest_session.console_ending(files.console, stopped=False, status=guest.l2_gone)
        if not tail:
            said = guest_session.last_lines(files.qemu_log, 1)
            why += f"; its QEMU said: {said[-1]}" if said else "; its QEMU said nothing"
        peer.problem = f"{'no exit status' if peer.started else 'never started'}: {name}: {why}"
        if tail and not any(shown == name for shown, _, _ in consoles):
            consoles.append((name, files.console.name, tail))


def _timed_out(timeout_s: float, peers: dict[str, Peer], port: int) -> None:
    for peer in peers.values():
        if peer.done:
            continue
        if peer.started:
            peer.problem = f"timed out after {timeout_s:g} s (still running)"
        elif peer.role == CLIENT and not peers[SERVER].listening:
            peer.problem = (f"timed out after {timeout_s:g} s, never started: the server did not listen "
                            f"on TCP port {port}")
        else:
            peer.problem = f"timed out after {timeout_s:g} s, before it started (its guest was still booting)"


def _guest_files(placement: Placement, with_device: bool) -> list[str]:
    files = []
    for g in placement.guests:
        names = guest_session.GuestFiles.named(Path("."), g.label)
        files += [names.ktap.name, names.console.name, names.qemu_log.name]
        if g.in_l2:
            l2 = exec_nested.l2_files(Path("."))
            files += [l2.ktap.name, l2.console.name, l2.qemu_log.name]
    return files + ([BACKEND_LOG] if with_device else [])
