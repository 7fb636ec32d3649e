/* fx_json_result.c: the result of an agent call, await or engine act → struct fx_result. */
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "fx_json.h"

static const char *const errno_forms = "{\"errno\": \"ENAME\"}";

static int parse_errno_name(json_object *j, char *out, size_t size, const char *path, char *err,
			    size_t err_size)
{
	if (fx_copy_string(j, out, size, path, err, err_size))
		return -1;
	if (out[0] != 'E' || strlen(out) < 2 || strspn(out + 1, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") !=
	    strlen(out) - 1)
		FAIL("%s: \"%s\" is not an errno name such as \"ECONNRESET\"", path, out);
	return 0;
}

static struct fx_result *parse_result_rows(struct fx_loader *l, json_object *j, const char *path)
{
	char *err = l->err, sub[FX_PATH_MAX];
	size_t err_size = l->err_size;
	struct fx_result *r = fx_alloc(l->arena, sizeof(*r));
	json_object *rows;

	r->by = fx_alloc(l->arena, sizeof(*r->by));
	if (json_object_object_get_ex(j, "by_target", &rows)) {
		static const char *const names[] = { "virtio_transport", "vhost_vsock", NULL };

		snprintf(sub, sizeof(sub), "%s.by_target", path);
		if (fx_want_type(rows, json_type_object, "an object", sub, err, err_size) ||
		    fx_check_keys(rows, names, sub, err, err_size))
			return NULL;
		r->by->kind = FX_V_BY_TARGET;
		r->by->n_items = 2;
		r->rows = fx_alloc(l->arena, 2 * sizeof(*r->rows));
		for (int i = 0; i < 2; i++) {
			json_object *e;

			snprintf(sub, sizeof(sub), "%s.by_target.%s", path, names[i]);
			if (!json_object_object_get_ex(rows, names[i], &e)) {
				snprintf(err, err_size, "%s: missing", sub);
				return NULL;
			}
			if (!(r->rows[i] = fx_parse_result(l, e, sub)))
				return NULL;
		}
		return r;
	}
	json_object_object_get_ex(j, "by_kernel", &rows);
	snprintf(sub, sizeof(sub), "%s.by_kernel", path);
	if (!json_object_is_type(rows, json_type_array) || json_object_array_length(rows) == 0 ||
	    json_object_array_length(rows) > FX_ROWS_MAX) {
		snprintf(err, err_size, "%s: an array of 1 to %d {\"from\", \"is\"} rows is due", sub,
			 FX_ROWS_MAX);
		return NULL;
	}
	r->by->kind = FX_V_BY_KERNEL;
	r->by->n_items = (int)json_object_array_length(rows);
	r->by->versions = fx_alloc(l->arena, (size_t)r->by->n_items * sizeof(*r->by->versions));
	r->rows = fx_alloc(l->arena, (size_t)r->by->n_items * sizeof(*r->rows));
	for (int i = 0; i < r->by->n_items; i++) {
		static const char *const keys[] = { "from", "is", "evidence", NULL };
		json_object *row = json_object_array_get_idx(rows, (size_t)i), *from, *is;

		snprintf(sub, sizeof(sub), "%s.by_kernel[%d]", path, i);
		if (fx_want_type(row, json_type_object, "a {\"from\", \"is\"} row", sub, err, err_size) ||
		    fx_check_keys(row, keys, sub, err, err_size))
			return NULL;
		if (!json_object_object_get_ex(row, "from", &from) ||
		    !json_object_object_get_ex(row, "is", &is)) {
			snprintf(err, err_size, "%s: \"from\" and \"is\" are due", sub);
			return NULL;
		}
		if (!json_object_is_type(from, json_type_string) ||
		    fx_kver_parse(json_object_get_string(from), &r->by->versions[i])) {
			snprintf(err, err_size, "%s.from: a version such as \"6.1\" is due", sub);
			return NULL;
		}
		if (i > 0 && vsc_kver_cmp(&r->by->versions[i - 1], &r->by->versions[i]) >= 0) {
			snprintf(err, err_size, "%s.from: rows must be in rising version order", sub);
			return NULL;
		}
		snprintf(sub + strlen(sub), sizeof(sub) - strlen(sub), ".is");
		if (!(r->rows[i] = fx_parse_result(l, is, sub)))
			return NULL;
	}
	return r;
}

/*
 * A result: 0 (ret 0, no errno), "any", or an object of checks: errno, value (ret), data (recv
 * bytes), so_error, revents, msg_flags, peer_cid, peer_port, diag; or by_kernel / by_target rows.
 */
struct fx_result *fx_parse_result(struct fx_loader *l, json_object *j, const char *path)
{
	static const char *const keys[] = { "errno", "value", "data", "so_error", "revents",
		"msg_flags", "peer_cid", "peer_port", "diag", NULL };
	static const char *const diag_keys[] = { "state", "shutdown", "rqueue", "wqueue", NULL };
	static const char *const states[] = { "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1",
		"FIN_WAIT2", "TIME_WAIT", "CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING", NULL };
	char *err = l->err, sub[FX_PATH_MAX];
	size_t err_size = l->err_size;
	struct fx_result *r;
	json_object *e;

	if (json_object_is_type(j, json_type_object) && json_object_object_length(j) == 1 &&
	    (json_object_object_get_ex(j, "by_kernel", NULL) ||
	     json_object_object_get_ex(j, "by_target", NULL)))
		return parse_result_rows(l, j, path);
	r = fx_alloc(l->arena, sizeof(*r));
	if (json_object_is_type(j, json_type_string) && !strcmp(json_object_get_string(j), "any")) {
		r->any = 1;
		return r;
	}
	if (json_object_is_type(j, json_type_int) && json_object_get_int64(j) == 0) {
		r->value = fx_alloc(l->arena, sizeof(*r->value));
		return r;	/* FX_V_INT 0 */
	}
	if (!json_object_is_type(j, json_type_object) ||
	    fx_check_keys(j, keys, path, err, err_size)) {
		if (!json_object_is_type(j, json_type_object))
			snprintf(err, err_size, "%s: a result is 0, \"any\", %s or an object of checks (value, data, so_error, revents, msg_flags, peer_cid, peer_port, diag)",
				 path, errno_forms);
		return NULL;
	}
	if (json_object_object_get_ex(j, "errno", &e)) {
		snprintf(sub, sizeof(sub), "%s.errno", path);
		if (parse_errno_name(e, r->errno_name, sizeof(r->errno_name), sub, err, err_size))
			return NULL;
		r->is_errno = 1;
	}
#define MATCHER(key, member, width) \
	if (json_object_object_get_ex(j, key, &e)) { \
		snprintf(sub, sizeof(sub), "%s." key, path); \
		if (!(r->member = fx_value_parse(e, -1, width, FX_VC_MATCH, sub, l->arena, err, err_size))) \
			return NULL; \
	}
	MATCHER("value", value, 8)
	MATCHER("revents", revents, 4)
	MATCHER("msg_flags", msg_flags, 4)
	MATCHER("peer_cid", peer_cid, 8)
	MATCHER("peer_port", peer_port, 4)
#undef MATCHER
	if (json_object_object_get_ex(j, "data", &e)) {
		snprintf(sub, sizeof(sub), "%s.data", path);
		if (!(r->data = fx_payload_parse(e, FX_PAYLOAD_MAX, sub, l->arena, err, err_size)))
			return NULL;
	}
	if (json_object_object_get_ex(j, "so_error", &e)) {
		snprintf(sub, sizeof(sub), "%s.so_error", path);
		r->has_so_error = 1;
		if (json_object_is_type(e, json_type_int) && json_object_get_int64(e) == 0)
			snprintf(r->so_error, sizeof(r->so_error), "0");
		else if (parse_errno_name(e, r->so_error, sizeof(r->so_error), sub, err, err_size))
			return NULL;
	}
	if (json_object_object_get_ex(j, "diag", &e)) {
		json_object *d;

		snprintf(sub, sizeof(sub), "%s.diag", path);
		if (fx_want_type(e, json_type_object, "an object of sock_diag checks", sub, err, err_size) ||
		    fx_check_keys(e, diag_keys, sub, err, err_size))
			return NULL;
		if (json_object_object_get_ex(e, "state", &d)) {
			snprintf(sub, sizeof(sub), "%s.diag.state", path);
			if (fx_copy_string(d, r->diag_state, sizeof(r->diag_state), sub, err, err_size))
				return NULL;
			if (!fx_in_list(r->diag_state, states) && strcmp(r->diag_state, "absent")) {
				snprintf(err, err_size, "%s: unknown state \"%s\" (ESTABLISHED, LISTEN, CLOSE, ... or absent)",
					 sub, r->diag_state);
				return NULL;
			}
		}
#define DIAG(key, member) \
		if (json_object_object_get_ex(e, key, &d)) { \
			snprintf(sub, sizeof(sub), "%s.diag." key, path); \
			if (!(r->member = fx_value_parse(d, -1, 4, FX_VC_MATCH, sub, l->arena, err, err_size))) \
				return NULL; \
		}
		DIAG("shutdown", diag_shutdown)
		DIAG("rqueue", diag_rqueue)
		DIAG("wqueue", diag_wqueue)
#undef DIAG
	}
	return r;
}
