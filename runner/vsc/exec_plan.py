"""What vsockcheck exec runs, and how: the checked request, each peer's environment, the shell
script a guest runs its peers with, and the status lines that script prints."""

from __future__ import annotations

import re
import shlex
import textwrap
from dataclasses import dataclass
from pathlib import Path

from vsc import exec_net, shared_libs
from vsc.errors import UserError
from vsc.guest_session import GUEST_LIB, USER_FILES_DIR

SERVER, CLIENT = "server", "client"
ROLES = (SERVER, CLIENT)
GUEST_FILES_DIR = "/" + USER_FILES_DIR
# Each peer writes to a virtio-serial port of its own, named after its role, whose host end is
# <results>/<role>.log: its output streams there, and survives a timeout or a panic.
OUTPUT_PORT = "vsockcheck.{role}"
# The port of a guest whose client waits for the runner's word that the server listens.
GO_PORT = "vsockcheck.peer"
GO, NO_GO = "go", "no"
# What a guest's script says about its peers, on the guest's main port:
#   started, listening (on TCP CONTROL_PORT), not-started (the server ended before it listened),
#   exit=N (the shell's status: 128+N when signal N killed it), no-output-port,
#   l2-gone=N (nested: the QEMU of the L2 guest that ran this peer exited with status N).
STATUS_LINE = re.compile(r"# vsockcheck-exec: (server|client) "
                         r"(started|listening|not-started|no-output-port|exit=(\d+)|l2-gone=(\d+))$")
NOTE_PREFIXES = ("# vsockcheck-exec: ", "# vsockcheck-init: ")
# How often a guest looks at /proc/net/tcp for the server's listener.
LISTEN_POLL_S = 0.05


@dataclass(frozen=True)
class ExecRequest:
    """One `vsockcheck exec`, checked."""

    kernel: object                 # kernels.Kernel
    commands: dict[str, str]       # role -> shell command
    files: tuple[Path, ...]        # shipped to every guest, and to the host peer's directory
    timeout_s: float               # for the whole run, boots included
    results_dir: Path
    workdir: Path                  # the run's temporary directory
    accel: str = "auto"
    l2_kernel: object | None = None  # nested: L2a's kernel (default: the same as L1's)
    kmod_files: tuple[Path, ...] = ()  # --kmod: test modules built for `kernel`, loaded in its guests


@dataclass(frozen=True)
class PeerEnv:
    """The four variables a peer finds in its environment. For the server, CONTROL_HOST is the
    address to listen on; for the client, the address to connect to."""

    local_cid: int
    peer_cid: int
    control_host: str
    control_port: int

    def variables(self) -> dict[str, str]:
        return {"VSOCK_PEER_CID": str(self.peer_cid), "VSOCK_LOCAL_CID": str(self.local_cid),
                "CONTROL_HOST": self.control_host, "CONTROL_PORT": str(self.control_port)}


def check_inputs(commands: dict[str, str], files: list[Path]) -> tuple[Path, ...]:
    """The files to ship; raises UserError naming the first bad command or file."""
    for role in ROLES:
        if not commands.get(role, "").strip():
            raise UserError(f"--{role}: the command is empty")
    checked = []
    names: dict[str, Path] = {}
    for path in files:
        path = Path(path)
        if not path.exists():
            raise UserError(f"--files {path}: no such file")
        if not path.is_file():
            raise UserError(f"--files {path}: not a regular file (list the files of a directory one by one)")
        try:
            head = path.read_bytes()
        except OSError as e:
            raise UserError(f"--files {path}: cannot read it ({e.strerror})") from None
        if shared_libs.is_dynamic(head):
            raise UserError(f"--files {path}: a dynamically linked program; the guest has no shared "
                            "libraries, so it must be static (link with -static)")
        if path.name in names:
            raise UserError(f"--files {path}: {names[path.name]} has the same name; rename one")
        names[path.name] = path
        checked.append(path)
    return tuple(checked)


def _peer_lines(role: str, command: str, env: PeerEnv) -> str:
    """Runs one peer in the foreground: its output on its own port, its status after it."""
    assignments = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.variables().items())
    return f"run_peer {role} {shlex.quote(command)} {assignments}\n"


