"""Reads the packets of a LINKTYPE_VSOCK (271) pcap file, as our device's --pcap writes it: each
record is a 32-byte af_vsockmon_hdr, the 44-byte virtio_vsock_hdr, then the payload bytes."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

from vsc.errors import UserError

LINKTYPE_VSOCK = 271
MONITOR_HEADER = 32
VIRTIO_HEADER = struct.Struct("<QQIIIHHIII")  # src_cid dst_cid src_port dst_port len type op flags buf_alloc fwd_cnt
_MAGICS = {b"\xd4\xc3\xb2\xa1": "<", b"\xa1\xb2\xc3\xd4": ">",   # microseconds
           b"\x4d\x3c\xb2\xa1": "<", b"\xa1\xb2\x3c\x4d": ">"}   # nanoseconds


@dataclass(frozen=True)
class VsockPacket:
    """One captured virtio-vsock packet: its header fields and the payload bytes the record holds."""

    src_cid: int
    dst_cid: int
    src_port: int
    dst_port: int
    len: int
    type: int
    op: int
    flags: int
    buf_alloc: int
    fwd_cnt: int
    payload: bytes = b""


def read(path: Path) -> list[VsockPacket]:
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise UserError(f"{path}: cannot read the capture ({e.strerror})") from None
    return parse(data, str(path))


def parse(data: bytes, where: str = "capture") -> list[VsockPacket]:
    """The packets of a pcap file's bytes; UserError naming the byte offset of a malformed part."""
    if len(data) < 24 or data[:4] not in _MAGICS:
        raise UserError(f"{where}: not a pcap file")
    order = _MAGICS[data[:4]]
    linktype = struct.unpack_from(order + "I", data, 20)[0] & 0x0FFFFFFF
    if linktype != LINKTYPE_VSOCK:
        raise UserError(f"{where}: link type {linktype}, not LINKTYPE_VSOCK ({LINKTYPE_VSOCK})")
    packets = []
    offset = 24
    while offset < len(data):
        if offset + 16 > len(data):
            raise UserError(f"{where}: byte {offset}: a record header cut short")
        included = struct.unpack_from(order + "I", data, offset + 8)[0]
        start, offset = offset + 16, offset + 16 + included
        if offset > len(data):
            raise UserError(f"{where}: byte {start}: a record of {included} bytes cut short")
        if included < MONITOR_HEADER + VIRTIO_HEADER.size:
            raise UserError(f"{where}: byte {start}: a record of {included} bytes has no whole vsock header")
        fields = VIRTIO_HEADER.unpack_from(data, start + MONITOR_HEADER)
        payload = data[start + MONITOR_HEADER + VIRTIO_HEADER.size:offset]
        packets.append(VsockPacket(*fields, payload=payload))
    return packets
