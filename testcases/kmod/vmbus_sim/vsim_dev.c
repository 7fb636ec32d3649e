// SPDX-License-Identifier: GPL-2.0
/*
 * vsim_dev.c: /dev/vmbus_sim, through which a userspace process plays the Hyper-V host.
 * Every open file is a session (vmbus_sim_uapi.h): its events, its listens, its channels.
 * Every length and flag from userspace is checked here, where it enters.
 */
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/poll.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "vsim_core.h"

struct vsim_ev {
	struct list_head node;
	struct vsim_event ev;
	struct vsim_chan *chan;		/* VSIM_EV_PACKET only, with a reference (coalescing) */
};

struct vsim_listen_ent {
	struct list_head node;		/* vsim_listens, under vsim_lock */
	struct vsim_session *s;
	guid_t service;
};

static LIST_HEAD(vsim_listens);

/* Under vsim_lock: the session listening on service, else the wildcard's, else NULL. */
struct vsim_session *vsim_listener(const guid_t *service)
{
	struct vsim_listen_ent *l;
	struct vsim_session *wild = NULL;

	list_for_each_entry(l, &vsim_listens, node) {
		if (guid_equal(&l->service, service))
			return l->s;
		if (guid_is_null(&l->service))
			wild = l->s;
	}
	return wild;
}

/* Queue an event to s, or to c's owner when s is NULL. Any context. */
void vsim_event(struct vsim_chan *c, struct vsim_session *s, u32 type,
		const guid_t *a, const guid_t *b, u32 value, u32 value2, gfp_t gfp)
{
	struct vsim_ev *e = kzalloc(sizeof(*e), gfp);
	unsigned long flags;

	if (!e) {
		pr_warn_ratelimited("vmbus_sim: event %u lost: no memory\n", type);
		return;
	}
	e->ev.type = type;
	e->ev.chan = c ? c->id : 0;
	if (a)
		memcpy(e->ev.a.b, a, sizeof(e->ev.a.b));
	if (b)
		memcpy(e->ev.b.b, b, sizeof(e->ev.b.b));
	e->ev.value = value;
	e->ev.value2 = value2;
	e->ev.time_ns = ktime_get_ns();

	spin_lock_irqsave(&vsim_owner_lock, flags);
	if (!s && c)
		s = c->owner;
	if (!s || s->dead || (type == VSIM_EV_PACKET && c->pkt_event_queued)) {
		spin_unlock_irqrestore(&vsim_owner_lock, flags);
		kfree(e);
		return;
	}
	if (s->nevents >= VSIM_EVENTS_MAX) {
		s->dropped++;
		spin_unlock_irqrestore(&vsim_owner_lock, flags);
		pr_warn_ratelimited("vmbus_sim: session event queue full, event %u dropped\n", type);
		kfree(e);
		return;
	}
	if (type == VSIM_EV_PACKET) {
		c->pkt_event_queued = true;
		kref_get(&c->ref);
		e->chan = c;
	}
	list_add_tail(&e->node, &s->events);
	s->nevents++;
	spin_unlock_irqrestore(&vsim_owner_lock, flags);
	wake_up_interruptible(&s->wq);
}

void vsim_chan_event(struct vsim_chan *c, u32 type, u32 value, u32 value2, gfp_t gfp)
{
	vsim_event(c, NULL, type, NULL, NULL, value, value2, gfp);
}

/* Unlink the first event of s, or NULL. Clears the channel's PACKET coalescing flag. */
static struct vsim_ev *vsim_ev_pop(struct vsim_session *s)
{
	struct vsim_ev *e = NULL;
	unsigned long flags;

	spin_lock_irqsave(&vsim_owner_lock, flags);
	if (!list_empty(&s->events)) {
		e = list_first_entry(&s->events, struct vsim_ev, node);
		list_del(&e->node);
		s->nevents--;
		if (e->chan)
			e->chan->pkt_event_queued = false;
	}
	spin_unlock_irqrestore(&vsim_owner_lock, flags);
	return e;
}

static void vsim_ev_free(struct vsim_ev *e)
{
	if (e->chan)
		vsim_chan_put(e->chan);
	kfree(e);
}

static int vsim_open(struct inode *inode, struct file *f)
{
	struct vsim_session *s = kzalloc(sizeof(*s), GFP_KERNEL);

	if (!s)
		return -ENOMEM;
	INIT_LIST_HEAD(&s->events);
	init_waitqueue_head(&s->wq);
	f->private_data = s;
	return stream_open(inode, f);
}

