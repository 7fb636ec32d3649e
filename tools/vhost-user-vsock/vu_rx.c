/*
 * vu_rx.c: packets for the guest, built straight into its rx ring: RSTs for unknown connections
 * first, then each connection's owed control packets and stream data, round-robin. Stream bytes
 * are read with readv() into the chain's own buffers, never more than the guest's credit, in
 * packets of at most 64 KiB each spread over receive buffers as vhost-vsock does: the guest's
 * credit updates (whole packets consumed) then come where a kernel host would see them.
 *
 * No TRANSPORT_RESET: QEMU 7.2 keeps the event queue (2) to itself and sends that event only
 * from vhost_vsock_common_post_load(), after a migration, and vhost-user-vsock is unmigratable.
 * The backend cannot send it; a QEMU that reconnects brings a fresh guest driver anyway.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "vu_pcap.h"
#include "vu_rx.h"
#include "vu_vsock.h"

#define HDR_LEN sizeof(struct vu_vsock_hdr)

int vu_segments_iov(const struct vu_segment *segs, int n, size_t offset, size_t len,
		    struct iovec *iov, int max)
{
	int i, count = 0;

	for (i = 0; i < n && len && count < max; i++) {
		size_t take;

		if (offset >= segs[i].len) {
			offset -= segs[i].len;
			continue;
		}
		take = segs[i].len - offset;
		if (take > len)
			take = len;
		iov[count].iov_base = segs[i].addr + offset;
		iov[count].iov_len = take;
		count++;
		len -= take;
		offset = 0;
	}
	return count;
}

void vu_vsock_queue_rst(struct vu_vm *vm, const struct vu_vsock_hdr *in)
{
	struct vu_vsock_hdr *out;

	if (in->op == VU_OP_RST)
		return;
	if (vm->rst_count == VU_RST_QUEUE_MAX) {
		vm->rst_dropped++;
		return;
	}
	out = &vm->rst_queue[(vm->rst_head + vm->rst_count++) % VU_RST_QUEUE_MAX];
	memset(out, 0, sizeof(*out));
	out->src_cid = in->dst_cid;
	out->dst_cid = in->src_cid;
	out->src_port = in->dst_port;
	out->dst_port = in->src_port;
	out->type = in->type;
	out->op = VU_OP_RST;
}

/* The chain the next packet goes into: the one kept from before, or a new one; 0 if none. */
int vu_rx_chain(struct vu_vm *vm, char *error, size_t error_size)
{
	struct vu_vring *rx = &vm->dev.vrings[VU_VSOCK_RX];
	int ret;

	while (!vm->has_rx_spare) {
		ret = vu_queue_pop(&vm->dev, rx, &vm->rx_spare, error, error_size);
		if (ret <= 0)
			return ret;
		if (vm->rx_spare.out_bytes >= HDR_LEN)
			vm->has_rx_spare = 1;
		else
			vu_queue_push(rx, &vm->rx_spare, 0);	/* no room for a header: give it back */
	}
	return 1;
}

/* Puts the header into the kept chain (its payload, if any, is already there) and returns it. */
void vu_rx_put(struct vu_vm *vm, const struct vu_vsock_hdr *hdr, const struct iovec *iov,
	       int iovcnt)
{
	vu_chain_write(&vm->rx_spare, 0, hdr, HDR_LEN);
	vu_queue_push(&vm->dev.vrings[VU_VSOCK_RX], &vm->rx_spare, (uint32_t)HDR_LEN + hdr->len);
	vm->has_rx_spare = 0;
	vu_pcap_packet(vm->pcap, hdr, iov, iovcnt, hdr->len);
}

static void conn_header(struct vu_conn *c, uint16_t op, struct vu_vsock_hdr *hdr)
{
	memset(hdr, 0, sizeof(*hdr));
	hdr->src_cid = VU_HOST_CID;
	hdr->dst_cid = c->vm->cid;
	hdr->src_port = c->host_port;
	hdr->dst_port = c->guest_port;
	hdr->type = VU_TYPE_STREAM;
	hdr->op = op;
	hdr->buf_alloc = VU_BUF_ALLOC;
	hdr->fwd_cnt = c->credit.fwd_cnt;
	/* Every packet tells the guest our fwd_cnt: a separate update is owed no more. */
	c->credit.last_fwd_cnt_sent = c->credit.fwd_cnt;
	c->owed &= ~VU_OWE_CREDIT_UPDATE;
}

/*
 * At end of file: did the host end close its socket (or shut both ways), or only shut its
 * writing side? A Unix stream reports POLLHUP only in the first case. A kernel's close() sends
 * SHUTDOWN with both flags, after which the guest's send() fails with EPIPE at once; a host
 * program's close() must look the same to the guest.
 */
static int host_closed(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };

	return poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLHUP);
}

static int can_read(const struct vu_conn *c)
{
	return c->state == VU_CONN_ESTABLISHED && c->readable && !c->host_eof &&
	       !(c->guest_shutdown & VU_SHUTDOWN_RCV);
}

