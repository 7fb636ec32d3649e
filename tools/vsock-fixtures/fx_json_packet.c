/* fx_json_packet.c: a send, expect, expect_none or ignore entry → struct fx_packet_spec. */
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "fx_json.h"

/* send, expect, expect_none and ignore entries. */
int fx_parse_packet(struct fx_loader *l, json_object *o, int sending, const char *path,
		    struct fx_packet_spec *p)
{
	static const char *const match_keys[] = { "conn", "src_cid", "dst_cid", "src_port", "dst_port",
		"len", "type", "op", "flags", "buf_alloc", "fwd_cnt", "payload", NULL };
	static const char *const send_keys[] = { "conn", "src_cid", "dst_cid", "src_port", "dst_port",
		"len", "type", "op", "flags", "buf_alloc", "fwd_cnt", "payload", "repeat", "layout",
		"raw_header", NULL };
	char *err = l->err, sub[FX_PATH_MAX];
	size_t err_size = l->err_size;
	json_object *e;
	uint64_t n;

	memset(p, 0, sizeof(*p));
	p->conn = -1;
	p->repeat = 1;
	if (fx_want_type(o, json_type_object, "an object of header fields", path, err, err_size) ||
	    fx_check_keys(o, sending ? send_keys : match_keys, path, err, err_size))
		return -1;
	if (json_object_object_get_ex(o, "conn", &e)) {
		snprintf(sub, sizeof(sub), "%s.conn", path);
		if (fx_get_conn(l->fx, e, sub, &p->conn, err, err_size))
			return -1;
	}
	for (int f = 0; f < FX_N_FIELDS; f++) {
		if (!json_object_object_get_ex(o, fx_fields[f].name, &e))
			continue;
		snprintf(sub, sizeof(sub), "%s.%s", path, fx_fields[f].name);
		p->field[f] = fx_value_parse(e, f, 0, sending ? FX_VC_SEND : FX_VC_MATCH, sub,
					     l->arena, err, err_size);
		if (!p->field[f])
			return -1;
		p->given |= 1u << f;
	}
	if (sending && !p->field[FX_OP] && !json_object_object_get_ex(o, "raw_header", NULL))
		FAIL("%s: \"op\" is due (it has no default)", path);
	if (json_object_object_get_ex(o, "payload", &e)) {
		snprintf(sub, sizeof(sub), "%s.payload", path);
		if (!sending && json_object_is_type(e, json_type_object) &&
		    json_object_object_get_ex(e, "any_len", NULL)) {
			json_object *m;

			if (json_object_object_length(e) != 1)
				FAIL("%s: {\"any_len\": M} takes no other key", sub);
			json_object_object_get_ex(e, "any_len", &m);
			snprintf(sub + strlen(sub), sizeof(sub) - strlen(sub), ".any_len");
			p->any_len = fx_value_parse(m, FX_LEN, 0, FX_VC_MATCH, sub, l->arena, err, err_size);
			if (!p->any_len)
				return -1;
		} else {
			p->payload = fx_payload_parse(e, FX_PACKET_MAX - FX_HDR_SIZE, sub, l->arena, err,
						      err_size);
			if (!p->payload)
				return -1;
		}
	}
	if (json_object_object_get_ex(o, "repeat", &e)) {
		snprintf(sub, sizeof(sub), "%s.repeat", path);
		if (fx_get_range(e, 1, FX_REPEAT_MAX, sub, &n, err, err_size))
			return -1;
		p->repeat = (unsigned int)n;
	}
	if (json_object_object_get_ex(o, "layout", &e)) {
		size_t count, total = 0;

		snprintf(sub, sizeof(sub), "%s.layout", path);
		if (fx_want_type(e, json_type_array, "an array of descriptor sizes", sub, err, err_size))
			return -1;
		count = json_object_array_length(e);
		if (count == 0 || count > FX_LAYOUT_MAX)
			FAIL("%s: 1 to %d descriptor sizes are due", sub, FX_LAYOUT_MAX);
		for (size_t i = 0; i < count; i++) {
			snprintf(sub, sizeof(sub), "%s.layout[%zu]", path, i);
			if (fx_get_range(json_object_array_get_idx(e, i), 0, FX_PACKET_MAX, sub, &n, err,
					 err_size))
				return -1;
			p->layout[i] = (uint32_t)n;
			total += n;
		}
		p->n_layout = (int)count;
		/* The sizes must add up to the packet's bytes: checked when it is built. */
		(void)total;
	}
	if (json_object_object_get_ex(o, "raw_header", &e)) {
		const char *s;

		snprintf(sub, sizeof(sub), "%s.raw_header", path);
		if (fx_want_type(e, json_type_string, "88 hex digits", sub, err, err_size))
			return -1;
		s = json_object_get_string(e);
		if (json_object_get_string_len(e) != 2 * FX_HDR_SIZE ||
		    strspn(s, "0123456789abcdefABCDEF") != 2 * FX_HDR_SIZE)
			FAIL("%s: 88 hex digits (the 44 header bytes) are due", sub);
		for (int i = 0; i < FX_HDR_SIZE; i++) {
			unsigned int b;

			sscanf(s + 2 * i, "%2x", &b);
			p->raw_header[i] = (uint8_t)b;
		}
		p->has_raw_header = 1;
		if (p->given)
			FAIL("%s: raw_header replaces the whole header: no header field beside it", path);
	}
	return 0;
}
