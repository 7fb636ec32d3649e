/*
 * fx_steps.c: the interpreter: runs a loaded fixture's steps against an engine, with the
 * connections' defaults, the ignore list, deadlines and the invariants (fx_conn.c).
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "fx_run.h"
#include "vsc.h"

void fx_step_label(const struct fx_step *st, char *out, size_t size)
{
	if (!st)
		snprintf(out, size, "after the steps");
	else if (st->setup_of)
		snprintf(out, size, "setup %s %s", st->setup_of, fx_step_kind_names[st->kind]);
	else
		snprintf(out, size, "step %d %s", st->index, fx_step_kind_names[st->kind]);
}

int fx_fail(struct fx_run *r, const char *fmt, ...)
{
	char label[64], msg[FX_MSG_MAX];
	va_list ap;

	if (r->failed || r->skipped)
		return -1;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fx_step_label(r->step, label, sizeof(label));
	snprintf(r->reason, sizeof(r->reason), "%s: %s", label, msg);
	r->failed = 1;
	return -1;
}

int fx_skip(struct fx_run *r, const char *fmt, ...)
{
	va_list ap;

	if (r->failed || r->skipped)
		return -1;
	va_start(ap, fmt);
	vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
	va_end(ap);
	r->skipped = 1;
	return -1;
}

int fx_resolve(void *ctx, const char *name, uint64_t *out, char *why, size_t why_size)
{
	struct fx_run *r = ctx;
	const char *dot = strchr(name, '.');

	if (!strcmp(name, "kernel_cid")) {
		*out = r->engine->kernel_cid;
		return 0;
	}
	if (!strcmp(name, "engine_cid")) {
		*out = r->engine->engine_cid;
		return 0;
	}
	if (dot) {
		char sock[FX_NAME_MAX];
		struct fx_sock *s;
		json_object *req, *reply = NULL, *port;

		snprintf(sock, sizeof(sock), "%.*s", (int)(dot - name), name);
		s = fx_sock_find(r, sock, 0);
		if (s && s->has_port) {
			*out = s->port;
			return 0;
		}
		/* Asked from the agent when first needed. */
		req = json_object_new_object();
		json_object_object_add(req, "do", json_object_new_string("getsockname"));
		json_object_object_add(req, "sock", json_object_new_string(sock));
		if (fx_agent_plain(r, req, 5000, &reply, why, why_size) != 1)
			return -1;
		if (!json_object_object_get_ex(reply, "port", &port) ||
		    json_object_get_int64(port) < 0 || json_object_get_int64(port) > UINT32_MAX ||
		    json_object_get_int64(port) == UINT32_MAX) {
			snprintf(why, why_size, "$%s: the agent has no bound socket \"%s\"", name, sock);
			json_object_put(reply);
			return -1;
		}
		s = fx_sock_find(r, sock, 1);
		if (s) {
			s->has_port = 1;
			s->port = (uint32_t)json_object_get_int64(port);
		}
		*out = (uint64_t)json_object_get_int64(port);
		json_object_put(reply);
		return 0;
	}
	for (int i = 0; i < r->n_captures; i++)
		if (!strcmp(r->captures[i].name, name)) {
			*out = r->captures[i].value;
			return 0;
		}
	snprintf(why, why_size, "$%s: nothing captured under that name yet", name);
	return -1;
}

/* ms from now, or the fixture's own deadline when that comes first. */
uint64_t fx_deadline_in(struct fx_run *r, uint32_t ms)
{
	uint64_t d = fx_now_ms() + ms;

	return d < r->deadline ? d : r->deadline;
}

