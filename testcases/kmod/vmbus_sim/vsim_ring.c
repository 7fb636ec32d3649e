// SPDX-License-Identifier: GPL-2.0
/*
 * vsim_ring.c: the two VMBus rings of a channel, laid out as drivers/hv/ring_buffer.c lays them
 * out (one header page, struct hv_ring_buffer, then the data pages mapped twice back to back so
 * a packet that wraps is contiguous), the guest's side of them as hv_vmbus implements it
 * (vmbus_sendpacket, hv_pkt_iter_*), and the host's side (the char device's SEND/RECV).
 *
 * Packets: 16-byte vmpacket_descriptor (offset8/len8 in 8-byte units), payload, padding to 8,
 * then an 8-byte trailer holding the writer's previous indices (write_index << 32).
 */
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>
#include <linux/reciprocal_div.h>

#include "vsim.h"
#include "vsim_core.h"

#define VSIM_OUT 0	/* guest to host: channel->outbound */
#define VSIM_IN 1	/* host to guest: channel->inbound */

/* hyperv_transport.c's struct vmpipe_proto_header (private to it): after the descriptor. */
struct vsim_pipe_hdr {
	u32 pkt_type;		/* 1 */
	u32 data_size;		/* payload bytes; 0 is the FIN */
} __packed;

static struct hv_ring_buffer_info *vsim_rbi(struct vsim_chan *c, int dir)
{
	return dir == VSIM_OUT ? &c->channel.outbound : &c->channel.inbound;
}

/* hv_ringbuffer_init(): header page + data pages, data mapped twice. */
static int vsim_ring_init(struct vsim_chan *c, int dir, u32 size)
{
	struct hv_ring_buffer_info *rbi = vsim_rbi(c, dir);
	u32 npages = size >> PAGE_SHIFT, i;
	struct page **pages, **map;

	pages = kcalloc(npages, sizeof(*pages), GFP_KERNEL);
	map = kcalloc(2 * npages - 1, sizeof(*map), GFP_KERNEL);
	if (!pages || !map)
		goto fail;
	for (i = 0; i < npages; i++) {
		pages[i] = alloc_page(GFP_KERNEL | __GFP_ZERO);
		if (!pages[i])
			goto fail;
	}
	map[0] = pages[0];
	for (i = 0; i < 2 * (npages - 1); i++)
		map[i + 1] = pages[i % (npages - 1) + 1];
	rbi->ring_buffer = vmap(map, 2 * npages - 1, VM_MAP, PAGE_KERNEL);
	if (!rbi->ring_buffer)
		goto fail;
	kfree(map);
	c->pages[dir] = pages;
	c->npages[dir] = npages;

	rbi->ring_buffer->read_index = 0;
	rbi->ring_buffer->write_index = 0;
	rbi->ring_buffer->feature_bits.value = 1;	/* feat_pending_send_sz */
	rbi->ring_size = size;
	rbi->ring_size_div10_reciprocal = reciprocal_value(size / 10);
	rbi->ring_datasize = size - sizeof(struct hv_ring_buffer);
	rbi->priv_read_index = 0;
	spin_lock_init(&rbi->ring_lock);
#if VSIM_PKT_COPY
	if (dir == VSIM_IN) {
		rbi->pkt_buffer = kzalloc(c->channel.max_pkt_size, GFP_KERNEL);
		if (!rbi->pkt_buffer)
			return -ENOMEM;	/* vsim_ring_free() cleans up */
		rbi->pkt_buffer_size = c->channel.max_pkt_size;
	}
#endif
	return 0;
fail:
	if (pages)
		for (i = 0; i < npages; i++)
			if (pages[i])
				__free_page(pages[i]);
	kfree(pages);
	kfree(map);
	return -ENOMEM;
}

