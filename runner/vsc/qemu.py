"""QEMU for the guests: the command line from small named pieces, one spawned guest, the KVM probe."""

import ctypes
import functools
import hashlib
import json
import os
import shlex
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from vsc.errors import UserError
from vsc.paths import cache_root

QEMU = "qemu-system-x86_64"
KTAP_PORT_NAME = "vsockcheck.ktap"
PEER_PORT_NAME = "vsockcheck.peer"
PROBE_TIMEOUT_S = 5.0
PR_SET_PDEATHSIG = 1


def die_with_runner() -> None:
    """In the QEMU child before exec: if the runner is killed outright (SIGKILL, no cleanup), QEMU
    gets SIGKILL too instead of running on with nobody reading its output."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _opt(value: object) -> str:
    """A value inside a QEMU -opt list: a comma has to be doubled, or it would start the next option."""
    return str(value).replace(",", ",,")


SHARED_MEMORY_ID = "vsc_mem"


# The accelerators a guest can run on. Under TCG, "tcg" runs every vCPU in turn on one host thread
# and "tcg-multi" gives each vCPU a thread of its own. One thread is the default: with QEMU 7.2's
# multi-threaded TCG, a kernel rewriting its own code while its other vCPU runs that code (static
# keys flipped at boot) now and then executes a stale int3 ("Oops: int3" in enqueue_timer) or hangs
# after "hpet0:". Seen with debian:sid (7.2) on a loaded machine, about 1 boot in 20; never in the
# single-threaded boots beside them. tcg-multi is for the race cases, which need real parallelism.
TCG_THREADS = {"tcg": "single", "tcg-multi": "multi"}
ACCELS = ("kvm", *TCG_THREADS)


def machine_args(accel: str, shared_memory: bool = False) -> list[str]:
    backend = f",memory-backend={SHARED_MEMORY_ID}" if shared_memory else ""
    return ["-machine", f"q35{backend}", "-accel", accel_option(accel)]


def accel_option(accel: str) -> str:
    """QEMU's -accel value for one of ACCELS."""
    if accel in TCG_THREADS:
        return f"tcg,thread={TCG_THREADS[accel]}"
    if accel == "kvm":
        return "kvm"
    raise ValueError(f"accelerator {accel!r} is none of {', '.join(ACCELS)}")


def cpu_args(accel: str, model: str | None = None) -> list[str]:
    # Under KVM the host's own CPU model; under TCG every feature QEMU can emulate, unless the
    # guest asks for another model.
    return ["-cpu", model or ("host" if accel == "kvm" else "max")]


def memory_args(mib: int, shared: bool = False) -> list[str]:
    """Guest RAM; shared, it is a memfd a vhost-user backend can map (MAP_SHARED)."""
    if not shared:
        return ["-m", str(mib)]
    return ["-m", str(mib), "-object",
            f"memory-backend-memfd,id={SHARED_MEMORY_ID},size={mib}M,share=on"]


def smp_args(cpus: int) -> list[str]:
    return ["-smp", str(cpus)]


def kernel_cmdline(quiet: bool = False, extra: tuple[str, ...] = ()) -> str:
    """console on the first serial line; panic=-1 with -no-reboot turns a panic into a QEMU exit.
    No oops=panic: an oops kills one test process, and the run goes on to report it.
    Not quiet by default: under TCG the full log costs about 0.05 s of a 2.2 s boot, and quiet would
    keep WARN() splats (KERN_WARNING) out of the console log."""
    words = ["console=ttyS0", "panic=-1"]
    if quiet:
        words.append("quiet")
    return " ".join(words + list(extra))


def kernel_args(vmlinuz: Path, initrd: Path | None, append: str) -> list[str]:
    args = ["-kernel", str(vmlinuz)]
    if initrd is not None:
        args += ["-initrd", str(initrd)]
    return args + ["-append", append]


def console_args(log: Path | None) -> list[str]:
    """The kernel console (ttyS0) into a file, or on the terminal for interactive use when log is None."""
    return ["-serial", f"file:{log}" if log is not None else "mon:stdio"]


def ktap_port_args(path: Path) -> list[str]:
    """A virtio-serial port the guest finds by name; everything it writes lands in path."""
    return [
        "-device", "virtio-serial-pci,id=vsc_serial",
        "-chardev", f"file,id=vsc_ktap,path={_opt(path)}",
        "-device", f"virtserialport,bus=vsc_serial.0,chardev=vsc_ktap,name={KTAP_PORT_NAME}",
    ]


