"""`vsockcheck bisect`: find the commit of a kernel tree that broke one case, with git bisect run.

The driver checks its input, then proves both ends with the step itself (the case must pass
at --good and fail at --bad), then lets `git bisect run` call the step on each commit it
picks, and reads git's verdict. The tree always goes back where it was (`git bisect reset`),
also when the user interrupts. The step (vsc.bisect_step) builds and runs one commit.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from vsc import bisect_step, results
from vsc.errors import UserError

EXIT_FOUND, EXIT_UNDECIDED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130
LOG_FILE = "bisect.log"
FIRST_BAD = re.compile(r"^([0-9a-f]{40}) is the first bad commit$", re.M)
# git's words when skipped commits leave more than one candidate.
COULD_BE_ANY = re.compile(r"^The first bad commit could be any of:\n((?:[0-9a-f]{40}\n)+)", re.M)
STOP_GRACE_S = 30.0
EXCERPT_LINES = 40  # of the failing case's diagnostics


@dataclass
class Outcome:
    """What git bisect concluded: one first bad commit, or the candidates skips left."""
    first_bad: str | None = None
    candidates: list[str] = field(default_factory=list)


def parse_outcome(text: str) -> Outcome:
    """The conclusion in the output of git bisect good/bad/skip/run, if it has reached one."""
    found = FIRST_BAD.search(text)
    if found:
        return Outcome(first_bad=found.group(1))
    many = COULD_BE_ANY.search(text)
    if many:
        return Outcome(candidates=many.group(1).split())
    return Outcome()


def run(src: Path, good: str, bad: str, test: str, results_root: Path, step_argv: list[str]) -> int:
    """Bisect src between good and bad, calling step_argv (run in src) on each commit; exit code."""
    src = check_work_tree(src)
    good_sha, bad_sha = resolve(src, good, "--good"), resolve(src, bad, "--bad")
    if good_sha == bad_sha:
        raise UserError(f"--good {good} and --bad {bad} are the same commit {good_sha[:12]}")
    if _git(src, "merge-base", "--is-ancestor", good_sha, bad_sha, check=False).returncode != 0:
        raise UserError(f"--good {good} ({good_sha[:12]}) is not an ancestor of --bad {bad} ({bad_sha[:12]})")
    results.make_results_dir(results_root)
    log_path = results_root / LOG_FILE
    print(f"vsockcheck bisect: {test} in {src}, good {good_sha[:12]}, bad {bad_sha[:12]}; "
          f"results under {results_root}/", flush=True)
    # From here on the tree moves: whatever happens, git bisect reset puts it back.
    _git(src, "bisect", "start")
    try:
        with open(log_path, "a", encoding="utf-8") as log:
            outcome = _bisect(src, good_sha, bad_sha, step_argv, results_root, log)
    except KeyboardInterrupt:
        _reset(src)
        print("vsockcheck bisect: interrupted; the tree is back where it was (git bisect reset)", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BaseException:
        _reset(src)
        raise
    _reset(src)
    return report(src, outcome, test, results_root)


def check_work_tree(src: Path) -> Path:
    """src, resolved, if it is the top of a git work tree with no tracked changes and no bisect under way."""
    if not src.is_dir():
        raise UserError(f"{src}: no such directory (give the kernel source tree, a git work tree)")
    src = src.resolve()
    top = _git(src, "rev-parse", "--show-toplevel", check=False)
    if top.returncode != 0:
        raise UserError(f"{src} is not a git work tree: bisect needs the kernel source under git")
    if Path(top.stdout.strip()).resolve() != src:
        raise UserError(f"{src} is inside the git work tree {top.stdout.strip()}: give its top directory")
    changed = _git(src, "status", "--porcelain", "--untracked-files=no").stdout
    if changed.strip():
        first = changed.splitlines()[0].strip()
        raise UserError(f"{src} has uncommitted changes to tracked files ({first}, ...): "
                        "commit or stash them, bisect checks out other commits")
    if _git_path(src, "BISECT_START").exists():
        raise UserError(f"{src}: a git bisect is already under way there; end it with 'git bisect reset'")
    return src


def resolve(src: Path, rev: str, option: str) -> str:
    done = _git(src, "rev-parse", "--verify", "-q", f"{rev}^{{commit}}", check=False)
    if done.returncode != 0 or not rev or rev.startswith("-"):
        raise UserError(f"{option} {rev}: no such commit in {src}")
    return done.stdout.strip()


def exclude_build_output(src: Path, paths: list[Path]) -> None:
    """List in .git/info/exclude each top directory of src that holds a build output path, so that
    `git status` stays clean and no checkout trips over the object tree."""
    exclude = _git_path(src, "info/exclude")
    try:
        present = exclude.read_text().splitlines() if exclude.exists() else []
    except OSError as e:
        raise UserError(f"cannot read {exclude}: {e.strerror}") from None
    wanted = []
    for path in paths:
        try:
            relative = path.resolve().relative_to(src)
        except ValueError:
            continue
        if relative.parts and f"/{relative.parts[0]}/" not in present + wanted:
            wanted.append(f"/{relative.parts[0]}/")
    if wanted:
        exclude.parent.mkdir(parents=True, exist_ok=True)
        with open(exclude, "a", encoding="utf-8") as out:
            out.write("# vsockcheck bisect: kernel build output\n" + "".join(w + "\n" for w in wanted))


def _bisect(src: Path, good_sha: str, bad_sha: str, step_argv: list[str], results_root: Path, log) -> Outcome:
    for sha, wanted, name in ((good_sha, bisect_step.GOOD, "--good"), (bad_sha, bisect_step.BAD, "--bad")):
        _git(src, "checkout", "-q", "--detach", sha)
        print(f"checking {name} {sha[:12]}: build, boot, run (the first build takes longest)", flush=True)
        step = _check_end(src, sha, step_argv, results_root, log)
        if step.verdict != wanted:
            if step.verdict == bisect_step.SKIPPED:
                raise UserError(f"cannot tell whether {name} {sha[:12]} is {wanted}: {step.reason}")
            says = "passes" if step.verdict == bisect_step.GOOD else "fails"
            raise UserError(f"the case {says} at {name} {sha[:12]} ({step.reason or step.verdict}): "
                            f"bisect needs it to pass at --good and fail at --bad; see {results_root / sha}/")
        if step.kernel:
            exclude_build_output(src, [Path(step.kernel), Path(step.kernel) / "build"])
    _git(src, "bisect", "bad", bad_sha, log=log)
    outcome = parse_outcome(_git(src, "bisect", "good", good_sha, log=log).stdout)
    if outcome.first_bad:
        return outcome  # adjacent commits: nothing left to run
    return _bisect_run(src, step_argv, log)


def _check_end(src: Path, sha: str, step_argv: list[str], results_root: Path, log) -> bisect_step.Step:
    done = _stream([*step_argv], src, log)
    if done not in (0, 1, 125):
        if done == EXIT_INTERRUPTED:
            raise KeyboardInterrupt
        raise UserError(f"the bisect step failed at {sha[:12]} with exit code {done}; see {log.name}")
    return read_step(results_root, sha)


def read_step(results_root: Path, sha: str) -> bisect_step.Step:
    path = results_root / sha / bisect_step.STEP_FILE
    try:
        return bisect_step.Step(**json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError) as e:
        return bisect_step.Step(sha=sha, subject="", reason=f"no readable {path}: {e}")


def _bisect_run(src: Path, step_argv: list[str], log) -> Outcome:
    chunks: list[str] = []
    code = _stream(["git", "bisect", "run", *step_argv], src, log, chunks)
    outcome = parse_outcome("".join(chunks))
    if not outcome.first_bad and not outcome.candidates:
        if code == EXIT_INTERRUPTED:
            raise KeyboardInterrupt
        raise UserError(f"git bisect run stopped without a result (exit code {code}); see {log.name}")
    return outcome


def _stream(argv: list[str], cwd: Path, log, chunks: list[str] | None = None) -> int:
    """Run argv in cwd in a process group of its own; log every line, echo the step lines.

    Its own group: a terminal's Ctrl-C reaches only us, and we stop the whole group (git, the
    step, its build and its QEMU) with SIGTERM, on which each of them cleans up."""
    log.write(f"$ {' '.join(argv)}\n")
    log.flush()
    proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, text=True, errors="replace", process_group=0)
    try:
        with proc.stdout:
            for line in proc.stdout:
                log.write(line)
                log.flush()
                if chunks is not None:
                    chunks.append(line)
                if line.startswith(bisect_step.LINE_PREFIX):
                    print("  " + line[len(bisect_step.LINE_PREFIX):], end="", flush=True)
        return proc.wait()
    except BaseException:
        _stop_group(proc)
        raise


def _stop_group(proc: subprocess.Popen) -> None:
    """SIGTERM to the group, then wait until none of it runs, not only git: the step must have
    time to stop its make (a session of its own) and its QEMU. SIGKILL what is left after that."""
    pgid = proc.pid
    for sig, wait_s in ((signal.SIGTERM, STOP_GRACE_S), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            try:
                proc.poll()
                if proc.returncode is not None and not group_alive(pgid):
                    return
                time.sleep(0.1)
            except KeyboardInterrupt:
                break  # a second Ctrl-C: go straight to SIGKILL


def group_alive(pgid: int) -> bool:
    """Whether a process of group pgid still runs (zombies do not count: nobody may reap them)."""
    for proc_dir in Path("/proc").iterdir():
        if not proc_dir.name.isdigit():
            continue
        try:
            fields = (proc_dir / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 2 and int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def _reset(src: Path) -> None:
    done = _git(src, "bisect", "reset", check=False)
    if done.returncode != 0:
        print(f"vsockcheck bisect: git bisect reset failed in {src}: {done.stderr.strip()}; "
              "run it yourself", file=sys.stderr)


def report(src: Path, outcome: Outcome, test: str, results_root: Path) -> int:
    if outcome.first_bad:
        subject = _git(src, "log", "-1", "--format=%s", outcome.first_bad).stdout.strip()
        print(f"first bad commit: {outcome.first_bad} {subject}")
        for line in case_excerpt(results_root / outcome.first_bad, test):
            print(f"  {line}")
        print(f"full results: {results_root / outcome.first_bad}/ (log of the bisect: {results_root / LOG_FILE})")
        return EXIT_FOUND
    print(f"no single first bad commit: skipped commits leave {len(outcome.candidates)} candidates:")
    for sha in outcome.candidates:
        step = read_step(results_root, sha)
        subject = _git(src, "log", "-1", "--format=%s", sha).stdout.strip()
        print(f"  {sha} {subject}" + (f" ({step.reason})" if step.reason else ""))
    print(f"step results under {results_root}/")
    return EXIT_UNDECIDED


def case_excerpt(step_dir: Path, test: str) -> list[str]:
    """The failing case's status, reason and diagnostics from the step's results.json."""
    path = step_dir / bisect_step.RESULTS_FILE
    try:
        cases = json.loads(path.read_text(encoding="utf-8"))["cases"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        return [f"(no case log: {path}: {e})"]
    for case in cases:
        if isinstance(case, dict) and case.get("name") == test:
            head = f"{test}: {case.get('status')}" + (f" ({case['reason']})" if case.get("reason") else "")
            diagnostics = [str(d) for d in case.get("diagnostics") or []]
            more = len(diagnostics) - EXCERPT_LINES
            return [head, *diagnostics[:EXCERPT_LINES], *([f"... {more} more lines in {path}"] if more > 0 else [])]
    return [f"(case {test} is not in {path})"]


def _git_path(src: Path, name: str) -> Path:
    """A file of the repository's git directory (.git/NAME in a plain clone)."""
    path = Path(_git(src, "rev-parse", "--git-path", name).stdout.strip())
    return path if path.is_absolute() else src / path


def _git(src: Path, *args: str, check: bool = True, log=None) -> subprocess.CompletedProcess:
    try:
        proc = subprocess.Popen(["git", "-C", str(src), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, stdin=subprocess.DEVNULL)
    except OSError as e:
        raise UserError(f"cannot run git: {e.strerror}; install git") from None
    try:
        stdout, stderr = proc.communicate()
    except BaseException:
        # Interrupted: let git finish (these commands are short). A killed git checkout can leave
        # .git/index.lock behind, and then git bisect reset could not put the tree back.
        proc.communicate()
        raise
    done = subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
    if log is not None:
        log.write(f"$ git {' '.join(args)}\n{done.stdout}{done.stderr}")
        log.flush()
    if check and done.returncode != 0:
        message = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
        raise UserError(f"git {' '.join(args)} in {src} failed: {message}")
    return done