/* The host application died: its listens go, its channels are rescinded. */
static int vsim_release(struct inode *inode, struct file *f)
{
	struct vsim_session *s = f->private_data;
	struct vsim_listen_ent *l, *ln;
	struct vsim_chan *c, *todo;
	struct vsim_ev *e;
	unsigned long flags;

	mutex_lock(&vsim_lock);
	list_for_each_entry_safe(l, ln, &vsim_listens, node) {
		if (l->s == s) {
			list_del(&l->node);
			kfree(l);
		}
	}
	mutex_unlock(&vsim_lock);

	for (;;) {
		todo = NULL;
		mutex_lock(&vsim_lock);
		list_for_each_entry(c, &vsim_channels, node) {
			if (c->owner == s && !READ_ONCE(c->rescinded)) {
				kref_get(&c->ref);
				todo = c;
				break;
			}
		}
		mutex_unlock(&vsim_lock);
		if (!todo)
			break;
		vsim_rescind(todo);
		vsim_chan_put(todo);
	}

	/* Nothing may queue to s after this; rescinded channels forget their owner. */
	mutex_lock(&vsim_lock);
	spin_lock_irqsave(&vsim_owner_lock, flags);
	s->dead = true;
	list_for_each_entry(c, &vsim_channels, node)
		if (c->owner == s)
			c->owner = NULL;
	spin_unlock_irqrestore(&vsim_owner_lock, flags);
	mutex_unlock(&vsim_lock);

	while ((e = vsim_ev_pop(s)))
		vsim_ev_free(e);
	kfree(s);
	return 0;
}

static ssize_t vsim_read(struct file *f, char __user *buf, size_t count, loff_t *pos)
{
	struct vsim_session *s = f->private_data;
	size_t done = 0;
	struct vsim_ev *e;
	int ret;

	if (count < sizeof(struct vsim_event))
		return -EINVAL;
	while (done + sizeof(struct vsim_event) <= count) {
		e = vsim_ev_pop(s);
		if (!e) {
			if (done)
				break;
			if (f->f_flags & O_NONBLOCK)
				return -EAGAIN;
			ret = wait_event_interruptible(s->wq, READ_ONCE(s->nevents) > 0);
			if (ret)
				return ret;
			continue;
		}
		if (copy_to_user(buf + done, &e->ev, sizeof(e->ev))) {
			vsim_ev_free(e);
			return done ? done : -EFAULT;
		}
		vsim_ev_free(e);
		done += sizeof(struct vsim_event);
	}
	return done;
}

static __poll_t vsim_poll(struct file *f, poll_table *wait)
{
	struct vsim_session *s = f->private_data;
	struct vsim_chan *c;
	__poll_t mask = 0;

	poll_wait(f, &s->wq, wait);
	if (READ_ONCE(s->nevents))
		return EPOLLIN | EPOLLRDNORM;
	mutex_lock(&vsim_lock);
	list_for_each_entry(c, &vsim_channels, node) {
		if (c->owner != s)
			continue;
		mutex_lock(&c->lock);
		if (vsim_host_readable(c))
			mask = EPOLLIN | EPOLLRDNORM;
		mutex_unlock(&c->lock);
	}
	mutex_unlock(&vsim_lock);
	return mask;
}

static long vsim_ioc_listen(struct vsim_session *s, void __user *arg, bool add)
{
	struct vsim_listen l;
	struct vsim_listen_ent *e, *n;
	guid_t g;

	if (copy_from_user(&l, arg, sizeof(l)))
		return -EFAULT;
	memcpy(&g, l.service.b, sizeof(g));
	mutex_lock(&vsim_lock);
	list_for_each_entry_safe(e, n, &vsim_listens, node) {
		if (!guid_equal(&e->service, &g))
			continue;
		if (add) {
			mutex_unlock(&vsim_lock);
			return e->s == s ? -EEXIST : -EADDRINUSE;
		}
		if (e->s != s)
			break;
		list_del(&e->node);
		mutex_unlock(&vsim_lock);
		kfree(e);
		return 0;
	}
	if (!add) {
		mutex_unlock(&vsim_lock);
		return -ENOENT;
	}
	e = kzalloc(sizeof(*e), GFP_KERNEL);
	if (!e) {
		mutex_unlock(&vsim_lock);
		return -ENOMEM;
	}
	e->s = s;
	e->service = g;
	list_add_tail(&e->node, &vsim_listens);
	mutex_unlock(&vsim_lock);
	return 0;
}

