/*
 * fx_json.c: a fixture file (format vsockcheck-fixture/1) → struct fx_fixture, with every key,
 * type and range checked and each error naming its $.path. The array form goes to fx_legacy.c.
 *
 * json-c keeps no positions, so errors name the path but not the line (the runner's checker,
 * runner/vsc/fixture_check.py, names both). json-c also keeps only the last of duplicate keys
 * without a word: that cannot be seen from here, the runner's checker refuses them.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "fx_eval.h"

#define FAIL(...) do { snprintf(err, err_size, __VA_ARGS__); return -1; } while (0)

struct loader {
	struct fx_fixture *fx;
	struct fx_arena *arena;
	char *err;
	size_t err_size;
};

struct fx_arena_chunk {
	struct fx_arena_chunk *next;
	max_align_t data[];
};

void *fx_alloc(struct fx_arena *arena, size_t size)
{
	struct fx_arena_chunk *c = calloc(1, sizeof(*c) + size);

	if (!c) {
		fprintf(stderr, "vsock-fixtures: out of memory (%zu bytes)\n", size);
		abort();
	}
	c->next = arena->chunks;
	arena->chunks = c;
	return c->data;
}

void fx_arena_free(struct fx_arena *arena)
{
	while (arena->chunks) {
		struct fx_arena_chunk *next = arena->chunks->next;

		free(arena->chunks);
		arena->chunks = next;
	}
}

static int in_list(const char *key, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(key, *list) == 0)
			return 1;
	return 0;
}

static int check_keys(json_object *o, const char *const *allowed, const char *path, char *err,
		      size_t err_size)
{
	json_object_object_foreach(o, key, val) {
		(void)val;
		if (!in_list(key, allowed))
			FAIL("%s: unknown key \"%s\"", path, key);
	}
	return 0;
}

static int want_type(json_object *j, json_type type, const char *what, const char *path,
		     char *err, size_t err_size)
{
	if (!json_object_is_type(j, type))
		FAIL("%s: %s is due", path, what);
	return 0;
}

/* An integer in [lo, hi]. */
static int get_range(json_object *j, uint64_t lo, uint64_t hi, const char *path, uint64_t *out,
		     char *err, size_t err_size)
{
	if (fx_int_parse(j, 8, path, out, err, err_size))
		return -1;
	if (*out < lo || *out > hi)
		FAIL("%s: %" PRIu64 " is outside [%" PRIu64 ", %" PRIu64 "]", path, *out, lo, hi);
	return 0;
}

static int copy_string(json_object *j, char *out, size_t size, const char *path, char *err,
		       size_t err_size)
{
	if (want_type(j, json_type_string, "a string", path, err, err_size))
		return -1;
	if ((size_t)json_object_get_string_len(j) >= size)
		FAIL("%s: longer than %zu characters", path, size - 1);
	memcpy(out, json_object_get_string(j), (size_t)json_object_get_string_len(j) + 1);
	return 0;
}

static int get_name(json_object *j, char *out, const char *path, char *err, size_t err_size)
{
	if (copy_string(j, out, FX_NAME_MAX, path, err, err_size))
		return -1;
	if (!fx_name_ok(out))
		FAIL("%s: \"%s\" is not a name (lower case letters, digits, _)", path, out);
	return 0;
}

static int conn_index(const struct fx_fixture *fx, json_object *j, const char *path, int *out,
		      char *err, size_t err_size)
{
	if (want_type(j, json_type_string, "a connection name", path, err, err_size))
		return -1;
	for (int i = 0; i < fx->n_conns; i++)
		if (strcmp(fx->conns[i].name, json_object_get_string(j)) == 0) {
			*out = i;
			return 0;
		}
	FAIL("%s: no connection \"%s\"", path, json_object_get_string(j));
}

