/*
 * fx_conn.c: what the runner knows of each connection's credit, and the invariants every packet
 * from the kernel must keep whatever the steps say (net/vmw_vsock/virtio_transport_common.c):
 *   - an RST is never answered by an RST (virtio_transport_reset_no_sock() returns on RST);
 *     an RST is an answer only when no agent call came in between: closing a socket the
 *     engine's RST left with peer_shutdown SHUTDOWN_MASK sends an RST of its own
 *     (virtio_transport_close()), so every agent step and await forgets the engine's RSTs
 *     (fx_conn_forget_rsts());
 *   - RW stays within the credit the engine advertised: the kernel's credit is
 *     peer_buf_alloc - (tx_cnt - peer_fwd_cnt) with the difference in u32 and the whole in
 *     s64, clamped at 0 (virtio_transport_has_space()), so the bytes it sent may not pass the
 *     furthest sent + buf_alloc - (u32)(sent - fwd_cnt) an engine packet announced. Counted
 *     in 64 bits: a buf_alloc of 2^31 or more is a window, not a wrap;
 *   - fwd_cnt (the receiver's consumed bytes) never goes backwards on a connection;
 *   - the upper 32 bits of both CIDs are zero; hdr.len equals the payload bytes present.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "fx_run.h"

/* u32 sequence order, as the kernel's counters wrap. */
static int32_t seq_diff(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b);
}

void fx_conn_reset_all(struct fx_run *r)
{
	memset(r->cs, 0, sizeof(r->cs));
	r->n_tuples = 0;
}

void fx_conn_forget_rsts(struct fx_run *r)
{
	for (int i = 0; i < r->n_tuples; i++)
		r->tuples[i].rst = 0;
}

static int conn_ports(struct fx_run *r, int i, uint32_t *engine_port, uint32_t *kernel_port)
{
	const struct fx_conn *c = &r->fx->conns[i];
	uint64_t e, k;
	char why[128];

	if (fx_value_get(c->engine_port, &r->ev, &e, why, sizeof(why)) ||
	    fx_value_get(c->kernel_port, &r->ev, &k, why, sizeof(why)))
		return -1;
	*engine_port = (uint32_t)e;
	*kernel_port = (uint32_t)k;
	return 0;
}

int fx_conn_of(struct fx_run *r, const struct fx_hdr *h, int from_kernel)
{
	uint64_t engine_port = from_kernel ? h->f[FX_DST_PORT] : h->f[FX_SRC_PORT];
	uint64_t kernel_port = from_kernel ? h->f[FX_SRC_PORT] : h->f[FX_DST_PORT];

	for (int i = 0; i < r->fx->n_conns; i++) {
		uint32_t e, k;

		if (conn_ports(r, i, &e, &k) == 0 && e == engine_port && k == kernel_port)
			return i;
	}
	return -1;
}

static struct fx_tuple *tuple(struct fx_run *r, uint32_t engine_port, uint32_t kernel_port, int add)
{
	for (int i = 0; i < r->n_tuples; i++)
		if (r->tuples[i].engine_port == engine_port && r->tuples[i].kernel_port == kernel_port)
			return &r->tuples[i];
	if (!add)
		return NULL;
	if (r->n_tuples == FX_TUPLES_MAX)
		memmove(r->tuples, r->tuples + 1, sizeof(r->tuples) - sizeof(r->tuples[0])),
		r->n_tuples--;
	r->tuples[r->n_tuples] = (struct fx_tuple){ engine_port, kernel_port, 0 };
	return &r->tuples[r->n_tuples++];
}

int fx_check_invariants(struct fx_run *r, const struct fx_hdr *h, size_t payload_len)
{
	char pkt[256];
	struct fx_tuple *t;
	int c;

	fx_hdr_describe(h, payload_len, pkt, sizeof(pkt));
	if (h->f[FX_LEN] != payload_len)
		return fx_fail(r, "invariant: hdr.len %" PRIu64 " but %zu payload bytes in the buffers: %s",
			       h->f[FX_LEN], payload_len, pkt);
	if ((h->f[FX_SRC_CID] >> 32) || (h->f[FX_DST_CID] >> 32))
		return fx_fail(r, "invariant: upper 32 bits of a CID set: %s", pkt);
	t = tuple(r, (uint32_t)h->f[FX_DST_PORT], (uint32_t)h->f[FX_SRC_PORT], 0);
	if (h->f[FX_OP] == FX_OP_RST && t && t->rst)
		return fx_fail(r, "invariant: the kernel answered the engine's RST with an RST: %s", pkt);
	c = fx_conn_of(r, h, 1);
	if (c < 0)
		return 0;
	struct fx_conn_state *s = &r->cs[c];

	if (h->f[FX_OP] == FX_OP_RW) {
		uint64_t after = s->kernel_rx + payload_len;

		if (payload_len && (!s->advertised || (int64_t)after > s->credit_end))
			return fx_fail(r, "invariant: RW beyond the credit the engine advertised (%s; the kernel has sent %" PRIu64 " bytes, the engine allowed up to %" PRId64 "): %s",
				       r->fx->conns[c].name, after,
				       s->advertised ? s->credit_end : 0, pkt);
	}
	if (s->seen && h->f[FX_OP] != FX_OP_RST && h->f[FX_OP] != FX_OP_REQUEST &&
	    seq_diff((uint32_t)h->f[FX_FWD_CNT], s->last_fwd) < 0)
		return fx_fail(r, "invariant: fwd_cnt went backwards on %s (%" PRIu32 " before): %s",
			       r->fx->conns[c].name, s->last_fwd, pkt);
	return 0;
}

