"""What every topology is given (RunRequest) and gives back (TopologyRun), and the pieces they share."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from vsc.catalogue import Case
from vsc.device_spec import DeviceSpec
from vsc.guest_session import GuestRun
from vsc.paths import GUEST_BIN_DIR

TEST_PROGRAM = GUEST_BIN_DIR / "vsockcheck-tests"
# Programs the cases run inside the guest (diag_vsock_ss_listener runs /usr/bin/vsock-ss, the
# vsockcat_* cases /usr/bin/vsockcat, the perf_tool_* cases /usr/bin/vsock-perf, the stress_* soak
# cases /usr/bin/sock-stress).
GUEST_TOOLS = (GUEST_BIN_DIR / "vsock-ss", GUEST_BIN_DIR / "vsockcat", GUEST_BIN_DIR / "vsock-perf",
               GUEST_BIN_DIR / "sock-stress")
# The guest modules: virtio_console carries the KTAP and peer ports; the virtio vsock transport
# drives our device where a topology attaches one, and vsock_loopback is there as in a real guest.
MODULES = ("virtio_pci", "virtio_console", "vsock", "vsock_loopback",
           "vmw_vsock_virtio_transport", "vsock_diag")
# Both sides of a split run must agree on the ports each case uses.
PORT_BASE = 20000
# No VM of the device has this CID: it drops what a guest sends there, so connects to it time out
# (the connect-timeout cases need a peer that never answers, which loopback cannot give).
SILENT_CID = 99
# guest_init.sh replaces this word in TEST_ARGS by the /dev node of the vsockcheck.peer port.
PEER_PORT_WORD = "@peer-port@"
# What a split topology keeps beside the results: the device's log and the control channel's.
BACKEND_LOG = "backend.log"
TRANSCRIPT = "peer-transcript.txt"
# Once the results side has finished, how long the other side may take to end by itself.
PEER_FINISH_S = 5.0


def split_args(role: str, peer_cid: int, local_cid: int, selection: list[str], solo: bool) -> list[str]:
    """The test program in a guest of a split run; the solo side runs the one-process cases too,
    against a silent CID for the connect timeouts."""
    solo_args = ["--solo", "--silent-cid", str(SILENT_CID)] if solo else []
    return ["--split", role, *solo_args, "--control", PEER_PORT_WORD, "--peer-cid", str(peer_cid),
            "--local-cid", str(local_cid), "--device-cid", str(local_cid), "--port-base", str(PORT_BASE),
            *selection]


@dataclass(frozen=True)
class RunRequest:
    """One `vsockcheck run`, as the command line gave it."""

    kernel: object                 # kernels.Kernel
    cases: list[Case]              # in run order
    selection: list[str]           # --pick/--skip as test program arguments
    workdir: Path                  # the run's temporary directory (sockets, images)
    results_dir: Path
    mode: str = "suite"            # --guest-mode, for the runner's own tests
    accel: str = "auto"
    boot_timeout_s: float = 60.0
    capture: bool = False          # record the device's packets in results_dir/capture.pcap
    host_role: str = "client"      # g2h: the role vsockcheck-host plays; the guest plays the other
    l2_kernel: object | None = None  # nested: the L2 guests' kernel (default: the same as L1's)
    kmod_files: tuple[Path, ...] = ()  # --kmod: test modules built for `kernel`, loaded in its guests
    device: DeviceSpec = DeviceSpec()  # --device: the vhost-user backend of g2h and g2g (default ours)


def device_notes(done: "TopologyRun", device, request: RunRequest) -> None:
    """What a run on a vhost-user device says about the device beyond the results."""
    ended = device.early_exit_note()
    if ended is not None:
        done.note(ended)
    if request.capture and request.device.external:
        done.note("--capture: capture.pcap is recorded by our device only; the guests' own captures are kept")


@dataclass
class TopologyRun:
    """What a topology produced: the report the results come from, and everything worth showing."""

    guest: GuestRun
    commands: list[tuple[str, list[str]]] = field(default_factory=list)  # (what, argv) of each process
    files: list[str] = field(default_factory=list)  # what this topology wrote into the results dir
    notes: list[str] = field(default_factory=list)  # what went wrong beside the guest, e.g. a peer's death

    def note(self, text: str) -> None:
        """Kept with the report's problems (results.ktap, results.json) and printed after the table."""
        self.notes.append(text)
        self.guest.report.problems.append(text)


class PeerModes:
    """--guest-mode for a run with a peer guest: panic and hang act on the guest the results come
    from; peer-panic and peer-hang on its peer, to show that the run survives a dying peer."""

    OWN = ("suite", "panic", "hang")
    PEER = ("peer-panic", "peer-hang")

    @staticmethod
    def split(mode: str) -> tuple[str, str]:
        """(mode of the guest the results come from, mode of its peer)."""
        if mode in PeerModes.PEER:
            return "suite", mode.removeprefix("peer-")
        return mode, "suite"
