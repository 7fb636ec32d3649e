"""The vsockcheck command line: kernels, build-kernel, list, parity, run, exec, fixtures, matrix, bisect."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

from vsc import (bisect_cmd, catalogue, device_spec, exec_net, exec_placement, exec_plan, exec_report, exec_run,
                 fixtures_cmd, hv_modules, kbuild, kconfig_fragments, kernel_roles, kernel_source, kernels, kmod,
                 matrix_cmd, parity, qemu, results, topology_g2g, topology_g2h, topology_hvsock,
                 topology_loopback, topology_nested)
from vsc.errors import UserError
from vsc.topology import TEST_PROGRAM, PeerModes, RunRequest

DEFAULT_KERNEL = "debian:bookworm"
DEFAULT_EXEC_TIMEOUT_S = 300.0
ACCEL_HELP = ("auto tries KVM once per kernel and falls back to TCG; tcg runs the vCPUs on one host thread, "
              "tcg-multi on a thread each (real parallelism for the race cases, but QEMU 7.2 now and then "
              "crashes a 7.x kernel at boot with it) (default auto)")
DEVICE_HELP = ("g2h and g2g: the vhost-user vsock backend the guests use: ours (default), or vhost-user:'CMD ...', "
               "a command template with {socket} (the vhost-user socket QEMU connects to), {cid} and {uds} (the "
               "hybrid-vsock bridge socket the host side of g2h uses); the per-VM part of a backend that serves "
               "several VMs (g2g) goes in {each:...}, e.g. vhost-user:'CMD {each:--vm cid={cid},socket={socket}}'")
TOPOLOGIES = {t.NAME: t for t in (topology_loopback, topology_g2h, topology_g2g, topology_nested, topology_hvsock)}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # SIGTERM ends the run the way Ctrl-C does, so every with-block stops QEMU and removes its files.
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        return args.func(args)
    except UserError as e:
        print(f"vsockcheck: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("vsockcheck: interrupted; QEMU stopped and temporary files removed", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (vsockcheck list | head): stop quietly, as other tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vsockcheck", description="Conformance and regression tests for Linux AF_VSOCK, run in QEMU guests.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    kernels_cmd = commands.add_parser("kernels", help="list known and cached kernels, or fetch one")
    kernels_cmd.set_defaults(func=_cmd_kernels)
    kernel_actions = kernels_cmd.add_subparsers(dest="action", metavar="ACTION")
    fetch = kernel_actions.add_parser("fetch", help="download a Debian kernel into the cache")
    fetch.add_argument("spec", metavar="SPEC",
                       help="debian:bullseye, debian:bookworm, debian:trixie or debian:sid; a local path is checked")
    fetch.set_defaults(func=_cmd_fetch)

    build = commands.add_parser(
        "build-kernel", help="build a kernel from source with kconfig fragments; prints the SPEC for --kernel",
        description="Builds SRC (tinyconfig + the fragments, merged with merge_config.sh, then olddefconfig) "
                    "in an object tree inside SRC named after the fragments, incrementally, with ccache when "
                    "it is installed. The last line printed is the output directory, a SPEC for --kernel.")
    build.add_argument("src", metavar="SRC", help="a kernel source tree, or debian:<suite> (its linux-source, "
                                                  "downloaded once)")
    build.add_argument("--config", action="append", default=[], metavar="FRAGMENT",
                       help="a fragment of kconfig/ by name (" + ", ".join(kconfig_fragments.names())
                            + ") or a path; repeatable, later ones win (default: "
                            + " + ".join(kbuild.DEFAULT_FRAGMENTS) + ")")
    build.add_argument("--out", type=Path, metavar="DIR",
                       help="where boot/, lib/modules/ and the build link go "
                            "(default SRC/vsockcheck-kernel-<hash of the fragments>)")
    build.add_argument("--jobs", type=int, metavar="N", help="make -jN (default: the number of CPUs)")
    build.set_defaults(func=_cmd_build_kernel)

    list_cmd = commands.add_parser("list", help="print the case catalogue: name, type, roles, needs, tags")
    _add_selection(list_cmd)
    list_cmd.set_defaults(func=_cmd_list)

    parity_cmd = commands.add_parser(
        "parity", help="print, as Markdown, which case covers each test of the kernel's tools/testing/vsock")
    parity_cmd.set_defaults(func=_cmd_parity)

    run = commands.add_parser("run", help="boot a kernel and run the suite in it")
    run.add_argument("--kernel", default=DEFAULT_KERNEL, metavar="SPEC",
                     help=f"debian:<suite> or a local kernel path (default {DEFAULT_KERNEL})")
    run.add_argument("--topology", default=topology_loopback.NAME, choices=list(TOPOLOGIES),
                     help="where the server and client roles run: "
                          + "; ".join(f"{t.NAME}: {t.DESCRIPTION}" for t in TOPOLOGIES.values())
                          + " (default loopback)")
    run.add_argument("--l2-kernel", metavar="SPEC",
                     help="nested: the kernel of the L2 guests (default: the same as --kernel)")
    run.add_argument("--capture", action="store_true",
                     help="record the vsock packets in each guest (vsockmon) in <results>/guest-capture*.pcap, "
                          "and every packet our device carries in <results>/capture.pcap (g2h, g2g, nested)")
    run.add_argument("--host-role", choices=topology_g2h.HOST_ROLES,
                     help="g2h: the role vsockcheck-host plays, the guest plays the other (default "
                          "client: the host connects to the guest; server: the guest connects to CID 2)")
    run.add_argument("--device", default=device_spec.OURS, metavar="SPEC", help=DEVICE_HELP)
    _add_selection(run)
    _add_kmod(run)
    run.add_argument("--results", type=Path, metavar="DIR",
                     help="where results.ktap, junit.xml, results.json and console.log go "
                          "(default vsockcheck-results/<kernel>-<topology>)")
    run.add_argument("--accel", default="auto", choices=("auto", *qemu.ACCELS),
                     help=ACCEL_HELP)
    run.add_argument("--boot-timeout", type=float, default=60.0, metavar="S",
                     help="seconds to wait for the guest's first output (default 60)")
    run.add_argument("--show-command", action="store_true",
                     help="print the command line of every QEMU and of the processes beside them")
    # For the runner's own tests: make the guest (or, in g2g, its peer) panic or hang instead of
    # running the suite.
    run.add_argument("--guest-mode", default="suite", choices=PeerModes.OWN + PeerModes.PEER,
                     help=argparse.SUPPRESS)
    run.set_defaults(func=_cmd_run)

    exec_cmd = commands.add_parser(
        "exec", help="run your own (static) server and client programs as the two peers of a topology",
        description="Runs CMD of --server and of --client as the two peers of a topology, each with "
                    "VSOCK_PEER_CID, VSOCK_LOCAL_CID, CONTROL_HOST and CONTROL_PORT in its environment. "
                    "The server listens on TCP CONTROL_PORT (on CONTROL_HOST, an address of its own); the "
                    "client starts once it does, and connects to CONTROL_HOST:CONTROL_PORT. Exits 0 if "
                    "both exit 0, 1 if either does not, 2 for bad input.")
    exec_cmd.add_argument("--topology", required=True, choices=list(exec_placement.PLACEMENTS),
                          help="loopback: both peers in one guest (CID 1); g2g: server in guest A (CID 3), "
                               "client in guest B (CID 4); g2h: server in the guest (CID 3), client on this "
                               "machine under build/bin/vsock-hostwrap; nested: server in L1 (CID 3 on our "
                               "device, CID 2 toward L2a), client in L2a (CID 5), which L1 boots with "
                               "vhost-vsock-pci once the server listens")
    exec_cmd.add_argument("--kernel", default=DEFAULT_KERNEL, metavar="SPEC",
                          help=f"debian:<suite> or a local kernel path (default {DEFAULT_KERNEL})")
    exec_cmd.add_argument("--l2-kernel", metavar="SPEC",
                          help="nested: the kernel of L2a (default: the same as --kernel)")
    exec_cmd.add_argument("--server", required=True, metavar="CMD", help="the server's shell command")
    exec_cmd.add_argument("--client", required=True, metavar="CMD", help="the client's shell command")
    exec_cmd.add_argument("--files", nargs="+", action="extend", default=[], type=Path, metavar="PATH",
                          help=f"files (static programs, data) copied to {exec_plan.GUEST_FILES_DIR} in each "
                               "guest, which is on PATH and the commands' working directory; the host peer "
                               "gets them in a directory of its own")
    _add_kmod(exec_cmd)
    exec_cmd.add_argument("--timeout", type=float, default=DEFAULT_EXEC_TIMEOUT_S, metavar="S",
                          help=f"seconds for the whole run, boots included (default {DEFAULT_EXEC_TIMEOUT_S:g})")
    exec_cmd.add_argument("--results", type=Path, metavar="DIR",
                          help="where server.log, client.log and the guests' logs go "
                               "(default vsockcheck-results/<kernel>-<topology>-exec)")
    exec_cmd.add_argument("--accel", default="auto", choices=("auto", *qemu.ACCELS),
                          help=ACCEL_HELP)
    exec_cmd.add_argument("--show-command", action="store_true",
                          help="print the command line of every QEMU and of the processes beside them")
    exec_cmd.set_defaults(func=_cmd_exec)

    fixtures_cmd.add_commands(commands, DEFAULT_KERNEL)
    matrix_cmd.add_command(commands, DEFAULT_KERNEL, TOPOLOGIES)

    bisect_cmd.add_commands(commands, TOPOLOGIES)
    return parser


def _add_selection(cmd: argparse.ArgumentParser) -> None:
    cmd.add_argument("--pick", action="append", default=[], metavar="GLOB",
                     help="only cases whose name matches (repeatable)")
    cmd.add_argument("--skip", action="append", default=[], metavar="GLOB",
                     help="leave out cases whose name matches (repeatable)")


def _add_kmod(cmd: argparse.ArgumentParser) -> None:
    cmd.add_argument("--kmod", action="store_true",
                     help="build the test modules (Kbuild, testcases/kmod/) for the kernel and load them in "
                          "its guests before the tests (not in topology nested)")


def _kmod_files(args, kernel) -> tuple[Path, ...]:
    """--kmod: the test modules built (or cached) for the kernel, said in one line."""
    if not args.kmod:
        return ()
    if args.topology == topology_nested.NAME:
        # Its L2 guests may run another kernel, and its L1 runs the suite from a script of its own.
        raise UserError("--kmod: topology nested does not load test modules; use loopback, g2h or g2g")
    files = hv_modules.test_modules(kmod.build_modules(kernel))
    print(f"vsockcheck: test modules for {kernel.release}: {' '.join(p.name for p in files)} "
          f"({files[0].parent})", flush=True)
    return files


def _cmd_kernels(args) -> int:
    print("Known kernels (vsockcheck kernels fetch SPEC):")
    for spec, description in kernels.list_known():
        print(f"  {spec:<17} {description}")
    cached = kernels.list_cached()
    print("Cached kernels:" if cached else "Cached kernels: none")
    for entry in cached:
        print(f"  {entry.spec:<17} {entry.release:<30} {entry.version:<14} "
              f"{entry.size / 2**20:6.1f} MiB  {entry.path}")
    return 0


def _cmd_fetch(args) -> int:
    if args.spec.startswith("debian:"):
        kernel = kernels.fetch(args.spec)
        print(f"{args.spec}: {kernel.release} ({kernel.version}) at {kernel.vmlinuz.parent.parent}")
        return 0
    # A local kernel needs no download: check that it is usable and say what was found.
    kernel = kernels.resolve(args.spec, fetch=False)
    modules_dir = kernel.modules_dir or "none (modules built in, or no modules)"
    print(f"{args.spec}: local kernel {kernel.release}, image {kernel.vmlinuz}, modules {modules_dir}")
    return 0


def _cmd_build_kernel(args) -> int:
    if args.jobs is not None and args.jobs < 1:
        raise UserError(f"--jobs {args.jobs}: must be at least 1")
    src = kernel_source.source_tree(args.src)
    try:
        built = kbuild.build_kernel(src, args.config or kbuild.DEFAULT_FRAGMENTS, args.out, jobs=args.jobs)
    except KeyboardInterrupt:
        print("vsockcheck build-kernel: interrupted; make stopped", file=sys.stderr)
        return 130
    print(f"build-kernel: {built.release} in {built.seconds:.1f} s")
    print(built.spec)
    return 0


def _cmd_list(args) -> int:
    cases = catalogue.read(TEST_PROGRAM, args.pick, args.skip)
    rows = [("name", "type", "roles", "needs", "tags")]
    rows += [(c.name, c.sock_type, c.roles, c.needs, "; ".join(c.tags) or "-") for c in cases]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:4])) + "  " + row[4])
    print(f"{len(cases)} cases")
    return 0


def _cmd_parity(args) -> int:
    print(parity.markdown_table(catalogue.read(TEST_PROGRAM)), end="")
    return 0


def _cmd_run(args) -> int:
    topology_module = TOPOLOGIES[args.topology]
    if args.host_role and args.topology != topology_g2h.NAME:
        raise UserError(f"--host-role: only topology g2h has a host program (not {args.topology})")
    if args.l2_kernel and args.topology != topology_nested.NAME:
        raise UserError(f"--l2-kernel: only topology nested has L2 guests (not {args.topology})")
    if args.guest_mode in PeerModes.PEER and args.topology != topology_g2g.NAME:
        raise UserError(f"--guest-mode {args.guest_mode}: only topology g2g has a peer guest")
    device = device_spec.parse(args.device)
    device_spec.check_topology(device, args.topology)
    cases = catalogue.read(TEST_PROGRAM, args.pick, args.skip)
    kernel = kernels.resolve(args.kernel, fetch=True)
    l2_kernel = kernels.resolve(args.l2_kernel, fetch=True) if args.l2_kernel else None
    kernel_roles.require_topology(args.topology, kernel, l2_kernel)
    kmod_files = _kmod_files(args, kernel)
    results_dir = args.results or Path("vsockcheck-results") / f"{results.label(args.kernel)}-{topology_module.NAME}"
    results.make_results_dir(results_dir)
    l2_text = f", L2 {l2_kernel.name} ({l2_kernel.version})" if l2_kernel else ""
    # A topology that runs the cases more than once says how many results that makes.
    planned = getattr(topology_module, "planned", len)(cases)
    device_text = f", device {device.template}" if device.external else ""
    print(f"vsockcheck: {kernel.name} ({kernel.version}){l2_text}, topology {topology_module.NAME}{device_text}, "
          f"{planned} cases", flush=True)
    started_at = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    with tempfile.TemporaryDirectory(prefix="vsockcheck-") as workdir:
        request = RunRequest(kernel=kernel, cases=cases, selection=catalogue.selection_args(args.pick, args.skip),
                             workdir=Path(workdir), results_dir=results_dir, mode=args.guest_mode,
                             accel=args.accel, boot_timeout_s=args.boot_timeout, capture=args.capture,
                             host_role=args.host_role or "client", l2_kernel=l2_kernel, kmod_files=kmod_files,
                             device=device)
        done = topology_module.run(request, lambda r: print(results.format_case_line(r), flush=True))
    run = done.guest
    if args.show_command:
        for what, argv in done.commands:
            print(f"{what}:", qemu.show_command(argv))
    info = results.RunInfo(kernel_name=kernel.name, kernel_release=kernel.release,
                           kernel_version=kernel.version, topology=topology_module.NAME, accel=run.accel,
                           qemu_version=qemu.qemu_version(qemu.QEMU), started_at=started_at,
                           durations=run.durations, command_line=sys.argv)
    results.write_ktap(run.report, results_dir / "results.ktap")
    results.write_junit(run.report, info, results_dir / "junit.xml")
    results.write_json(run.report, info, results_dir / "results.json")
    print(results.format_table(run.report), end="")
    for note in done.notes:
        print(f"vsockcheck: {results.printable(note)}")
    d = run.durations
    print(f"timings ({run.accel}): initramfs {d['initramfs_s']:.1f} s, accel probe {d['accel_probe_s']:.1f} s, "
          f"boot {d['boot_s']:.1f} s, "
          + (f"L2 boot {d['l2_boot_s']:.1f} s, " if "l2_boot_s" in d else "") +
          f"tests {d['tests_s']:.1f} s, power-off {d['poweroff_s']:.1f} s, total {d['total_s']:.1f} s")
    written = ["results.ktap", "junit.xml", "results.json", *done.files]
    print(f"results: {results_dir}/ ({' '.join(written)})")
    print(results.format_counts(run.report))
    return 1 if results.count(run.report).failed else 0


def _cmd_exec(args) -> int:
    commands = {exec_plan.SERVER: args.server, exec_plan.CLIENT: args.client}
    files = exec_plan.check_inputs(commands, args.files)
    if not args.timeout > 0:
        raise UserError(f"--timeout {args.timeout:g}: must be more than 0 seconds")
    if args.l2_kernel and args.topology != topology_nested.NAME:
        raise UserError(f"--l2-kernel: only topology nested has L2 guests (not {args.topology})")
    kernel = kernels.resolve(args.kernel, fetch=True)
    l2_kernel = kernels.resolve(args.l2_kernel, fetch=True) if args.l2_kernel else None
    kernel_roles.require_topology(args.topology, kernel, l2_kernel)
    kmod_files = _kmod_files(args, kernel)
    results_dir = args.results or Path("vsockcheck-results") / f"{results.label(args.kernel)}-{args.topology}-exec"
    results.make_results_dir(results_dir)
    control_port = exec_net.free_tcp_port()
    placement = exec_placement.PLACEMENTS[args.topology](control_port)
    l2_text = f", L2 {l2_kernel.name} ({l2_kernel.version})" if l2_kernel else ""
    print(f"vsockcheck exec: {kernel.name} ({kernel.version}){l2_text}, topology {args.topology}, "
          f"control port {control_port}, timeout {args.timeout:g} s", flush=True)
    with tempfile.TemporaryDirectory(prefix="vsockcheck-") as workdir:
        request = exec_plan.ExecRequest(kernel=kernel, commands=commands, files=files, timeout_s=args.timeout,
                                        results_dir=results_dir, workdir=Path(workdir), accel=args.accel,
                                        l2_kernel=l2_kernel, kmod_files=kmod_files)
        done = exec_run.run(request, placement, control_port)
    if args.show_command:
        for what, argv in done.commands:
            print(f"{what}:", qemu.show_command(argv))
    for line in exec_report.lines(done):
        print(line)
    print(f"results: {results_dir}/ ({' '.join(done.files)})")
    print(exec_report.verdict(done))
    return 0 if done.ok else 1
