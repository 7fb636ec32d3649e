"""`vsockcheck fixtures`: check packet fixture files, run them on each target's engine, record one
from a case's capture, and compare two kernels' runs."""

from __future__ import annotations

import argparse
import fnmatch
import importlib
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from vsc import fixture_check, fixture_diff, kernel_roles, kernels, qemu, report_merge, results
from vsc.errors import UserError
from vsc.guest_session import GuestRun
from vsc.ktap_report import Report, synthesize_result
from vsc.ktap_syntax import ERROR, FAIL

# "both": the two virtio engines (a fixture's "both" too); "all": those and hv_sock.
TARGET_CHOICES = (*fixture_check.TARGETS, "both", "all")
# The module that runs each target's engine: run(kernel, fixtures, results_dir, workdir) -> GuestRun.
ENGINES = {"virtio_transport": "vsc.fixtures_host", "vhost_vsock": "vsc.fixtures_guest",
           "hv_sock": "vsc.fixtures_hvsock"}
# Engine 1's guest works on any kernel with the virtio transport (vhost_vsock built in too does
# not matter: its sockets talk to CID 2); engine 2's guest hosts the fixture through vhost_vsock.
VHOST_TARGET = "vhost_vsock"
CHECK_PART = "check"  # result names of files that failed the check: check/<file stem>
TOPOLOGY = "fixtures"


def add_commands(commands, default_kernel: str) -> None:
    """`fixtures`, with its actions check, record and diff, on the top-level subparsers."""
    cmd = commands.add_parser(
        "fixtures", help="run packet fixtures (testcases/fixtures) against a kernel's vsock transports",
        description="Checks every fixture file, then runs the good ones on each target's engine: "
                    "virtio_transport (our vhost-user device plays the host of a guest) and vhost_vsock "
                    "(a guest driver on /dev/vhost-vsock inside the guest). A file that fails the check "
                    "counts as failed; the others run. Exits 0 when nothing failed, 1 otherwise, 2 for "
                    "bad input.")
    _add_run_options(cmd, default_kernel)
    cmd.add_argument("--results", type=Path, metavar="DIR",
                     help="where results.ktap, junit.xml, results.json, <target>.ktap and "
                          "<target>.trace.jsonl go (default vsockcheck-results/<kernel>-fixtures)")
    cmd.set_defaults(func=cmd_run)
    actions = cmd.add_subparsers(dest="action", metavar="ACTION")

    check = actions.add_parser("check", help="check fixture files; print file:line:col: $.path: message for "
                                             "each problem (exit 1 if any)")
    check.add_argument("files", nargs="*", type=Path, metavar="FILE",
                       help="fixture files (default: every testcases/fixtures/<area>/<name>.json)")
    check.set_defaults(func=cmd_check)

    record = actions.add_parser(
        "record", help="run one case in g2h with a capture and write its exchange as a fixture skeleton",
        description="Runs the socket-level case NAME in topology g2h with our device's capture, and turns "
                    "the packets between the guest and the host into a virtio_transport fixture: guest "
                    "packets become expect steps, host packets send steps, each connection's ports a "
                    "connection. The agent calls that made the guest send are left for you to add.")
    record.add_argument("--case", required=True, metavar="NAME", help="the case's exact name (vsockcheck list)")
    record.add_argument("--kernel", default=default_kernel, metavar="SPEC",
                        help=f"debian:<suite> or a local kernel path (default {default_kernel})")
    record.add_argument("-o", "--output", type=Path, metavar="FILE",
                        help="write the fixture here (default: standard output)")
    record.add_argument("--results", type=Path, metavar="DIR",
                        help="where the run's logs and capture.pcap go "
                             "(default vsockcheck-results/<kernel>-record-<case>)")
    record.set_defaults(func=cmd_record)

    diff = actions.add_parser(
        "diff", help="run the fixtures on two kernels and print where their outcomes or traces differ",
        description="Runs the fixtures on both kernels (or reads a --results DIR that already holds a "
                    "run) and prints, for each fixture whose outcome or trace differs, its first "
                    "differing step and field with both kernels' values. Exits 0 when nothing differs, "
                    "1 when something does, 2 for bad input.")
    diff.add_argument("--kernel", action="append", default=[], required=True, metavar="SPEC",
                      help="a kernel to compare; give it twice")
    diff.add_argument("--target", default="both", choices=TARGET_CHOICES,
                      help="which engines to compare (default both)")
    diff.add_argument("--pick", action="append", default=[], metavar="GLOB",
                      help="only fixtures whose name matches (repeatable)")
    diff.add_argument("--results", action="append", default=[], type=Path, metavar="DIR",
                      help="each kernel's results directory, in --kernel order; one holding results.json "
                           "is read, not run again (default vsockcheck-results/<kernel>-fixtures)")
    diff.set_defaults(func=cmd_diff)


