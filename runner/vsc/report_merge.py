"""One report from several KTAP streams of one run (the nested topology's two passes): each
stream's cases keep their order, numbered after the previous stream's, named <pass>/<case>."""

from __future__ import annotations

from dataclasses import replace
from typing import Callable

from vsc.ktap_report import CaseResult, Report


def renamed(result: CaseResult, prefix: str, offset: int) -> CaseResult:
    return replace(result, number=result.number + offset, name=f"{prefix}/{result.name}")


def merge(parts: list[tuple[str, Report]], sizes: list[int] | None = None) -> Report:
    """`parts` in run order; sizes[i] is how many cases part i planned (default: its highest number)."""
    merged = Report(version=parts[0][1].version if parts else None)
    offset = 0
    for i, (prefix, report) in enumerate(parts):
        merged.header += [f"{prefix}: {line}" for line in report.header]
        merged.results += [renamed(r, prefix, offset) for r in sorted(report.results, key=lambda r: r.number)]
        merged.unparsed += [f"{prefix}: {line}" for line in report.unparsed]
        merged.problems += [f"{prefix}: {text}" for text in report.problems]
        merged.trailing += report.trailing
        highest = max((r.number for r in report.results), default=0)
        offset += sizes[i] if sizes is not None else max(highest, report.plan or 0)
    merged.plan = offset
    exits = [report.guest_exit for _, report in parts if report.guest_exit is not None]
    merged.guest_exit = max(exits) if exits else None
    return merged


class Renamer:
    """Live results of several streams under their merged names: callback(prefix) for each."""

    def __init__(self, parts: list[tuple[str, int]], on_result: Callable[[object], None]):
        self.offsets = {}
        offset = 0
        for prefix, size in parts:
            self.offsets[prefix] = offset
            offset += size
        self.on_result = on_result

    def callback(self, prefix: str) -> Callable[[object], None]:
        return lambda result: self.on_result(renamed(result, prefix, self.offsets[prefix]))