/* Defaults of an expect (or of an ignore entry naming a connection: addresses only). */
static struct fx_value default_kernel_cid = { .kind = FX_V_REF, .name = "kernel_cid" };
static struct fx_value default_engine_cid = { .kind = FX_V_REF, .name = "engine_cid" };
static struct fx_value default_credit = { .kind = FX_V_CREDIT };
static struct fx_value default_zero = { .kind = FX_V_INT };
static struct fx_value default_stream = { .kind = FX_V_INT, .n = FX_TYPE_STREAM };
static struct fx_value default_seqpacket = { .kind = FX_V_INT, .n = FX_TYPE_SEQPACKET };

static const struct fx_value *match_default(const struct fx_run *r, const struct fx_packet_spec *p,
					    int f, int addresses_only)
{
	const struct fx_conn *c;

	if (p->conn < 0)
		return NULL;
	c = &r->fx->conns[p->conn];
	switch (f) {
	case FX_SRC_CID:
		return &default_kernel_cid;
	case FX_DST_CID:
		return &default_engine_cid;
	case FX_SRC_PORT:
		return c->kernel_port;
	case FX_DST_PORT:
		return c->engine_port;
	case FX_TYPE:
		return c->type == FX_TYPE_SEQPACKET ? &default_seqpacket : &default_stream;
	case FX_FLAGS:
		return addresses_only ? NULL : &default_zero;
	case FX_BUF_ALLOC:
	case FX_FWD_CNT:
		return addresses_only ? NULL : &default_credit;
	}
	return NULL;
}

/*
 * 1 when the packet matches the spec; 0 with "field: got X, want Y" in why; -1 when a value
 * cannot be evaluated (why). Captures land in r->pending.
 */
static int match_packet(struct fx_run *r, const struct fx_packet_spec *p, int addresses_only,
			const struct fx_hdr *h, const uint8_t *payload, size_t plen, char *why,
			size_t why_size)
{
	char want[200], got[64];

	r->ev.n_pending = 0;
	r->cur_conn = p->conn >= 0 ? p->conn : fx_conn_of(r, h, 1);
	for (int f = 0; f < FX_N_FIELDS; f++) {
		const struct fx_value *v = p->field[f] ? p->field[f] : match_default(r, p, f, addresses_only);
		int rc;

		if (f == FX_LEN && !v) {
			v = p->any_len;
			if (!v && p->payload) {
				if (h->f[FX_LEN] == p->payload->len)
					continue;
				snprintf(why, why_size, "len: got %" PRIu64 ", want %zu (the payload's length)",
					 h->f[FX_LEN], p->payload->len);
				return 0;
			}
		}
		if (!v)
			continue;
		rc = fx_value_match(v, &r->ev, f, h->f[f], want, sizeof(want));
		if (rc == 1)
			continue;
		if (rc < 0) {
			snprintf(why, why_size, "%s: %s", fx_fields[f].name, want);
			return -1;
		}
		fx_field_describe(f, h->f[f], got, sizeof(got));
		snprintf(why, why_size, "%s: got %s, %s", fx_fields[f].name, got, want);
		return 0;
	}
	if (p->payload) {
		size_t n = plen < p->payload->len ? plen : p->payload->len, i;

		for (i = 0; i < n && payload[i] == p->payload->bytes[i]; i++)
			;
		if (i < n || plen != p->payload->len) {
			if (i < n)
				snprintf(why, why_size, "payload: byte %zu: got 0x%02x, want 0x%02x", i,
					 payload[i], p->payload->bytes[i]);
			else
				snprintf(why, why_size, "payload: got %zu bytes, want %zu", plen,
					 p->payload->len);
			return 0;
		}
	}
	return 1;
}

static int ignored(struct fx_run *r, const struct fx_hdr *h, const uint8_t *payload, size_t plen)
{
	char why[256];

	for (int i = 0; i < r->fx->n_ignore; i++)
		if (match_packet(r, &r->fx->ignore[i], 1, h, payload, plen, why, sizeof(why)) == 1)
			return 1;
	return 0;
}

