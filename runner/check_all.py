#!/usr/bin/python3
"""make check: every test layer in turn, then one line that counts them all.

Layers: the runner's unit tests (Python), the C unit tests on the build machine (test library,
vhost-user device), the kernel matrix (the vsock suite on the four Debian kernels, loopback and
g2h, and the hv_sock cases on each kernel's packaged hv_sock.ko in topology hvsock), the suite on the default kernel in the other topologies (g2g, nested), and the packet
fixtures on the four Debian kernels. Exits 1 if anything failed.
The vhost-user device runs as its sanitizer build (build/asan/bin) throughout: its unit tests,
and the backend every guest of the run talks to (VSC_BACKEND_PROGRAM)."""

import json
import os
import signal
import subprocess
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from vsc import kernels, results, sanitizers  # noqa: E402
from vsc.errors import UserError  # noqa: E402
from vsc.cli import DEFAULT_KERNEL  # noqa: E402
from vsc.ktap import Parser  # noqa: E402
from vsc.paths import BUILD_DIR, GUEST_BIN_DIR, PROJECT_ROOT  # noqa: E402

ASAN_BIN_DIR = BUILD_DIR / "asan" / "bin"
UNIT_PROGRAMS = (GUEST_BIN_DIR / "vsc-lib-unit", ASAN_BIN_DIR / "vu-unit", ASAN_BIN_DIR / "fx-unit",
                 GUEST_BIN_DIR / "fxg-unit", GUEST_BIN_DIR / "hvp-unit",
                 ASAN_BIN_DIR / "vsock-uri-unit", GUEST_BIN_DIR / "vsock-perf-unit",
                 ASAN_BIN_DIR / "sock-stress-unit", GUEST_BIN_DIR / "vsockmon-capture-unit")


# The whole suite on every Debian kernel, in one guest over loopback and guest to this machine
# through our device's bridge, and the cases that need hv_sock on each kernel's own hv_sock.ko over
# vmbus_sim (hvsock: about 15 s of guest per kernel beyond the others): the kernel matrix (its own
# layer, kernels in parallel).
MATRIX_TOPOLOGIES = ("loopback", "g2h", "hvsock")
# The whole suite on the default kernel in the remaining topologies: guest to guest through our
# device, and between an L1 guest and its own L2 guest through the kernel's vhost_vsock (both
# ways, plus the nested-CID cases).
TOPOLOGIES = ("g2g", "nested")
# The matrix and the packet fixtures run on every Debian kernel (the fixtures with all three
# engines: the two virtio ones and hv_sock's on vmbus_sim):
# expectations differ by kernel version, and each kernel must meet its own.
FIXTURE_KERNELS = ("debian:bullseye", "debian:bookworm", "debian:trixie", "debian:sid")


def python_unit_tests() -> tuple[int, int, int]:
    suite = unittest.defaultTestLoader.discover(str(PROJECT_ROOT / "runner" / "tests"),
                                                top_level_dir=str(PROJECT_ROOT / "runner"))
    outcome = unittest.TextTestRunner(verbosity=1, stream=sys.stdout).run(suite)
    failed = len(outcome.failures) + len(outcome.errors) + len(outcome.unexpectedSuccesses)
    skipped = len(outcome.skipped)
    return outcome.testsRun - failed - skipped, failed, skipped


def host_unit_tests() -> tuple[int, int, int]:
    """The C unit programs that run on the build machine: the test library's, the device's, the
    fixture runner's (against its fake kernel), the vsock URI library's with vsockcat's parts, and
    sock-stress's (SHA-256 on FIPS 180's vectors, options, URLs)."""
    totals = [0, 0, 0]
    for program in UNIT_PROGRAMS:
        if not program.exists():
            print(f"make check: {program} is missing: run 'make check', which builds it")
            totals[1] += 1
            continue
        done = subprocess.run([str(program), "--no-kernel-log"],
                              capture_output=True, text=True, timeout=120)
        sys.stdout.write(done.stdout)
        parser = Parser()
        for line in done.stdout.splitlines():
            parser.feed(line)
        c = results.count(parser.finish())
        totals = [totals[0] + c.passed, totals[1] + c.failed, totals[2] + c.skipped]
    return totals[0], totals[1], totals[2]


def guest_suite(topology: str) -> tuple[int, int, int]:
    results_dir = BUILD_DIR / "check-results" / topology
    returncode = vsockcheck(["run", "--kernel", DEFAULT_KERNEL, "--topology", topology,
                             "--results", str(results_dir),
                             # Through our device, keep every packet: a rare failure then comes
                             # with the capture that shows it.
                             *(["--capture"] if topology != "loopback" else [])])
    if returncode not in (0, 1):
        return 0, 1, 0  # the run itself could not happen; its error line is above
    counts = results.load_counts(results_dir / "results.json")
    return counts.passed, counts.failed, counts.skipped


