"""Checks packet fixture files (testcases/fixtures/<area>/<name>.json) before any engine sees them:
JSON with positions, testcases/fixtures/schema.json, then the rules a schema cannot state. Every
problem reads `file:line:col: $.path: message`. A top-level array is a historical QEMU file."""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from vsc.errors import UserError
from vsc.fixture_json import JsonError, Node, key_path, parse
from vsc.fixture_schema import Problem, Schema, SchemaError, width_message
from vsc.paths import PROJECT_ROOT

FIXTURES_DIR = PROJECT_ROOT / "testcases" / "fixtures"
SCHEMA_PATH = FIXTURES_DIR / "schema.json"
# "both" in a fixture means the two virtio engines; hv_sock (engine 3) is a target of its own.
VIRTIO_TARGETS = ("virtio_transport", "vhost_vsock")
HV_TARGET = "hv_sock"
TARGETS = (*VIRTIO_TARGETS, HV_TARGET)
LEGACY_TARGET = "vhost_vsock"  # QEMU's files played the guest driver against vhost_vsock
LEGACY_PREFIX = "qemu_"

# Matchers are one schema for every header field; the field's own width is checked here.
HEADER_FIELD_MAX = {"src_cid": 2**64 - 1, "dst_cid": 2**64 - 1, "src_port": 2**32 - 1,
                    "dst_port": 2**32 - 1, "len": 2**32 - 1, "type": 2**16 - 1, "op": 2**16 - 1,
                    "flags": 2**32 - 1, "buf_alloc": 2**32 - 1, "fwd_cnt": 2**32 - 1}
# A hv_sock packet's fields (vmpacket_descriptor, then hv_sock's vmpipe_proto_header).
HV_FIELD_MAX = {"type": 2**16 - 1, "offset8": 2**16 - 1, "len8": 2**16 - 1, "flags": 2**16 - 1,
                "trans_id": 2**64 - 1, "pkt_type": 2**32 - 1, "data_size": 2**32 - 1}
PACKET_STEPS = ("send", "expect", "expect_none")


@dataclass(frozen=True)
class FixtureFile:
    """One checked file: its fixture name and target when it is good, its problems when not."""

    path: Path
    name: str              # format 1: its "name" (= the file stem); QEMU file: qemu_<stem>
    target: str | None     # virtio_transport, vhost_vsock, both or hv_sock; None for a bad file
    legacy: bool = False
    errors: list[str] = field(default_factory=list)

    @property
    def targets(self) -> tuple[str, ...]:
        """The engines it runs on."""
        return VIRTIO_TARGETS if self.target == "both" else (self.target,) if self.target else ()


def discover(root: Path = FIXTURES_DIR) -> list[Path]:
    """Every fixture file: one directory level below root (schema.json and README.md sit at root)."""
    return sorted(root.glob("*/*.json"))


@functools.lru_cache(maxsize=None)
def load_schema(path: Path = SCHEMA_PATH) -> Schema:
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as e:
        raise UserError(f"{path}: cannot read the fixture schema ({e.strerror})") from None
    except ValueError as e:
        raise UserError(f"{path}: the fixture schema is not JSON ({e})") from None
    try:
        return Schema(document, str(path))
    except SchemaError as e:
        raise UserError(str(e)) from None


def legacy_name(path: Path) -> str:
    """The name a QEMU file runs under: client-connection.json -> qemu_client_connection."""
    return LEGACY_PREFIX + re.sub(r"[^a-z0-9_]", "_", path.stem.lower())


def inspect(path: Path, schema: Schema | None = None) -> FixtureFile:
    """Reads and checks one file; never raises for the file's own faults."""
    path = Path(path)
    where = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        return FixtureFile(path, path.stem, None, errors=[f"{where}: cannot read it ({e.strerror})"])
    except UnicodeDecodeError as e:
        return FixtureFile(path, path.stem, None, errors=[f"{where}: not UTF-8 (byte {e.start})"])
    try:
        root = parse(text)
    except JsonError as e:
        return FixtureFile(path, path.stem, None, errors=[f"{where}:{e.line}:{e.col}: {e.path}: {e.message}"])
    problems = (schema or load_schema()).problems(root)
    legacy = isinstance(root.value, list)
    if not problems and not legacy:
        problems = semantic_problems(root, path.stem)
    if problems:
        return FixtureFile(path, path.stem, None, legacy,
                           [f"{where}:{p.line}:{p.col}: {p.path}: {p.message}" for p in problems])
    if legacy:
        return FixtureFile(path, legacy_name(path), LEGACY_TARGET, True)
    return FixtureFile(path, root.value["name"].value, root.value["target"].value)


def check(path: Path) -> list[str]:
    """`file:line:col: $.path: message` for each problem of the file; [] when it is good."""
    return inspect(path).errors


# -- rules beyond the schema ----------------------------------------------------------------------

