"""One step of `vsockcheck bisect`: build the checked-out commit, run one case, answer git bisect.

git bisect run reads the exit code: 0 good, 1 bad, 125 skip (cannot tell), and it aborts the
whole bisect on 128 or more. So every outcome, our own errors included, maps to 0, 1 or 125;
only an interrupt gives 130, which is meant to stop the bisect. The verdict and its reason
also go to <results>/<sha>/step.json and to one stdout line that the driver passes on.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from vsc import kbuild
from vsc.errors import UserError
from vsc.ktap_syntax import ERROR, FAIL, PASS, SKIP, TIMEOUT, XFAIL
from vsc.paths import PROJECT_ROOT

GOOD, BAD, SKIPPED = "good", "bad", "skip"
EXIT_CODES = {GOOD: 0, BAD: 1, SKIPPED: 125}
EXIT_INTERRUPTED = 130
# How a case's status answers the question "is this commit bad?".
VERDICTS = {PASS: GOOD, XFAIL: GOOD, FAIL: BAD, TIMEOUT: BAD, SKIP: SKIPPED, ERROR: SKIPPED}
# The driver passes the lines that start with this on to its own output.
LINE_PREFIX = "bisect-step: "
STEP_FILE = "step.json"
RESULTS_FILE = "results.json"
RUN_LOG = "run.log"
VSOCKCHECK = PROJECT_ROOT / "runner" / "vsockcheck"


@dataclass
class Step:
    """What one step found, as step.json holds it."""
    sha: str
    subject: str
    verdict: str = SKIPPED
    reason: str = ""
    seconds: float = 0.0
    build_seconds: float | None = None
    kernel: str | None = None
    results: str | None = None


def main(src: Path, test: str, topology: str, fragments: list[str], results_root: Path) -> int:
    """Judge the commit checked out in src; the exit code git bisect run expects."""
    started = time.monotonic()
    sha, subject = _head(src)
    step = Step(sha=sha, subject=subject)
    step_dir = results_root / sha
    try:
        step_dir.mkdir(parents=True, exist_ok=True)
        # A results.json left from an earlier bisect must never pass for this step's result.
        for stale in (STEP_FILE, RESULTS_FILE):
            (step_dir / stale).unlink(missing_ok=True)
        _judge(step, src, test, topology, fragments, step_dir)
    except KeyboardInterrupt:
        print(f"{LINE_PREFIX}{sha[:12]} interrupted", flush=True)
        return EXIT_INTERRUPTED
    except (UserError, OSError) as e:
        step.verdict, step.reason = SKIPPED, f"step failed: {e}"
    except Exception as e:  # noqa: BLE001 - a traceback's exit code 1 would tell git "bad"
        step.verdict, step.reason = SKIPPED, f"step failed: {type(e).__name__}: {e}"
    step.seconds = round(time.monotonic() - started, 1)
    try:
        (step_dir / STEP_FILE).write_text(json.dumps(asdict(step), indent=2) + "\n")
    except OSError as e:
        step.verdict, step.reason = SKIPPED, f"cannot write {step_dir / STEP_FILE}: {e.strerror}"
    print(LINE_PREFIX + format_line(step), flush=True)
    return EXIT_CODES[step.verdict]


def format_line(step: Step) -> str:
    build = f", build {step.build_seconds:.0f} s" if step.build_seconds is not None else ""
    reason = f" ({step.reason})" if step.reason else ""
    return f"{step.sha[:12]} {step.verdict:<4} {step.seconds:6.0f} s{build}  {step.subject}{reason}"


def verdict_of(results_json: Path, test: str) -> tuple[str, str]:
    """(verdict, reason) from a run's results.json for the one case named test."""
    try:
        cases = json.loads(results_json.read_text(encoding="utf-8"))["cases"]
    except FileNotFoundError:
        return SKIPPED, f"no {results_json.name}: the run ended before writing results"
    except (OSError, ValueError, KeyError, TypeError) as e:
        return SKIPPED, f"{results_json}: unreadable ({e})"
    found = [c for c in cases if isinstance(c, dict) and c.get("name") == test]
    if not found:
        return SKIPPED, f"case {test} is not in {results_json.name}"
    status = found[0].get("status")
    if status not in VERDICTS:
        return SKIPPED, f"case {test} has unknown status {status!r}"
    # The case's reason, or else its last diagnostic line, which for a failure is where it failed.
    diagnostics = found[0].get("diagnostics") or [""]
    detail = found[0].get("reason") or str(diagnostics[-1])
    reason = "" if VERDICTS[status] == GOOD and status == PASS else f"{status}{': ' + detail if detail else ''}"
    return VERDICTS[status], reason


def _judge(step: Step, src: Path, test: str, topology: str, fragments: list[str], step_dir: Path) -> None:
    try:
        built = kbuild.build_kernel(src, fragments, quiet=True)
    except kbuild.BuildError as e:
        step.verdict, step.reason = SKIPPED, f"build failed: {_first_line(str(e))}; log {e.log}"
        return
    step.build_seconds, step.kernel = round(built.seconds, 1), str(built.spec)
    argv = [sys.executable, str(VSOCKCHECK), "run", "--kernel", str(built.spec), "--topology", topology,
            "--pick", test, "--results", str(step_dir)]
    with open(step_dir / RUN_LOG, "w", encoding="utf-8") as log:
        done = subprocess.run(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    step.results = str(step_dir)
    if done.returncode == EXIT_INTERRUPTED:
        raise KeyboardInterrupt
    if done.returncode not in (0, 1):
        # 2: the run could not happen (the kernel did not boot, bad input); a signal: it was killed.
        how = (f"was killed by signal {-done.returncode}" if done.returncode < 0
               else f"exited {done.returncode}")
        step.verdict, step.reason = SKIPPED, f"vsockcheck run {how}: {_last_line(step_dir / RUN_LOG)}"
        return
    step.verdict, step.reason = verdict_of(step_dir / RESULTS_FILE, test)


def _head(src: Path) -> tuple[str, str]:
    done = subprocess.run(["git", "-C", str(src), "log", "-1", "--format=%H%n%s"],
                          capture_output=True, text=True)
    lines = done.stdout.splitlines()
    if done.returncode != 0 or not lines:
        return "unknown", f"(git log failed in {src}: {done.stderr.strip()})"
    return lines[0], lines[1] if len(lines) > 1 else ""


def _first_line(text: str) -> str:
    return (text.strip().splitlines() or [""])[0]


def _last_line(path: Path) -> str:
    try:
        lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    except OSError as e:
        return f"(no log: {e.strerror})"
    return lines[-1] if lines else "(no output)"
