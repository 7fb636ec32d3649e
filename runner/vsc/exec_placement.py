"""Where vsockcheck exec runs each peer, per topology: which guests to boot (and what each runs,
on which device CID, with which network) and which peer, if any, runs on this machine.

A topology is one function `place_<name>(control_port) -> Placement`, registered in PLACEMENTS;
exec_run boots and follows any Placement. In nested, L1 runs the client inside L2a, a guest of
its own (GuestPlacement.in_l2; vsc.exec_nested builds L1 and L2a)."""

from __future__ import annotations

from dataclasses import dataclass, field

from vsc import exec_net, topology_nested
from vsc.exec_plan import CLIENT, SERVER, PeerEnv

HOST_CID = 2
LOOPBACK_CID = 1
CID_A = 3
CID_B = 4


@dataclass(frozen=True)
class GuestPlacement:
    """One guest the runner boots."""

    label: str                    # prefix of its files in the results directory ("" for a lone guest)
    name: str                     # how messages name it
    peers: tuple[str, ...]        # the roles it runs; with both, the client starts once the server listens
    device_cid: int | None = None  # its CID on our vhost-user device; None: no device (loopback only)
    bridge: bool = False          # the device gives it a hybrid-vsock bridge: the host peer's way in
    network: bool = False         # a virtio-net card on QEMU's user network
    forward_control: bool = False  # 127.0.0.1:CONTROL_PORT on this machine reaches its CONTROL_PORT
    # Of its peers, those it runs inside L2a, a guest it boots itself once the server listens.
    in_l2: tuple[str, ...] = ()
    l2_name: str = ""             # how messages name that guest


@dataclass(frozen=True)
class Placement:
    guests: tuple[GuestPlacement, ...]
    envs: dict[str, PeerEnv]      # role -> its four variables
    host_peer: str | None = None  # the role run on this machine under vsock-hostwrap
    where: dict[str, str] = field(default_factory=dict)  # role -> where it runs, for messages


def place_loopback(control_port: int) -> Placement:
    """One guest, both peers in it, over vsock_loopback; the control connection over its lo."""
    env = PeerEnv(local_cid=LOOPBACK_CID, peer_cid=LOOPBACK_CID, control_host=exec_net.HOST_LOOPBACK,
                  control_port=control_port)
    guest = GuestPlacement(label="", name="the guest", peers=(SERVER, CLIENT))
    where = f"the guest, CID {LOOPBACK_CID}"
    return Placement((guest,), {SERVER: env, CLIENT: env}, where={SERVER: where, CLIENT: where})


def place_g2g(control_port: int) -> Placement:
    """The server in guest A (CID 3), the client in guest B (CID 4), both on our device; B reaches
    A's control port through its gateway (this machine), where A's port is forwarded."""
    guest_a = GuestPlacement(label="guest-a", name=f"guest A, CID {CID_A}", peers=(SERVER,),
                             device_cid=CID_A, network=True, forward_control=True)
    guest_b = GuestPlacement(label="guest-b", name=f"guest B, CID {CID_B}", peers=(CLIENT,),
                             device_cid=CID_B, network=True)
    envs = {SERVER: PeerEnv(CID_A, CID_B, exec_net.LISTEN_ANY, control_port),
            CLIENT: PeerEnv(CID_B, CID_A, exec_net.GATEWAY, control_port)}
    return Placement((guest_a, guest_b), envs, where={SERVER: guest_a.name, CLIENT: guest_b.name})


def place_g2h(control_port: int) -> Placement:
    """The server in the guest (CID 3) on our device; the client on this machine under
    vsock-hostwrap, whose vsock calls go through the device's bridge."""
    guest = GuestPlacement(label="", name=f"the guest, CID {CID_A}", peers=(SERVER,), device_cid=CID_A,
                           bridge=True, network=True, forward_control=True)
    envs = {SERVER: PeerEnv(CID_A, HOST_CID, exec_net.LISTEN_ANY, control_port),
            CLIENT: PeerEnv(HOST_CID, CID_A, exec_net.HOST_LOOPBACK, control_port)}
    return Placement((guest,), envs, host_peer=CLIENT,
                     where={SERVER: guest.name, CLIENT: "this machine, under vsock-hostwrap"})


def place_nested(control_port: int) -> Placement:
    """The server in L1 (CID 3 on our device, CID 2 toward its guests), the client in L2a (CID 5),
    which L1 boots under vhost_vsock once the server listens. L2a reaches L1's control port at its
    gateway: its user network runs in L1's QEMU, so 10.0.2.2 is L1's 127.0.0.1. L1 needs no network."""
    l1 = topology_nested.L1_CID
    host, l2a = topology_nested.HOST_CID, topology_nested.L2A_CID
    guest = GuestPlacement(label="l1", name=f"L1, CID {l1}", peers=(SERVER, CLIENT), device_cid=l1,
                           in_l2=(CLIENT,), l2_name=f"L2a, CID {l2a}")
    envs = {SERVER: PeerEnv(host, l2a, exec_net.LISTEN_ANY, control_port),
            CLIENT: PeerEnv(l2a, host, exec_net.GATEWAY, control_port)}
    return Placement((guest,), envs, where={SERVER: f"{guest.name}, CID {host} toward L2a",
                                            CLIENT: f"{guest.l2_name}, a guest of L1"})


PLACEMENTS = {"loopback": place_loopback, "g2h": place_g2h, "g2g": place_g2g, "nested": place_nested}
