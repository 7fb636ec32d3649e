"""The nested topology: L1 (CID 3, a guest of our device) loads vhost_vsock and runs QEMU to boot
L2a (CID 5) and L2b (CID 6) with vhost-vsock-pci. Over one L2a boot the suite runs twice between
L1 and L2a: pass l1 with the server and the one-process cases in L1, pass l2 with them in L2a.
Results are reported as l1/<case> and l2/<case>; L2b only answers the identity service."""

from __future__ import annotations

import contextlib
import fnmatch
import re
from pathlib import Path
from typing import Callable

from vsc import cpio, guest_capture, guest_session, ident_service, nested_payload, qemu, report_merge, topology, vhost_user_device
from vsc.catalogue import Case
from vsc.guest_session import KtapStream
from vsc.paths import PROJECT_ROOT
from vsc.topology import BACKEND_LOG, PORT_BASE, RunRequest, TopologyRun

NAME = "nested"
DESCRIPTION = ("L1 (CID 3, on our device) hosts L2 guests through vhost_vsock; the suite runs "
               "L1<->L2a (CID 5) both ways, over one L2a boot")
CAPTURES = True
HOST_CID = 2
L1_CID = 3
# vhost_vsock taps what L1 exchanges with its L2 guests, so L1's capture holds that too.
L2_NOT_CAPTURED = ("--capture: the L2 guests run no capture of their own; their packets to and from L1 "
                   "are in L1's " + guest_capture.file_name("l1") + " (vhost_vsock taps them)")
L2A_CID = 5
L2B_CID = 6
IDENT_PORT = 19999
L1_MODULES = topology.MODULES + ("vhost_vsock",)
L1_MEMORY_MIB = 2048
# L1's CPU: the plain x86-64 model, not "max". With max, L1's userspace (the L2 QEMUs' own
# code generator, glibc's string functions) uses AVX2, BMI and the like, which QEMU 7.2's TCG
# emulates with code new in 7.2; L2 guests then crashed now and then in early boot with EFLAGS
# values no CPU produces (a double fault in kmem_cache_alloc on trixie's L2b, a GP fault at
# iretq in text_poke_early). The L2 kernels' own CPU stays max.
L1_CPU_MODEL = "qemu64"
L2A_MEMORY_MIB = 256
L2B_MEMORY_MIB = 192
# Cases that need L1 and L2 in their places run in pass l1 only.
NESTED_CASES = "nested_*"
# How long L1 may be silent after starting the L2 guests, until L2a says it is ready: nested TCG
# boots them in one to two minutes on a quiet machine, several on a busy one. L1 starts the
# tests only once L2a is ready, so the harnesses' own start-up bound does not have to cover it.
L2_STARTED = "# vsockcheck-nested: l2 started"
L2_BOOT_ALLOWANCE_S = 600.0
READY_PORT = "vsockcheck.ready"  # L2a writes a line on it just before its first pass
PASSES = ("l2", "l1")  # in run order

# Paths inside L1 (nested_l1.sh uses the same).
L1_SCRIPT = "/usr/lib/vsockcheck/nested_l1.sh"
L1_RUN = "/run/vsockcheck"
L1_PORTS = f"{L1_RUN}/ports"
# One control connection per pass, each through its own L2a port: a port reused for the second
# pass could still hold the first pass's end of connection when L2a's second harness opens it.
PEER_SOCKET = f"{L1_RUN}/l2-peer.sock"      # pass l2: L2a's port vsockcheck.peer
PEER_SOCKET_L1 = f"{L1_RUN}/l2-peer-l1.sock"  # pass l1: L2a's port vsockcheck.peer-l1
PEER_PORT_L1 = "vsockcheck.peer-l1"
L2A_READY = f"{L1_RUN}/l2a.ready"  # the file behind L2a's port vsockcheck.ready
QMP_SOCKET = f"{L1_RUN}/l2-qmp.sock"
QMP_SOCKET_L2B = f"{L1_RUN}/l2b-qmp.sock"  # the reload case unplugs L2b's device too
CONF_DIR = "etc/vsockcheck/nested"
L2A_INITRD = f"/{nested_payload.L2_DIR}/a.img"
L2B_INITRD = f"/{nested_payload.L2_DIR}/b.img"
TEST_BIN = f"/usr/bin/{topology.TEST_PROGRAM.name}"

