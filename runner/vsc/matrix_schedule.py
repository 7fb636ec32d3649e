"""Runs the matrix's `vsockcheck run` subprocesses: at most N at once, longest first; stops them
all (SIGTERM, time to clean up, then SIGKILL) when interrupted."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

# Longest runs first, so the last ones to start are short: nested boots a guest in a guest, g2g two
# guests; loopback runs more cases than g2h (measured: spike7-matrix.md).
TOPOLOGY_WEIGHT = {"nested": 4, "g2g": 3, "loopback": 2, "g2h": 1}
POLL_S = 0.2
# A run told to stop (SIGTERM) stops its QEMUs and removes its files: give it that time.
STOP_GRACE_S = 60.0
STDOUT, STDERR = "matrix-stdout.txt", "matrix-stderr.txt"


@dataclass(eq=False)  # one job is one run: compared (and hashed) by identity
class Job:
    name: str                 # the column's label, for progress lines
    topology: str
    release: str              # to order newer kernels (more cases) first
    argv: list[str]
    results_dir: Path
    returncode: int | None = None
    wall_s: float = 0.0
    started_at: float = field(default=0.0, repr=False)


def order(jobs: list[Job]) -> list[Job]:
    """Longest first: by topology, then newer kernels (they run more cases) first."""
    return sorted(jobs, key=lambda j: (-TOPOLOGY_WEIGHT.get(j.topology, 0), _release_key(j.release)))


def _release_key(release: str) -> tuple[int, ...]:
    numbers = tuple(int(n) for n in re.findall(r"\d+", release.split("-")[0])[:3])
    return tuple(-n for n in numbers)


def run_all(jobs: list[Job], max_jobs: int, on_start=None, on_done=None) -> None:
    """Runs every job (their order is the caller's), setting returncode and wall_s. Each child's
    stdout and stderr go to files in its results directory. On KeyboardInterrupt every running
    child is stopped and waited for before it propagates."""
    pending = list(jobs)
    running: dict[Job, subprocess.Popen] = {}
    try:
        while pending or running:
            while pending and len(running) < max_jobs:
                job = pending.pop(0)
                running[job] = _start(job)
                if on_start:
                    on_start(job)
            time.sleep(POLL_S)
            for job, child in list(running.items()):
                if child.poll() is not None:
                    del running[job]
                    job.returncode = child.returncode
                    job.wall_s = time.monotonic() - job.started_at
                    if on_done:
                        on_done(job)
    except KeyboardInterrupt:
        # A second Ctrl-C or SIGTERM must not cut the children's clean-up short.
        previous = [(s, signal.signal(s, signal.SIG_IGN)) for s in (signal.SIGINT, signal.SIGTERM)]
        try:
            stop(list(running.values()))
        finally:
            for signum, handler in previous:
                signal.signal(signum, handler)
        raise


def _start(job: Job) -> subprocess.Popen:
    job.results_dir.mkdir(parents=True, exist_ok=True)
    # A results.json left from an earlier matrix must not pass for this run's.
    (job.results_dir / "results.json").unlink(missing_ok=True)
    job.started_at = time.monotonic()
    with open(job.results_dir / STDOUT, "wb") as out, open(job.results_dir / STDERR, "wb") as err:
        # Its own session: the terminal's Ctrl-C reaches only the matrix, which stops each child once.
        return subprocess.Popen(job.argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL, start_new_session=True)


def stop(children: list[subprocess.Popen], grace_s: float = STOP_GRACE_S) -> None:
    """SIGTERM to each child, wait for all up to grace_s, then SIGKILL their process groups."""
    for child in children:
        if child.poll() is None:
            child.terminate()
    deadline = time.monotonic() + grace_s
    for child in children:
        try:
            child.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            try:
                os.killpg(child.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            child.wait()


def last_stderr_line(job: Job) -> str:
    try:
        text = (job.results_dir / STDERR).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""
