"""Streaming parser for the guest harness's KTAP output; re-exports the report model for callers."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from vsc.ktap_report import (CaseBegan, CaseFinished, CaseResult, Event, GuestExited, PlanSeen, Report,
                             synthesize_result, to_ktap)
from vsc.ktap_syntax import (STATUSES, ResultLine, parse_diagnostic, parse_plan, parse_result,
                             parse_version)

__all__ = ["CaseBegan", "CaseFinished", "CaseResult", "Event", "GuestExited", "Parser", "PlanSeen",
           "Report", "STATUSES", "synthesize_result", "to_ktap"]

# The suite has tens of cases. A larger number from the guest is corruption, and would have the
# runner synthesize a result for every number below it.
MAX_CASE_NUMBER = 999

_BEGIN = re.compile(r"vsockcheck: begin (\d+) (\S+)(?: timeout=(\d+(?:\.\d+)?))?\s*$")
_EXIT = re.compile(r"vsockcheck-guest: exit=(-?\d+)\s*$")
# What the runner's own guest pieces print (vsockcheck:, vsockcheck-init:, ...) is never a diagnostic.
_MARKER = re.compile(r"vsockcheck(?:-[a-z]+)?:")


@dataclass
class _Level:
    """One nesting level of KTAP: the top document, or the subtests of the next result above."""

    indent: int
    path: str  # prefix naming cases in messages: "" at the top, "3." in the subtests of case 3
    version_seen: bool = False
    plan: int | None = None
    results: list[CaseResult] = field(default_factory=list)
    diagnostics: list[str] = field(default_factory=list)
    subtests: list[CaseResult] = field(default_factory=list)  # closed child level, for the next result

    def numbers(self) -> set[int]:
        return {r.number for r in self.results}


class Parser:
    """Feed whole lines with feed(line, t); each call returns the events it completed."""

    def __init__(self) -> None:
        self._report = Report()
        self._stack = [_Level(indent=0, path="")]
        self._lineno = 0
        self._finished = False

    def feed(self, line: str, t: float | None = None) -> list[Event]:
        if self._finished:
            raise RuntimeError("Parser.feed() after finish()")
        events: list[Event] = []
        for part in line.splitlines() or [line]:
            self._lineno += 1
            self._feed_one(part.rstrip(), t, events)
        return events

    def finish(self) -> Report:
        self._finished = True
        report, top = self._report, self._stack[0]
        if len(self._stack) > 1:
            self._problem("the output ended inside a subtest block")
        while len(self._stack) > 1:
            self._close_level()
        if top.subtests:
            self._problem(f"{len(top.subtests)} subtest results have no parent result line")
        report.plan, report.results, report.trailing = top.plan, top.results, top.diagnostics
        if report.version is None:
            report.problems.append("no 'KTAP version 1' line")
        if report.plan is None:
            report.problems.append("no plan line (1..N)")
        elif report.missing():
            absent = _ranges(report.missing())
            report.problems.append(f"plan 1..{report.plan} but no result for case {absent}")
        return report

    def _problem(self, text: str) -> None:
        self._report.problems.append(f"line {self._lineno}: {text}")

    def _feed_one(self, raw: str, t: float | None, events: list[Event]) -> None:
        body = raw.lstrip(" ")
        if not body:
            return
        version, plan, result = parse_version(body), parse_plan(body), parse_result(body)
        diagnostic = parse_diagnostic(body)
        if version is None and plan is None and result is None and diagnostic is None:
            self._report.unparsed.append(raw)
            return
        indent = len(raw) - len(body)
        if diagnostic is not None and not diagnostic.startswith("Subtest:"):
            # Diagnostics never end a subtest block: an unindented note between subtest lines
            # (or kernel output mistaken for one) must not cut the block in two.
            self._on_diagnostic(self._level_at(indent), diagnostic, raw, t, events)
            return
        level = self._level_for(indent)
        if version is not None:
            self._on_version(level, version)
        elif plan is not None:
            self._on_plan(level, plan, raw, events)
        elif result is not None:
            self._on_result(level, result, raw, t, events)
        # else a TAP14 '# Subtest: name' header: it opened the level; the parent's result names it.

    def _level_at(self, indent: int) -> _Level:
        """The innermost open level a line indented this much belongs to."""
        return next(level for level in reversed(self._stack) if level.indent <= indent)

    def _level_for(self, indent: int) -> _Level:
        """Close the levels deeper than a structural line; open one if the line is deeper still."""
        while len(self._stack) > 1 and indent < self._stack[-1].indent:
            self._close_level()
        level = self._stack[-1]
        if indent > level.indent:
            level = _Level(indent=indent, path=f"{level.path}{_next_number(level)}.")
            self._stack.append(level)
        return level

    def _close_level(self) -> None:
        child = self._stack.pop()
        parent = self._stack[-1]
        if child.plan is not None:
            absent = [n for n in range(1, child.plan + 1) if n not in child.numbers()]
            if absent:
                self._problem(f"subtests of case {child.path[:-1]}: plan 1..{child.plan} "
                              f"but no result for {_ranges(absent)}")
        if child.subtests:
            self._problem(f"subtests of case {child.path[:-1]}: {len(child.subtests)} results "
                          "have no parent result line")
        kept = {r.number for r in parent.subtests}
        if kept:
            self._problem(f"a second subtest block for case {child.path[:-1]} merged into the first")
        parent.subtests += [r for r in child.results if r.number not in kept]
        parent.diagnostics.extend(child.diagnostics)

    def _on_version(self, level: _Level, version: str) -> None:
        if level.version_seen or level.plan is not None or level.results:
            # At the top this usually means the guest rebooted and the harness started again.
            self._problem(f"repeated version line '{version}'")
        level.version_seen = True
        if level is self._stack[0] and self._report.version is None:
            self._report.version = version

    def _on_plan(self, level: _Level, plan: tuple[int, str], raw: str, events: list[Event]) -> None:
        count, comment = plan
        why = "second plan" if level.plan is not None else "implausible plan"
        if level.plan is not None or count > MAX_CASE_NUMBER:
            self._problem(f"ignored {why} line '{raw.strip()}'")
            self._report.unparsed.append(raw)
            return
        level.plan = count
        if any(n > count for n in level.numbers()):
            self._problem(f"plan 1..{count} came after results numbered beyond it")
        if level is self._stack[0]:
            if comment:
                self._report.header.append(comment)
            events.append(PlanSeen(count))

    def _on_result(self, level: _Level, line: ResultLine, raw: str, t: float | None,
                   events: list[Event]) -> None:
        label = f"case {level.path}{line.number}"
        why = _rejection(level, line.number)
        if why:
            self._problem(f"ignored {why} for {label}: '{raw.strip()}'")
            self._report.unparsed.append(raw)
            level.diagnostics, level.subtests = [], []  # they belonged to the ignored line
            return
        if line.number != _next_number(level):
            self._problem(f"{label} out of order (expected {_next_number(level)})")
        name, duration = line.name, None
        began = self._report.began.get(line.number) if level is self._stack[0] else None
        if began is not None:
            if name and name != began.name:
                self._problem(f"{label} reported as '{name}' but began as '{began.name}'")
            name = name or began.name
            if t is not None and began.t is not None:
                duration = max(0.0, t - began.t)
        result = CaseResult(line.number, name, line.status, line.reason, tuple(level.diagnostics),
                            tuple(level.subtests), duration)
        level.results.append(result)
        level.diagnostics, level.subtests = [], []
        if level is self._stack[0]:
            events.append(CaseFinished(result))

    def _on_diagnostic(self, level: _Level, text: str, raw: str, t: float | None,
                       events: list[Event]) -> None:
        if level is not self._stack[0]:
            level.diagnostics.append(text)
            return
        if text.startswith("vsockcheck: begin"):
            self._on_begin(text, raw, t, events)
        elif text.startswith("vsockcheck-guest: exit="):
            m = _EXIT.match(text)
            if m is None:
                self._problem(f"malformed exit marker '{text}'")
                self._report.unparsed.append(raw)
                return
            self._report.guest_exit = int(m.group(1))
            events.append(GuestExited(self._report.guest_exit))
        elif _MARKER.match(text) or (level.plan is None and not level.results and not self._report.began):
            self._report.header.append(text)
        else:
            level.diagnostics.append(text)

    def _on_begin(self, text: str, raw: str, t: float | None, events: list[Event]) -> None:
        m = _BEGIN.match(text)
        number = int(m.group(1)) if m else 0
        if m is None or not 1 <= number <= MAX_CASE_NUMBER:
            self._problem(f"malformed begin marker '{text}'")
            self._report.unparsed.append(raw)
            return
        if number in self._stack[0].numbers() or number in self._report.began:
            self._problem(f"case {number} began again")
        began = CaseBegan(number, m.group(2), float(m.group(3)) if m.group(3) else None, t)
        self._report.began.pop(number, None)  # re-insert: unfinished() relies on the dict's order
        self._report.began[number] = began
        events.append(began)


def _rejection(level: _Level, number: int) -> str:
    """Why a result number cannot be kept, or ''."""
    if number in level.numbers():
        return "second result"
    # The plan is the harness's own count of its cases: a number past it is corruption, and
    # keeping it would leave a gap that no valid KTAP document can hold.
    if level.plan is not None and number > level.plan:
        return f"result beyond the plan 1..{level.plan}"
    if not 1 <= number <= MAX_CASE_NUMBER:
        return "implausible number"
    return ""


def _next_number(level: _Level) -> int:
    return level.results[-1].number + 1 if level.results else 1


def _ranges(numbers: list[int]) -> str:
    """'3-5, 8' for [3, 4, 5, 8]: a plan with many missing results stays one readable line."""
    spans: list[list[int]] = []
    for n in sorted(numbers):
        if spans and n == spans[-1][1] + 1:
            spans[-1][1] = n
        else:
            spans.append([n, n])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in spans)
