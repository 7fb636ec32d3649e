"""make bench, perf-ratio part: our vsock-perf against the kernel's own vsock_perf
(tools/testing/vsock/vsock_perf.c of Debian's linux-source, built statically into build/), in
the same loopback guest, with the same byte count and buffer size, rounds alternating between
the two tools. The figure is ours over theirs, each the median of its receivers' MiB/s; the
target is at least 0.95. Figures only: nothing here passes or fails on a number.

The two receivers time differently: ours from the first byte to EOF, theirs from just after
accept() to EOF (so theirs also counts the sender's first write): the ratio is of the figures
each tool reports, which is what a user compares."""

from __future__ import annotations

import statistics
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from vsc import guest_script, guest_session, kernel_source, topology_loopback, vsock_perf
from vsc.cli import TEST_PROGRAM
from vsc.errors import UserError
from vsc.paths import BUILD_DIR, GUEST_BIN_DIR

SOURCE = "debian:trixie"
TOOL_DIR = Path("tools/testing/vsock")
# msg_zerocopy_common.c came with MSG_ZEROCOPY (6.7); older trees build vsock_perf.c alone.
SOURCES = ("vsock_perf.c", "msg_zerocopy_common.c")
KERNEL_PERF = BUILD_DIR / "bench" / "kernel-vsock-perf" / "vsock_perf"
VSOCK_SS = GUEST_BIN_DIR / "vsock-ss"

STREAM_BYTES = 128 << 20
BUF_SIZE = 128 << 10           # their default --buf-size; ours takes it as --chunk
ROUNDS = 7
TARGET_RATIO = 0.95
TOOL_TIMEOUT_S = 240
PORT_BASE = 6100
MARK = "perf-ratio: "
MIB = 1 << 20


def build_argv(tree: Path, output: Path, cc: str = "gcc") -> list[str]:
    """The compiler command for the kernel's vsock_perf from `tree`: static, against this
    machine's uapi headers (the kernel Makefile's -I../../../usr/include needs headers_install)."""
    tool = tree / TOOL_DIR
    sources = [str(tool / name) for name in SOURCES if (tool / name).exists()]
    if not sources or not sources[0].endswith("vsock_perf.c"):
        raise UserError(f"{tool}: no vsock_perf.c (the kernel's vsock_perf came in Linux 6.2)")
    return [cc, "-static", "-O2", "-g", "-D_GNU_SOURCE", f"-I{tool}", "-o", str(output), *sources]


def build(tree: Path, output: Path = KERNEL_PERF) -> Path:
    """Builds the kernel's vsock_perf into output unless it is newer than its sources."""
    argv = build_argv(tree, output)
    sources = [Path(a) for a in argv if a.endswith(".c")]
    if output.exists() and all(output.stat().st_mtime >= s.stat().st_mtime for s in sources):
        return output
    output.parent.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-5:])
        raise UserError(f"could not build the kernel's vsock_perf from {sources[0]}:\n{tail}")
    return output


def wait_listening(port: int) -> str:
    """Shell lines that wait (bounded) until something listens on vsock port `port`: the
    kernel's receiver prints nothing a script could wait for before it exits."""
    return (f"n=0; until vsock-ss --listening --no-header | grep -q ':{port} '; do "
            f"n=$((n+1)); [ $n -gt 400 ] && echo '{MARK}port {port} never listened' && break; "
            f"sleep 0.05; done")


def guest_commands(stream_bytes: int = STREAM_BYTES, buf_size: int = BUF_SIZE, rounds: int = ROUNDS) -> str:
    """Rounds of both tools, each after a marker line `perf-ratio: round N TOOL`; the order
    alternates between rounds, so a load that rises through the run weighs on both alike."""
    lines = []
    for n in range(1, rounds + 1):
        size = f"--bytes {stream_bytes}"
        theirs_port, ours_port = PORT_BASE + 2 * n, PORT_BASE + 2 * n + 1
        theirs = [
            f"echo '{MARK}round {n} theirs'",
            f"vsock_perf --port {theirs_port} {size} --buf-size {buf_size} > /tmp/theirs.out 2>&1 &",
            wait_listening(theirs_port),
            f"vsock_perf --sender 1 --port {theirs_port} {size} --buf-size {buf_size} > /dev/null",
            "wait",
            "cat /tmp/theirs.out",
        ]
        # The same shape as theirs: the receiver in the background, its report read after.
        ours = [
            f"echo '{MARK}round {n} ours'",
            f"vsock-perf recv --port {ours_port} --chunk {buf_size} --timeout {TOOL_TIMEOUT_S} > /tmp/ours.out 2>&1 &",
            wait_listening(ours_port),
            f"vsock-perf send --cid 1 --port {ours_port} {size} --chunk {buf_size} --timeout {TOOL_TIMEOUT_S} > /dev/null",
            "wait",
            "cat /tmp/ours.out",
        ]
        lines += theirs + ours if n % 2 else ours + theirs
    lines.append(f"echo '{MARK}end'")
    return "\n".join(lines)


