/* vu_proto.h: the vhost-user wire format (docs/interop/vhost-user.rst) as QEMU 7.2 speaks it. */
#ifndef VU_PROTO_H
#define VU_PROTO_H

#include <stddef.h>
#include <stdint.h>

enum vu_request {
	VU_GET_FEATURES = 1,
	VU_SET_FEATURES = 2,
	VU_SET_OWNER = 3,
	VU_RESET_OWNER = 4,
	VU_SET_MEM_TABLE = 5,
	VU_SET_LOG_BASE = 6,
	VU_SET_LOG_FD = 7,
	VU_SET_VRING_NUM = 8,
	VU_SET_VRING_ADDR = 9,
	VU_SET_VRING_BASE = 10,
	VU_GET_VRING_BASE = 11,
	VU_SET_VRING_KICK = 12,
	VU_SET_VRING_CALL = 13,
	VU_SET_VRING_ERR = 14,
	VU_GET_PROTOCOL_FEATURES = 15,
	VU_SET_PROTOCOL_FEATURES = 16,
	VU_GET_QUEUE_NUM = 17,
	VU_SET_VRING_ENABLE = 18,
	VU_GET_CONFIG = 24,
	VU_SET_CONFIG = 25,
	VU_REQUEST_MAX = 64,
};

#define VU_FLAG_VERSION 0x1u
#define VU_FLAG_REPLY 0x4u
#define VU_FLAG_NEED_REPLY 0x8u

#define VU_MAX_REGIONS 8
#define VU_MAX_FDS VU_MAX_REGIONS
#define VU_VRING_NOFD 0x100u
#define VU_VRING_INDEX_MASK 0xffu
#define VU_CONFIG_MAX 256

struct vu_header {
	uint32_t request;
	uint32_t flags;
	uint32_t size;		/* bytes of payload after the header */
} __attribute__((packed));

struct vu_vring_state {
	uint32_t index;
	uint32_t num;
} __attribute__((packed));

struct vu_vring_addr {
	uint32_t index;
	uint32_t flags;
	uint64_t desc_uaddr;	/* QEMU's virtual addresses, not guest-physical ones */
	uint64_t used_uaddr;
	uint64_t avail_uaddr;
	uint64_t log_gpa;
} __attribute__((packed));

struct vu_region {
	uint64_t guest_phys_addr;
	uint64_t memory_size;
	uint64_t userspace_addr;
	uint64_t mmap_offset;
} __attribute__((packed));

struct vu_mem_table {
	uint32_t nregions;
	uint32_t padding;
	struct vu_region regions[VU_MAX_REGIONS];
} __attribute__((packed));

struct vu_config {
	uint32_t offset;
	uint32_t size;
	uint32_t flags;
	uint8_t region[VU_CONFIG_MAX];
} __attribute__((packed));

/* One message as received: header, payload, and the file descriptors that came with it. */
struct vu_msg {
	struct vu_header hdr;
	union {
		uint64_t u64;
		struct vu_vring_state state;
		struct vu_vring_addr addr;
		struct vu_mem_table mem;
		struct vu_config config;
		uint8_t bytes[sizeof(struct vu_config)];
	} payload;
	int fds[VU_MAX_FDS];
	int nfds;
};

/*
 * Reads one message from a connected vhost-user socket. Returns 1 for a message, 0 when the
 * peer closed the connection, -1 on a malformed message (why: written to `error`).
 */
int vu_msg_read(int sock, struct vu_msg *msg, char *error, size_t error_size);

/* Sends a reply to `request` with `size` payload bytes; returns 0 or -1 (errno set). */
int vu_msg_reply(int sock, uint32_t request, const void *payload, uint32_t size);

/* Closes the descriptors a message carried that its handler did not take (set to -1). */
void vu_msg_close_fds(struct vu_msg *msg);

const char *vu_request_name(uint32_t request);

#endif
