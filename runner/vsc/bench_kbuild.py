"""bench --kbuild: build-kernel's times on Debian trixie's linux-source with the default fragments.

In a fresh copy A of the source: a first build that compiles everything (CCACHE_RECACHE=1: ccache
looks nothing up, so the time is honest, but stores every object), a no-op rebuild, and a rebuild
after touching af_vsock.c. Then a first build in a second copy B, from the ccache A filled: the
case of check-slow's bisect test. Each build's ccache results come from a stats log of its own
(the shared ccache's counters also count other builds on the machine). The copies are removed."""

import os
import shutil
import subprocess
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

from vsc import kbuild, kernel_source
from vsc.errors import UserError
from vsc.paths import BUILD_DIR

SOURCE = "debian:trixie"
JOBS = 2


@dataclass(frozen=True)
class Figure:
    what: str
    seconds: float
    image_bytes: int
    ccache: Counter      # cache_miss, direct_cache_hit, preprocessed_cache_hit, ... for this build


def copy_source(src: Path, dest: Path) -> Path:
    """A copy of the source tree without its object trees and outputs. Hard links: seconds instead of
    minutes for 1.7 GB, and Kbuild only reads sources (touch() below unshares the file it changes)."""
    dest.mkdir(parents=True)
    entries = [str(p) for p in src.iterdir() if not p.name.startswith(("vsockcheck-", ".vsockcheck"))]
    subprocess.run(["cp", "-al", *entries, str(dest)], check=True)
    return dest


def touch(path: Path) -> None:
    """A new time on path alone: the file is replaced by its own copy first, so the tree it was
    hard-linked from keeps its time (and its objects)."""
    shutil.copy2(path, path.with_name(path.name + ".vsockcheck-tmp"))
    os.replace(path.with_name(path.name + ".vsockcheck-tmp"), path)
    os.utime(path)


def timed_build(what: str, src: Path, work: Path, env: dict[str, str]) -> Figure:
    stats_log = work / f"ccache-{len(list(work.glob('ccache-*')))}.log"
    with mock.patch.dict(os.environ, dict(env, CCACHE_STATSLOG=str(stats_log))):
        built = kbuild.build_kernel(src, kbuild.DEFAULT_FRAGMENTS, jobs=JOBS, quiet=True)
    image = next(built.spec.glob("boot/vmlinuz-*"))
    return Figure(what, built.seconds, image.stat().st_size, read_stats_log(stats_log))


def read_stats_log(path: Path) -> Counter:
    """ccache's stats log: a '# file' line, then the counters that compilation bumped."""
    if not path.is_file():
        return Counter()
    return Counter(line.strip() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#"))


def figures() -> list[Figure]:
    if not shutil.which("ccache"):
        raise UserError("bench --kbuild: ccache is not installed (make deps-slow)")
    work = BUILD_DIR / "bench" / "kbuild"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        src = kernel_source.source_tree(SOURCE)
        a = copy_source(src, work / "a" / src.name)
        b = copy_source(src, work / "b" / src.name)
        results = [timed_build("first build (every object compiled)", a, work, {"CCACHE_RECACHE": "1"}),
                   timed_build("no-op rebuild", a, work, {})]
        touch(a / "net/vmw_vsock/af_vsock.c")
        results.append(timed_build("rebuild after touching af_vsock.c", a, work, {}))
        results.append(timed_build("first build in a second copy (warm ccache)", b, work, {}))
        return results
    finally:
        shutil.rmtree(work, ignore_errors=True)


def lines(results: list[Figure]) -> list[str]:
    out = [f"build-kernel bench: {SOURCE} linux-source, {' + '.join(kbuild.DEFAULT_FRAGMENTS)}, -j{JOBS}, "
           f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())} at the end"]
    for f in results:
        hits = f.ccache["direct_cache_hit"] + f.ccache["preprocessed_cache_hit"]
        # With CCACHE_RECACHE a compilation counts as "recache", not as a miss.
        misses = f.ccache["cache_miss"] + f.ccache["recache"]
        cache = f"ccache {hits} hits, {misses} compiled" if hits + misses else "nothing compiled"
        out.append(f"  {f.what:<44} {f.seconds:7.1f} s  bzImage {f.image_bytes / 2**20:.2f} MiB  {cache}")
    return out
