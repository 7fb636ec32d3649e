/*
 * fx_hv_steps.c: the interpreter for target hv_sock (engine 3): a channel per connection, the
 * guest's TL connect requests and channel events, VMBus packets matched field by field. Agent
 * and await steps are the shared ones (fx_agent_steps.c).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "fx_run.h"
#include "../vsock-uri/vsock_uri.h"
#include "vsc.h"

/* The URI library's port <-> service GUID mapping, on the raw 16 bytes the engine keeps. */
static void port_guid(uint32_t port, uint8_t g[16])
{
	struct vsock_guid v;

	vsock_guid_from_port(port, &v);
	memcpy(g, v.b, sizeof(v.b));
}

/* 0 with the port when g is a vsock service GUID; -1 when it is some other GUID. */
static int guid_port(const uint8_t g[16], uint32_t *port)
{
	struct vsock_guid v;

	memcpy(v.b, g, sizeof(v.b));
	return vsock_guid_to_port(&v, port);
}

static void guid_text(const uint8_t g[16], char *out, size_t size)
{
	struct vsock_guid v;
	char text[VSOCK_GUID_TEXT_SIZE];

	memcpy(v.b, g, sizeof(v.b));
	vsock_guid_format(&v, text);
	snprintf(out, size, "%s", text);
}

static const char *event_name(uint32_t type)
{
	static const char *const names[] = { "?", "tl_connect", "opened", "guest_closed",
					     "wait_rescind", "packet" };

	return type < sizeof(names) / sizeof(names[0]) ? names[type] : "?";
}

/* A field of a packet from its descriptor on: 1 with *out, 0 when the packet is too short. */
static int field_of(const uint8_t *bytes, size_t len, int f, uint64_t *out)
{
	const struct fx_field_info *fi = &fx_hv_fields[f];

	if (fi->offset + fi->width > len)
		return 0;
	*out = 0;
	for (unsigned int i = 0; i < fi->width; i++)
		*out |= (uint64_t)bytes[fi->offset + i] << (8 * i);
	return 1;
}

static void put_field(uint8_t *bytes, int f, uint64_t v)
{
	for (unsigned int i = 0; i < fx_hv_fields[f].width; i++)
		bytes[fx_hv_fields[f].offset + i] = (uint8_t)(v >> (8 * i));
}

static int conn_of_chan(const struct fx_run *r, uint32_t chan)
{
	for (int i = 0; i < r->fx->n_conns; i++)
		if (chan && r->hv[i].chan == chan)
			return i;
	return -1;
}

static void describe_packet(const struct fx_run *r, uint32_t chan, const uint8_t *bytes, size_t len,
			    char *out, size_t size)
{
	int c = conn_of_chan(r, chan);
	size_t used = (size_t)snprintf(out, size, "packet on channel %" PRIu32 "%s%s%s, %zu bytes", chan,
				       c >= 0 ? " (conn " : "", c >= 0 ? r->fx->conns[c].name : "",
				       c >= 0 ? ")" : "", len);

	for (int f = 0; f < FX_HV_N_FIELDS && used < size; f++) {
		uint64_t v;

		if (field_of(bytes, len, f, &v))
			used += (size_t)snprintf(out + used, size - used, ", %s %" PRIu64,
						 fx_hv_fields[f].name, v);
	}
}

static void describe_in(const struct fx_run *r, const struct fx_hv_in *in, char *out, size_t size)
{
	char a[40], b[40];
	int c;

	if (!in->is_event) {
		describe_packet(r, in->chan, in->bytes, in->len, out, size);
		return;
	}
	if (in->event == 1) {	/* VSIM_EV_TL_CONNECT */
		guid_text(in->a, a, sizeof(a));
		guid_text(in->b, b, sizeof(b));
		snprintf(out, size, "event tl_connect: guest endpoint %s, host service %s", a, b);
		return;
	}
	c = conn_of_chan(r, in->chan);
	snprintf(out, size, "event %s on channel %" PRIu32 "%s%s%s", event_name(in->event), in->chan,
		 c >= 0 ? " (conn " : "", c >= 0 ? r->fx->conns[c].name : "", c >= 0 ? ")" : "");
}

