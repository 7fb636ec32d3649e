"""What the version probes said in each column: a probe case prints `behaviour: ...` (testcases/
hvsock_probe.c) and passes when that is what its kernel should do, so its cell alone reads "ok"
everywhere; these lines show which behaviour each kernel has, and where the kernels differ."""

from __future__ import annotations

from vsc.matrix_model import Matrix

MARK = "behaviour: "


def behaviour(excerpt: list[str]) -> str | None:
    """The text after the first `behaviour: ` of a cell's diagnostics, or None."""
    for line in excerpt:
        at = line.find(MARK)
        if at >= 0:
            return line[at + len(MARK):].strip()
    return None


def lines(matrix: Matrix) -> list[str]:
    """'behaviours:' then, per case that printed one, its name (with 'differs' when the columns do
    not agree) and each distinct behaviour with the numbers of the columns that showed it."""
    out = []
    for case in matrix.cases:
        seen: dict[str, list[int]] = {}
        for i in range(len(matrix.columns)):
            cell = matrix.cell(case, i)
            text = behaviour(cell.excerpt) if cell is not None else None
            if text is not None:
                seen.setdefault(text, []).append(i + 1)
        if not seen:
            continue
        out.append(f"  {case}" + (" (differs)" if len(seen) > 1 else ""))
        out += [f"    {' '.join(map(str, columns))}: {text}" for text, columns in seen.items()]
    return ["behaviours:", *out] if out else []
