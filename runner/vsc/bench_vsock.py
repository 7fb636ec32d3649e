"""make bench, vsock part: stream throughput and connection rate through our device, each set
beside the same guest's loopback throughput measured in the same run.

One guest with our device (its backend runs a hybrid-vsock bridge) runs vsock-perf in turn:
loopback (CID 1), guest->host (host `vsock-perf recv --bridge-listen`), host->guest (host
`vsock-perf send --bridge` once the guest's recv says it listens), connections per second
guest->host (host `vsock-perf echo --bridge-listen`), loopback again. Throughput is always the
receiver's figure (first byte to EOF); the backend's CPU time is taken between phases."""

from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from vsc import guest_script, guest_session, topology_loopback, vhost_user_device, vsock_perf
from vsc.cli import TEST_PROGRAM
from vsc.errors import UserError

GUEST_CID = 3
LOOPBACK_PORT, G2H_PORT, H2G_PORT, CONNRATE_PORT = 5000, 5001, 5002, 5003
STREAM_BYTES = 1 << 30
CHUNK = 65536
CONNECTIONS = 500
TARGET_RATIO = 0.5   # the goal under TCG, for guest->host and host->guest
# Per vsock-perf process; 1 GiB at the 145 MiB/s of TCG loopback takes about 7 s.
TOOL_TIMEOUT_S = 240
GUEST_TIMEOUT_S = 4 * TOOL_TIMEOUT_S


# The guest runs these in this order; loopback twice, around the device's figures, because
# other work on the machine moves every figure and the two loopbacks show by how much.
PHASES = ("loopback_before", "g2h", "h2g", "connrate", "loopback_after")
PHASE_MARK = "vsock-bench: phase "


@dataclass
class Figures:
    mib_per_s: dict[str, float] = field(default_factory=dict)     # by phase
    conn_per_s: float | None = None
    backend_cpu_s: dict[str, float] = field(default_factory=dict)  # the backend's user+system
    problems: list[str] = field(default_factory=list)              # why a figure is missing

    def loopback(self) -> float | None:
        """The reference: the mean of the loopback figures around the device's."""
        values = [self.mib_per_s[p] for p in ("loopback_before", "loopback_after") if p in self.mib_per_s]
        return sum(values) / len(values) if values else None