static void vsim_ring_cleanup(struct vsim_chan *c, int dir)
{
	struct hv_ring_buffer_info *rbi = vsim_rbi(c, dir);
	struct hv_ring_buffer *ring;
	unsigned long flags;
	u32 i;

	/* vmbus_sendpacket() tests ring_buffer under ring_lock. */
	mutex_lock(&rbi->ring_buffer_mutex);
	spin_lock_irqsave(&rbi->ring_lock, flags);
	ring = rbi->ring_buffer;
	rbi->ring_buffer = NULL;
	spin_unlock_irqrestore(&rbi->ring_lock, flags);
	if (ring)
		vunmap(ring);
	mutex_unlock(&rbi->ring_buffer_mutex);
#if VSIM_PKT_COPY
	kfree(rbi->pkt_buffer);
	rbi->pkt_buffer = NULL;
	rbi->pkt_buffer_size = 0;
#endif
	if (c->pages[dir]) {
		for (i = 0; i < c->npages[dir]; i++)
			__free_page(c->pages[dir][i]);
		kfree(c->pages[dir]);
	}
	c->pages[dir] = NULL;
	c->npages[dir] = 0;
}

/* vmbus_alloc_ring(): both sizes page aligned, each with its header page. Caller holds c->lock. */
int vsim_ring_alloc(struct vsim_chan *c, u32 send_size, u32 recv_size)
{
	int ret;

	if (send_size % PAGE_SIZE || recv_size % PAGE_SIZE)
		return -EINVAL;
	if (send_size < 2 * PAGE_SIZE || recv_size < 2 * PAGE_SIZE ||
	    send_size > VSIM_RING_MAX || recv_size > VSIM_RING_MAX) {
		pr_warn("vmbus_sim: vmbus_open: ring sizes %u/%u outside [%lu, %u]\n",
			send_size, recv_size, 2 * PAGE_SIZE, VSIM_RING_MAX);
		return -EINVAL;
	}
	ret = vsim_ring_init(c, VSIM_OUT, send_size);
	if (!ret)
		ret = vsim_ring_init(c, VSIM_IN, recv_size);
	if (ret)
		vsim_ring_free(c);
	return ret;
}

/* Caller holds c->lock. */
void vsim_ring_free(struct vsim_chan *c)
{
	vsim_ring_cleanup(c, VSIM_OUT);
	vsim_ring_cleanup(c, VSIM_IN);
}

static u32 vsim_used(u32 read, u32 write, u32 dsize)
{
	return write >= read ? write - read : dsize - read + write;
}

/* Copy into the ring at off (< dsize): the double mapping makes it contiguous. */
static u32 vsim_ring_put(struct hv_ring_buffer_info *rbi, u32 off, const void *src, u32 len)
{
	memcpy(rbi->ring_buffer->buffer + off, src, len);
	off += len;
	if (off >= rbi->ring_datasize)
		off -= rbi->ring_datasize;
	return off;
}

/* ---- guest side: what hv_sock calls ---- */

