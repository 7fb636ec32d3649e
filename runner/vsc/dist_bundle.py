"""make dist: the bundle other images run the suite from, build/dist/vsockcheck-<version>.tar.gz.

It holds the static test program and the guest tools its cases exec (topology.GUEST_TOOLS: the one
list both the runner's guests and the bundle take), the packet-fixture engine that runs in a guest
(vhost_vsock target) with its agent, testcases/fixtures/, the POSIX-shell runner dist/vsockcheck-
guest.sh and dist/README.md. What the shell runner must agree on with the Python runner (the
loopback suite's arguments, the vsock modules) is written into the bundle's suite.conf from the
Python source, so it is said in one place."""

from __future__ import annotations

import argparse
import gzip
import io
import shlex
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

from vsc import fixtures_guest, shared_libs, topology, topology_loopback
from vsc.errors import UserError
from vsc.paths import BUILD_DIR, PROJECT_ROOT

DIST_SOURCE = PROJECT_ROOT / "dist"
FIXTURES_SOURCE = PROJECT_ROOT / "testcases" / "fixtures"
RUNNER = "vsockcheck-guest.sh"
SUITE_CONF = "suite.conf"
# Engine 2 of the packet fixtures and its agent: the one engine that needs nothing outside the
# guest (the kernel's own vhost_vsock), so the bundle's --fixtures can run it.
FIXTURE_TOOLS = (fixtures_guest.ENGINE, fixtures_guest.AGENT)
# The guest-to-host transport module for each kind of host the runner detects; only one may
# register, so the shell runner loads the one whose bus it finds.
G2H_MODULES = {"virtio": "vmw_vsock_virtio_transport", "hyperv": "hv_sock"}
# virtio_console only carries the Python runner's KTAP and peer ports: the bundle prints to stdout.
HARNESS_ONLY_MODULES = ("virtio_console",)


@dataclass(frozen=True)
class Member:
    """One file of the tarball: its name below the top directory, its bytes and mode."""

    name: str
    data: bytes
    mode: int


def programs(bin_dir: Path) -> list[Path]:
    """The static programs the bundle carries, the test program first."""
    names = [topology.TEST_PROGRAM.name, *(p.name for p in topology.GUEST_TOOLS),
             *(p.name for p in FIXTURE_TOOLS)]
    return [bin_dir / name for name in dict.fromkeys(names)]


def common_modules() -> list[str]:
    """The vsock modules every guest loads: the Python runner's list, without the transports one
    host kind has (G2H_MODULES) and without the harness's own carriers."""
    skip = set(G2H_MODULES.values()) | set(HARNESS_ONLY_MODULES)
    return [m for m in topology.MODULES if m not in skip]


def suite_conf(version: str) -> str:
    """Settings the shell runner sources: KEY='value' lines busybox sh can read."""
    settings = {
        "VSC_VERSION": version,
        "VSC_TEST_PROGRAM": topology.TEST_PROGRAM.name,
        "VSC_LOOPBACK_ARGS": " ".join(topology_loopback.test_args()),
        "VSC_COMMON_MODULES": " ".join(common_modules()),
        "VSC_VIRTIO_MODULE": G2H_MODULES["virtio"],
        "VSC_HYPERV_MODULE": G2H_MODULES["hyperv"],
        "VSC_TOOLS": " ".join(p.name for p in topology.GUEST_TOOLS),
        "VSC_FIXTURE_ENGINE": fixtures_guest.ENGINE.name,
        "VSC_FIXTURE_AGENT": fixtures_guest.AGENT.name,
        "VSC_FIXTURE_PREFIX": fixtures_guest.PREFIX,
    }
    return "".join(f"{key}={shlex.quote(value)}\n" for key, value in settings.items())


def _read(path: Path, what: str, hint: str = "") -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise UserError(f"{what} {path}: cannot read it ({e.strerror}){hint}") from None


