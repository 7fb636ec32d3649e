/* vu_device.c: the vhost-user requests of a vsock device, one handler each in a dispatch table. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "vu_device.h"

/* What we offer: nothing beyond what is implemented. */
#define OFFERED_FEATURES (VU_F_VERSION_1 | VU_F_PROTOCOL_FEATURES | VU_F_INDIRECT_DESC | \
			  VU_F_EVENT_IDX | VU_VSOCK_F_SEQPACKET)
#define OFFERED_PROTOCOL_FEATURES VU_PROTOCOL_F_CONFIG

typedef int (*handler_fn)(struct vu_device *dev, int sock, struct vu_msg *msg, char *error,
			  size_t error_size);

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

void vu_device_init(struct vu_device *dev, uint64_t guest_cid, int verbose)
{
	int i;

	memset(dev, 0, sizeof(*dev));
	dev->guest_cid = guest_cid;
	dev->verbose = verbose;
	for (i = 0; i < VU_VSOCK_QUEUES; i++)
		dev->vrings[i].kick_fd = dev->vrings[i].call_fd = dev->vrings[i].err_fd = -1;
}

void vu_device_reset(struct vu_device *dev)
{
	int i;

	vu_mem_clear(&dev->mem);
	for (i = 0; i < VU_VSOCK_QUEUES; i++) {
		close_fd(&dev->vrings[i].kick_fd);
		close_fd(&dev->vrings[i].call_fd);
		close_fd(&dev->vrings[i].err_fd);
	}
	vu_device_init(dev, dev->guest_cid, dev->verbose);
}

static int fail(char *error, size_t error_size, const struct vu_msg *msg, const char *why)
{
	snprintf(error, error_size, "%s: %s", vu_request_name(msg->hdr.request), why);
	return -1;
}

static int need_size(const struct vu_msg *msg, uint32_t size, char *error, size_t error_size)
{
	char why[64];

	if (msg->hdr.size >= size)
		return 0;
	snprintf(why, sizeof(why), "payload of %u bytes, needs %u", msg->hdr.size, size);
	return fail(error, error_size, msg, why);
}

/* The ring a message names, or NULL (and `error`) when the index is out of range. */
static struct vu_vring *ring_of(struct vu_device *dev, const struct vu_msg *msg, uint32_t index,
				char *error, size_t error_size)
{
	if (index < VU_VSOCK_QUEUES)
		return &dev->vrings[index];
	fail(error, error_size, msg, "ring index out of range (a vsock backend has rx and tx)");
	return NULL;
}

static int reply_u64(int sock, const struct vu_msg *msg, uint64_t value)
{
	return vu_msg_reply(sock, msg->hdr.request, &value, sizeof(value));
}

static int get_features(struct vu_device *dev, int sock, struct vu_msg *msg, char *e, size_t n)
{
	(void)dev, (void)e, (void)n;
	return reply_u64(sock, msg, OFFERED_FEATURES);
}

static int set_features(struct vu_device *dev, int sock, struct vu_msg *msg, char *e, size_t n)
{
	(void)sock;
	if (need_size(msg, 8, e, n))
		return -1;
	if (msg->payload.u64 & ~OFFERED_FEATURES)
		return fail(e, n, msg, "acks a feature we did not offer");
	dev->features = msg->payload.u64;
	if (dev->verbose)
		fprintf(stderr, "vhost-user-vsock: features acked 0x%llx\n",
			(unsigned long long)dev->features);
	return 0;
}

static int get_protocol_features(struct vu_device *dev, int sock, struct vu_msg *msg, char *e,
				 size_t n)
{
	(void)dev, (void)e, (void)n;
	return reply_u64(sock, msg, OFFERED_PROTOCOL_FEATURES);
}

static int set_protocol_features(struct vu_device *dev, int sock, struct vu_msg *msg, char *e,
				 size_t n)
{
	(void)sock;
	if (need_size(msg, 8, e, n))
		return -1;
	dev->protocol_features = msg->payload.u64 & OFFERED_PROTOCOL_FEATURES;
	return 0;
}

static int get_queue_num(struct vu_device *dev, int sock, struct vu_msg *msg, char *e, size_t n)
{
	(void)dev, (void)e, (void)n;
	return reply_u64(sock, msg, VU_VSOCK_QUEUES);
}

