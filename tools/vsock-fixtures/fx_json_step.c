/* fx_json_step.c: one entry of $.steps → struct fx_step (engine steps here, the rest by kind). */
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "fx_json.h"

static int parse_engine(struct fx_loader *l, json_object *o, const char *path, struct fx_step *st)
{
	static const char *const keys[] = { "do", "conn", "bytes", "cid", "result", NULL };
	static const char *const acts[] = { "transport_reset", "device_stop", "device_close",
		"set_guest_cid", NULL };
	char *err = l->err, sub[FX_PATH_MAX];
	size_t err_size = l->err_size;
	json_object *e;
	const char *what;

	if (fx_want_type(o, json_type_object, "an object {\"do\", ...}", path, err, err_size) ||
	    fx_check_keys(o, keys, path, err, err_size))
		return -1;
	if (!json_object_object_get_ex(o, "do", &e) || !json_object_is_type(e, json_type_string))
		FAIL("%s.do: consume, transport_reset, device_stop, device_close or set_guest_cid is due",
		     path);
	what = json_object_get_string(e);
	st->conn = -1;
	if (!strcmp(what, "consume")) {
		st->engine_do = FX_ENGINE_CONSUME;
		snprintf(sub, sizeof(sub), "%s.conn", path);
		if (!json_object_object_get_ex(o, "conn", &e) || !json_object_object_get_ex(o, "bytes", NULL))
			FAIL("%s: consume needs \"conn\" and \"bytes\"", path);
		if (fx_get_conn(l->fx, e, sub, &st->conn, err, err_size))
			return -1;
		json_object_object_get_ex(o, "bytes", &e);
		snprintf(sub, sizeof(sub), "%s.bytes", path);
		if (fx_get_range(e, 0, UINT32_MAX, sub, &st->bytes, err, err_size))
			return -1;
		if (json_object_object_get_ex(o, "cid", NULL) || json_object_object_get_ex(o, "result", NULL))
			FAIL("%s: consume takes conn and bytes only", path);
		return 0;
	}
	if (!fx_in_list(what, acts))
		FAIL("%s.do: unknown engine act \"%s\"", path, what);
	st->engine_do = FX_ENGINE_ACT;
	snprintf(st->act, sizeof(st->act), "%s", what);
	if (json_object_object_get_ex(o, "conn", NULL) || json_object_object_get_ex(o, "bytes", NULL))
		FAIL("%s: %s takes no conn or bytes", path, what);
	if (json_object_object_get_ex(o, "cid", &e)) {
		snprintf(sub, sizeof(sub), "%s.cid", path);
		if (!(st->act_arg = fx_value_parse(e, FX_DST_CID, 0, FX_VC_SEND, sub, l->arena, err, err_size)))
			return -1;
	} else if (!strcmp(what, "set_guest_cid")) {
		FAIL("%s: set_guest_cid needs \"cid\"", path);
	}
	if (json_object_object_get_ex(o, "result", &e)) {
		snprintf(sub, sizeof(sub), "%s.result", path);
		if (!(st->result = fx_parse_result(l, e, sub)))
			return -1;
	}
	return 0;
}

const char *const fx_step_kind_names[] = { "send", "expect", "expect_none", "agent", "await", "engine",
	"expect_tl_connect", "offer", "send_fin", "expect_fin", "rescind", "expect_event" };

/* 1 when a step of this kind belongs in a fixture of this target (hv: hv_sock or not). */
static int kind_fits(int kind, int hv)
{
	if (kind == FX_STEP_ENGINE)
		return !hv;
	return kind < FX_STEP_HV_TL_CONNECT || hv;
}

static int get_ms(json_object *o, const char *key, uint32_t def, uint32_t max, const char *path,
		  uint32_t *out, char *err, size_t err_size)
{
	json_object *e;
	char sub[FX_PATH_MAX];
	uint64_t n;

	*out = def;
	if (!json_object_object_get_ex(o, key, &e))
		return 0;
	snprintf(sub, sizeof(sub), "%s.%s", path, key);
	if (fx_get_range(e, 0, max, sub, &n, err, err_size))
		return -1;
	*out = (uint32_t)n;
	return 0;
}

