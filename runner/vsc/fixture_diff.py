"""Compares two kernels' fixture runs: each fixture's outcome (results.json) and its trace
(<target>.trace.jsonl, one JSON object per event), and names the first step and field that differ."""

from __future__ import annotations

import fnmatch
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from vsc.errors import UserError

# The order fields are compared in, per trace event; any other field comes after, by name.
HEADER_FIELDS = ("op", "type", "flags", "len", "src_cid", "dst_cid", "src_port", "dst_port",
                 "buf_alloc", "fwd_cnt")
EVENT_FIELDS = {"tx": ("payload_len",), "rx": ("payload_len",), "agent": ("do", "ret", "errno"),
                "end": ("result", "reason")}
OP_NAMES = {0: "INVALID", 1: "REQUEST", 2: "RESPONSE", 3: "RST", 4: "SHUTDOWN", 5: "RW",
            6: "CREDIT_UPDATE", 7: "CREDIT_REQUEST"}
TYPE_NAMES = {1: "stream", 2: "seqpacket"}
NONE = "(none)"


@dataclass
class Side:
    """One kernel's run: its label (the kernel's version), outcomes and traces by result name."""

    label: str
    outcomes: dict[str, tuple[str, str]] = field(default_factory=dict)   # name -> (status, reason)
    traces: dict[str, list[dict]] = field(default_factory=dict)          # <target>/<fixture> -> events

    @classmethod
    def read(cls, results_dir: Path) -> "Side":
        path = Path(results_dir) / "results.json"
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
            kernel = document["run"]["kernel"]
            cases = document["cases"]
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise UserError(f"{path}: not the results.json of a fixtures run ({e})") from None
        side = cls(version_label(kernel.get("version") or kernel.get("release") or str(results_dir)))
        side.outcomes = {c["name"]: (c["status"], c.get("reason", "")) for c in cases}
        for trace in sorted(Path(results_dir).glob("*.trace.jsonl")):
            target = trace.name[:-len(".trace.jsonl")]
            for name, events in read_trace(trace).items():
                side.traces[f"{target}/{name.removeprefix(target + '/')}"] = events
        return side


def version_label(version: str) -> str:
    """6.1.192-2 -> 6.1.192: the upstream part, as the fixtures' by_kernel rows name kernels."""
    match = re.match(r"[0-9]+(\.[0-9]+)*", version)
    return match.group(0) if match else version


def read_trace(path: Path) -> dict[str, list[dict]]:
    """Events by fixture name, in file order."""
    traces: dict[str, list[dict]] = {}
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as e:
        raise UserError(f"{path}: cannot read it ({e.strerror})") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except ValueError as e:
            raise UserError(f"{path}:{number}: not a JSON object ({e})") from None
        if not isinstance(event, dict) or not isinstance(event.get("fixture"), str):
            raise UserError(f"{path}:{number}: a trace event needs a \"fixture\" name")
        traces.setdefault(event["fixture"], []).append(event)
    return traces


def _fields(event: dict) -> list[tuple[str, object]]:
    """(name, value) of an event in comparison order; header fields are named by themselves."""
    hdr = event.get("hdr") if isinstance(event.get("hdr"), dict) else {}
    out = [(name, hdr.get(name)) for name in HEADER_FIELDS if name in hdr]
    out += [(name, hdr[name]) for name in sorted(hdr) if name not in HEADER_FIELDS]
    known = EVENT_FIELDS.get(event.get("event"), ())
    out += [(name, event.get(name)) for name in known]
    out += [(name, event[name]) for name in sorted(event)
            if name not in ("fixture", "step", "event", "hdr", *known)]
    return out


def show(name: str, value: object) -> str:
    if value is None:
        return "null"
    if name == "op" and isinstance(value, int):
        return OP_NAMES.get(value, str(value))
    if name == "type" and isinstance(value, int):
        return TYPE_NAMES.get(value, str(value))
    return value if isinstance(value, str) else json.dumps(value)


def first_difference(a: list[dict], b: list[dict]) -> tuple[object, str, str, str, str] | None:
    """(step, event kind, field, A's value, B's value) of the first event that differs, or None."""
    for i in range(max(len(a), len(b))):
        ea = a[i] if i < len(a) else None
        eb = b[i] if i < len(b) else None
        if ea == eb:
            continue
        if ea is not None and eb is not None and ea.get("step") != eb.get("step"):
            # One kernel moved on to a later step: the other's event has no counterpart.
            if _step_order(ea) < _step_order(eb):
                eb = None
            else:
                ea = None
        if ea is None or eb is None:
            present = ea or eb
            fields = _fields(present)
            name, value = fields[0] if fields else ("event", present.get("event"))
            shown = show(name, value)
            return (present.get("step"), present.get("event"), name,
                    shown if ea else NONE, shown if eb else NONE)
        if ea.get("event") != eb.get("event"):
            return ea.get("step"), "", "event", str(ea.get("event")), str(eb.get("event"))
        fa, fb = dict(_fields(ea)), dict(_fields(eb))
        for name in dict.fromkeys([*fa, *fb]):
            if fa.get(name, NONE) != fb.get(name, NONE):
                va, vb = (show(name, f[name]) if name in f else NONE for f in (fa, fb))
                return ea.get("step"), ea.get("event"), name, va, vb
    return None


def _step_order(event: dict) -> float:
    # The engines write step -1 both for a connection's setup (before step 0) and for the end.
    if event.get("event") == "end":
        return float("inf")
    step = event.get("step")
    return step if isinstance(step, (int, float)) and not isinstance(step, bool) else float("inf")


def compare(a: Side, b: Side, targets: tuple[str, ...], picks: list[str]) -> tuple[list[str], int]:
    """One line per fixture that differs, and how many fixtures were compared."""
    def wanted(name: str) -> bool:
        target, _, fixture = name.partition("/")
        return target in targets and (not picks or any(fnmatch.fnmatchcase(fixture, g) for g in picks))

    names = sorted(n for n in {*a.outcomes, *a.traces, *b.outcomes, *b.traces} if wanted(n))
    lines = []
    for name in names:
        line = _difference(name, a, b)
        if line:
            lines.append(line)
    return lines, len(names)


def _difference(name: str, a: Side, b: Side) -> str | None:
    if (name in a.outcomes or name in a.traces) != (name in b.outcomes or name in b.traces):
        return f"{name}: only run on {a.label if name in a.outcomes or name in a.traces else b.label}"
    oa, ob = a.outcomes.get(name), b.outcomes.get(name)
    outcome = (f"result: {a.label} {_outcome(oa)}, {b.label} {_outcome(ob)}"
               if oa and ob and oa[0] != ob[0] else "")
    if outcome and "skip" in (oa[0], ob[0]):
        return f"{name} {outcome}"  # a skipped fixture has no trace to compare with
    found = first_difference(a.traces.get(name, []), b.traces.get(name, []))
    if found is not None:
        step, kind, field_name, va, vb = found
        if kind == "end" and outcome:
            return f"{name} {outcome}"  # the traces differ only in how the fixture ended
        where = f" step {step}" if step is not None and kind != "end" else ""
        kind_text = f" {kind}" if kind else ""
        line = f"{name}{where}{kind_text} {field_name}: {a.label} {va}, {b.label} {vb}"
        return f"{line}; {outcome}" if outcome else line
    return f"{name} {outcome}" if outcome else None


def _outcome(outcome: tuple[str, str]) -> str:
    status, reason = outcome
    return f"{status} ({reason})" if reason else status
