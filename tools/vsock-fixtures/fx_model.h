/*
 * fx_model.h: a fixture after loading (fx_load.c, fx_legacy.c), as the interpreter (fx_steps.c)
 * runs it. Every length here is bounded where the JSON enters; the model lives in one arena
 * and is freed with it.
 */
#ifndef FX_MODEL_H
#define FX_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "fx_engine.h"
#include "vsc_kver.h"

#define FX_NAME_MAX 48		/* socket, connection and capture names */
#define FX_PATH_MAX 160		/* "$.steps[12].expect.payload[3]" */
#define FX_MSG_MAX 512
#define FX_PAYLOAD_MAX (1u << 20)	/* bytes of one step's payload (or agent data) */
#define FX_REPEAT_MAX 100000u
#define FX_CONNS_MAX 16
#define FX_STEPS_MAX 4096
#define FX_CAPTURES_MAX 32
#define FX_SOCKS_MAX 64
#define FX_ONE_OF_MAX 64
#define FX_ROWS_MAX 32
#define FX_IGNORE_MAX 32
#define FX_FILE_MAX (4u << 20)	/* a fixture file larger than this is refused */

/* The header fields in wire order (include/uapi/linux/virtio_vsock.h). */
enum fx_field {
	FX_SRC_CID, FX_DST_CID, FX_SRC_PORT, FX_DST_PORT, FX_LEN, FX_TYPE, FX_OP, FX_FLAGS,
	FX_BUF_ALLOC, FX_FWD_CNT, FX_N_FIELDS
};

struct fx_field_info {
	const char *name;
	unsigned int offset, width;	/* bytes, little-endian */
};
extern const struct fx_field_info fx_fields[FX_N_FIELDS];

struct fx_hdr {
	uint64_t f[FX_N_FIELDS];
};

/*
 * Target hv_sock: a VMBus in-band packet as hv_sock reads and writes it (include/linux/hyperv.h
 * struct vmpacket_descriptor, then hyperv_transport.c's struct vmpipe_proto_header). Offsets are
 * from the descriptor's start; the pipe header is where hv_sock reads it, right after the
 * descriptor, whatever offset8 says.
 */
enum fx_hv_field {
	FX_HV_TYPE, FX_HV_OFFSET8, FX_HV_LEN8, FX_HV_FLAGS, FX_HV_TRANS_ID, FX_HV_PKT_TYPE,
	FX_HV_DATA_SIZE, FX_HV_N_FIELDS
};
extern const struct fx_field_info fx_hv_fields[FX_HV_N_FIELDS];
#define FX_HV_DESC_SIZE 16
#define FX_HV_HEADER_SIZE 24		/* descriptor + vmpipe_proto_header */
#define FX_HV_TRAILER_SIZE 8
#define FX_HV_PKT_DATA_INBAND 6		/* VM_PKT_DATA_INBAND */
#define FX_HV_MTU (16u << 10)		/* HVS_MTU_SIZE */

enum { FX_OP_INVALID, FX_OP_REQUEST, FX_OP_RESPONSE, FX_OP_RST, FX_OP_SHUTDOWN, FX_OP_RW,
       FX_OP_CREDIT_UPDATE, FX_OP_CREDIT_REQUEST };
enum { FX_TYPE_STREAM = 1, FX_TYPE_SEQPACKET = 2 };

void fx_hdr_decode(const uint8_t *bytes, struct fx_hdr *hdr);
void fx_hdr_encode(const struct fx_hdr *hdr, uint8_t *bytes);
const char *fx_op_name(uint64_t op);		/* "RST", or NULL for an unknown number */
/* "op RST (3), ports 1234 -> 5001, len 0, ..." for diagnostics. */
void fx_hdr_describe(const struct fx_hdr *hdr, size_t payload_len, char *out, size_t size);

/* 0 when "6.1" or "6.1.192" exactly (a fixture's version names a release, nothing after it). */
int fx_kver_parse(const char *text, struct vsc_kver *out);

/* A value or matcher. Integers are resolved at parse time; references at run time. */
enum fx_vkind {
	FX_V_INT,		/* n */
	FX_V_REF,		/* name: "kernel_cid", "engine_cid", "<sock>.port" or a capture */
	FX_V_ANY,
	FX_V_RANGE,		/* [lo, hi] */
	FX_V_ONE_OF,		/* items */
	FX_V_CREDIT,		/* {"credit": "consistent"} */
	FX_V_CAPTURE,		/* name */
	FX_V_BY_KERNEL,		/* items[i] from versions[i] */
	FX_V_BY_TARGET,		/* items[0] virtio_transport, items[1] vhost_vsock */
};

