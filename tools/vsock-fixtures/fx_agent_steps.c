/*
 * fx_agent_steps.c: agent and await steps: a fixture's call → the agent's request, its reply →
 * the step's result checks. The agent protocol is in testcases/fixtures/README.md.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fx_run.h"

struct fx_sock *fx_sock_find(struct fx_run *r, const char *name, int create)
{
	for (int i = 0; i < r->n_socks; i++)
		if (!strcmp(r->socks[i].name, name))
			return &r->socks[i];
	if (!create || r->n_socks == FX_SOCKS_MAX)
		return NULL;
	memset(&r->socks[r->n_socks], 0, sizeof(r->socks[0]));
	snprintf(r->socks[r->n_socks].name, FX_NAME_MAX, "%s", name);
	return &r->socks[r->n_socks++];
}

int fx_agent_plain(struct fx_run *r, json_object *req, uint32_t within_ms, json_object **reply,
		   char *why, size_t why_size)
{
	long id = fx_agent_send(r->agent, req, why, why_size);
	int rc;

	if (id < 0)
		return -1;
	rc = fx_agent_wait(r->agent, id, fx_now_ms() + within_ms, reply, why, why_size);
	if (rc == 0)
		snprintf(why, why_size, "the agent did not answer within %" PRIu32 " ms", within_ms);
	return rc;
}

static void add_names(json_object *req, const char *key, const char (*names)[16], int n)
{
	json_object *a = json_object_new_array();

	for (int i = 0; i < n; i++)
		json_object_array_add(a, json_object_new_string(names[i]));
	json_object_object_add(req, key, a);
}

static int add_value(struct fx_run *r, json_object *req, const char *key, const struct fx_value *v)
{
	char why[256];
	uint64_t n;

	if (!v)
		return 0;
	if (fx_value_get(v, &r->ev, &n, why, sizeof(why)))
		return fx_fail(r, "%s: %s", key, why);
	json_object_object_add(req, key, json_object_new_uint64(n));
	return 0;
}

static json_object *build_request(struct fx_run *r, const struct fx_agent_call *a)
{
	json_object *req = json_object_new_object();

	json_object_object_add(req, "do", json_object_new_string(fx_agent_do_names[a->what]));
	json_object_object_add(req, "sock", json_object_new_string(a->sock));
	if (a->as[0])
		json_object_object_add(req, "as", json_object_new_string(a->as));
	if (a->type)
		json_object_object_add(req, "type", json_object_new_string(a->type));
	if (add_value(r, req, "cid", a->cid) || add_value(r, req, "port", a->port) ||
	    add_value(r, req, "value", a->value)) {
		json_object_put(req);
		return NULL;
	}
	if (a->backlog >= 0)
		json_object_object_add(req, "backlog", json_object_new_int(a->backlog));
	if (a->nonblock)
		json_object_object_add(req, "nonblock", json_object_new_boolean(1));
	if (a->timeout_ms >= 0)
		json_object_object_add(req, "timeout_ms", json_object_new_int64(a->timeout_ms));
	if (a->data) {
		char *hex = malloc(2 * a->data->len + 1);

		if (!hex) {
			json_object_put(req);
			fx_fail(r, "out of memory");
			return NULL;
		}
		for (size_t i = 0; i < a->data->len; i++)
			snprintf(hex + 2 * i, 3, "%02x", a->data->bytes[i]);
		hex[2 * a->data->len] = '\0';
		json_object_object_add(req, "hex", json_object_new_string_len(hex, (int)(2 * a->data->len)));
		free(hex);
	}
	if (a->len >= 0)
		json_object_object_add(req, "len", json_object_new_int64(a->len));
	if (a->n_flags)
		add_names(req, "flags", a->flags, a->n_flags);
	if (a->how)
		json_object_object_add(req, "how", json_object_new_string(a->how));
	if (a->opt[0]) {
		json_object_object_add(req, "level", json_object_new_string(a->level));
		json_object_object_add(req, "opt", json_object_new_string(a->opt));
	}
	if (a->n_events < 0)
		json_object_object_add(req, "events", json_object_new_int((int)a->events_mask));
	else if (a->n_events > 0) {
		json_object *ev = json_object_new_array();

		for (int i = 0; i < a->n_events; i++)
			json_object_array_add(ev, json_object_new_string(a->events[i]));
		json_object_object_add(req, "events", ev);
	}
	return req;
}

/* Every reply names the local port of its socket: keep it for $sock.port. */
static void note_port(struct fx_run *r, const char *sock, json_object *reply)
{
	json_object *port;
	struct fx_sock *s;
	int64_t p;

	if (!json_object_object_get_ex(reply, "port", &port))
		return;
	p = json_object_get_int64(port);
	if (p < 0 || p >= UINT32_MAX || !(s = fx_sock_find(r, sock, 1)))
		return;
	s->has_port = 1;
	s->port = (uint32_t)p;
}

