/* vu_vsock.h: the vsock device behind the rings: the host end (CID 2) of a guest's transport. */
#ifndef VU_VSOCK_H
#define VU_VSOCK_H

#include <stdint.h>

#include "vu_device.h"
#include "vu_packet.h"

#define VU_VSOCK_RX 0
#define VU_VSOCK_TX 1
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
