"""Plan which kernel modules to insmod, dependencies first, and write them out as plain .ko files for busybox."""

import gzip
import lzma
import os
import shutil
import struct
import subprocess
import zlib
from dataclasses import dataclass
from pathlib import Path

from vsc.errors import UserError

SUFFIXES = (".ko.xz", ".ko.gz", ".ko.zst", ".ko")
READ_ERRORS = (OSError, EOFError, lzma.LZMAError, zlib.error)

# The Kconfig option behind each module we ask for, so a missing module says what to enable.
CONFIG_OPTIONS = {
    "vsock": "CONFIG_VSOCKETS",
    "vsock_loopback": "CONFIG_VSOCKETS_LOOPBACK",
    "vsock_diag": "CONFIG_VSOCKETS_DIAG",
    "vmw_vsock_virtio_transport": "CONFIG_VIRTIO_VSOCKETS",
    "vmw_vsock_virtio_transport_common": "CONFIG_VIRTIO_VSOCKETS_COMMON",
    "vhost_vsock": "CONFIG_VHOST_VSOCK",
    "vsockmon": "CONFIG_VSOCKMON",
    "hv_sock": "CONFIG_HYPERV_VSOCKETS",
    "virtio_console": "CONFIG_VIRTIO_CONSOLE",
    "virtio_pci": "CONFIG_VIRTIO_PCI",
    "virtio_net": "CONFIG_VIRTIO_NET",
    "net_failover": "CONFIG_NET_FAILOVER",
    "failover": "CONFIG_FAILOVER",
}
# Where the guest finds the names of the kernel's built-in modules (testcases/lib/module.c reads
# it: a built-in module without parameters leaves no trace in /sys/module).
BUILTIN_LIST = "lib/modules/vsockcheck/builtin"


@dataclass(frozen=True)
class ModulePlan:
    """What to load, in order, and which wanted modules the kernel already has built in."""
    load: tuple[Path, ...]
    builtin: tuple[str, ...]


def module_name(path: str | Path) -> str:
    """'kernel/net/vmw_vsock/vsock.ko.xz' -> 'vsock'; '-' and '_' are the same to the kernel, so use '_'."""
    name = Path(path).name
    for suffix in SUFFIXES:
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    return name.replace("-", "_")


def parse_modules_dep(text: str, modules_dir: Path) -> dict[str, tuple[Path, tuple[str, ...]]]:
    """modules.dep ('file: dep dep ...') as module name -> (file, names of the modules it depends on)."""
    deps = {}
    for line in text.splitlines():
        if ":" not in line:
            continue
        target, _, rest = line.partition(":")
        deps[module_name(target)] = (modules_dir / target.strip(), tuple(module_name(d) for d in rest.split()))
    return deps


def parse_modules_builtin(text: str) -> set[str]:
    return {module_name(line.strip()) for line in text.splitlines() if line.strip()}


def parse_config(text: str) -> dict[str, str]:
    """A .config as option -> value ('y', 'm', ...); '# CONFIG_X is not set' lines are simply absent."""
    options = {}
    for line in text.splitlines():
        if line.startswith("CONFIG_") and "=" in line:
            key, _, value = line.partition("=")
            options[key] = value.strip().strip('"')
    return options


def modinfo(data: bytes) -> dict[str, str]:
    """The key=value strings of an ELF64 module's .modinfo section ('depends', 'name', ...)."""
    raw = elf_section(data, b".modinfo") or b""
    pairs = (s.partition(b"=") for s in raw.split(b"\0") if b"=" in s)
    return {k.decode(): v.decode(errors="replace") for k, _, v in pairs}