/* send, expect, expect_none and ignore entries. */
static int parse_packet(struct loader *l, json_object *o, int sending, const char *path,
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
	if (want_type(o, json_type_object, "an object of header fields", path, err, err_size) ||
	    check_keys(o, sending ? send_keys : match_keys, path, err, err_size))
		return -1;
	if (json_object_object_get_ex(o, "conn", &e)) {
		snprintf(sub, sizeof(sub), "%s.conn", path);
		if (conn_index(l->fx, e, sub, &p->conn, err, err_size))
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
		if (get_range(e, 1, FX_REPEAT_MAX, sub, &n, err, err_size))
			return -1;
		p->repeat = (unsigned int)n;
	}
	if (json_object_object_get_ex(o, "layout", &e)) {
		size_t count, total = 0;

		snprintf(sub, sizeof(sub), "%s.layout", path);
		if (want_type(e, json_type_array, "an array of descriptor sizes", sub, err, err_size))
			return -1;
		count = json_object_array_length(e);
		if (count == 0 || count > FX_LAYOUT_MAX)
			FAIL("%s: 1 to %d descriptor sizes are due", sub, FX_LAYOUT_MAX);
		for (size_t i = 0; i < count; i++) {
			snprintf(sub, sizeof(sub), "%s.layout[%zu]", path, i);
			if (get_range(json_object_array_get_idx(e, i), 0, FX_PACKET_MAX, sub, &n, err,
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
		if (want_type(e, json_type_string, "88 hex digits", sub, err, err_size))
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

static const char *const errno_forms = "{\"errno\": \"ENAME\"}";

static int parse_errno_name(json_object *j, char *out, size_t size, const char *path, char *err,
			    size_t err_size)
{
	if (copy_string(j, out, size, path, err, err_size))
		return -1;
	if (out[0] != 'E' || strlen(out) < 2 || strspn(out + 1, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") !=
	    strlen(out) - 1)
		FAIL("%s: \"%s\" is not an errno name such as \"ECONNRESET\"", path, out);
	return 0;
}

static struct fx_result *parse_result(struct loader *l, json_object *j, const char *path);

static struct fx_result *parse_result_rows(struct loader *l, json_object *j, const char *path)
{
	char *err = l->err, sub[FX_PATH_MAX];
	size_t err_size = l->err_size;
	struct fx_result *r = fx_alloc(l->arena, sizeof(*r));
	json_object *rows;

	r->by = fx_alloc(l->arena, sizeof(*r->by));
	if (json_object_object_get_ex(j, "by_target", &rows)) {
		static const char *const names[] = { "virtio_transport", "vhost_vsock", NULL };

		snprintf(sub, sizeof(sub), "%s.by_target", path);
		if (want_type(rows, json_type_object, "an object", sub, err, err_size) ||
		    check_keys(rows, names, sub, err, err_size))
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
			if (!(r->rows[i] = parse_result(l, e, sub)))
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
		if (want_type(row, json_type_object, "a {\"from\", \"is\"} row", sub, err, err_size) ||
		    check_keys(row, keys, sub, err, err_size))
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
		if (i > 0 && fx_kver_cmp(&r->by->versions[i - 1], &r->by->versions[i]) >= 0) {
			snprintf(err, err_size, "%s.from: rows must be in rising version order", sub);
			return NULL;
		}
		snprintf(sub + strlen(sub), sizeof(sub) - strlen(sub), ".is");
		if (!(r->rows[i] = parse_result(l, is, sub)))
			return NULL;
	}
	return r;
}

/*
 * A result: 0 (ret 0, no errno), "any", or an object of checks: errno, value (ret), data (recv
 * bytes), so_error, revents, msg_flags, peer_cid, peer_port, diag; or by_kernel / by_target rows.
 */
static struct fx_result *parse_result(struct loader *l, json_object *j, const char *path)
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
	    check_keys(j, keys, path, err, err_size)) {
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
		if (want_type(e, json_type_object, "an object of sock_diag checks", sub, err, err_size) ||
		    check_keys(e, diag_keys, sub, err, err_size))
			return NULL;
		if (json_object_object_get_ex(e, "state", &d)) {
			snprintf(sub, sizeof(sub), "%s.diag.state", path);
			if (copy_string(d, r->diag_state, sizeof(r->diag_state), sub, err, err_size))
				return NULL;
			if (!in_list(r->diag_state, states) && strcmp(r->diag_state, "absent")) {
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

const char *const fx_agent_do_names[] = { "bind", "listen", "connect", "accept", "send", "recv",
	"shutdown", "close", "setsockopt", "getsockopt", "poll", "diag", "getsockname", NULL };

/* Which keys each agent call takes (besides do, sock, wait, result), and which it needs. */
static const struct {
	const char *const allowed[10];
	const char *const needed[3];
} agent_keys[] = {
	[FX_DO_BIND] = { { "type", "cid", "port" }, { "port" } },
	[FX_DO_LISTEN] = { { "type", "cid", "port", "backlog" }, { "port" } },
	[FX_DO_CONNECT] = { { "type", "cid", "port", "nonblock", "timeout_ms" }, { "cid", "port" } },
	[FX_DO_ACCEPT] = { { "as", "nonblock" }, { "as" } },
	[FX_DO_SEND] = { { "data", "flags" }, { "data" } },
	[FX_DO_RECV] = { { "len", "flags" }, { "len" } },
	[FX_DO_SHUTDOWN] = { { "how" }, { "how" } },
	[FX_DO_CLOSE] = { { NULL }, { NULL } },
	[FX_DO_SETSOCKOPT] = { { "level", "opt", "value" }, { "opt", "value" } },
	[FX_DO_GETSOCKOPT] = { { "level", "opt" }, { "opt" } },
	[FX_DO_POLL] = { { "events", "timeout_ms" }, { "events" } },
	[FX_DO_DIAG] = { { NULL }, { NULL } },
	[FX_DO_GETSOCKNAME] = { { NULL }, { NULL } },
};

static int parse_names(json_object *e, const char *const *allowed, char (*out)[16], int max,
		       int *n, const char *path, char *err, size_t err_size)
{
	size_t count;

	if (want_type(e, json_type_array, "an array of names", path, err, err_size))
		return -1;
	count = json_object_array_length(e);
	if (count > (size_t)max)
		FAIL("%s: at most %d names", path, max);
	for (size_t i = 0; i < count; i++) {
		json_object *s = json_object_array_get_idx(e, i);

		if (!json_object_is_type(s, json_type_string) || !in_list(json_object_get_string(s), allowed))
			FAIL("%s[%zu]: not one of the known names (%s, ...)", path, i, allowed[0]);
		snprintf(out[i], 16, "%s", json_object_get_string(s));
	}
	*n = (int)count;
	return 0;
}

static int parse_agent(struct loader *l, json_object *o, const char *path, struct fx_step *st)
{
	static const char *const msg_flags[] = { "MSG_PEEK", "MSG_DONTWAIT", "MSG_WAITALL", "MSG_TRUNC",
		"MSG_EOR", "MSG_OOB", "MSG_NOSIGNAL", "MSG_ERRQUEUE", "MSG_CMSG_CLOEXEC", NULL };
	static const char *const poll_names[] = { "POLLIN", "POLLPRI", "POLLOUT", "POLLRDHUP",
		"POLLHUP", "POLLERR", "POLLNVAL", "POLLRDNORM", "POLLWRNORM", NULL };
	struct fx_agent_call *a = &st->agent;
	char *err = l->err, sub[FX_PATH_MAX];
	size_t err_size = l->err_size;
	json_object *e;
	uint64_t n;
	int what;

	if (want_type(o, json_type_object, "an object {\"do\", \"sock\", ...}", path, err, err_size))
		return -1;
	if (!json_object_object_get_ex(o, "do", &e) || !json_object_is_type(e, json_type_string))
		FAIL("%s.do: an agent call name is due", path);
	for (what = 0; fx_agent_do_names[what] && strcmp(fx_agent_do_names[what], json_object_get_string(e));
	     what++)
		;
	if (!fx_agent_do_names[what])
		FAIL("%s.do: unknown agent call \"%s\"", path, json_object_get_string(e));
	a->what = what;
	a->backlog = -1;
	a->timeout_ms = -1;
	a->len = -1;
	a->wait = 1;
	json_object_object_foreach(o, key, val) {
		(void)val;
		if (in_list(key, (const char *const[]){ "do", "sock", "wait", "result", NULL }))
			continue;
		int ok = 0;

		for (int i = 0; i < 10 && agent_keys[what].allowed[i]; i++)
			ok |= !strcmp(key, agent_keys[what].allowed[i]);
		if (!ok)
			FAIL("%s: unknown key \"%s\" for %s%s", path, key, fx_agent_do_names[what],
			     !strcmp(key, "msg_flags") ? " (MSG_* names go in \"flags\")" : "");
	}
	for (int i = 0; i < 3 && agent_keys[what].needed[i]; i++)
		if (!json_object_object_get_ex(o, agent_keys[what].needed[i], NULL))
			FAIL("%s: %s needs \"%s\"", path, fx_agent_do_names[what], agent_keys[what].needed[i]);
	snprintf(sub, sizeof(sub), "%s.sock", path);
	if (!json_object_object_get_ex(o, "sock", &e))
		FAIL("%s: \"sock\" is due", path);
	if (get_name(e, a->sock, sub, err, err_size))
		return -1;
	if (json_object_object_get_ex(o, "as", &e)) {
		snprintf(sub, sizeof(sub), "%s.as", path);
		if (get_name(e, a->as, sub, err, err_size))
			return -1;
	}
	if (json_object_object_get_ex(o, "type", &e)) {
		const char *s = json_object_get_string(e);

		if (!json_object_is_type(e, json_type_string) || (strcmp(s, "stream") && strcmp(s, "seqpacket")))
			FAIL("%s.type: \"stream\" or \"seqpacket\" is due", path);
		a->type = !strcmp(s, "stream") ? "stream" : "seqpacket";
	}
	if (json_object_object_get_ex(o, "cid", &e)) {
		snprintf(sub, sizeof(sub), "%s.cid", path);
		if (!(a->cid = fx_value_parse(e, FX_DST_CID, 0, FX_VC_SEND, sub, l->arena, err, err_size)))
			return -1;
	}
	if (json_object_object_get_ex(o, "port", &e)) {
		snprintf(sub, sizeof(sub), "%s.port", path);
		if (!(a->port = fx_value_parse(e, FX_DST_PORT, 0, FX_VC_SEND, sub, l->arena, err, err_size)))
			return -1;
	}
	if (json_object_object_get_ex(o, "backlog", &e)) {
		snprintf(sub, sizeof(sub), "%s.backlog", path);
		if (get_range(e, 0, 4096, sub, &n, err, err_size))
			return -1;
		a->backlog = (int)n;
	}
	if (json_object_object_get_ex(o, "nonblock", &e)) {
		if (want_type(e, json_type_boolean, "true or false", path, err, err_size))
			return -1;
		a->nonblock = json_object_get_boolean(e);
	}
	if (json_object_object_get_ex(o, "wait", &e)) {
		if (want_type(e, json_type_boolean, "true or false", path, err, err_size))
			return -1;
		a->wait = json_object_get_boolean(e);
	}
	if (json_object_object_get_ex(o, "timeout_ms", &e)) {
		snprintf(sub, sizeof(sub), "%s.timeout_ms", path);
		if (get_range(e, 0, 600000, sub, &n, err, err_size))
			return -1;
		a->timeout_ms = (int64_t)n;
	}
	if (json_object_object_get_ex(o, "data", &e)) {
		snprintf(sub, sizeof(sub), "%s.data", path);
		if (!(a->data = fx_payload_parse(e, FX_PAYLOAD_MAX, sub, l->arena, err, err_size)))
			return -1;
	}
	if (json_object_object_get_ex(o, "len", &e)) {
		snprintf(sub, sizeof(sub), "%s.len", path);
		if (get_range(e, 0, FX_PAYLOAD_MAX, sub, &n, err, err_size))
			return -1;
		a->len = (int64_t)n;
	}
	if (json_object_object_get_ex(o, "flags", &e)) {
		snprintf(sub, sizeof(sub), "%s.flags", path);
		if (parse_names(e, msg_flags, a->flags, 8, &a->n_flags, sub, err, err_size))
			return -1;
	}
	if (json_object_object_get_ex(o, "how", &e)) {
		const char *s = json_object_get_string(e);

		if (!json_object_is_type(e, json_type_string) ||
		    !in_list(s, (const char *const[]){ "rd", "wr", "rdwr", NULL }))
			FAIL("%s.how: \"rd\", \"wr\" or \"rdwr\" is due", path);
		a->how = !strcmp(s, "rd") ? "rd" : !strcmp(s, "wr") ? "wr" : "rdwr";
	}
	if (json_object_object_get_ex(o, "level", &e)) {
		const char *s = json_object_get_string(e);

		if (!json_object_is_type(e, json_type_string) ||
		    !in_list(s, (const char *const[]){ "SOL_SOCKET", "AF_VSOCK", NULL }))
			FAIL("%s.level: \"SOL_SOCKET\" or \"AF_VSOCK\" is due", path);
		a->level = !strcmp(s, "AF_VSOCK") ? "AF_VSOCK" : "SOL_SOCKET";
	}
	if (json_object_object_get_ex(o, "opt", &e)) {
		snprintf(sub, sizeof(sub), "%s.opt", path);
		if (copy_string(e, a->opt, sizeof(a->opt), sub, err, err_size))
			return -1;
		if (strncmp(a->opt, "SO_", 3))
			FAIL("%s: \"%s\" is not an option name (SO_...)", sub, a->opt);
		/* The agent knows the names; a level left out follows from the name. */
		if (!a->level)
			a->level = !strncmp(a->opt, "SO_VM_SOCKETS_", 14) ? "AF_VSOCK" : "SOL_SOCKET";
	}
	if (json_object_object_get_ex(o, "value", &e)) {
		snprintf(sub, sizeof(sub), "%s.value", path);
		if (!(a->value = fx_value_parse(e, -1, 8, FX_VC_SEND, sub, l->arena, err, err_size)))
			return -1;
	}
	if (json_object_object_get_ex(o, "events", &e)) {
		snprintf(sub, sizeof(sub), "%s.events", path);
		if (json_object_is_type(e, json_type_array)) {
			a->n_events = 0;
			for (size_t i = 0; i < json_object_array_length(e); i++) {
				json_object *s = json_object_array_get_idx(e, i);

				if (i >= 8 || !json_object_is_type(s, json_type_string) ||
				    !in_list(json_object_get_string(s), poll_names))
					FAIL("%s[%zu]: a POLL* name is due (POLLIN, POLLOUT, POLLRDHUP, ...)", sub, i);
				snprintf(a->events[a->n_events++], sizeof(a->events[0]), "%s",
					 json_object_get_string(s));
			}
		} else {
			if (get_range(e, 0, 0xffff, sub, &n, err, err_size))
				return -1;
			a->n_events = -1;
			a->events_mask = (uint32_t)n;
		}
	}
	if (json_object_object_get_ex(o, "result", &e)) {
		if (!a->wait)
			FAIL("%s.result: a call with \"wait\": false has its result on the await step", path);
		snprintf(sub, sizeof(sub), "%s.result", path);
		if (!(st->result = parse_result(l, e, sub)))
			return -1;
	}
	return 0;
}

static int parse_engine(struct loader *l, json_object *o, const char *path, struct fx_step *st)
{
	static const char *const keys[] = { "do", "conn", "bytes", "cid", "result", NULL };
	static const char *const acts[] = { "transport_reset", "device_stop", "device_close",
		"set_guest_cid", NULL };
	char *err = l->err, sub[FX_PATH_MAX];
	size_t err_size = l->err_size;
	json_object *e;
	const char *what;

	if (want_type(o, json_type_object, "an object {\"do\", ...}", path, err, err_size) ||
	    check_keys(o, keys, path, err, err_size))
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
		if (conn_index(l->fx, e, sub, &st->conn, err, err_size))
			return -1;
		json_object_object_get_ex(o, "bytes", &e);
		snprintf(sub, sizeof(sub), "%s.bytes", path);
		if (get_range(e, 0, UINT32_MAX, sub, &st->bytes, err, err_size))
			return -1;
		if (json_object_object_get_ex(o, "cid", NULL) || json_object_object_get_ex(o, "result", NULL))
			FAIL("%s: consume takes conn and bytes only", path);
		return 0;
	}
	if (!in_list(what, acts))
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
		if (!(st->result = parse_result(l, e, sub)))
			return -1;
	}
	return 0;
}

const char *const fx_step_kind_names[] = { "send", "expect", "expect_none", "agent", "await", "engine" };

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
	if (get_range(e, 0, max, sub, &n, err, err_size))
		return -1;
	*out = (uint32_t)n;
	return 0;
}

static int parse_step(struct loader *l, json_object *o, int index, struct fx_step *st)
{
	static const char *const extra[][4] = {
		[FX_STEP_SEND] = { NULL },
		[FX_STEP_EXPECT] = { "within_ms", "not_before_ms", NULL },
		[FX_STEP_EXPECT_NONE] = { "for_ms", NULL },
		[FX_STEP_AGENT] = { "within_ms", NULL },
		[FX_STEP_AWAIT] = { "within_ms", "result", NULL },
		[FX_STEP_ENGINE] = { NULL },
	};
	char *err = l->err, path[FX_PATH_MAX], sub[FX_PATH_MAX];
	size_t err_size = l->err_size;
	int kind = -1;
	json_object *body = NULL, *e;

	snprintf(path, sizeof(path), "$.steps[%d]", index);
	st->index = index;
	if (want_type(o, json_type_object, "a step object with one kind key", path, err, err_size))
		return -1;
	for (int k = 0; k < 6; k++)
		if (json_object_object_get_ex(o, fx_step_kind_names[k], &e)) {
			if (kind >= 0)
				FAIL("%s: \"%s\" and \"%s\" in one step (one kind key per step)", path,
				     fx_step_kind_names[kind], fx_step_kind_names[k]);
			kind = k;
			body = e;
		}
	if (kind < 0)
		FAIL("%s: no kind key (send, expect, expect_none, agent, await or engine)", path);
	st->kind = kind;
	json_object_object_foreach(o, key, val) {
		(void)val;
		if (strcmp(key, fx_step_kind_names[kind]) && strcmp(key, "note") &&
		    !in_list(key, extra[kind]))
			FAIL("%s: unknown key \"%s\" in a step of kind %s", path, key,
			     fx_step_kind_names[kind]);
	}
	if (json_object_object_get_ex(o, "note", &e) &&
	    want_type(e, json_type_string, "a string", path, err, err_size))
		return -1;
	snprintf(sub, sizeof(sub), "%s.%s", path, fx_step_kind_names[kind]);
	switch (kind) {
	case FX_STEP_SEND:
		return parse_packet(l, body, 1, sub, &st->pkt);
	case FX_STEP_EXPECT:
		if (get_ms(o, "within_ms", 2000, 600000, path, &st->within_ms, err, err_size) ||
		    get_ms(o, "not_before_ms", 0, 600000, path, &st->not_before_ms, err, err_size))
			return -1;
		if (st->not_before_ms > st->within_ms)
			FAIL("%s: not_before_ms %u is after within_ms %u", path, st->not_before_ms,
			     st->within_ms);
		return parse_packet(l, body, 0, sub, &st->pkt);
	case FX_STEP_EXPECT_NONE:
		if (get_ms(o, "for_ms", 300, 600000, path, &st->for_ms, err, err_size))
			return -1;
		return parse_packet(l, body, 0, sub, &st->pkt);
	case FX_STEP_AGENT:
		if (get_ms(o, "within_ms", 5000, 600000, path, &st->within_ms, err, err_size))
			return -1;
		return parse_agent(l, body, sub, st);
	case FX_STEP_AWAIT:
		if (get_ms(o, "within_ms", 5000, 600000, path, &st->within_ms, err, err_size) ||
		    get_name(body, st->await_sock, sub, err, err_size))
			return -1;
		if (json_object_object_get_ex(o, "result", &e)) {
			snprintf(sub, sizeof(sub), "%s.result", path);
			if (!(st->result = parse_result(l, e, sub)))
				return -1;
		}
		return 0;
	default:
		return parse_engine(l, body, sub, st);
	}
}

static int parse_conn(struct loader *l, const char *name, json_object *o, struct fx_conn *c)
{
	static const char *const keys[] = { "type", "sock", "engine_port", "kernel_port",
		"engine_buf_alloc", "kernel_buf_alloc", "engine_consume", "setup", NULL };
	char *err = l->err, path[FX_PATH_MAX], sub[FX_PATH_MAX];
	size_t err_size = l->err_size;
	json_object *e;
	uint64_t n;

	snprintf(path, sizeof(path), "$.connections.%s", name);
	if (!fx_name_ok(name))
		FAIL("%s: \"%s\" is not a name (lower case letters, digits, _)", path, name);
	if (want_type(o, json_type_object, "an object", path, err, err_size) ||
	    check_keys(o, keys, path, err, err_size))
		return -1;
	snprintf(c->name, sizeof(c->name), "%s", name);
	snprintf(c->sock, sizeof(c->sock), "%s", name);
	c->type = FX_TYPE_STREAM;
	c->engine_buf_alloc = 65536;
	c->kernel_buf_alloc = 262144;
	if (json_object_object_get_ex(o, "type", &e)) {
		snprintf(sub, sizeof(sub), "%s.type", path);
		struct fx_value *v = fx_value_parse(e, FX_TYPE, 0, FX_VC_SEND, sub, l->arena, err, err_size);

		if (!v)
			return -1;
		if (v->kind != FX_V_INT || (v->n != FX_TYPE_STREAM && v->n != FX_TYPE_SEQPACKET))
			FAIL("%s: \"stream\" or \"seqpacket\" is due", sub);
		c->type = v->n;
	}
	if (json_object_object_get_ex(o, "sock", &e)) {
		snprintf(sub, sizeof(sub), "%s.sock", path);
		if (get_name(e, c->sock, sub, err, err_size))
			return -1;
	}
	if (json_object_object_get_ex(o, "setup", &e)) {
		const char *s = json_object_get_string(e);

		if (!json_object_is_type(e, json_type_string) ||
		    !in_list(s, (const char *const[]){ "none", "kernel_listens", "kernel_connects", NULL }))
			FAIL("%s.setup: \"none\", \"kernel_listens\" or \"kernel_connects\" is due", path);
		c->setup = !strcmp(s, "none") ? FX_SETUP_NONE : !strcmp(s, "kernel_listens") ?
			FX_SETUP_KERNEL_LISTENS : FX_SETUP_KERNEL_CONNECTS;
	}
	if (json_object_object_get_ex(o, "engine_consume", &e)) {
		const char *s = json_object_get_string(e);

		if (!json_object_is_type(e, json_type_string) ||
		    !in_list(s, (const char *const[]){ "auto", "manual", NULL }))
			FAIL("%s.engine_consume: \"auto\" or \"manual\" is due", path);
		c->manual_consume = !strcmp(s, "manual");
	}
	snprintf(sub, sizeof(sub), "%s.engine_port", path);
	if (!json_object_object_get_ex(o, "engine_port", &e))
		FAIL("%s: missing (the engine's port on this connection)", sub);
	if (!(c->engine_port = fx_value_parse(e, FX_SRC_PORT, 0, FX_VC_SEND, sub, l->arena, err, err_size)))
		return -1;
	snprintf(sub, sizeof(sub), "%s.kernel_port", path);
	if (json_object_object_get_ex(o, "kernel_port", &e)) {
		if (!(c->kernel_port = fx_value_parse(e, FX_SRC_PORT, 0, FX_VC_SEND, sub, l->arena, err,
						      err_size)))
			return -1;
	} else if (c->setup == FX_SETUP_KERNEL_CONNECTS) {
		/* The kernel picks the connecting socket's port: ask the agent for it. */
		c->kernel_port = fx_alloc(l->arena, sizeof(*c->kernel_port));
		c->kernel_port->kind = FX_V_REF;
		snprintf(c->kernel_port->name, sizeof(c->kernel_port->name), "%.40s.port", c->sock);
	} else {
		FAIL("%s: missing (only setup kernel_connects has a default)", sub);
	}
	if (json_object_object_get_ex(o, "engine_buf_alloc", &e)) {
		snprintf(sub, sizeof(sub), "%s.engine_buf_alloc", path);
		if (fx_int_parse(e, 4, sub, &n, err, err_size))
			return -1;
		c->engine_buf_alloc = (uint32_t)n;
	}
	if (json_object_object_get_ex(o, "kernel_buf_alloc", &e)) {
		snprintf(sub, sizeof(sub), "%s.kernel_buf_alloc", path);
		if (fx_int_parse(e, 4, sub, &n, err, err_size))
			return -1;
		c->kernel_buf_alloc = (uint32_t)n;
	}
	return 0;
}

static int parse_kernels(struct loader *l, json_object *o)
{
	static const char *const keys[] = { "min", "known_bugs", NULL };
	static const char *const bug_keys[] = { "from", "until", "fix", "target", NULL };
	char *err = l->err, sub[FX_PATH_MAX];
	size_t err_size = l->err_size;
	struct fx_fixture *fx = l->fx;
	json_object *e;

	if (want_type(o, json_type_object, "an object {min, known_bugs}", "$.kernels", err, err_size) ||
	    check_keys(o, keys, "$.kernels", err, err_size))
		return -1;
	if (json_object_object_get_ex(o, "min", &e)) {
		if (copy_string(e, fx->min_text, sizeof(fx->min_text), "$.kernels.min", err, err_size) ||
		    fx_kver_parse(fx->min_text, &fx->min))
			FAIL("$.kernels.min: a version such as \"5.14\" is due");
		fx->has_min = 1;
	}
	if (!json_object_object_get_ex(o, "known_bugs", &e))
		return 0;
	if (want_type(e, json_type_array, "an array of {from, until, fix}", "$.kernels.known_bugs", err,
		      err_size))
		return -1;
	if (json_object_array_length(e) > sizeof(fx->bugs) / sizeof(fx->bugs[0]))
		FAIL("$.kernels.known_bugs: at most %zu rows", sizeof(fx->bugs) / sizeof(fx->bugs[0]));
	for (size_t i = 0; i < json_object_array_length(e); i++) {
		json_object *row = json_object_array_get_idx(e, i), *v;
		struct fx_known_bug *b = &fx->bugs[fx->n_bugs++];
		char text[24];

		snprintf(sub, sizeof(sub), "$.kernels.known_bugs[%zu]", i);
		if (want_type(row, json_type_object, "an object {from, until, fix}", sub, err, err_size) ||
		    check_keys(row, bug_keys, sub, err, err_size))
			return -1;
		if (!json_object_object_get_ex(row, "from", &v) ||
		    copy_string(v, text, sizeof(text), sub, err, err_size) || fx_kver_parse(text, &b->from))
			FAIL("%s.from: a version such as \"4.0\" is due", sub);
		if (!json_object_object_get_ex(row, "until", &v) ||
		    copy_string(v, text, sizeof(text), sub, err, err_size) || fx_kver_parse(text, &b->until))
			FAIL("%s.until: a version such as \"6.1.162\" is due", sub);
		if (!json_object_object_get_ex(row, "fix", &v) ||
		    copy_string(v, b->fix, sizeof(b->fix), sub, err, err_size))
			FAIL("%s.fix: the title of the fix is due", sub);
		if (json_object_object_get_ex(row, "target", &v)) {
			const char *s = json_object_get_string(v);

			if (!json_object_is_type(v, json_type_string) ||
			    (strcmp(s, "virtio_transport") && strcmp(s, "vhost_vsock")))
				FAIL("%s.target: \"virtio_transport\" or \"vhost_vsock\" is due", sub);
			b->target = !strcmp(s, "vhost_vsock") ? "vhost_vsock" : "virtio_transport";
		}
	}
	return 0;
}

static int parse_device(struct loader *l, json_object *o)
{
	static const char *const keys[] = { "seqpacket", "rx_buffers", "rx_buffer_size", NULL };
	char *err = l->err;
	size_t err_size = l->err_size;
	json_object *e;
	uint64_t n;

	if (want_type(o, json_type_object, "an object", "$.device", err, err_size) ||
	    check_keys(o, keys, "$.device", err, err_size))
		return -1;
	if (json_object_object_get_ex(o, "seqpacket", &e)) {
		if (want_type(e, json_type_boolean, "true or false", "$.device.seqpacket", err, err_size))
			return -1;
		l->fx->needs.seqpacket = json_object_get_boolean(e);
	}
	if (json_object_object_get_ex(o, "rx_buffers", &e)) {
		if (get_range(e, 1, 256, "$.device.rx_buffers", &n, err, err_size))
			return -1;
		l->fx->needs.rx_buffers = (unsigned int)n;
	}
	if (json_object_object_get_ex(o, "rx_buffer_size", &e)) {
		if (get_range(e, FX_HDR_SIZE, 1u << 20, "$.device.rx_buffer_size", &n, err, err_size))
			return -1;
		l->fx->needs.rx_buffer_size = (unsigned int)n;
	}
	return 0;
}

static int parse_strings(json_object *e, const char *path, int objects, char *err, size_t err_size)
{
	static const char *const fix_keys[] = { "title", "commit", "cve", NULL };
	char sub[FX_PATH_MAX];

	if (want_type(e, json_type_array, "an array", path, err, err_size))
		return -1;
	for (size_t i = 0; i < json_object_array_length(e); i++) {
		json_object *item = json_object_array_get_idx(e, i), *v;

		snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
		if (!objects) {
			if (want_type(item, json_type_string, "a string", sub, err, err_size))
				return -1;
			continue;
		}
		if (want_type(item, json_type_object, "an object {title, commit?, cve?}", sub, err, err_size) ||
		    check_keys(item, fix_keys, sub, err, err_size))
			return -1;
		if (!json_object_object_get_ex(item, "title", &v))
			FAIL("%s: \"title\" is due", sub);
		json_object_object_foreach(item, key, val) {
			if (!json_object_is_type(val, json_type_string))
				FAIL("%s.%s: a string is due", sub, key);
		}
	}
	return 0;
}

static int parse_fixture(struct loader *l, json_object *root, const char *stem)
{
	static const char *const keys[] = { "format", "name", "description", "target", "tags", "fixes",
		"kernels", "device", "connections", "ignore", "timeout_ms", "steps", NULL };
	struct fx_fixture *fx = l->fx;
	char *err = l->err, sub[FX_PATH_MAX];
	size_t err_size = l->err_size;
	json_object *e;
	uint64_t n;
	size_t count;

	if (check_keys(root, keys, "$", err, err_size))
		return -1;
	if (!json_object_object_get_ex(root, "format", &e) || !json_object_is_type(e, json_type_string) ||
	    strcmp(json_object_get_string(e), "vsockcheck-fixture/1"))
		FAIL("$.format: \"vsockcheck-fixture/1\" is due");
	if (!json_object_object_get_ex(root, "name", &e))
		FAIL("$.name: missing");
	if (copy_string(e, fx->name, FX_NAME_MAX, "$.name", err, err_size))
		return -1;
	if (!fx_name_ok(fx->name))
		FAIL("$.name: \"%s\" is not a name (lower case letters, digits, _)", fx->name);
	if (strcmp(fx->name, stem))
		FAIL("$.name: \"%s\" differs from the file's stem \"%s\"", fx->name, stem);
	if (!json_object_object_get_ex(root, "description", &e) ||
	    !json_object_is_type(e, json_type_string) || json_object_get_string_len(e) == 0)
		FAIL("$.description: a non-empty string is due");
	if (!json_object_object_get_ex(root, "target", &e) || !json_object_is_type(e, json_type_string) ||
	    !in_list(json_object_get_string(e),
		     (const char *const[]){ "virtio_transport", "vhost_vsock", "both", NULL }))
		FAIL("$.target: \"virtio_transport\", \"vhost_vsock\" or \"both\" is due");
	fx->target = !strcmp(json_object_get_string(e), "both") ? "both" :
		!strcmp(json_object_get_string(e), "vhost_vsock") ? "vhost_vsock" : "virtio_transport";
	if (json_object_object_get_ex(root, "tags", &e) && parse_strings(e, "$.tags", 0, err, err_size))
		return -1;
	if (json_object_object_get_ex(root, "fixes", &e) && parse_strings(e, "$.fixes", 1, err, err_size))
		return -1;
	if (json_object_object_get_ex(root, "kernels", &e) && parse_kernels(l, e))
		return -1;
	fx->needs.seqpacket = -1;
	if (json_object_object_get_ex(root, "device", &e) && parse_device(l, e))
		return -1;
	if (json_object_object_get_ex(root, "connections", &e)) {
		if (want_type(e, json_type_object, "an object of connections", "$.connections", err, err_size))
			return -1;
		if (json_object_object_length(e) > FX_CONNS_MAX)
			FAIL("$.connections: at most %d", FX_CONNS_MAX);
		json_object_object_foreach(e, key, val) {
			if (parse_conn(l, key, val, &fx->conns[fx->n_conns]))
				return -1;
			fx->n_conns++;
		}
	}
	fx->timeout_ms = 30000;
	if (json_object_object_get_ex(root, "timeout_ms", &e)) {
		if (get_range(e, 1, 600000, "$.timeout_ms", &n, err, err_size))
			return -1;
		fx->timeout_ms = (uint32_t)n;
	}
	if (json_object_object_get_ex(root, "ignore", &e)) {
		if (want_type(e, json_type_array, "an array of packet matchers", "$.ignore", err, err_size))
			return -1;
		if (json_object_array_length(e) > FX_IGNORE_MAX)
			FAIL("$.ignore: at most %d entries", FX_IGNORE_MAX);
		for (size_t i = 0; i < json_object_array_length(e); i++) {
			snprintf(sub, sizeof(sub), "$.ignore[%zu]", i);
			if (parse_packet(l, json_object_array_get_idx(e, i), 0, sub, &fx->ignore[i]))
				return -1;
			fx->n_ignore++;
		}
	} else {
		/* Unprompted credit updates after recv() or setsockopt() are normal. */
		struct fx_packet_spec *p = &fx->ignore[fx->n_ignore++];

		memset(p, 0, sizeof(*p));
		p->conn = -1;
		p->field[FX_OP] = fx_alloc(l->arena, sizeof(*p->field[FX_OP]));
		p->field[FX_OP]->n = FX_OP_CREDIT_UPDATE;
		p->given = 1u << FX_OP;
	}
	if (!json_object_object_get_ex(root, "steps", &e) || !json_object_is_type(e, json_type_array))
		FAIL("$.steps: an array of steps is due");
	count = json_object_array_length(e);
	if (count == 0 || count > FX_STEPS_MAX)
		FAIL("$.steps: 1 to %d steps are due", FX_STEPS_MAX);
	fx->steps = fx_alloc(l->arena, count * sizeof(*fx->steps));
	for (size_t i = 0; i < count; i++) {
		if (parse_step(l, json_object_array_get_idx(e, i), (int)i, &fx->steps[i]))
			return -1;
		fx->n_steps++;
	}
	return fx_add_setup_steps(fx, l->arena);
}

static void line_col(const char *text, size_t offset, int *line, int *col)
{
	*line = 1;
	*col = 1;
	for (size_t i = 0; i < offset && text[i]; i++) {
		if (text[i] == '\n') {
			(*line)++;
			*col = 1;
		} else {
			(*col)++;
		}
	}
}

/* The file's text, at most FX_FILE_MAX bytes, NUL-terminated. */
static char *read_text(const char *file, size_t *len, char *err, size_t err_size)
{
	FILE *f = fopen(file, "re");
	char *text;

	if (!f) {
		snprintf(err, err_size, "cannot open: %s", strerror(errno));
		return NULL;
	}
	text = malloc(FX_FILE_MAX + 1);
	if (!text) {
		fclose(f);
		snprintf(err, err_size, "out of memory");
		return NULL;
	}
	*len = fread(text, 1, FX_FILE_MAX + 1, f);
	if (ferror(f) || *len > FX_FILE_MAX) {
		snprintf(err, err_size, ferror(f) ? "cannot read" : "larger than %u bytes", FX_FILE_MAX);
		free(text);
		fclose(f);
		return NULL;
	}
	fclose(f);
	text[*len] = '\0';
	return text;
}

static void file_stem(const char *file, char *stem, size_t size)
{
	const char *base = strrchr(file, '/');
	char *dot;

	snprintf(stem, size, "%s", base ? base + 1 : file);
	dot = strrchr(stem, '.');
	if (dot && dot != stem)
		*dot = '\0';
}

int fx_load(const char *file, struct fx_fixture *fx, struct fx_arena *arena, char *err,
	    size_t err_size)
{
	struct loader l = { fx, arena, err, err_size };
	struct json_tokener *tok;
	json_object *root;
	char stem[FX_NAME_MAX * 2];
	size_t len, end;
	char *text;
	int rc, line, col;

	memset(fx, 0, sizeof(*fx));
	file_stem(file, stem, sizeof(stem));
	text = read_text(file, &len, err, err_size);
	if (!text)
		return -1;
	tok = json_tokener_new_ex(64);
	if (!tok) {
		free(text);
		snprintf(err, err_size, "out of memory");
		return -1;
	}
	/* Strict: no comments, no trailing commas, no bare words. */
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	root = json_tokener_parse_ex(tok, text, (int)len);
	end = json_tokener_get_parse_end(tok);
	if (!root) {
		enum json_tokener_error jerr = json_tokener_get_error(tok);

		line_col(text, end, &line, &col);
		snprintf(err, err_size, "line %d column %d: %s", line, col,
			 jerr == json_tokener_continue ? "unexpected end of file" :
			 json_tokener_error_desc(jerr));
		json_tokener_free(tok);
		free(text);
		return -1;
	}
	json_tokener_free(tok);
	while (end < len && strchr(" \t\r\n", text[end]))
		end++;
	if (end < len) {
		line_col(text, end, &line, &col);
		snprintf(err, err_size, "line %d column %d: text after the JSON value", line, col);
		json_object_put(root);
		free(text);
		return -1;
	}
	free(text);
	if (json_object_is_type(root, json_type_array))
		rc = fx_legacy_convert(root, stem, fx, arena, err, err_size);
	else if (json_object_is_type(root, json_type_object))
		rc = parse_fixture(&l, root, stem);
	else {
		snprintf(err, err_size, "$: an object (format vsockcheck-fixture/1) or an array (QEMU's format) is due");
		rc = -1;
	}
	json_object_put(root);
	return rc;
}

/*
 * A connection's `setup` stands for the handshake most fixtures would otherwise repeat; its steps
 * run before step 0, in the order the connections are declared.
 *   kernel_listens:  agent listen <sock>_l on kernel_port; send REQUEST; expect RESPONSE;
 *                    agent accept <sock>_l as <sock>.
 *   kernel_connects: agent connect <sock> to $engine_cid:engine_port (wait false); expect
 *                    REQUEST; send RESPONSE; await <sock>.
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
