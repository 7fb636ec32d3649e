/*
 * vu_vsock.c: packets from a guest's tx ring. Each is checked (length, source CID) and routed:
 * to the host (CID 2: the connection table and its Unix streams), to another VM of this process
 * (guest->guest), or dropped and counted. Guest payload goes to the stream with writev() straight
 * from the chain's buffers.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vu_g2g.h"
#include "vu_pcap.h"
#include "vu_rx.h"
#include "vu_vsock.h"

#define HDR_LEN sizeof(struct vu_vsock_hdr)

static void log_packet(const struct vu_vm *vm, const char *why, const struct vu_vsock_hdr *hdr)
{
	if (vm->verbose)
		vu_vm_log(vm, "dropped op %u from %llu:%u to %llu:%u, len %u: %s", hdr->op,
			  (unsigned long long)hdr->src_cid, hdr->src_port,
			  (unsigned long long)hdr->dst_cid, hdr->dst_port, hdr->len, why);
}

/* The guest asks for host port P: "<uds>_P" must be listening, else RST. */
static void new_request(struct vu_vm *vm, const struct vu_vsock_hdr *hdr)
{
	struct vu_conn *c;
	int fd;

	if (hdr->type != VU_TYPE_STREAM || !vm->uds_path) {
		if (vm->verbose)
			vu_vm_log(vm, "guest port %u -> host port %u: RST (%s)", hdr->src_port,
				  hdr->dst_port, vm->uds_path ? "the host takes only SOCK_STREAM"
							      : "no uds bridge");
		vu_vsock_queue_rst(vm, hdr);
		return;
	}
	fd = vu_bridge_connect_host(vm, hdr->dst_port);
	if (fd < 0) {
		if (vm->verbose)
			vu_vm_log(vm, "guest port %u -> %s_%u: %m; RST", hdr->src_port, vm->uds_path,
				  hdr->dst_port);
		vu_vsock_queue_rst(vm, hdr);
		return;
	}
	c = vu_conn_new(vm, fd, vu_vsock_stream_event);
	if (!c) {
		vu_vm_log(vm, "guest port %u -> host port %u: %d connections already; RST",
			  hdr->src_port, hdr->dst_port, VU_CONN_MAX);
		close(fd);
		vu_vsock_queue_rst(vm, hdr);
		return;
	}
	vu_conn_hash(c, hdr->src_port, hdr->dst_port);
	c->state = VU_CONN_ESTABLISHED;
	c->credit.peer_buf_alloc = hdr->buf_alloc;
	c->credit.peer_fwd_cnt = hdr->fwd_cnt;
	vu_conn_owe(c, VU_OWE_RESPONSE);
}

/* The guest accepted a host program's CONNECT: tell the program its port. */
static void established(struct vu_conn *c)
{
	char ok[32];
	int len = snprintf(ok, sizeof(ok), "OK %u\n", c->host_port);

	c->vm->conns.waiting--;
	c->state = VU_CONN_ESTABLISHED;
	if (send(c->fd, ok, (size_t)len, MSG_NOSIGNAL | MSG_DONTWAIT) != len) {
		vu_vm_log(c->vm, "host port %u: writing the OK line failed: %m", c->host_port);
		vu_conn_reset(c);
	}
}

static void guest_shutdown(struct vu_conn *c, uint32_t flags)
{
	uint32_t fresh = flags & ~c->guest_shutdown & (VU_SHUTDOWN_RCV | VU_SHUTDOWN_SEND);

	c->guest_shutdown |= fresh;
	/* The guest takes no more: the host program's writes fail from now on (EPIPE). */
	if (fresh & VU_SHUTDOWN_RCV)
		shutdown(c->fd, SHUT_RD);
	/* The guest sends no more: SHUT_WR once what is held has been written. */
	if ((fresh & VU_SHUTDOWN_SEND) && vu_conn_flush(c) < 0)
		vu_conn_reset(c);
	else if (vu_conn_finished(c))
		vu_conn_reset(c);
}

static void guest_data(struct vu_conn *c, const struct vu_vsock_hdr *hdr,
		       const struct vu_chain *chain)
{
	struct iovec iov[VU_CHAIN_MAX_SEGMENTS];
	int count;

	if (c->state != VU_CONN_ESTABLISHED || (c->guest_shutdown & VU_SHUTDOWN_SEND)) {
		log_packet(c->vm, "data on a connection not open for it", hdr);
		vu_conn_reset(c);
		return;
	}
	if (!vu_credit_accepts(&c->credit, hdr->len)) {
		c->vm->over_credit++;
		vu_vm_log(c->vm, "guest port %u sent %u bytes with %u of credit left: RST",
			  c->guest_port, hdr->len, VU_BUF_ALLOC - vu_credit_held(&c->credit));
		vu_conn_reset(c);
		return;
	}
	count = vu_segments_iov(chain->in, chain->n_in, HDR_LEN, hdr->len, iov,
				VU_CHAIN_MAX_SEGMENTS);
	if (vu_conn_write(c, iov, count, hdr->len) < 0) {
		if (c->vm->verbose)
			vu_vm_log(c->vm, "host stream of port %u: write: %m; RST", c->host_port);
		vu_conn_reset(c);
		return;
	}
	if (vu_credit_update_due(&c->credit))
		vu_conn_owe(c, VU_OWE_CREDIT_UPDATE);
}

