"""JUnit XML for one run: one testsuite, one testcase per top-level KTAP case."""

from __future__ import annotations

import re
import shlex
import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING

from vsc.ktap_report import CaseResult, Report
from vsc.ktap_syntax import ERROR, FAIL, SKIP, TIMEOUT, XFAIL

if TYPE_CHECKING:  # results.py imports this module, so the type is only named here
    from vsc.results import RunInfo

# The kernel did the wrong thing (<failure>), or the test could not run (<error>): kept apart.
_FAILED = (FAIL, TIMEOUT)
# XML 1.0 forbids most control characters; a guest's console text can hold any of them.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def to_junit(report: Report, info: RunInfo) -> str:
    """The junit.xml text: fail and timeout are <failure>, error is <error>; the type attribute says which."""
    suite = ET.Element("testsuite", {
        "name": f"vsockcheck {info.topology} {info.kernel_name}",
        "tests": str(len(report.results)),
        "failures": str(sum(r.status in _FAILED for r in report.results)),
        "errors": str(sum(r.status == ERROR for r in report.results)),
        "skipped": str(sum(r.status == SKIP for r in report.results)),
        "timestamp": info.started_at,
    })
    tests_s = info.durations.get("tests_s")
    if tests_s is not None:
        suite.set("time", f"{tests_s:.3f}")
    props = ET.SubElement(suite, "properties")
    for name, value in _properties(info):
        ET.SubElement(props, "property", {"name": name, "value": _clean(value)})
    for result in sorted(report.results, key=lambda r: r.number):
        suite.append(_testcase(result, f"vsockcheck.{info.topology}"))
    root = ET.Element("testsuites", {k: suite.get(k) for k in ("tests", "failures", "errors", "skipped")})
    root.append(suite)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _properties(info: RunInfo) -> list[tuple[str, str]]:
    props = [("kernel.name", info.kernel_name), ("kernel.release", info.kernel_release),
             ("kernel.version", info.kernel_version), ("topology", info.topology),
             ("accel", info.accel), ("qemu.version", info.qemu_version),
             ("command_line", shlex.join(info.command_line))]
    props += [(f"duration.{key}", f"{value:.3f}") for key, value in sorted(info.durations.items())]
    return props


def _testcase(result: CaseResult, classname: str) -> ET.Element:
    case = ET.Element("testcase", {"name": _clean(result.name or f"case_{result.number}"),
                                   "classname": classname})
    if result.duration_s is not None:
        case.set("time", f"{result.duration_s:.3f}")
    details = "\n".join(result.diagnostics)
    if result.status in _FAILED or result.status == ERROR:
        message = result.reason or (result.diagnostics[0] if result.diagnostics else result.status)
        element = "error" if result.status == ERROR else "failure"
        failure = ET.SubElement(case, element, {"message": _clean(message), "type": result.status})
        failure.text = _clean(details)
    elif result.status == SKIP:
        ET.SubElement(case, "skipped", {"message": _clean(result.reason)})
    elif result.status == XFAIL:
        note = "expected failure (XFAIL)" + (f": {result.reason}" if result.reason else "")
        ET.SubElement(case, "system-out").text = _clean("\n".join([note, *result.diagnostics]))
    elif details:
        ET.SubElement(case, "system-out").text = _clean(details)
    return case


def _clean(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)
