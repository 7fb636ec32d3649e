/* vsim_wire.h: engine 3's wire: a fixture plays the Hyper-V host of hv_sock.ko through
 * /dev/vmbus_sim (testcases/kmod/vmbus_sim/vmbus_sim_uapi.h), one fresh session per fixture. */
#ifndef HVF_VSIM_WIRE_H
#define HVF_VSIM_WIRE_H

#include "../vsock-fixtures/fx_engine.h"

#define HVF_QUEUE_MAX 64	/* packets and events read ahead of the fixture's steps */
#define HVF_CHANS_MAX 64	/* channels one fixture offers */

struct hvf_wire {
	const char *device;		/* VSIM_DEVICE unless a test says otherwise */
	int fd;				/* the session, -1 between fixtures */
	uint32_t chans[HVF_CHANS_MAX];	/* offered in this session, in order */
	int n_chans;
	struct fx_hv_in *queue;		/* HVF_QUEUE_MAX entries, a ring */
	unsigned int head, count;
};

extern const struct fx_wire_ops hvf_wire_ops;
extern const struct fx_hv_ops hvf_hv_ops;

/* The wire of `engine` (ctx, ops, hv). 0, or -1 out of memory. */
int hvf_wire_init(struct hvf_wire *wire, struct fx_engine *engine);

#endif