static void remember(struct fx_run *r, const char *who, const char *what)
{
	if (r->n_hv_last == FX_LAST_PACKETS) {
		memmove(r->hv_last, r->hv_last + 1, sizeof(r->hv_last) - sizeof(r->hv_last[0]));
		r->n_hv_last--;
	}
	snprintf(r->hv_last[r->n_hv_last++], sizeof(r->hv_last[0]), "%s %s", who, what);
}

/* The trace: one line per packet or event either way, fields by name. */
static void trace(struct fx_run *r, const char *event, uint32_t chan, const uint8_t *bytes,
		  size_t len, const char *what)
{
	json_object *o, *hdr;
	int c = conn_of_chan(r, chan);

	if (!r->options->trace)
		return;
	o = fx_trace_head(r, event);
	json_object_object_add(o, "conn", c >= 0 ? json_object_new_string(r->fx->conns[c].name) : NULL);
	if (what)
		json_object_object_add(o, "what", json_object_new_string(what));
	if (bytes) {
		hdr = json_object_new_object();
		for (int f = 0; f < FX_HV_N_FIELDS; f++) {
			uint64_t v;

			if (field_of(bytes, len, f, &v))
				json_object_object_add(hdr, fx_hv_fields[f].name, json_object_new_uint64(v));
		}
		json_object_object_add(o, "hv", hdr);
		json_object_object_add(o, "len", json_object_new_uint64(len));
	}
	fx_trace_write(r, o);
}

/* The guest's next packet or event: 1 (in r->hv_in), 0 at the deadline, -1. */
static int next_in(struct fx_run *r, uint64_t deadline)
{
	char why[FX_MSG_MAX] = "", text[160];
	struct fx_hv_in *in = r->hv_in;
	int rc = r->engine->hv->recv(r->engine->ctx, in, deadline, why, sizeof(why));

	if (rc < 0)
		return fx_fail(r, "the engine could not receive: %s", why);
	if (rc == 0)
		return 0;
	if (!in->is_event && in->len > FX_HV_PACKET_MAX)
		return fx_fail(r, "the engine reported a packet of %zu bytes", in->len);
	describe_in(r, in, text, sizeof(text));
	remember(r, "kernel ->", text);
	if (in->is_event)
		trace(r, "rx_event", in->chan, NULL, 0, event_name(in->event));
	else
		trace(r, "rx", in->chan, in->bytes, in->len, NULL);
	return 1;
}

static struct fx_value v_inband = { .kind = FX_V_INT, .n = FX_HV_PKT_DATA_INBAND };
static struct fx_value v_offset8 = { .kind = FX_V_INT, .n = FX_HV_DESC_SIZE / 8 };
static struct fx_value v_zero = { .kind = FX_V_INT };
static struct fx_value v_pipe_data = { .kind = FX_V_INT, .n = 1 };

/* 1 when the packet matches; 0 with "field: got X, want Y" in why; -1 when a value cannot be
 * evaluated. Fields left out: in-band, offset8 2, flags 0, pkt_type 1, len8 what data_size
 * makes, data_size the payload's length; trans_id anything. */
