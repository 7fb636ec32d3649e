/*
 * fx_json_hv.c: the parts of a format-1 fixture that only target hv_sock has: its packets (a
 * VMBus descriptor and hv_sock's pipe header, or raw bytes) and its steps (expect_tl_connect,
 * offer, send_fin, expect_fin, rescind, expect_event). Shared steps (agent, await) and the
 * fixture's top level stay in fx_json_step.c and fx_json_fixture.c.
 */
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "fx_json.h"

/* Offsets from the descriptor's start (include/linux/hyperv.h, hyperv_transport.c). */
const struct fx_field_info fx_hv_fields[FX_HV_N_FIELDS] = {
	[FX_HV_TYPE] = { "type", 0, 2 },
	[FX_HV_OFFSET8] = { "offset8", 2, 2 },
	[FX_HV_LEN8] = { "len8", 4, 2 },
	[FX_HV_FLAGS] = { "flags", 6, 2 },
	[FX_HV_TRANS_ID] = { "trans_id", 8, 8 },
	[FX_HV_PKT_TYPE] = { "pkt_type", 16, 4 },
	[FX_HV_DATA_SIZE] = { "data_size", 20, 4 },
};

/* by_target picks between the two virtio engines: it has no row for hv_sock. */
static int no_by_target(json_object *j, const char *path, char *err, size_t err_size)
{
	if (json_object_is_type(j, json_type_object)) {
		json_object_object_foreach(j, key, val) {
			if (!strcmp(key, "by_target"))
				FAIL("%s: by_target has no row for target hv_sock", path);
			if (no_by_target(val, path, err, err_size))
				return -1;
		}
	} else if (json_object_is_type(j, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(j); i++)
			if (no_by_target(json_object_array_get_idx(j, i), path, err, err_size))
				return -1;
	}
	return 0;
}

static int hv_conn(struct fx_loader *l, json_object *o, const char *path, int required, int *conn)
{
	char *err = l->err, sub[FX_PATH_MAX];
	size_t err_size = l->err_size;
	json_object *e;

	*conn = -1;
	snprintf(sub, sizeof(sub), "%s.conn", path);
	if (!json_object_object_get_ex(o, "conn", &e)) {
		if (required)
			FAIL("%s: missing (the connection whose channel this is)", sub);
		return 0;
	}
	return fx_get_conn(l->fx, e, sub, conn, err, err_size);
}

/* send, expect and expect_none bodies. */
int fx_parse_hv_packet(struct fx_loader *l, json_object *o, int kind, const char *path,
		       struct fx_packet_spec *p, struct fx_result **result)
{
	static const char *const send_keys[] = { "conn", "type", "offset8", "len8", "flags",
		"trans_id", "pkt_type", "data_size", "payload", "raw", "result", NULL };
	static const char *const expect_keys[] = { "conn", "type", "offset8", "len8", "flags",
		"trans_id", "pkt_type", "data_size", "payload", NULL };
	static const char *const none_keys[] = { "conn", NULL };
	const char *const *keys = kind == FX_STEP_SEND ? send_keys :
		kind == FX_STEP_EXPECT ? expect_keys : none_keys;
	char *err = l->err, sub[FX_PATH_MAX];
	size_t err_size = l->err_size;
	json_object *e;

	memset(p, 0, sizeof(*p));
	p->repeat = 1;
	if (fx_want_type(o, json_type_object, "an object", path, err, err_size) ||
	    fx_check_keys(o, keys, path, err, err_size) || no_by_target(o, path, err, err_size) ||
	    hv_conn(l, o, path, kind != FX_STEP_EXPECT_NONE && kind != FX_STEP_EXPECT, &p->conn))
		return -1;
	for (int f = 0; f < FX_HV_N_FIELDS; f++) {
		if (!json_object_object_get_ex(o, fx_hv_fields[f].name, &e))
			continue;
		snprintf(sub, sizeof(sub), "%s.%s", path, fx_hv_fields[f].name);
		p->hv[f] = fx_value_parse(e, -1, fx_hv_fields[f].width,
					  kind == FX_STEP_SEND ? FX_VC_SEND : FX_VC_MATCH, sub, l->arena,
					  err, err_size);
		if (!p->hv[f])
			return -1;
		p->hv_given |= 1u << f;
	}
	if (json_object_object_get_ex(o, "payload", &e)) {
		snprintf(sub, sizeof(sub), "%s.payload", path);
		if (!(p->payload = fx_payload_parse(e, FX_HV_PACKET_MAX - FX_HV_HEADER_SIZE, sub,
						    l->arena, err, err_size)))
			return -1;
	}
	if (json_object_object_get_ex(o, "raw", &e)) {
		snprintf(sub, sizeof(sub), "%s.raw", path);
		if (p->hv_given || p->payload)
			FAIL("%s: raw is the whole packet: no field or payload beside it", sub);
		if (!(p->hv_raw = fx_payload_parse(e, FX_HV_PACKET_MAX, sub, l->arena, err, err_size)))
			return -1;
		/* The ring holds 8-byte units: vmbus_sim refuses other lengths (EINVAL). */
		if (p->hv_raw->len == 0 || p->hv_raw->len % 8)
			FAIL("%s: %zu bytes; a packet is a multiple of 8 bytes, at least 8", sub,
			     p->hv_raw->len);
	}
	if (json_object_object_get_ex(o, "result", &e)) {
		snprintf(sub, sizeof(sub), "%s.result", path);
		if (!(*result = fx_parse_result(l, e, sub)))
			return -1;
	}
	return 0;
}

