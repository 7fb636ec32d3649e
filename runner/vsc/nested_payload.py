"""What an L1 guest needs to boot L2 guests: this machine's QEMU with its libraries, its TCG
module and the firmware a -kernel boot reads, the L2 kernel and the shell functions that start
L2 guests (members of L1's base image); and the L2 images (members of L1's per-run tail).
Shared by vsockcheck run --topology nested and vsockcheck exec --topology nested."""

from __future__ import annotations

from pathlib import Path

from vsc import cpio, guest_session, initramfs, shared_libs
from vsc.errors import UserError
from vsc.paths import PROJECT_ROOT

QEMU_BINARY = Path("/usr/bin/qemu-system-x86_64")
# Debian's QEMU is modular: without this TCG fails with "could not load module for type
# 'tcg-accel-ops'".
TCG_MODULE = Path("/usr/lib/x86_64-linux-gnu/qemu/accel-tcg-x86_64.so")
# Found by QEMU's compiled-in firmware path (/usr/share/qemu, /usr/share/seabios,
# /usr/lib/ipxe/qemu): the BIOS, the -kernel loader, and the virtio-net option ROM.
FIRMWARE = (Path("/usr/share/seabios/bios-256k.bin"), Path("/usr/share/qemu/linuxboot_dma.bin"),
            Path("/usr/share/qemu/kvmvapic.bin"), Path("/usr/lib/ipxe/qemu/efi-virtio.rom"))
L2_DIR = "l2"
L2_KERNEL = f"/{L2_DIR}/vmlinuz"
# link_ports, start_l2, alive: L1's scripts source it.
SHELL_LIB = "/usr/lib/vsockcheck/nested_lib.sh"


def _file(guest_path: Path | str, host_path: Path, mode: int = 0o644) -> cpio.Entry:
    try:
        data = Path(host_path).read_bytes()  # a symlink's target, as QEMU would read it
    except OSError as e:
        raise UserError(f"nested topology: cannot read {host_path} for the L1 guest ({e.strerror}); "
                        "install qemu-system-x86 (make deps)") from None
    return cpio.file(str(guest_path).lstrip("/"), data, mode)


def qemu_entries(already: list[Path] = ()) -> list[cpio.Entry]:
    """QEMU and everything it loads; `already` are libraries the image holds anyway."""
    skip = {str(p) for p in already}
    libraries = [lib for lib in shared_libs.libraries_of([QEMU_BINARY, TCG_MODULE]) if str(lib) not in skip]
    entries = [_file(QEMU_BINARY, QEMU_BINARY, 0o755), _file(TCG_MODULE, TCG_MODULE, 0o755)]
    entries += [_file(lib, lib, 0o755) for lib in libraries]
    entries += [_file(fw, fw) for fw in FIRMWARE]
    return entries


def l2_kernel_entry(l2_kernel) -> cpio.Entry:
    return _file(L2_KERNEL, l2_kernel.vmlinuz)


def l1_entries(l2_kernel) -> list[cpio.Entry]:
    """Every member of L1's base image that lets it start L2 guests."""
    lib = (PROJECT_ROOT / "runner" / "vsc" / "nested_lib.sh").read_bytes()
    return [*qemu_entries(), l2_kernel_entry(l2_kernel), cpio.file(SHELL_LIB.lstrip("/"), lib, 0o644)]


def l2_image(spec: guest_session.GuestSpec, workdir: Path) -> bytes:
    """An L2 initramfs, uncompressed: it travels in L1's uncompressed tail anyway, and gunzip
    under TCG inside TCG would cost L2 seconds of its boot."""
    return initramfs.uncompressed(guest_session.build_image(spec, workdir).read_bytes())
