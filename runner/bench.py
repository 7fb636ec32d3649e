#!/usr/bin/python3
"""make bench: how long the loopback suite takes, phase by phase, and what the initramfs cache saves;
then vsock throughput and connection rate through our device, beside the guest's loopback; then
our vsock-perf over the kernel's vsock_perf in one loopback guest; then
the nested suite's wall time, split into L1 boot, L2 boot and tests; then the kernel matrix's
wall time (the four Debian kernels, loopback and g2h), with each column's boot and test times.

Prints figures only; nothing here passes or fails on a number."""

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from vsc import bench_kbuild, bench_perf_ratio, bench_vsock, guest_session, kernels, kernelspec, topology_loopback  # noqa: E402
from vsc.cli import DEFAULT_KERNEL, TEST_PROGRAM  # noqa: E402
from vsc.errors import UserError  # noqa: E402
from vsc.paths import BUILD_DIR, PROJECT_ROOT  # noqa: E402

RUNS = 3
PHASES = ("initramfs_s", "accel_probe_s", "boot_s", "tests_s", "poweroff_s", "total_s")
TARGET_TOTAL_S = 15.0
NESTED_TARGET_S = 180.0
MATRIX_KERNELS = tuple(f"debian:{suite}" for suite in kernelspec.DEBIAN_SUITES)
MATRIX_TOPOLOGIES = ("loopback", "g2h")
MATRIX_TARGET_S = 180.0


def initramfs_build_times(kernel) -> tuple[float, float]:
    """Seconds to build the image into an empty cache, then again with the cache filled."""
    spec = guest_session.GuestSpec(kernel=kernel, modules=topology_loopback.MODULES,
                                   test_program=TEST_PROGRAM, test_args=[], cases=[])
    with tempfile.TemporaryDirectory(prefix="vsc-bench-") as tmp:
        cache = Path(tmp) / "cache"
        figures = []
        for _ in range(2):
            started = time.monotonic()
            guest_session.build_image(spec, Path(tmp), cache_dir=cache)
            figures.append(time.monotonic() - started)
    return figures[0], figures[1]


def timed_run(index: int, topology: str = "loopback") -> dict:
    results_dir = BUILD_DIR / "bench" / (f"run{index}" if topology == "loopback" else topology)
    started = time.monotonic()
    done = subprocess.run([sys.executable, str(PROJECT_ROOT / "runner" / "vsockcheck"), "run",
                           "--kernel", DEFAULT_KERNEL, "--topology", topology, "--results", str(results_dir)],
                          stdout=subprocess.DEVNULL)
    wall = time.monotonic() - started
    if done.returncode not in (0, 1):
        raise UserError(f"vsockcheck run failed (status {done.returncode}); see above")
    data = json.loads((results_dir / "results.json").read_text())
    figures = dict(data["run"]["durations_s"])
    figures["wall_s"] = wall
    figures["cases"] = data["counts"]["total"]
    figures["counts"] = data["counts"]
    return figures


def main() -> int:
    # --vsock: only the vsock figures (one guest, about a minute), for work on the device;
    # --nested: only the nested suite (one run, a few minutes); --matrix: only the kernel matrix;
    # --kbuild: only the kernel builds (two full builds: tens of minutes on a loaded machine);
    # --perf-ratio: only our vsock-perf over the kernel's vsock_perf (one guest, a minute or two).
    only = sys.argv[1] if sys.argv[1:] in (["--vsock"], ["--nested"], ["--matrix"], ["--kbuild"],
                                           ["--perf-ratio"]) else None
    if sys.argv[1:] and only is None:
        print("usage: bench.py [--vsock | --perf-ratio | --nested | --matrix | --kbuild]", file=sys.stderr)
        return 2
    if only == "--kbuild":
        return kbuild_figures()
    try:
        kernel = kernels.resolve(DEFAULT_KERNEL, fetch=True)
        if only == "--vsock":
            return vsock_figures(kernel)
        if only == "--perf-ratio":
            return perf_ratio_figures(kernel)
        if only == "--nested":
            return nested_figures(kernel)
        if only == "--matrix":
            return matrix_figures()
        cold, cached = initramfs_build_times(kernel)
        runs = [timed_run(i + 1) for i in range(RUNS)]
    except UserError as e:
        print(f"make bench: error: {e}", file=sys.stderr)
        return 2
    print(f"vsockcheck bench: {kernel.name} ({kernel.version}), loopback suite, "
          f"{runs[0]['cases']} cases, {RUNS} runs")
    print(f"  initramfs build: {cold:.3f} s into an empty cache, {cached:.3f} s from the cache")
    header = ["run"] + [p[:-2] for p in PHASES] + ["wall"]
    print("  " + "  ".join(f"{h:>11}" for h in header))
    for i, figures in enumerate(runs, 1):
        cells = [f"{i:>11}"] + [f"{figures[p]:>10.2f}s" for p in PHASES + ("wall_s",)]
        print("  " + "  ".join(cells))
    median = statistics.median(r["wall_s"] for r in runs)
    print(f"  median wall time {median:.2f} s (target under {TARGET_TOTAL_S:.0f} s)", flush=True)
    return vsock_figures(kernel) or perf_ratio_figures(kernel) or nested_figures(kernel) or matrix_figures() or kbuild_figures()


