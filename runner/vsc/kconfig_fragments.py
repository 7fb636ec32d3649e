"""Kconfig fragments (kconfig/*.config): finding them by name, reading their lines, and checking
that every line stuck in the final .config (merge_config.sh and olddefconfig drop silently what
Kconfig's dependencies refuse)."""

import os
import re
from dataclasses import dataclass
from pathlib import Path

from vsc.errors import UserError
from vsc.paths import PROJECT_ROOT

KCONFIG_DIR = PROJECT_ROOT / "kconfig"
_SET = re.compile(r"^(CONFIG_[A-Za-z0-9_]+)=(.*)$")
_UNSET = re.compile(r"^# (CONFIG_[A-Za-z0-9_]+) is not set$")


@dataclass(frozen=True)
class FragmentLine:
    option: str          # CONFIG_X
    value: str | None    # "y", "m", "8", '"text"'; None for "# CONFIG_X is not set"
    source: Path
    lineno: int

    def text(self) -> str:
        return f"# {self.option} is not set" if self.value is None else f"{self.option}={self.value}"

    def where(self) -> str:
        return f"{display(self.source)}:{self.lineno}"


def names() -> list[str]:
    """The fragments kconfig/ holds, by name."""
    return sorted(p.stem for p in KCONFIG_DIR.glob("*.config"))


def fragment_path(name_or_path: str) -> Path:
    """A fragment by name ("vsock-host" -> kconfig/vsock-host.config) or by path (anything with a
    '/' or ending in .config); UserError naming the known fragments when there is no such file."""
    if "/" not in name_or_path and not name_or_path.endswith(".config"):
        path = KCONFIG_DIR / f"{name_or_path}.config"
        if not path.is_file():
            raise UserError(f"unknown config fragment {name_or_path!r}: use one of {', '.join(names())} "
                            "or the path of a .config fragment")
        return path
    path = Path(name_or_path).expanduser()
    if not path.is_file():
        raise UserError(f"config fragment {name_or_path}: no such file")
    return path.resolve()


def display(path: Path) -> str:
    """A fragment's path as the user knows it: relative to the project when inside it."""
    try:
        return str(path.relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)


def parse(path: Path) -> list[FragmentLine]:
    """The option lines of a fragment; comments and blank lines are skipped, anything else is an error."""
    found = []
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"config fragment {display(path)}: cannot read it: {e}") from None
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if m := _SET.match(line):
            found.append(FragmentLine(m.group(1), m.group(2), path, lineno))
        elif m := _UNSET.match(line):
            found.append(FragmentLine(m.group(1), None, path, lineno))
        elif line and not line.startswith("#"):
            raise UserError(f"{display(path)}:{lineno}: not a Kconfig line (CONFIG_X=value or "
                            f"'# CONFIG_X is not set'): {line!r}")
    return found


def read_config(path: Path) -> dict[str, str]:
    """The options a .config sets (CONFIG_X -> value); "is not set" options are absent."""
    return {m.group(1): m.group(2) for line in path.read_text().splitlines() if (m := _SET.match(line))}


def unstuck(lines: list[FragmentLine], config: dict[str, str]) -> list[FragmentLine]:
    """The lines the final .config does not honour. When fragments set an option twice, the later
    line wins (as in merge_config.sh), so only that one is checked."""
    last = {line.option: line for line in lines}
    return [line for line in last.values() if config.get(line.option) != line.value
            and not (line.value is None and line.option not in config)]


def describe(line: FragmentLine, config: dict[str, str], src: Path | None) -> str:
    """One unstuck line, what it got, and (when Kconfig says so in one place) what it depends on."""
    got = config.get(line.option)
    text = f"{line.text()} from {line.where()} did not stick ({'not set' if got is None else 'got ' + got})"
    depends = kconfig_depends(src, line.option[len("CONFIG_"):]) if src is not None else None
    return f"{text}: it depends on {depends}" if depends else text


def kconfig_depends(src: Path, symbol: str) -> str | None:
    """The 'depends on' lines of a symbol's definitions in the tree's Kconfig files (joined with
    '&&'), or None; enclosing if/menu conditions are not followed."""
    start = re.compile(rf"^\s*(?:menu)?config\s+{re.escape(symbol)}\s*$")
    # A definition's attributes end at its help text or at the next entry.
    stop = re.compile(r"^\s*(?:(?:menu)?config|endmenu|endif|menu|if|choice|endchoice|comment|source|help)\b")
    found = []
    for dirpath, dirnames, filenames in os.walk(src):
        # Object trees and .git are children of a source tree too: they hold no Kconfig of the tree.
        dirnames[:] = [d for d in dirnames if not d.startswith((".", "vsockcheck-"))]
        for name in filenames:
            if not name.startswith("Kconfig"):
                continue
            inside = False
            try:
                text = Path(dirpath, name).read_text(errors="replace")
            except OSError:
                continue
            # A line ending in a backslash goes on in the next one.
            for line in re.sub(r"\\\n\s*", " ", text).splitlines():
                if start.match(line):
                    inside = True
                elif inside and stop.match(line):
                    inside = False
                elif inside and (m := re.match(r"^\s*depends\s+on\s+(.+?)\s*$", line)):
                    found.append(" ".join(m.group(1).split()))
    found = list(dict.fromkeys(found))
    if len(found) > 1:
        found = [f"({d})" if "||" in d else d for d in found]
    return " && ".join(found) or None