static int match(struct fx_run *r, const struct fx_packet_spec *p, const struct fx_hv_in *in,
		 char *why, size_t why_size)
{
	const struct fx_value *defaults[FX_HV_N_FIELDS] = {
		[FX_HV_TYPE] = &v_inband, [FX_HV_OFFSET8] = &v_offset8, [FX_HV_FLAGS] = &v_zero,
		[FX_HV_PKT_TYPE] = &v_pipe_data,
	};
	struct fx_value data_size = { .kind = FX_V_INT }, len8 = { .kind = FX_V_INT };
	uint64_t got, ds;
	char want[200];

	if (p->conn >= 0 && in->chan != r->hv[p->conn].chan) {
		snprintf(why, why_size, "channel: got %" PRIu32 ", want %" PRIu32 " (conn %s)", in->chan,
			 r->hv[p->conn].chan, r->fx->conns[p->conn].name);
		return 0;
	}
	if (p->payload) {
		data_size.n = p->payload->len;
		defaults[FX_HV_DATA_SIZE] = &data_size;
	}
	if (field_of(in->bytes, in->len, FX_HV_DATA_SIZE, &ds)) {
		len8.n = (FX_HV_HEADER_SIZE + ((ds + 7) & ~7ull)) / 8;
		defaults[FX_HV_LEN8] = &len8;
	}
	r->ev.n_pending = 0;
	r->cur_conn = p->conn;
	for (int f = 0; f < FX_HV_N_FIELDS; f++) {
		const struct fx_value *v = p->hv[f] ? p->hv[f] : defaults[f];
		int rc;

		if (!v)
			continue;
		if (!field_of(in->bytes, in->len, f, &got)) {
			snprintf(why, why_size, "%s: the packet has %zu bytes, none at offset %u",
				 fx_hv_fields[f].name, in->len, fx_hv_fields[f].offset);
			return 0;
		}
		rc = fx_value_match(v, &r->ev, -1, got, want, sizeof(want));
		if (rc < 0) {
			snprintf(why, why_size, "%s: %s", fx_hv_fields[f].name, want);
			return -1;
		}
		if (rc == 0) {
			snprintf(why, why_size, "%s: got %" PRIu64 ", %s", fx_hv_fields[f].name, got, want);
			return 0;
		}
	}
	if (p->payload) {
		const uint8_t *data = in->bytes + FX_HV_HEADER_SIZE;
		size_t plen = in->len > FX_HV_HEADER_SIZE ? in->len - FX_HV_HEADER_SIZE : 0, i;

		if (plen > p->payload->len)
			plen = p->payload->len;	/* data_size matched: the rest is padding */
		for (i = 0; i < plen && data[i] == p->payload->bytes[i]; i++)
			;
		if (i < plen) {
			snprintf(why, why_size, "payload: byte %zu: got 0x%02x, want 0x%02x", i, data[i],
				 p->payload->bytes[i]);
			return 0;
		}
		if (plen < p->payload->len) {
			snprintf(why, why_size, "payload: the packet holds %zu bytes, want %zu", plen,
				 p->payload->len);
			return 0;
		}
	}
	return 1;
}

/* expect and expect_fin: the next thing from the guest is this packet (channel opened events
 * pass: VSIM_IOC_OFFER already told). */
static int run_expect(struct fx_run *r, const struct fx_step *st, int fin)
{
	uint64_t start = fx_now_ms(), deadline = fx_deadline_in(r, st->within_ms);
	struct fx_packet_spec spec = st->pkt;
	char why[FX_MSG_MAX], text[160];

	if (fin && !spec.hv[FX_HV_DATA_SIZE])
		spec.hv[FX_HV_DATA_SIZE] = &v_zero;
	for (;;) {
		int rc = next_in(r, deadline), m;

		if (rc < 0)
			return -1;
		if (rc == 0)
			return fx_fail(r, "no packet within %" PRIu64 " ms%s", deadline - start,
				       deadline == r->deadline ? " (the fixture's timeout_ms)" : "");
		if (r->hv_in->is_event && r->hv_in->event == FX_HV_EV_OPENED)
			continue;
		if (r->hv_in->is_event) {
			describe_in(r, r->hv_in, text, sizeof(text));
			return fx_fail(r, "got %s, want a %s", text, fin ? "FIN (data_size 0)" : "packet");
		}
		m = match(r, &spec, r->hv_in, why, sizeof(why));
		if (m <= 0)
			return fx_fail(r, "%s", why);
		if (fx_now_ms() - start < st->not_before_ms)
			return fx_fail(r, "the packet came after %" PRIu64 " ms, not before %" PRIu32 " ms",
				       fx_now_ms() - start, st->not_before_ms);
		fx_keep_captures(r);
		return 0;
	}
}

/* Nothing from the guest (on the connection's channel, when the step names one) for for_ms. */
static int run_expect_none(struct fx_run *r, const struct fx_step *st)
{
	uint64_t deadline = fx_deadline_in(r, st->for_ms);
	int conn = st->pkt.conn;
	char text[160];

	for (;;) {
		int rc = next_in(r, deadline);

		if (rc <= 0)
			return rc;
		if (r->hv_in->is_event && r->hv_in->event == FX_HV_EV_OPENED)
			continue;
		if (conn >= 0 && (r->hv_in->chan != r->hv[conn].chan || !r->hv_in->chan))
			continue;
		describe_in(r, r->hv_in, text, sizeof(text));
		return fx_fail(r, "%s where none was due", text);
	}
}