def cpu_seconds(pid: int) -> float:
    """User plus system time of a process, from /proc/PID/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class HostEnd:
    """One vsock-perf process on the build machine, on the bridge's Unix sockets."""

    def __init__(self, name: str, args: list[str], listens: bool):
        self.name = name
        self.proc = subprocess.Popen([str(vsock_perf.PROGRAM), *args, "--timeout", str(TOOL_TIMEOUT_S)],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        if listens:
            first = self.proc.stdout.readline().strip()
            if " listening port=" not in first:
                _, err = self.proc.communicate()
                raise UserError(f"host vsock-perf {name} did not start listening: "
                                f"{err.strip() or first or 'no output'}")

    def finish(self) -> tuple[dict[str, str] | None, str]:
        """Its report, or None and why not."""
        try:
            out, err = self.proc.communicate(timeout=TOOL_TIMEOUT_S + 10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
        found = vsock_perf.report(out.strip().splitlines()[-1] if out.strip() else "")
        if self.proc.returncode == 0 and found:
            return found[1], ""
        return None, f"host {self.name}: " + (err.strip() or f"exit status {self.proc.returncode}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()


def guest_commands(stream_bytes: int, connections: int) -> str:
    """One command a line, each phase after its marker: a failing command is reported and the
    next still runs."""
    common = f"--timeout {TOOL_TIMEOUT_S}"
    send = f"--bytes {stream_bytes} --chunk {CHUNK} {common}"
    loopback = (f"vsock-perf recv --port {LOOPBACK_PORT} --background {common} && "
                f"vsock-perf send --cid 1 --port {LOOPBACK_PORT} {send}")
    commands = {
        "loopback_before": loopback,
        "g2h": f"vsock-perf send --cid 2 --port {G2H_PORT} {send}",
        "h2g": f"vsock-perf recv --port {H2G_PORT} {common}",
        "connrate": f"vsock-perf connrate --cid 2 --port {CONNRATE_PORT} --count {connections} {common}",
        "loopback_after": loopback,
    }
    lines = []
    for phase in PHASES + ("end",):
        lines.append(f"echo '{PHASE_MARK}{phase}'")
        if phase in commands:
            lines.append(commands[phase])
    return "\n".join(lines)


def measure(kernel, results_dir: Path, stream_bytes: int = STREAM_BYTES,
            connections: int = CONNECTIONS) -> Figures:
    figures = Figures()
    spec = guest_session.GuestSpec(kernel=kernel, modules=topology_loopback.MODULES,
                                   test_program=TEST_PROGRAM, test_args=[], cases=[],
                                   guest_tools=(vsock_perf.PROGRAM,), accel="auto")
    results_dir.mkdir(parents=True, exist_ok=True)
    cpu_at: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="vsc-bench-") as work:
        work = Path(work)
        uds = work / "bridge.sock"
        vms = [vhost_user_device.VmPort(cid=GUEST_CID, socket_path=work / "vhost-user-vsock.sock", uds_path=uds)]
        hosts: dict[str, HostEnd] = {}
        try:
            with vhost_user_device.VhostUserDevice(vms, results_dir / "vhost-user-vsock.log") as device:
                hosts["g2h"] = HostEnd("recv", ["recv", "--port", str(G2H_PORT), "--bridge-listen", str(uds)], True)
                hosts["connrate"] = HostEnd("echo", ["echo", "--port", str(CONNRATE_PORT), "--count",
                                                     str(connections), "--bridge-listen", str(uds)], True)
                h2g_ready = vsock_perf.listening_line("recv", H2G_PORT)

                def on_line(line: str) -> None:
                    line = line.strip()
                    if line.startswith(PHASE_MARK):
                        cpu_at[line[len(PHASE_MARK):]] = cpu_seconds(device.process.pid)
                    elif line == h2g_ready and "h2g" not in hosts:
                        hosts["h2g"] = HostEnd("send", ["send", "--bridge", str(uds), "--port", str(H2G_PORT),
                                                        "--bytes", str(stream_bytes), "--chunk", str(CHUNK)], False)

                run = guest_script.run(spec, guest_commands(stream_bytes, connections), work, results_dir,
                                       devices=device.qemu_args(GUEST_CID), timeout_s=GUEST_TIMEOUT_S,
                                       on_line=on_line)
            _collect(figures, run, hosts)
        finally:
            for host in hosts.values():
                host.stop()
    for phase, following in zip(PHASES, PHASES[1:] + ("end",)):
        if phase in cpu_at and following in cpu_at:
            figures.backend_cpu_s[phase] = cpu_at[following] - cpu_at[phase]
    return figures


def _collect(figures: Figures, run: guest_script.ScriptRun, hosts: dict[str, HostEnd]) -> None:
    """The receiver's figure of each stream phase (the host's for guest->host), the guest's
    connection rate, and every error line."""
    phase = None
    for line in run.lines:
        if line.startswith(PHASE_MARK):
            phase = line[len(PHASE_MARK):].strip()
            continue
        found = vsock_perf.report(line)
        if found and found[0] == "recv" and phase != "g2h":
            figures.mib_per_s[phase] = float(found[1]["mib_per_s"])
        elif found and found[0] == "connrate":
            figures.conn_per_s = float(found[1]["conn_per_s"])
        elif line.startswith("vsock-perf: ") and not found and " listening port=" not in line:
            figures.problems.append(f"guest, {phase}: {line}")
    report, why = hosts["g2h"].finish()
    if report:
        figures.mib_per_s["g2h"] = float(report["mib_per_s"])
    else:
        figures.problems.append(why)
    if "h2g" not in hosts:
        figures.problems.append("host send: the guest's recv never said it listens")
    for name in ("connrate", "h2g"):
        if name in hosts:
            report, why = hosts[name].finish()
            if not report:
                figures.problems.append(why)


TITLES = {"loopback_before": "loopback (CID 1), before", "g2h": "guest -> host",
          "h2g": "host -> guest", "loopback_after": "loopback (CID 1), after"}


def table(figures: Figures) -> list[str]:
    """The figures as printed lines; a ratio is throughput over this guest's loopback."""
    loopback = figures.loopback()

    def cpu(phase: str) -> str:
        return f"{figures.backend_cpu_s[phase]:.2f}" if phase in figures.backend_cpu_s else "-"

    lines = [f"  {'64 KiB writes':<30}{'MiB/s':>9}{'vs loopback':>13}{'backend CPU s':>15}"]
    for phase in ("loopback_before", "loopback_after", "g2h", "h2g"):
        value = figures.mib_per_s.get(phase)
        ratio = f"{value / loopback:.2f}" if value is not None and loopback else "-"
        shown = f"{value:.1f}" if value is not None else "-"
        lines.append(f"  {TITLES[phase]:<30}{shown:>9}{ratio:>13}{cpu(phase):>15}")
    rate = f"{figures.conn_per_s:.1f}" if figures.conn_per_s is not None else "-"
    lines.append(f"  {'connections/s guest -> host':<30}{rate:>9}{'':>13}{cpu('connrate'):>15}")
    lines += [f"  problem: {p}" for p in figures.problems]
    return lines
