"""Engine 3 of the packet fixtures (target hv_sock): one guest set up as topology hvsock (the
kernel's packaged hv_sock.ko on our vmbus_sim.ko, no virtio vsock transport) runs
vsock-fixtures-hv, which plays the Hyper-V host through /dev/vmbus_sim while vsock-fixture-agent
holds the kernel's sockets.

The modules are topology_hvsock's (its prepare(): vmbus_sim built for the kernel, hv_sock.ko
taken from the package, their modversions compared); the guest script, KTAP and trace ports are
engine 2's (fixtures_guest)."""

from __future__ import annotations

import contextlib
from pathlib import Path

from vsc import fixtures_guest, guest_session, initramfs, qemu, topology, topology_hvsock
from vsc.errors import UserError
from vsc.paths import GUEST_BIN_DIR

TARGET = "hv_sock"
PREFIX = TARGET + "/"
ENGINE = GUEST_BIN_DIR / "vsock-fixtures-hv"


def run(kernel, fixtures: list[Path], results_dir: Path, workdir: Path) -> guest_session.GuestRun:
    """Boots one hvsock guest of `kernel` and runs every fixture file in it; a fixture the guest
    never reported is an ERROR saying why (with the console's last lines), and a module that did
    not load is a problem of the run."""
    fixtures = [Path(f) for f in fixtures]
    if not fixtures:
        raise UserError("fixtures: no fixture files to run on the hv_sock target")
    if not ENGINE.is_file():
        raise UserError(f"{ENGINE} is not built (make)")
    prepared = topology_hvsock.prepare(kernel, workdir)
    report_lines = prepared.report_lines(kernel.release)
    (results_dir / f"{TARGET}.{topology_hvsock.REPORT}").write_text("".join(line + "\n" for line in report_lines))
    cases = [fixtures_guest.case_for(path, PREFIX) for path in fixtures]
    longest_s = max(case.timeout_s for case in cases) + fixtures_guest.FIXTURE_GRACE_S
    spec = guest_session.GuestSpec(
        kernel=kernel, modules=topology_hvsock.MODULES, test_program=topology.TEST_PROGRAM, test_args=[],
        cases=cases, guest_tools=(ENGINE, fixtures_guest.AGENT), mode="script",
        script=fixtures_guest.guest_script(fixtures, ENGINE, PREFIX),
        run_files=tuple(initramfs.user_file_entries(fixtures, fixtures_guest.FIXTURES_DIR)),
        extra_modules=(prepared.vmbus_sim, prepared.hv_sock),
        boot_timeout_s=fixtures_guest.BOOT_S + longest_s)
    session = guest_session.GuestSession(
        spec, workdir, results_dir, label=TARGET,
        plain_devices=qemu.output_port_args(fixtures_guest.TRACE_PORT, results_dir / f"{TARGET}.trace.jsonl"))
    with contextlib.ExitStack() as running:
        session.boot(running)
        session.follow(quiet_after={"ok ": longest_s, "not ok ": longest_s, "1..": longest_s})
    guest = session.result()
    fixtures_guest.with_console_tail(guest.report, session.files.console)
    ktap = results_dir / f"{TARGET}.ktap"
    for failure in topology_hvsock.load_failures(ktap.read_text(errors="replace") if ktap.is_file() else ""):
        guest.report.problems.append(f"{TARGET}: {failure}")
    if prepared.forced:
        guest.report.problems.append(f"{TARGET}: hv_sock.ko was loaded without its modversions (taint F): "
                                     f"see {TARGET}.{topology_hvsock.REPORT}")
    return guest
