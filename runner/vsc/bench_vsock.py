"""make bench, vsock part: stream throughput and connection rate through our device, each set
beside the same guest's loopback throughput measured in the same run.

One guest with our device (its backend runs a hybrid-vsock bridge) runs vsock-perf in turn:
loopback (CID 1), guest->host (host `vsock-perf recv --bridge-listen`), host->guest (host
`vsock-perf send --bridge` once the guest's recv says it listens), and connections per second
guest->host (host `vsock-perf echo --bridge-listen`). Throughput is always the receiver's figure
(first byte to EOF)."""

from __future__ import annotations

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


@dataclass
class Figures:
    mib_per_s: dict[str, float] = field(default_factory=dict)   # loopback, g2h, h2g
    conn_per_s: float | None = None
    problems: list[str] = field(default_factory=list)           # why a figure is missing


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
    """One command a line: a failing one is reported and the next still runs."""
    common = f"--timeout {TOOL_TIMEOUT_S}"
    send = f"--bytes {stream_bytes} --chunk {CHUNK} {common}"
    return "\n".join([
        f"vsock-perf recv --port {LOOPBACK_PORT} --background {common} && "
        f"vsock-perf send --cid 1 --port {LOOPBACK_PORT} {send}",
        f"vsock-perf send --cid 2 --port {G2H_PORT} {send}",
        f"vsock-perf recv --port {H2G_PORT} {common}",
        f"vsock-perf connrate --cid 2 --port {CONNRATE_PORT} --count {connections} {common}",
    ])


def measure(kernel, results_dir: Path, stream_bytes: int = STREAM_BYTES,
            connections: int = CONNECTIONS) -> Figures:
    figures = Figures()
    spec = guest_session.GuestSpec(kernel=kernel, modules=topology_loopback.MODULES,
                                   test_program=TEST_PROGRAM, test_args=[], cases=[],
                                   guest_tools=(vsock_perf.PROGRAM,), accel="auto")
    results_dir.mkdir(parents=True, exist_ok=True)
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
                    if line.strip() == h2g_ready and "h2g" not in hosts:
                        hosts["h2g"] = HostEnd("send", ["send", "--bridge", str(uds), "--port", str(H2G_PORT),
                                                        "--bytes", str(stream_bytes), "--chunk", str(CHUNK)], False)

                run = guest_script.run(spec, guest_commands(stream_bytes, connections), work, results_dir,
                                       devices=device.qemu_args(GUEST_CID), timeout_s=GUEST_TIMEOUT_S,
                                       on_line=on_line)
            _collect(figures, run, hosts)
        finally:
            for host in hosts.values():
                host.stop()
    return figures


def _collect(figures: Figures, run: guest_script.ScriptRun, hosts: dict[str, HostEnd]) -> None:
    guest_recv = [r[1] for r in map(vsock_perf.report, run.lines) if r and r[0] == "recv" and "bytes" in r[1]]
    # The guest receives twice, in this order: loopback, then host->guest.
    for name, found in zip(("loopback", "h2g"), guest_recv):
        figures.mib_per_s[name] = float(found["mib_per_s"])
    report, why = hosts["g2h"].finish()
    if report:
        figures.mib_per_s["g2h"] = float(report["mib_per_s"])
    else:
        figures.problems.append(why)
    connrate = [r[1] for r in map(vsock_perf.report, run.lines) if r and r[0] == "connrate"]
    if connrate:
        figures.conn_per_s = float(connrate[0]["conn_per_s"])
    for name in ("connrate", "h2g"):
        if name in hosts:
            report, why = hosts[name].finish()
            if not report:
                figures.problems.append(why)
        else:
            figures.problems.append("host send: the guest's recv never said it listens")
    figures.problems += [f"guest: {line}" for line in run.lines if line.startswith("vsock-perf: ")
                         and not vsock_perf.report(line) and " listening port=" not in line]


def table(figures: Figures) -> list[str]:
    """The figures as printed lines; a ratio is throughput over this guest's loopback."""
    loopback = figures.mib_per_s.get("loopback")
    rows = [("loopback (CID 1)", "loopback"), ("guest -> host", "g2h"), ("host -> guest", "h2g")]
    lines = [f"  {'stream, 1 chunk = 64 KiB':<28}{'MiB/s':>10}{'vs loopback':>14}"]
    for title, key in rows:
        value = figures.mib_per_s.get(key)
        if value is None:
            lines.append(f"  {title:<28}{'-':>10}{'-':>14}")
            continue
        ratio = f"{value / loopback:.2f}" if loopback else "-"
        lines.append(f"  {title:<28}{value:>10.1f}{ratio:>14}")
    rate = f"{figures.conn_per_s:.1f}" if figures.conn_per_s is not None else "-"
    lines.append(f"  {'connections/s guest -> host':<28}{rate:>10}")
    lines += [f"  problem: {p}" for p in figures.problems]
    return lines
