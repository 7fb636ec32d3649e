/*
 * fx_json_fixture.c: a format-1 fixture object → struct fx_fixture: its top-level keys,
 * connections, kernels and device; steps and packets go to their own parsers (fx_json.h).
 *
 * json-c keeps no positions, so errors name the path but not the line (the runner's checker,
 * runner/vsc/fixture_check.py, names both). json-c also keeps only the last of duplicate keys
 * without a word: that cannot be seen from here, the runner's checker refuses them.
 */
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "fx_json.h"

static int parse_conn(struct fx_loader *l, const char *name, json_object *o, struct fx_conn *c)
{
	static const char *const keys[] = { "type", "sock", "engine_port", "kernel_port",
		"engine_buf_alloc", "kernel_buf_alloc", "engine_consume", "setup", NULL };
	/* hv_sock: a stream over a channel, no credit of its own to announce. */
	static const char *const hv_keys[] = { "sock", "engine_port", "kernel_port", "setup",
		"initiator", NULL };
	char *err = l->err, path[FX_PATH_MAX], sub[FX_PATH_MAX];
	size_t err_size = l->err_size;
	json_object *e;
	uint64_t n;

	snprintf(path, sizeof(path), "$.connections.%s", name);
	if (!fx_name_ok(name))
		FAIL("%s: \"%s\" is not a name (lower case letters, digits, _)", path, name);
	if (fx_want_type(o, json_type_object, "an object", path, err, err_size) ||
	    fx_check_keys(o, l->fx->hv ? hv_keys : keys, path, err, err_size))
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
		if (fx_get_name(e, c->sock, sub, err, err_size))
			return -1;
	}
	if (json_object_object_get_ex(o, "setup", &e)) {
		const char *s = json_object_get_string(e);

		if (!json_object_is_type(e, json_type_string) ||
		    !fx_in_list(s, (const char *const[]){ "none", "kernel_listens", "kernel_connects", NULL }))
			FAIL("%s.setup: \"none\", \"kernel_listens\" or \"kernel_connects\" is due", path);
		c->setup = !strcmp(s, "none") ? FX_SETUP_NONE : !strcmp(s, "kernel_listens") ?
			FX_SETUP_KERNEL_LISTENS : FX_SETUP_KERNEL_CONNECTS;
	}
	if (json_object_object_get_ex(o, "engine_consume", &e)) {
		const char *s = json_object_get_string(e);

		if (!json_object_is_type(e, json_type_string) ||
		    !fx_in_list(s, (const char *const[]){ "auto", "manual", NULL }))
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
	return l->fx->hv ? fx_parse_hv_initiator(l, o, path, c) : 0;
}

