"""KTAP v1 line syntax: recognise version, plan, result and diagnostic lines, and write result lines."""

from __future__ import annotations

import re
from dataclasses import dataclass

PASS, FAIL, SKIP, XFAIL, TIMEOUT, ERROR = "pass", "fail", "skip", "xfail", "timeout", "error"
STATUSES = (PASS, FAIL, SKIP, XFAIL, TIMEOUT, ERROR)

# TODO is TAP's spelling of an expected failure; KTAP prefers XFAIL, so both read as xfail.
_DIRECTIVE_STATUS = {"SKIP": SKIP, "TODO": XFAIL, "XFAIL": XFAIL, "TIMEOUT": TIMEOUT, "ERROR": ERROR}
_STATUS_DIRECTIVE = {SKIP: "SKIP", XFAIL: "XFAIL", TIMEOUT: "TIMEOUT", ERROR: "ERROR"}

_VERSION = re.compile(r"(?:KTAP|TAP) version \d+$")
_PLAN = re.compile(r"1\.\.(\d+)(?:\s*#\s*(.*))?$")
_RESULT = re.compile(r"(ok|not ok) (\d+)(?=\s|$)\s*(.*)$")
_UNESCAPED_HASH = re.compile(r"(?<!\\)#")
# Directives are case-insensitive: kselftest.h prints "# error" in lower case.
_DIRECTIVE = re.compile(r"(SKIP|TODO|XFAIL|TIMEOUT|ERROR)(?=\s|$)\s*(.*)$", re.IGNORECASE)


@dataclass(frozen=True)
class ResultLine:
    """One `ok N name # DIRECTIVE reason` line, with the directive already turned into a status."""

    number: int
    name: str
    status: str
    reason: str


def parse_version(body: str) -> str | None:
    """'KTAP version 1' (or TAP 13/14) as written, else None."""
    return body if _VERSION.match(body) else None


def parse_plan(body: str) -> tuple[int, str] | None:
    """(N, comment) for '1..N [# comment]', else None."""
    m = _PLAN.match(body)
    return (int(m.group(1)), (m.group(2) or "").strip()) if m else None


def parse_diagnostic(body: str) -> str | None:
    """The text of a '# text' line without the '#' and one following space, else None."""
    if not body.startswith("#"):
        return None
    text = body[1:]
    return text[1:] if text.startswith(" ") else text


def parse_result(body: str) -> ResultLine | None:
    """A result line, else None; an unknown directive falls back to ok/not ok, as KTAP asks."""
    m = _RESULT.match(body)
    if not m:
        return None
    ok, number, rest = m.group(1) == "ok", int(m.group(2)), m.group(3)
    hash_at = _UNESCAPED_HASH.search(rest)
    description = rest[: hash_at.start()] if hash_at else rest
    comment = rest[hash_at.end():].strip() if hash_at else ""
    name = description.strip().replace("\\#", "#")
    if name.startswith("- "):  # TAP's optional "ok 1 - name" dash
        name = name[2:].lstrip()
    elif name == "-":
        name = ""
    status, reason = (PASS if ok else FAIL), comment
    directive = _DIRECTIVE.match(comment)
    if directive:
        status, reason = _DIRECTIVE_STATUS[directive.group(1).upper()], directive.group(2).strip()
    return ResultLine(number, name, status, reason)


def format_result(number: int, name: str, status: str, reason: str) -> str:
    """The KTAP result line for a status; skip and xfail are 'ok' lines, as kselftest prints them."""
    ok = status in (PASS, SKIP, XFAIL)
    line = f"{'ok' if ok else 'not ok'} {number}"
    if name:
        line += " " + name.replace("#", "\\#")
    directive = _STATUS_DIRECTIVE.get(status)
    if directive:
        line += f" # {directive}"
        if reason:
            line += " " + reason
    elif reason:
        line += " # " + reason
    return line