def peer_port_args(socket_path: Path, wait: bool = True) -> list[str]:
    """The guest's control channel to its peer: a second port on the same virtio-serial bus, whose
    host end is a Unix socket QEMU listens on. wait=on holds the guest back until the runner's relay
    has connected, so the guest never reads the port while nobody is at the other end (its read
    would return end-of-file, which the harness takes for a peer that has gone). Without it (an L2
    guest, whose peer connects once per pass) the harness waits for the other end itself."""
    return [
        "-chardev", f"socket,id=vsc_peer,path={_opt(socket_path)},server=on,wait={'on' if wait else 'off'}",
        "-device", f"virtserialport,bus=vsc_serial.0,chardev=vsc_peer,name={PEER_PORT_NAME}",
    ]


def output_port_args(name: str, path: Path) -> list[str]:
    """One more named port on the guest's virtio-serial bus, everything written to it landing in path
    (vsockcheck exec gives each peer its own, so its output streams to the results directory)."""
    chardev = "vsc_out_" + "".join(c if c.isalnum() else "_" for c in name)
    return ["-chardev", f"file,id={chardev},path={_opt(path)}",
            "-device", f"virtserialport,bus=vsc_serial.0,chardev={chardev},name={_opt(name)}"]


def headless_args() -> list[str]:
    """No default devices, no window, no monitor; a guest reboot ends QEMU instead of restarting it."""
    return ["-nographic", "-no-reboot", "-nodefaults", "-display", "none", "-monitor", "none"]


def guest_argv(*, vmlinuz: Path, initrd: Path, ktap_path: Path, console_log: Path | None,
               accel: str = "tcg", memory_mib: int = 512, cpus: int = 1, quiet: bool = False,
               extra_append: tuple[str, ...] = (), devices: list[str] = (),
               peer_socket: Path | None = None, peer_wait: bool = True,
               plain_devices: list[str] = (), cpu_model: str | None = None) -> list[str]:
    """The whole command line for one test guest; `devices` (e.g. a vhost-user device's
    arguments) need guest RAM a backend can map, so they switch it to shared memory;
    `plain_devices` (a network card, more serial ports, the kernel's vhost) do not.
    `peer_socket` adds the control port to a peer (see peer_port_args)."""
    shared = bool(devices)
    peer = peer_port_args(peer_socket, peer_wait) if peer_socket is not None else []
    return ([QEMU] + machine_args(accel, shared) + cpu_args(accel, cpu_model) + memory_args(memory_mib, shared)
            + smp_args(cpus) + kernel_args(vmlinuz, initrd, kernel_cmdline(quiet, extra_append))
            + console_args(console_log) + ktap_port_args(ktap_path) + peer + list(devices)
            + list(plain_devices) + headless_args())


def show_command(argv: list[str]) -> str:
    """The command line as one string a user can paste into a shell."""
    return shlex.join(argv)


class Guest:
    """One QEMU process in its own process group; leaving the with-block always stops it.
    (The host-side programs run the same way: pass_fds hands the test program its control channel;
    env and cwd set up vsockcheck exec's host peer.)"""

    def __init__(self, argv: list[str], log: Path | None = None, pass_fds: tuple[int, ...] = (),
                 env: dict[str, str] | None = None, cwd: Path | None = None):
        self.argv = list(argv)
        self.log = log  # QEMU's own stdout and stderr; None leaves them on the terminal
        self.pass_fds = tuple(pass_fds)
        self.env = env  # None: the runner's own environment
        self.cwd = cwd
        self.process: subprocess.Popen | None = None

    def start(self) -> "Guest":
        try:
            out = open(self.log, "wb") if self.log is not None else None
        except OSError as e:
            raise UserError(f"QEMU log {self.log}: cannot write it ({e.strerror})") from None
        try:
            # A session of its own: Ctrl-C reaches only the runner, which then stops QEMU's whole group.
            self.process = subprocess.Popen(
                self.argv, stdin=subprocess.DEVNULL if out else None, stdout=out,
                stderr=subprocess.STDOUT if out else None, start_new_session=True,
                pass_fds=self.pass_fds, env=self.env, cwd=self.cwd, preexec_fn=die_with_runner)
        except OSError as e:
            raise UserError(f"{self.argv[0]}: cannot start it ({e.strerror}); install qemu-system-x86") from None
        finally:
            if out is not None:
                out.close()
        return self

    def wait(self, timeout: float | None = None) -> int | None:
        """QEMU's exit status, or None if it is still running after timeout seconds."""
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    @property
    def returncode(self) -> int | None:
        return self.process.poll() if self.process else None

    def stop(self, grace: float = 2.0) -> None:
        """SIGTERM to the group, SIGKILL after grace seconds; safe to call any number of times."""
        if self.process is None or self.process.poll() is not None:
            return
        for sig, wait_s in ((signal.SIGTERM, grace), (signal.SIGKILL, None)):
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                pass
            if self.wait(wait_s) is not None:
                return

    def __enter__(self) -> "Guest":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


