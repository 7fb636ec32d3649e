"""Guest networking for vsockcheck exec: QEMU user networking (virtio-net), so the two peers can
coordinate over TCP. 10.0.2.2 in a guest is this machine's 127.0.0.1; a server guest's control
port is forwarded from 127.0.0.1 here, where a client guest (or the host peer) reaches it."""

from __future__ import annotations

import shlex
import socket

# Added to a networked guest's module list (exec only: the suite's guests have no network).
MODULES = ("failover", "net_failover", "virtio_net")
GUEST_ADDRESS = "10.0.2.15/24"
GATEWAY = "10.0.2.2"          # QEMU's user network: this machine's 127.0.0.1
HOST_LOOPBACK = "127.0.0.1"
LISTEN_ANY = "0.0.0.0"
NETDEV_ID = "vsc_net"


def free_tcp_port() -> int:
    """A TCP port nobody on this machine listens on now (the kernel picks it); QEMU forwards it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST_LOOPBACK, 0))
        return probe.getsockname()[1]


def qemu_args(forward_port: int | None) -> list[str]:
    """A virtio-net card on QEMU's user network; forward_port: 127.0.0.1:P here reaches port P in
    the guest."""
    netdev = f"user,id={NETDEV_ID}"
    if forward_port is not None:
        netdev += f",hostfwd=tcp:{HOST_LOOPBACK}:{forward_port}-:{forward_port}"
    return ["-netdev", netdev, "-device", f"virtio-net-pci,netdev={NETDEV_ID}"]


def guest_setup() -> str:
    """Shell lines for the guest: eth0 up with the user network's fixed address and gateway.
    The card's netdev appears once virtio_net has probed it; allow it about 2 s."""
    return "\n".join([
        "tries=0",
        "until [ -e /sys/class/net/eth0 ]; do",
        "\ttries=$((tries + 1))",
        "\tif [ \"$tries\" -gt 40 ]; then echo '# vsockcheck-exec: no eth0 (is virtio_net loaded?)'; break; fi",
        "\tsleep 0.05",
        "done",
        f"ip addr add {shlex.quote(GUEST_ADDRESS)} dev eth0",
        "ip link set eth0 up",
        f"ip route add default via {shlex.quote(GATEWAY)}",
    ]) + "\n"