struct fx_value {
	enum fx_vkind kind;
	uint64_t n, lo, hi;
	char name[FX_NAME_MAX];
	struct fx_value **items;
	struct vsc_kver *versions;
	int n_items;
};

/* A payload: pieces concatenated into `bytes` at load time (total <= FX_PAYLOAD_MAX). */
struct fx_payload {
	uint8_t *bytes;
	size_t len;
};

/* One packet to send or to match; fields left NULL take the connection's defaults. */
struct fx_packet_spec {
	int conn;			/* index into fixture.conns, -1 for none */
	struct fx_value *field[FX_N_FIELDS];
	unsigned int given;		/* bit per field the fixture wrote itself */
	struct fx_payload *payload;
	struct fx_value *any_len;	/* expect: {"payload": {"any_len": M}} */
	unsigned int repeat;		/* send: 1 by default */
	uint32_t layout[FX_LAYOUT_MAX];
	int n_layout;
	int has_raw_header;
	uint8_t raw_header[FX_HDR_SIZE];
	/* target hv_sock: the packet's fields, or the whole packet as bytes (send only) */
	struct fx_value *hv[FX_HV_N_FIELDS];
	unsigned int hv_given;		/* bit per hv field the fixture wrote itself */
	struct fx_payload *hv_raw;
};

enum fx_setup { FX_SETUP_NONE, FX_SETUP_KERNEL_LISTENS, FX_SETUP_KERNEL_CONNECTS };

struct fx_conn {
	char name[FX_NAME_MAX];
	char sock[FX_NAME_MAX];		/* the agent socket at the kernel's end (default: name) */
	uint64_t type;
	struct fx_value *engine_port, *kernel_port;
	uint32_t engine_buf_alloc, kernel_buf_alloc;
	int manual_consume;
	enum fx_setup setup;
	int engine_initiates;		/* hv_sock: the host offers to the kernel's listener */
};

/* What an agent call (or await) must return. NULL fields are not checked. */
struct fx_result {
	struct fx_value *by;		/* by_kernel / by_target over results: items are results */
	struct fx_result **rows;	/* the results behind `by` */
	int is_errno;
	char errno_name[24];		/* "ECONNRESET"; empty with is_errno = 0: must succeed */
	int any;			/* "any": nothing is checked */
	struct fx_value *value;		/* ret */
	struct fx_payload *data;	/* recv: the bytes */
	int has_so_error;
	char so_error[24];		/* "0" or "ECONNREFUSED" */
	struct fx_value *revents, *msg_flags, *peer_cid, *peer_port;
	char diag_state[16];
	struct fx_value *diag_shutdown, *diag_rqueue, *diag_wqueue;
};

enum fx_agent_do {
	FX_DO_BIND, FX_DO_LISTEN, FX_DO_CONNECT, FX_DO_ACCEPT, FX_DO_SEND, FX_DO_RECV,
	FX_DO_SHUTDOWN, FX_DO_CLOSE, FX_DO_SETSOCKOPT, FX_DO_GETSOCKOPT, FX_DO_POLL, FX_DO_DIAG,
	FX_DO_GETSOCKNAME
};
extern const char *const fx_agent_do_names[];

struct fx_agent_call {
	enum fx_agent_do what;
	char sock[FX_NAME_MAX], as[FX_NAME_MAX];
	const char *type;		/* "stream" / "seqpacket" or NULL */
	struct fx_value *cid, *port;
	int backlog;			/* -1: agent default */
	int nonblock;
	int64_t timeout_ms;		/* -1: not given */
	struct fx_payload *data;
	int64_t len;			/* -1: not given */
	char flags[8][16];		/* MSG_* names */
	int n_flags;
	const char *how;
	const char *level;		/* "SOL_SOCKET" / "AF_VSOCK" */
	char opt[40];
	struct fx_value *value;
	char events[8][12];		/* POLL* names, or n_events = -1 and events_mask */
	int n_events;
	uint32_t events_mask;
	int wait;
};

enum fx_step_kind { FX_STEP_SEND, FX_STEP_EXPECT, FX_STEP_EXPECT_NONE, FX_STEP_AGENT,
		    FX_STEP_AWAIT, FX_STEP_ENGINE,
		    /* target hv_sock only (fx_json_hv.c, fx_hv_steps.c) */
		    FX_STEP_HV_TL_CONNECT, FX_STEP_HV_OFFER, FX_STEP_HV_SEND_FIN, FX_STEP_HV_EXPECT_FIN,
		    FX_STEP_HV_RESCIND, FX_STEP_HV_EVENT, FX_STEP_KINDS };