# L1's virtio-serial ports beside its KTAP port, and the results file each one fills.
L2_KTAP = "l2.ktap"                 # L2a's KTAP port: pass l2's results
L2_CONSOLE = "l2-console.log"       # L2a's serial console (and its pass-l1 output)
L2B_CONSOLE = "l2b-console.log"
L1_PASS_L2 = "l1-pass-l2.ktap"      # L1's own output in pass l2, for reading
L2_PASS_L1 = "l2-pass-l1.ktap"      # L2a's own output in pass l1, for reading
PORTS = {"vsockcheck.l2ktap": L2_KTAP, "vsockcheck.l2con": L2_CONSOLE, "vsockcheck.l2aux": L2_PASS_L1,
         "vsockcheck.l2bcon": L2B_CONSOLE, "vsockcheck.l1b": L1_PASS_L2}
AUX_PORT = "vsockcheck.aux"  # L2a's port for its pass-l1 output
# The L2 kernels' command line beside the usual: no speculation mitigations (page-table switches
# on every syscall cost most under TCG inside TCG; vsock does not depend on them).
L2_APPEND = ("mitigations=off",)
ERROR_LINE = re.compile(r"# vsockcheck-nested: (error: .*)")


def _common(level: int) -> list[str]:
    """The CIDs and nested facts of one level, as test program arguments."""
    if level == 1:
        cids = ["--peer-cid", str(L2A_CID), "--local-cid", str(HOST_CID), "--device-cid", str(L1_CID)]
        extra = ["--l2-qmp", QMP_SOCKET, "--sibling-qmp", QMP_SOCKET_L2B]
    else:
        cids = ["--peer-cid", str(HOST_CID), "--local-cid", str(L2A_CID), "--device-cid", str(L2A_CID)]
        extra = []
    return ["--level", str(level), *cids, "--l2-cid", str(L2A_CID), "--sibling-cid", str(L2B_CID),
            *extra, "--ident-port", str(IDENT_PORT), "--port-base", str(PORT_BASE)]


def pass_args(pass_name: str, level: int, selection: list[str]) -> list[str]:
    """The test program in one level for one pass; the control channel is added where it runs.
    The solo side of pass l2 is L2a, where vhost drops what is sent to any CID but 2: a silent CID."""
    solo_level = 1 if pass_name == "l1" else 2
    if level == solo_level:
        role = ["--split", "server", "--solo"]
        if level == 2:
            role += ["--silent-cid", str(topology.SILENT_CID)]
    else:
        role = ["--split", "client"]
    skip = ["--skip", NESTED_CASES] if pass_name == "l2" else []
    return [*role, *_common(level), *selection, *skip]


def pass_cases(pass_name: str, cases: list[Case]) -> list[Case]:
    if pass_name == "l1":
        return list(cases)
    return [c for c in cases if not fnmatch.fnmatchcase(c.name, NESTED_CASES)]


def planned(cases: list[Case]) -> int:
    """How many results a run of these cases reports: both passes."""
    return sum(len(pass_cases(p, cases)) for p in PASSES)


def l2a_script(selection: list[str], pass_l2: bool = True) -> str:
    """L2a: pass l2's server and one-process cases (KTAP on its KTAP port, the runner's results),
    then pass l1's client role (its output on the port vsockcheck.aux, kept for reading).
    pass_l2=False: the selection leaves pass l2 no case (only nested_* ones), so it is not run."""
    first = " ".join(pass_args("l2", 2, selection))
    second = " ".join(pass_args("l1", 2, selection))
    ports = (f". {guest_session.GUEST_LIB}\n"
             f"aux=$(find_port {AUX_PORT}) || aux=/dev/null\n"
             f"control=$(find_port {PEER_PORT_L1}) || control=/dev/null\n"
             f"ready=$(find_port {READY_PORT}) || ready=/dev/null\n"
             "echo ready >$ready\n")
    # The ports are found first: set -f, which keeps the words' globs for the test program,
    # would stop find_port's own glob over /sys/class/virtio-ports too.
    first_pass = f"{TEST_BIN} {first} --control {topology.PEER_PORT_WORD} </dev/null 2>/dev/console\n"
    return (f"{ports}set -f\n"
            f"{first_pass if pass_l2 else ''}"
            f"exec {TEST_BIN} {second} --control $control </dev/null >$aux 2>/dev/console\n")


def l2b_script() -> str:
    return f"exec {TEST_BIN} --ident L2b --ident-port {IDENT_PORT} </dev/null 2>/dev/console\n"


