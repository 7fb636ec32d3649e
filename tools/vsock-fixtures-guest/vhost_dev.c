/* vhost_dev.c: open /dev/vhost-vsock and drive it by ioctl, as a VMM does for its guest. */
#include "vhost_dev.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/vhost.h>

#define DEVICE_PATH "/dev/vhost-vsock"

static const char *const queue_names[2] = { "RX", "TX" };

/* One ioctl that must succeed: -1 with `why` naming it and its errno otherwise. */
static int must(struct vhost_dev *dev, unsigned long request, void *arg, const char *name,
		int index, char *why, size_t why_size)
{
	if (ioctl(dev->fd, request, arg) == 0)
		return 0;
	if (index >= 0)
		snprintf(why, why_size, "%s %s (%s queue): %s", DEVICE_PATH, name,
			 queue_names[index], strerror(errno));
	else
		snprintf(why, why_size, "%s %s: %s", DEVICE_PATH, name, strerror(errno));
	return -1;
}

static int map_memory(struct vhost_dev *dev, size_t mem_size, char *why, size_t why_size)
{
	struct {
		struct vhost_memory table;
		struct vhost_memory_region region;
	} mem;

	/* Shared, so that no fork can ever copy-on-write split the pages vhost works on. */
	dev->mem = mmap(NULL, mem_size, PROT_READ | PROT_WRITE,
			MAP_SHARED | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (dev->mem == MAP_FAILED) {
		dev->mem = NULL;
		snprintf(why, why_size, "mmap of %zu bytes for the rings and buffers: %s", mem_size,
			 strerror(errno));
		return -1;
	}
	dev->mem_size = mem_size;
	memset(&mem, 0, sizeof(mem));
	mem.table.nregions = 1;
	/* Identity mapping: a descriptor's address is our own pointer. */
	mem.region.guest_phys_addr = (uintptr_t)dev->mem;
	mem.region.memory_size = mem_size;
	mem.region.userspace_addr = (uintptr_t)dev->mem;
	return must(dev, VHOST_SET_MEM_TABLE, &mem, "VHOST_SET_MEM_TABLE", -1, why, why_size);
}

int vhost_dev_open(struct vhost_dev *dev, size_t mem_size, char *why, size_t why_size)
{
	int i;

	memset(dev, 0, sizeof(*dev));
	for (i = 0; i < 2; i++)
		dev->queue[i] = (struct fxg_queue_fds){ -1, -1, -1 };
	dev->fd = open(DEVICE_PATH, O_RDWR | O_CLOEXEC);
	if (dev->fd < 0) {
		snprintf(why, why_size, "%s: %s (is vhost_vsock loaded?)", DEVICE_PATH,
			 strerror(errno));
		return -1;
	}
	if (must(dev, VHOST_SET_OWNER, NULL, "VHOST_SET_OWNER", -1, why, why_size) ||
	    must(dev, VHOST_GET_FEATURES, &dev->offered, "VHOST_GET_FEATURES", -1, why, why_size) ||
	    map_memory(dev, mem_size, why, why_size))
		goto fail;
	for (i = 0; i < 2; i++) {
		struct fxg_queue_fds *q = &dev->queue[i];

		q->kick = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		q->call = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		q->err = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (q->kick < 0 || q->call < 0 || q->err < 0) {
			snprintf(why, why_size, "eventfd for the %s queue: %s", queue_names[i],
				 strerror(errno));
			goto fail;
		}
	}
	return 0;
fail:
	vhost_dev_release(dev);
	return -1;
}

int vhost_dev_set_features(struct vhost_dev *dev, uint64_t features, char *why, size_t why_size)
{
	return must(dev, VHOST_SET_FEATURES, &features, "VHOST_SET_FEATURES", -1, why, why_size);
}

int vhost_dev_set_vring(struct vhost_dev *dev, int index, unsigned int num, const void *desc,
			const void *avail, const void *used, char *why, size_t why_size)
{
	struct vhost_vring_state size = { .index = index, .num = num };
	struct vhost_vring_state base = { .index = index, .num = 0 };
	struct vhost_vring_addr addr = {
		.index = index,
		.desc_user_addr = (uintptr_t)desc,
		.avail_user_addr = (uintptr_t)avail,
		.used_user_addr = (uintptr_t)used,
	};
	struct vhost_vring_file kick = { .index = index, .fd = dev->queue[index].kick };
	struct vhost_vring_file call = { .index = index, .fd = dev->queue[index].call };
	struct vhost_vring_file err = { .index = index, .fd = dev->queue[index].err };

	if (must(dev, VHOST_SET_VRING_NUM, &size, "VHOST_SET_VRING_NUM", index, why, why_size) ||
	    must(dev, VHOST_SET_VRING_BASE, &base, "VHOST_SET_VRING_BASE", index, why, why_size) ||
	    must(dev, VHOST_SET_VRING_ADDR, &addr, "VHOST_SET_VRING_ADDR", index, why, why_size) ||
	    must(dev, VHOST_SET_VRING_KICK, &kick, "VHOST_SET_VRING_KICK", index, why, why_size) ||
	    must(dev, VHOST_SET_VRING_CALL, &call, "VHOST_SET_VRING_CALL", index, why, why_size) ||
	    must(dev, VHOST_SET_VRING_ERR, &err, "VHOST_SET_VRING_ERR", index, why, why_size))
		return -1;
	return 0;
}

int vhost_dev_set_guest_cid(struct vhost_dev *dev, uint64_t cid)
{
	return ioctl(dev->fd, VHOST_VSOCK_SET_GUEST_CID, &cid) == 0 ? 0 : errno;
}

int vhost_dev_set_running(struct vhost_dev *dev, int running)
{
	return ioctl(dev->fd, VHOST_VSOCK_SET_RUNNING, &running) == 0 ? 0 : errno;
}

int vhost_dev_kick(struct vhost_dev *dev, int index, char *why, size_t why_size)
{
	uint64_t one = 1;

	if (write(dev->queue[index].kick, &one, sizeof(one)) == sizeof(one))
		return 0;
	snprintf(why, why_size, "kick of the %s queue: %s", queue_names[index], strerror(errno));
	return -1;
}

uint64_t vhost_dev_take_event(int eventfd)
{
	uint64_t count = 0;

	if (read(eventfd, &count, sizeof(count)) != sizeof(count))
		return 0;	/* EAGAIN: nothing signalled */
	return count;
}

void vhost_dev_close_fd(struct vhost_dev *dev)
{
	if (dev->fd >= 0)
		close(dev->fd);
	dev->fd = -1;
}

void vhost_dev_release(struct vhost_dev *dev)
{
	int i;

	/* The fd first: vhost stops using the rings before their memory goes away. */
	vhost_dev_close_fd(dev);
	for (i = 0; i < 2; i++) {
		int *fds[3] = { &dev->queue[i].kick, &dev->queue[i].call, &dev->queue[i].err };
		int j;

		for (j = 0; j < 3; j++) {
			if (*fds[j] >= 0)
				close(*fds[j]);
			*fds[j] = -1;
		}
	}
	if (dev->mem)
		munmap(dev->mem, dev->mem_size);
	dev->mem = NULL;
	dev->mem_size = 0;
}