static const char *reply_errno(json_object *reply)
{
	json_object *e;

	if (!json_object_object_get_ex(reply, "errno", &e) || json_object_is_type(e, json_type_null))
		return NULL;
	return json_object_get_string(e);
}

static int check_int(struct fx_run *r, const char *what, const struct fx_value *want,
		     json_object *reply, const char *key)
{
	json_object *e;
	char why[256];
	uint64_t got;
	int rc;

	if (!want)
		return 0;
	if (!json_object_object_get_ex(reply, key, &e) || !json_object_is_type(e, json_type_int))
		return fx_fail(r, "%s: the agent's reply has no integer \"%s\"", what, key);
	/* Past 2^63 json-c's int64 getter saturates: read those as u64 (u64 socket options). */
	got = json_object_get_int64(e) == INT64_MAX ? json_object_get_uint64(e) :
		(uint64_t)json_object_get_int64(e);
	rc = fx_value_match(want, &r->ev, -1, got, why, sizeof(why));
	if (rc == 1)
		return 0;
	if (rc < 0)
		return fx_fail(r, "%s: %s", key, why);
	if (json_object_get_int64(e) < 0)
		return fx_fail(r, "%s: got %" PRId64 ", %s", key, json_object_get_int64(e), why);
	return fx_fail(r, "%s: got %" PRIu64 ", %s", key, got, why);
}

static int check_data(struct fx_run *r, const struct fx_payload *want, json_object *reply)
{
	json_object *e;
	const char *hex;
	size_t len;

	if (!json_object_object_get_ex(reply, "hex", &e) || !json_object_is_type(e, json_type_string))
		return fx_fail(r, "data: the agent's reply has no \"hex\"");
	hex = json_object_get_string(e);
	len = (size_t)json_object_get_string_len(e) / 2;
	for (size_t i = 0; i < len && i < want->len; i++) {
		unsigned int b;

		if (sscanf(hex + 2 * i, "%2x", &b) != 1)
			return fx_fail(r, "data: the agent's hex is not hexadecimal at %zu", i);
		if (b != want->bytes[i])
			return fx_fail(r, "data: byte %zu: got 0x%02x, want 0x%02x", i, b, want->bytes[i]);
	}
	if (len != want->len)
		return fx_fail(r, "data: got %zu bytes, want %zu", len, want->len);
	return 0;
}

static const struct fx_result *select_result(struct fx_run *r, const struct fx_result *res)
{
	char why[256];

	while (res && res->by) {
		const struct fx_result *row = NULL;

		if (res->by->kind == FX_V_BY_TARGET) {
			row = res->rows[!strcmp(r->ev.target, "vhost_vsock")];
		} else {
			for (int i = 0; i < res->by->n_items; i++)
				if (fx_kver_cmp(&res->by->versions[i], &r->kernel) <= 0)
					row = res->rows[i];
			if (!row) {
				snprintf(why, sizeof(why), "no by_kernel row holds for kernel %s", r->kernel_text);
				fx_fail(r, "result: %s", why);
				return NULL;
			}
		}
		res = row;
	}
	return res;
}

/* The reply against the step's result; no result: the call must succeed. */
static int check_result(struct fx_run *r, const char *what, const struct fx_result *res,
			json_object *reply)
{
	static const struct fx_result success;
	const char *got = reply_errno(reply);
	json_object *e;

	if (!res)
		res = &success;
	else if (!(res = select_result(r, res)))
		return -1;
	if (res->any)
		return 0;
	if (!strcmp(res->diag_state, "absent")) {
		if (got && !strcmp(got, "ENOENT"))
			return 0;
		return fx_fail(r, "%s: got %s, want absent (ENOENT)", what, got ? got : "a socket");
	}
	if (res->is_errno && (!got || strcmp(got, res->errno_name)))
		return fx_fail(r, "%s: errno: got %s, want %s", what, got ? got : "success",
			       res->errno_name);
	if (!res->is_errno && got)
		return fx_fail(r, "%s: errno: got %s, want success", what, got);
	if (check_int(r, what, res->value, reply, "ret") ||
	    check_int(r, what, res->revents, reply, "revents") ||
	    check_int(r, what, res->msg_flags, reply, "msg_flags") ||
	    check_int(r, what, res->peer_cid, reply, "peer_cid") ||
	    check_int(r, what, res->peer_port, reply, "peer_port"))
		return -1;
	if (res->data && check_data(r, res->data, reply))
		return -1;
	if (res->has_so_error) {
		const char *so = "0";

		if (json_object_object_get_ex(reply, "so_error", &e) && json_object_is_type(e, json_type_string))
			so = json_object_get_string(e);
		else if (!e || (json_object_is_type(e, json_type_int) && json_object_get_int(e) != 0))
			return fx_fail(r, "%s: the agent's reply has no so_error", what);
		if (strcmp(so, res->so_error))
			return fx_fail(r, "%s: so_error: got %s, want %s", what, so, res->so_error);
	}
	if (res->diag_state[0] || res->diag_shutdown || res->diag_rqueue || res->diag_wqueue) {
		json_object *d, *state;

		if (!json_object_object_get_ex(reply, "diag", &d) || !json_object_is_type(d, json_type_object))
			return fx_fail(r, "%s: the agent's reply has no \"diag\"", what);
		if (res->diag_state[0] && (!json_object_object_get_ex(d, "state", &state) ||
					   strcmp(json_object_get_string(state), res->diag_state)))
			return fx_fail(r, "%s: diag state: got %s, want %s", what,
				       json_object_object_get_ex(d, "state", &state) ?
				       json_object_get_string(state) : "none", res->diag_state);
		if (check_int(r, what, res->diag_shutdown, d, "shutdown") ||
		    check_int(r, what, res->diag_rqueue, d, "rqueue") ||
		    check_int(r, what, res->diag_wqueue, d, "wqueue"))
			return -1;
	}
	return 0;
}

