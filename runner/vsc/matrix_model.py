"""The kernel matrix as data: one column per kernel x topology run, one row per case, one cell each."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from vsc.errors import UserError
from vsc.ktap_syntax import ERROR, FAIL, PASS, SKIP, STATUSES, TIMEOUT, XFAIL
from vsc.results import FAILED, PASSED, Counts

# Worst first: what a reader must see before anything else.
SEVERITY = {ERROR: 0, TIMEOUT: 1, FAIL: 2, XFAIL: 3, SKIP: 4, PASS: 5}
assert set(SEVERITY) == set(STATUSES)


@dataclass
class Cell:
    status: str               # one of ktap_syntax.STATUSES
    reason: str               # why it failed or was skipped ("" for a plain pass)
    excerpt: list[str] = field(default_factory=list)  # the case's diagnostics (kernel lines included)
    was: str | None = None    # its status in the compared matrix, when that differs


@dataclass
class Column:
    kernel: str               # the SPEC as given (debian:bookworm, a path)
    topology: str
    release: str = ""         # uname -r ("" when the run never said)
    version: str = ""         # package version when known
    results_dir: str = ""
    error: str | None = None  # why the run could not happen: then every cell is ERROR with this reason
    durations: dict[str, float] = field(default_factory=dict)  # results.json durations_s, plus wall_s
    was_release: str | None = None  # compare: the release of the old matrix's column, when it differs

    @property
    def key(self) -> tuple[str, str]:
        """What --compare matches columns by: the release may change between two matrices."""
        return self.kernel, self.topology

    @property
    def label(self) -> str:
        """'bookworm 6.1.192 loopback': the suite (or the path's last part), the release, the topology."""
        if self.kernel.startswith("debian:"):
            name = self.kernel[len("debian:"):]
        else:
            # A kernel image says less than the directory holding it (build/slow/kernels/guest/vmlinuz-R).
            path = Path(self.kernel)
            name = path.parent.name if path.name.startswith(("vmlinuz", "bzImage")) else path.name
        return " ".join(part for part in (name or self.kernel, self.short_release, self.topology) if part)

    @property
    def short_release(self) -> str:
        # A Debian kernel's upstream version (6.1.192 of 6.1.192-2) says more than 6.1.0-56-cloud-amd64.
        if self.version and self.version != self.release:
            return self.version.split("-")[0]
        return self.release


@dataclass
class Matrix:
    columns: list[Column]
    cases: list[str]                                    # row order
    cells: dict[tuple[str, int], Cell]                  # (case, column index); absent: not run there
    compare: dict | None = None                         # set by matrix_compare.compare

    def cell(self, case: str, column: int) -> Cell | None:
        return self.cells.get((case, column))


def column_from_results(column: Column, results_json: Path) -> tuple[Column, dict[str, Cell]]:
    """The column filled in from a run's results.json, and its cells by case name."""
    try:
        data = json.loads(Path(results_json).read_text(encoding="utf-8"))
        if data.get("schema") != "vsockcheck-results":
            raise ValueError(f"schema is {data.get('schema')!r}, not 'vsockcheck-results'")
        run = data["run"]
        column.release = str(run["kernel"]["release"])
        column.version = str(run["kernel"]["version"])
        column.durations.update({k: float(v) for k, v in run.get("durations_s", {}).items()})
        cells = {str(c["name"]): _cell(c) for c in data["cases"]}
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise UserError(f"{results_json}: not a readable results.json ({e})") from None
    return column, cells


def _cell(case: dict) -> Cell:
    status = case["status"]
    if status not in SEVERITY:
        raise ValueError(f"case {case['name']!r} has unknown status {status!r}")
    diagnostics = [str(line) for line in case.get("diagnostics", [])]
    for sub in case.get("subtests", []):
        diagnostics.append(f"subtest {sub['name']}: {sub['status']}" + (f" ({sub['reason']})" if sub["reason"] else ""))
        diagnostics += [f"  {line}" for line in sub.get("diagnostics", [])]
    # A pass's diagnostics are informational ("connect() gave up after 331 ms"): the excerpt keeps them.
    reason = "" if status == PASS else reason_of(status, str(case.get("reason", "")), diagnostics)
    return Cell(status, reason, diagnostics)


def reason_of(status: str, reason: str, diagnostics: list[str]) -> str:
    """As the run's own table says it: a plain fail's first diagnostic, a directive's text."""
    first = diagnostics[0] if diagnostics else ""
    text = (first or reason) if status == FAIL else (reason or first)
    return " ".join(text.split())


def build(columns: list[tuple[Column, dict[str, Cell]]], order: list[str] = ()) -> Matrix:
    """One matrix from its columns' cells. Rows: every case any column ran, in catalogue order
    (`order`; nested's l1/NAME and l2/NAME beside NAME), unknown names after, as first seen. A
    column with an error gets an ERROR cell in every row, with its reason."""
    position = {name: i for i, name in enumerate(order)}
    seen: dict[str, int] = {}
    for _, cells in columns:
        for name in cells:
            seen.setdefault(name, len(seen))
    if not seen:
        seen = {name: i for i, name in enumerate(order)}

    def row_key(name: str):
        prefix, _, base = name.rpartition("/")
        return (position.get(base, len(position)), seen.get(name, 0) if base not in position else 0, prefix)

    cases = sorted(seen, key=row_key)
    matrix_cells: dict[tuple[str, int], Cell] = {}
    for index, (column, cells) in enumerate(columns):
        for name in cases:
            if column.error is not None:
                matrix_cells[(name, index)] = Cell(ERROR, column.error, [column.error])
            elif name in cells:
                matrix_cells[(name, index)] = cells[name]
    return Matrix([c for c, _ in columns], cases, matrix_cells)


def count(matrix: Matrix) -> Counts:
    """Over every cell: xfail counts as passed; fail, timeout and error as failed."""
    statuses = [cell.status for cell in matrix.cells.values()]
    return Counts(sum(s in PASSED for s in statuses), sum(s in FAILED for s in statuses), statuses.count(SKIP))


def format_counts(matrix: Matrix) -> str:
    c = count(matrix)
    return f"{c.passed} passed, {c.failed} failed, {c.skipped} skipped"


def is_failure(status: str) -> bool:
    return status in FAILED


def is_regression(cell: Cell) -> bool:
    """A changed cell that now fails and did not before."""
    return cell.was is not None and cell.status in FAILED and cell.was not in FAILED
