/*
 * fx_host_wire.c: the fixture runner's wire on a guest's rings (engine 1). send writes one
 * packet into the next receive buffer the guest posted on rx (0); recv takes the next chain the
 * guest made available on tx (1). The guest's driver chose its buffers, so a packet goes where
 * they allow: a fixture's descriptor layout either matches them or SKIPs. Deadlines are
 * CLOCK_MONOTONIC milliseconds (vu_now_ms, the clock of fx_now_ms).
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "fx_host.h"
#include "vu_loop.h"
#include "vu_packet.h"
#include "vu_vsock.h"

_Static_assert(sizeof(struct vu_vsock_hdr) == FX_HDR_SIZE, "the fixture header is the vsock header");

static int broken(struct fx_host *host, char *why, size_t why_size)
{
	snprintf(why, why_size, "%s", host->broken);
	return -1;
}

/* Waits for a kick or a message, until `deadline_ms` at most; 0 at the deadline, 1 after an event
 * (or none: the caller looks at its ring again), -1 when the device broke. */
static int wait_until(struct fx_host *host, uint64_t deadline_ms, char *why, size_t why_size)
{
	uint64_t now = vu_now_ms();

	if (now >= deadline_ms)
		return 0;
	if (fx_host_pump(host, deadline_ms - now > INT_MAX ? INT_MAX : (int)(deadline_ms - now)) < 0)
		return broken(host, why, why_size);
	/* Not `broken`: QEMU is still there, and begin() refuses stopped rings by itself. */
	if (!fx_host_running(host)) {
		snprintf(why, why_size, "the guest's driver stopped its rings (QEMU disabled rx or tx)");
		return -1;
	}
	return 1;
}

static int ring_error(struct fx_host *host, const char *ring, const char *error, char *why,
		      size_t why_size)
{
	snprintf(host->broken, sizeof(host->broken), "%s ring: %s", ring, error);
	return broken(host, why, why_size);
}

/* host->rx_spare: the guest's next receive buffer with room for a header. 1, or -1 (`why`). */
static int take_rx_chain(struct fx_host *host, uint64_t deadline_ms, char *why, size_t why_size)
{
	struct vu_vring *rx = &host->dev->vrings[VU_VSOCK_RX];
	char error[256] = "";
	int ret;

	while (!host->has_rx_spare) {
		ret = vu_queue_pop(host->dev, rx, &host->rx_spare, error, sizeof(error));
		if (ret < 0)
			return ring_error(host, "rx", error, why, why_size);
		if (ret > 0 && host->rx_spare.out_bytes >= FX_HDR_SIZE) {
			host->has_rx_spare = 1;
		} else if (ret > 0) {
			/* No room for a header: back unused, as a kernel host would skip it. */
			vu_queue_push(rx, &host->rx_spare, 0);
			vu_queue_notify(host->dev, rx);
		} else {
			ret = wait_until(host, deadline_ms, why, why_size);
			if (ret < 0)
				return -1;
			if (ret == 0) {
				snprintf(why, why_size, "the guest posted no receive buffer on rx "
					 "within %d ms", FX_HOST_RX_WAIT_MS);
				return -1;
			}
		}
	}
	return 1;
}

static int list_sizes(char *out, size_t size, const uint32_t *sizes, int n, size_t stride)
{
	int used = 0, i;

	for (i = 0; i < n && (size_t)used < size; i++)
		used += snprintf(out + used, size - used, "%s%u", i ? ", " : "",
				 *(const uint32_t *)((const char *)sizes + i * stride));
	return used;
}

/*
 * Whether `len` bytes cut as `layout` says land in the chain's buffers that way: every piece but
 * the last fills its buffer exactly, the last fits in its own. 1 (SKIP, `why`) when they do not.
 */