/* The hv_sock-only steps. */
int fx_parse_hv_step(struct fx_loader *l, json_object *o, const char *path, struct fx_step *st)
{
	static const char *const conn_keys[] = { "conn", NULL };
	static const char *const result_keys[] = { "conn", "result", NULL };
	static const char *const offer_keys[] = { "conn", "state", NULL };
	static const char *const event_keys[] = { "conn", "event", NULL };
	static const char *const tl_keys[] = { "conn", "kernel_port", "engine_port", NULL };
	static const char *const events[] = { "opened", "guest_closed", "wait_rescind", NULL };
	const char *const *keys = st->kind == FX_STEP_HV_OFFER ? offer_keys :
		st->kind == FX_STEP_HV_EVENT ? event_keys :
		st->kind == FX_STEP_HV_TL_CONNECT ? tl_keys :
		st->kind == FX_STEP_HV_SEND_FIN || st->kind == FX_STEP_HV_RESCIND ? result_keys :
		conn_keys;
	char *err = l->err, sub[FX_PATH_MAX];
	size_t err_size = l->err_size;
	json_object *e;

	if (fx_want_type(o, json_type_object, "an object {\"conn\", ...}", path, err, err_size) ||
	    fx_check_keys(o, keys, path, err, err_size) || no_by_target(o, path, err, err_size) ||
	    hv_conn(l, o, path, 1, &st->conn))
		return -1;
	st->pkt.conn = st->conn;
	st->hv_state = 2;	/* VSIM_CHAN_OPEN */
	if (json_object_object_get_ex(o, "state", &e)) {
		const char *s = json_object_get_string(e);

		if (!json_object_is_type(e, json_type_string) ||
		    !fx_in_list(s, (const char *const[]){ "open", "offered", NULL }))
			FAIL("%s.state: \"open\" (hv_sock opened the channel) or \"offered\" is due", path);
		st->hv_state = !strcmp(s, "open") ? 2 : 1;
	}
	if (st->kind == FX_STEP_HV_EVENT) {
		const char *s;

		if (!json_object_object_get_ex(o, "event", &e) || !json_object_is_type(e, json_type_string) ||
		    !fx_in_list((s = json_object_get_string(e)), events))
			FAIL("%s.event: \"opened\", \"guest_closed\" or \"wait_rescind\" is due", path);
		st->hv_event = !strcmp(s, "opened") ? FX_HV_EV_OPENED :
			!strcmp(s, "guest_closed") ? FX_HV_EV_GUEST_CLOSED : FX_HV_EV_WAIT_RESCIND;
	}
	if (st->kind == FX_STEP_HV_TL_CONNECT) {
		/* The request's endpoints as ports; the connection's by default. */
		if (json_object_object_get_ex(o, "kernel_port", &e)) {
			snprintf(sub, sizeof(sub), "%s.kernel_port", path);
			if (!(st->pkt.field[FX_SRC_PORT] = fx_value_parse(e, FX_SRC_PORT, 0, FX_VC_MATCH, sub,
									  l->arena, err, err_size)))
				return -1;
		}
		if (json_object_object_get_ex(o, "engine_port", &e)) {
			snprintf(sub, sizeof(sub), "%s.engine_port", path);
			if (!(st->pkt.field[FX_DST_PORT] = fx_value_parse(e, FX_DST_PORT, 0, FX_VC_MATCH, sub,
									  l->arena, err, err_size)))
				return -1;
		}
	}
	if (json_object_object_get_ex(o, "result", &e)) {
		snprintf(sub, sizeof(sub), "%s.result", path);
		if (!(st->result = fx_parse_result(l, e, sub)))
			return -1;
	}
	return 0;
}

/* A connection's "initiator" (hv_sock): who opens it, "kernel" (the default with setup
 * kernel_connects) or "engine" (the default with kernel_listens); required without setup. */
int fx_parse_hv_initiator(struct fx_loader *l, json_object *o, const char *path, struct fx_conn *c)
{
	char *err = l->err;
	size_t err_size = l->err_size;
	json_object *e;
	const char *s;

	if (!json_object_object_get_ex(o, "initiator", &e)) {
		if (c->setup == FX_SETUP_NONE)
			FAIL("%s.initiator: missing (\"kernel\" or \"engine\"; setup gives a default)", path);
		c->engine_initiates = c->setup == FX_SETUP_KERNEL_LISTENS;
		return 0;
	}
	if (!json_object_is_type(e, json_type_string) ||
	    !fx_in_list((s = json_object_get_string(e)), (const char *const[]){ "kernel", "engine", NULL }))
		FAIL("%s.initiator: \"kernel\" (the guest connects) or \"engine\" (the host offers) is due",
		     path);
	c->engine_initiates = !strcmp(s, "engine");
	if ((c->setup == FX_SETUP_KERNEL_LISTENS && !c->engine_initiates) ||
	    (c->setup == FX_SETUP_KERNEL_CONNECTS && c->engine_initiates))
		FAIL("%s.initiator: \"%s\" contradicts setup", path, s);
	return 0;
}