def _add_run_options(cmd: argparse.ArgumentParser, default_kernel: str) -> None:
    cmd.add_argument("--target", default="both", choices=TARGET_CHOICES,
                     help="virtio_transport (engine 1), vhost_vsock (engine 2), both (default), hv_sock "
                          "(engine 3: hv_sock.ko on vmbus_sim) or all")
    cmd.add_argument("--pick", action="append", default=[], metavar="GLOB",
                     help="only fixtures whose name matches (repeatable)")
    cmd.add_argument("--kernel", default=default_kernel, metavar="SPEC",
                     help=f"debian:<suite> or a local kernel path (default {default_kernel})")


# -- fixtures check -------------------------------------------------------------------------------

def cmd_check(args) -> int:
    paths = args.files or fixture_check.discover()
    if not paths:
        raise UserError(f"no fixture files under {fixture_check.FIXTURES_DIR}")
    bad = 0
    for path in paths:
        errors = fixture_check.inspect(path).errors
        bad += bool(errors)
        for line in errors:
            print(line)
    print(f"{len(paths)} fixture files: {len(paths) - bad} good, {bad} bad")
    return 1 if bad else 0


# -- fixtures (run) -------------------------------------------------------------------------------

def targets_of(target: str) -> tuple[str, ...]:
    """The engines a --target runs."""
    return {"both": fixture_check.VIRTIO_TARGETS, "all": fixture_check.TARGETS}.get(target, (target,))


def select(files: list[fixture_check.FixtureFile], picks: list[str], target: str):
    """(bad files, {engine target: good files}) of the selection; a name matching no --pick is left out."""
    chosen = [f for f in files if not picks or any(fnmatch.fnmatchcase(f.name, g) for g in picks)]
    if picks and not chosen:
        raise UserError(f"--pick {' '.join(picks)}: no fixture matches")
    wanted = targets_of(target)
    bad = [f for f in chosen if f.errors]
    by_target = {t: [f for f in chosen if not f.errors and t in f.targets] for t in wanted}
    return bad, by_target


def cmd_run(args) -> int:
    results_dir = args.results or Path("vsockcheck-results") / f"{results.label(args.kernel)}-{TOPOLOGY}"
    report = run_fixtures(args.kernel, args.target, args.pick, results_dir)
    return 1 if results.count(report).failed else 0


def run_fixtures(kernel_spec: str, target: str, picks: list[str], results_dir: Path) -> Report:
    """Checks, runs and reports; returns the merged report (also in results_dir)."""
    files = [fixture_check.inspect(p) for p in fixture_check.discover()]
    bad, by_target = select(files, picks, target)
    kernel = kernels.resolve(kernel_spec, fetch=True)
    if by_target.get(VHOST_TARGET):
        kernel_roles.require(kernel, kernel_roles.HOST, f"the fixtures' {VHOST_TARGET} engine",
                             "build the kernel with kconfig/vsock-host.config, or run --target virtio_transport")
    results.make_results_dir(results_dir)
    planned = len(bad) + sum(len(v) for v in by_target.values())
    print(f"vsockcheck fixtures: {kernel.name} ({kernel.version}), "
          + ", ".join(f"{t} {len(v)}" for t, v in by_target.items())
          + (f", {len(bad)} bad files" if bad else "") + f", {planned} results", flush=True)
    for f in bad:
        for line in f.errors:
            print(line, flush=True)
    started_at = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    parts = [(CHECK_PART, _bad_files_report(bad))] if bad else []
    runs: list[GuestRun] = []
    with tempfile.TemporaryDirectory(prefix="vsockcheck-") as workdir:
        for engine_target, chosen in by_target.items():
            if not chosen:
                continue
            run = run_engine(engine_target, kernel, chosen, results_dir, Path(workdir) / engine_target)
            runs.append(run)
            parts.append((engine_target, _plain_names(run.report, engine_target)))
    sizes = [len(bad)] * bool(bad) + [len(v) for v in by_target.values() if v]
    report = report_merge.merge(parts, sizes)
    info = results.RunInfo(kernel_name=kernel.name, kernel_release=kernel.release,
                           kernel_version=kernel.version, topology=TOPOLOGY,
                           accel=",".join(dict.fromkeys(r.accel for r in runs if r.accel)) or "none",
                           qemu_version=qemu.qemu_version(qemu.QEMU), started_at=started_at,
                           durations=_summed(r.durations for r in runs), command_line=sys.argv)
    results.write_ktap(report, results_dir / "results.ktap")
    results.write_junit(report, info, results_dir / "junit.xml")
    results.write_json(report, info, results_dir / "results.json")
    print(results.format_table(report), end="")
    for problem in report.problems:
        print(f"vsockcheck: {results.printable(problem)}")
    written = ["results.ktap", "junit.xml", "results.json",
               *(f"{t}.ktap {t}.trace.jsonl" for t, v in by_target.items() if v)]
    print(f"results: {results_dir}/ ({' '.join(written)})")
    print(results.format_counts(report))
    return report


