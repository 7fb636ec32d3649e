"""`vsockcheck fixtures record`: one case run in g2h with our device's capture, and the packets
between its guest and the host turned into a virtio_transport fixture skeleton (the guest is the
kernel under test, the host the engine)."""

from __future__ import annotations

import json
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from vsc import catalogue, kernels, results, topology_g2h, vsock_pcap
from vsc.errors import UserError
from vsc.ktap_syntax import PASS
from vsc.topology import TEST_PROGRAM, RunRequest
from vsc.vsock_pcap import VsockPacket

OPS = {0: "INVALID", 1: "REQUEST", 2: "RESPONSE", 3: "RST", 4: "SHUTDOWN", 5: "RW",
       6: "CREDIT_UPDATE", 7: "CREDIT_REQUEST"}
TYPES = {1: "stream", 2: "seqpacket"}
REQUEST, RESPONSE, CREDIT_UPDATE = 1, 2, 6
SEQPACKET = 2
# A payload of one repeated byte at least this long is written {"byte": B, "len": N}.
UNIFORM_MIN = 16


@dataclass
class _Connection:
    name: str
    kernel_port: int
    engine_port: int
    type: int
    kernel_opened: bool            # the guest sent the REQUEST: its port is its own ephemeral one
    engine_buf_alloc: int | None = None


def payload_value(data: bytes) -> object:
    """{"byte": B, "len": N} for a long run of one byte, else {"hex": ...}."""
    if len(data) >= UNIFORM_MIN and data.count(data[0]) == len(data):
        return {"byte": data[0], "len": len(data)}
    return {"hex": data.hex()}


def skeleton(packets: list[VsockPacket], name: str, source: str, kernel_cid: int = topology_g2h.GUEST_CID,
             engine_cid: int = topology_g2h.HOST_CID) -> dict:
    """The fixture for the packets between kernel_cid (the guest) and engine_cid (the host)."""
    ours = [p for p in packets if {p.src_cid, p.dst_cid} == {kernel_cid, engine_cid}]
    connections = _connections(ours, kernel_cid)
    listeners: dict[int, str] = {}       # kernel port -> the agent's listening socket
    opened: set[str] = set()
    steps: list[dict] = []
    left_out = 0
    for p in ours:
        from_kernel = p.src_cid == kernel_cid
        conn = connections[(p.src_port, p.dst_port) if from_kernel else (p.dst_port, p.src_port)]
        if conn.name not in opened:
            opened.add(conn.name)
            steps += _opening_steps(conn, listeners)
        if from_kernel and p.op == CREDIT_UPDATE:
            left_out += 1  # the fixture's default "ignore" drops these: they come whenever recv() frees room
            continue
        steps.append({"expect" if from_kernel else "send": _packet_fields(p, conn, from_kernel)})
        steps += _after_steps(p, conn, from_kernel, listeners)
    description = (f"Recorded by vsockcheck fixtures record from {source}: {len(ours)} packets between the "
                   f"guest (CID {kernel_cid}) and the host (CID {engine_cid})"
                   + (f", {left_out} unprompted CREDIT_UPDATE from the guest left to the default ignore"
                      if left_out else "")
                   + (f", {len(packets) - len(ours)} packets to other CIDs left out" if len(packets) > len(ours)
                      else "")
                   + ". Add the agent calls (send, recv, shutdown, close) that made the guest send each "
                     "expected packet.")
    fixture = {"format": "vsockcheck-fixture/1", "name": name, "description": description,
               "target": "virtio_transport", "tags": ["recorded"]}
    if any(c.type == SEQPACKET for c in connections.values()):
        fixture["device"] = {"seqpacket": True}
    if connections:
        fixture["connections"] = {c.name: _connection_fields(c) for c in connections.values()}
    fixture["steps"] = steps or [{"expect_none": {}, "for_ms": 300, "note": "the case sent no packet"}]
    return fixture


def _connections(packets: list[VsockPacket], kernel_cid: int) -> dict[tuple[int, int], _Connection]:
    """Each (kernel port, engine port) pair, in order of first packet: "c" alone, else c1, c2..."""
    found: dict[tuple[int, int], _Connection] = {}
    for p in packets:
        from_kernel = p.src_cid == kernel_cid
        key = (p.src_port, p.dst_port) if from_kernel else (p.dst_port, p.src_port)
        if key not in found:
            found[key] = _Connection("", key[0], key[1], p.type, kernel_opened=from_kernel and p.op == REQUEST)
        if not from_kernel and found[key].engine_buf_alloc is None:
            found[key].engine_buf_alloc = p.buf_alloc
    for i, conn in enumerate(found.values(), 1):
        conn.name = "c" if len(found) == 1 else f"c{i}"
    return found