/* setsockopt(SO_VM_SOCKETS_BUFFER_SIZE) makes the kernel announce a new buf_alloc. */
static void note_buffer_size(struct fx_run *r, const struct fx_agent_call *a)
{
	uint64_t v;
	char why[128];

	if (a->what != FX_DO_SETSOCKOPT || strcmp(a->opt, "SO_VM_SOCKETS_BUFFER_SIZE") ||
	    fx_value_get(a->value, &r->ev, &v, why, sizeof(why)))
		return;
	for (int i = 0; i < r->fx->n_conns; i++)
		if (!strcmp(r->fx->conns[i].sock, a->sock)) {
			r->cs[i].buf_pending = 1;
			r->cs[i].pending_buf = (uint32_t)v;
		}
}

static int finish_call(struct fx_run *r, const char *what, const char *sock, const char *as,
		       const struct fx_result *res, json_object *reply)
{
	int rc;

	fx_trace_agent(r, what, reply);
	note_port(r, as && as[0] && !reply_errno(reply) ? as : sock, reply);
	rc = check_result(r, what, res, reply);
	json_object_put(reply);
	return rc;
}

/* A step's reply wait ends at within_ms or at the fixture's timeout_ms, whichever comes first. */
static uint64_t step_deadline(const struct fx_run *r, const struct fx_step *st)
{
	uint64_t d = fx_now_ms() + st->within_ms;

	return d < r->deadline ? d : r->deadline;
}

int fx_agent_step(struct fx_run *r, const struct fx_step *st)
{
	const struct fx_agent_call *a = &st->agent;
	const char *what = fx_agent_do_names[a->what];
	json_object *req = build_request(r, a), *reply = NULL;
	char why[FX_MSG_MAX];
	struct fx_sock *s;
	long id;
	int rc;

	if (!req)
		return -1;
	if (!a->wait)
		json_object_object_add(req, "async", json_object_new_boolean(1));
	id = fx_agent_send(r->agent, req, why, sizeof(why));
	if (id < 0)
		return fx_fail(r, "%s: %s", what, why);
	note_buffer_size(r, a);
	if (!a->wait) {
		s = fx_sock_find(r, a->sock, 1);
		if (!s)
			return fx_fail(r, "more than %d agent sockets", FX_SOCKS_MAX);
		s->pending_id = id;
		s->pending_do = what;
		return 0;
	}
	rc = fx_agent_wait(r->agent, id, step_deadline(r, st), &reply, why, sizeof(why));
	if (rc == 0)
		return fx_fail(r, "%s: no reply within %" PRIu32 " ms%s (write \"wait\": false for a call that blocks on the engine)",
			       what, st->within_ms, fx_now_ms() >= r->deadline ? " or the fixture's timeout_ms" : "");
	if (rc < 0)
		return fx_fail(r, "%s: %s", what, why);
	return finish_call(r, what, a->sock, a->as, st->result, reply);
}

int fx_await_step(struct fx_run *r, const struct fx_step *st)
{
	struct fx_sock *s = fx_sock_find(r, st->await_sock, 0);
	json_object *reply = NULL;
	char why[FX_MSG_MAX];
	long id;
	int rc;

	if (!s || !s->pending_id)
		return fx_fail(r, "no call with \"wait\": false on socket %s to await", st->await_sock);
	id = s->pending_id;
	s->pending_id = 0;
	rc = fx_agent_wait(r->agent, id, step_deadline(r, st), &reply, why, sizeof(why));
	if (rc == 0)
		return fx_fail(r, "%s: no reply within %" PRIu32 " ms%s", st->await_sock, st->within_ms,
			       fx_now_ms() >= r->deadline ? " or the fixture's timeout_ms" : "");
	if (rc < 0)
		return fx_fail(r, "%s: %s", st->await_sock, why);
	return finish_call(r, s->pending_do ? s->pending_do : st->await_sock, st->await_sock, NULL,
			   st->result, reply);
}
