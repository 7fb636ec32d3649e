/*
 * fx_legacy.c: QEMU's historical vhost-vsock-test files (a top-level array of commands) → the
 * same model as a format-1 fixture, by the fixed rules of testcases/fixtures/README.md:
 *   whole file → target vhost_vsock, device rx_buffers 8 of 4140 bytes, name qemu_<stem>
 *   {"op": "send", "hdr": H} → send with every field as given (no connection defaults)
 *   {"op": "receive", "hdr": H} → expect, each given field exact
 *   sock-async-connect → agent connect, nonblock, result errno EINPROGRESS
 *   sock-poll → agent poll (2000 ms), result so_error
 *   MY_CID / PEER_CID → $engine_cid / $kernel_cid (the old test played the guest),
 *   SOCK_PORT_<id> → $<id>.port, VIRTIO_VSOCK_TYPE_* / VIRTIO_VSOCK_OP_* → numbers.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "fx_eval.h"
#include "vsc.h"

#define FAIL(...) do { snprintf(err, err_size, __VA_ARGS__); return -1; } while (0)

static const char *const op_names[] = { "VIRTIO_VSOCK_OP_INVALID", "VIRTIO_VSOCK_OP_REQUEST",
	"VIRTIO_VSOCK_OP_RESPONSE", "VIRTIO_VSOCK_OP_RST", "VIRTIO_VSOCK_OP_SHUTDOWN",
	"VIRTIO_VSOCK_OP_RW", "VIRTIO_VSOCK_OP_CREDIT_UPDATE", "VIRTIO_VSOCK_OP_CREDIT_REQUEST" };

static struct fx_value *int_value(struct fx_arena *arena, uint64_t n)
{
	struct fx_value *v = fx_alloc(arena, sizeof(*v));

	v->kind = FX_V_INT;
	v->n = n;
	return v;
}

static struct fx_value *ref_value(struct fx_arena *arena, const char *name, const char *suffix)
{
	struct fx_value *v = fx_alloc(arena, sizeof(*v));

	v->kind = FX_V_REF;
	snprintf(v->name, sizeof(v->name), "%.40s%s", name, suffix);
	return v;
}

/* One old header value: its symbolic names, else an integer of the field's width. */
static struct fx_value *legacy_value(json_object *j, int field, const char *path,
				     struct fx_arena *arena, char *err, size_t err_size)
{
	const char *s = json_object_is_type(j, json_type_string) ? json_object_get_string(j) : NULL;
	uint64_t n;

	if (s && (field == FX_SRC_CID || field == FX_DST_CID)) {
		if (!strcmp(s, "MY_CID"))
			return ref_value(arena, "engine_cid", "");
		if (!strcmp(s, "PEER_CID"))
			return ref_value(arena, "kernel_cid", "");
	}
	if (s && (field == FX_SRC_PORT || field == FX_DST_PORT) && !strncmp(s, "SOCK_PORT_", 10)) {
		if (!fx_name_ok(s + 10) || strlen(s + 10) > 40) {
			snprintf(err, err_size, "%s: \"%s\": the socket id is not a name", path, s);
			return NULL;
		}
		return ref_value(arena, s + 10, ".port");
	}
	if (s && field == FX_TYPE && !strcmp(s, "VIRTIO_VSOCK_TYPE_STREAM"))
		return int_value(arena, FX_TYPE_STREAM);
	if (s && field == FX_TYPE && !strcmp(s, "VIRTIO_VSOCK_TYPE_SEQPACKET"))
		return int_value(arena, FX_TYPE_SEQPACKET);
	if (s && field == FX_OP)
		for (unsigned int k = 0; k < sizeof(op_names) / sizeof(op_names[0]); k++)
			if (!strcmp(s, op_names[k]))
				return int_value(arena, k);
	if (s || !json_object_is_type(j, json_type_int)) {
		snprintf(err, err_size, "%s: %s is not a value of the old format", path,
			 json_object_to_json_string(j));
		return NULL;
	}
	if (fx_int_parse(j, fx_fields[field].width, path, &n, err, err_size))
		return NULL;
	return int_value(arena, n);
}

