#!/usr/bin/python3
"""Writes the fuzzers' seed inputs (seeds/msg, seeds/queue, seeds/packets) from the descriptions below.

Run it after changing them: `tools/vhost-user-vsock/fuzz/make_seeds.py`; the files are checked in."""

import struct
from pathlib import Path

SEEDS = Path(__file__).resolve().parent / "seeds"

# vhost-user requests (docs/interop/vhost-user.rst), the ones QEMU 7.2 sends a vsock backend
GET_FEATURES, SET_FEATURES, SET_OWNER, SET_MEM_TABLE = 1, 2, 3, 5
SET_VRING_NUM, SET_VRING_ADDR, SET_VRING_BASE, GET_VRING_BASE = 8, 9, 10, 11
SET_VRING_KICK, SET_VRING_CALL, SET_VRING_ERR = 12, 13, 14
GET_PROTOCOL_FEATURES, SET_PROTOCOL_FEATURES, SET_VRING_ENABLE, GET_CONFIG = 15, 16, 18, 24
VERSION_1, PROTOCOL_FEATURES, PROTOCOL_F_CONFIG = 1 << 32, 1 << 30, 1 << 9
NOFD = 0x100
QEMU_VA = 0x7F0000000000


def msg(request: int, payload: bytes = b"") -> bytes:
    return struct.pack("<III", request, 0x1, len(payload)) + payload


def u64(value: int) -> bytes:
    return struct.pack("<Q", value)


def state(index: int, num: int) -> bytes:
    return struct.pack("<II", index, num)


def startup() -> bytes:
    """QEMU 7.2's start-up order (shared/reference/environment.md); descriptors become NOFD,
    so the memory table is empty and SET_VRING_ADDR is the first message refused."""
    out = [msg(GET_FEATURES), msg(GET_PROTOCOL_FEATURES),
           msg(SET_PROTOCOL_FEATURES, u64(PROTOCOL_F_CONFIG)), msg(SET_OWNER), msg(GET_FEATURES)]
    for ring in (0, 1):
        out += [msg(SET_VRING_CALL, u64(ring | NOFD)), msg(SET_VRING_ERR, u64(ring | NOFD))]
    out += [msg(GET_CONFIG, struct.pack("<III", 0, 8, 0) + bytes(8)),
            msg(SET_FEATURES, u64(VERSION_1 | PROTOCOL_FEATURES)),
            msg(SET_MEM_TABLE, struct.pack("<II", 0, 0))]
    for ring in (0, 1):
        out += [msg(SET_VRING_NUM, state(ring, 128)), msg(SET_VRING_BASE, state(ring, 0)),
                msg(SET_VRING_ADDR, struct.pack("<IIQQQQ", ring, 0, QEMU_VA + 0x10000 * ring,
                                                QEMU_VA + 0x10000 * ring + 0x1000,
                                                QEMU_VA + 0x10000 * ring + 0x800, 0))]
    return b"".join(out)


def ring_stop() -> bytes:
    """A ring kicked, enabled and stopped again, as at power-off (GET_VRING_BASE)."""
    out = []
    for ring in (0, 1):
        out += [msg(SET_VRING_NUM, state(ring, 256)), msg(SET_VRING_BASE, state(ring, 7)),
                msg(SET_VRING_KICK, u64(ring | NOFD)), msg(SET_VRING_ENABLE, state(ring, 1))]
    out += [msg(GET_VRING_BASE, state(0, 0)), msg(GET_VRING_BASE, state(1, 0))]
    return b"".join(out)


# fuzz_vu_queue's input: features (bit 0 INDIRECT_DESC, bit 1 EVENT_IDX), log2 of the ring size,
# the device's avail index, then guest memory from address 0 (desc table at 0, avail ring
# after it, used ring after that, 4-aligned).
DESC_F_NEXT, DESC_F_WRITE, DESC_F_INDIRECT = 1, 2, 4
HEADER_AT, BUFFER_AT, INDIRECT_AT, SECOND_REGION = 0x400, 0x1000, 0x600, 0x1000


def desc(addr: int, length: int, flags: int, next_: int = 0) -> bytes:
    return struct.pack("<QIHH", addr, length, flags, next_)


def queue_input(features: int, descriptors: list[bytes], extra: dict[int, bytes]) -> bytes:
    num_log2 = 3
    num = 1 << num_log2
    memory = bytearray(HEADER_AT + 0x300)
    table = b"".join(descriptors)
    memory[0:len(table)] = table
    avail_at = 16 * num
    memory[avail_at:avail_at + 6] = struct.pack("<HHH", 0, 1, 0)   # flags, idx 1, ring[0] = 0
    memory[HEADER_AT:HEADER_AT + 44] = struct.pack("<QQIIIHHIII", 3, 2, 1024, 1234, 0, 1, 1, 0,
                                                   65536, 0)         # a REQUEST packet header
    for at, data in extra.items():
        memory[at:at + len(data)] = data
    return struct.pack("<BBH", features, num_log2, 0) + bytes(memory)


