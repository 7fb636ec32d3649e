#!/usr/bin/python3
"""Writes the fuzzers' seed inputs (seeds/msg, seeds/queue) from the descriptions below.

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
    }
    for name, data in seeds.items():
        path = SEEDS / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        print(f"{path.relative_to(SEEDS.parent)}: {len(data)} bytes")


if __name__ == "__main__":
    main()