static int parse_kernels(struct fx_loader *l, json_object *o)
{
	static const char *const keys[] = { "min", "known_bugs", NULL };
	static const char *const bug_keys[] = { "from", "until", "fix", "target", NULL };
	char *err = l->err, sub[FX_PATH_MAX];
	size_t err_size = l->err_size;
	struct fx_fixture *fx = l->fx;
	json_object *e;

	if (fx_want_type(o, json_type_object, "an object {min, known_bugs}", "$.kernels", err, err_size) ||
	    fx_check_keys(o, keys, "$.kernels", err, err_size))
		return -1;
	if (json_object_object_get_ex(o, "min", &e)) {
		if (fx_copy_string(e, fx->min_text, sizeof(fx->min_text), "$.kernels.min", err, err_size) ||
		    fx_kver_parse(fx->min_text, &fx->min))
			FAIL("$.kernels.min: a version such as \"5.14\" is due");
		fx->has_min = 1;
	}
	if (!json_object_object_get_ex(o, "known_bugs", &e))
		return 0;
	if (fx_want_type(e, json_type_array, "an array of {from, until, fix}", "$.kernels.known_bugs",
			 err, err_size))
		return -1;
	if (json_object_array_length(e) > sizeof(fx->bugs) / sizeof(fx->bugs[0]))
		FAIL("$.kernels.known_bugs: at most %zu rows", sizeof(fx->bugs) / sizeof(fx->bugs[0]));
	for (size_t i = 0; i < json_object_array_length(e); i++) {
		json_object *row = json_object_array_get_idx(e, i), *v;
		struct fx_known_bug *b = &fx->bugs[fx->n_bugs++];
		char text[24];

		snprintf(sub, sizeof(sub), "$.kernels.known_bugs[%zu]", i);
		if (fx_want_type(row, json_type_object, "an object {from, until, fix}", sub, err, err_size) ||
		    fx_check_keys(row, bug_keys, sub, err, err_size))
			return -1;
		if (!json_object_object_get_ex(row, "from", &v) ||
		    fx_copy_string(v, text, sizeof(text), sub, err, err_size) || fx_kver_parse(text, &b->from))
			FAIL("%s.from: a version such as \"4.0\" is due", sub);
		if (!json_object_object_get_ex(row, "until", &v) ||
		    fx_copy_string(v, text, sizeof(text), sub, err, err_size) || fx_kver_parse(text, &b->until))
			FAIL("%s.until: a version such as \"6.1.162\" is due", sub);
		if (!json_object_object_get_ex(row, "fix", &v) ||
		    fx_copy_string(v, b->fix, sizeof(b->fix), sub, err, err_size))
			FAIL("%s.fix: the title of the fix is due", sub);
		if (json_object_object_get_ex(row, "target", &v)) {
			const char *s = json_object_get_string(v);

			if (!json_object_is_type(v, json_type_string) ||
			    (strcmp(s, "virtio_transport") && strcmp(s, "vhost_vsock") && strcmp(s, FX_TARGET_HV)))
				FAIL("%s.target: \"virtio_transport\", \"vhost_vsock\" or \"hv_sock\" is due", sub);
			b->target = !strcmp(s, "vhost_vsock") ? "vhost_vsock" :
				!strcmp(s, FX_TARGET_HV) ? FX_TARGET_HV : "virtio_transport";
		}
	}
	return 0;
}

static int parse_device(struct fx_loader *l, json_object *o)
{
	static const char *const keys[] = { "seqpacket", "rx_buffers", "rx_buffer_size", NULL };
	char *err = l->err;
	size_t err_size = l->err_size;
	json_object *e;
	uint64_t n;

	if (fx_want_type(o, json_type_object, "an object", "$.device", err, err_size) ||
	    fx_check_keys(o, keys, "$.device", err, err_size))
		return -1;
	if (json_object_object_get_ex(o, "seqpacket", &e)) {
		if (fx_want_type(e, json_type_boolean, "true or false", "$.device.seqpacket", err, err_size))
			return -1;
		l->fx->needs.seqpacket = json_object_get_boolean(e);
	}
	if (json_object_object_get_ex(o, "rx_buffers", &e)) {
		if (fx_get_range(e, 1, 256, "$.device.rx_buffers", &n, err, err_size))
			return -1;
		l->fx->needs.rx_buffers = (unsigned int)n;
	}
	if (json_object_object_get_ex(o, "rx_buffer_size", &e)) {
		if (fx_get_range(e, FX_HDR_SIZE, 1u << 20, "$.device.rx_buffer_size", &n, err, err_size))
			return -1;
		l->fx->needs.rx_buffer_size = (unsigned int)n;
	}
	return 0;
}