# fuzz_vu_packets' input: a config byte (bit 0: two VMs, CIDs 3 and 4; bits 1-2: EVENT_IDX on
# VM 0/1), then commands: a byte (bits 0-3 what, bit 4 which VM, bit 7 no engine pass after it)
# and its arguments. See the command switch in fuzz_vu_packets.c.
TX, RX, HOST, BRIDGE, EXPIRE = 0, 5, 7, 8, 9
VM1 = 0x10
OP_REQUEST, OP_RESPONSE, OP_RST, OP_SHUTDOWN, OP_RW, OP_CREDIT_UPDATE = 1, 2, 3, 4, 5, 6
# dst (sel bits 0-1): host, the other VM; dst_port index (ports bits 3-5) into the target's
# table: 1000 (listened), 1 << 30 (first bridged host port), 1024 (a guest port)
TO_HOST, TO_OTHER_VM = 0, 1
PORT_1000, PORT_BRIDGED, PORT_GUEST_1024 = 0, 4, 6
HOST_WRITE, HOST_READ, HOST_SHUTDOWN = 0, 1, 2


def tx(dst: int, op: int, dst_port: int, length: int = 0, flags: int = 0, header_pieces: int = 1,
       payload_pieces: int = 1, vm: int = 0) -> bytes:
    ports = 0 | dst_port << 3 | (header_pieces - 1) << 6   # src port 1024
    shape = payload_pieces - 1                              # honest fwd_cnt, buf_alloc 64 KiB
    return bytes([TX | vm]) + struct.pack("<BBBBHIIIH", dst, op, ports, shape, length, flags,
                                          0, 0, 0x1234)


def rx(chains: int, vm: int = 0, whole_slots: bool = True) -> bytes:
    return bytes([RX | vm]) + struct.pack("<BBH", chains - 1, 0x40 if whole_slots else 1, 700)


def host(action: int, which: int = 0, size: int = 0) -> bytes:
    return bytes([HOST]) + struct.pack("<BBH", action, which, size)


def packets_guest_to_host() -> bytes:
    """A guest connects to a host listener on port 1000; data both ways, then shutdown."""
    return b"".join([
        bytes([0]), rx(8),
        tx(TO_HOST, OP_REQUEST, PORT_1000),
        host(HOST_WRITE, size=3000),
        tx(TO_HOST, OP_RW, PORT_1000, 5000, header_pieces=2, payload_pieces=3),
        host(HOST_READ, size=4096), rx(8),
        tx(TO_HOST, OP_CREDIT_UPDATE, PORT_1000),
        tx(TO_HOST, OP_SHUTDOWN, PORT_1000, flags=3),
        host(HOST_SHUTDOWN)])


def packets_bridge() -> bytes:
    """A host program sends CONNECT 1024 on the uds; the guest accepts; data both ways."""
    return b"".join([
        bytes([2]), rx(8), bytes([BRIDGE, 0]),
        tx(TO_HOST, OP_RESPONSE, PORT_BRIDGED),
        host(HOST_READ, size=64), host(HOST_WRITE, size=1500),
        tx(TO_HOST, OP_RW, PORT_BRIDGED, 700),
        host(HOST_READ, size=4096), bytes([EXPIRE]),
        tx(TO_HOST, OP_RST, PORT_BRIDGED)])


def packets_guest_to_guest() -> bytes:
    """VM 3 connects to VM 4's port 1024 and sends more than one receive buffer holds."""
    return b"".join([
        bytes([1 | 4]), rx(2, VM1, whole_slots=False),
        tx(TO_OTHER_VM, OP_REQUEST, PORT_GUEST_1024),
        tx(TO_OTHER_VM, OP_RW, PORT_GUEST_1024, 6000, payload_pieces=2),
        rx(8, VM1), rx(8)])


def packets_guest_to_guest_reverse() -> bytes:
    """The same from VM 4 to VM 3: the receiver is serviced before the sender, so the chain the
    sender held lands in the receiver's rx after the receiver's own turn (it must still be told)."""
    return b"".join([
        bytes([1 | 2]), rx(2, whole_slots=False),
        tx(TO_OTHER_VM, OP_REQUEST, PORT_GUEST_1024, vm=VM1),
        tx(TO_OTHER_VM, OP_RW, PORT_GUEST_1024, 6000, payload_pieces=2, vm=VM1),
        rx(8), rx(8, VM1)])


def main() -> None:
    seeds = {
        "msg/qemu-7.2-startup": startup(),
        "msg/ring-stop": ring_stop(),
        # a packet header to read, then a buffer to write in the second region
        "queue/two-descriptor-chain": queue_input(0, [
            desc(HEADER_AT, 44, DESC_F_NEXT, 1), desc(SECOND_REGION, 64, DESC_F_WRITE)], {}),
        # the same chain through an indirect table, with EVENT_IDX
        "queue/indirect-event-idx": queue_input(3, [
            desc(INDIRECT_AT, 32, DESC_F_INDIRECT)], {INDIRECT_AT: desc(
                HEADER_AT, 44, DESC_F_NEXT, 1) + desc(SECOND_REGION, 64, DESC_F_WRITE)}),
        "packets/guest-to-host": packets_guest_to_host(),
        "packets/bridge-connect": packets_bridge(),
        "packets/guest-to-guest": packets_guest_to_guest(),
        "packets/guest-to-guest-reverse": packets_guest_to_guest_reverse(),
    }
    for name, data in seeds.items():
        path = SEEDS / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        print(f"{path.relative_to(SEEDS.parent)}: {len(data)} bytes")


if __name__ == "__main__":
    main()
