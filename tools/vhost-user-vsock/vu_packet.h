/* vu_packet.h: the virtio-vsock packet header and its constants (include/uapi/linux/virtio_vsock.h). */
#ifndef VU_PACKET_H
#define VU_PACKET_H

#include <stdint.h>

#define VU_HOST_CID 2

/* Every packet on rx and tx starts with this header, little-endian, then `len` payload bytes. */
struct vu_vsock_hdr {
	uint64_t src_cid;
	uint64_t dst_cid;
	uint32_t src_port;
	uint32_t dst_port;
	uint32_t len;
	uint16_t type;
	uint16_t op;
	uint32_t flags;
	uint32_t buf_alloc;
	uint32_t fwd_cnt;
} __attribute__((packed));

enum vu_vsock_op {
	VU_OP_INVALID = 0,
	VU_OP_REQUEST = 1,
	VU_OP_RESPONSE = 2,
	VU_OP_RST = 3,
	VU_OP_SHUTDOWN = 4,
	VU_OP_RW = 5,
	VU_OP_CREDIT_UPDATE = 6,
	VU_OP_CREDIT_REQUEST = 7,
};

enum vu_vsock_type {
	VU_TYPE_STREAM = 1,
	VU_TYPE_SEQPACKET = 2,
};

/* flags of a SHUTDOWN packet */
#define VU_SHUTDOWN_RCV 1u
#define VU_SHUTDOWN_SEND 2u
/* flags of an RW packet on a SEQPACKET connection */
#define VU_SEQ_EOM 1u
#define VU_SEQ_EOR 2u

/* Device feature bit: the device carries SOCK_SEQPACKET (virtio 1.2, 5.10.3). */
#define VU_VSOCK_F_SEQPACKET (1ull << 1)

#endif
