"""--device: which vhost-user vsock backend serves the guests of g2h and g2g.

`ours` (the default) is build/bin/vhost-user-vsock, started by vhost_user_device.py as always.
`vhost-user:TEMPLATE` is a device author's backend, started from TEMPLATE: the template is split
into words as a shell would (shlex), then each word's placeholders are filled in; the words are run
directly, without a shell. Placeholders, for one VM:

  {socket}  the vhost-user socket the backend listens on and QEMU connects to
  {cid}     the guest's CID
  {uds}     the hybrid-vsock bridge socket (Firecracker's protocol) the host side of g2h uses

A backend serving several VMs in one process (g2g needs that: the device routes guest to guest)
writes the part to repeat per VM as {each:TEXT}: TEXT is repeated once per VM, separated by a space,
with the placeholders above filled in for that VM, e.g.
  vhost-user:'vhost-device-vsock {each:--vm guest-cid={cid},socket={socket},uds-path={uds}}'
A template with the placeholders outside {each:...} serves one VM: g2g refuses it (one process per
VM could not carry guest-to-guest packets). {{ and }} are a literal brace.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from vsc.errors import UserError

OURS = "ours"
VHOST_USER = "vhost-user:"
PLACEHOLDERS = ("socket", "cid", "uds")
EACH = "each:"
# Topologies whose guests sit on the device; the others have no device to replace.
TOPOLOGIES = ("g2h", "g2g")
_UNPLAIN = re.compile(r"[\s'\"\\]")
_TOKEN = re.compile(r"\{each:|\{\{|\}\}|\{[^{}]*\}|[{}]")


@dataclass(frozen=True)
class DeviceSpec:
    """What --device said: ours (template None), or an external backend's command template."""

    text: str = OURS
    template: str | None = None

    @property
    def external(self) -> bool:
        return self.template is not None

    def argv(self, vms) -> list[str]:
        """The backend's command line for these VMs (objects with cid, socket_path, uds_path)."""
        if self.template is None:
            raise ValueError("argv: our device builds its own command line (vhost_user_device.backend_argv)")
        return expand(self.template, list(vms))


def parse(text: str) -> DeviceSpec:
    """`ours` or `vhost-user:TEMPLATE`, checked now so that a bad template stops before any boot."""
    if text == OURS:
        return DeviceSpec()
    if not text.startswith(VHOST_USER):
        raise UserError(f"--device {text!r}: expected 'ours' or 'vhost-user:CMD {{socket}} {{cid}} {{uds}}'")
    template = text[len(VHOST_USER):]
    if not template.strip():
        raise UserError(f"--device {text!r}: the vhost-user template is empty; give the backend's command")
    # Fill in a sample VM: every error of the template (syntax, unknown placeholder) shows up here.
    sample = _SampleVm(3, Path("/sample/vhost-user.sock"), Path("/sample/bridge.sock"))
    expand(template, [sample])
    if "{socket}" not in template:
        raise UserError(f"--device template {template!r}: no {{socket}} placeholder, so the backend cannot be "
                        "told where QEMU connects")
    return DeviceSpec(text, template)


def serves_many(template: str) -> bool:
    """Whether the template serves any number of VMs in one process (it has an {each:...} part)."""
    return any(token.startswith("{" + EACH) for token in _tokens_of(template, template))


def check_topology(spec: DeviceSpec, topology: str) -> None:
    """Refuse a topology the external device cannot serve, naming the reason."""
    if not spec.external:
        return
    if topology not in TOPOLOGIES:
        raise UserError(f"--device {spec.text!r}: topology {topology} has no vhost-user device to replace "
                        f"(use {' or '.join(TOPOLOGIES)})")
    if topology == "g2g" and not serves_many(spec.template):
        raise UserError(f"--device template {spec.template!r}: topology g2g puts both guests on one device, which "
                        "routes guest to guest; write the per-VM options as {each:...} so that one process "
                        "serves both (one process per VM could not carry their packets)")


def expand(template: str, vms: list) -> list[str]:
    """The template's words with every placeholder filled in for `vms`: the placeholders are
    filled in the text first (so that {each:...} may span several words), then it is split."""
    text = _fill(template, template, vms)
    try:
        words = shlex.split(text)
    except ValueError as e:
        raise UserError(f"--device template {template!r}: {e}") from None
    if not words:
        raise UserError(f"--device template {template!r}: no command left once the placeholders are filled in")
    return words


def _fill(template: str, text: str, vms: list) -> str:
    parts = []
    for token in _tokens_of(template, text):
        if token == "{{":
            parts.append("{")
        elif token == "}}":
            parts.append("}")
        elif token.startswith("{" + EACH):
            inner = token[1 + len(EACH):-1]
            if "{" + EACH in inner:
                raise UserError(f"--device template {template!r}: {{each:...}} inside {{each:...}}")
            parts.append(" ".join(_fill(template, inner, [vm]) for vm in vms))
        elif token.startswith("{") or token == "}":
            parts.append(_value(template, token, vms))
        else:
            parts.append(token)
    return "".join(parts)


def _tokens_of(template: str, word: str) -> list[str]:
    """Literal text, {{, }}, {name} and {each:TEXT} (whose TEXT may hold {name}s)."""
    tokens, at = [], 0
    while at < len(word):
        if word.startswith("{" + EACH, at):
            end, depth = at + 1, 1
            while end < len(word) and depth:
                depth += {"{": 1, "}": -1}.get(word[end], 0)
                end += 1
            if depth:
                raise UserError(f"--device template {template!r}: {word[at:]!r} has no closing brace")
            tokens.append(word[at:end])
            at = end
            continue
        match = _TOKEN.search(word, at)
        if match is None:
            tokens.append(word[at:])
            break
        if match.start() > at:
            tokens.append(word[at:match.start()])
        if match.group() == "{" + EACH:
            at = match.start()  # taken whole, with its braces, at the top of the loop
            continue
        tokens.append(match.group())
        at = match.end()
    return tokens


def _value(template: str, token: str, vms: list) -> str:
    name = token[1:-1]
    if token in ("{", "}"):
        raise UserError(f"--device template {template!r}: a lone {token!r}; write {token * 2} for a literal brace")
    if name not in PLACEHOLDERS:
        raise UserError(f"--device template {template!r}: unknown placeholder {token} "
                        f"(known: {', '.join('{' + p + '}' for p in PLACEHOLDERS)}, {{each:...}})")
    if len(vms) != 1:
        raise UserError(f"--device template {template!r}: placeholder {token} outside {{each:...}} serves one VM, "
                        f"but this topology has {len(vms)} guests on one device (CIDs "
                        f"{', '.join(str(vm.cid) for vm in vms)}); a backend that serves several VMs in one "
                        "process writes its per-VM options as {each:...}")
    vm = vms[0]
    if name == "cid":
        return str(vm.cid)
    path = vm.socket_path if name == "socket" else vm.uds_path
    if path is None:
        raise UserError(f"--device template {template!r}: placeholder {token}: the guest with CID {vm.cid} "
                        "has no bridge socket in this topology")
    return _plain(template, token, str(path))


def _plain(template: str, token: str, value: str) -> str:
    """The value as it goes into the text before the split: it must stay one word, unquoted."""
    if not value or _UNPLAIN.search(value):
        raise UserError(f"--device template {template!r}: placeholder {token} would be {value!r}, which has a "
                        "space, quote or backslash (set TMPDIR to a plain directory)")
    return value


@dataclass(frozen=True)
class _SampleVm:
    cid: int
    socket_path: Path
    uds_path: Path | None