def run_engine(target: str, kernel, chosen: list[fixture_check.FixtureFile], results_dir: Path,
               workdir: Path) -> GuestRun:
    """One engine's run; an engine that cannot start makes each of its fixtures an ERROR."""
    paths = [f.path for f in chosen]
    try:
        engine = importlib.import_module(ENGINES[target])
        workdir.mkdir(parents=True, exist_ok=True)
        return engine.run(kernel, paths, results_dir, workdir)
    except ImportError as e:
        why = f"no engine for {target} in this runner ({ENGINES[target]}: {e})"
    except UserError as e:
        why = f"the {target} engine could not run: {e}"
    report = Report(plan=len(chosen))
    report.results = [synthesize_result(i, f.name, ERROR, f"not run: {why}") for i, f in enumerate(chosen, 1)]
    report.problems.append(why)
    return GuestRun(report, "", [])


def _bad_files_report(bad: list[fixture_check.FixtureFile]) -> Report:
    report = Report(plan=len(bad))
    report.results = [synthesize_result(i, f.path.stem, FAIL, "", f.errors) for i, f in enumerate(bad, 1)]
    return report


def _plain_names(report: Report, target: str) -> Report:
    """Result names without the engine's own "<target>/" prefix: the merge adds it once."""
    prefix = f"{target}/"
    report.results = [replace(r, name=r.name.removeprefix(prefix)) for r in report.results]
    return report


def _summed(durations) -> dict[str, float]:
    total: dict[str, float] = {}
    for d in durations:
        for key, value in d.items():
            total[key] = round(total.get(key, 0.0) + value, 3)
    return total


# -- fixtures diff --------------------------------------------------------------------------------

def cmd_diff(args) -> int:
    if len(args.kernel) != 2:
        raise UserError(f"--kernel: give exactly two kernels to compare, not {len(args.kernel)}")
    if len(args.results) not in (0, 2):
        raise UserError("--results: give one directory for each --kernel, or none")
    dirs = args.results or [Path("vsockcheck-results") / f"{results.label(k)}-{TOPOLOGY}" for k in args.kernel]
    if dirs[0].resolve() == dirs[1].resolve():
        raise UserError(f"--results: both kernels would write {dirs[0]}; give two directories")
    for spec, results_dir in zip(args.kernel, dirs):
        if args.results and (results_dir / "results.json").exists():
            print(f"vsockcheck fixtures diff: {spec}: reading {results_dir}", flush=True)
            continue
        run_fixtures(spec, args.target, args.pick, results_dir)
    targets = targets_of(args.target)
    a, b = (fixture_diff.Side.read(d) for d in dirs)
    if a.label == b.label:  # the same kernel twice (a flakiness check): keep the two apart
        a.label, b.label = f"{a.label}#1", f"{b.label}#2"
    lines, compared = fixture_diff.compare(a, b, targets, args.pick)
    for line in lines:
        print(line)
    print(f"{len(lines)} of {compared} fixtures differ between {a.label} and {b.label}" if lines
          else f"no difference between {a.label} and {b.label} in {compared} fixtures")
    return 1 if lines else 0


# -- fixtures record ------------------------------------------------------------------------------

def cmd_record(args) -> int:
    from vsc import fixture_record  # the g2h machinery is only needed here

    results_dir = args.results or (Path("vsockcheck-results")
                                   / f"{results.label(args.kernel)}-record-{results.label(args.case)}")
    text = fixture_record.record(args.case, args.kernel, results_dir,
                                 fixture_record.fixture_name(args.case, args.output))
    if args.output is None:
        sys.stdout.write(text)
        return 0
    try:
        args.output.write_text(text, encoding="utf-8")
    except OSError as e:
        raise UserError(f"-o {args.output}: cannot write it ({e.strerror})") from None
    print(f"vsockcheck fixtures record: {args.output} written; check it with: "
          f"vsockcheck fixtures check {args.output}", file=sys.stderr)
    return 0