/* Reads stream bytes into the chain after the header; 1 if a packet went out. */
static int send_data(struct vu_conn *c)
{
	struct vu_vm *vm = c->vm;
	uint32_t credit = vu_credit_peer_free(&c->credit);
	uint64_t room = vm->rx_spare.out_bytes - HDR_LEN;
	struct iovec iov[VU_CHAIN_MAX_SEGMENTS];
	struct vu_vsock_hdr hdr;
	size_t want;
	ssize_t n;
	int count;

	if (!c->packet_left) {
		int queued;

		/*
		 * Backpressure: the stream stays unread until the guest reports consumed bytes.
		 * No CREDIT_REQUEST, as a kernel host sends none: its answer resets the guest's
		 * last_fwd_cnt and changes when the guest sends its own updates, so g2h results
		 * would stop matching a vhost_vsock host's.
		 */
		if (!credit)
			return 0;
		/* A new packet, as a kernel sender cuts them: what is queued, within the credit
		 * and 64 KiB; unknown length: the read below finds out. */
		if (ioctl(c->fd, FIONREAD, &queued) != 0 || queued <= 0)
			queued = VU_VSOCK_MAX_PAYLOAD;
		c->packet_left = credit < VU_VSOCK_MAX_PAYLOAD ? credit : VU_VSOCK_MAX_PAYLOAD;
		if ((uint32_t)queued < c->packet_left)
			c->packet_left = (uint32_t)queued;
	}
	want = c->packet_left < room ? c->packet_left : (size_t)room;
	count = vu_segments_iov(vm->rx_spare.out, vm->rx_spare.n_out, HDR_LEN, want, iov,
				VU_CHAIN_MAX_SEGMENTS);
	do
		n = readv(c->fd, iov, count);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		c->packet_left = 0;
	if (n < 0 && errno == EAGAIN) {
		c->readable = 0;
		return 0;
	}
	if (n < 0) {
		vu_vm_log(vm, "host stream of port %u: read: %m; RST to the guest", c->host_port);
		vu_conn_reset(c);
		return 0;
	}
	if (n == 0) {
		c->host_eof = 1;
		c->host_closed = host_closed(c->fd);
		c->readable = 0;
		vu_conn_owe(c, VU_OWE_SHUTDOWN);
		return 0;
	}
	conn_header(c, VU_OP_RW, &hdr);
	hdr.len = (uint32_t)n;
	c->credit.tx_cnt += (uint32_t)n;
	c->packet_left -= (uint32_t)n;
	count = vu_segments_iov(vm->rx_spare.out, vm->rx_spare.n_out, HDR_LEN, (size_t)n, iov,
				VU_CHAIN_MAX_SEGMENTS);
	vu_rx_put(vm, &hdr, iov, count);
	return 1;
}

/* One owed control packet, the most urgent first; 1 if a packet went out. */
static int send_owed(struct vu_conn *c)
{
	static const struct { uint32_t flag; uint16_t op; } order[] = {
		{ VU_OWE_RST, VU_OP_RST },
		{ VU_OWE_REQUEST, VU_OP_REQUEST },
		{ VU_OWE_RESPONSE, VU_OP_RESPONSE },
		{ VU_OWE_CREDIT_UPDATE, VU_OP_CREDIT_UPDATE },
		{ VU_OWE_SHUTDOWN, VU_OP_SHUTDOWN },
	};
	struct vu_vsock_hdr hdr;
	unsigned int i;

	for (i = 0; !(c->owed & order[i].flag); i++)
		;
	c->owed &= ~order[i].flag;
	conn_header(c, order[i].op, &hdr);
	if (order[i].op == VU_OP_SHUTDOWN)	/* the host end sends no more, and may take no more */
		hdr.flags = VU_SHUTDOWN_SEND | (c->host_closed ? VU_SHUTDOWN_RCV : 0);
	vu_rx_put(c->vm, &hdr, NULL, 0);
	if (order[i].op == VU_OP_RST)
		vu_conn_drop(c);
	else if (vu_conn_finished(c))
		vu_conn_reset(c);
	return 1;
}

int vu_vsock_rx(struct vu_vm *vm, char *error, size_t error_size)
{
	struct vu_conn *head = &vm->conns.work;
	int ret;

	if (!vu_vm_running(vm))
		return 0;
	while (vm->rst_count || head->work_next != head) {
		ret = vu_rx_chain(vm, error, error_size);
		if (ret < 0)
			return -1;
		if (ret == 0) {
			vm->rx_starved = 1;	/* until the guest kicks rx with new buffers */
			break;
		}
		if (vm->rst_count) {
			struct vu_vsock_hdr *hdr = &vm->rst_queue[vm->rst_head];

			vm->rst_head = (vm->rst_head + 1) % VU_RST_QUEUE_MAX;
			vm->rst_count--;
			vu_rx_put(vm, hdr, NULL, 0);
			continue;
		}
		{
			struct vu_conn *c = head->work_next;

			vu_conn_unwork(c);
			if (c->owed) {
				send_owed(c);
			} else if (can_read(c)) {
				send_data(c);
			}
			/* Still something to do: back in line behind the others. */
			if (!c->dead && (c->owed || (can_read(c) && vu_credit_peer_free(&c->credit))))
				vu_conn_wake(c);
		}
	}
	return 0;
}
