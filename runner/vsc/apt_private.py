"""A private apt setup per Debian suite under the cache: lists, lookups and downloads that never touch the system's apt."""

import os
import re
import subprocess
import time
from pathlib import Path
from typing import Callable

from vsc.errors import UserError
from vsc.paths import cache_root

KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
MIRROR = "http://deb.debian.org/debian"
SECURITY = "http://deb.debian.org/debian-security"
SUITES = {
    "bullseye": ((MIRROR, "bullseye"), (SECURITY, "bullseye-security")),
    "bookworm": ((MIRROR, "bookworm"), (SECURITY, "bookworm-security")),
    "trixie": ((MIRROR, "trixie"), (SECURITY, "trixie-security")),
    "sid": ((MIRROR, "sid"),),
}
LISTS_MAX_AGE = 24 * 3600
# Packages that carry the kernel: sid splits linux-image-R into linux-binary-R (vmlinuz), linux-modules-R
# and linux-base-R (config, modules.builtin). "linux-base" itself is Debian's kernel tooling: not followed.
KERNEL_PACKAGE_PREFIXES = ("linux-image-", "linux-binary-", "linux-modules-", "linux-base-")

ShowFn = Callable[[str, str | None], str]


def apt_dir(suite: str) -> Path:
    return cache_root() / "apt" / suite


def _prepare(suite: str) -> Path:
    """Write the suite's sources.list and the empty state apt expects; cheap, so done before every call."""
    d = apt_dir(suite)
    for sub in ("etc/sources.list.d", "etc/preferences.d", "state/lists/partial", "cache/archives/partial"):
        (d / sub).mkdir(parents=True, exist_ok=True)
    lines = [f"deb [signed-by={KEYRING}] {uri} {dist} main\n" for uri, dist in SUITES[suite]]
    sources = d / "etc/sources.list"
    if not sources.is_file() or sources.read_text() != "".join(lines):
        sources.write_text("".join(lines))
    (d / "state/status").touch()
    return d


def _options(d: Path) -> list[str]:
    settings = {
        "Dir::Etc::SourceList": d / "etc/sources.list",
        "Dir::Etc::SourceParts": d / "etc/sources.list.d",
        "Dir::Etc::Preferences": d / "etc/preferences",
        "Dir::Etc::PreferencesParts": d / "etc/preferences.d",
        "Dir::State": d / "state",
        "Dir::State::status": d / "state/status",
        "Dir::Cache": d / "cache",
        "APT::Architecture": "amd64",
        "APT::Architectures": "amd64",
    }
    return [arg for key, value in settings.items() for arg in ("-o", f"{key}={value}")]


def error_line(stderr: str) -> str:
    """The line that says what went wrong: apt's first 'E:' line (later ones are consequences, such as
    "Some index files failed to download", and warnings may follow), else the last non-empty line."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("E:")]
    return errors[0] if errors else (lines or ["(no message)"])[-1]


def _run(suite: str, tool: str, args: list[str], what: str, cwd: Path | None = None) -> str:
    d = _prepare(suite)
    argv = [tool, *_options(d), *args]
    env = dict(os.environ, LC_ALL="C")  # English messages, so error_line finds the 'E:' line
    try:
        proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
    except OSError as e:
        raise UserError(f"debian:{suite}: cannot run {tool} to {what}: {e.strerror}") from None
    if proc.returncode != 0:
        raise UserError(f"debian:{suite}: {what} failed: {error_line(proc.stderr)}")
    return proc.stdout


def update(suite: str, force: bool = False) -> bool:
    """Refresh the suite's package lists if forced, missing or older than a day; True when it did."""
    stamp = apt_dir(suite) / "state/updated"
    if not force and stamp.is_file() and time.time() - stamp.stat().st_mtime < LISTS_MAX_AGE:
        return False
    # Without --error-on=any an unreachable mirror is only a warning and old (or no) lists stay in use.
    _run(suite, "apt-get", ["-q", "update", "--error-on=any"], "refreshing the package lists (apt-get update)")
    stamp.touch()
    return True


def show(suite: str, name: str, version: str | None = None) -> str:
    """The apt-cache record of one package: that exact version, else the candidate (newest of suite + security)."""
    args = ["show", f"{name}={version}"] if version else ["show", "--no-all-versions", name]
    return _run(suite, "apt-cache", args, f"looking up package {name}{'=' + version if version else ''}")


def download(suite: str, packages: list[tuple[str, str]], dest: Path) -> list[Path]:
    """apt-get download the exact (name, version) pairs into dest; returns the .deb files."""
    _run(suite, "apt-get", ["-q", "download", *(f"{n}={v}" for n, v in packages)],
         "downloading " + ", ".join(n for n, _ in packages), cwd=dest)
    debs = sorted(dest.glob("*.deb"))
    if len(debs) != len(packages):
        raise UserError(f"debian:{suite}: apt-get download gave {len(debs)} files for {len(packages)} packages in {dest}")
    return debs


def extract(suite: str, deb: Path, root: Path) -> None:
    """dpkg-deb -x one downloaded package into root."""
    try:
        proc = subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], capture_output=True, text=True)
    except OSError as e:
        raise UserError(f"debian:{suite}: cannot run dpkg-deb to unpack {deb.name}: {e.strerror}") from None
    if proc.returncode != 0:
        raise UserError(f"debian:{suite}: dpkg-deb could not unpack {deb.name}: {error_line(proc.stderr)}")


def parse_record(text: str) -> dict[str, str]:
    """The first stanza of deb822 text (apt-cache show output) as field -> value, continuation lines joined."""
    fields: dict[str, str] = {}
    key = None
    for line in text.splitlines():
        if not line.strip():
            if fields:
                break
            continue
        if line[0] in " \t" and key:
            fields[key] += "\n" + line.strip()
        elif ":" in line:
            key, value = line.split(":", 1)
            fields[key] = value.strip()
    return fields


def parse_depends(value: str) -> list[list[tuple[str, str | None]]]:
    """A Depends value as clauses of alternatives (name, exact version or None): only '=' pins a version."""
    clauses = []
    for clause in value.split(","):
        alternatives = []
        for alt in clause.split("|"):
            m = re.match(r"\s*([a-z0-9][a-z0-9+.\-]*)(?::\S+)?\s*(?:\(\s*([<>=]+)\s*([^)\s]+)\s*\))?", alt)
            if m:
                alternatives.append((m.group(1), m.group(3) if m.group(2) == "=" else None))
        if alternatives:
            clauses.append(alternatives)
    return clauses


def select_packages(show_fn: ShowFn, meta: str) -> list[tuple[str, str]]:
    """The meta package and, following Depends, every kernel package it pulls in: (name, version), each once."""
    chosen: list[tuple[str, str]] = []
    seen = {meta}
    queue: list[tuple[str, str | None]] = [(meta, None)]
    while queue:
        name, version = queue.pop(0)
        record = parse_record(show_fn(name, version))
        if record.get("Package") != name or "Version" not in record:
            raise UserError(f"apt-cache gave no usable record for package {name}")
        chosen.append((name, record["Version"]))
        for alternatives in parse_depends(record.get("Depends", "")):
            # Of "a | b", follow the first alternative that is a kernel package (in practice there is one).
            pick = next((alt for alt in alternatives if alt[0].startswith(KERNEL_PACKAGE_PREFIXES)), None)
            if pick and pick[0] not in seen:
                seen.add(pick[0])
                queue.append(pick)
    return chosen
