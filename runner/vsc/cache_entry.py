"""A cache entry (a downloaded kernel, a kernel source tree, a kernel's headers) filled in a private
temporary directory beside it and published with one rename: a reader never sees half an entry,
and an interrupted fill leaves nothing behind (or a .partial-<pid>-* directory that
remove_abandoned() deletes once its process is gone)."""

import fcntl
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

PARTIAL_PREFIX = ".partial-"


@contextmanager
def filling(final: Path, marker: str) -> Iterator[Path]:
    """Yields a fresh directory to fill; renames it to `final` when the block ends without an error.
    `marker` is the file a finished entry holds: if another process published `final` first, ours is
    dropped and theirs kept."""
    final.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f"{PARTIAL_PREFIX}{os.getpid()}-", dir=final.parent))
    try:
        yield work
        work.chmod(0o755)  # mkdtemp made it private; a finished entry is an ordinary directory
        try:
            os.rename(work, final)
        except OSError:
            if not (final / marker).exists():
                raise
            shutil.rmtree(work)  # another vsockcheck finished the same entry first
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise


def remove_abandoned(parent: Path) -> None:
    """Delete partial entries whose process is gone (an interrupted fill); never those still being written."""
    for partial in parent.glob(f"{PARTIAL_PREFIX}*"):
        try:
            pid = int(partial.name[len(PARTIAL_PREFIX):].split("-")[0])
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(partial, ignore_errors=True)
        except (ValueError, IndexError, PermissionError):
            continue


@contextmanager
def locked(lock_file: Path, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
    """Holds lock_file (created if need be) for the block: parallel vsockcheck runs (a matrix, two
    builds of one kernel) fill or build one thing one at a time. on_wait is called if another holds it."""
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_file, "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if on_wait:
                on_wait()
            fcntl.flock(lock, fcntl.LOCK_EX)
        yield
