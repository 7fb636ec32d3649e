"""What a kernel must have, or must not have, for the part its guest plays, checked before any
image is built or QEMU started: a combination the kernel makes impossible is one line saying so.

A guest's vsock traffic goes to its host (g2h transport); a host guest (nested L1, the fixtures'
vhost_vsock engine) hosts guests of its own through /dev/vhost-vsock (h2g). A kernel with
vhost_vsock built in cannot be a plain guest: once vhost_vsock has registered as the h2g
transport, every connect() to a CID above 2 goes to it (af_vsock.c vsock_assign_transport), not
to the guest's host, so a peer guest or the silent CID are unreachable. Loaded as a module
(Debian), vhost_vsock is only there where the runner loads it."""

from __future__ import annotations

from vsc import modules
from vsc.errors import UserError

GUEST = "guest"
HOST = "host"
VHOST = "vhost_vsock"
VHOST_OPTION = modules.CONFIG_OPTIONS[VHOST]


def require(kernel, role: str, part: str, fix: str = "") -> None:
    """Raise a one-line UserError when `kernel` cannot play `role`; part names the guest
    ("topology g2h's guest", "nested L1", ...), fix replaces the default advice."""
    if role == HOST:
        try:
            modules.plan(kernel, [VHOST])
        except UserError as e:
            raise UserError(f"{part} hosts guests through {VHOST}: {e}; "
                            f"{fix or 'build the kernel with kconfig/vsock-host.config'}") from None
    elif role == GUEST:
        if VHOST in modules.builtin_names(kernel):
            raise UserError(f"{part}: kernel {kernel.name} has {VHOST} built in ({VHOST_OPTION}=y), so every "
                            f"connect() to a CID above 2 would go to {VHOST} instead of the host; "
                            f"{fix or 'build the guest kernel without kconfig/vsock-host.config'}")
    else:
        raise ValueError(f"unknown kernel role {role!r}")


# The guests of each topology (run and exec alike): (part, role, whether it boots the L2 kernel).
TOPOLOGY_GUESTS = {
    "loopback": (),
    "g2h": (("topology g2h's guest", GUEST, False),),
    "g2g": (("topology g2g's guests", GUEST, False),),
    "nested": (("nested L1", HOST, False), ("nested L2", GUEST, True)),
    "hvsock": (),  # its guest's transport is hv_sock: topology_hvsock checks the modules it needs
}


def require_topology(topology: str, kernel, l2_kernel=None) -> None:
    """Every guest of the topology can play its part; l2_kernel None: L2 boots `kernel` too."""
    for part, role, is_l2 in TOPOLOGY_GUESTS[topology]:
        if is_l2 and l2_kernel is None:
            require(kernel, role, part + " (no --l2-kernel: L1's kernel)",
                    "give --l2-kernel a kernel built without kconfig/vsock-host.config")
        else:
            require(l2_kernel if is_l2 else kernel, role, part)