static int nothing_to_do(struct vu_device *dev, int sock, struct vu_msg *msg, char *e, size_t n)
{
	(void)dev, (void)sock, (void)msg, (void)e, (void)n;
	return 0;
}

static int set_mem_table(struct vu_device *dev, int sock, struct vu_msg *msg, char *e, size_t n)
{
	int ret;

	(void)sock;
	ret = vu_mem_set(&dev->mem, &msg->payload.mem, msg->hdr.size, msg->fds, msg->nfds, e, n);
	/* mmap() holds its own reference: the descriptors are not needed any more. */
	vu_msg_close_fds(msg);
	return ret;
}

static int set_vring_num(struct vu_device *dev, int sock, struct vu_msg *msg, char *e, size_t n)
{
	struct vu_vring *ring;
	uint32_t num = msg->payload.state.num;

	(void)sock;
	if (need_size(msg, 8, e, n) || !(ring = ring_of(dev, msg, msg->payload.state.index, e, n)))
		return -1;
	if (num == 0 || num > VU_QUEUE_MAX_SIZE || (num & (num - 1)))
		return fail(e, n, msg, "ring size is not a power of two up to 32768");
	ring->num = num;
	return 0;
}

static int set_vring_base(struct vu_device *dev, int sock, struct vu_msg *msg, char *e, size_t n)
{
	struct vu_vring *ring;

	(void)sock;
	if (need_size(msg, 8, e, n) || !(ring = ring_of(dev, msg, msg->payload.state.index, e, n)))
		return -1;
	ring->last_avail = msg->payload.state.num;
	return 0;
}

static int get_vring_base(struct vu_device *dev, int sock, struct vu_msg *msg, char *e, size_t n)
{
	struct vu_vring_state state;
	struct vu_vring *ring;

	if (need_size(msg, 8, e, n) || !(ring = ring_of(dev, msg, msg->payload.state.index, e, n)))
		return -1;
	/* GET_VRING_BASE stops the ring: no more kicks are served until it is set up again. */
	ring->enabled = 0;
	close_fd(&ring->kick_fd);
	state.index = msg->payload.state.index;
	state.num = ring->last_avail;
	return vu_msg_reply(sock, msg->hdr.request, &state, sizeof(state));
}

static int set_vring_addr(struct vu_device *dev, int sock, struct vu_msg *msg, char *e, size_t n)
{
	const struct vu_vring_addr *a = &msg->payload.addr;
	struct vu_vring *ring;
	uint64_t num;

	(void)sock;
	if (need_size(msg, sizeof(*a), e, n) || !(ring = ring_of(dev, msg, a->index, e, n)))
		return -1;
	if (!ring->num)
		return fail(e, n, msg, "ring addresses before SET_VRING_NUM");
	num = ring->num;
	/* Split ring sizes (virtio 1.x, 2.7): 16-byte descriptors; 6 + 2n and 6 + 8n hold the event
	 * idx fields too (used_event after the avail ring, avail_event after the used ring). */
	ring->desc = vu_mem_uva(&dev->mem, a->desc_uaddr, 16 * num);
	ring->avail = vu_mem_uva(&dev->mem, a->avail_uaddr, 6 + 2 * num);
	ring->used = vu_mem_uva(&dev->mem, a->used_uaddr, 6 + 8 * num);
	if (!ring->desc || !ring->avail || !ring->used)
		return fail(e, n, msg, "a ring lies outside the memory table");
	/* Alignments of 2.7 (16, 2, 4): the queue layer reads and writes their fields atomically. */
	if ((uintptr_t)ring->desc % 16 || (uintptr_t)ring->avail % 2 || (uintptr_t)ring->used % 4)
		return fail(e, n, msg, "a ring is misaligned (desc 16, avail 2, used 4)");
	/* The used side continues from where the ring is (a restart may find it non-zero). */
	ring->used_flags = __atomic_load_n((uint16_t *)ring->used, __ATOMIC_RELAXED);
	ring->used_idx = __atomic_load_n((uint16_t *)ring->used + 1, __ATOMIC_RELAXED);
	ring->pushed_since_notify = 0;
	return 0;
}