static int port_value(struct fx_run *r, const struct fx_value *v, const char *what, uint32_t *out)
{
	char why[256];
	uint64_t n;

	if (fx_value_get(v, &r->ev, &n, why, sizeof(why)))
		return fx_fail(r, "%s: %s", what, why);
	if (n > UINT32_MAX)
		return fx_fail(r, "%s: %" PRIu64 " is wider than a port", what, n);
	*out = (uint32_t)n;
	return 0;
}

/* The guest's CHANNELMSG_TL_CONNECT_REQUEST for the connection's ports. */
static int run_tl_connect(struct fx_run *r, const struct fx_step *st)
{
	uint64_t start = fx_now_ms(), deadline = fx_deadline_in(r, st->within_ms);
	const struct fx_conn *c = &r->fx->conns[st->conn];
	const struct fx_value *want_k = st->pkt.field[FX_SRC_PORT] ? st->pkt.field[FX_SRC_PORT] : c->kernel_port;
	const struct fx_value *want_e = st->pkt.field[FX_DST_PORT] ? st->pkt.field[FX_DST_PORT] : c->engine_port;
	struct fx_hv_conn *hc = &r->hv[st->conn];
	char text[160], want[200], g[40];
	uint32_t kport, eport;
	int rc;

	for (;;) {
		rc = next_in(r, deadline);
		if (rc < 0)
			return -1;
		if (rc == 0)
			return fx_fail(r, "no TL connect request within %" PRIu64 " ms", deadline - start);
		if (r->hv_in->is_event && r->hv_in->event == FX_HV_EV_OPENED)
			continue;
		if (r->hv_in->is_event && r->hv_in->event == 1)
			break;
		describe_in(r, r->hv_in, text, sizeof(text));
		return fx_fail(r, "got %s, want the guest's TL connect request", text);
	}
	if (guid_port(r->hv_in->a, &kport)) {
		guid_text(r->hv_in->a, g, sizeof(g));
		return fx_fail(r, "guest endpoint %s is not a vsock service GUID", g);
	}
	if (guid_port(r->hv_in->b, &eport)) {
		guid_text(r->hv_in->b, g, sizeof(g));
		return fx_fail(r, "host service %s is not a vsock service GUID", g);
	}
	r->ev.n_pending = 0;
	rc = fx_value_match(want_k, &r->ev, FX_SRC_PORT, kport, want, sizeof(want));
	if (rc <= 0)
		return fx_fail(r, "kernel_port (guest endpoint): got %" PRIu32 ", %s", kport, want);
	rc = fx_value_match(want_e, &r->ev, FX_DST_PORT, eport, want, sizeof(want));
	if (rc <= 0)
		return fx_fail(r, "engine_port (host service): got %" PRIu32 ", %s", eport, want);
	fx_keep_captures(r);
	memcpy(hc->guest_endpoint, r->hv_in->a, 16);
	memcpy(hc->host_service, r->hv_in->b, 16);
	hc->has_request = 1;
	return 0;
}

static int run_offer(struct fx_run *r, const struct fx_step *st)
{
	static const char *const states[] = { "?", "offered", "open", "closed", "rescinded" };
	const struct fx_conn *c = &r->fx->conns[st->conn];
	struct fx_hv_conn *hc = &r->hv[st->conn];
	uint8_t if_type[16], if_instance[16];
	uint32_t kport, eport, chan = 0, state = 0;
	char why[FX_MSG_MAX] = "";

	if (hc->chan)
		return fx_fail(r, "conn %s has channel %" PRIu32 " already", c->name, hc->chan);
	if (c->engine_initiates) {
		/* Host-initiated: if_type is the guest's listening service, if_instance the host's. */
		if (port_value(r, c->kernel_port, "kernel_port", &kport) ||
		    port_value(r, c->engine_port, "engine_port", &eport))
			return -1;
		port_guid(kport, if_type);
		port_guid(eport, if_instance);
	} else if (hc->has_request) {
		/* The answer to the guest's request, with its GUIDs as they came. */
		memcpy(if_type, hc->host_service, 16);
		memcpy(if_instance, hc->guest_endpoint, 16);
	} else {
		if (port_value(r, c->kernel_port, "kernel_port", &kport) ||
		    port_value(r, c->engine_port, "engine_port", &eport))
			return -1;
		port_guid(eport, if_type);
		port_guid(kport, if_instance);
	}
	if (r->engine->hv->offer(r->engine->ctx, if_type, if_instance, c->engine_initiates, &chan,
				 &state, why, sizeof(why)))
		return fx_fail(r, "the engine could not offer: %s", why);
	hc->chan = chan;
	snprintf(why, sizeof(why), "channel %" PRIu32 " %s", chan, state < 5 ? states[state] : "?");
	remember(r, "engine ->", why);
	trace(r, "offer", chan, NULL, 0, state < 5 ? states[state] : "?");
	if ((int)state != st->hv_state)
		return fx_fail(r, "channel %" PRIu32 " is %s after the offer, want %s", chan,
			       state < 5 ? states[state] : "?", states[st->hv_state]);
	return 0;
}