/* The values a matched packet captured become visible to the steps after it. */
void fx_keep_captures(struct fx_run *r)
{
	for (int i = 0; i < r->ev.n_pending; i++) {
		int k;

		for (k = 0; k < r->n_captures && strcmp(r->captures[k].name, r->pending[i].name); k++)
			;
		if (k == FX_CAPTURES_MAX)
			continue;
		r->captures[k] = r->pending[i];
		if (k == r->n_captures)
			r->n_captures++;
	}
	r->ev.n_pending = 0;
}

/* The next packet from the kernel: 1 (decoded, invariants held), 0 at the deadline, -1. */
static int next_packet(struct fx_run *r, uint64_t deadline, struct fx_hdr *h, const uint8_t **payload,
		       size_t *plen)
{
	char why[FX_MSG_MAX] = "";
	int rc = r->engine->ops->recv(r->engine->ctx, r->pkt, deadline, why, sizeof(why));

	if (rc < 0)
		return fx_fail(r, "the engine could not receive: %s", why);
	if (rc == 0)
		return 0;
	if (r->pkt->len < FX_HDR_SIZE || r->pkt->len > FX_PACKET_MAX)
		return fx_fail(r, "invariant: a packet of %zu bytes, shorter than the %d-byte header",
			       r->pkt->len, FX_HDR_SIZE);
	fx_hdr_decode(r->pkt->bytes, h);
	*payload = r->pkt->bytes + FX_HDR_SIZE;
	*plen = r->pkt->len - FX_HDR_SIZE;
	fx_remember(r, 1, h, *plen);
	fx_trace_packet(r, 1, h, *plen);
	if (fx_check_invariants(r, h, *plen))
		return -1;
	return 1;
}

static int run_expect(struct fx_run *r, const struct fx_step *st)
{
	uint64_t start = fx_now_ms(), deadline = fx_deadline_in(r, st->within_ms);
	const uint8_t *payload;
	struct fx_hdr h;
	size_t plen;
	char why[FX_MSG_MAX], skipped[FX_MSG_MAX] = "";

	for (;;) {
		int rc = next_packet(r, deadline, &h, &payload, &plen), m;

		if (rc < 0)
			return -1;
		/* An ignored packet that came close says more than the timeout alone. */
		if (rc == 0)
			return fx_fail(r, "no matching packet within %" PRIu64 " ms%s%s%s", deadline - start,
				       deadline == r->deadline ? " (the fixture's timeout_ms)" : "",
				       skipped[0] ? "; an ignored packet differed: " : "", skipped);
		m = match_packet(r, &st->pkt, 0, &h, payload, plen, why, sizeof(why));
		if (m < 0)
			return fx_fail(r, "%s", why);
		if (m == 1) {
			uint64_t at = fx_now_ms() - start;

			if (at < st->not_before_ms)
				return fx_fail(r, "the packet came after %" PRIu64 " ms, not before %" PRIu32 " ms",
					       at, st->not_before_ms);
			fx_keep_captures(r);
			fx_note_rx(r, &h, plen);
			return 0;
		}
		if (ignored(r, &h, payload, plen)) {
			snprintf(skipped, sizeof(skipped), "%s", why);
			fx_note_rx(r, &h, plen);
			continue;
		}
		return fx_fail(r, "%s", why);
	}
}

static int run_expect_none(struct fx_run *r, const struct fx_step *st)
{
	uint64_t deadline = fx_deadline_in(r, st->for_ms);
	/* Ignore entries pass packets only when this step does not name their op itself. */
	int names_op = (st->pkt.given >> FX_OP) & 1;
	const uint8_t *payload;
	struct fx_hdr h;
	size_t plen;
	char why[FX_MSG_MAX], pkt[256];

	for (;;) {
		int rc = next_packet(r, deadline, &h, &payload, &plen), m;

		if (rc <= 0)
			return rc;
		/* A connection gives only its addresses here: {"conn": "c"} is any packet on c. */
		m = match_packet(r, &st->pkt, 1, &h, payload, plen, why, sizeof(why));
		if (m < 0)
			return fx_fail(r, "%s", why);
		if (m == 1 && (names_op || !ignored(r, &h, payload, plen))) {
			fx_hdr_describe(&h, plen, pkt, sizeof(pkt));
			return fx_fail(r, "a packet where none was due: %s", pkt);
		}
		fx_note_rx(r, &h, plen);
	}
}