def matrix_figures() -> int:
    """The whole matrix's wall time, and each column's boot, tests and wall time from matrix.json."""
    results_dir = BUILD_DIR / "bench" / "matrix"
    print(f"vsockcheck bench: kernel matrix, {', '.join(MATRIX_KERNELS)} x {', '.join(MATRIX_TOPOLOGIES)}",
          flush=True)
    started = time.monotonic()
    done = subprocess.run([sys.executable, str(PROJECT_ROOT / "runner" / "vsockcheck"), "matrix",
                           *(a for k in MATRIX_KERNELS for a in ("--kernel", k)),
                           *(a for t in MATRIX_TOPOLOGIES for a in ("--topology", t)),
                           "--results", str(results_dir)], stdout=subprocess.DEVNULL)
    wall = time.monotonic() - started
    if done.returncode not in (0, 1):
        print(f"make bench: error: vsockcheck matrix failed (status {done.returncode}); see above", file=sys.stderr)
        return 2
    data = json.loads((results_dir / "matrix.json").read_text())
    print(f"  {'column':<30} {'boot':>7} {'tests':>7} {'total':>7} {'wall':>7}")
    for column in data["columns"]:
        d = column["durations_s"]
        figures = "".join(f" {d[k]:>6.1f}s" if k in d else f" {'-':>7}" for k in ("boot_s", "tests_s", "total_s", "wall_s"))
        print(f"  {column['label']:<30}{figures}" + (f"  ERROR: {column['error']}" if column["error"] else ""))
    counts = data["counts"]
    print(f"  {counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped; "
          f"matrix wall time {wall:.1f} s (target under {MATRIX_TARGET_S:.0f} s)")
    return 0


def kbuild_figures() -> int:
    print(f"vsockcheck bench: build-kernel from {bench_kbuild.SOURCE}'s linux-source, two copies of the "
          "source, one build at a time", flush=True)
    try:
        figures = bench_kbuild.figures()
    except UserError as e:
        print(f"make bench: error: kbuild figures: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("make bench: interrupted; make stopped and the source copies removed", file=sys.stderr)
        return 130
    print("\n".join(bench_kbuild.lines(figures)))
    return 0


def nested_figures(kernel) -> int:
    """One nested run: L1 boot (QEMU start to L1's first line), L2 boot (until pass l2's first
    case, which needs L2a up), the tests of both passes, and the whole."""
    print(f"vsockcheck bench: {kernel.name}, nested suite (L1 on our device, L2a and L2b under "
          f"vhost_vsock), one run", flush=True)
    try:
        figures = timed_run(1, "nested")
    except UserError as e:
        print(f"make bench: error: nested: {e}", file=sys.stderr)
        return 2
    counts = figures["counts"]
    print(f"  {figures['cases']} results ({counts['passed']} passed, {counts['failed']} failed, "
          f"{counts['skipped']} skipped)")
    print(f"  L1 boot {figures['boot_s']:.1f} s, L2 boot {figures.get('l2_boot_s', float('nan')):.1f} s, "
          f"tests {figures['tests_s']:.1f} s, power-off {figures['poweroff_s']:.1f} s, "
          f"total {figures['total_s']:.1f} s, wall {figures['wall_s']:.1f} s "
          f"(target under {NESTED_TARGET_S:.0f} s)")
    return 0


def vsock_figures(kernel) -> int:
    print(f"vsockcheck bench: {kernel.name}, vsock through vhost-user-vsock (guest CID "
          f"{bench_vsock.GUEST_CID}, hybrid bridge), {bench_vsock.STREAM_BYTES >> 20} MiB streams, "
          f"{bench_vsock.CONNECTIONS} connections", flush=True)
    try:
        figures = bench_vsock.measure(kernel, BUILD_DIR / "bench" / "vsock")
    except UserError as e:
        print(f"make bench: error: vsock figures: {e}", file=sys.stderr)
        return 2
    print("\n".join(bench_vsock.table(figures)))
    print(f"  target: guest <-> host at least {bench_vsock.TARGET_RATIO} of loopback")
    return 0


def perf_ratio_figures(kernel) -> int:
    r = bench_perf_ratio
    print(f"vsockcheck bench: {kernel.name}, loopback (CID 1), our vsock-perf against the kernel's vsock_perf "
          f"({r.SOURCE} linux-source), {r.STREAM_BYTES >> 20} MiB streams, {r.BUF_SIZE >> 10} KiB buffers, "
          f"{r.ROUNDS} rounds each, one guest", flush=True)
    try:
        rounds = r.measure(kernel, BUILD_DIR / "bench" / "perf-ratio")
    except UserError as e:
        print(f"make bench: error: perf ratio: {e}", file=sys.stderr)
        return 2
    print("\n".join(r.table(rounds)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
