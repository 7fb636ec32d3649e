/* vhost_dev.h: one open /dev/vhost-vsock, its memory table and the ioctls that drive it. */
#ifndef FXG_VHOST_DEV_H
#define FXG_VHOST_DEV_H

#include <stddef.h>
#include <stdint.h>

#define FXG_RX_QUEUE 0	/* vhost -> us (the kernel's packets) */
#define FXG_TX_QUEUE 1	/* us -> vhost */

struct fxg_queue_fds {
	int kick, call, err;	/* eventfds: we kick, vhost calls, vhost signals vq_err */
};

struct vhost_dev {
	int fd;				/* -1 once closed */
	uint8_t *mem;			/* the memory table's one region: guest address == ours */
	size_t mem_size;
	uint64_t offered;		/* VHOST_GET_FEATURES */
	struct fxg_queue_fds queue[2];
};

/*
 * Opens the device, becomes its owner, reads its features, maps `mem_size` bytes of shared
 * zeroed memory and gives it as the memory table, and makes the eventfds. 0, or -1 with `why`
 * (everything already made is released).
 */
int vhost_dev_open(struct vhost_dev *dev, size_t mem_size, char *why, size_t why_size);

/* VHOST_SET_FEATURES. 0, or -1 with `why`. */
int vhost_dev_set_features(struct vhost_dev *dev, uint64_t features, char *why, size_t why_size);

/* Sets up queue `index`: size, base 0, ring addresses (inside dev->mem), kick/call/err fds. */
int vhost_dev_set_vring(struct vhost_dev *dev, int index, unsigned int num, const void *desc,
			const void *avail, const void *used, char *why, size_t why_size);

/* VHOST_VSOCK_SET_GUEST_CID and VHOST_VSOCK_SET_RUNNING: 0, or the ioctl's errno. */
int vhost_dev_set_guest_cid(struct vhost_dev *dev, uint64_t cid);
int vhost_dev_set_running(struct vhost_dev *dev, int running);

/* Tells vhost that queue `index` has new chains. 0, or -1 with `why`. */
int vhost_dev_kick(struct vhost_dev *dev, int index, char *why, size_t why_size);

/* Empties an eventfd; returns the count it held (0 if none). */
uint64_t vhost_dev_take_event(int eventfd);

/* Closes the device fd only: vhost releases the CID and resets the sockets still connected to
 * it; the memory and eventfds stay until vhost_dev_release. */
void vhost_dev_close_fd(struct vhost_dev *dev);

/* Closes everything vhost_dev_open made. Safe on a half-opened or released device. */
void vhost_dev_release(struct vhost_dev *dev);

#endif