def l2_argv(*, initrd: str, ktap: str, console: str, cid: int, memory_mib: int, control: bool,
            qmp: str, aux: str | None = None, more_devices: list[str] = ()) -> list[str]:
    """QEMU in L1 for one L2 guest. L2a's vsock device sits on a PCIe root port, so a case can
    unplug and plug it again through QMP; L2a also has the control port of the split passes.
    more_devices: vsockcheck exec's network card and output port."""
    devices = ["-device", "pcie-root-port,id=vsc_l2_rp,chassis=1",
               "-device", f"vhost-vsock-pci,id=vsc_l2_vsock,guest-cid={cid},bus=vsc_l2_rp",
               "-qmp", f"unix:{qmp},server=on,wait=off"]
    if control:
        devices += ["-chardev", f"socket,id=vsc_peer_l1,path={PEER_SOCKET_L1},server=on,wait=off",
                    "-device", f"virtserialport,bus=vsc_serial.0,chardev=vsc_peer_l1,name={PEER_PORT_L1}"]
    if aux is not None:
        devices += ["-chardev", f"file,id=vsc_aux,path={aux}",
                    "-device", f"virtserialport,bus=vsc_serial.0,chardev=vsc_aux,name={AUX_PORT}",
                    "-chardev", f"file,id=vsc_ready,path={L2A_READY}",
                    "-device", f"virtserialport,bus=vsc_serial.0,chardev=vsc_ready,name={READY_PORT}"]
    return qemu.guest_argv(vmlinuz=Path(nested_payload.L2_KERNEL), initrd=Path(initrd), ktap_path=Path(ktap),
                           console_log=Path(console), accel="tcg", memory_mib=memory_mib, cpus=1,
                           plain_devices=devices + list(more_devices), peer_socket=Path(PEER_SOCKET) if control else None,
                           peer_wait=False, extra_append=L2_APPEND)


def _l1_port_args(out: Path) -> list[str]:
    args = []
    for n, (name, filename) in enumerate(PORTS.items()):
        args += ["-chardev", f"file,id=vsc_nested{n},path={out / filename}",
                 "-device", f"virtserialport,bus=vsc_serial.0,chardev=vsc_nested{n},name={name}"]
    return args


def argv_file(name: str, argv: list[str]) -> cpio.Entry:
    return cpio.file(f"{CONF_DIR}/{name}.argv", "".join(arg + "\n" for arg in argv).encode())


def _l2_image(request: RunRequest, l2_kernel, script: str, label: str) -> bytes:
    spec = guest_session.GuestSpec(
        kernel=l2_kernel, modules=topology.MODULES, test_program=topology.TEST_PROGRAM,
        guest_tools=topology.GUEST_TOOLS, test_args=[], cases=[], mode="script", script=script)
    return nested_payload.l2_image(spec, request.workdir / label)


def l1_spec(request: RunRequest, l2_kernel, capture: bool = False) -> guest_session.GuestSpec:
    pass_l2 = bool(pass_cases("l2", request.cases))
    port_dir = f"{L1_PORTS}"
    l2a = l2_argv(initrd=L2A_INITRD, ktap=f"{port_dir}/vsockcheck.l2ktap", console=f"{port_dir}/vsockcheck.l2con",
                  cid=L2A_CID, memory_mib=L2A_MEMORY_MIB, control=True, qmp=QMP_SOCKET, aux=f"{port_dir}/vsockcheck.l2aux")
    l2b = l2_argv(initrd=L2B_INITRD, ktap=f"{L1_RUN}/l2b.ktap", console=f"{port_dir}/vsockcheck.l2bcon",
                  cid=L2B_CID, memory_mib=L2B_MEMORY_MIB, control=False, qmp=QMP_SOCKET_L2B)
    image_files = (*nested_payload.l1_entries(l2_kernel),
                   cpio.file(L1_SCRIPT, (PROJECT_ROOT / "runner" / "vsc" / "nested_l1.sh").read_bytes(), 0o755))
    run_files = (
        cpio.file(L2A_INITRD, _l2_image(request, l2_kernel, l2a_script(request.selection, pass_l2), "l2a")),
        cpio.file(L2B_INITRD, _l2_image(request, l2_kernel, l2b_script(), "l2b")),
        argv_file("l2a", l2a), argv_file("l2b", l2b),
        cpio.file(f"{CONF_DIR}/pass-l1.args", " ".join(pass_args("l1", 1, request.selection)).encode()),
    )
    if pass_l2:
        run_files += (cpio.file(f"{CONF_DIR}/pass-l2.args", " ".join(pass_args("l2", 1, request.selection)).encode()),)
    return guest_session.GuestSpec(
        kernel=request.kernel, modules=L1_MODULES, test_program=topology.TEST_PROGRAM,
        guest_tools=topology.GUEST_TOOLS, test_args=[], cases=pass_cases("l1", request.cases),
        mode=request.mode if request.mode != "suite" else "script", script=f"exec sh {L1_SCRIPT}\n",
        accel=request.accel, boot_timeout_s=request.boot_timeout_s, memory_mib=L1_MEMORY_MIB,
        cpu_model=L1_CPU_MODEL,
        image_files=image_files, run_files=run_files, capture=capture)


