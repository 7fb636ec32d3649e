"""The KTAP report model: case results, parser events, the Report, and its normalised KTAP text."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from vsc.ktap_syntax import STATUSES, format_result


@dataclass(frozen=True)
class CaseResult:
    """The outcome of one case; status is one of ktap_syntax.STATUSES, reason the directive text."""

    number: int
    name: str
    status: str
    reason: str = ""
    diagnostics: tuple[str, ...] = ()  # the '# ' lines before the result, without '# '
    subtests: tuple[CaseResult, ...] = ()
    duration_s: float | None = None
    synthesized: bool = False  # made by the runner because the guest never reported it


@dataclass(frozen=True)
class PlanSeen:
    count: int


@dataclass(frozen=True)
class CaseBegan:
    number: int
    name: str
    timeout_s: float | None
    t: float | None  # the timestamp fed with the marker line


@dataclass(frozen=True)
class CaseFinished:
    result: CaseResult


@dataclass(frozen=True)
class GuestExited:
    code: int


Event = PlanSeen | CaseBegan | CaseFinished | GuestExited


@dataclass
class Report:
    """Everything the guest said; top-level results only, subtests hang off their parent."""

    version: str | None = None
    plan: int | None = None
    header: list[str] = field(default_factory=list)  # '# ' lines before the plan, and vsockcheck: markers
    results: list[CaseResult] = field(default_factory=list)
    began: dict[int, CaseBegan] = field(default_factory=dict)
    trailing: list[str] = field(default_factory=list)  # diagnostics after the last result
    guest_exit: int | None = None
    unparsed: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def result(self, number: int) -> CaseResult | None:
        return next((r for r in self.results if r.number == number), None)

    def missing(self, expected: int | None = None) -> list[int]:
        """Numbers in 1..max(expected or plan, highest result) that have no result."""
        done = {r.number for r in self.results}
        last = max([expected if expected is not None else (self.plan or 0), *done])
        return [n for n in range(1, last + 1) if n not in done]

    def unfinished(self) -> CaseBegan | None:
        """The last case whose begin marker came but whose result did not: where the guest died."""
        done = {r.number for r in self.results}
        pending = [b for b in self.began.values() if b.number not in done]
        return pending[-1] if pending else None

    def take_trailing(self) -> list[str]:
        """Hand over (and forget) the diagnostics after the last result: the dying case's output."""
        lines, self.trailing = self.trailing, []
        return lines

    def add_result(self, result: CaseResult) -> None:
        if self.result(result.number) is not None:
            raise ValueError(f"case {result.number} already has a result")
        self.results.append(result)


def synthesize_result(number: int, name: str, status: str, reason: str,
                      diagnostics: list[str] | tuple[str, ...] = (),
                      duration_s: float | None = None) -> CaseResult:
    """A result for a case the guest never reported (hang, panic); add it with Report.add_result."""
    if status not in STATUSES:
        raise ValueError(f"unknown status {status!r}")
    lines = tuple(line for text in diagnostics for line in (text.splitlines() or [""]))
    return CaseResult(number, name, status, " ".join(reason.split()), lines, (), duration_s, True)


def to_ktap(report: Report) -> str:
    """A normalised KTAP v1 document: header, problems, plan, results in order, guest exit."""
    out = ["KTAP version 1"]
    out += _comments("", report.header)
    out += _comments("", [f"vsockcheck: problem: {p}" for p in report.problems])
    results = sorted(report.results, key=lambda r: r.number)
    out.append(f"1..{max([report.plan or 0] + [r.number for r in results])}")
    _write_results(results, "", out)
    out += _comments("", report.trailing)
    if report.guest_exit is not None:
        out.append(f"# vsockcheck-guest: exit={report.guest_exit}")
    return "\n".join(out) + "\n"


def _write_results(results: list[CaseResult], pad: str, out: list[str]) -> None:
    for r in results:
        if r.subtests:
            subtests = sorted(r.subtests, key=lambda s: s.number)
            out += [f"{pad}  KTAP version 1", f"{pad}  1..{subtests[-1].number}"]
            _write_results(subtests, pad + "  ", out)
        out += _comments(pad, r.diagnostics)
        out.append(pad + format_result(r.number, r.name, r.status, " ".join(r.reason.split())))


def _comments(pad: str, lines: Iterable[str]) -> list[str]:
    """'# ' lines; a multi-line text becomes several, so no diagnostic can break the document."""
    return [f"{pad}# {line}".rstrip() for text in lines for line in (text.splitlines() or [""])]