def kernel_matrix() -> tuple[int, int, int]:
    results_dir = BUILD_DIR / "check-results" / "matrix"
    returncode = vsockcheck(["matrix", *(a for k in FIXTURE_KERNELS for a in ("--kernel", k)),
                             *(a for t in MATRIX_TOPOLOGIES for a in ("--topology", t)),
                             # g2h through our device: keep every packet, as guest_suite does.
                             "--capture",
                             # The project's test module, built against each kernel's own headers.
                             "--kmod", "--results", str(results_dir)])
    if returncode not in (0, 1):
        return 0, 1, 0  # the matrix itself could not run; its error line is above
    try:
        counts = json.loads((results_dir / "matrix.json").read_text(encoding="utf-8"))["counts"]
    except (OSError, ValueError, KeyError) as e:
        print(f"make check: {results_dir / 'matrix.json'}: no readable counts ({e})")
        return 0, 1, 0
    print(f"make check: the matrix page is {results_dir / 'matrix.html'}")
    return counts["passed"], counts["failed"], counts["skipped"]


def packet_fixtures(kernel: str) -> tuple[int, int, int]:
    results_dir = BUILD_DIR / "check-results" / f"fixtures-{kernel.split(':')[-1]}"
    returncode = vsockcheck(["fixtures", "--target", "all", "--kernel", kernel, "--results", str(results_dir)])
    if returncode not in (0, 1):
        return 0, 1, 0  # the run itself could not happen; its error line is above
    counts = results.load_counts(results_dir / "results.json")
    return counts.passed, counts.failed, counts.skipped


def vsockcheck(args: list[str]) -> int:
    """Runs the vsockcheck command. Interrupted, it is told so (SIGTERM) and given the time to
    stop its QEMUs and remove its files: subprocess.run would kill it after a quarter second."""
    child = subprocess.Popen([sys.executable, str(PROJECT_ROOT / "runner" / "vsockcheck"), *args])
    try:
        return child.wait()
    except KeyboardInterrupt:
        child.terminate()
        try:
            child.wait(timeout=60)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        raise


def use_sanitizer_build() -> None:
    """Every backend of this run, and its unit tests, run with ASan and UBSan (unless set)."""
    os.environ.setdefault("VSC_BACKEND_PROGRAM", str(ASAN_BIN_DIR / "vhost-user-vsock"))
    os.environ.setdefault("ASAN_OPTIONS", sanitizers.ASAN_OPTIONS)
    os.environ.setdefault("UBSAN_OPTIONS", sanitizers.UBSAN_OPTIONS)


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def main() -> int:
    # SIGTERM (a CI timeout) ends make check the way Ctrl-C does: the running layer stops cleanly.
    signal.signal(signal.SIGTERM, _raise_interrupt)
    use_sanitizer_build()
    # The guest tests of the runner need the default kernel, the fixtures all four; fetch them
    # once, up front.
    try:
        for kernel in dict.fromkeys((DEFAULT_KERNEL, *FIXTURE_KERNELS)):
            kernels.resolve(kernel, fetch=True)
    except UserError as e:
        print(f"make check: error: {e}", file=sys.stderr)
        return 2
    totals = [0, 0, 0]
    for title, layer in (("runner unit tests", python_unit_tests),
                         ("C unit tests (test library, vhost-user device, fixture runner, engine 2 ring, vsock URIs)",
                          host_unit_tests),
                         (f"kernel matrix: {', '.join(FIXTURE_KERNELS)} x {', '.join(MATRIX_TOPOLOGIES)}",
                          kernel_matrix),
                         *((f"vsock suite on {DEFAULT_KERNEL}, {topology}",
                            lambda topology=topology: guest_suite(topology))
                           for topology in TOPOLOGIES),
                         *((f"packet fixtures on {kernel}, all three engines",
                            lambda kernel=kernel: packet_fixtures(kernel))
                           for kernel in FIXTURE_KERNELS)):
        print(f"== {title}", flush=True)
        counts = layer()
        print(f"== {title}: {counts[0]} passed, {counts[1]} failed, {counts[2]} skipped", flush=True)
        totals = [t + c for t, c in zip(totals, counts)]
    print(f"{totals[0]} passed, {totals[1]} failed, {totals[2]} skipped")
    return 1 if totals[1] else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("make check: interrupted; the running layer stopped its QEMUs and removed its files",
              file=sys.stderr)
        sys.exit(130)
