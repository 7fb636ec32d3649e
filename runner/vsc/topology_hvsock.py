"""The hvsock topology: one guest whose only guest-to-host transport is the kernel's own packaged hv_sock.ko,
running on our vmbus_sim.ko in hv_vmbus's place (no Hyper-V under QEMU TCG). Both roles run in the guest;
the cases that need "hvsock" play the Hyper-V host through /dev/vmbus_sim. Only those cases run here."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from vsc import guest_capture, guest_session, hv_modules, kmod, modules, topology
from vsc.catalogue import Case
from vsc.errors import UserError
from vsc.paths import GUEST_BIN_DIR
from vsc.topology import RunRequest, TopologyRun

NAME = "hvsock"
DESCRIPTION = ("one guest; the kernel's packaged hv_sock.ko on vmbus_sim (a simulated VMBus), "
               "the host played through /dev/vmbus_sim; only cases that need hvsock")
CAPTURES = False
NEED = "hvsock"
HOST_CID = 2  # the only peer an hv_sock guest has
# No virtio vsock transport: hv_sock must be the guest-to-host transport (only one may register).
MODULES = tuple(m for m in topology.MODULES if m != "vmw_vsock_virtio_transport")
# The host-peer programs a case or a person runs in the guest, beside every topology's tools.
HOST_PEER_TOOLS = ("hvsock-peer", "vsock-fixtures-hv", "vmbus-sim-selftest")
# vsockmon's taps are in the virtio transports and vsock_loopback; hv_sock calls none.
HV_SOCK_NOT_TAPPED = ("--capture: vsockmon sees no hv_sock packet (hv_sock has no vsockmon tap): the guest's "
                      "capture holds only what went over vsock_loopback, and none of the hv_sock cases' packets")
REPORT = "hv_modules.txt"  # the attachment mode, each symbol's CRCs, how hv_sock was loaded


def needs_hvsock(case: Case) -> bool:
    return NEED in re.split(r"[,\s]+", case.needs)


def hvsock_cases(cases: list[Case]) -> list[Case]:
    return [c for c in cases if needs_hvsock(c)]


def planned(cases: list[Case]) -> int:
    """How many results a run reports: only the cases that need hvsock run here."""
    return len(hvsock_cases(cases))


def test_args(cases: list[Case]) -> list[str]:
    """The test program's arguments: the topology, the host's CID, and exactly these cases (the
    runner's --pick/--skip already chose them; naming each keeps the others out)."""
    picks = [arg for c in cases for arg in ("--pick", c.name)]
    return ["--hvsock", "--peer-cid", str(HOST_CID), *picks]


def guest_tools(bin_dir: Path = GUEST_BIN_DIR) -> tuple[Path, ...]:
    return topology.GUEST_TOOLS + tuple(bin_dir / t for t in HOST_PEER_TOOLS)


@dataclass
class HvModules:
    """What the guest loads after the vsock modules, and how it was decided."""

    vmbus_sim: Path
    hv_sock: Path
    mode: str                                   # hv_modules.EXPORTS or LIVEPATCH
    crcs: list[hv_modules.SymbolCrc] = field(default_factory=list)  # exports mode with modversions
    forced: bool = False                        # hv_sock loads without its __versions (CRCs differ)

    def report_lines(self, release: str) -> list[str]:
        lines = [f"kernel {release}: vmbus_sim attaches by {self.mode}"]
        if self.mode == hv_modules.LIVEPATCH:
            lines.append("modversions: not compared (hv_vmbus is vmlinux's; hv_sock links to vmlinux's exports)")
        elif not self.crcs:
            lines.append("modversions: hv_sock.ko records no CRCs (kernel without CONFIG_MODVERSIONS)")
        for row in self.crcs:
            lines.append(f"  {'same' if row.matches else 'DIFFERS'}  {row.describe()}")
        if self.forced:
            lines.append("hv_sock.ko: loaded without its __versions (as MODULE_INIT_IGNORE_MODVERSIONS): taint F")
        return lines


def prepare(kernel, workdir: Path) -> HvModules:
    """Build vmbus_sim for the kernel, take its packaged hv_sock.ko, compare their CRCs, and strip
    hv_sock's __versions only if they differ (the forced load, reported)."""
    vmbus_sim = hv_modules.vmbus_sim_module(kmod.build_modules(kernel))
    hv_sock = hv_modules.materialize_hv_sock(kernel, workdir / "hv_modules")
    mode = hv_modules.attach_mode(modules.kernel_config(kernel))
    prepared = HvModules(vmbus_sim, hv_sock, mode)
    if mode == hv_modules.EXPORTS:
        prepared.crcs = hv_modules.check_crcs(hv_sock, vmbus_sim)
        if hv_modules.mismatches(prepared.crcs):
            hv_modules.strip_versions(hv_sock)
            prepared.forced = True
    return prepared


def load_failures(ktap_text: str) -> list[str]:
    """guest_init.sh's lines about our two modules that did not load, with insmod's message."""
    names = (f"{hv_modules.VMBUS_SIM}.ko", f"{hv_modules.HV_SOCK}.ko")
    found = []
    for line in ktap_text.splitlines():
        m = re.match(r"# vsockcheck-init: insmod (\S+) failed: (.*)", line)
        if m and m.group(1) in names:
            found.append(f"{m.group(1)} did not load: {m.group(2)}")
    return found


def run(request: RunRequest, on_result: Callable[[object], None]) -> TopologyRun:
    cases = hvsock_cases(request.cases)
    if not cases:
        raise UserError(f"topology {NAME}: none of the selected cases needs {NEED} "
                        "(see `vsockcheck list`, column needs)")
    prepared = prepare(request.kernel, request.workdir)
    report_lines = prepared.report_lines(request.kernel.release)
    (request.results_dir / REPORT).write_text("".join(line + "\n" for line in report_lines))
    capture, no_capture = guest_capture.wanted(request)
    spec = guest_session.GuestSpec(
        kernel=request.kernel, modules=MODULES, test_program=topology.TEST_PROGRAM,
        guest_tools=guest_tools(), test_args=test_args(cases), cases=cases,
        mode=request.mode, accel=request.accel, boot_timeout_s=request.boot_timeout_s,
        extra_modules=(prepared.vmbus_sim, prepared.hv_sock, *request.kmod_files), capture=capture)
    guest = guest_session.run(spec, request.workdir, request.results_dir, on_result)
    done = TopologyRun(guest, commands=[("QEMU", guest.argv)],
                       files=["console.log", "guest.ktap", "qemu.log", REPORT])
    for row in hv_modules.mismatches(prepared.crcs):
        done.note(f"hv_sock CRC differs: {row.describe()}")
    if prepared.forced:
        done.note("hv_sock.ko was force-loaded without its modversions (taint F): see " + REPORT)
    if no_capture:
        done.note(no_capture)
    if capture:
        done.note(HV_SOCK_NOT_TAPPED)
        out = request.results_dir
        guest_capture.add_to(done, out / guest_capture.file_name(), out / "console.log", "the guest")
    ktap = request.results_dir / "guest.ktap"
    for failure in load_failures(ktap.read_text(errors="replace") if ktap.is_file() else ""):
        done.note(failure)
    return done
