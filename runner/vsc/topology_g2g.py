"""The g2g topology: two guests of one kernel on our device, guest A (CID 3) the server, guest B
(CID 4) the client; their control ports are joined by the runner's relay, and the results are A's."""

from __future__ import annotations

import contextlib
from typing import Callable

from vsc import guest_capture, guest_session, topology, vhost_user_device
from vsc.peer_relay import End, PeerRelay, connect_unix
from vsc.topology import BACKEND_LOG, PEER_FINISH_S, TRANSCRIPT, PeerModes, RunRequest, TopologyRun

NAME = "g2g"
DESCRIPTION = "two guests on our vhost-user device: server in guest A (CID 3), client in guest B (CID 4)"
CAPTURES = True
CID_A = 3
CID_B = 4
MODULES = topology.MODULES
PEER_LABEL = "guest-b"


def test_args_a(selection: list[str]) -> list[str]:
    """Guest A: the server role of two-process cases, and every one-process case."""
    return topology.split_args("server", CID_B, CID_A, selection, solo=True)


def test_args_b(selection: list[str]) -> list[str]:
    """Guest B: the client role of two-process cases."""
    return topology.split_args("client", CID_A, CID_B, selection, solo=False)


def run(request: RunRequest, on_result: Callable[[object], None]) -> TopologyRun:
    work, out = request.workdir, request.results_dir
    mode_a, mode_b = PeerModes.split(request.mode)
    # No host side uses the bridges here; they exist so that a --device template with {uds} works.
    vms = [vhost_user_device.VmPort(cid=CID_A, socket_path=work / "vhost-user-a.sock", uds_path=work / "bridge-a.sock"),
           vhost_user_device.VmPort(cid=CID_B, socket_path=work / "vhost-user-b.sock", uds_path=work / "bridge-b.sock")]
    pcap = out / "capture.pcap" if request.capture and not request.device.external else None
    capture, no_capture = guest_capture.wanted(request)
    files = [BACKEND_LOG, TRANSCRIPT, "console.log", "guest.ktap", "qemu.log",
             f"{PEER_LABEL}.ktap", f"{PEER_LABEL}-console.log", f"{PEER_LABEL}-qemu.log"]
    with contextlib.ExitStack() as running:
        device = running.enter_context(vhost_user_device.VhostUserDevice(vms, out / BACKEND_LOG, pcap, request.device))
        guest_a = guest_session.GuestSession(
            _spec(request, test_args_a(request.selection), mode_a, capture), work, out,
            devices=device.qemu_args(CID_A), peer_socket=work / "peer-a.sock",
            capture_name=guest_capture.file_name("a"))
        guest_b = guest_session.GuestSession(
            _spec(request, test_args_b(request.selection), mode_b, capture), work, out, label=PEER_LABEL,
            devices=device.qemu_args(CID_B), peer_socket=work / "peer-b.sock",
            capture_name=guest_capture.file_name("b"))
        # Both boot at once; each QEMU holds its guest until the relay has connected to its port.
        qemu_a, qemu_b = guest_a.boot(running), guest_b.boot(running)
        ends = []
        for name, session, qemu_process in (("guest-a", guest_a, qemu_a), ("guest-b", guest_b, qemu_b)):
            sock = connect_unix(session.peer_socket, request.boot_timeout_s,
                                alive=lambda q=qemu_process: q.returncode is None)
            running.callback(sock.close)  # the relay closes it too; this covers a failure before it starts
            ends.append(End(name, sock))
        running.enter_context(PeerRelay(*ends, out / TRANSCRIPT))
        guest_a.follow(on_result)
        # A has powered off, so the relay has closed B's port: B's harness ends within a moment.
        b_stopped = qemu_b.wait(PEER_FINISH_S) is None
        qemu_b.stop()
    commands = [("QEMU guest A", guest_a.argv), ("QEMU guest B", guest_b.argv),
                ("backend", list(device.process.args))]
    if pcap is not None:
        files.append(pcap.name)
    done = TopologyRun(guest_a.result(on_result), commands, files)
    if no_capture:
        done.note(no_capture)
    topology.device_notes(done, device, request)
    if capture:
        for who, session in ((f"guest A (CID {CID_A})", guest_a), (f"guest B (CID {CID_B})", guest_b)):
            guest_capture.add_to(done, session.capture_pcap, session.files.console, who)
    ended = guest_b.how_it_ended(stopped=b_stopped)
    if ended is not None:
        done.note(f"guest B (CID {CID_B}, the client role) did not finish: {ended}")
    return done


def _spec(request: RunRequest, test_args: list[str], mode: str, capture: bool) -> guest_session.GuestSpec:
    return guest_session.GuestSpec(
        kernel=request.kernel, modules=MODULES, test_program=topology.TEST_PROGRAM,
        guest_tools=topology.GUEST_TOOLS, test_args=test_args, cases=request.cases, mode=mode,
        accel=request.accel, boot_timeout_s=request.boot_timeout_s, extra_modules=request.kmod_files,
        capture=capture)
