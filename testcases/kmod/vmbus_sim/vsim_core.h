/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vsim_core.h: the vmbus_sim core's own objects (sessions, channels, rings), shared by its
 * vsim_*.c files only. The attachment sees vsim.h and attach.h, never this.
 */
#ifndef VSIM_CORE_H
#define VSIM_CORE_H

#include <linux/hyperv.h>
#include <linux/interrupt.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/version.h>
#include <linux/wait.h>

#include "attach.h"
#include "vmbus_sim_uapi.h"

/* 5.15 ("Copy packets sent by Hyper-V out of the ring buffer") added pkt_buffer/max_pkt_size. */
#define VSIM_PKT_COPY (LINUX_VERSION_CODE >= KERNEL_VERSION(5, 15, 0))
/* 6.3 made hv_driver.remove return void. */
#define VSIM_REMOVE_VOID (LINUX_VERSION_CODE >= KERNEL_VERSION(6, 3, 0))

#define VSIM_PKT_TRAILER 8		/* ring_buffer.c VMBUS_PKT_TRAILER: previous indices */
#define VSIM_RING_MAX (1u << 20)	/* one direction's bytes with its header page */
#define VSIM_EVENTS_MAX 4096		/* queued per session; more are dropped (counted) */

struct vsim_session;

struct vsim_chan {
	struct kref ref;
	struct list_head node;			/* vsim_channels, under vsim_lock */
	u32 id;
	struct vsim_session *owner;		/* under vsim_owner_lock; NULL once the session closed */
	bool host_initiated;

	struct vmbus_channel channel;		/* what hv_sock sees */
	struct hv_device *hdev;

	struct mutex lock;			/* state below, the rings' existence, host SEND/RECV */
	u32 state;				/* enum vsim_chan_state */
	bool rescinded;
	bool device_removed;
	bool waits_rescind;
	bool pkt_event_queued;			/* an unread VSIM_EV_PACKET is queued (coalescing) */
	struct page **pages[2];			/* [0] outbound (guest to host), [1] inbound */
	u32 npages[2];

	spinlock_t cb_lock;			/* cb_enabled */
	bool cb_enabled;
	struct tasklet_struct cb_tasklet;	/* runs hv_sock's channel callback (HV_CALL_DIRECT) */

	wait_queue_head_t host_wq;		/* host SEND/RECV wait for room / packets / state */
	atomic_t gen;				/* bumped at every host_wq wake-up */
	wait_queue_head_t rescind_wq;		/* vmbus_hvsock_device_unregister waits here */
};

struct vsim_session {
	spinlock_t ev_lock;
	struct list_head events;
	u32 nevents;
	u32 dropped;
	wait_queue_head_t wq;
	bool dead;
};

/* vsim_main.c */
extern struct mutex vsim_lock;		/* the lists, the driver pointer; before any c->lock */
extern struct mutex vsim_drv_lock;	/* a probe vs. the driver's unregister */
extern spinlock_t vsim_owner_lock;
extern struct list_head vsim_channels;
extern atomic_t vsim_nchannels;	/* in vsim_channels */
u32 vsim_default_proto(void);
struct hv_driver *vsim_driver(void);

/* vsim_chan.c */
struct vsim_chan *vsim_chan_of(struct vmbus_channel *channel);
struct vsim_chan *vsim_chan_get(struct vsim_session *s, u32 id);
void vsim_chan_put(struct vsim_chan *c);
int vsim_offer(struct vsim_session *s, struct vsim_offer *o);
void vsim_rescind(struct vsim_chan *c);
void vsim_remove_all_devices(struct hv_driver *drv);
void vsim_signal_guest(struct vsim_chan *c);
void vsim_host_wake(struct vsim_chan *c);

/* vsim_ring.c */
int vsim_ring_alloc(struct vsim_chan *c, u32 send_size, u32 recv_size);
void vsim_ring_free(struct vsim_chan *c);
int vsim_host_send(struct vsim_chan *c, const void *pkt, u32 len, bool raw);
int vsim_host_recv(struct vsim_chan *c, void *buf, u32 room, bool raw, struct vsim_xfer *x);
bool vsim_host_readable(struct vsim_chan *c);
u32 vsim_host_send_room(struct vsim_chan *c);

/* vsim_dev.c */
void vsim_event(struct vsim_chan *c, struct vsim_session *s, u32 type,
		const guid_t *a, const guid_t *b, u32 value, u32 value2, gfp_t gfp);
void vsim_chan_event(struct vsim_chan *c, u32 type, u32 value, u32 value2, gfp_t gfp);
struct vsim_session *vsim_listener(const guid_t *service);
int vsim_dev_init(void);
void vsim_dev_exit(void);

#endif