@functools.lru_cache(maxsize=None)
def qemu_version(qemu: str) -> str:
    """The first line of `qemu --version`; it keys cached probe verdicts."""
    try:
        done = subprocess.run([qemu, "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise UserError(f"{qemu}: cannot run it ({e}); install qemu-system-x86") from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise UserError(f"{qemu} --version failed: {last}")
    return done.stdout.splitlines()[0].strip()


def probe_argv(vmlinuz: Path, console_log: Path) -> list[str]:
    """A boot without an initramfs: a working kernel prints its banner, panics at mounting root, and QEMU
    exits. rdinit names no file, so even a kernel with a built-in initramfs ends the same way."""
    append = "console=ttyS0 panic=-1 rdinit=/vsockcheck-no-init"
    return ([QEMU] + machine_args("kvm") + cpu_args("kvm") + memory_args(256)
            + kernel_args(vmlinuz, None, append) + console_args(console_log) + headless_args())


def _probe_kvm(vmlinuz: Path, timeout: float) -> tuple[bool, str]:
    with tempfile.TemporaryDirectory(prefix="vsc-kvm-probe-") as tmp:
        console = Path(tmp) / "console.log"
        started = time.monotonic()
        with Guest(probe_argv(vmlinuz, console), log=Path(tmp) / "qemu.log") as guest:
            status = guest.wait(timeout)
        elapsed = time.monotonic() - started
        banner = b"Linux version" in (console.read_bytes() if console.exists() else b"")
    if status is None:
        return False, f"no power-off within {timeout:.0f} s (kernel banner {'seen' if banner else 'not seen'})"
    if not banner:
        return False, f"QEMU exited with status {status} after {elapsed:.1f} s without a kernel banner"
    return True, f"kernel booted to its root-mount panic in {elapsed:.1f} s"


def accel_for(vmlinuz: Path, timeout: float = PROBE_TIMEOUT_S) -> str:
    """'kvm' if this kernel boots under KVM here, else 'tcg'. /dev/kvm may be a hypervisor that runs only
    special kernels, so the answer comes from one trial boot per kernel and QEMU version, then the cache."""
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return "tcg"
    try:
        kernel_bytes = Path(vmlinuz).read_bytes()
    except OSError as e:
        raise UserError(f"kernel {vmlinuz}: cannot read it ({e.strerror})") from None
    version = qemu_version(QEMU)
    key = hashlib.sha256(kernel_bytes + b"\0" + version.encode()).hexdigest()
    verdict_file = cache_root() / "kvm-probe" / f"{key}.json"
    try:
        return "kvm" if json.loads(verdict_file.read_text())["kvm"] else "tcg"
    except (OSError, ValueError, KeyError, TypeError):
        pass  # no verdict yet, or an unreadable one: probe again
    works, detail = _probe_kvm(Path(vmlinuz), timeout)
    _save_verdict(verdict_file, {"kvm": works, "detail": detail, "kernel": str(vmlinuz), "qemu": version})
    return "kvm" if works else "tcg"


def _save_verdict(verdict_file: Path, verdict: dict) -> None:
    """Written to a temporary file and renamed, so a concurrent reader never sees half of it."""
    try:
        verdict_file.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=verdict_file.parent, suffix=".tmp")
    except OSError:
        return  # an uncached verdict only costs another probe next time
    try:
        with os.fdopen(fd, "w") as out:
            os.fchmod(out.fileno(), 0o644)  # mkstemp makes it private; a cache entry is an ordinary file
            json.dump(verdict, out, indent=1)
        os.replace(tmp, verdict_file)
    except OSError:
        os.unlink(tmp)
