/* fx_run.h: the state of one fixture run, shared by the interpreter's files. */
#ifndef FX_RUN_H
#define FX_RUN_H

#include "fx_agent_link.h"
#include "fx_eval.h"

#define FX_LAST_PACKETS 6
#define FX_TUPLES_MAX 32
#define FX_EPH_MAX 16

/* What the runner knows of one connection: the credit each side announced and used. */
struct fx_conn_state {
	uint32_t engine_tx;		/* RW payload bytes the engine sent */
	uint32_t engine_fwd;		/* bytes the engine consumed of the kernel's RW */
	uint64_t kernel_rx;		/* RW payload bytes the kernel sent (not wrapped) */
	int advertised;			/* the engine sent a packet, so the kernel has credit */
	int64_t credit_end;		/* furthest kernel_rx the engine's credit allowed */
	int seen;			/* a packet from the kernel carried buf_alloc / fwd_cnt */
	uint32_t last_fwd, last_buf;
	int buf_pending;		/* a setsockopt(SO_VM_SOCKETS_BUFFER_SIZE) since */
	uint32_t pending_buf;
};

struct fx_tuple {			/* the engine's last packet on a port pair was an RST */
	uint32_t engine_port, kernel_port;
	int rst;
};

struct fx_sock {
	char name[FX_NAME_MAX];
	int has_port;
	uint32_t port;
	long pending_id;		/* an async call's id, 0 when none */
	const char *pending_do;		/* its call ("connect"), for the trace */
};

struct fx_seen {
	int from_kernel;
	int step;
	struct fx_hdr hdr;
	size_t payload_len;
};

/* A connection of target hv_sock: its channel, and the guest's connect request when it came. */
struct fx_hv_conn {
	uint32_t chan;			/* 0 until offered */
	int has_request;
	uint8_t guest_endpoint[16], host_service[16];
};

struct fx_run {
	struct fx_engine *engine;
	const struct fx_run_options *options;
	struct fx_agent *agent;
	struct vsc_kver kernel;
	char kernel_text[64];
	const struct fx_fixture *fx;
	const char *file;
	struct fx_eval ev;
	const struct fx_step *step;	/* being run */
	int cur_conn;			/* the connection a credit matcher judges, -1 */
	struct fx_conn_state cs[FX_CONNS_MAX];
	struct fx_tuple tuples[FX_TUPLES_MAX];
	int n_tuples;
	struct fx_capture captures[FX_CAPTURES_MAX];
	int n_captures;
	struct fx_capture pending[8];
	struct fx_sock socks[FX_SOCKS_MAX];
	int n_socks;
	uint64_t deadline;		/* the whole fixture's */
	struct fx_seen last[FX_LAST_PACKETS];
	int n_last;
	uint32_t eph[FX_EPH_MAX];	/* kernel-chosen ports, for the trace */
	int n_eph;
	struct fx_packet *pkt;		/* receive scratch */
	uint8_t *tx;			/* send scratch */
	struct fx_hv_conn hv[FX_CONNS_MAX];	/* target hv_sock */
	struct fx_hv_in *hv_in;		/* hv receive scratch */
	char hv_last[FX_LAST_PACKETS][160];
	int n_hv_last;
	/* outcome */
	int failed, skipped;
	char reason[FX_MSG_MAX];
	char diag[8][FX_MSG_MAX];	/* extra "# " lines: alarms */
	int n_diag;
};

/* fx_steps.c */
int fx_run_steps(struct fx_run *r);
/* Shared by both packet models (fx_hv_steps.c too). */
uint64_t fx_deadline_in(struct fx_run *r, uint32_t ms);
void fx_keep_captures(struct fx_run *r);
/* After the last step: a queued packet that is not ignored fails the fixture. */
int fx_drain_unexpected(struct fx_run *r);
/* Fails the fixture (the first failure is its reason); always returns -1. */
int fx_fail(struct fx_run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int fx_skip(struct fx_run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "step 3 expect" or "setup c agent". */
void fx_step_label(const struct fx_step *st, char *out, size_t size);
int fx_resolve(void *ctx, const char *name, uint64_t *out, char *why, size_t why_size);

/* fx_hv_steps.c: the same for target hv_sock (engine 3). */
int fx_hv_run_steps(struct fx_run *r);
int fx_hv_drain_unexpected(struct fx_run *r);

/* fx_conn.c: the credit view and the invariants. */
void fx_conn_reset_all(struct fx_run *r);
/* The connection a packet belongs to (-1): engine_side ports first when from_engine. */
int fx_conn_of(struct fx_run *r, const struct fx_hdr *h, int from_kernel);
/* Checks a packet from the kernel against the invariants: 0 holds, -1 failed (reason set). */
/* An agent call acts on the kernel: an RST after it is no answer to the engine's earlier RSTs. */
void fx_conn_forget_rsts(struct fx_run *r);
int fx_check_invariants(struct fx_run *r, const struct fx_hdr *h, size_t payload_len);
void fx_note_rx(struct fx_run *r, const struct fx_hdr *h, size_t payload_len);
void fx_note_tx(struct fx_run *r, int conn, const struct fx_hdr *h, size_t payload_len);
int fx_credit_check(void *ctx, int field, uint64_t got, char *why, size_t why_size);

/* fx_agent_steps.c */
int fx_agent_step(struct fx_run *r, const struct fx_step *st);
int fx_await_step(struct fx_run *r, const struct fx_step *st);
struct fx_sock *fx_sock_find(struct fx_run *r, const char *name, int create);
/* A plain agent call outside the fixture's steps (hello, reset, kmsg...): 1 with *reply. */
int fx_agent_plain(struct fx_run *r, json_object *req, uint32_t within_ms, json_object **reply,
		   char *why, size_t why_size);

/* fx_report.c */
void fx_remember(struct fx_run *r, int from_kernel, const struct fx_hdr *h, size_t payload_len);
void fx_trace_packet(struct fx_run *r, int from_kernel, const struct fx_hdr *h,
		     size_t payload_len);
void fx_trace_agent(struct fx_run *r, const char *what, json_object *reply);
void fx_trace_end(struct fx_run *r, const char *result, const char *reason);
/* A trace line {"fixture", "step", "event"} to add to, and writing it (it is freed). */
json_object *fx_trace_head(struct fx_run *r, const char *event);
void fx_trace_write(struct fx_run *r, json_object *o);
/* "ok N name # SKIP why": directive NULL, "SKIP why" or "XFAIL why"; failures get their "# " lines. */
void fx_ktap_result(struct fx_run *r, int number, const char *name, int ok, const char *directive);
void fx_ktap_diag(FILE *ktap, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