/* vmbus_sendpacket() + hv_ringbuffer_write(): -ENODEV rescinded, -EAGAIN full. */
int vsim_vmbus_sendpacket(struct vmbus_channel *channel, void *buffer, u32 bufferlen,
			  u64 requestid, enum vmbus_packet_type type, u32 flags)
{
	struct vsim_chan *c = vsim_chan_of(channel);
	struct hv_ring_buffer_info *rbi = &channel->outbound;
	u32 pktlen = sizeof(struct vmpacket_descriptor) + bufferlen;
	u32 aligned = ALIGN(pktlen, sizeof(u64));
	u32 total = aligned + VSIM_PKT_TRAILER;
	struct vmpacket_descriptor desc = {
		.type = type,
		.flags = flags,
		.offset8 = sizeof(struct vmpacket_descriptor) >> 3,
		.len8 = (u16)(aligned >> 3),
		.trans_id = requestid,
	};
	u64 zero = 0, prev;
	u32 read, write, avail, next;
	unsigned long irqf;

	if (channel->rescind)
		return -ENODEV;
	spin_lock_irqsave(&rbi->ring_lock, irqf);
	if (!rbi->ring_buffer) {
		spin_unlock_irqrestore(&rbi->ring_lock, irqf);
		return -ENODEV;
	}
	read = READ_ONCE(rbi->ring_buffer->read_index);
	write = READ_ONCE(rbi->ring_buffer->write_index);
	if (read >= rbi->ring_datasize || write >= rbi->ring_datasize) {
		spin_unlock_irqrestore(&rbi->ring_lock, irqf);
		pr_err_ratelimited("vmbus_sim: chan %u: outbound indices out of range: read %u write %u size %u\n",
				   c->id, read, write, rbi->ring_datasize);
		return -EIO;
	}
	avail = rbi->ring_datasize - vsim_used(read, write, rbi->ring_datasize);
	/* Only room for the packet counts as full: read == write means empty. */
	if (avail <= total) {
		++channel->out_full_total;
		if (!channel->out_full_flag) {
			++channel->out_full_first;
			channel->out_full_flag = true;
		}
		spin_unlock_irqrestore(&rbi->ring_lock, irqf);
		return -EAGAIN;
	}
	channel->out_full_flag = false;
	next = vsim_ring_put(rbi, write, &desc, sizeof(desc));
	if (bufferlen)
		next = vsim_ring_put(rbi, next, buffer, bufferlen);
	if (aligned != pktlen)
		next = vsim_ring_put(rbi, next, &zero, aligned - pktlen);
	prev = (u64)write << 32;
	next = vsim_ring_put(rbi, next, &prev, sizeof(prev));
	virt_mb();
	WRITE_ONCE(rbi->ring_buffer->write_index, next);
	spin_unlock_irqrestore(&rbi->ring_lock, irqf);

	/* Signal the host: its RECV waiters and its session's poll. */
	vsim_host_wake(c);
	vsim_chan_event(c, VSIM_EV_PACKET, 0, 0, GFP_ATOMIC);
	if (channel->rescind)
		return -ENODEV;
	return 0;
}

/* hv_pkt_iter_avail(): bytes after the private read index. */
static u32 vsim_iter_avail(const struct hv_ring_buffer_info *rbi)
{
	u32 priv = rbi->priv_read_index;
	u32 write = virt_load_acquire(&rbi->ring_buffer->write_index);

	if (write >= rbi->ring_datasize)
		return 0;	/* a host index out of range: treat the ring as empty */
	return write >= priv ? write - priv : rbi->ring_datasize - priv + write;
}

#if VSIM_PKT_COPY
/*
 * hv_pkt_iter_first() since 5.15: copy the packet out of the ring into pkt_buffer, with a
 * len8 clamped to what is available (and to pkt_buffer_size) and an offset8 clamped to
 * [16, len]; the copy carries the clamped values.
 */
struct vmpacket_descriptor *vsim_hv_pkt_iter_first(struct vmbus_channel *channel)
{
	struct hv_ring_buffer_info *rbi = &channel->inbound;
	struct vmpacket_descriptor *desc, *copy;
	u32 avail, len, off;

	if (!rbi->ring_buffer || !rbi->pkt_buffer)
		return NULL;
	avail = vsim_iter_avail(rbi);
	if (avail < sizeof(struct vmpacket_descriptor))
		return NULL;
	avail = min(rbi->pkt_buffer_size, avail);
	desc = (struct vmpacket_descriptor *)(rbi->ring_buffer->buffer + rbi->priv_read_index);
	len = READ_ONCE(desc->len8) << 3;
	off = READ_ONCE(desc->offset8) << 3;
	if (len < sizeof(struct vmpacket_descriptor) || len > avail)
		len = avail;
	if (off < sizeof(struct vmpacket_descriptor) || off > len)
		off = sizeof(struct vmpacket_descriptor);
	copy = rbi->pkt_buffer;
	memcpy(copy, desc, len);
	copy->len8 = len >> 3;
	copy->offset8 = off >> 3;
	return copy;
}
#else
/*
 * hv_pkt_iter_first() before 5.15 (5.10): a pointer into the ring itself, no length checks
 * (hv_sock of that age trusts the host). The double mapping keeps every read hv_sock 5.10
 * makes (descriptor + header + at most HVS_MTU_SIZE) inside the mapping.
 */