/* errno of an engine call against the step's result (none: success is due). */
static int check_errno(struct fx_run *r, const struct fx_step *st, const char *what, int rc)
{
	const char *want = st->result && st->result->is_errno ? st->result->errno_name : "success";
	const char *got = rc ? vsc_errname(rc) : "success";

	if (!strcmp(want, got))
		return 0;
	return fx_fail(r, "%s: got %s, want %s", what, got, want);
}

static int field_value(struct fx_run *r, const struct fx_value *v, uint64_t def, int f, uint64_t *out)
{
	char why[256];

	*out = def;
	if (!v)
		return 0;
	if (fx_value_get(v, &r->ev, out, why, sizeof(why)))
		return fx_fail(r, "%s: %s", fx_hv_fields[f].name, why);
	if (fx_hv_fields[f].width < 8 && *out >> (8 * fx_hv_fields[f].width))
		return fx_fail(r, "%s: %" PRIu64 " is wider than the field", fx_hv_fields[f].name, *out);
	return 0;
}

/* send and send_fin: the module frames a plain payload; fields or raw make the runner build it. */
static int run_send(struct fx_run *r, const struct fx_step *st, int fin)
{
	const struct fx_packet_spec *p = &st->pkt;
	uint32_t chan = r->hv[st->conn].chan;
	size_t plen = !fin && p->payload ? p->payload->len : 0, len;
	int raw = p->hv_raw || p->hv_given, rc;
	char why[FX_MSG_MAX] = "", text[160];

	if (!chan)
		return fx_fail(r, "conn %s has no channel: offer first", r->fx->conns[st->conn].name);
	if (p->hv_raw) {
		len = p->hv_raw->len;
		memcpy(r->tx, p->hv_raw->bytes, len);
	} else if (raw) {
		const uint64_t def[FX_HV_N_FIELDS] = {
			[FX_HV_TYPE] = FX_HV_PKT_DATA_INBAND, [FX_HV_OFFSET8] = FX_HV_DESC_SIZE / 8,
			[FX_HV_LEN8] = (FX_HV_HEADER_SIZE + ((plen + 7) & ~(size_t)7)) / 8,
			[FX_HV_PKT_TYPE] = 1, [FX_HV_DATA_SIZE] = plen,
		};

		len = FX_HV_HEADER_SIZE + ((plen + 7) & ~(size_t)7);
		if (len > FX_HV_PACKET_MAX)
			return fx_fail(r, "a packet of %zu bytes is more than the engine carries", len);
		memset(r->tx, 0, len);
		for (int f = 0; f < FX_HV_N_FIELDS; f++) {
			uint64_t v;

			if (field_value(r, p->hv[f], def[f], f, &v))
				return -1;
			put_field(r->tx, f, v);
		}
		if (plen)
			memcpy(r->tx + FX_HV_HEADER_SIZE, p->payload->bytes, plen);
	} else {
		len = plen;
		if (plen)
			memcpy(r->tx, p->payload->bytes, plen);
	}
	if (raw)
		describe_packet(r, chan, r->tx, len, text, sizeof(text));
	else
		snprintf(text, sizeof(text), "%s on channel %" PRIu32 ", %zu payload bytes (framed by the module)",
			 len ? "data" : "FIN", chan, len);
	remember(r, "engine ->", text);
	trace(r, "tx", chan, raw ? r->tx : NULL, raw ? len : 0, raw ? NULL : len ? "data" : "fin");
	rc = r->engine->hv->send(r->engine->ctx, chan, r->tx, len, raw, why, sizeof(why));
	if (rc < 0)
		return fx_fail(r, "the engine could not send: %s", why);
	return check_errno(r, st, "send", rc);
}