# The helpers every exec script starts with (busybox sh; wait_port is guest_lib.sh's).
# run_peer ROLE COMMAND VAR=VALUE... runs COMMAND with those variables, its stdout and stderr on
# the role's port, and marks its end with a file, since a shell cannot ask whether a background
# job has ended.
_HELPERS = r"""
export PATH={files_dir}:/bin:/usr/bin
cd {files_dir} || exit 125
. {guest_lib}
listening() {{
	grep -qE ":$(printf '%04X' "$1") [0-9A-F]+:[0-9A-F]+ 0A " /proc/net/tcp /proc/net/tcp6 2>/dev/null
}}
run_peer() {{
	role=$1
	command=$2
	shift 2
	if out=$(wait_port "vsockcheck.$role"); then
		echo "# vsockcheck-exec: $role started"
		env "$@" sh -c "$command" </dev/null >"$out" 2>&1
		echo "# vsockcheck-exec: $role exit=$?"
	else
		echo "# vsockcheck-exec: $role no-output-port"
	fi
	: >"/tmp/vsc-$role.done"
}}
"""


def _server_start(command: str, env: PeerEnv) -> str:
    """Starts the server in the background and returns once it listens on TCP CONTROL_PORT, or has
    ended; $listened says which."""
    return (_peer_lines(SERVER, command, env).rstrip("\n") + " &\n"
            + "listened=0\n"
            + f"until [ -e /tmp/vsc-{SERVER}.done ]; do\n"
            + f"\tif listening {env.control_port}; then listened=1; break; fi\n"
            + f"\tsleep {LISTEN_POLL_S}\n"
            + "done\n"
            + f'[ "$listened" = 1 ] && echo "# vsockcheck-exec: {SERVER} listening"\n')


def _not_started(role: str) -> str:
    return f'echo "# vsockcheck-exec: {role} not-started"\n'


def guest_script(peers: dict[str, tuple[str, PeerEnv]], network: bool, client_lines: str | None = None,
                 await_go: bool = True) -> str:
    """The script of a guest running `peers` (role -> (command, environment)).
    With both roles (loopback), the client starts once the server listens. A client alone
    starts on the runner's word on GO_PORT, which comes once the server elsewhere listens, or
    at once without await_go (nested: L2a boots only once the server listens).
    client_lines: shell lines that run the client in place of run_peer, once the server here
    listens (nested: L1 boots L2a, which runs it)."""
    script = _HELPERS.format(files_dir=shlex.quote(GUEST_FILES_DIR), guest_lib=GUEST_LIB)
    if network:
        script += exec_net.guest_setup()
    if SERVER in peers:
        script += _server_start(*peers[SERVER])
    client = client_lines if client_lines is not None else (
        _peer_lines(CLIENT, *peers[CLIENT]) if CLIENT in peers else None)
    if client is not None:
        body = textwrap.indent(client, "\t")
        if SERVER in peers:
            script += f'if [ "$listened" = 1 ]; then\n{body}else\n\t{_not_started(CLIENT)}fi\n'
        elif await_go:
            script += (f'word=\nif go=$(wait_port {GO_PORT}); then read -r word <"$go"; fi\n'
                       f'if [ "$word" = {GO} ]; then\n{body}else\n\t{_not_started(CLIENT)}fi\n')
        else:
            script += client
    return script + "wait\n"


def host_env(env: PeerEnv, files_dir: Path, base: dict[str, str]) -> dict[str, str]:
    """The host peer's environment: the runner's own, its four variables, and its files on PATH."""
    merged = dict(base)
    merged.update(env.variables())
    merged["PATH"] = f"{files_dir}:{base.get('PATH', '/usr/bin:/bin')}"
    return merged


def parse_status(line: str) -> tuple[str, str, int | None] | None:
    """(role, what, exit status) for a status line of a guest's script, else None."""
    found = STATUS_LINE.match(line.strip())
    if not found:
        return None
    if found.group(3) is not None:
        return found.group(1), "exit", int(found.group(3))
    if found.group(4) is not None:
        return found.group(1), "l2-gone", int(found.group(4))
    return found.group(1), found.group(2), None