static int legacy_hdr(json_object *hdr, const char *path, struct fx_packet_spec *p, int sending,
		      struct fx_arena *arena, char *err, size_t err_size)
{
	char sub[FX_PATH_MAX];

	if (!json_object_is_type(hdr, json_type_object))
		FAIL("%s: an object of header fields is due", path);
	json_object_object_foreach(hdr, key, val) {
		int f;

		for (f = 0; f < FX_N_FIELDS && strcmp(key, fx_fields[f].name); f++)
			;
		if (f == FX_N_FIELDS)
			FAIL("%s: unknown key \"%s\"", path, key);
		snprintf(sub, sizeof(sub), "%s.%s", path, key);
		p->field[f] = legacy_value(val, f, sub, arena, err, err_size);
		if (!p->field[f])
			return -1;
		p->given |= 1u << f;
	}
	if (sending && (!p->field[FX_OP] || !p->field[FX_SRC_PORT] || !p->field[FX_DST_PORT]))
		FAIL("%s: op, src_port and dst_port are due", path);
	return 0;
}

static int legacy_command(json_object *cmd, int index, struct fx_step *st, struct fx_arena *arena,
			  char *desc, size_t desc_size, char *err, size_t err_size)
{
	static const char *const keys[] = { "_description", "op", "hdr", "sock_id", "dst_cid", "dst_port",
		"poll_events", "poll_so_error", NULL };
	static const char *const poll_names[] = { "POLLIN", "POLLPRI", "POLLOUT" };
	char path[FX_PATH_MAX], sub[FX_PATH_MAX];
	json_object *e, *op;
	const char *what;

	snprintf(path, sizeof(path), "$[%d]", index);
	memset(st, 0, sizeof(*st));
	st->index = index;
	st->pkt.conn = -1;
	st->pkt.repeat = 1;
	if (!json_object_is_type(cmd, json_type_object))
		FAIL("%s: a command object is due", path);
	json_object_object_foreach(cmd, key, val) {
		unsigned int k;

		(void)val;
		for (k = 0; keys[k] && strcmp(key, keys[k]); k++)
			;
		if (!keys[k])
			FAIL("%s: unknown key \"%s\"", path, key);
	}
	if (json_object_object_get_ex(cmd, "_description", &e)) {
		if (!json_object_is_type(e, json_type_array))
			FAIL("%s._description: an array of strings is due", path);
		for (size_t i = 0; i < json_object_array_length(e); i++) {
			json_object *s = json_object_array_get_idx(e, i);

			if (!json_object_is_type(s, json_type_string))
				FAIL("%s._description[%zu]: a string is due", path, i);
			/* The strings carry their own spaces: joined with nothing between. */
			strncat(desc, json_object_get_string(s), desc_size - strlen(desc) - 1);
		}
	}
	if (!json_object_object_get_ex(cmd, "op", &op) || !json_object_is_type(op, json_type_string))
		FAIL("%s.op: send, receive, sock-async-connect or sock-poll is due", path);
	what = json_object_get_string(op);
	snprintf(sub, sizeof(sub), "%s.hdr", path);
	if (!strcmp(what, "send") || !strcmp(what, "receive")) {
		st->kind = !strcmp(what, "send") ? FX_STEP_SEND : FX_STEP_EXPECT;
		st->within_ms = 2000;
		if (!json_object_object_get_ex(cmd, "hdr", &e))
			FAIL("%s: missing", sub);
		return legacy_hdr(e, sub, &st->pkt, st->kind == FX_STEP_SEND, arena, err, err_size);
	}
	st->kind = FX_STEP_AGENT;
	st->within_ms = 5000;
	st->agent.backlog = -1;
	st->agent.len = -1;
	st->agent.wait = 1;
	st->result = fx_alloc(arena, sizeof(*st->result));
	if (!json_object_object_get_ex(cmd, "sock_id", &e) || !json_object_is_type(e, json_type_string) ||
	    !fx_name_ok(json_object_get_string(e)) || strlen(json_object_get_string(e)) > 40)
		FAIL("%s.sock_id: a socket name is due", path);
	snprintf(st->agent.sock, sizeof(st->agent.sock), "%s", json_object_get_string(e));
	if (!strcmp(what, "sock-async-connect")) {
		st->agent.what = FX_DO_CONNECT;
		st->agent.type = "stream";
		st->agent.nonblock = 1;
		st->agent.timeout_ms = -1;
		snprintf(sub, sizeof(sub), "%s.dst_cid", path);
		if (!json_object_object_get_ex(cmd, "dst_cid", &e) ||
		    !(st->agent.cid = legacy_value(e, FX_DST_CID, sub, arena, err, err_size)))
			return -1;
		snprintf(sub, sizeof(sub), "%s.dst_port", path);
		if (!json_object_object_get_ex(cmd, "dst_port", &e) ||
		    !(st->agent.port = legacy_value(e, FX_DST_PORT, sub, arena, err, err_size)))
			return -1;
		st->result->is_errno = 1;
		snprintf(st->result->errno_name, sizeof(st->result->errno_name), "EINPROGRESS");
		return 0;
	}
	if (!strcmp(what, "sock-poll")) {
		uint64_t n;

		st->agent.what = FX_DO_POLL;
		st->agent.timeout_ms = 2000;
		snprintf(sub, sizeof(sub), "%s.poll_events", path);
		if (!json_object_object_get_ex(cmd, "poll_events", &e))
			FAIL("%s: missing", sub);
		if (json_object_is_type(e, json_type_string)) {
			unsigned int k;

			for (k = 0; k < 3 && strcmp(json_object_get_string(e), poll_names[k]); k++)
				;
			if (k == 3)
				FAIL("%s: POLLIN, POLLPRI, POLLOUT or an integer is due", sub);
			snprintf(st->agent.events[0], sizeof(st->agent.events[0]), "%s", poll_names[k]);
			st->agent.n_events = 1;
		} else {
			if (fx_int_parse(e, 2, sub, &n, err, err_size))
				return -1;
			st->agent.n_events = -1;
			st->agent.events_mask = (uint32_t)n;
		}
		snprintf(sub, sizeof(sub), "%s.poll_so_error", path);
		if (!json_object_object_get_ex(cmd, "poll_so_error", &e))
			FAIL("%s: missing", sub);
		if (fx_int_parse(e, 2, sub, &n, err, err_size))
			return -1;
		st->result->has_so_error = 1;
		snprintf(st->result->so_error, sizeof(st->result->so_error), "%s",
			 n ? vsc_errname((int)n) : "0");
		return 0;
	}
	FAIL("%s.op: unknown command \"%s\"", path, what);
}