static int layout_fits(const struct vu_chain *chain, size_t len, const uint32_t *layout,
		       int n_layout, char *why, size_t why_size)
{
	char want[128] = "", have[128] = "";
	int i, fits = (uint64_t)len <= chain->out_bytes;

	for (i = 0; fits && i < n_layout; i++)
		fits = i < chain->n_out && (i == n_layout - 1 ? layout[i] <= chain->out[i].len
							       : layout[i] == chain->out[i].len);
	if (fits)
		return 0;
	list_sizes(have, sizeof(have), &chain->out[0].len, chain->n_out, sizeof(chain->out[0]));
	if (n_layout) {
		list_sizes(want, sizeof(want), layout, n_layout, sizeof(layout[0]));
		snprintf(why, why_size, "layout [%s] (%zu bytes) is not how the guest's receive "
			 "buffers [%s] hold a packet: engine 1 writes into the buffers the guest posted",
			 want, len, have);
	} else {
		snprintf(why, why_size, "a packet of %zu bytes does not fit the guest's receive buffer "
			 "[%s]", len, have);
	}
	return 1;
}

static int wire_send(void *ctx, const uint8_t *bytes, size_t len, const uint32_t *layout,
		     int n_layout, char *why, size_t why_size)
{
	struct fx_host *host = ctx;
	struct vu_vring *rx = &host->dev->vrings[VU_VSOCK_RX];
	uint64_t sum = 0;
	int i;

	if (host->broken[0])
		return broken(host, why, why_size);
	for (i = 0; i < n_layout; i++)
		sum += layout[i];
	if (n_layout < 0 || n_layout > FX_LAYOUT_MAX || (n_layout && sum != len)) {
		snprintf(why, why_size, "send: a layout of %d sizes adding up to %llu for %zu bytes",
			 n_layout, (unsigned long long)sum, len);
		return -1;
	}
	if (take_rx_chain(host, vu_now_ms() + FX_HOST_RX_WAIT_MS, why, why_size) < 0)
		return -1;
	/* A chain that does not fit stays kept for the next packet. */
	if (layout_fits(&host->rx_spare, len, layout, n_layout, why, why_size))
		return 1;
	vu_chain_write(&host->rx_spare, 0, bytes, len);
	vu_queue_push(rx, &host->rx_spare, (uint32_t)len);
	host->has_rx_spare = 0;
	vu_queue_notify(host->dev, rx);
	return 0;
}

static int wire_recv(void *ctx, struct fx_packet *pkt, uint64_t deadline_ms, char *why,
		     size_t why_size)
{
	struct fx_host *host = ctx;
	struct vu_vring *tx = &host->dev->vrings[VU_VSOCK_TX];
	char error[256] = "";
	struct vu_chain chain;
	size_t take;
	int ret;

	if (host->broken[0])
		return broken(host, why, why_size);
	while ((ret = vu_queue_pop(host->dev, tx, &chain, error, sizeof(error))) == 0) {
		ret = wait_until(host, deadline_ms, why, why_size);
		if (ret <= 0)
			return ret;
	}
	if (ret < 0)
		return ring_error(host, "tx", error, why, why_size);
	/* A kernel sends at most 64 KiB of payload; FX_PACKET_MAX holds that with room to spare. */
	take = chain.in_bytes < sizeof(pkt->bytes) ? (size_t)chain.in_bytes : sizeof(pkt->bytes);
	pkt->len = vu_chain_read(&chain, 0, pkt->bytes, take);
	pkt->n_buffers = chain.n_in;
	vu_queue_push(tx, &chain, 0);
	vu_queue_notify(host->dev, tx);
	return 1;
}

static int wire_act(void *ctx, const char *what, uint64_t arg, char *why, size_t why_size)
{
	(void)ctx, (void)arg;
	if (!strcmp(what, "transport_reset"))
		snprintf(why, why_size, "engine 1 cannot send TRANSPORT_RESET: QEMU 7.2's "
			 "vhost-user-vsock-pci keeps the event queue (2) for itself and sends that "
			 "event only after a migration, and the device is not migratable");
	else
		snprintf(why, why_size, "engine 1 has no act \"%s\"", what);
	return FX_ACT_UNSUPPORTED;
}

