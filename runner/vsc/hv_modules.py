"""The two modules of the hvsock topology: our vmbus_sim.ko (in hv_vmbus's place) and the kernel's own
packaged hv_sock.ko, and whether hv_sock.ko's modversions CRCs match what vmbus_sim exports."""

from __future__ import annotations

import shutil
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

from vsc import modules
from vsc.errors import UserError

VMBUS_SIM = "vmbus_sim"
HV_SOCK = "hv_sock"
# What hv_sock.ko takes from hv_vmbus (the same twelve in 5.10, 6.1, 6.12 and 7.2).
HV_VMBUS_SYMBOLS = ("__vmbus_driver_register", "vmbus_driver_unregister", "vmbus_open", "vmbus_close",
                    "vmbus_sendpacket", "vmbus_send_tl_connect_request", "vmbus_set_chn_rescind_callback",
                    "vmbus_hvsock_device_unregister", "hv_pkt_iter_first", "__hv_pkt_iter_next",
                    "hv_pkt_iter_close", "vmbus_proto_version")
EXPORTS, LIVEPATCH = "exports", "livepatch"
VERSIONS_SECTION = b"__versions"
VERSION_ENTRY = 64    # struct modversion_info: an 8-byte CRC, then a 56-byte NUL-padded name


def attach_mode(config: dict[str, str]) -> str:
    """How vmbus_sim attaches on a kernel with this .config: the choice testcases/kmod/vmbus_sim/Kbuild
    makes. hv_vmbus built into vmlinux (CONFIG_HYPERV_VMBUS=y, or CONFIG_HYPERV=y before that option
    existed): livepatch; otherwise exports."""
    vmbus = config.get("CONFIG_HYPERV_VMBUS") or config.get("CONFIG_HYPERV")
    return LIVEPATCH if vmbus == "y" else EXPORTS


def module_versions(data: bytes) -> dict[str, int]:
    """The CRCs a module recorded for the symbols it imports (its __versions section); {} without one
    (a kernel without CONFIG_MODVERSIONS)."""
    raw = modules.elf_section(data, VERSIONS_SECTION)
    if raw is None:
        return {}
    if len(raw) % VERSION_ENTRY:
        raise ValueError(f"__versions is {len(raw)} bytes, not a multiple of {VERSION_ENTRY}")
    versions = {}
    for at in range(0, len(raw), VERSION_ENTRY):
        (crc,) = struct.unpack_from("<Q", raw, at)
        name = raw[at + 8: at + VERSION_ENTRY].split(b"\0", 1)[0].decode(errors="replace")
        versions[name] = crc & 0xFFFFFFFF
    return versions


def parse_symvers(text: str) -> dict[str, int]:
    """Module.symvers ('0xCRC<TAB>symbol<TAB>module<TAB>export type[<TAB>namespace]') as symbol -> CRC."""
    crcs = {}
    for line in text.splitlines():
        fields = line.split("\t")
        if len(fields) >= 2 and fields[0].startswith("0x"):
            crcs[fields[1]] = int(fields[0], 16)
    return crcs


@dataclass(frozen=True)
class SymbolCrc:
    """One hv_vmbus symbol: the CRC hv_sock.ko expects and the one vmbus_sim exports (None: absent)."""

    name: str
    expected: int | None
    provided: int | None

    @property
    def matches(self) -> bool:
        return self.expected is not None and self.expected == self.provided

    def describe(self) -> str:
        def crc(value):
            return "none" if value is None else f"0x{value:08x}"
        return f"{self.name}: hv_sock.ko expects {crc(self.expected)}, vmbus_sim exports {crc(self.provided)}"


def compare(expected: dict[str, int], provided: dict[str, int], names=HV_VMBUS_SYMBOLS) -> list[SymbolCrc]:
    """Each hv_vmbus symbol's expected and provided CRC, in HV_VMBUS_SYMBOLS order."""
    return [SymbolCrc(name, expected.get(name), provided.get(name)) for name in names]


def mismatches(rows: list[SymbolCrc]) -> list[SymbolCrc]:
    return [row for row in rows if not row.matches]