def members(version: str, bin_dir: Path = BUILD_DIR / "bin", dist_dir: Path = DIST_SOURCE,
            fixtures_dir: Path = FIXTURES_SOURCE) -> list[Member]:
    """Every file of the bundle, in the order the tarball holds them."""
    found = [Member(RUNNER, _read(dist_dir / RUNNER, "guest runner"), 0o755),
             Member("README.md", _read(dist_dir / "README.md", "bundle README"), 0o644),
             Member(SUITE_CONF, suite_conf(version).encode(), 0o644)]
    for program in programs(bin_dir):
        data = _read(program, "guest program", "; run make first")
        # An image may have no C library at all: every program must be static.
        if shared_libs.is_dynamic(data):
            raise UserError(f"guest program {program}: it is dynamically linked; the bundle needs static programs")
        found.append(Member(f"bin/{program.name}", data, 0o755))
    fixtures = sorted(p for p in fixtures_dir.rglob("*") if p.is_file())
    if not fixtures:
        raise UserError(f"fixtures {fixtures_dir}: no files there")
    for path in fixtures:
        found.append(Member(f"fixtures/{path.relative_to(fixtures_dir).as_posix()}", _read(path, "fixture"), 0o644))
    return found


def git_version(root: Path = PROJECT_ROOT) -> str:
    """`git describe --always --dirty` of the source tree: the bundle's version."""
    try:
        done = subprocess.run(["git", "-C", str(root), "describe", "--always", "--dirty"],
                              capture_output=True, text=True)
    except OSError as e:
        raise UserError(f"git: cannot run it ({e.strerror}) to name the bundle's version") from None
    if done.returncode != 0 or not done.stdout.strip():
        raise UserError(f"git describe in {root} failed: {done.stderr.strip() or 'no output'}")
    return done.stdout.strip()


def commit_time(root: Path = PROJECT_ROOT) -> int:
    """The last commit's time: every member's mtime, so the same tree gives the same tarball."""
    done = subprocess.run(["git", "-C", str(root), "log", "-1", "--format=%ct"], capture_output=True, text=True)
    return int(done.stdout.strip()) if done.returncode == 0 and done.stdout.strip().isdigit() else 0


def top_dir(version: str) -> str:
    return f"vsockcheck-{version}"


def write_tarball(files: list[Member], version: str, out_dir: Path, mtime: int = 0) -> Path:
    """out_dir/vsockcheck-<version>.tar.gz with every member below vsockcheck-<version>/, owned
    by root, so unpacking it as root in an image gives root-owned files."""
    top = top_dir(version)
    out = out_dir / f"{top}.tar.gz"
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    dirs = sorted({"/".join(m.name.split("/")[:i]) for m in files for i in range(1, m.name.count("/") + 1)})
    try:
        # The gzip header carries a time too (tarfile's "w:gz" puts the clock's there): the same one.
        with open(tmp, "wb") as raw, gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=mtime) as packed, \
                tarfile.open(fileobj=packed, mode="w", format=tarfile.USTAR_FORMAT) as tar:
            for name in ["", *dirs]:
                info = tarfile.TarInfo(f"{top}/{name}".rstrip("/"))
                info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, mtime
                tar.addfile(info)
            for member in files:
                info = tarfile.TarInfo(f"{top}/{member.name}")
                info.size, info.mode, info.mtime = len(member.data), member.mode, mtime
                tar.addfile(info, io.BytesIO(member.data))
        tmp.replace(out)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise UserError(f"bundle {out}: cannot write it ({e.strerror})") from None
    return out


def build(out_dir: Path, version: str | None = None, bin_dir: Path = BUILD_DIR / "bin") -> Path:
    version = version or git_version()
    return write_tarball(members(version, bin_dir), version, out_dir, commit_time())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dist_bundle", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=BUILD_DIR / "dist", help="directory of the tarball")
    parser.add_argument("--version", help="default: git describe --always --dirty")
    args = parser.parse_args(argv)
    try:
        print(build(args.out, args.version))
    except UserError as e:
        print(f"make dist: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