def run(request: RunRequest, on_result: Callable[[object], None]) -> TopologyRun:
    work, out = request.workdir, request.results_dir
    l2_kernel = request.l2_kernel or request.kernel
    bridge = work / "bridge.sock"
    vms = [vhost_user_device.VmPort(cid=L1_CID, socket_path=work / "vhost-user.sock", uds_path=bridge)]
    pcap = out / "capture.pcap" if request.capture else None
    cases = {p: pass_cases(p, request.cases) for p in PASSES}
    live = report_merge.Renamer([(p, len(cases[p])) for p in PASSES], on_result)
    for filename in PORTS.values():
        (out / filename).write_bytes(b"")
    capture, no_capture = guest_capture.wanted(request)
    session = guest_session.GuestSession(l1_spec(request, l2_kernel, capture), work, out,
                                         capture_name=guest_capture.file_name("l1"))
    l2_stream = KtapStream(out / L2_KTAP, live.callback("l2"))
    with contextlib.ExitStack() as running:
        device = running.enter_context(vhost_user_device.VhostUserDevice(vms, out / BACKEND_LOG, pcap))
        # What L1 reaches at CID 2: L0's identity service, through the device's bridge.
        running.enter_context(ident_service.IdentityService(Path(f"{bridge}_{IDENT_PORT}"), "L0"))
        session.devices = device.qemu_args(L1_CID) + _l1_port_args(out)
        session.boot(running)
        session.follow(live.callback("l1"), more=[
            l2_stream, KtapStream(out / L2_CONSOLE, ktap=False), KtapStream(out / L2B_CONSOLE, ktap=False)],
            quiet_after={L2_STARTED: L2_BOOT_ALLOWANCE_S})
    reports = {"l1": session.stream_report(session.stream, cases["l1"], session.files.console, live.callback("l1")),
               "l2": session.stream_report(l2_stream, cases["l2"], out / L2_CONSOLE, live.callback("l2"))}
    guest = guest_session.GuestRun(report_merge.merge([(p, reports[p]) for p in PASSES], [len(cases[p]) for p in PASSES]),
                                   session.accel, session.argv, _durations(session, l2_stream))
    files = ["console.log", "guest.ktap", "qemu.log", BACKEND_LOG, *PORTS.values()]
    if pcap is not None:
        files.append(pcap.name)
    done = TopologyRun(guest, [("QEMU L1", session.argv), ("backend", list(device.process.args))], files)
    if no_capture:
        done.note(no_capture)
    if capture:
        done.note(L2_NOT_CAPTURED)
        guest_capture.add_to(done, session.capture_pcap, session.files.console, f"L1 (CID {L1_CID})")
    for error in _nested_errors(out / "guest.ktap"):
        done.note(error)
    return done


def _durations(session: guest_session.GuestSession, l2_stream: KtapStream) -> dict[str, float]:
    """The L1 phases, and the L2 boot as the wait for the first case of pass l2 (which runs in L2a)."""
    durations = guest_session.durations(session.times)
    times = session.times
    l1_up = times.get("first_line")
    l2_up = l2_stream.first_began
    if l1_up is not None and l2_up is not None:
        durations["l2_boot_s"] = round(l2_up - l1_up, 3)
        durations["tests_s"] = round(times.get("last_result", l2_up) - l2_up, 3)
    return durations


def _nested_errors(ktap: Path) -> list[str]:
    try:
        text = ktap.read_text("utf-8", "replace")
    except OSError:
        return []
    found = []
    for line in text.splitlines():
        match = ERROR_LINE.match(line)
        if match:
            found.append("L1: " + match.group(1))
        elif found and line.startswith("# ") and not line.startswith("# vsockcheck"):
            found[-1] += "; " + line[2:]
    return found