def hv_sock_source(kernel) -> Path:
    """The kernel's own hv_sock module file (.ko, .ko.xz, ...). Only that file: its modules.dep names
    hv_vmbus, which must not load (vmbus_sim stands in for it)."""
    modules_dir = kernel.modules_dir
    if modules_dir is None:
        raise UserError(f"kernel {kernel.name} has no modules directory: topology hvsock needs its packaged "
                        f"{HV_SOCK}.ko (CONFIG_HYPERV_VSOCKETS=m)")
    if modules.kernel_config(kernel).get("CONFIG_VIRTIO_VSOCKETS") == "y":
        raise UserError(f"kernel {kernel.name} has the virtio vsock transport built in (CONFIG_VIRTIO_VSOCKETS=y): "
                        f"it registers as the guest-to-host transport at boot, so {HV_SOCK} cannot; build it "
                        "with kconfig/hvsock-guest.config merged after vsock-guest.config")
    dep_file = modules_dir / "modules.dep"
    deps = (modules.parse_modules_dep(dep_file.read_text(), modules_dir) if dep_file.is_file()
            else modules.scan_modules(modules_dir))
    if HV_SOCK not in deps:
        option = modules.kernel_config(kernel).get("CONFIG_HYPERV_VSOCKETS", "not set")
        raise UserError(f"kernel {kernel.name}: no {HV_SOCK} module in {modules_dir} "
                        f"(CONFIG_HYPERV_VSOCKETS={option}): topology hvsock needs it as a module")
    return deps[HV_SOCK][0]


def materialize_hv_sock(kernel, dest_dir: Path) -> Path:
    """hv_sock.ko of the kernel, decompressed, in dest_dir (busybox insmod needs a plain .ko)."""
    source = hv_sock_source(kernel)
    (written,) = modules.materialize(modules.ModulePlan((source,), ()), dest_dir)
    return written


def vmbus_sim_module(built: list[Path]) -> Path:
    """vmbus_sim.ko among the modules kmod.build_modules made."""
    for path in built:
        if path.name == f"{VMBUS_SIM}.ko":
            return path
    raise UserError(f"the test module build made no {VMBUS_SIM}.ko (it made: "
                    f"{', '.join(p.name for p in built) or 'nothing'}): is testcases/kmod/vmbus_sim/ in its Kbuild?")


def test_modules(built: list[Path]) -> tuple[Path, ...]:
    """The modules --kmod loads: all that kmod.build_modules made but vmbus_sim, which only the hvsock
    topology loads (with hv_sock after it)."""
    return tuple(p for p in built if p.name != f"{VMBUS_SIM}.ko")


def symvers_of(module: Path) -> Path:
    """The Module.symvers of the build that made `module` (at the top of its M= copy)."""
    for parent in module.parents:
        if (parent / "Module.symvers").is_file():
            return parent / "Module.symvers"
    raise UserError(f"{module}: no Module.symvers in any directory above it: cannot compare modversions CRCs")


def check_crcs(hv_sock: Path, vmbus_sim: Path) -> list[SymbolCrc]:
    """hv_sock.ko's recorded CRCs against the ones vmbus_sim's build exported."""
    try:
        expected = module_versions(hv_sock.read_bytes())
    except (OSError, ValueError, struct.error) as e:
        raise UserError(f"cannot read the __versions of {hv_sock}: {e}") from None
    if not expected:
        return []  # no modversions in this kernel: nothing to match
    provided = parse_symvers(symvers_of(vmbus_sim).read_text())
    return compare(expected, provided)


def strip_versions(module: Path) -> None:
    """Remove `module`'s __versions section, in place, for the forced load when CRCs differ. The kernel
    treats a module without it as finit_module(MODULE_INIT_IGNORE_MODVERSIONS) does (both clear the
    version index, kernel/module/main.c) and taints F; busybox insmod cannot pass that flag."""
    objcopy = shutil.which("objcopy")
    if objcopy is None:
        raise UserError(f"objcopy (binutils) is needed to load {module.name} without its modversions")
    proc = subprocess.run([objcopy, "--remove-section=__versions", str(module)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise UserError(f"objcopy could not remove __versions from {module}: {proc.stderr.strip()}")