def _opening_steps(conn: _Connection, listeners: dict[int, str]) -> list[dict]:
    kind = TYPES.get(conn.type, "stream")
    if conn.kernel_opened:
        return [{"agent": {"do": "connect", "sock": conn.name, "type": kind, "cid": "$engine_cid",
                           "port": conn.engine_port, "wait": False}}]
    if conn.kernel_port in listeners:
        return []
    listeners[conn.kernel_port] = f"{conn.name}_l"
    return [{"agent": {"do": "listen", "sock": f"{conn.name}_l", "type": kind, "port": conn.kernel_port}}]


def _after_steps(p: VsockPacket, conn: _Connection, from_kernel: bool, listeners: dict[int, str]) -> list[dict]:
    """The agent's side of a handshake: accept after the guest's RESPONSE, await its connect after ours."""
    if p.op != RESPONSE:
        return []
    if from_kernel and not conn.kernel_opened:
        return [{"agent": {"do": "accept", "sock": listeners[conn.kernel_port], "as": conn.name}}]
    if not from_kernel and conn.kernel_opened:
        return [{"await": conn.name, "result": 0}]
    return []


def _packet_fields(p: VsockPacket, conn: _Connection, from_kernel: bool) -> dict:
    out: dict = {"conn": conn.name, "op": OPS.get(p.op, p.op)}
    if p.type != conn.type:
        out["type"] = TYPES.get(p.type, p.type)
    if p.flags:
        out["flags"] = p.flags
    if p.len and len(p.payload) == p.len:
        out["payload"] = payload_value(p.payload)
    elif p.len or from_kernel:
        out["len"] = p.len  # the capture holds less than the header says (or nothing at all)
    if not from_kernel and p.buf_alloc != conn.engine_buf_alloc:
        out["buf_alloc"] = p.buf_alloc
    return out


def _connection_fields(conn: _Connection) -> dict:
    out = {"type": TYPES.get(conn.type, conn.type), "engine_port": conn.engine_port,
           "kernel_port": f"${conn.name}.port" if conn.kernel_opened else conn.kernel_port}
    if conn.engine_buf_alloc is not None:
        out["engine_buf_alloc"] = conn.engine_buf_alloc
    out["setup"] = "none"
    return out


def to_text(fixture: dict) -> str:
    """Two-space JSON with one line per step, as the hand-written fixtures look."""
    head = {k: v for k, v in fixture.items() if k != "steps"}
    text = json.dumps(head, indent=2)[:-2]
    steps = ",\n".join("    " + json.dumps(step) for step in fixture["steps"])
    return f'{text},\n  "steps": [\n{steps}\n  ]\n}}\n'


def fixture_name(case: str, output: Path | None) -> str:
    """The fixture's name is its file's stem; on standard output, the case's name."""
    return output.stem if output is not None else case


def record(case: str, kernel_spec: str, results_dir: Path, name: str) -> str:
    """Runs `case` in g2h with a capture and returns the fixture text."""
    cases = [c for c in catalogue.read(TEST_PROGRAM, [case]) if c.name == case]
    if not cases:
        raise UserError(f"--case {case}: no such case (vsockcheck list prints them)")
    kernel = kernels.resolve(kernel_spec, fetch=True)
    results.make_results_dir(results_dir)
    print(f"vsockcheck fixtures record: {case} on {kernel.name} ({kernel.version}), topology g2h, "
          f"results in {results_dir}", file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory(prefix="vsockcheck-") as workdir:
        request = RunRequest(kernel=kernel, cases=cases, selection=catalogue.selection_args([case], []),
                             workdir=Path(workdir), results_dir=results_dir, capture=True)
        done = topology_g2h.run(request, lambda r: print(results.format_case_line(r), file=sys.stderr))
    outcome = done.guest.report.result(1)
    if outcome is None or outcome.status != PASS:
        print(f"vsockcheck fixtures record: warning: {case} did not pass "
              f"({outcome.status if outcome else 'no result'}); the skeleton shows what happened",
              file=sys.stderr)
    packets = vsock_pcap.read(results_dir / "capture.pcap")
    source = f"case {case} (g2h, {kernel.name}, {kernel.version})"
    return to_text(skeleton(packets, name, source))