@dataclass
class Rounds:
    ours: dict[int, float] = field(default_factory=dict)     # receiver MiB/s by round number
    theirs: dict[int, float] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def ratio(self) -> float | None:
        """The median of each round's ours over theirs: the two runs of a round are next to
        each other, so the machine's load, which drifts (other guests on the same cores),
        weighs on both about alike; a median over rounds leaves out a round a burst spoiled."""
        paired = [self.ours[n] / self.theirs[n] for n in self.ours if n in self.theirs and self.theirs[n] > 0]
        return statistics.median(paired) if paired else None


def parse(lines: list[str], stream_bytes: int) -> Rounds:
    """Each round's receiver figure; a round whose receiver counted other than stream_bytes, or
    printed an error, becomes a problem instead of a figure."""
    rounds = Rounds()
    tool, label, their_bytes, number = None, "", None, 0
    for raw in lines:
        line = raw.strip()
        if line.startswith(MARK):
            words = line[len(MARK):].split()
            if words[0] == "round":
                tool, label, their_bytes, number = words[2], " ".join(words[:3]), None, int(words[1])
            else:
                tool, label, their_bytes = None, "", None
            if words[0] == "port":
                rounds.problems.append(line[len(MARK):])
            continue
        if tool == "theirs" and line.startswith("total bytes received:"):
            their_bytes = int(line.split(":")[1])
        elif tool == "theirs" and line.startswith("rx performance:"):
            gbits = float(line.split(":")[1].split()[0])
            if their_bytes != stream_bytes:
                # Its receiver ends at POLLRDHUP after one read(), though data may still be
                # queued behind the sender's close: such a round has no figure to compare.
                why = " (the kernel's receiver stops at POLLRDHUP without draining)" if (
                    their_bytes is not None and their_bytes < stream_bytes) else ""
                rounds.problems.append(f"{label}: received {their_bytes} bytes, not {stream_bytes}{why}")
            else:
                rounds.theirs[number] = gbits * 1e9 / 8 / MIB
        elif tool == "ours" and (found := vsock_perf.report(line)) and found[0] == "recv" and "bytes" in found[1]:
            if int(found[1]["bytes"]) != stream_bytes:
                rounds.problems.append(f"{label}: received {found[1]['bytes']} bytes, not {stream_bytes}")
            else:
                rounds.ours[number] = float(found[1]["mib_per_s"])
        elif tool and (line.startswith("vsock-perf: ") and "listening" not in line and not vsock_perf.report(line)
                       or line.startswith(("connect:", "socket:", "bind:", "accept:", "write:", "read"))):
            rounds.problems.append(f"{label}: {line}")
    return rounds


def table(rounds: Rounds, stream_bytes: int = STREAM_BYTES, buf_size: int = BUF_SIZE) -> list[str]:
    width = 8 * max(len(set(rounds.ours) | set(rounds.theirs)), 1) + 2

    def row(name: str, by_round: dict[int, float]) -> str:
        values = list(by_round.values())
        cells = " ".join(f"{by_round[n]:7.1f}" if n in by_round else f"{'-':>7}"
                         for n in sorted(set(rounds.ours) | set(rounds.theirs))) or "-"
        median = f"{statistics.median(values):.1f}" if values else "-"
        return f"  {name:<28}{cells:<{width}}{median:>8}"

    lines = [f"  receiver MiB/s, {stream_bytes >> 20} MiB in {buf_size >> 10} KiB reads and writes, "
             "each round, then the median",
             row("ours (vsock-perf)", rounds.ours), row("kernel vsock_perf", rounds.theirs)]
    ratio = rounds.ratio()
    lines.append(f"  ours / theirs: {ratio:.3f}, the median of the rounds' ratios (target at least {TARGET_RATIO})"
                 if ratio is not None else f"  ours / theirs: - (target at least {TARGET_RATIO})")
    lines += [f"  problem: {p}" for p in rounds.problems]
    return lines


def measure(kernel, results_dir: Path, stream_bytes: int = STREAM_BYTES, buf_size: int = BUF_SIZE,
            rounds: int = ROUNDS) -> Rounds:
    theirs = build(kernel_source.source_tree(SOURCE))
    spec = guest_session.GuestSpec(kernel=kernel, modules=topology_loopback.MODULES,
                                   test_program=TEST_PROGRAM, test_args=[], cases=[],
                                   guest_tools=(vsock_perf.PROGRAM, VSOCK_SS, theirs), accel="auto")
    results_dir.mkdir(parents=True, exist_ok=True)
    script = guest_commands(stream_bytes, buf_size, rounds)
    (results_dir / "guest-script.sh").write_text(script + "\n")
    with tempfile.TemporaryDirectory(prefix="vsc-bench-") as work:
        run = guest_script.run(spec, script, Path(work), results_dir,
                               timeout_s=2 * rounds * TOOL_TIMEOUT_S)
    found = parse(run.lines, stream_bytes)
    if run.exit_status != 0:
        found.problems.append(f"the guest script ended with status {run.exit_status}")
    return found