void fx_note_rx(struct fx_run *r, const struct fx_hdr *h, size_t payload_len)
{
	int c = fx_conn_of(r, h, 1);
	struct fx_conn_state *s;

	if (c < 0)
		return;
	s = &r->cs[c];
	if (h->f[FX_OP] == FX_OP_REQUEST)
		memset(s, 0, sizeof(*s));	/* a new connection on these ports */
	if (h->f[FX_OP] == FX_OP_RST)
		return;				/* an RST without a socket carries no credit */
	if (h->f[FX_OP] == FX_OP_RW) {
		s->kernel_rx += payload_len;
		if (!r->fx->conns[c].manual_consume)
			s->engine_fwd += (uint32_t)payload_len;
	}
	s->seen = 1;
	s->last_fwd = (uint32_t)h->f[FX_FWD_CNT];
	s->last_buf = (uint32_t)h->f[FX_BUF_ALLOC];
	if (s->buf_pending && s->last_buf == s->pending_buf)
		s->buf_pending = 0;
}

void fx_note_tx(struct fx_run *r, int c, const struct fx_hdr *h, size_t payload_len)
{
	struct fx_tuple *t = tuple(r, (uint32_t)h->f[FX_SRC_PORT], (uint32_t)h->f[FX_DST_PORT], 1);
	struct fx_conn_state *s;
	uint32_t in_flight;
	int64_t end;

	t->rst = h->f[FX_OP] == FX_OP_RST;
	if (c < 0)
		c = fx_conn_of(r, h, 0);
	if (c < 0)
		return;
	s = &r->cs[c];
	if (h->f[FX_OP] == FX_OP_REQUEST)
		memset(s, 0, sizeof(*s));
	if (h->f[FX_OP] == FX_OP_RW && h->f[FX_LEN] == payload_len)
		s->engine_tx += (uint32_t)payload_len;
	/* A fwd_cnt ahead of what the kernel sent reads as nearly 4 GiB in flight: no credit. */
	in_flight = (uint32_t)s->kernel_rx - (uint32_t)h->f[FX_FWD_CNT];
	end = (int64_t)s->kernel_rx - in_flight + (int64_t)(uint32_t)h->f[FX_BUF_ALLOC];
	/* The furthest announced: a later, smaller credit cannot take back bytes in flight. */
	if (!s->advertised || end > s->credit_end)
		s->credit_end = end;
	s->advertised = 1;
}

int fx_credit_check(void *ctx, int field, uint64_t got, char *why, size_t why_size)
{
	struct fx_run *r = ctx;
	struct fx_conn_state *s;
	uint32_t want;

	if (r->cur_conn < 0) {
		snprintf(why, why_size, "want consistent credit, which needs a connection (\"conn\")");
		return -1;
	}
	s = &r->cs[r->cur_conn];
	if (field == FX_FWD_CNT) {
		uint32_t low = s->seen ? s->last_fwd : 0;

		if (seq_diff((uint32_t)got, low) >= 0 && seq_diff((uint32_t)got, s->engine_tx) <= 0)
			return 1;
		snprintf(why, why_size, "want consistent credit: from %" PRIu32 " (the last fwd_cnt) to %" PRIu32 " (the bytes the engine sent)",
			 low, s->engine_tx);
		return 0;
	}
	want = s->seen ? s->last_buf : r->fx->conns[r->cur_conn].kernel_buf_alloc;
	if (got == want || (s->buf_pending && got == s->pending_buf))
		return 1;
	if (s->buf_pending)
		snprintf(why, why_size, "want consistent credit: %" PRIu32 " or %" PRIu32 " (set by setsockopt)",
			 want, s->pending_buf);
	else
		snprintf(why, why_size, "want consistent credit: %" PRIu32 " (%s)", want,
			 s->seen ? "the last buf_alloc" : "the connection's kernel_buf_alloc");
	return 0;
}
