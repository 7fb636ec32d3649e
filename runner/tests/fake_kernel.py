"""Tiny stand-ins for kernel files used by the tests: a bzImage header, ELF modules with .modinfo, module trees."""

import gzip
import lzma
import struct
from pathlib import Path


def bzimage(release: str) -> bytes:
    """Just enough of an x86 bzImage for the setup header to name its release."""
    image = bytearray(0x1000)
    image[0x202:0x206] = b"HdrS"
    struct.pack_into("<H", image, 0x20E, 0x800 - 0x200)
    version = f"{release} (builder@example) #1 SMP\0".encode()
    image[0x800:0x800 + len(version)] = version
    return bytes(image)


def elf_module(name: str, depends: list[str]) -> bytes:
    """An ELF64 relocatable with only a .modinfo section: what depmod reads to find dependencies."""
    modinfo = f"license=GPL\0depends={','.join(depends)}\0name={name}\0".encode()
    names = b"\0.modinfo\0.shstrtab\0"
    modinfo_at, names_at = 64, 64 + len(modinfo)
    shoff = names_at + len(names)
    header = b"\x7fELF\x02\x01\x01" + bytes(9) + struct.pack(
        "<HHIQQQIHHHHHH", 1, 62, 1, 0, 0, shoff, 0, 64, 0, 0, 64, 3, 2)
    sections = [
        (0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
        (1, 1, 0, 0, modinfo_at, len(modinfo), 0, 0, 1, 0),
        (10, 3, 0, 0, names_at, len(names), 0, 0, 1, 0),
    ]
    return header + modinfo + names + b"".join(struct.pack("<IIQQQQIIQQ", *s) for s in sections)


def write_module(modules_dir: Path, relpath: str, depends: list[str]) -> Path:
    """Write relpath (its suffix picks the compression) under modules_dir; returns the file."""
    path = modules_dir / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    stem = path.name[: path.name.index(".ko")]
    data = elf_module(stem.replace("-", "_"), depends)
    if path.name.endswith(".xz"):
        data = lzma.compress(data)
    elif path.name.endswith(".gz"):
        data = gzip.compress(data)
    path.write_bytes(data)
    return path


VSOCK_TREE = {
    # relpath -> depends, shaped like a Debian cloud kernel with virtio modular (bookworm)
    "kernel/drivers/virtio/virtio_ring.ko": [],
    "kernel/drivers/virtio/virtio.ko": ["virtio_ring"],
    "kernel/drivers/virtio/virtio_pci_modern_dev.ko": [],
    "kernel/drivers/virtio/virtio_pci_legacy_dev.ko": [],
    "kernel/drivers/virtio/virtio_pci.ko": ["virtio_pci_modern_dev", "virtio_ring", "virtio", "virtio_pci_legacy_dev"],
    "kernel/net/vmw_vsock/vsock.ko": [],
    "kernel/net/vmw_vsock/vmw_vsock_virtio_transport_common.ko": ["vsock"],
    "kernel/net/vmw_vsock/vmw_vsock_virtio_transport.ko": ["vmw_vsock_virtio_transport_common", "virtio", "virtio_ring", "vsock"],
    "kernel/net/vmw_vsock/vsock_loopback.ko": ["vmw_vsock_virtio_transport_common", "vsock"],
    "kernel/net/vmw_vsock/vsock_diag.ko": ["vsock"],
}


def modules_tree(modules_dir: Path, suffix: str = "", tree: dict | None = None) -> None:
    """A lib/modules/<release> tree without modules.dep (as Debian ships it); suffix '.xz' or '.gz' compresses."""
    for relpath, depends in (tree or VSOCK_TREE).items():
        write_module(modules_dir, relpath + suffix, depends)
