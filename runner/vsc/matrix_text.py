"""matrix.txt: the matrix as an aligned terminal table, columns numbered, reasons in numbered notes."""

from __future__ import annotations

from vsc.ktap_syntax import ERROR, FAIL, PASS, SKIP, TIMEOUT, XFAIL
from vsc import matrix_behaviours
from vsc.matrix_compare import notes as compare_notes
from vsc.matrix_model import Cell, Matrix, format_counts, is_failure
from vsc.results import printable

# Short enough for eight columns beside the case names; failures in capitals.
LABELS = {PASS: "ok", FAIL: "FAIL", SKIP: "skip", XFAIL: "xfail", TIMEOUT: "TIMEOUT", ERROR: "ERROR"}
NOT_RUN = "-"


def change_label(status: str) -> str:
    """'pass', 'FAIL': how a status reads in 'pass→FAIL'."""
    return status.upper() if is_failure(status) else status


def render(matrix: Matrix) -> str:
    """The column legend, the table, a numbered note per distinct reason, the version probes'
    behaviours, the compare summary and the total line (last)."""
    reasons: dict[str, int] = {}  # reason text -> note number, in order of first use
    header = ["case"] + [str(i + 1) for i in range(len(matrix.columns))]
    rows = [header]
    for case in matrix.cases:
        rows.append([printable(case)] + [_cell_text(matrix.cell(case, i), reasons)
                                         for i in range(len(matrix.columns))])
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["columns:"]
    for i, col in enumerate(matrix.columns):
        line = f"  {i + 1:>{len(str(len(matrix.columns)))}}  {printable(col.label)}"
        if col.was_release:
            line += f" (was {printable(col.was_release)})"
        if col.error is not None:
            line += f"  ERROR: {printable(col.error)}"
        lines.append(line)
    lines += ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows]
    if reasons:
        lines.append("notes:")
        lines += [f"  [{n}] {printable(text)}" for text, n in reasons.items()]
    lines += [printable(line) for line in matrix_behaviours.lines(matrix)]
    lines += compare_notes(matrix)
    lines.append(format_counts(matrix))
    return "\n".join(lines) + "\n"


def _cell_text(cell: Cell | None, reasons: dict[str, int]) -> str:
    if cell is None:
        return NOT_RUN
    text = f"{change_label(cell.was)}→{change_label(cell.status)}" if cell.was else LABELS[cell.status]
    if cell.reason:
        number = reasons.setdefault(cell.reason, len(reasons) + 1)
        text += f" [{number}]"
    return text
