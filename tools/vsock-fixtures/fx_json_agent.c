/* fx_json_agent.c: an agent step (one socket call in the guest) → struct fx_agent_call. */
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "fx_json.h"

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

	if (fx_want_type(e, json_type_array, "an array of names", path, err, err_size))
		return -1;
	count = json_object_array_length(e);
	if (count > (size_t)max)
		FAIL("%s: at most %d names", path, max);
	for (size_t i = 0; i < count; i++) {
		json_object *s = json_object_array_get_idx(e, i);

		if (!json_object_is_type(s, json_type_string) || !fx_in_list(json_object_get_string(s), allowed))
			FAIL("%s[%zu]: not one of the known names (%s, ...)", path, i, allowed[0]);
		snprintf(out[i], 16, "%s", json_object_get_string(s));
	}
	*n = (int)count;
	return 0;
}

int fx_parse_agent(struct fx_loader *l, json_object *o, const char *path, struct fx_step *st)
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

	if (fx_want_type(o, json_type_object, "an object {\"do\", \"sock\", ...}", path, err, err_size))
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
		if (fx_in_list(key, (const char *const[]){ "do", "sock", "wait", "result", NULL }))
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
	if (fx_get_name(e, a->sock, sub, err, err_size))
		return -1;
	if (json_object_object_get_ex(o, "as", &e)) {
		snprintf(sub, sizeof(sub), "%s.as", path);
		if (fx_get_name(e, a->as, sub, err, err_size))
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
		if (fx_get_range(e, 0, 4096, sub, &n, err, err_size))
			return -1;
		a->backlog = (int)n;
	}
	if (json_object_object_get_ex(o, "nonblock", &e)) {
		if (fx_want_type(e, json_type_boolean, "true or false", path, err, err_size))
			return -1;
		a->nonblock = json_object_get_boolean(e);
	}
	if (json_object_object_get_ex(o, "wait", &e)) {
		if (fx_want_type(e, json_type_boolean, "true or false", path, err, err_size))
			return -1;
		a->wait = json_object_get_boolean(e);
	}
	if (json_object_object_get_ex(o, "timeout_ms", &e)) {
		snprintf(sub, sizeof(sub), "%s.timeout_ms", path);
		if (fx_get_range(e, 0, 600000, sub, &n, err, err_size))
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
		if (fx_get_range(e, 0, FX_PAYLOAD_MAX, sub, &n, err, err_size))
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
		    !fx_in_list(s, (const char *const[]){ "rd", "wr", "rdwr", NULL }))
			FAIL("%s.how: \"rd\", \"wr\" or \"rdwr\" is due", path);
		a->how = !strcmp(s, "rd") ? "rd" : !strcmp(s, "wr") ? "wr" : "rdwr";
	}
	if (json_object_object_get_ex(o, "level", &e)) {
		const char *s = json_object_get_string(e);

		if (!json_object_is_type(e, json_type_string) ||
		    !fx_in_list(s, (const char *const[]){ "SOL_SOCKET", "AF_VSOCK", NULL }))
			FAIL("%s.level: \"SOL_SOCKET\" or \"AF_VSOCK\" is due", path);
		a->level = !strcmp(s, "AF_VSOCK") ? "AF_VSOCK" : "SOL_SOCKET";
	}
	if (json_object_object_get_ex(o, "opt", &e)) {
		snprintf(sub, sizeof(sub), "%s.opt", path);
		if (fx_copy_string(e, a->opt, sizeof(a->opt), sub, err, err_size))
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
				    !fx_in_list(json_object_get_string(s), poll_names))
					FAIL("%s[%zu]: a POLL* name is due (POLLIN, POLLOUT, POLLRDHUP, ...)", sub, i);
				snprintf(a->events[a->n_events++], sizeof(a->events[0]), "%s",
					 json_object_get_string(s));
			}
		} else {
			if (fx_get_range(e, 0, 0xffff, sub, &n, err, err_size))
				return -1;
			a->n_events = -1;
			a->events_mask = (uint32_t)n;
		}
	}
	if (json_object_object_get_ex(o, "result", &e)) {
		if (!a->wait)
			FAIL("%s.result: a call with \"wait\": false has its result on the await step", path);
		snprintf(sub, sizeof(sub), "%s.result", path);
		if (!(st->result = fx_parse_result(l, e, sub)))
			return -1;
	}
	return 0;
}
