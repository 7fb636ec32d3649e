"""The case catalogue, read from the test program itself (its --list mode opens no socket)."""

import subprocess
from dataclasses import dataclass
from pathlib import Path

from vsc.errors import UserError


@dataclass(frozen=True)
class Case:
    name: str
    sock_type: str
    roles: str
    needs: str
    timeout_s: int
    summary: str
    tags: tuple[str, ...]


def selection_args(pick: list[str], skip: list[str]) -> list[str]:
    """--pick/--skip as test program arguments; globs travel on the guest's command line as words."""
    args = []
    for option, globs in (("--pick", pick), ("--skip", skip)):
        for glob in globs:
            if not glob or any(ch.isspace() or ch in "'\"\\" for ch in glob):
                raise UserError(f"{option} {glob!r}: a glob may not be empty or hold spaces, quotes or backslashes")
            args += [option, glob]
    return args


def read(program: Path, pick: list[str] = (), skip: list[str] = ()) -> list[Case]:
    """The cases the program would run with these globs, in run order."""
    if not program.exists():
        raise UserError(f"{program} is missing: run 'make' first")
    done = subprocess.run([str(program), "--list", *selection_args(list(pick), list(skip))],
                          capture_output=True, text=True)
    if done.returncode != 0:
        message = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        raise UserError(message.replace(str(program) + ": ", f"{program.name}: "))
    cases = []
    for line in done.stdout.splitlines():
        fields = line.split("\t")
        if len(fields) != 7:
            raise UserError(f"{program.name} --list printed a malformed line: {line!r}")
        name, sock_type, roles, needs, timeout, summary, tags = fields
        cases.append(Case(name, sock_type, roles, needs, int(timeout), summary,
                          tuple(t for t in tags.split(" | ") if t)))
    return cases
