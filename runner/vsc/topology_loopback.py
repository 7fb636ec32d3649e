"""The loopback topology: one guest runs both roles, which meet through vsock_loopback (CID 1)."""

from __future__ import annotations

from typing import Callable

from vsc import guest_capture, guest_session, topology
from vsc.topology import RunRequest, TopologyRun

NAME = "loopback"
DESCRIPTION = "one guest; server and client in it, over vsock_loopback (CID 1)"
CAPTURES = False  # no device of ours: --capture records in the guest only (guest_capture)

MODULES = topology.MODULES


def test_args() -> list[str]:
    """The CIDs the cases need, as arguments of the test program."""
    return ["--peer-cid", "1", "--local-cid", "1"]


def run(request: RunRequest, on_result: Callable[[object], None]) -> TopologyRun:
    capture, no_capture = guest_capture.wanted(request)
    spec = guest_session.GuestSpec(
        kernel=request.kernel, modules=MODULES, test_program=topology.TEST_PROGRAM,
        guest_tools=topology.GUEST_TOOLS, test_args=test_args() + request.selection, cases=request.cases,
        mode=request.mode, accel=request.accel, boot_timeout_s=request.boot_timeout_s,
        extra_modules=request.kmod_files, capture=capture)
    guest = guest_session.run(spec, request.workdir, request.results_dir, on_result)
    done = TopologyRun(guest, commands=[("QEMU", guest.argv)], files=["console.log", "guest.ktap", "qemu.log"])
    if no_capture:
        done.note(no_capture)
    if capture:
        out = request.results_dir
        guest_capture.add_to(done, out / guest_capture.file_name(), out / "console.log", "the guest")
    return done
