"""The g2h topology: one guest (CID 3) on our device runs the server role; build/bin/vsockcheck-host
on this machine runs the client role through the device's hybrid bridge. The results are the guest's."""

from __future__ import annotations

import contextlib
import signal
import socket
from pathlib import Path
from typing import Callable

from vsc import guest_capture, guest_session, qemu, topology, vhost_user_device
from vsc.errors import UserError
from vsc.paths import GUEST_BIN_DIR
from vsc.peer_relay import End, PeerRelay, connect_unix
from vsc.topology import BACKEND_LOG, PEER_FINISH_S, PORT_BASE, TRANSCRIPT, RunRequest, TopologyRun

NAME = "g2h"
DESCRIPTION = "one guest (CID 3) on our vhost-user device: server in the guest, client in vsockcheck-host"
CAPTURES = True
GUEST_CID = 3
HOST_CID = 2
MODULES = topology.MODULES
HOST_PROGRAM = GUEST_BIN_DIR / "vsockcheck-host"
LOG_TAIL_LINES = 15

HOST_LOG = "host-program.log"


HOST_ROLES = ("client", "server")


def other_role(role: str) -> str:
    return "server" if role == "client" else "client"


def test_args(selection: list[str], host_role: str = "client") -> list[str]:
    """The guest: the role the host program does not play, and every one-process case."""
    return topology.split_args(other_role(host_role), HOST_CID, GUEST_CID, selection, solo=True)


def host_argv(control_fd: int, bridge: Path, selection: list[str], host_role: str = "client") -> list[str]:
    """The host program: one role, its vsock calls carried by the bridge. As the client it
    connects through the bridge to the guest's listeners; as the server it listens on the
    bridge's <uds>_<port> sockets, which the guest's connects to CID 2 reach."""
    return [str(HOST_PROGRAM), "--split", host_role, "--control-fd", str(control_fd), "--bridge", str(bridge),
            "--peer-cid", str(GUEST_CID), "--local-cid", str(HOST_CID), "--no-kernel-log",
            "--port-base", str(PORT_BASE), *selection]


def run(request: RunRequest, on_result: Callable[[object], None]) -> TopologyRun:
    if not HOST_PROGRAM.exists():
        raise UserError(f"{HOST_PROGRAM} is missing: run 'make' first")
    work, out = request.workdir, request.results_dir
    bridge = work / "bridge.sock"
    vms = [vhost_user_device.VmPort(cid=GUEST_CID, socket_path=work / "vhost-user.sock", uds_path=bridge)]
    pcap = out / "capture.pcap" if request.capture and not request.device.external else None
    capture, no_capture = guest_capture.wanted(request)
    files = [BACKEND_LOG, TRANSCRIPT, HOST_LOG, "console.log", "guest.ktap", "qemu.log"]
    with contextlib.ExitStack() as running:
        device = running.enter_context(vhost_user_device.VhostUserDevice(vms, out / BACKEND_LOG, pcap, request.device))
        relay_end, host_end = socket.socketpair()
        running.callback(relay_end.close)  # the relay closes it too; this covers a failure before it starts
        with host_end:  # the host program holds its own copy once started
            argv = host_argv(host_end.fileno(), bridge, request.selection, request.host_role)
            host = running.enter_context(qemu.Guest(argv, log=out / HOST_LOG, pass_fds=(host_end.fileno(),)))
        guest = guest_session.GuestSession(
            guest_session.GuestSpec(
                kernel=request.kernel, modules=MODULES, test_program=topology.TEST_PROGRAM,
                guest_tools=topology.GUEST_TOOLS, test_args=test_args(request.selection, request.host_role),
                cases=request.cases, mode=request.mode, accel=request.accel,
                boot_timeout_s=request.boot_timeout_s, extra_modules=request.kmod_files, capture=capture),
            work, out, devices=device.qemu_args(GUEST_CID), peer_socket=work / "peer.sock")
        guest_qemu = guest.boot(running)
        guest_sock = connect_unix(guest.peer_socket, request.boot_timeout_s,
                                  alive=lambda: guest_qemu.returncode is None)
        running.callback(guest_sock.close)
        running.enter_context(PeerRelay(End("guest", guest_sock), End("host", relay_end), out / TRANSCRIPT))
        guest.follow(on_result)
        # The guest has powered off, so the relay has closed the host program's channel.
        host_stopped = host.wait(PEER_FINISH_S) is None
        host.stop()
    commands = [("QEMU", guest.argv), ("backend", list(device.process.args)), ("host program", argv)]
    if pcap is not None:
        files.append(pcap.name)
    done = TopologyRun(guest.result(on_result), commands, files)
    if no_capture:
        done.note(no_capture)
    topology.device_notes(done, device, request)
    if capture:
        guest_capture.add_to(done, guest.capture_pcap, guest.files.console, f"the guest (CID {GUEST_CID})")
    ended = _how_host_ended(host.returncode, host_stopped, out / HOST_LOG)
    if ended is not None:
        done.note(f"vsockcheck-host (the {request.host_role} role) did not finish: {ended}")
    return done


def _how_host_ended(status: int | None, stopped: bool, log: Path) -> str | None:
    """None when the host program exited by itself with a status of its own, else what happened."""
    if stopped:
        why = "it was still running when the guest had finished, and was stopped"
    elif status is not None and status < 0:
        try:
            why = f"it was killed by {signal.Signals(-status).name}"
        except ValueError:
            why = f"it was killed by signal {-status}"
    else:
        return None
    try:
        lines = [line for line in log.read_text("utf-8", "replace").splitlines() if line.strip()]
    except OSError:
        lines = []
    tail = lines[-LOG_TAIL_LINES:]
    return "; ".join([why, f"{log.name} ends:"] + tail) if tail else why
