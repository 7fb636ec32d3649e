"""Result files of a run (results.ktap, junit.xml, results.json) and the text the runner prints."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from vsc.errors import UserError
from vsc.junit import to_junit
from vsc.ktap_report import CaseResult, Report, to_ktap
from vsc.ktap_syntax import ERROR, FAIL, PASS, SKIP, STATUSES, TIMEOUT, XFAIL

# results.json, schema_version 1. Add fields freely; renaming or removing one bumps the version.
# {
#   "schema": "vsockcheck-results", "schema_version": 1,
#   "run": {"kernel": {"name", "release", "version"}, "topology", "accel", "qemu_version",
#           "started_at" (ISO 8601), "command_line": [argv...],
#           "durations_s": {"initramfs_s", "accel_probe_s", "boot_s", "tests_s", "poweroff_s",
#                           "total_s": float}},
#   "guest": {"ktap_version": str|null, "plan": int|null, "header": [str], "exit_code": int|null,
#             "problems": [str], "unparsed": [str]},
#   "counts": {"passed", "failed", "skipped", "total": int,
#              "by_status": {"pass", "fail", "skip", "xfail", "timeout", "error": int}},
#   "cases": [{"number": int, "name": str, "status": one of by_status's keys, "reason": str,
#              "diagnostics": [str], "duration_s": float|null, "synthesized": bool,
#              "subtests": [case, ...]}]   # ordered by number
# }
SCHEMA_VERSION = 1

PASSED = (PASS, XFAIL)
FAILED = (FAIL, TIMEOUT, ERROR)
_LABELS = {PASS: "ok", FAIL: "FAIL", SKIP: "SKIP", XFAIL: "XFAIL", TIMEOUT: "TIMEOUT", ERROR: "ERROR"}


@dataclass(frozen=True)
class RunInfo:
    """What was run, where, and how long each phase took."""

    kernel_name: str  # e.g. "debian:bookworm 6.1.0-56-cloud-amd64"
    kernel_release: str  # uname -r
    kernel_version: str  # package version when known
    topology: str
    accel: str  # "tcg" or "kvm"
    qemu_version: str
    started_at: str  # ISO 8601
    durations: dict[str, float] = field(default_factory=dict)  # initramfs_s boot_s tests_s poweroff_s total_s
    command_line: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Counts:
    passed: int
    failed: int
    skipped: int


def count(report: Report) -> Counts:
    """Top-level cases only: xfail counts as passed; fail, timeout and error as failed."""
    statuses = [r.status for r in report.results]
    return Counts(sum(s in PASSED for s in statuses), sum(s in FAILED for s in statuses),
                  statuses.count(SKIP))


def format_counts(report: Report) -> str:
    c = count(report)
    return f"{c.passed} passed, {c.failed} failed, {c.skipped} skipped"


def format_case_line(result: CaseResult) -> str:
    """One line for the live display: '  FAIL     13  name  first diagnostic'."""
    line = f"  {_LABELS[result.status]:<7} {result.number:>3}  {printable(result.name)}"
    detail = _detail(result)
    if detail:
        line += f"  ({detail})" if result.status in (SKIP, XFAIL) else f"  {detail}"
    return line


def format_table(report: Report) -> str:
    """The final table: number, name, status, reason; subtests indented under their parent."""
    rows = [("#", "name", "status", "reason")]
    for result, number, depth in _walk(report.results, ""):
        rows.append((number, "  " * depth + printable(result.name), _LABELS[result.status], _detail(result)))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = [f"  {n:>{widths[0]}}  {name:<{widths[1]}}  {status:<{widths[2]}}  {reason}".rstrip()
             for n, name, status, reason in rows]
    return "\n".join(lines) + "\n"


def _walk(results, prefix: str, depth: int = 0):
    for result in sorted(results, key=lambda r: r.number):
        number = f"{prefix}{result.number}"
        yield result, number, depth
        yield from _walk(result.subtests, number + ".", depth + 1)


def _detail(result: CaseResult) -> str:
    """What a reader needs next to the status: why it failed, or why it was skipped."""
    first = result.diagnostics[0] if result.diagnostics else ""
    # A plain fail says why in its diagnostics; directives (TIMEOUT, SKIP...) say why in their text.
    text = (first or result.reason) if result.status == FAIL else (result.reason or first)
    return printable(" ".join(text.split()))


def printable(text: str) -> str:
    """Guest text with control characters shown as U+FFFD: an escape sequence must not reach the terminal."""
    return "".join(ch if ch.isprintable() else "\ufffd" for ch in text)


def write_ktap(report: Report, path: Path) -> None:
    _write(path, to_ktap(report))


def write_junit(report: Report, info: RunInfo, path: Path) -> None:
    _write(path, to_junit(report, info))


def write_json(report: Report, info: RunInfo, path: Path) -> None:
    _write(path, json.dumps(to_json(report, info), indent=2, ensure_ascii=False) + "\n")


def to_json(report: Report, info: RunInfo) -> dict:
    """The results.json document (schema above) as plain data."""
    c = count(report)
    statuses = [r.status for r in report.results]
    return {
        "schema": "vsockcheck-results",
        "schema_version": SCHEMA_VERSION,
        "run": {
            "kernel": {"name": info.kernel_name, "release": info.kernel_release,
                       "version": info.kernel_version},
            "topology": info.topology, "accel": info.accel, "qemu_version": info.qemu_version,
            "started_at": info.started_at, "command_line": list(info.command_line),
            "durations_s": {k: round(v, 3) for k, v in info.durations.items()},
        },
        "guest": {"ktap_version": report.version, "plan": report.plan, "header": list(report.header),
                  "exit_code": report.guest_exit, "problems": list(report.problems),
                  "unparsed": list(report.unparsed)},
        "counts": {"passed": c.passed, "failed": c.failed, "skipped": c.skipped, "total": len(statuses),
                   "by_status": {s: statuses.count(s) for s in STATUSES}},
        "cases": [_case_json(r) for r in sorted(report.results, key=lambda r: r.number)],
    }


def load_counts(path: Path) -> Counts:
    """The counts of a results.json that write_json wrote (make check adds them up across layers)."""
    try:
        counts = json.loads(Path(path).read_text(encoding="utf-8"))["counts"]
        return Counts(int(counts["passed"]), int(counts["failed"]), int(counts["skipped"]))
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise UserError(f"{path}: no readable counts ({e})") from None


def _case_json(result: CaseResult) -> dict:
    return {"number": result.number, "name": result.name, "status": result.status,
            "reason": result.reason, "diagnostics": list(result.diagnostics),
            "duration_s": None if result.duration_s is None else round(result.duration_s, 3),
            "synthesized": result.synthesized,
            "subtests": [_case_json(s) for s in sorted(result.subtests, key=lambda s: s.number)]}


def _write(path: Path, text: str) -> None:
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as e:
        raise UserError(f"cannot write {path}: {e.strerror}; check the results directory") from None


def make_results_dir(results_dir: Path, option: str = "--results") -> None:
    try:
        results_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"{option} {results_dir}: cannot create it ({e.strerror})") from None


def label(spec: str) -> str:
    """A directory name for a kernel spec: debian:bookworm -> debian-bookworm."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", spec.strip("/")).strip("-") or "kernel"
