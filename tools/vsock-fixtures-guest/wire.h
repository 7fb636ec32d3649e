/* wire.h: engine 2's fx_wire_ops: the fixture's packets through /dev/vhost-vsock, one fresh
 * device per fixture. */
#ifndef FXG_WIRE_H
#define FXG_WIRE_H

#include "../vsock-fixtures/fx_engine.h"
#include "vhost_dev.h"
#include "vring.h"

/* QEMU's old vhost-vsock test posted 8 receive buffers of a header and 4 KiB. */
#define FXG_RX_BUFFERS_DEFAULT 8
#define FXG_RX_BUFFER_SIZE_DEFAULT (FX_HDR_SIZE + 4096)
/* Packets vhost may hold at once; each keeps its bytes in a slot of FX_PACKET_MAX. */
/* Fixtures play CIDs first_cid .. first_cid + FXG_CIDS_IN_TURN - 1 in turn (wire_begin). */
#define FXG_CIDS_IN_TURN 4096u
#define FXG_TX_SLOTS 32
/* TX descriptors: enough for every slot's chain of a few pieces. A larger ring also lets the
 * kernel queue more replies before vhost stops taking TX (queued_replies >= ring size). */
#define FXG_TX_RING 256

struct fxg_wire {
	struct fx_engine *engine;	/* its engine_cid, and where begin() puts the features */
	struct vhost_dev dev;
	int up;				/* begin() succeeded and end() has not run */
	int closed;			/* the fixture closed the device */
	struct fxg_ring rx, tx;
	uint8_t *rx_buffers;		/* rx_count buffers of rx_size bytes, in dev.mem */
	unsigned int rx_count, rx_size;
	uint8_t *tx_slots;		/* FXG_TX_SLOTS packets of FX_PACKET_MAX bytes, in dev.mem */
	unsigned int free_slots[FXG_TX_SLOTS];
	unsigned int n_free_slots;
	unsigned long rx_errors, tx_errors;	/* vq_err signals seen on each queue */
	uint64_t first_cid;		/* --cid: the first fixture's $engine_cid */
	unsigned int fixtures_begun;
};

extern const struct fx_wire_ops fxg_wire_ops;

/* The wire of `engine` (engine->ctx = wire, engine->ops = &fxg_wire_ops). */
void fxg_wire_init(struct fxg_wire *wire, struct fx_engine *engine);

#endif