int fx_legacy_convert(void *root, const char *stem, struct fx_fixture *fx, struct fx_arena *arena,
		      char *err, size_t err_size)
{
	json_object *array = root;
	size_t count = json_object_array_length(array);
	char desc[1024] = "";

	if (count == 0 || count > FX_STEPS_MAX)
		FAIL("$: 1 to %d commands are due", FX_STEPS_MAX);
	snprintf(fx->name, sizeof(fx->name), "qemu_%.*s", FX_NAME_MAX - 1, stem);
	for (char *c = fx->name; *c; c++)
		if (*c == '-')
			*c = '_';
	if (!fx_name_ok(fx->name))
		FAIL("$: the file's stem \"%s\" does not make a fixture name", stem);
	fx->legacy = 1;
	fx->target = "vhost_vsock";
	fx->needs.seqpacket = -1;
	fx->needs.rx_buffers = 8;
	fx->needs.rx_buffer_size = 4140;
	fx->timeout_ms = 30000;
	fx->steps = fx_alloc(arena, count * sizeof(*fx->steps));
	for (size_t i = 0; i < count; i++) {
		if (legacy_command(json_object_array_get_idx(array, i), (int)i, &fx->steps[i], arena,
				   desc, sizeof(desc), err, err_size))
			return -1;
		fx->n_steps++;
	}
	/* The same default as format 1: unprompted credit updates are not the test's business. */
	fx->ignore[0].conn = -1;
	fx->ignore[0].repeat = 1;
	fx->ignore[0].field[FX_OP] = int_value(arena, FX_OP_CREDIT_UPDATE);
	fx->ignore[0].given = 1u << FX_OP;
	fx->n_ignore = 1;
	return 0;
}
