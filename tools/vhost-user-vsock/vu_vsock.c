/*
 * vu_vsock.c: what the device does with the guest's packets. So far there is no host endpoint,
 * so it is the host of an empty machine: every connection request is refused with RST, and
 * every packet for a connection that does not exist is answered with RST, never an RST itself.
 */
#include <stdio.h>
#include <string.h>

#include "vu_queue.h"
#include "vu_vsock.h"

static void queue_for_guest(struct vu_vsock *vsock, const struct vu_vsock_hdr *hdr)
{
	if (vsock->pending_count == VU_VSOCK_PENDING_MAX) {
		vsock->dropped++;
		return;
	}
	vsock->pending[(vsock->pending_head + vsock->pending_count) % VU_VSOCK_PENDING_MAX] = *hdr;
	vsock->pending_count++;
}

/* Moves queued packets into the receive buffers the guest has made available. */
static int deliver(struct vu_device *dev, struct vu_vsock *vsock, char *error, size_t error_size)
{
	struct vu_vring *rx = &dev->vrings[VU_VSOCK_RX];
	struct vu_chain chain;
	int ret = 0;

	while (vsock->pending_count) {
		const struct vu_vsock_hdr *hdr = &vsock->pending[vsock->pending_head];

		ret = vu_queue_pop(dev, rx, &chain, error, error_size);
		if (ret <= 0)
			break;
		if (chain.out_bytes < sizeof(*hdr)) {
			/* Too small for a header: hand it back empty, the packet waits. */
			vu_queue_push(rx, &chain, 0);
			continue;
		}
		vu_chain_write(&chain, 0, hdr, sizeof(*hdr));
		vu_queue_push(rx, &chain, sizeof(*hdr));
		vsock->pending_head = (vsock->pending_head + 1) % VU_VSOCK_PENDING_MAX;
		vsock->pending_count--;
	}
	vu_queue_notify(dev, rx);
	return ret < 0 ? -1 : 0;
}

static void reset_reply(const struct vu_vsock_hdr *in, struct vu_vsock_hdr *out)
{
	memset(out, 0, sizeof(*out));
	out->src_cid = VU_HOST_CID;
	out->dst_cid = in->src_cid;
	out->src_port = in->dst_port;
	out->dst_port = in->src_port;
	out->type = in->type;
	out->op = VU_OP_RST;
}

/* One packet from the guest; the header has been read whole. */
static void handle_packet(struct vu_device *dev, struct vu_vsock *vsock,
			  const struct vu_vsock_hdr *hdr, uint64_t chain_bytes)
{
	struct vu_vsock_hdr reply;

	if (hdr->src_cid != dev->guest_cid || hdr->dst_cid != VU_HOST_CID ||
	    hdr->len > chain_bytes - sizeof(*hdr)) {
		if (dev->verbose)
			fprintf(stderr, "vhost-user-vsock: dropped op %u from %llu:%u to %llu:%u, len %u\n",
				hdr->op, (unsigned long long)hdr->src_cid, hdr->src_port,
				(unsigned long long)hdr->dst_cid, hdr->dst_port, hdr->len);
		return;
	}
	/* No endpoint listens and no connection exists yet: refuse all but an RST. */
	if (hdr->op == VU_OP_RST)
		return;
	reset_reply(hdr, &reply);
	queue_for_guest(vsock, &reply);
}

int vu_vsock_kick(struct vu_device *dev, struct vu_vsock *vsock, unsigned int index, char *error,
		  size_t error_size)
{
	struct vu_vring *tx = &dev->vrings[VU_VSOCK_TX];
	struct vu_vsock_hdr hdr;
	struct vu_chain chain;
	int ret;

	if (index == VU_VSOCK_TX) {
		while ((ret = vu_queue_pop(dev, tx, &chain, error, error_size)) > 0) {
			if (vu_chain_read(&chain, 0, &hdr, sizeof(hdr)) == sizeof(hdr))
				handle_packet(dev, vsock, &hdr, chain.in_bytes);
			vu_queue_push(tx, &chain, 0);
		}
		vu_queue_notify(dev, tx);
		if (ret < 0)
			return -1;
	}
	return deliver(dev, vsock, error, error_size);
}
