"""matrix.html: the matrix as one self-contained page (inline CSS, no script, no external URL):
colour-coded cells of fixed size under a sticky header, each failing cell a link to its log excerpt."""

from __future__ import annotations

import html

from vsc.ktap_syntax import ERROR, FAIL, PASS, SKIP, TIMEOUT, XFAIL
from vsc import matrix_behaviours
from vsc.matrix_compare import notes as compare_notes
from vsc.matrix_model import Cell, Matrix, format_counts, is_failure
from vsc.matrix_text import LABELS, change_label
from vsc.results import printable

# Cell colours (RGB): the screenshot test looks for exactly these.
COLOURS = {PASS: (143, 209, 143), FAIL: (232, 84, 90), SKIP: (232, 220, 130), XFAIL: (156, 200, 236),
           TIMEOUT: (240, 160, 80), ERROR: (176, 112, 192)}
CHANGED_BORDER = (0, 0, 0)
# A fixed layout (pixels), so that the screenshot test knows where each cell is: the page starts with
# a block of TOP_H, then the header row (HEAD_H), then one row of ROW_H per case; the case column is
# CASE_W wide, each kernel column CELL_W.
TOP_H, HEAD_H, ROW_H, CASE_W, CELL_W = 80, 56, 24, 300, 160


def cell_box(row: int, column: int) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of a cell on the page, row and column counted from 0."""
    left, top = CASE_W + column * CELL_W, TOP_H + HEAD_H + row * ROW_H
    return left, top, left + CELL_W, top + ROW_H


def anchor(row: int, column: int) -> str:
    return f"log-{column}-{row}"


def column_anchor(column: int) -> str:
    return f"error-{column}"


def _rgb(colour: tuple[int, int, int]) -> str:
    return "#%02x%02x%02x" % colour


def _style() -> str:
    cells = "\n".join(f"td.{status} {{ background: {_rgb(rgb)}; }}" for status, rgb in COLOURS.items())
    return f"""
body {{ margin: 0; font: 12px/1.3 sans-serif; color: #000; background: #fff; }}
#top {{ height: {TOP_H}px; box-sizing: border-box; overflow: hidden; padding: 6px 8px; }}
#top h1 {{ font-size: 16px; margin: 0 0 4px 0; }}
#top p {{ margin: 0; white-space: nowrap; }}
table {{ border-collapse: separate; border-spacing: 0; table-layout: fixed;
        width: {CASE_W}px; }}
th, td {{ box-sizing: border-box; overflow: hidden; white-space: nowrap; padding: 0 4px;
         border: 1px solid #fff; }}
th {{ position: sticky; top: 0; height: {HEAD_H}px; background: #404040; color: #fff;
     white-space: normal; font-weight: normal; text-align: left; z-index: 1; }}
th.case, td.case {{ width: {CASE_W}px; }}
th.col, td.cell {{ width: {CELL_W}px; }}
td {{ height: {ROW_H}px; }}
td.case {{ background: #fff; text-overflow: ellipsis; }}
{cells}
td.changed {{ outline: 3px solid {_rgb(CHANGED_BORDER)}; outline-offset: -3px; font-weight: bold; }}
td a {{ color: #000; }}
.excerpt {{ margin: 16px 8px; }}
.excerpt:target {{ background: #fff3c0; }}
.excerpt pre {{ white-space: pre-wrap; background: #f4f4f4; padding: 6px; }}
.notes {{ margin: 8px; }}
"""


def render(matrix: Matrix) -> str:
    e = html.escape
    out = ['<!DOCTYPE html>', '<html lang="en"><head><meta charset="utf-8">',
           '<title>vsockcheck kernel matrix</title>', f'<style>{_style()}</style></head><body>',
           '<div id="top"><h1>vsockcheck kernel matrix</h1>', f'<p>{e(format_counts(matrix))}</p>']
    if matrix.compare is not None:
        out.append(f'<p>{e(printable(matrix.compare["summary"]))}</p>')
    out.append('</div>')
    width = CASE_W + CELL_W * len(matrix.columns)
    out.append(f'<table style="width: {width}px"><thead><tr><th class="case">case</th>')
    for i, col in enumerate(matrix.columns):
        title = f"{col.kernel} ({col.release or 'release unknown'}), topology {col.topology}"
        if col.was_release:
            title += f"; the compared matrix had {col.was_release}"
        label = e(printable(col.label)) + (f" (was {e(printable(col.was_release))})" if col.was_release else "")
        if col.error is not None:
            label += f' <a href="#{column_anchor(i)}" style="color:#fff">ERROR</a>'
        out.append(f'<th class="col" title="{e(printable(title))}">{label}</th>')
    out.append('</tr></thead><tbody>')
    excerpts = []
    for row, case in enumerate(matrix.cases):
        out.append(f'<tr><td class="case" title="{e(printable(case))}">{e(printable(case))}</td>')
        for i, col in enumerate(matrix.columns):
            cell = matrix.cell(case, i)
            out.append(_cell(cell, row, i, col.error is not None))
            if cell is not None and col.error is None and (is_failure(cell.status) or cell.was):
                excerpts.append(_excerpt(anchor(row, i), f"{case}: {col.label}", cell))
    out.append('</tbody></table>')
    notes = matrix_behaviours.lines(matrix) + compare_notes(matrix)[1:]
    if notes:
        out.append('<div class="notes">' + "".join(f"<p>{e(printable(n))}</p>" for n in notes) + '</div>')
    for i, col in enumerate(matrix.columns):
        if col.error is not None:
            excerpts.append(_excerpt(column_anchor(i), f"{col.label}: the run could not happen",
                                     Cell(ERROR, col.error, [col.error])))
    out += excerpts
    out.append('</body></html>')
    return "\n".join(out) + "\n"


def _cell(cell: Cell | None, row: int, column: int, column_error: bool) -> str:
    if cell is None:
        return '<td class="cell" title="not run in this column">-</td>'
    e = html.escape
    classes = ["cell", cell.status] + (["changed"] if cell.was else [])
    text = f"{change_label(cell.was)}→{change_label(cell.status)}" if cell.was else LABELS[cell.status]
    title = (f"was {cell.was}, now {cell.status}" if cell.was else cell.status) + (f": {cell.reason}" if cell.reason else "")
    target = column_anchor(column) if column_error else anchor(row, column)
    if is_failure(cell.status) or cell.was:
        text = f'<a href="#{target}">{e(text)}</a>'
    else:
        text = e(text)
    return f'<td class="{" ".join(classes)}" title="{e(printable(title))}">{text}</td>'


def _excerpt(anchor_id: str, heading: str, cell: Cell) -> str:
    e = html.escape
    status = f"{cell.was} → {cell.status}" if cell.was else cell.status
    lines = "\n".join(e(printable(line)) for line in cell.excerpt) or "(no diagnostics)"
    return (f'<div class="excerpt" id="{anchor_id}"><h3>{e(printable(heading))}: {e(status)}</h3>'
            f'<p>{e(printable(cell.reason))}</p><pre>{lines}</pre></div>')
