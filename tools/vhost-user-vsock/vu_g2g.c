/*
 * vu_g2g.c: guest->guest forwarding. The two guests' kernels keep the credit end to end, so the
 * device only copies: header and payload, from the sender's tx chain to the receiver's rx chain.
 * A packet longer than one receive buffer is split as vhost-vsock does (each piece with its own
 * len; a SEQPACKET's EOM/EOR only on the last). With no receive buffer left, the sender's chain
 * is held and its tx ring left alone until the receiver kicks rx: backpressure, no queue.
 */
#include <string.h>

#include "vu_g2g.h"
#include "vu_rx.h"
#include "vu_vsock.h"

#define HDR_LEN sizeof(struct vu_vsock_hdr)

struct vu_vm *vu_g2g_find(const struct vu_vm *from, uint64_t cid)
{
	int i;

	for (i = 0; i < from->n_all; i++)
		if (from->all[i].cid == cid && &from->all[i] != from)
			return &from->all[i];
	return NULL;
}

/* Delivers the held packet from held.sent on; 1 when done, 0 when `to` has no buffer. */
static int deliver(struct vu_vm *from)
{
	struct vu_held_tx *held = &from->held;
	struct vu_vm *to = held->to;
	char error[256] = "";
	int ret;

	if (!vu_vm_running(to)) {
		vu_vsock_queue_rst(from, &held->hdr);
		return 1;
	}
	do {
		struct vu_vsock_hdr piece = held->hdr;
		struct iovec iov[VU_CHAIN_MAX_SEGMENTS];
		size_t room, offset = HDR_LEN;
		int count, i;

		ret = vu_rx_chain(to, error, sizeof(error));
		if (ret < 0) {
			held->active = 0;	/* answered here, not by the reset's release */
			vu_vm_reset(to, error);
			vu_vsock_queue_rst(from, &held->hdr);
			return 1;
		}
		if (ret == 0) {
			to->rx_starved = 1;
			return 0;
		}
		room = to->rx_spare.out_bytes - HDR_LEN;
		piece.len = held->hdr.len - held->sent;
		if (piece.len > room) {
			piece.len = (uint32_t)room;
			piece.flags &= ~(VU_SEQ_EOM | VU_SEQ_EOR);
		}
		count = vu_segments_iov(held->chain.in, held->chain.n_in, HDR_LEN + held->sent,
					piece.len, iov, VU_CHAIN_MAX_SEGMENTS);
		for (i = 0; i < count; i++) {
			vu_chain_write(&to->rx_spare, offset, iov[i].iov_base, iov[i].iov_len);
			offset += iov[i].iov_len;
		}
		vu_chain_write(&to->rx_spare, 0, &piece, HDR_LEN);
		vu_queue_push(&to->dev.vrings[VU_VSOCK_RX], &to->rx_spare, (uint32_t)offset);
		to->has_rx_spare = 0;
		held->sent += piece.len;
	} while (held->sent < held->hdr.len);
	return 1;
}

int vu_g2g_forward(struct vu_vm *from, struct vu_vm *to, const struct vu_vsock_hdr *hdr,
		   const struct vu_chain *chain)
{
	struct vu_held_tx *held = &from->held;

	held->chain = *chain;
	held->hdr = *hdr;
	held->sent = 0;
	held->to = to;
	if (deliver(from))
		return 1;
	held->active = 1;
	return 0;
}

int vu_g2g_resume(struct vu_vm *from)
{
	if (!deliver(from))
		return 0;
	from->held.active = 0;
	return 1;
}

void vu_vsock_release_held_for(struct vu_vm *to)
{
	int i;

	for (i = 0; i < to->n_all; i++) {
		struct vu_vm *from = &to->all[i];

		if (from != to && from->held.active && from->held.to == to) {
			vu_vsock_queue_rst(from, &from->held.hdr);
			vu_queue_push(&from->dev.vrings[VU_VSOCK_TX], &from->held.chain, 0);
			from->held.active = 0;
		}
	}
}
