"""Which of our cases cover each test of the kernel's tools/testing/vsock, read from the case tags."""

from __future__ import annotations

from vsc.catalogue import Case

# Upstream test names by ID (tools/testing/vsock in Linux 7.2; IDs only ever get appended).
UPSTREAM: dict[str, list[str]] = {
    "vsock_test": [
        "SOCK_STREAM connection reset",
        "SOCK_STREAM bind only",
        "SOCK_STREAM client close",
        "SOCK_STREAM server close",
        "SOCK_STREAM multiple connections",
        "SOCK_STREAM MSG_PEEK",
        "SOCK_SEQPACKET msg bounds",
        "SOCK_SEQPACKET MSG_TRUNC flag",
        "SOCK_SEQPACKET timeout",
        "SOCK_SEQPACKET invalid receive buffer",
        "SOCK_STREAM poll() + SO_RCVLOWAT",
        "SOCK_SEQPACKET big message",
        "SOCK_STREAM test invalid buffer",
        "SOCK_SEQPACKET test invalid buffer",
        "SOCK_STREAM virtio skb merge",
        "SOCK_SEQPACKET MSG_PEEK",
        "SOCK_STREAM SHUT_WR",
        "SOCK_STREAM SHUT_RD",
        "SOCK_STREAM MSG_ZEROCOPY",
        "SOCK_SEQPACKET MSG_ZEROCOPY",
        "SOCK_STREAM MSG_ZEROCOPY empty MSG_ERRQUEUE",
        "SOCK_STREAM double bind connect",
        "SOCK_STREAM virtio credit update + SO_RCVLOWAT",
        "SOCK_STREAM virtio credit update + low rx_bytes",
        "SOCK_STREAM ioctl(SIOCOUTQ) 0 unsent bytes",
        "SOCK_SEQPACKET ioctl(SIOCOUTQ) 0 unsent bytes",
        "SOCK_STREAM leak accept queue",
        "SOCK_STREAM MSG_ZEROCOPY leak MSG_ERRQUEUE",
        "SOCK_STREAM MSG_ZEROCOPY leak completion skb",
        "SOCK_STREAM transport release use-after-free",
        "SOCK_STREAM retry failed connect()",
        "SOCK_STREAM SO_LINGER null-ptr-deref",
        "SOCK_STREAM SO_LINGER close() on unread",
        "SOCK_STREAM transport change null-ptr-deref, lockdep warn",
        "SOCK_STREAM ioctl(SIOCINQ) functionality",
        "SOCK_SEQPACKET ioctl(SIOCINQ) functionality",
        "SOCK_STREAM accept()ed socket custom setsockopt()",
        "SOCK_STREAM virtio MSG_ZEROCOPY coalescence corruption",
        "SOCK_STREAM TX credit bounds",
        "SOCK_STREAM MSG_PEEK after partial recv",
        "SOCK_STREAM small packets backpressure",
    ],
    "vsock_diag_test": ["No sockets", "Listen socket", "Connect"],
    "vsock_uring_test": ["SOCK_STREAM io_uring test", "SOCK_STREAM io_uring MSG_ZEROCOPY test"],
}


def coverage(cases: list[Case]) -> dict[tuple[str, int], list[str]]:
    """(upstream program, ID) -> names of our cases tagged "<program> <ID>", for every upstream test."""
    covered: dict[tuple[str, int], list[str]] = {
        (program, number): [] for program, names in UPSTREAM.items() for number in range(len(names))}
    for case in cases:
        for tag in case.tags:
            program, _, number = tag.partition(" ")
            if number.isdigit() and (program, int(number)) in covered:
                covered[(program, int(number))].append(case.name)
    return covered


def markdown_table(cases: list[Case]) -> str:
    """The README's parity table: one row per upstream test, our case names beside it."""
    rows = ["| upstream test | upstream name | vsockcheck case(s) |", "| --- | --- | --- |"]
    for (program, number), ours in coverage(cases).items():
        names = ", ".join(f"`{name}`" for name in ours) or "**not covered**"
        rows.append(f"| {program} {number} | {UPSTREAM[program][number]} | {names} |")
    return "\n".join(rows) + "\n"