int fx_parse_step(struct fx_loader *l, json_object *o, int index, struct fx_step *st)
{
	static const char *const extra[][4] = {
		[FX_STEP_SEND] = { NULL },
		[FX_STEP_EXPECT] = { "within_ms", "not_before_ms", NULL },
		[FX_STEP_EXPECT_NONE] = { "for_ms", NULL },
		[FX_STEP_AGENT] = { "within_ms", NULL },
		[FX_STEP_AWAIT] = { "within_ms", "result", NULL },
		[FX_STEP_ENGINE] = { NULL },
		[FX_STEP_HV_TL_CONNECT] = { "within_ms", NULL },
		[FX_STEP_HV_OFFER] = { NULL },
		[FX_STEP_HV_SEND_FIN] = { NULL },
		[FX_STEP_HV_EXPECT_FIN] = { "within_ms", NULL },
		[FX_STEP_HV_RESCIND] = { NULL },
		[FX_STEP_HV_EVENT] = { "within_ms", NULL },
	};
	int hv = l->fx->hv;
	char *err = l->err, path[FX_PATH_MAX], sub[FX_PATH_MAX];
	size_t err_size = l->err_size;
	int kind = -1;
	json_object *body = NULL, *e;

	snprintf(path, sizeof(path), "$.steps[%d]", index);
	st->index = index;
	if (fx_want_type(o, json_type_object, "a step object with one kind key", path, err, err_size))
		return -1;
	for (int k = 0; k < FX_STEP_KINDS; k++)
		if (kind_fits(k, hv) && json_object_object_get_ex(o, fx_step_kind_names[k], &e)) {
			if (kind >= 0)
				FAIL("%s: \"%s\" and \"%s\" in one step (one kind key per step)", path,
				     fx_step_kind_names[kind], fx_step_kind_names[k]);
			kind = k;
			body = e;
		}
	if (kind < 0 && hv)
		FAIL("%s: no kind key (send, expect, expect_none, agent, await, expect_tl_connect, offer, "
		     "send_fin, expect_fin, rescind or expect_event)", path);
	if (kind < 0)
		FAIL("%s: no kind key (send, expect, expect_none, agent, await or engine)", path);
	st->kind = kind;
	json_object_object_foreach(o, key, val) {
		(void)val;
		if (strcmp(key, fx_step_kind_names[kind]) && strcmp(key, "note") &&
		    !fx_in_list(key, extra[kind]))
			FAIL("%s: unknown key \"%s\" in a step of kind %s", path, key,
			     fx_step_kind_names[kind]);
	}
	if (json_object_object_get_ex(o, "note", &e) &&
	    fx_want_type(e, json_type_string, "a string", path, err, err_size))
		return -1;
	snprintf(sub, sizeof(sub), "%s.%s", path, fx_step_kind_names[kind]);
	if (hv && (kind == FX_STEP_SEND || kind == FX_STEP_EXPECT || kind == FX_STEP_EXPECT_NONE)) {
		if (get_ms(o, "within_ms", 2000, 600000, path, &st->within_ms, err, err_size) ||
		    get_ms(o, "not_before_ms", 0, 600000, path, &st->not_before_ms, err, err_size) ||
		    get_ms(o, "for_ms", 300, 600000, path, &st->for_ms, err, err_size))
			return -1;
		if (st->not_before_ms > st->within_ms)
			FAIL("%s: not_before_ms %u is after within_ms %u", path, st->not_before_ms,
			     st->within_ms);
		return fx_parse_hv_packet(l, body, kind, sub, &st->pkt, &st->result);
	}
	if (kind >= FX_STEP_HV_TL_CONNECT) {
		if (get_ms(o, "within_ms", 2000, 600000, path, &st->within_ms, err, err_size))
			return -1;
		return fx_parse_hv_step(l, body, sub, st);
	}
	switch (kind) {
	case FX_STEP_SEND:
		return fx_parse_packet(l, body, 1, sub, &st->pkt);
	case FX_STEP_EXPECT:
		if (get_ms(o, "within_ms", 2000, 600000, path, &st->within_ms, err, err_size) ||
		    get_ms(o, "not_before_ms", 0, 600000, path, &st->not_before_ms, err, err_size))
			return -1;
		if (st->not_before_ms > st->within_ms)
			FAIL("%s: not_before_ms %u is after within_ms %u", path, st->not_before_ms,
			     st->within_ms);
		return fx_parse_packet(l, body, 0, sub, &st->pkt);
	case FX_STEP_EXPECT_NONE:
		if (get_ms(o, "for_ms", 300, 600000, path, &st->for_ms, err, err_size))
			return -1;
		return fx_parse_packet(l, body, 0, sub, &st->pkt);
	case FX_STEP_AGENT:
		if (get_ms(o, "within_ms", 5000, 600000, path, &st->within_ms, err, err_size))
			return -1;
		return fx_parse_agent(l, body, sub, st);
	case FX_STEP_AWAIT:
		if (get_ms(o, "within_ms", 5000, 600000, path, &st->within_ms, err, err_size) ||
		    fx_get_name(body, st->await_sock, sub, err, err_size))
			return -1;
		if (json_object_object_get_ex(o, "result", &e)) {
			snprintf(sub, sizeof(sub), "%s.result", path);
			if (!(st->result = fx_parse_result(l, e, sub)))
				return -1;
		}
		return 0;
	default:
		return parse_engine(l, body, sub, st);
	}
}
