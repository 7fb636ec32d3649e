/*
 * fx_report.c: what a run tells: KTAP results with "# " diagnostics (the step, the field, the
 * last packets decoded), and the trace (JSON lines) that `fixtures diff` compares.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "fx_run.h"

void fx_ktap_diag(FILE *ktap, const char *fmt, ...)
{
	char line[FX_MSG_MAX * 2];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* One line per diagnostic: a newline inside would end the "# " prefix. */
	for (char *c = line; *c; c++)
		if (*c == '\n' || *c == '\r')
			*c = ' ';
	fprintf(ktap, "# %s\n", line);
}

void fx_remember(struct fx_run *r, int from_kernel, const struct fx_hdr *h, size_t payload_len)
{
	if (r->n_last == FX_LAST_PACKETS) {
		memmove(r->last, r->last + 1, sizeof(r->last) - sizeof(r->last[0]));
		r->n_last--;
	}
	r->last[r->n_last++] = (struct fx_seen){ from_kernel, r->step ? r->step->index : -1, *h,
						 payload_len };
}

/* The fixture wrote this port as a number (a connection's, a packet's or an agent call's). */
static int literal_port(const struct fx_fixture *fx, uint64_t port)
{
	for (int i = 0; i < fx->n_conns; i++) {
		const struct fx_value *v[2] = { fx->conns[i].engine_port, fx->conns[i].kernel_port };

		for (int k = 0; k < 2; k++)
			if (v[k]->kind == FX_V_INT && v[k]->n == port)
				return 1;
	}
	for (int i = 0; i < fx->n_steps; i++) {
		const struct fx_step *st = &fx->steps[i];
		const struct fx_value *v[3] = { st->pkt.field[FX_SRC_PORT], st->pkt.field[FX_DST_PORT],
						st->kind == FX_STEP_AGENT ? st->agent.port : NULL };

		for (int k = 0; k < 3; k++)
			if (v[k] && v[k]->kind == FX_V_INT && v[k]->n == port)
				return 1;
	}
	return 0;
}

/* A port as the trace writes it: "$sock.port", "$eph1" for a kernel-chosen one, or a number. */
static json_object *trace_port(struct fx_run *r, uint64_t port, int kernel_side)
{
	char text[FX_NAME_MAX + 8];

	for (int i = 0; i < r->n_socks; i++)
		if (r->socks[i].has_port && r->socks[i].port == port) {
			snprintf(text, sizeof(text), "$%s.port", r->socks[i].name);
			return json_object_new_string(text);
		}
	if (literal_port(r->fx, port))
		return json_object_new_uint64(port);
	for (int i = 0; i < r->n_eph; i++)
		if (r->eph[i] == port) {
			snprintf(text, sizeof(text), "$eph%d", i + 1);
			return json_object_new_string(text);
		}
	if (kernel_side && r->n_eph < FX_EPH_MAX) {
		r->eph[r->n_eph++] = (uint32_t)port;
		snprintf(text, sizeof(text), "$eph%d", r->n_eph);
		return json_object_new_string(text);
	}
	return json_object_new_uint64(port);
}

json_object *fx_trace_head(struct fx_run *r, const char *event)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "fixture", json_object_new_string(r->fx->name));
	json_object_object_add(o, "step", r->step && !r->step->setup_of ?
			       json_object_new_int(r->step->index) : json_object_new_int(-1));
	json_object_object_add(o, "event", json_object_new_string(event));
	return o;
}

void fx_trace_write(struct fx_run *r, json_object *o)
{
	fprintf(r->options->trace, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	fflush(r->options->trace);
	json_object_put(o);
}

void fx_trace_packet(struct fx_run *r, int from_kernel, const struct fx_hdr *h, size_t payload_len)
{
	json_object *o, *hdr;
	const char *op;

	if (!r->options->trace)
		return;
	o = fx_trace_head(r, from_kernel ? "rx" : "tx");
	hdr = json_object_new_object();
	for (int f = 0; f < FX_N_FIELDS; f++) {
		json_object *v;

		if (f == FX_SRC_CID || f == FX_DST_CID)
			v = h->f[f] == r->engine->kernel_cid ? json_object_new_string("$kernel_cid") :
			    h->f[f] == r->engine->engine_cid ? json_object_new_string("$engine_cid") :
			    json_object_new_uint64(h->f[f]);
		else if (f == FX_SRC_PORT || f == FX_DST_PORT)
			v = trace_port(r, h->f[f], from_kernel == (f == FX_SRC_PORT));
		else if (f == FX_OP && (op = fx_op_name(h->f[f])))
			v = json_object_new_string(op);
		else
			v = json_object_new_uint64(h->f[f]);
		json_object_object_add(hdr, fx_fields[f].name, v);
	}
	json_object_object_add(o, "hdr", hdr);
	json_object_object_add(o, "payload_len", json_object_new_uint64(payload_len));
	fx_trace_write(r, o);
}

void fx_trace_agent(struct fx_run *r, const char *what, json_object *reply)
{
	json_object *o, *e;

	if (!r->options->trace)
		return;
	o = fx_trace_head(r, "agent");
	json_object_object_add(o, "do", json_object_new_string(what));
	json_object_object_add(o, "ret", json_object_object_get_ex(reply, "ret", &e) ?
			       json_object_get(e) : NULL);
	json_object_object_add(o, "errno", json_object_object_get_ex(reply, "errno", &e) ?
			       json_object_get(e) : NULL);
	fx_trace_write(r, o);
}

void fx_trace_end(struct fx_run *r, const char *result, const char *reason)
{
	json_object *o;

	if (!r->options->trace)
		return;
	r->step = NULL;
	o = fx_trace_head(r, "end");
	json_object_object_add(o, "result", json_object_new_string(result));
	json_object_object_add(o, "reason", json_object_new_string(reason));
	fx_trace_write(r, o);
}

/* The diagnostics of a failure: the reason, kernel alarms, the last packets decoded. */
void fx_ktap_result(struct fx_run *r, int number, const char *name, int ok, const char *directive)
{
	FILE *k = r->options->ktap;
	char pkt[256];

	if (r->failed) {
		fx_ktap_diag(k, "%s: %s", r->file, r->reason);
		for (int i = 0; i < r->n_diag; i++)
			fx_ktap_diag(k, "%s", r->diag[i]);
		if (r->n_last)
			fx_ktap_diag(k, "last packets (kernel %s):", r->kernel_text);
		for (int i = 0; i < r->n_last; i++) {
			fx_hdr_describe(&r->last[i].hdr, r->last[i].payload_len, pkt, sizeof(pkt));
			fx_ktap_diag(k, "  %s %s", r->last[i].from_kernel ? "kernel ->" : "engine ->", pkt);
		}
		if (r->n_hv_last)
			fx_ktap_diag(k, "last packets and events (kernel %s):", r->kernel_text);
		for (int i = 0; i < r->n_hv_last; i++)
			fx_ktap_diag(k, "  %s", r->hv_last[i]);
	}
	fprintf(k, "%s %d %s%s%s%s\n", ok ? "ok" : "not ok", number,
		r->options->prefix ? r->options->prefix : "", name, directive ? " # " : "",
		directive ? directive : "");
	fflush(k);
}