/* An RST for `in`, from where it was sent to; 0, or -1 (`why`). */
static int answer_rst(struct fx_host *host, const struct vu_vsock_hdr *in, uint64_t deadline_ms,
		      char *why, size_t why_size)
{
	struct vu_vring *rx = &host->dev->vrings[VU_VSOCK_RX];
	struct vu_vsock_hdr rst = {
		.src_cid = in->dst_cid, .dst_cid = in->src_cid,
		.src_port = in->dst_port, .dst_port = in->src_port,
		.type = in->type, .op = VU_OP_RST,
	};

	if (take_rx_chain(host, deadline_ms, why, why_size) < 0)
		return -1;
	vu_chain_write(&host->rx_spare, 0, &rst, sizeof(rst));
	vu_queue_push(rx, &host->rx_spare, sizeof(rst));
	host->has_rx_spare = 0;
	vu_queue_notify(host->dev, rx);
	return 0;
}

/*
 * Reads what the kernel still sends and answers each packet but an RST with an RST, until
 * `quiet_ms` pass without one or `bound_ms` in all. 0 when quiet; -1 (`why`) otherwise.
 */
static int quiesce(struct fx_host *host, int quiet_ms, int bound_ms, char *why, size_t why_size)
{
	uint64_t end = vu_now_ms() + (uint64_t)bound_ms;
	static struct fx_packet pkt;	/* 68 KiB: not on the stack */
	struct vu_vsock_hdr hdr;
	int ret;

	for (;;) {
		uint64_t quiet = vu_now_ms() + (uint64_t)quiet_ms;

		ret = wire_recv(host, &pkt, quiet < end ? quiet : end, why, why_size);
		if (ret < 0)
			return -1;
		if (ret == 0) {
			if (quiet <= end)
				return 0;	/* quiet_ms without a packet */
			snprintf(why, why_size, "the kernel was still sending after %d ms", bound_ms);
			return -1;
		}
		if (pkt.len < sizeof(hdr))
			continue;
		memcpy(&hdr, pkt.bytes, sizeof(hdr));
		fprintf(stderr, "vhost-user-vsock: fixtures: after the fixture, op %u %llu:%u -> "
			"%llu:%u%s\n", hdr.op, (unsigned long long)hdr.src_cid, hdr.src_port,
			(unsigned long long)hdr.dst_cid, hdr.dst_port,
			hdr.op == VU_OP_RST ? "" : ": answered with RST");
		if (hdr.op != VU_OP_RST && answer_rst(host, &hdr, end, why, why_size) < 0)
			return -1;
	}
}

static int wire_begin(void *ctx, const struct fx_device_needs *needs, char *why, size_t why_size)
{
	struct fx_host *host = ctx;
	int seqpacket = (host->dev->features & FX_F_SEQPACKET) != 0;

	if (host->broken[0])
		return broken(host, why, why_size);
	if (!fx_host_running(host)) {
		snprintf(why, why_size, "the guest's driver has not set up rx and tx");
		return -1;
	}
	host->engine->features = host->dev->features;
	/* rx_buffers, rx_buffer_size: the guest's driver posts its own buffers here. */
	if (needs->seqpacket == 1 && !seqpacket) {
		snprintf(why, why_size, "the guest's driver did not negotiate SEQPACKET (features are "
			 "acked once, at boot)");
		return 1;
	}
	if (needs->seqpacket == 0 && seqpacket) {
		snprintf(why, why_size, "the guest's driver negotiated SEQPACKET at boot; engine 1 "
			 "cannot take it back for one fixture");
		return 1;
	}
	/* Whatever an earlier fixture's end() left (it gives up after a bound) goes now. */
	return quiesce(host, 0, FX_HOST_END_MS, why, why_size) < 0 ? -1 : 0;
}

static void wire_end(void *ctx)
{
	struct fx_host *host = ctx;
	char why[256];

	if (!host->broken[0] && quiesce(host, FX_HOST_QUIET_MS, FX_HOST_END_MS, why, sizeof(why)))
		fprintf(stderr, "vhost-user-vsock: fixtures: end: %s\n", why);
}

const struct fx_wire_ops fx_host_wire_ops = {
	.begin = wire_begin,
	.send = wire_send,
	.recv = wire_recv,
	.act = wire_act,
	.end = wire_end,
};
