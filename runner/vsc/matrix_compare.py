"""--compare: mark what changed in a matrix since an older one (cells, cases, columns, releases)."""

from __future__ import annotations

from vsc.matrix_model import Matrix, is_regression


def compare(new: Matrix, old: Matrix, old_name: str) -> dict:
    """Sets cell.was on every cell whose status changed, column.was_release where the release moved,
    and new.compare to the summary (matrix_json's "compare" object), which it returns. Columns are
    matched by kernel SPEC and topology, cases by name; a cell only one side has is not a change."""
    old_index = {col.key: i for i, col in enumerate(old.columns)}
    new_keys = {col.key for col in new.columns}
    release_changes = []
    changed = regressions = 0
    for i, col in enumerate(new.columns):
        j = old_index.get(col.key)
        if j is None:
            continue
        old_col = old.columns[j]
        if old_col.release and col.release and (old_col.short_release, old_col.release) != (col.short_release, col.release):
            col.was_release = old_col.short_release
            release_changes.append(f"{col.kernel} {col.topology}: {old_col.short_release} -> {col.short_release}")
        for case in new.cases:
            cell, old_cell = new.cell(case, i), old.cell(case, j)
            if cell is None or old_cell is None or cell.status == old_cell.status:
                continue
            cell.was = old_cell.status
            changed += 1
            regressions += is_regression(cell)
    summary = f"changed since {old_name}: {changed} cells ({regressions} regressions)"
    old_cases, new_cases = set(old.cases), set(new.cases)
    new.compare = {
        "old": old_name, "changed": changed, "regressions": regressions,
        "new_cases": [c for c in new.cases if c not in old_cases],
        "removed_cases": [c for c in old.cases if c not in new_cases],
        "new_columns": [col.label for col in new.columns if col.key not in old_index],
        "removed_columns": [col.label for col in old.columns if col.key not in new_keys],
        "release_changes": release_changes,
        "summary": summary,
    }
    return new.compare


def notes(matrix: Matrix) -> list[str]:
    """The compare summary as lines for text and Markdown: the count first, then what moved."""
    c = matrix.compare
    if c is None:
        return []
    lines = [c["summary"]]
    for title, key in (("new cases", "new_cases"), ("removed cases", "removed_cases"),
                       ("new columns", "new_columns"), ("removed columns", "removed_columns"),
                       ("release changed (columns matched by kernel and topology)", "release_changes")):
        if c[key]:
            lines.append(f"{title}: {', '.join(c[key])}")
    return lines
