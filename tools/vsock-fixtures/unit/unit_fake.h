/*
 * unit_fake.h: a scripted stand-in for the kernel under test, for fx-unit. Its wire (unit_wire.c)
 * is a struct fx_wire_ops in memory; its agent (unit_agent.c) speaks the agent protocol over
 * pipes from a thread. Both act on one small model of a vsock peer: a listener, one connection,
 * its credit, and "bugs" that make it break the invariants on purpose. No socket is opened.
 */
#ifndef UNIT_FAKE_H
#define UNIT_FAKE_H

#include <pthread.h>
#include <stdint.h>

#include "fx_engine.h"
#include "fx_model.h"

#define FAKE_QUEUE_MAX 64
#define FAKE_EPHEMERAL_PORT 3000000000u	/* above 2^31, as the kernel picks them */

struct fake_config {
	const char *kernel;		/* hello's version, "6.1.192" */
	int rst_on_rst;			/* answers an RST to a closed port with an RST */
	int fwd_backwards;		/* CREDIT_UPDATE answers carry a smaller fwd_cnt */
	int rw_beyond_credit;		/* agent send goes out whatever the credit */
	int upper_cid;			/* src_cid with bit 32 set */
	int delay_ms;			/* before each packet the kernel sends */
	int no_seqpacket;		/* begin() with seqpacket needed: SKIP */
	const char *alarm;		/* kmsg reports this alarm line */
	int extra_packet;		/* after a RESPONSE, an unprompted SHUTDOWN */
};

struct fake_packet {
	uint64_t at_ms;
	size_t len;
	uint8_t *bytes;
};

struct fake {
	pthread_mutex_t lock;
	struct fake_config cfg;
	uint64_t kernel_cid, engine_cid;
	struct fake_packet queue[FAKE_QUEUE_MAX];
	int n_queue;
	/* the agent's sockets */
	char listener[FX_NAME_MAX], conn_name[FX_NAME_MAX], client[FX_NAME_MAX];
	uint32_t listen_port;
	/* the connection */
	int established, connecting;
	int reset_by_engine;		/* the engine's RST ended the connection: close answers RST */
	uint32_t kernel_port, engine_port;
	uint32_t fwd_cnt, buf_alloc, rx_queued, tx_cnt;
	uint32_t peer_buf_alloc, peer_fwd_cnt;
	int engine_packets;		/* packets the engine sent, for the tests */
};

void fake_init(struct fake *f, const struct fake_config *cfg);
void fake_free(struct fake *f);
/* Queues a packet from the kernel (lock held). */
void fake_emit(struct fake *f, int op, uint32_t src_port, uint32_t dst_port, uint32_t flags,
	       const uint8_t *payload, size_t len);

extern const struct fx_wire_ops fake_wire_ops;

/* unit_hv.c: the hv_sock engine's stand-in (engine 3), echoing what the fixture sends. */
#define FAKE_HV_QUEUE 16
struct fake_hv {
	uint32_t tl_guest_port, tl_host_port;	/* begin() queues this TL connect request (0: none) */
	uint8_t last_if_type[16];
	int last_host_initiated;
	struct fx_hv_in q[FAKE_HV_QUEUE];
	int n, head;
};
extern const struct fx_wire_ops fake_hv_wire_ops;
extern const struct fx_hv_ops fake_hv_ops;

/* Starts the agent thread on two pipes; *to_agent / *from_agent are the runner's ends. */
struct fake_agent *fake_agent_start(struct fake *f, int *to_agent, int *from_agent);
/* After the runner closed *to_agent: waits for the agent and its connect waiters, frees it. */
void fake_agent_stop(struct fake_agent *a);

#endif