static long vsim_ioc_offer(struct vsim_session *s, void __user *arg)
{
	struct vsim_offer o;
	int ret;

	if (copy_from_user(&o, arg, sizeof(o)))
		return -EFAULT;
	if (o.flags & ~VSIM_OFFER_HOST_INITIATED)
		return -EINVAL;
	ret = vsim_offer(s, &o);
	if (ret)
		return ret;
	return copy_to_user(arg, &o, sizeof(o)) ? -EFAULT : 0;
}

/* The channel's state for a host transfer: 0 or the UAPI's error. Caller holds c->lock. */
static int vsim_xfer_state(struct vsim_chan *c)
{
	if (c->rescinded || c->state == VSIM_CHAN_CLOSED)
		return -EPIPE;
	if (c->state != VSIM_CHAN_OPEN)
		return -ENOTCONN;
	return 0;
}

static long vsim_ioc_send(struct vsim_session *s, void __user *arg)
{
	struct vsim_xfer x;
	struct vsim_chan *c;
	bool raw;
	int gen;
	void *buf;
	int ret;

	if (copy_from_user(&x, arg, sizeof(x)))
		return -EFAULT;
	if (x.flags & ~(VSIM_XFER_RAW | VSIM_XFER_NONBLOCK))
		return -EINVAL;
	raw = x.flags & VSIM_XFER_RAW;
	if (raw && (x.len < 8 || x.len % 8))
		return -EINVAL;
	if (x.len > VSIM_RING_MAX)
		return -EMSGSIZE;
	c = vsim_chan_get(s, x.chan);
	if (!c)
		return -ENOENT;
	buf = kvmalloc(x.len ? x.len : 1, GFP_KERNEL);
	if (!buf) {
		ret = -ENOMEM;
		goto out;
	}
	if (copy_from_user(buf, u64_to_user_ptr(x.buf), x.len)) {
		ret = -EFAULT;
		goto out;
	}
	for (;;) {
		mutex_lock(&c->lock);
		gen = atomic_read(&c->gen);
		ret = vsim_xfer_state(c);
		if (!ret)
			ret = vsim_host_send(c, buf, x.len, raw);
		mutex_unlock(&c->lock);
		if (ret != -EAGAIN || (x.flags & VSIM_XFER_NONBLOCK))
			break;
		/* Woken when the guest consumes, closes, or the channel is rescinded. */
		ret = wait_event_interruptible(c->host_wq, atomic_read(&c->gen) != gen);
		if (ret)
			break;
	}
	if (!ret) {
		x.done = x.len;
		ret = copy_to_user(arg, &x, sizeof(x)) ? -EFAULT : 0;
	}
out:
	kvfree(buf);
	vsim_chan_put(c);
	return ret;
}

static long vsim_ioc_recv(struct vsim_session *s, void __user *arg)
{
	struct vsim_xfer x;
	struct vsim_chan *c;
	u32 room;
	int gen;
	void *buf;
	int ret;

	if (copy_from_user(&x, arg, sizeof(x)))
		return -EFAULT;
	if (x.flags & ~(VSIM_XFER_RAW | VSIM_XFER_NONBLOCK))
		return -EINVAL;
	room = min_t(u32, x.len, VSIM_RING_MAX);
	c = vsim_chan_get(s, x.chan);
	if (!c)
		return -ENOENT;
	buf = kvmalloc(room ? room : 1, GFP_KERNEL);
	if (!buf) {
		ret = -ENOMEM;
		goto out;
	}
	for (;;) {
		mutex_lock(&c->lock);
		gen = atomic_read(&c->gen);
		if (c->state == VSIM_CHAN_OFFERED)
			ret = -ENOTCONN;
		else if (!c->channel.outbound.ring_buffer)
			ret = -EPIPE;
		else
			ret = vsim_host_recv(c, buf, room, x.flags & VSIM_XFER_RAW, &x);
		if (ret == -EAGAIN && vsim_xfer_state(c))
			ret = -EPIPE;
		mutex_unlock(&c->lock);
		if (ret != -EAGAIN || (x.flags & VSIM_XFER_NONBLOCK))
			break;
		ret = wait_event_interruptible(c->host_wq, atomic_read(&c->gen) != gen);
		if (ret)
			break;
	}
	if (ret >= 0) {
		x.done = ret;
		if (copy_to_user(u64_to_user_ptr(x.buf), buf, x.done) ||
		    copy_to_user(arg, &x, sizeof(x)))
			ret = -EFAULT;
		else
			ret = 0;
	}
out:
	kvfree(buf);
	vsim_chan_put(c);
	return ret;
}

