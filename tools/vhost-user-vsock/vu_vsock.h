/* vu_vsock.h: the vsock device behind the rings: the host end (CID 2) of a guest's transport. */
#ifndef VU_VSOCK_H
#define VU_VSOCK_H

#include <stdint.h>

#include "vu_device.h"

#define VU_VSOCK_RX 0
#define VU_VSOCK_TX 1
#define VU_HOST_CID 2

/* include/uapi/linux/virtio_vsock.h: every packet starts with this, little-endian. */
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

#define VU_VSOCK_PENDING_MAX 256

/* Packets for the guest waiting for receive buffers; bounded, so a guest cannot grow it. */
struct vu_vsock {
	struct vu_vsock_hdr pending[VU_VSOCK_PENDING_MAX];
	unsigned int pending_head, pending_count;
	unsigned long dropped;
};

/* Handles the guest's kick of queue `index`; -1 when the guest broke a ring (why: `error`). */
int vu_vsock_kick(struct vu_device *dev, struct vu_vsock *vsock, unsigned int index, char *error,
		  size_t error_size);

#endif