static int parse_strings(json_object *e, const char *path, int objects, char *err, size_t err_size)
{
	static const char *const fix_keys[] = { "title", "commit", "cve", NULL };
	char sub[FX_PATH_MAX];

	if (fx_want_type(e, json_type_array, "an array", path, err, err_size))
		return -1;
	for (size_t i = 0; i < json_object_array_length(e); i++) {
		json_object *item = json_object_array_get_idx(e, i), *v;

		snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
		if (!objects) {
			if (fx_want_type(item, json_type_string, "a string", sub, err, err_size))
				return -1;
			continue;
		}
		if (fx_want_type(item, json_type_object, "an object {title, commit?, cve?}", sub, err,
				 err_size) ||
		    fx_check_keys(item, fix_keys, sub, err, err_size))
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

int fx_parse_fixture(struct fx_loader *l, json_object *root, const char *stem)
{
	static const char *const keys[] = { "format", "name", "description", "target", "tags", "fixes",
		"kernels", "device", "connections", "ignore", "timeout_ms", "steps", NULL };
	/* hv_sock: no virtio device to ask things of, and nothing unprompted to ignore. */
	static const char *const hv_keys[] = { "format", "name", "description", "target", "tags",
		"fixes", "kernels", "connections", "timeout_ms", "steps", NULL };
	struct fx_fixture *fx = l->fx;
	char *err = l->err, sub[FX_PATH_MAX];
	size_t err_size = l->err_size;
	json_object *e;
	uint64_t n;
	size_t count;

	if (json_object_object_get_ex(root, "target", &e) && json_object_is_type(e, json_type_string))
		fx->hv = !strcmp(json_object_get_string(e), FX_TARGET_HV);
	if (fx_check_keys(root, fx->hv ? hv_keys : keys, "$", err, err_size))
		return -1;
	if (!json_object_object_get_ex(root, "format", &e) || !json_object_is_type(e, json_type_string) ||
	    strcmp(json_object_get_string(e), "vsockcheck-fixture/1"))
		FAIL("$.format: \"vsockcheck-fixture/1\" is due");
	if (!json_object_object_get_ex(root, "name", &e))
		FAIL("$.name: missing");
	if (fx_copy_string(e, fx->name, FX_NAME_MAX, "$.name", err, err_size))
		return -1;
	if (!fx_name_ok(fx->name))
		FAIL("$.name: \"%s\" is not a name (lower case letters, digits, _)", fx->name);
	if (strcmp(fx->name, stem))
		FAIL("$.name: \"%s\" differs from the file's stem \"%s\"", fx->name, stem);
	if (!json_object_object_get_ex(root, "description", &e) ||
	    !json_object_is_type(e, json_type_string) || json_object_get_string_len(e) == 0)
		FAIL("$.description: a non-empty string is due");
	if (!json_object_object_get_ex(root, "target", &e) || !json_object_is_type(e, json_type_string) ||
	    !fx_in_list(json_object_get_string(e),
		     (const char *const[]){ "virtio_transport", "vhost_vsock", "both", FX_TARGET_HV, NULL }))
		FAIL("$.target: \"virtio_transport\", \"vhost_vsock\", \"both\" or \"hv_sock\" is due");
	fx->target = !strcmp(json_object_get_string(e), "both") ? "both" :
		fx->hv ? FX_TARGET_HV :
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
		if (fx_want_type(e, json_type_object, "an object of connections", "$.connections", err, err_size))
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
		if (fx_get_range(e, 1, 600000, "$.timeout_ms", &n, err, err_size))
			return -1;
		fx->timeout_ms = (uint32_t)n;
	}
	if (json_object_object_get_ex(root, "ignore", &e)) {
		if (fx_want_type(e, json_type_array, "an array of packet matchers", "$.ignore", err, err_size))
			return -1;
		if (json_object_array_length(e) > FX_IGNORE_MAX)
			FAIL("$.ignore: at most %d entries", FX_IGNORE_MAX);
		for (size_t i = 0; i < json_object_array_length(e); i++) {
			snprintf(sub, sizeof(sub), "$.ignore[%zu]", i);
			if (fx_parse_packet(l, json_object_array_get_idx(e, i), 0, sub, &fx->ignore[i]))
				return -1;
			fx->n_ignore++;
		}
	} else if (!fx->hv) {
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
		if (fx_parse_step(l, json_object_array_get_idx(e, i), (int)i, &fx->steps[i]))
			return -1;
		fx->n_steps++;
	}
	return fx_add_setup_steps(fx, l->arena);
}