struct vmpacket_descriptor *vsim_hv_pkt_iter_first(struct vmbus_channel *channel)
{
	struct hv_ring_buffer_info *rbi = &channel->inbound;

	if (!rbi->ring_buffer)
		return NULL;
	if (vsim_iter_avail(rbi) < sizeof(struct vmpacket_descriptor))
		return NULL;
	return (struct vmpacket_descriptor *)(rbi->ring_buffer->buffer + rbi->priv_read_index);
}
#endif

/*
 * __hv_pkt_iter_next(): advance the private read index past the packet and its trailer.
 * The real one subtracts the data size once; a host len8 larger than the ring would leave the
 * index outside the ring, so this one wraps it modulo the data size (only differs for such
 * malformed lengths, which the 5.15+ iterator has already clamped).
 */
struct vmpacket_descriptor *vsim_hv_pkt_iter_next(struct vmbus_channel *channel,
						  const struct vmpacket_descriptor *desc)
{
	struct hv_ring_buffer_info *rbi = &channel->inbound;
	u32 dsize = rbi->ring_datasize;
	u64 next;

	if (!rbi->ring_buffer)
		return NULL;
	next = (u64)rbi->priv_read_index + ((u32)desc->len8 << 3) + VSIM_PKT_TRAILER;
	rbi->priv_read_index = do_div(next, dsize);
	return vsim_hv_pkt_iter_first(channel);
}

/* hv_pkt_iter_close(): publish the read index; signal the host if it waits for room. */
void vsim_hv_pkt_iter_close(struct vmbus_channel *channel)
{
	struct vsim_chan *c = vsim_chan_of(channel);
	struct hv_ring_buffer_info *rbi = &channel->inbound;

	if (!rbi->ring_buffer)
		return;
	virt_rmb();
	WRITE_ONCE(rbi->ring_buffer->read_index, rbi->priv_read_index);
	virt_mb();
	/* The host's SEND blocks on room; wake it whatever pending_send_sz says. */
	vsim_host_wake(c);
}

/* ---- host side: the char device's SEND / RECV; caller holds c->lock, rings exist ---- */

u32 vsim_host_send_room(struct vsim_chan *c)
{
	struct hv_ring_buffer_info *rbi = &c->channel.inbound;
	u32 read = READ_ONCE(rbi->ring_buffer->read_index);
	u32 write = rbi->ring_buffer->write_index;

	if (read >= rbi->ring_datasize)
		return 0;	/* the guest's index is out of range: no room ever */
	return rbi->ring_datasize - vsim_used(read, write, rbi->ring_datasize);
}

/*
 * Write one packet into the host-to-guest ring. pkt holds len bytes: the whole packet from its
 * descriptor on (raw) or a payload to frame. -EAGAIN: no room now; -EMSGSIZE: never fits.
 */
int vsim_host_send(struct vsim_chan *c, const void *pkt, u32 len, bool raw)
{
	struct hv_ring_buffer_info *rbi = &c->channel.inbound;
	struct vmpacket_descriptor desc = { 0 };
	struct vsim_pipe_hdr hdr = { 0 };
	u32 body = raw ? len : sizeof(desc) + sizeof(hdr) + ALIGN(len, 8);
	u32 total = body + VSIM_PKT_TRAILER;
	u32 write, next;
	u64 zero = 0, prev;

	if (!raw && body > (u32)U16_MAX << 3)
		return -EMSGSIZE;
	if (total >= rbi->ring_datasize)
		return -EMSGSIZE;
	if (vsim_host_send_room(c) <= total)
		return -EAGAIN;
	write = rbi->ring_buffer->write_index;
	if (raw) {
		next = vsim_ring_put(rbi, write, pkt, len);
	} else {
		desc.type = VM_PKT_DATA_INBAND;
		desc.offset8 = sizeof(desc) >> 3;
		desc.len8 = body >> 3;
		hdr.pkt_type = 1;
		hdr.data_size = len;
		next = vsim_ring_put(rbi, write, &desc, sizeof(desc));
		next = vsim_ring_put(rbi, next, &hdr, sizeof(hdr));
		if (len)
			next = vsim_ring_put(rbi, next, pkt, len);
		if (ALIGN(len, 8) != len)
			next = vsim_ring_put(rbi, next, &zero, ALIGN(len, 8) - len);
	}
	prev = (u64)write << 32;
	next = vsim_ring_put(rbi, next, &prev, sizeof(prev));
	virt_store_release(&rbi->ring_buffer->write_index, next);
	vsim_signal_guest(c);
	return 0;
}