static long vsim_ioc_chan_info(struct vsim_session *s, void __user *arg)
{
	struct vsim_chan_info ci;
	struct hv_ring_buffer_info *out, *in;
	struct vsim_chan *c;

	if (copy_from_user(&ci, arg, sizeof(ci)))
		return -EFAULT;
	c = vsim_chan_get(s, ci.chan);
	if (!c)
		return -ENOENT;
	memset(&ci, 0, sizeof(ci));
	mutex_lock(&c->lock);
	ci.chan = c->id;
	ci.state = c->state;
	ci.host_initiated = c->host_initiated;
	out = &c->channel.outbound;
	in = &c->channel.inbound;
	if (out->ring_buffer) {
		ci.guest_send_ring = out->ring_datasize;
		ci.out_read_index = READ_ONCE(out->ring_buffer->read_index);
		ci.out_write_index = READ_ONCE(out->ring_buffer->write_index);
		ci.out_pending_send_sz = READ_ONCE(out->ring_buffer->pending_send_sz);
	}
	if (in->ring_buffer) {
		ci.guest_recv_ring = in->ring_datasize;
		ci.in_read_index = READ_ONCE(in->ring_buffer->read_index);
		ci.in_write_index = READ_ONCE(in->ring_buffer->write_index);
		ci.in_pending_send_sz = READ_ONCE(in->ring_buffer->pending_send_sz);
	}
	ci.guest_waits_rescind = READ_ONCE(c->waits_rescind);
	mutex_unlock(&c->lock);
	vsim_chan_put(c);
	return copy_to_user(arg, &ci, sizeof(ci)) ? -EFAULT : 0;
}

static long vsim_ioctl(struct file *f, unsigned int cmd, unsigned long arg)
{
	struct vsim_session *s = f->private_data;
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case VSIM_IOC_INFO: {
		struct vsim_info info = {
			.abi = VSIM_ABI,
			.proto_version = READ_ONCE(vmbus_proto_version),
			.attach = vsim_attach_mode(),
			.channels = atomic_read(&vsim_nchannels),
		};

		mutex_lock(&vsim_lock);
		info.driver_registered = vsim_driver() != NULL;
		mutex_unlock(&vsim_lock);
		return copy_to_user(uarg, &info, sizeof(info)) ? -EFAULT : 0;
	}
	case VSIM_IOC_SET_PROTO: {
		struct vsim_proto p;

		if (copy_from_user(&p, uarg, sizeof(p)))
			return -EFAULT;
		WRITE_ONCE(vmbus_proto_version, p.version ? p.version : vsim_default_proto());
		return 0;
	}
	case VSIM_IOC_LISTEN:
		return vsim_ioc_listen(s, uarg, true);
	case VSIM_IOC_UNLISTEN:
		return vsim_ioc_listen(s, uarg, false);
	case VSIM_IOC_OFFER:
		return vsim_ioc_offer(s, uarg);
	case VSIM_IOC_SEND:
		return vsim_ioc_send(s, uarg);
	case VSIM_IOC_RECV:
		return vsim_ioc_recv(s, uarg);
	case VSIM_IOC_RESCIND: {
		struct vsim_chan_ref r;
		struct vsim_chan *c;

		if (copy_from_user(&r, uarg, sizeof(r)))
			return -EFAULT;
		c = vsim_chan_get(s, r.chan);
		if (!c)
			return -ENOENT;
		vsim_rescind(c);
		vsim_chan_put(c);
		return 0;
	}
	case VSIM_IOC_CHAN_INFO:
		return vsim_ioc_chan_info(s, uarg);
	}
	return -ENOTTY;
}

static const struct file_operations vsim_fops = {
	.owner = THIS_MODULE,
	.open = vsim_open,
	.release = vsim_release,
	.read = vsim_read,
	.poll = vsim_poll,
	.unlocked_ioctl = vsim_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
};

static struct miscdevice vsim_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "vmbus_sim",
	.fops = &vsim_fops,
	.mode = 0600,
};

int vsim_dev_init(void)
{
	return misc_register(&vsim_misc);
}

void vsim_dev_exit(void)
{
	misc_deregister(&vsim_misc);
}