/* A packet from the guest to CID 2. */
static void host_packet(struct vu_vm *vm, const struct vu_vsock_hdr *hdr,
			const struct vu_chain *chain)
{
	struct vu_conn *c = vu_conn_find(&vm->conns, hdr->src_port, hdr->dst_port);

	if (!c) {
		if (hdr->op == VU_OP_REQUEST)
			new_request(vm, hdr);
		else
			vu_vsock_queue_rst(vm, hdr);	/* never for an RST */
		return;
	}
	c->credit.peer_buf_alloc = hdr->buf_alloc;
	c->credit.peer_fwd_cnt = hdr->fwd_cnt;
	switch (hdr->op) {
	case VU_OP_RW:
		guest_data(c, hdr, chain);
		break;
	case VU_OP_RESPONSE:
		if (c->state == VU_CONN_WAIT_RESPONSE)
			established(c);
		else
			vu_conn_reset(c);
		break;
	case VU_OP_RST:
		vu_conn_drop(c);	/* the host program sees its stream closed (no OK if waiting) */
		return;
	case VU_OP_SHUTDOWN:
		guest_shutdown(c, hdr->flags);
		break;
	case VU_OP_CREDIT_REQUEST:
		vu_conn_owe(c, VU_OWE_CREDIT_UPDATE);
		break;
	case VU_OP_CREDIT_UPDATE:
		break;
	default:	/* a second REQUEST, or an unknown op: the connection is confused */
		log_packet(vm, "unexpected op on an open connection", hdr);
		vu_conn_reset(c);
		return;
	}
	if (c->dead || c->state == VU_CONN_CLOSING)
		return;
	vu_conn_wake(c);	/* credit may have come back; the pump finds out */
}

/* 1 when the chain may go back to the guest, 0 when guest->guest holds it for later. */
static int route(struct vu_vm *vm, const struct vu_chain *chain)
{
	struct vu_iovec_scratch { struct iovec iov[VU_CHAIN_MAX_SEGMENTS]; } s;
	struct vu_vsock_hdr hdr;
	struct vu_vm *to;
	int count;

	if (vu_chain_read(chain, 0, &hdr, HDR_LEN) != HDR_LEN) {
		vm->oversized++;
		if (vm->verbose)
			vu_vm_log(vm, "dropped a tx chain of %llu bytes: shorter than a header",
				  (unsigned long long)chain->in_bytes);
		return 1;
	}
	if (hdr.len > chain->in_bytes - HDR_LEN || hdr.len > VU_VSOCK_MAX_PAYLOAD) {
		vm->oversized++;
		log_packet(vm, "len beyond the buffer or 64 KiB", &hdr);
		return 1;
	}
	count = vu_segments_iov(chain->in, chain->n_in, HDR_LEN, hdr.len, s.iov,
				VU_CHAIN_MAX_SEGMENTS);
	vu_pcap_packet(vm->pcap, &hdr, s.iov, count, hdr.len);
	if (hdr.src_cid != vm->cid) {
		vm->spoofed++;
		log_packet(vm, "spoofed src_cid", &hdr);
		return 1;
	}
	if (hdr.dst_cid == VU_HOST_CID) {
		host_packet(vm, &hdr, chain);
		return 1;
	}
	to = vu_g2g_find(vm, hdr.dst_cid);
	if (!to) {
		vm->unroutable++;
		log_packet(vm, "no such cid here", &hdr);
		return 1;
	}
	return vu_g2g_forward(vm, to, &hdr, chain);
}

int vu_vsock_tx(struct vu_vm *vm, char *error, size_t error_size)
{
	struct vu_vring *tx = &vm->dev.vrings[VU_VSOCK_TX];
	struct vu_chain chain;
	int ret;

	if (!vu_vm_running(vm))
		return 0;
	/* Guest->guest backpressure: nothing more from this ring until the held chain is through. */
	if (vm->held.active) {
		if (!vu_g2g_resume(vm))
			return 0;
		vu_queue_push(tx, &vm->held.chain, 0);
	}
	while ((ret = vu_queue_pop(&vm->dev, tx, &chain, error, error_size)) > 0) {
		if (!route(vm, &chain))
			return 0;
		vu_queue_push(tx, &chain, 0);
	}
	return ret < 0 ? -1 : 0;
}

void vu_vsock_stream_event(struct vu_watch *watch, uint32_t events)
{
	struct vu_conn *c = container_of(watch, struct vu_conn, watch);

	if (c->dead || c->fd < 0)
		return;
	if (c->state == VU_CONN_LINE) {
		if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
			vu_bridge_read_line(c);
		return;
	}
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
		c->readable = 1;
		vu_conn_wake(c);
	}
	if ((events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) && vu_credit_held(&c->credit)) {
		if (vu_conn_flush(c) < 0) {
			if (c->vm->verbose)
				vu_vm_log(c->vm, "host stream of port %u: write: %m; RST",
					  c->host_port);
			vu_conn_reset(c);
			return;
		}
		if (vu_credit_update_due(&c->credit))
			vu_conn_owe(c, VU_OWE_CREDIT_UPDATE);
		if (vu_conn_finished(c))
			vu_conn_reset(c);
	}
}