static int set_vring_fd(struct vu_device *dev, int sock, struct vu_msg *msg, char *e, size_t n)
{
	uint32_t index = (uint32_t)(msg->payload.u64 & VU_VRING_INDEX_MASK);
	int nofd = (msg->payload.u64 & VU_VRING_NOFD) != 0;
	struct vu_vring *ring;
	int *slot;

	(void)sock;
	if (need_size(msg, 8, e, n) || !(ring = ring_of(dev, msg, index, e, n)))
		return -1;
	if (nofd != (msg->nfds == 0))
		return fail(e, n, msg, "descriptor count does not match the NOFD flag");
	slot = msg->hdr.request == VU_SET_VRING_KICK ? &ring->kick_fd
	       : msg->hdr.request == VU_SET_VRING_CALL ? &ring->call_fd
						       : &ring->err_fd;
	close_fd(slot);
	if (!nofd) {
		*slot = msg->fds[0];
		msg->fds[0] = -1;
	}
	return 0;
}

static int set_vring_enable(struct vu_device *dev, int sock, struct vu_msg *msg, char *e, size_t n)
{
	struct vu_vring *ring;

	(void)sock;
	if (need_size(msg, 8, e, n) || !(ring = ring_of(dev, msg, msg->payload.state.index, e, n)))
		return -1;
	ring->enabled = msg->payload.state.num != 0;
	return 0;
}

/* The config space is virtio_vsock_config: le64 guest_cid. */
static int get_config(struct vu_device *dev, int sock, struct vu_msg *msg, char *e, size_t n)
{
	struct vu_config *c = &msg->payload.config;
	uint8_t space[8];
	uint32_t i;

	if (need_size(msg, 12, e, n))
		return -1;
	if (c->offset > sizeof(space) || c->size > sizeof(space) - c->offset ||
	    msg->hdr.size != 12 + c->size)
		return fail(e, n, msg, "asks for bytes outside the 8-byte config space");
	for (i = 0; i < sizeof(space); i++)
		space[i] = (uint8_t)(dev->guest_cid >> (8 * i));
	memcpy(c->region, space + c->offset, c->size);
	return vu_msg_reply(sock, msg->hdr.request, c, 12 + c->size);
}

static const handler_fn handlers[VU_REQUEST_MAX] = {
	[VU_GET_FEATURES] = get_features,
	[VU_SET_FEATURES] = set_features,
	[VU_SET_OWNER] = nothing_to_do,
	[VU_GET_PROTOCOL_FEATURES] = get_protocol_features,
	[VU_SET_PROTOCOL_FEATURES] = set_protocol_features,
	[VU_GET_QUEUE_NUM] = get_queue_num,
	[VU_SET_MEM_TABLE] = set_mem_table,
	[VU_SET_VRING_NUM] = set_vring_num,
	[VU_SET_VRING_ADDR] = set_vring_addr,
	[VU_SET_VRING_BASE] = set_vring_base,
	[VU_GET_VRING_BASE] = get_vring_base,
	[VU_SET_VRING_KICK] = set_vring_fd,
	[VU_SET_VRING_CALL] = set_vring_fd,
	[VU_SET_VRING_ERR] = set_vring_fd,
	[VU_SET_VRING_ENABLE] = set_vring_enable,
	[VU_GET_CONFIG] = get_config,
};

int vu_device_handle(struct vu_device *dev, int sock, struct vu_msg *msg, char *error,
		     size_t error_size)
{
	uint32_t request = msg->hdr.request;
	int ret;

	error[0] = '\0';
	if (dev->verbose)
		fprintf(stderr, "vhost-user-vsock: %s (%u bytes, %d fds)\n",
			vu_request_name(request), msg->hdr.size, msg->nfds);
	if (request >= VU_REQUEST_MAX || !handlers[request]) {
		vu_msg_close_fds(msg);
		return fail(error, error_size, msg, "not supported by this backend");
	}
	ret = handlers[request](dev, sock, msg, error, error_size);
	if (ret < 0 && !error[0])
		snprintf(error, error_size, "%s: reply failed: %s", vu_request_name(request),
			 strerror(errno));
	vu_msg_close_fds(msg);
	return ret;
}