/* The VSIM_EV_* a step expects (vmbus_sim_uapi.h numbers). */
enum fx_hv_event { FX_HV_EV_OPENED = 2, FX_HV_EV_GUEST_CLOSED = 3, FX_HV_EV_WAIT_RESCIND = 4 };
extern const char *const fx_step_kind_names[];

enum fx_engine_do { FX_ENGINE_CONSUME, FX_ENGINE_ACT };

struct fx_step {
	enum fx_step_kind kind;
	int index;			/* in the file's steps; -1 for a connection's setup */
	const char *setup_of;		/* connection name of a setup step */
	struct fx_packet_spec pkt;	/* send, expect, expect_none */
	uint32_t within_ms, not_before_ms, for_ms;
	struct fx_agent_call agent;
	char await_sock[FX_NAME_MAX];
	struct fx_result *result;	/* agent, await, engine */
	enum fx_engine_do engine_do;
	char act[24];			/* engine act name */
	struct fx_value *act_arg;	/* set_guest_cid: the CID */
	int conn;			/* engine consume; hv_sock steps */
	uint64_t bytes;
	int hv_state;			/* offer: the channel state due (VSIM_CHAN_*) */
	int hv_event;			/* expect_event: enum fx_hv_event */
};

struct fx_known_bug {
	struct vsc_kver from, until;
	char fix[256];
	const char *target;		/* NULL: both */
};

struct fx_fixture {
	char name[FX_NAME_MAX + 8];
	const char *target;		/* "virtio_transport", "vhost_vsock", "both" or "hv_sock" */
	int hv;				/* target hv_sock: hv packets and steps */
	int has_min;
	struct vsc_kver min;
	char min_text[24];
	struct fx_known_bug bugs[8];
	int n_bugs;
	struct fx_device_needs needs;
	struct fx_conn conns[FX_CONNS_MAX];
	int n_conns;
	struct fx_packet_spec ignore[FX_IGNORE_MAX];
	int n_ignore;
	uint32_t timeout_ms;
	struct fx_step *steps;		/* setup steps first, then the file's */
	int n_steps;
	int legacy;			/* converted from QEMU's array format */
};

/* Bump allocator: every model allocation of one fixture, freed at once. */
struct fx_arena {
	struct fx_arena_chunk *chunks;
};
void *fx_alloc(struct fx_arena *arena, size_t size);	/* zeroed; never NULL (aborts) */
void fx_arena_free(struct fx_arena *arena);

/* Loads one file (either format). 0 ok; -1 with "$.path: message" in err. */
int fx_load(const char *file, struct fx_fixture *fx, struct fx_arena *arena, char *err,
	    size_t err_size);
/* The array form (fx_legacy.c); `root` is a json_object *. */
int fx_legacy_convert(void *root, const char *stem, struct fx_fixture *fx,
		      struct fx_arena *arena, char *err, size_t err_size);
/* Fills in the steps a connection's `setup` stands for (fx_setup_steps.c, after loading). */
int fx_add_setup_steps(struct fx_fixture *fx, struct fx_arena *arena);
/* The target whose packets are VMBus packets to and from hv_sock (fx_json_hv.c, fx_hv_steps.c). */
#define FX_TARGET_HV "hv_sock"

/* fx_value.c: parsing (json_object * as void * to keep json-c out of this header). */
enum fx_vctx {
	FX_VC_SEND,		/* an integer or a reference */
	FX_VC_MATCH,		/* any matcher */
};
/* field: the header field (widths, op/type/flags names), or -1 for a plain integer of `width`. */
struct fx_value *fx_value_parse(void *json, int field, unsigned int width, enum fx_vctx ctx,
				const char *path, struct fx_arena *arena, char *err, size_t err_size);
struct fx_payload *fx_payload_parse(void *json, size_t max, const char *path,
				    struct fx_arena *arena, char *err, size_t err_size);
/* "credit_stall" of "dir/credit_stall.json": a fixture's name, and its result's when it fails to load. */
void fx_file_stem(const char *file, char *stem, size_t size);
int fx_name_ok(const char *name);		/* ^[a-z][a-z0-9_]*$, shorter than FX_NAME_MAX */

#endif