static int header_value(struct fx_run *r, const struct fx_value *v, uint64_t def, int f,
			uint64_t *out)
{
	char why[256];

	if (!v) {
		*out = def;
		return 0;
	}
	if (fx_value_get(v, &r->ev, out, why, sizeof(why)))
		return fx_fail(r, "%s: %s", fx_fields[f].name, why);
	if (fx_fields[f].width < 8 && *out >> (8 * fx_fields[f].width))
		return fx_fail(r, "%s: %" PRIu64 " is wider than the field", fx_fields[f].name, *out);
	return 0;
}

static int build_header(struct fx_run *r, const struct fx_packet_spec *p, struct fx_hdr *h)
{
	const struct fx_conn *c = p->conn >= 0 ? &r->fx->conns[p->conn] : NULL;
	const struct fx_conn_state *s = p->conn >= 0 ? &r->cs[p->conn] : NULL;
	const struct fx_value *defaults[FX_N_FIELDS] = {
		[FX_SRC_CID] = &default_engine_cid, [FX_DST_CID] = &default_kernel_cid,
		[FX_SRC_PORT] = c ? c->engine_port : NULL, [FX_DST_PORT] = c ? c->kernel_port : NULL,
	};
	uint64_t plain[FX_N_FIELDS] = {
		[FX_LEN] = p->payload ? p->payload->len : 0,
		[FX_TYPE] = c ? c->type : FX_TYPE_STREAM,
		[FX_BUF_ALLOC] = c ? c->engine_buf_alloc : 0,
		[FX_FWD_CNT] = s ? s->engine_fwd : 0,
	};

	for (int f = 0; f < FX_N_FIELDS; f++) {
		const struct fx_value *v = p->field[f] ? p->field[f] : defaults[f];

		if (!v && (f == FX_SRC_PORT || f == FX_DST_PORT))
			return fx_fail(r, "%s: no value and no connection (\"conn\") to take it from",
				       fx_fields[f].name);
		if (header_value(r, v, plain[f], f, &h->f[f]))
			return -1;
	}
	return 0;
}

static int run_send(struct fx_run *r, const struct fx_step *st)
{
	const struct fx_packet_spec *p = &st->pkt;
	size_t plen = p->payload ? p->payload->len : 0, total = FX_HDR_SIZE + plen, sent;
	char why[FX_MSG_MAX] = "";

	if (total > FX_PACKET_MAX)
		return fx_fail(r, "a packet of %zu bytes is more than an engine carries (%u)", total,
			       (unsigned int)FX_PACKET_MAX);
	if (p->n_layout) {
		size_t sum = 0;

		for (int i = 0; i < p->n_layout; i++)
			sum += p->layout[i];
		if (sum > total)
			return fx_fail(r, "layout: the descriptor sizes add up to %zu, the packet has %zu bytes",
				       sum, total);
		/* A shorter layout cuts the packet at its end: a chain short of the header, say. */
		total = sum;
	}
	sent = total > FX_HDR_SIZE ? total - FX_HDR_SIZE : 0;	/* payload bytes that go out */
	for (unsigned int i = 0; i < p->repeat; i++) {
		struct fx_hdr h;
		int rc;

		if (fx_now_ms() >= r->deadline)
			return fx_fail(r, "the fixture's timeout_ms ran out (repeat %u)", i);
		if (build_header(r, p, &h))
			return -1;
		fx_hdr_encode(&h, r->tx);
		if (p->has_raw_header) {
			memcpy(r->tx, p->raw_header, FX_HDR_SIZE);
			fx_hdr_decode(r->tx, &h);
		}
		if (plen)
			memcpy(r->tx + FX_HDR_SIZE, p->payload->bytes, plen);
		rc = r->engine->ops->send(r->engine->ctx, r->tx, total, p->layout, p->n_layout, why,
					  sizeof(why));
		if (rc > 0)
			return fx_skip(r, "%s", why);
		if (rc < 0)
			return fx_fail(r, "the engine could not send: %s", why);
		fx_remember(r, 0, &h, sent);
		fx_trace_packet(r, 0, &h, sent);
		/* Short of its header, the packet is no packet to the kernel: no credit from it. */
		if (total >= FX_HDR_SIZE)
			fx_note_tx(r, p->conn, &h, sent);
	}
	return 0;
}