def elf_section(data: bytes, wanted: bytes) -> bytes | None:
    """The contents of an ELF64 file's section named `wanted`, None when it has none."""
    if data[:4] != b"\x7fELF" or data[4] != 2:
        raise ValueError("not an ELF64 file")
    order = "<" if data[5] == 1 else ">"
    (shoff,) = struct.unpack_from(order + "Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from(order + "HHH", data, 0x3A)

    def section(i: int) -> tuple[int, int, int]:
        name, _type, _flags, _addr, offset, size = struct.unpack_from(order + "IIQQQQ", data, shoff + i * shentsize)
        return name, offset, size

    names_at = section(shstrndx)[1]
    for i in range(shnum):
        name, offset, size = section(i)
        if data[names_at + name: data.index(b"\0", names_at + name)] == wanted:
            return data[offset: offset + size]
    return None


def scan_modules(modules_dir: Path) -> dict[str, tuple[Path, tuple[str, ...]]]:
    """What depmod would find: every module file under modules_dir with the depends= of its .modinfo."""
    deps = {}
    for path in sorted(modules_dir.rglob("*.ko*")):
        if not path.name.endswith(SUFFIXES):
            continue
        try:
            info = modinfo(read_module(path))
        except (ValueError, struct.error, *READ_ERRORS) as e:
            raise UserError(f"cannot read module {path}: {e}") from None
        needs = tuple(module_name(d) for d in info.get("depends", "").split(",") if d)
        deps[module_name(info.get("name") or path)] = (path, needs)
    return deps


def write_modules_dep(modules_dir: Path) -> None:
    """Write modules.dep for a tree shipped without it (Debian runs depmod at install time, which we skip)."""
    deps = scan_modules(modules_dir)
    lines = []
    for name, (path, _) in sorted(deps.items(), key=lambda item: str(item[1][0])):
        # depmod's convention: all dependencies, the one to load first listed last.
        needed = list(reversed(_load_order(deps, [name], set(), [])[:-1]))
        lines.append(f"{path.relative_to(modules_dir)}: " + " ".join(str(deps[n][0].relative_to(modules_dir)) for n in needed))
    (modules_dir / "modules.dep").write_text("".join(line.rstrip() + "\n" for line in lines))


def _load_order(deps, names, done: set[str], order: list[str], stack: tuple[str, ...] = ()) -> list[str]:
    """Depth-first, dependencies before dependents, each module once."""
    for name in names:
        if name in done:
            continue
        if name in stack:
            raise UserError(f"module dependency loop: {' -> '.join(stack + (name,))}")
        if name not in deps:
            raise UserError(f"module {stack[-1]} needs module {name}, which is not in modules.dep")
        _load_order(deps, deps[name][1], done, order, stack + (name,))
        done.add(name)
        order.append(name)
    return order


def kernel_config(kernel) -> dict[str, str]:
    """The kernel's .config as option -> value, {} when it has none."""
    return parse_config(kernel.config.read_text()) if kernel.config and kernel.config.is_file() else {}


def builtin_names(kernel) -> set[str]:
    """Every module the kernel has built in: its modules.builtin, and each module of
    CONFIG_OPTIONS whose option is =y (a kernel without modules.builtin still has a .config)."""
    modules_dir = kernel.modules_dir
    builtin_file = kernel.modules_builtin or (modules_dir / "modules.builtin" if modules_dir else None)
    builtin = parse_modules_builtin(builtin_file.read_text()) if builtin_file and builtin_file.is_file() else set()
    config = kernel_config(kernel)
    return builtin | {name for name, option in CONFIG_OPTIONS.items() if config.get(option) == "y"}


def builtin_list_entry(kernel) -> tuple[str, bytes]:
    """BUILTIN_LIST's path in the guest and its text: one built-in module name a line."""
    return BUILTIN_LIST, "".join(name + "\n" for name in sorted(builtin_names(kernel))).encode()


def plan(kernel, wanted: list[str]) -> ModulePlan:
    """Order the wanted modules (and their dependencies) for loading; built-in ones are skipped."""
    modules_dir = kernel.modules_dir
    deps: dict[str, tuple[Path, tuple[str, ...]]] = {}
    if modules_dir is not None:
        dep_file = modules_dir / "modules.dep"
        deps = parse_modules_dep(dep_file.read_text(), modules_dir) if dep_file.is_file() else scan_modules(modules_dir)
    builtin = builtin_names(kernel)
    config = kernel_config(kernel)

    to_load, skipped = [], []
    for name in dict.fromkeys(module_name(w) for w in wanted):
        option = CONFIG_OPTIONS.get(name)
        if name in deps:
            to_load.append(name)
        elif name in builtin:
            skipped.append(name)
        else:
            raise UserError(_missing_message(kernel, name, option, config))
    order = _load_order(deps, to_load, set(), [])
    return ModulePlan(tuple(deps[n][0] for n in order), tuple(skipped))


def _missing_message(kernel, name: str, option: str | None, config: dict[str, str]) -> str:
    where = f"in {kernel.modules_dir}" if kernel.modules_dir else "as a module (the kernel has no modules directory)"
    message = f"kernel {kernel.name}: module {name} is neither built in nor {where}"
    if option:
        state = f"; its config has {option}={config[option]}" if option in config else ""
        message += f": it needs {option}=y or =m{state}"
    return message


def read_module(path: Path) -> bytes:
    """A module file's bytes, decompressed."""
    name = path.name
    if name.endswith(".ko.xz"):
        return lzma.decompress(path.read_bytes())
    if name.endswith(".ko.gz"):
        return gzip.decompress(path.read_bytes())
    if name.endswith(".ko.zst"):
        # The standard library has no zstd (before 3.14): use the command.
        if shutil.which("zstd") is None:
            raise UserError(f"{path} is zstd-compressed: install the zstd package (apt-get install zstd)")
        proc = subprocess.run(["zstd", "-dc", "--", str(path)], capture_output=True)
        if proc.returncode != 0:
            tail = (proc.stderr.decode(errors="replace").strip().splitlines() or ["(no message)"])[-1]
            raise UserError(f"zstd could not decompress {path}: {tail}")
        return proc.stdout
    return path.read_bytes()


def materialize(module_plan: ModulePlan, dest_dir: Path) -> list[Path]:
    """Write each module of the plan into dest_dir as a plain .ko; returns the written files in load order."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for path in module_plan.load:
        try:
            data = read_module(path)
        except READ_ERRORS as e:
            raise UserError(f"cannot read module {path}: {e}") from None
        target = dest_dir / (path.name[: path.name.index(".ko")] + ".ko")
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, target)
        written.append(target)
    return written
