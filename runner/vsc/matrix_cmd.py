"""`vsockcheck matrix`: the suite on several kernels x topologies at once, as one table of cases x
columns in text, Markdown, HTML and JSON, optionally compared with an older matrix.json."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from vsc import (catalogue, device_spec, kernels, matrix_compare, matrix_html, matrix_json, matrix_markdown,
                 matrix_model, matrix_schedule, matrix_text, results)
from vsc.errors import UserError
from vsc.matrix_model import Column
from vsc.paths import PROJECT_ROOT
from vsc.topology import TEST_PROGRAM

# Measured (spike7-matrix.md): on 2 cores, 4 guests at once finish the 4-kernel loopback+g2h matrix
# fastest; more only lengthen each boot.
DEFAULT_JOBS = 4
DEFAULT_RESULTS = Path("vsockcheck-results") / "matrix"
OUTPUTS = {"matrix.txt": matrix_text.render, "matrix.md": matrix_markdown.render,
           "matrix.html": matrix_html.render, "matrix.json": matrix_json.render}
VSOCKCHECK = PROJECT_ROOT / "runner" / "vsockcheck"
# The program each column runs as `PROGRAM run ...` instead of this vsockcheck (the tests' fake one).
RUN_PROGRAM_ENV = "VSC_MATRIX_RUN_PROGRAM"


def add_command(commands, default_kernel: str, topologies: dict) -> None:
    cmd = commands.add_parser(
        "matrix", help="run the suite on several kernels and topologies at once; one table of the results",
        description="Fetches every kernel first, then runs `vsockcheck run` for each kernel x topology, at most "
                    "--jobs at once, longest first, and writes DIR/matrix.txt, matrix.md, matrix.html (one "
                    "self-contained page, each failure linked to its log excerpt) and matrix.json, beside one "
                    "run directory per column (DIR/<kernel>-<topology>). A run that could not happen is a "
                    "column of errors with its reason. Exits 0 when no cell failed, 1 otherwise, 2 for bad "
                    "input, 130 when interrupted.")
    cmd.add_argument("--kernel", action="append", default=[], metavar="SPEC",
                     help=f"debian:<suite> or a local kernel path (repeatable; default {default_kernel})")
    cmd.add_argument("--topology", action="append", default=[], choices=list(topologies),
                     help="repeatable (default loopback)")
    cmd.add_argument("--jobs", type=int, default=DEFAULT_JOBS, metavar="N",
                     help=f"runs at once (default {DEFAULT_JOBS})")
    cmd.add_argument("--results", type=Path, default=DEFAULT_RESULTS, metavar="DIR",
                     help=f"where the matrix files and the runs go (default {DEFAULT_RESULTS})")
    cmd.add_argument("--compare", type=Path, metavar="OLD.json",
                     help="mark every cell whose status differs from this older matrix.json")
    cmd.add_argument("--pick", action="append", default=[], metavar="GLOB",
                     help="only cases whose name matches (repeatable)")
    cmd.add_argument("--skip", action="append", default=[], metavar="GLOB",
                     help="leave out cases whose name matches (repeatable)")
    cmd.add_argument("--kmod", action="store_true", help="passed to each run: load the project's test modules")
    cmd.add_argument("--capture", action="store_true",
                     help="passed to each run through our device (g2h, g2g, nested): keep capture.pcap")
    cmd.add_argument("--device", default=device_spec.OURS, metavar="SPEC",
                     help="passed to each run (g2h and g2g only): the vhost-user backend under test, ours "
                          "(default) or vhost-user:'CMD ...' (see vsockcheck run --help)")
    cmd.set_defaults(func=lambda args: run(args, default_kernel, topologies))


def run(args, default_kernel: str, topologies: dict) -> int:
    if args.jobs < 1:
        raise UserError(f"--jobs {args.jobs}: must be at least 1")
    specs = list(dict.fromkeys(args.kernel or [default_kernel]))
    chosen = list(dict.fromkeys(args.topology or ["loopback"]))
    device = device_spec.parse(args.device)
    for topology in chosen:
        device_spec.check_topology(device, topology)
    # Read before anything runs: OLD.json may be DIR/matrix.json itself, which this matrix replaces.
    old = matrix_json.load(args.compare) if args.compare else None
    order = [case.name for case in catalogue.read(TEST_PROGRAM, args.pick, args.skip)]
    selection = catalogue.selection_args(args.pick, args.skip)
    results.make_results_dir(args.results)
    # Every kernel before any boot, one at a time: a bad SPEC or a failed download stops here.
    resolved = {}
    for spec in specs:
        kernel = kernels.resolve(spec, fetch=True)
        resolved[spec] = kernel
        print(f"matrix: {spec}: {kernel.release} ({kernel.version})", flush=True)
    jobs, columns, finished = [], {}, {}  # columns and finished (column, cells) by job
    for spec in specs:
        for topology in chosen:
            kernel = resolved[spec]
            column = Column(spec, topology, kernel.release, kernel.version)
            run_dir = args.results / f"{results.label(spec)}-{topology}"
            column.results_dir = str(run_dir)
            argv = [*_run_program(), "run", "--kernel", spec, "--topology", topology,
                    "--results", str(run_dir), *selection, *(["--kmod"] if args.kmod else []),
                    *(["--capture"] if args.capture and topologies[topology].CAPTURES else []),
                    *(["--device", args.device] if device.external else [])]
            job = matrix_schedule.Job(column.label, topology, kernel.version, argv, run_dir)
            jobs.append(job)
            columns[job] = column

    def on_start(job):
        print(f"matrix: start {job.name}", flush=True)

    def on_done(job):
        column, cells = finished[job] = _column(columns[job], job)
        what = f"ERROR: {column.error}" if column.error else matrix_model.format_counts(
            matrix_model.build([(column, cells)]))
        print(f"matrix: done {job.name} in {job.wall_s:.1f} s: {results.printable(what)}", flush=True)

    print(f"matrix: {len(jobs)} runs, at most {args.jobs} at once; results in {args.results}/", flush=True)
    matrix_schedule.run_all(matrix_schedule.order(jobs), args.jobs, on_start, on_done)
    matrix = matrix_model.build([finished[job] for job in jobs], order)
    if old is not None:
        matrix_compare.compare(matrix, old, str(args.compare))
    for name, render in OUTPUTS.items():
        path = args.results / name
        try:
            path.write_text(render(matrix), encoding="utf-8")
        except OSError as e:
            raise UserError(f"cannot write {path}: {e.strerror}") from None
    print(f"matrix: {args.results}/ ({' '.join(OUTPUTS)}); open {args.results / 'matrix.html'} in a browser")
    # The table ends with the total line over every cell.
    print(matrix_text.render(matrix), end="")
    return 1 if matrix_model.count(matrix).failed else 0


def _run_program() -> list[str]:
    program = os.environ.get(RUN_PROGRAM_ENV)
    return [program] if program else [sys.executable, str(VSOCKCHECK)]


def _column(column: Column, job: matrix_schedule.Job) -> tuple[Column, dict]:
    """The column a finished run gives: its cells, or why it has none."""
    column.durations["wall_s"] = job.wall_s
    last = results.printable(matrix_schedule.last_stderr_line(job))
    if job.returncode in (0, 1):
        try:
            return matrix_model.column_from_results(column, job.results_dir / "results.json")
        except UserError as e:
            column.error = f"{e}" + (f"; its last error line: {last}" if last else "")
            return column, {}
    if job.returncode < 0:
        how = f"run killed by {signal.Signals(-job.returncode).name}"
    else:
        how = f"run exited with status {job.returncode}"
    column.error = f"{how}: {last}" if last else how
    return column, {}