static int run_engine(struct fx_run *r, const struct fx_step *st)
{
	char why[FX_MSG_MAX] = "", want[64];
	uint64_t arg = 0;
	int rc;

	if (st->engine_do == FX_ENGINE_CONSUME) {
		struct fx_conn_state *s = &r->cs[st->conn];

		if ((uint32_t)(s->kernel_rx - s->engine_fwd) < st->bytes)
			return fx_fail(r, "consume %" PRIu64 " bytes: only %" PRIu32 " received and not consumed",
				       st->bytes, (uint32_t)(s->kernel_rx - s->engine_fwd));
		s->engine_fwd += (uint32_t)st->bytes;
		return 0;
	}
	if (st->act_arg && fx_value_get(st->act_arg, &r->ev, &arg, why, sizeof(why)))
		return fx_fail(r, "cid: %s", why);
	rc = r->engine->ops->act(r->engine->ctx, st->act, arg, why, sizeof(why));
	if (rc == FX_ACT_UNSUPPORTED)
		return fx_skip(r, "%s", why[0] ? why : "this engine has no such act");
	if (rc < 0)
		return fx_fail(r, "%s failed: %s", st->act, why);
	snprintf(want, sizeof(want), "%s", st->result && st->result->is_errno ?
		 st->result->errno_name : "success");
	if (!strcmp(want, rc ? vsc_errname(rc) : "success"))
		return 0;
	return fx_fail(r, "%s: got %s, want %s", st->act, rc ? vsc_errname(rc) : "success", want);
}

int fx_run_steps(struct fx_run *r)
{
	for (int i = 0; i < r->fx->n_steps; i++) {
		const struct fx_step *st = &r->fx->steps[i];
		int rc = 0;

		r->step = st;
		if (fx_now_ms() >= r->deadline)
			return fx_fail(r, "the fixture's timeout_ms (%" PRIu32 ") ran out", r->fx->timeout_ms);
		switch (st->kind) {
		case FX_STEP_SEND:
			rc = run_send(r, st);
			break;
		case FX_STEP_EXPECT:
			rc = run_expect(r, st);
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
		case FX_STEP_ENGINE:
			rc = run_engine(r, st);
			break;
		default:	/* the loader keeps hv_sock's steps to hv_sock fixtures */
			rc = fx_fail(r, "a %s step in a virtio fixture", fx_step_kind_names[st->kind]);
			break;
		}
		if (rc)
			return -1;
	}
	return 0;
}

/* After the last step: packets still queued that nobody expected fail the fixture. */
int fx_drain_unexpected(struct fx_run *r)
{
	const uint8_t *payload;
	struct fx_hdr h;
	size_t plen;
	char pkt[256];

	r->step = NULL;
	for (;;) {
		int rc = next_packet(r, fx_now_ms(), &h, &payload, &plen);

		if (rc <= 0)
			return rc;
		if (!ignored(r, &h, payload, plen)) {
			fx_hdr_describe(&h, plen, pkt, sizeof(pkt));
			return fx_fail(r, "a packet nobody expected: %s", pkt);
		}
		fx_note_rx(r, &h, plen);
	}
}
