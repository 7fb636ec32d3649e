/*
 * fx_engine.h: what a fixture engine gives the fixture runner, and how an engine runs fixtures.
 *
 * The runner (tools/vsock-fixtures/fx_*.c) parses fixtures, fills in defaults, matches packets
 * and talks to the agent; an engine only moves bytes between the runner and the kernel under
 * test. Engine 1 (tools/vhost-user-vsock, --fixtures) is the host side of a guest's
 * virtio_transport; engine 2 (tools/vsock-fixtures-guest) is the guest driver of vhost_vsock.
 */
#ifndef FX_ENGINE_H
#define FX_ENGINE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define FX_HDR_SIZE 44
/* The largest packet either engine carries: header + 64 KiB (VIRTIO_VSOCK_MAX_PKT_BUF_SIZE),
 * with room for fixtures that lie about len on purpose. */
#define FX_PACKET_MAX (FX_HDR_SIZE + (64u << 10) + 4096u)
#define FX_LAYOUT_MAX 16
#define FX_ERROR_MAX 256

/* Feature bit of the vsock device (virtio 1.2): SOCK_SEQPACKET. */
#define FX_F_SEQPACKET (1ull << 1)

/* One packet the kernel put on the engine's receive side, exactly as it was in the buffers. */
struct fx_packet {
	uint8_t bytes[FX_PACKET_MAX];	/* header (little-endian, as on the wire) then payload */
	size_t len;			/* bytes the kernel wrote (used len), header included */
	int n_buffers;			/* receive buffers it took (engine 2 splits big packets) */
};

/* What a fixture asks of the device before it starts (its "device" object). */
struct fx_device_needs {
	int seqpacket;			/* 1: must be negotiated, 0: must not be, -1: either */
	unsigned int rx_buffers;	/* engine 2: receive buffers posted (0: engine default) */
	unsigned int rx_buffer_size;	/* engine 2: bytes per buffer, header included (0: default) */
};

struct fx_wire_ops {
	/*
	 * Before each fixture: bring the device up as `needs` says, in a clean state (no
	 * connection of an earlier fixture left). 0 ready; 1 when this engine cannot meet a need
	 * (the fixture SKIPs with the reason in `why`); -1 on failure (`why`).
	 */
	int (*begin)(void *ctx, const struct fx_device_needs *needs, char *why, size_t why_size);
	/*
	 * Puts one packet towards the kernel: `len` bytes (header + payload, malformed on purpose
	 * if the fixture says so) cut into descriptors of the sizes in `layout` (n_layout 0: one
	 * descriptor; the sizes add up to len). 0 sent; 1 when this engine cannot make that
	 * layout or packet (SKIP, `why`); -1 on failure.
	 */
	int (*send)(void *ctx, const uint8_t *bytes, size_t len, const uint32_t *layout,
		    int n_layout, char *why, size_t why_size);
	/*
	 * Waits until `deadline_ms` (CLOCK_MONOTONIC, fx_now_ms) for the next packet from the
	 * kernel. 1 with `pkt`; 0 at the deadline; -1 on failure (the device broke: `why`).
	 */
	int (*recv)(void *ctx, struct fx_packet *pkt, uint64_t deadline_ms, char *why,
		    size_t why_size);
	/*
	 * An engine-side act of a fixture step: "transport_reset" (engine 1: the event queue's
	 * VIRTIO_VSOCK_EVENT_TRANSPORT_RESET), "device_stop" (engine 2: VHOST_VSOCK_SET_RUNNING 0),
	 * "device_close" (engine 2: close /dev/vhost-vsock), "set_guest_cid" (engine 2: `arg` is the
	 * CID; the ioctl's errno is the result). Returns 0 done, a positive errno for a refused
	 * ioctl, -1 on failure; FX_ACT_UNSUPPORTED when this engine has no such act (SKIP, `why`).
	 */
	int (*act)(void *ctx, const char *what, uint64_t arg, char *why, size_t why_size);
	/* After each fixture, pass or not: leave nothing behind (engine 2: close the device;
	 * engine 1: RST what the kernel still holds open, until it is quiet). */
	void (*end)(void *ctx);
};

#define FX_ACT_UNSUPPORTED (-2)

/*
 * Engine 3 (target hv_sock, tools/hvsock-fixtures): the Hyper-V host of hv_sock.ko, through
 * /dev/vmbus_sim (testcases/kmod/vmbus_sim/vmbus_sim_uapi.h). Its begin/end are fx_wire_ops';
 * the packets, channels and events go through these. GUIDs are 16 bytes in VMBus order.
 */
#define FX_HV_PACKET_MAX (24u + (16u << 10) + 4096u)	/* a packet from its descriptor on */

/* One thing the guest did, in the order the engine saw it. */
struct fx_hv_in {
	int is_event;
	uint32_t event;			/* VSIM_EV_* */
	uint32_t chan;			/* the channel (0 for a TL connect request) */
	uint8_t a[16], b[16];		/* TL connect: guest endpoint, host service */
	uint32_t value, value2;
	size_t len;			/* a packet: bytes from its descriptor on, trailer excluded */
	uint8_t bytes[FX_HV_PACKET_MAX];
};

struct fx_hv_ops {
	/* Offers a hv_sock channel (VSIM_IOC_OFFER): 0 with *chan and *state (VSIM_CHAN_*), -1. */
	int (*offer)(void *ctx, const uint8_t if_type[16], const uint8_t if_instance[16],
		     int host_initiated, uint32_t *chan, uint32_t *state, char *why, size_t why_size);
	/* One packet to the guest: `raw` 0, a payload the module frames (len 0: FIN); 1, the whole
	 * packet from its descriptor on (len a multiple of 8). 0 sent, a positive errno, -1. */
	int (*send)(void *ctx, uint32_t chan, const uint8_t *bytes, size_t len, int raw, char *why,
		    size_t why_size);
	/* The guest's next packet or event until deadline_ms: 1 with *in, 0 at the deadline, -1. */
	int (*recv)(void *ctx, struct fx_hv_in *in, uint64_t deadline_ms, char *why, size_t why_size);
	/* The host closes chan (VSIM_IOC_RESCIND): 0, a positive errno, -1. */
	int (*rescind)(void *ctx, uint32_t chan, char *why, size_t why_size);
};

struct fx_engine {
	const char *target;		/* "virtio_transport" (engine 1), "vhost_vsock" (engine 2), "hv_sock" (engine 3) */
	uint64_t engine_cid;		/* the fixture's $engine_cid */
	uint64_t kernel_cid;		/* the fixture's $kernel_cid */
	uint64_t features;		/* negotiated device features, set by begin() */
	const struct fx_wire_ops *ops;
	const struct fx_hv_ops *hv;	/* engine 3 only */
	void *ctx;
};

struct fx_run_options {
	int agent_in, agent_out;	/* the agent's replies / requests (fds) */
	FILE *ktap;			/* one KTAP line per fixture, with diagnostics */
	FILE *trace;			/* JSON lines of every packet and agent result, or NULL */
	const char *prefix;		/* result names: "<prefix><fixture name>", e.g. "vhost_vsock/" */
};

/* Runs the fixture files in order, each from a clean state; prints the KTAP plan and results.
 * Returns 0 when every fixture passed, XFAILed or SKIPped, 1 otherwise. */
int fx_run_files(struct fx_engine *engine, const struct fx_run_options *options,
		 char *const *files, int n_files);

uint64_t fx_now_ms(void);

#endif
