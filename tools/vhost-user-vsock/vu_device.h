/* vu_device.h: one vsock device's vhost-user state, and the handler for each message. */
#ifndef VU_DEVICE_H
#define VU_DEVICE_H

#include <stdint.h>

#include "vu_mem.h"
#include "vu_packet.h"
#include "vu_proto.h"

/* rx (0) and tx (1) come to the backend; QEMU keeps the event queue (2) for itself. */
#define VU_VSOCK_QUEUES 2
#define VU_QUEUE_MAX_SIZE 32768

#define VU_F_INDIRECT_DESC (1ull << 28)
#define VU_F_EVENT_IDX (1ull << 29)
#define VU_F_PROTOCOL_FEATURES (1ull << 30)
#define VU_F_VERSION_1 (1ull << 32)
#define VU_PROTOCOL_F_CONFIG (1ull << 9)

struct vu_vring {
	uint32_t num;
	uint32_t last_avail;		/* SET/GET_VRING_BASE */
	void *desc, *avail, *used;	/* host addresses, checked against num when set */
	int kick_fd, call_fd, err_fd;
	int enabled;
	uint16_t used_idx;		/* ours: read from the ring once at SET_VRING_ADDR */
	uint16_t used_flags;		/* ours: what we last wrote to used->flags */
	unsigned int pushed_since_notify;	/* used entries the driver has not been told of */
};

struct vu_device {
	uint64_t guest_cid;
	uint64_t features;		/* acked by the driver (SET_FEATURES) */
	uint64_t protocol_features;
	struct vu_mem mem;
	struct vu_vring vrings[VU_VSOCK_QUEUES];
	int verbose;
};

void vu_device_init(struct vu_device *dev, uint64_t guest_cid, int verbose);
/* Forgets a departed QEMU's state: memory, rings, descriptors; keeps the CID. */
void vu_device_reset(struct vu_device *dev);

/* Handles one message, replying on `sock` where the request needs it; 0, or -1 with `error`. */
int vu_device_handle(struct vu_device *dev, int sock, struct vu_msg *msg, char *error,
		     size_t error_size);

#endif
