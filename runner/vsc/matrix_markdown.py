"""matrix.md: the matrix as a GitHub Markdown table, the reason in each cell."""

from __future__ import annotations

import html

from vsc import matrix_behaviours
from vsc.matrix_compare import notes as compare_notes
from vsc.matrix_model import Cell, Matrix, format_counts, is_failure
from vsc.matrix_text import LABELS, NOT_RUN, change_label
from vsc.results import printable


def escape(text: str) -> str:
    """Guest text inside a table cell: no HTML (GitHub renders tags), no column break, one line. (An
    underscore inside a word stays literal on GitHub: names keep theirs unescaped.)"""
    text = html.escape(" ".join(printable(text).split()), quote=False)
    for ch in "\\|*`[]":
        text = text.replace(ch, "\\" + ch)
    return text


def render(matrix: Matrix) -> str:
    labels = []
    for col in matrix.columns:
        label = escape(col.label) + (f" (was {escape(col.was_release)})" if col.was_release else "")
        labels.append(label)
    lines = ["| case | " + " | ".join(labels) + " |", "|---" * (len(labels) + 1) + "|"]
    for case in matrix.cases:
        cells = [_cell(matrix.cell(case, i)) for i in range(len(matrix.columns))]
        lines.append(f"| {escape(case)} | " + " | ".join(cells) + " |")
    lines.append("")
    lines += [escape(line) + "  " for line in matrix_behaviours.lines(matrix) + compare_notes(matrix)]
    lines.append(format_counts(matrix))
    return "\n".join(lines) + "\n"


def _cell(cell: Cell | None) -> str:
    if cell is None:
        return NOT_RUN
    if cell.was:
        text = f"**{change_label(cell.was)}→{change_label(cell.status)}**"
    else:
        text = f"**{LABELS[cell.status]}**" if is_failure(cell.status) else LABELS[cell.status]
    return text + (f": {escape(cell.reason)}" if cell.reason else "")