bool vsim_host_readable(struct vsim_chan *c)
{
	struct hv_ring_buffer_info *rbi = &c->channel.outbound;

	if (!rbi->ring_buffer)
		return false;
	return READ_ONCE(rbi->ring_buffer->read_index) != READ_ONCE(rbi->ring_buffer->write_index);
}

/*
 * Take the next packet of the guest-to-host ring into buf (room bytes). Returns the bytes
 * copied, -EAGAIN when empty, -EIO when the guest's ring is inconsistent (its indices or a
 * descriptor length); x gets fin/truncated/desc_type.
 */
int vsim_host_recv(struct vsim_chan *c, void *buf, u32 room, bool raw, struct vsim_xfer *x)
{
	struct hv_ring_buffer_info *rbi = &c->channel.outbound;
	const struct vmpacket_descriptor *desc;
	const struct vsim_pipe_hdr *hdr;
	u32 read, write, used, len, off, n, dsize = rbi->ring_datasize;
	const u8 *p;

	read = READ_ONCE(rbi->ring_buffer->read_index);
	write = virt_load_acquire(&rbi->ring_buffer->write_index);
	if (read >= dsize || write >= dsize)
		return -EIO;
	used = vsim_used(read, write, dsize);
	if (!used)
		return -EAGAIN;
	if (used < sizeof(*desc) + VSIM_PKT_TRAILER)
		return -EIO;
	p = rbi->ring_buffer->buffer + read;
	desc = (const void *)p;
	len = (u32)READ_ONCE(desc->len8) << 3;
	off = (u32)READ_ONCE(desc->offset8) << 3;
	if (len < sizeof(*desc) || len + VSIM_PKT_TRAILER > used)
		return -EIO;
	x->desc_type = desc->type;
	x->fin = 0;
	x->truncated = 0;
	if (raw) {
		n = min(len, room);
		memcpy(buf, p, n);
		x->truncated = n < len;
	} else {
		if (off < sizeof(*desc) || off + sizeof(*hdr) > len)
			goto bad;
		hdr = (const void *)(p + off);
		n = READ_ONCE(hdr->data_size);
		if (n > len - off - sizeof(*hdr))
			goto bad;
		x->fin = n == 0;
		x->truncated = n > room;
		n = min(n, room);
		memcpy(buf, p + off + sizeof(*hdr), n);
	}
	virt_mb();
	WRITE_ONCE(rbi->ring_buffer->read_index, (read + len + VSIM_PKT_TRAILER) % dsize);
	virt_mb();
	/* hv_sock set pending_send_sz and waits for room: signal it as the host does. */
	if (READ_ONCE(rbi->ring_buffer->pending_send_sz))
		vsim_signal_guest(c);
	return n;
bad:
	/* Consume the malformed packet so the stream goes on; report it. */
	WRITE_ONCE(rbi->ring_buffer->read_index, (read + len + VSIM_PKT_TRAILER) % dsize);
	pr_warn_ratelimited("vmbus_sim: chan %u: guest packet with bad offset8/data_size (len %u off %u)\n",
			    c->id, len, off);
	return -EIO;
}
