"""The skips a run on the built-in kernels (slow_tests/kernels.py) is expected to have, with their
reasons, by topology: test_builtin_kernels.py fails on any skip not listed here (or listed with
another reason), and on a listed skip that did not happen, so a change shows up either way.
Measured on trixie"s 6.12.117 source; debian:trixie"s own runs skip the same cases, except
race_transport_module_reload, which a built-in transport cannot do (BUILTIN_G2H)."""

from vsc import catalogue, topology_hvsock
from vsc.topology import TEST_PROGRAM

# Reasons, as a part of the text the case prints.
NESTED_ONLY = "needs the nested topology"
HVSOCK_ONLY = "needs --topology hvsock"
NO_SILENT_CID = "no silent CID here"
NO_SIOCINQ = "SIOCINQ on AF_VSOCK is not in this kernel"
NO_KMEMLEAK = "kernel has no kmemleak"
NEEDS_6_16 = "needs kernel 6.16"
HAS_SEQPACKET = "has SOCK_SEQPACKET"
BUILTIN_G2H = "vmw_vsock_virtio_transport is built in: cannot be unloaded"
BUILTIN_VHOST = "vhost_vsock is built in: cannot be unloaded"
# g2h: the client side runs on this machine under vsock-hostwrap (whatever its kernel has built in)
BRIDGE = "g2h: the host end is a Unix socket through the hybrid bridge"
HOST_DIAG = "g2h: sock_diag here would list this machine's own vsock sockets"
NO_LOOPBACK_HERE = "vsock_loopback is neither loaded nor built in"
# the guest kernel has no modules (MODULES=n): the test module cannot be loaded (--kmod)
NO_KMOD = "vsc_probe not loaded"
# fixtures
NO_RESET_EVENT = "engine 1 cannot send TRANSPORT_RESET"
RX_LAYOUT = "is not how the guest's receive buffers"

# Skips a race may or may not give in any run: (case name without its pass prefix, reason).
RACE_DEPENDENT = {"transport_change_during_connect": "the race was not reached"}

# What this kernel lacks, in every topology and in each nested pass.
KERNEL = {
    "ioctl_siocinq_stream": NO_SIOCINQ, "ioctl_siocinq_seqpacket": NO_SIOCINQ,
    "leak_accept_queue": NO_KMEMLEAK, "linger_close_unread": NEEDS_6_16,
    "race_transport_module_reload": BUILTIN_G2H, "socket_seqpacket_before_5_14": HAS_SEQPACKET,
    "zerocopy_leak_errqueue": NO_KMEMLEAK, "zerocopy_leak_completion_skb": NO_KMEMLEAK,
    "kmod_probe_loaded": NO_KMOD, "kmod_bound_table": NO_KMOD, "kmod_connected_table": NO_KMOD,
}
NOT_NESTED = {name: NESTED_ONLY for name in (
    "nested_l0_and_l2_at_once", "nested_to_host_flag", "nested_local_cid_and_names", "nested_bind_cids",
    "nested_l2_reaches_l1", "nested_unheld_cid", "nested_sibling_l2", "nested_loopback_in_l1",
    "nested_vhost_reload")}
NO_SILENT = {name: NO_SILENT_CID for name in (
    "connect_timeout_expires", "connect_timeout_nonblocking", "signal_connect_eintr")}

# The hv_sock cases run only in topology hvsock, which these kernels (virtio transport built in) cannot
# host; taken from the catalogue's needs, so that a new hv_sock case needs no line here.
NOT_HVSOCK = {case.name: HVSOCK_ONLY for case in catalogue.read(TEST_PROGRAM) if topology_hvsock.needs_hvsock(case)}

LOOPBACK = KERNEL | NOT_NESTED | NO_SILENT | NOT_HVSOCK

# g2h: what this kernel lacks, and what the hybrid bridge on this machine cannot do (it wins where both apply).
G2H = KERNEL | NOT_NESTED | {
    "connect_nonblocking_poll": BRIDGE, "credit_tx_bounded_by_own_buffer": BRIDGE,
    "diag_connected_stream": HOST_DIAG, "diag_connected_seqpacket": BRIDGE, "diag_connecting_stream": BRIDGE,
    "diag_connecting_seqpacket": BRIDGE, "diag_shutdown_bits_stream": HOST_DIAG,
    "diag_shutdown_bits_seqpacket": BRIDGE, "diag_closing_stream": HOST_DIAG,
    "diag_closing_seqpacket": BRIDGE, "diag_close_removes_seqpacket": BRIDGE,
    "ioctl_siocoutq_stream": BRIDGE, "ioctl_siocoutq_seqpacket": BRIDGE, "ioctl_siocinq_stream": BRIDGE,
    "ioctl_siocinq_seqpacket": BRIDGE, "iovec_msg_dontwait": BRIDGE, "poll_epollout_after_credit": BRIDGE,
    "port_reuse_source_after_close": BRIDGE, "race_transport_switch_vs_sockopt": NO_LOOPBACK_HERE,
    "reconnect_same_client_port": BRIDGE, "seqpacket_msg_bounds": BRIDGE, "seqpacket_msg_trunc": BRIDGE,
    "seqpacket_rcvtimeo": BRIDGE, "seqpacket_sndtimeo": BRIDGE, "seqpacket_message_over_buffer_size": BRIDGE,
    "seqpacket_recv_fault_drops_message": BRIDGE, "seqpacket_recv_null_buffer": BRIDGE,
    "seqpacket_msg_peek": BRIDGE, "signal_send_eintr": BRIDGE, "uring_sendmsg_readv": BRIDGE,
    "uring_sendmsg_zc_readv": BRIDGE, "zerocopy_stream_layouts": BRIDGE,
    "zerocopy_stream_unmapped_page": BRIDGE, "zerocopy_stream_over_peer_buffer": BRIDGE,
    "zerocopy_stream_partial_send": BRIDGE, "zerocopy_seqpacket_layouts": BRIDGE,
    "zerocopy_seqpacket_unmapped_page": BRIDGE, "zerocopy_seqpacket_without_so_zerocopy": BRIDGE,
    "zerocopy_enomem_sends_nothing": BRIDGE, "zerocopy_not_coalesced": BRIDGE,
} | NOT_HVSOCK

G2G = KERNEL | NOT_NESTED | NOT_HVSOCK

NESTED = ({f"l2/{name}": reason for name, reason in (KERNEL | NOT_HVSOCK).items()}
          | {f"l1/{name}": reason for name, reason in (KERNEL | NO_SILENT | NOT_HVSOCK).items()}
          | {"l1/nested_vhost_reload": BUILTIN_VHOST})

# fixtures --kernel host (both engines) and --kernel guest --target virtio_transport
FIXTURES_HOST = {
    "virtio_transport/malformed_header_split_rx": RX_LAYOUT,
    "virtio_transport/transport_reset_connected": NO_RESET_EVENT,
    "virtio_transport/transport_reset_listening": NO_RESET_EVENT,
}

FIXTURES_GUEST = FIXTURES_HOST
