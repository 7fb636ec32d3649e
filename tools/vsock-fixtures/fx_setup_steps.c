/* fx_setup_steps.c: the steps a connection's `setup` stands for, put before step 0. */
#include <stdio.h>
#include <string.h>

#include "fx_model.h"

/*
 * A connection's `setup` stands for the handshake most fixtures would otherwise repeat; its steps
 * run before step 0, in the order the connections are declared.
 *   kernel_listens:  agent listen <sock>_l on kernel_port; send REQUEST; expect RESPONSE;
 *                    agent accept <sock>_l as <sock>.
 *   kernel_connects: agent connect <sock> to $engine_cid:engine_port (wait false); expect
 *                    REQUEST; send RESPONSE; await <sock>.
 * Target hv_sock (a channel per connection):
 *   kernel_listens:  agent listen <sock>_l on kernel_port; offer (host-initiated); agent accept
 *                    <sock>_l as <sock>.
 *   kernel_connects: agent connect <sock> to $engine_cid:engine_port (wait false);
 *                    expect_tl_connect; offer (the answer); await <sock>.
 */
static struct fx_step *setup_step(struct fx_step *st, enum fx_step_kind kind, int conn,
				  const struct fx_conn *c, int op)
{
	memset(st, 0, sizeof(*st));
	st->kind = kind;
	st->index = -1;
	st->setup_of = c->name;
	st->pkt.conn = conn;
	st->pkt.repeat = 1;
	st->within_ms = kind == FX_STEP_EXPECT ? 2000 : 5000;
	st->agent.backlog = -1;
	st->agent.timeout_ms = -1;
	st->agent.len = -1;
	st->agent.wait = 1;
	st->agent.type = c->type == FX_TYPE_SEQPACKET ? "seqpacket" : "stream";
	(void)op;
	return st;
}

/* hv_sock's handshakes (the steps' kinds name what they do); returns the steps written. */
static int hv_setup(struct fx_fixture *fx, struct fx_arena *arena, int conn, struct fx_step *steps)
{
	const struct fx_conn *c = &fx->conns[conn];
	struct fx_step *st;
	int k = 0;

	if (c->setup == FX_SETUP_KERNEL_LISTENS) {
		st = setup_step(&steps[k++], FX_STEP_AGENT, conn, c, 0);
		st->agent.what = FX_DO_LISTEN;
		snprintf(st->agent.sock, FX_NAME_MAX, "%.40s_l", c->sock);
		st->agent.port = c->kernel_port;
		st = setup_step(&steps[k++], FX_STEP_HV_OFFER, conn, c, 0);
		st->conn = conn;
		st->hv_state = 2;	/* VSIM_CHAN_OPEN */
		st = setup_step(&steps[k++], FX_STEP_AGENT, conn, c, 0);
		st->agent.what = FX_DO_ACCEPT;
		snprintf(st->agent.sock, FX_NAME_MAX, "%.40s_l", c->sock);
		snprintf(st->agent.as, FX_NAME_MAX, "%s", c->sock);
		return k;
	}
	struct fx_value *cid = fx_alloc(arena, sizeof(*cid));

	cid->kind = FX_V_REF;
	snprintf(cid->name, sizeof(cid->name), "engine_cid");
	st = setup_step(&steps[k++], FX_STEP_AGENT, conn, c, 0);
	st->agent.what = FX_DO_CONNECT;
	snprintf(st->agent.sock, FX_NAME_MAX, "%s", c->sock);
	st->agent.cid = cid;
	st->agent.port = c->engine_port;
	st->agent.wait = 0;
	st = setup_step(&steps[k++], FX_STEP_HV_TL_CONNECT, conn, c, 0);
	st->conn = conn;
	st->within_ms = 2000;
	st = setup_step(&steps[k++], FX_STEP_HV_OFFER, conn, c, 0);
	st->conn = conn;
	st->hv_state = 2;
	st = setup_step(&steps[k++], FX_STEP_AWAIT, conn, c, 0);
	snprintf(st->await_sock, FX_NAME_MAX, "%s", c->sock);
	return k;
}

int fx_add_setup_steps(struct fx_fixture *fx, struct fx_arena *arena)
{
	int extra = 0, k = 0;
	struct fx_step *steps;

	for (int i = 0; i < fx->n_conns; i++)
		extra += fx->conns[i].setup != FX_SETUP_NONE ? 4 : 0;
	if (!extra)
		return 0;
	steps = fx_alloc(arena, (size_t)(extra + fx->n_steps) * sizeof(*steps));
	for (int i = 0; i < fx->n_conns; i++) {
		const struct fx_conn *c = &fx->conns[i];
		struct fx_value *op_req = fx_alloc(arena, sizeof(*op_req)),
				*op_resp = fx_alloc(arena, sizeof(*op_resp));
		struct fx_step *st;

		op_req->n = FX_OP_REQUEST;
		op_resp->n = FX_OP_RESPONSE;
		if (c->setup != FX_SETUP_NONE && fx->hv) {
			k += hv_setup(fx, arena, i, steps + k);
			continue;
		}
		if (c->setup == FX_SETUP_KERNEL_LISTENS) {
			st = setup_step(&steps[k++], FX_STEP_AGENT, i, c, 0);
			st->agent.what = FX_DO_LISTEN;
			snprintf(st->agent.sock, FX_NAME_MAX, "%.40s_l", c->sock);
			st->agent.port = c->kernel_port;
			st = setup_step(&steps[k++], FX_STEP_SEND, i, c, 0);
			st->pkt.field[FX_OP] = op_req;
			st->pkt.given = 1u << FX_OP;
			st = setup_step(&steps[k++], FX_STEP_EXPECT, i, c, 0);
			st->pkt.field[FX_OP] = op_resp;
			st->pkt.given = 1u << FX_OP;
			st = setup_step(&steps[k++], FX_STEP_AGENT, i, c, 0);
			st->agent.what = FX_DO_ACCEPT;
			snprintf(st->agent.sock, FX_NAME_MAX, "%.40s_l", c->sock);
			snprintf(st->agent.as, FX_NAME_MAX, "%s", c->sock);
		} else if (c->setup == FX_SETUP_KERNEL_CONNECTS) {
			struct fx_value *cid = fx_alloc(arena, sizeof(*cid));

			cid->kind = FX_V_REF;
			snprintf(cid->name, sizeof(cid->name), "engine_cid");
			st = setup_step(&steps[k++], FX_STEP_AGENT, i, c, 0);
			st->agent.what = FX_DO_CONNECT;
			snprintf(st->agent.sock, FX_NAME_MAX, "%s", c->sock);
			st->agent.cid = cid;
			st->agent.port = c->engine_port;
			st->agent.wait = 0;
			st = setup_step(&steps[k++], FX_STEP_EXPECT, i, c, 0);
			st->pkt.field[FX_OP] = op_req;
			st->pkt.given = 1u << FX_OP;
			st = setup_step(&steps[k++], FX_STEP_SEND, i, c, 0);
			st->pkt.field[FX_OP] = op_resp;
			st->pkt.given = 1u << FX_OP;
			st = setup_step(&steps[k++], FX_STEP_AWAIT, i, c, 0);
			snprintf(st->await_sock, FX_NAME_MAX, "%s", c->sock);
		}
	}
	memcpy(steps + k, fx->steps, (size_t)fx->n_steps * sizeof(*steps));
	fx->steps = steps;
	fx->n_steps += k;
	return 0;
}