def semantic_problems(root: Node, stem: str) -> list[Problem]:
    """What a format-1 fixture that fits the schema may still get wrong."""
    doc = root.value
    found = []
    name = doc["name"]
    if name.value != stem:
        found.append(Problem(name.line, name.col, "$.name",
                             f'"{name.value}" differs from the file name "{stem}.json"'))
    connections = set(doc["connections"].value) if "connections" in doc else set()
    for key in ("steps", "ignore"):
        if key in doc:
            found += _connection_references(doc[key], f"$.{key}", connections)
    widths = HV_FIELD_MAX if doc["target"].value == HV_TARGET else HEADER_FIELD_MAX
    for i, step in enumerate(doc["steps"].value):
        for kind in PACKET_STEPS:
            if kind in step.value:
                found += _header_widths(step.value[kind], f"$.steps[{i}].{kind}", widths)
    for i, match in enumerate(doc["ignore"].value if "ignore" in doc else []):
        found += _header_widths(match, f"$.ignore[{i}]", widths)
    found += _kernel_rows(root, "$")
    return sorted(found, key=lambda p: (p.line, p.col))


def _connection_references(node: Node, path: str, connections: set) -> list[Problem]:
    found = []
    if isinstance(node.value, dict):
        for key, member in node.value.items():
            member_path = key_path(path, key)
            if key == "conn" and isinstance(member.value, str) and member.value not in connections:
                known = ", ".join(sorted(connections)) or "none"
                found.append(Problem(member.line, member.col, member_path,
                                     f'no connection "{member.value}" in $.connections (known: {known})'))
            found += _connection_references(member, member_path, connections)
    elif isinstance(node.value, list):
        for i, item in enumerate(node.value):
            found += _connection_references(item, f"{path}[{i}]", connections)
    return found


def _header_widths(packet: Node, path: str, widths: dict[str, int]) -> list[Problem]:
    found = []
    for key, member in packet.value.items():
        if key in widths:
            found += _widths_in(member, key_path(path, key), key, widths[key])
    return found


def _widths_in(node: Node, path: str, field_name: str, maximum: int) -> list[Problem]:
    """Every number a matcher holds for this field (in one_of, range, by_kernel, by_target)."""
    value = node.value
    if isinstance(value, dict):
        return [p for key, member in value.items() if key not in ("from", "evidence", "capture", "credit")
                for p in _widths_in(member, key_path(path, key), field_name, maximum)]
    if isinstance(value, list):
        return [p for i, item in enumerate(value) for p in _widths_in(item, f"{path}[{i}]", field_name, maximum)]
    number = value if isinstance(value, int) and not isinstance(value, bool) else \
        int(value, 16) if isinstance(value, str) and re.fullmatch(r"0x[0-9a-fA-F]+", value) else None
    if number is not None and number > maximum:
        return [Problem(node.line, node.col, path, width_message(value, field_name, maximum))]
    return []


def kernel_version(text: str) -> tuple[int, ...]:
    """5.10 -> (5, 10, 0): Debian's upstream version, compared as the test library's vsc_kver."""
    parts = [int(p) for p in re.findall(r"[0-9]+", text)[:3]]
    return tuple(parts + [0] * (3 - len(parts)))


def _kernel_rows(node: Node, path: str) -> list[Problem]:
    """by_kernel rows hold from their version until the next row's: they must go up."""
    found = []
    if isinstance(node.value, dict):
        for key, member in node.value.items():
            member_path = key_path(path, key)
            if key == "by_kernel" and isinstance(member.value, list):
                found += _rows_go_up(member, member_path)
            found += _kernel_rows(member, member_path)
    elif isinstance(node.value, list):
        for i, item in enumerate(node.value):
            found += _kernel_rows(item, f"{path}[{i}]")
    return found


def _rows_go_up(rows: Node, path: str) -> list[Problem]:
    found, previous = [], None
    for i, row in enumerate(rows.value):
        start = row.value.get("from") if isinstance(row.value, dict) else None
        if start is None or not isinstance(start.value, str):
            continue
        version = kernel_version(start.value)
        if previous is not None and version <= previous[0]:
            found.append(Problem(start.line, start.col, f"{path}[{i}].from",
                                 f'"{start.value}" does not come after the row before ("{previous[1]}"): '
                                 f"rows go up in version"))
        previous = (version, start.value)
    return found


# A fixture's timeout_ms when it sets none (and every legacy file): the C runner's default.
DEFAULT_TIMEOUT_MS = 30000


def timeout_ms(path: Path) -> int:
    """The fixture's whole-fixture timeout; the default for a file that does not say (or does
    not parse: the engine reports that at once)."""
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return DEFAULT_TIMEOUT_MS
    value = data.get("timeout_ms") if isinstance(data, dict) else None
    if isinstance(value, str):
        try:
            value = int(value, 16) if value.lower().startswith("0x") else None
        except ValueError:
            value = None
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    return DEFAULT_TIMEOUT_MS
