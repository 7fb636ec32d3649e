"""Fabricated inputs for the matrix tests: results.json files as `vsockcheck run` writes them."""

import json
from pathlib import Path

from vsc.matrix_model import Column, column_from_results


def case(name: str, status: str, reason: str = "", diagnostics=(), number: int = 0) -> dict:
    return {"number": number, "name": name, "status": status, "reason": reason,
            "diagnostics": list(diagnostics), "duration_s": 0.1, "synthesized": False, "subtests": []}


def results_json(release: str, version: str, topology: str, cases: list[dict]) -> dict:
    for number, c in enumerate(cases, 1):
        c["number"] = number
    return {
        "schema": "vsockcheck-results", "schema_version": 1,
        "run": {"kernel": {"name": f"test {release}", "release": release, "version": version},
                "topology": topology, "accel": "tcg", "qemu_version": "test", "started_at": "2026-01-01T00:00:00",
                "command_line": [], "durations_s": {"boot_s": 2.5, "tests_s": 7.25, "total_s": 10.0}},
        "guest": {"ktap_version": "1", "plan": len(cases), "header": [], "exit_code": 0, "problems": [],
                  "unparsed": []},
        "counts": {}, "cases": cases,
    }


def write_results(directory: Path, release: str, version: str, topology: str, cases: list[dict]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "results.json"
    path.write_text(json.dumps(results_json(release, version, topology, cases)))
    return path


def column(tmp: Path, kernel: str, topology: str, release: str, version: str, cases: list[dict]):
    """(Column, cells) as matrix_model.build takes them, through a results.json on disk."""
    path = write_results(tmp / f"{kernel.replace(':', '-')}-{topology}", release, version, topology, cases)
    return column_from_results(Column(kernel, topology), path)


def small_columns(tmp: Path):
    """Two kernels, one topology each: a pass, a fail with a kernel line, a skip, an xfail."""
    old = column(tmp, "debian:bullseye", "loopback", "5.10.0-46-cloud-amd64", "5.10.262-1", [
        case("addr_bind", "pass"),
        case("credit_update", "xfail", "known bug before 6.6.14", ["[server] no POLLIN in 5000 ms"]),
        case("seqpacket_bounds", "skip", "no SOCK_SEQPACKET (added in 5.14)"),
    ])
    new = column(tmp, "debian:sid", "loopback", "7.2.13+deb14-cloud-amd64", "7.2.13-1", [
        case("addr_bind", "pass"),
        case("credit_update", "fail", "", ["[server] credit.c:71: no POLLIN <script>alert(1)</script> & more",
                                           "kernel: WARNING: at net/vmw_vsock/af_vsock.c:42"]),
        case("seqpacket_bounds", "pass"),
    ])
    return [old, new]