static int run_rescind(struct fx_run *r, const struct fx_step *st)
{
	uint32_t chan = r->hv[st->conn].chan;
	char why[FX_MSG_MAX] = "";
	int rc;

	if (!chan)
		return fx_fail(r, "conn %s has no channel: offer first", r->fx->conns[st->conn].name);
	snprintf(why, sizeof(why), "rescind channel %" PRIu32, chan);
	remember(r, "engine ->", why);
	trace(r, "rescind", chan, NULL, 0, NULL);
	rc = r->engine->hv->rescind(r->engine->ctx, chan, why, sizeof(why));
	if (rc < 0)
		return fx_fail(r, "the engine could not rescind: %s", why);
	return check_errno(r, st, "rescind", rc);
}

static int run_event(struct fx_run *r, const struct fx_step *st)
{
	uint64_t start = fx_now_ms(), deadline = fx_deadline_in(r, st->within_ms);
	uint32_t chan = r->hv[st->conn].chan;
	char text[160];

	if (!chan)
		return fx_fail(r, "conn %s has no channel: offer first", r->fx->conns[st->conn].name);
	for (;;) {
		int rc = next_in(r, deadline);

		if (rc < 0)
			return -1;
		if (rc == 0)
			return fx_fail(r, "no %s event within %" PRIu64 " ms", event_name((uint32_t)st->hv_event),
				       deadline - start);
		if (r->hv_in->is_event && r->hv_in->event == (uint32_t)st->hv_event &&
		    r->hv_in->chan == chan)
			return 0;
		if (r->hv_in->is_event && r->hv_in->event == FX_HV_EV_OPENED)
			continue;
		describe_in(r, r->hv_in, text, sizeof(text));
		return fx_fail(r, "got %s, want event %s on channel %" PRIu32, text,
			       event_name((uint32_t)st->hv_event), chan);
	}
}

int fx_hv_run_steps(struct fx_run *r)
{
	for (int i = 0; i < r->fx->n_steps; i++) {
		const struct fx_step *st = &r->fx->steps[i];
		int rc = 0;

		r->step = st;
		if (fx_now_ms() >= r->deadline)
			return fx_fail(r, "the fixture's timeout_ms (%" PRIu32 ") ran out", r->fx->timeout_ms);
		switch (st->kind) {
		case FX_STEP_SEND:
		case FX_STEP_HV_SEND_FIN:
			rc = run_send(r, st, st->kind == FX_STEP_HV_SEND_FIN);
			break;
		case FX_STEP_EXPECT:
		case FX_STEP_HV_EXPECT_FIN:
			rc = run_expect(r, st, st->kind == FX_STEP_HV_EXPECT_FIN);
			break;
		case FX_STEP_EXPECT_NONE:
			rc = run_expect_none(r, st);
			break;
		case FX_STEP_AGENT:
			rc = fx_agent_step(r, st);
			break;
		case FX_STEP_AWAIT:
			rc = fx_await_step(r, st);
			break;
		case FX_STEP_HV_TL_CONNECT:
			rc = run_tl_connect(r, st);
			break;
		case FX_STEP_HV_OFFER:
			rc = run_offer(r, st);
			break;
		case FX_STEP_HV_RESCIND:
			rc = run_rescind(r, st);
			break;
		case FX_STEP_HV_EVENT:
			rc = run_event(r, st);
			break;
		default:
			rc = fx_fail(r, "a %s step in a hv_sock fixture", fx_step_kind_names[st->kind]);
			break;
		}
		if (rc)
			return -1;
	}
	return 0;
}

/* After the last step: a packet or event (channel opened excepted) nobody expected fails. */
int fx_hv_drain_unexpected(struct fx_run *r)
{
	char text[160];

	r->step = NULL;
	for (;;) {
		int rc = next_in(r, fx_now_ms());

		if (rc <= 0)
			return rc;
		if (r->hv_in->is_event && r->hv_in->event == FX_HV_EV_OPENED)
			continue;
		describe_in(r, r->hv_in, text, sizeof(text));
		return fx_fail(r, "%s nobody expected", text);
	}
}
