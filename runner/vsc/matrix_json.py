"""matrix.json: the kernel matrix as data (written by `vsockcheck matrix`, read back by --compare)."""

from __future__ import annotations

import json
from pathlib import Path

from vsc.errors import UserError
from vsc.ktap_syntax import STATUSES
from vsc.matrix_model import Cell, Column, Matrix, count

# matrix.json, schema_version 1. Add fields freely; renaming or removing one bumps the version.
# {
#   "schema": "vsockcheck-matrix", "schema_version": 1,
#   "columns": [{"kernel": SPEC as given, "topology": str, "label": "bookworm 6.1.192 loopback",
#                "release": uname -r, "version": package version, "results_dir": str,
#                "error": str|null (the run could not happen: every cell of it is "error"),
#                "durations_s": {"boot_s", "tests_s", "total_s", "wall_s", ...: float},
#                "was_release": str|null (compare: the old matrix's release, when it differs)}],
#   "rows": [{"case": str, "cells": [cell|null, ...]}]   # one cell per column, null: not run there
#       cell = {"status": pass|fail|skip|xfail|timeout|error, "reason": str, "excerpt": [str],
#               "was": old status (present only when --compare found it changed)},
#   "counts": {"passed", "failed", "skipped": int},      # over every cell, as the total line
#   "compare": null | {"old": path, "changed": int, "regressions": int,
#                      "new_cases": [str], "removed_cases": [str],
#                      "new_columns": [label], "removed_columns": [label],
#                      "release_changes": [str], "summary": str}
# }
SCHEMA = "vsockcheck-matrix"
SCHEMA_VERSION = 1


def to_json(matrix: Matrix) -> dict:
    c = count(matrix)
    return {
        "schema": SCHEMA, "schema_version": SCHEMA_VERSION,
        "columns": [{"kernel": col.kernel, "topology": col.topology, "label": col.label, "release": col.release,
                     "version": col.version, "results_dir": col.results_dir, "error": col.error,
                     "durations_s": {k: round(v, 3) for k, v in col.durations.items()},
                     "was_release": col.was_release} for col in matrix.columns],
        "rows": [{"case": case, "cells": [_cell_json(matrix.cell(case, i)) for i in range(len(matrix.columns))]}
                 for case in matrix.cases],
        "counts": {"passed": c.passed, "failed": c.failed, "skipped": c.skipped},
        "compare": matrix.compare,
    }


def _cell_json(cell: Cell | None) -> dict | None:
    if cell is None:
        return None
    data = {"status": cell.status, "reason": cell.reason, "excerpt": list(cell.excerpt)}
    if cell.was is not None:
        data["was"] = cell.was
    return data


def render(matrix: Matrix) -> str:
    return json.dumps(to_json(matrix), indent=1, ensure_ascii=False) + "\n"


def load(path: Path) -> Matrix:
    """A matrix.json read back (for --compare): every field checked, a bad one named."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if data.get("schema") != SCHEMA or data.get("schema_version") != SCHEMA_VERSION:
            raise ValueError(f"schema {data.get('schema')!r} version {data.get('schema_version')!r}, "
                             f"expected {SCHEMA!r} version {SCHEMA_VERSION}")
        columns = [Column(str(c["kernel"]), str(c["topology"]), str(c["release"]), str(c["version"]),
                          str(c["results_dir"]), c["error"], dict(c["durations_s"])) for c in data["columns"]]
        cases, cells = [], {}
        for row in data["rows"]:
            case = str(row["case"])
            if len(row["cells"]) != len(columns):
                raise ValueError(f"row {case!r} has {len(row['cells'])} cells for {len(columns)} columns")
            cases.append(case)
            for i, cell in enumerate(row["cells"]):
                if cell is None:
                    continue
                if cell["status"] not in STATUSES:
                    raise ValueError(f"row {case!r}: unknown status {cell['status']!r}")
                cells[(case, i)] = Cell(cell["status"], str(cell["reason"]), [str(x) for x in cell["excerpt"]])
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise UserError(f"--compare {path}: not a readable matrix.json ({e})") from None
    return Matrix(columns, cases, cells)
