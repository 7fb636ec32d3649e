"""The kernels the slow tests boot, built from Debian trixie's linux-source with kconfig/ fragments:
once into build/slow/kernels/<name>, incrementally afterwards (and once per test process)."""

import functools
from pathlib import Path

from vsc import kbuild, kernel_source
from vsc.paths import BUILD_DIR

SOURCE = "debian:trixie"
KERNELS_DIR = BUILD_DIR / "slow" / "kernels"
# Two at most on this machine's cores; a test process builds one kernel at a time.
JOBS = 2


@functools.cache
def guest_kernel() -> Path:
    """vsock built in, no modules at all (MODULES=n): a plain guest for every topology."""
    return _build("guest", kbuild.DEFAULT_FRAGMENTS)


@functools.cache
def host_kernel() -> Path:
    """The guest kernel with vhost_vsock built in too: for nested L1 and the fixtures' vhost engine."""
    return _build("host", (*kbuild.DEFAULT_FRAGMENTS, "vsock-host"))


def _build(name: str, fragments: tuple[str, ...]) -> Path:
    src = kernel_source.source_tree(SOURCE)
    return kbuild.build_kernel(src, fragments, KERNELS_DIR / name, jobs=JOBS).spec
