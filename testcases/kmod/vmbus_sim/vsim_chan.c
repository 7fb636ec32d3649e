// SPDX-License-Identifier: GPL-2.0
/*
 * vsim_chan.c: hv_sock channels and their hv_device, from the host's offer to the channel's
 * free, with the hv_vmbus calls hv_sock makes on them (vmbus_open/close, the rescind callback,
 * vmbus_hvsock_device_unregister, vmbus_send_tl_connect_request).
 *
 * A channel lives until it is both rescinded (by its host session) and its device removed (by
 * hv_sock through vmbus_hvsock_device_unregister, by the rescind of an unopened channel, or by
 * vmbus_driver_unregister). Host ioctls hold a reference while they use it.
 */
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/sched.h>

#include "vsim.h"
#include "vsim_core.h"

static u32 vsim_next_id = 1;

struct vsim_chan *vsim_chan_of(struct vmbus_channel *channel)
{
	return container_of(channel, struct vsim_chan, channel);
}

static void vsim_chan_release(struct kref *ref)
{
	struct vsim_chan *c = container_of(ref, struct vsim_chan, ref);

	tasklet_kill(&c->cb_tasklet);
	mutex_lock(&c->lock);
	vsim_ring_free(c);
	mutex_unlock(&c->lock);
	kfree(c->hdev);
	kfree(c);
	module_put(THIS_MODULE);
}

void vsim_chan_put(struct vsim_chan *c)
{
	kref_put(&c->ref, vsim_chan_release);
}

/* The session's channel `id`, with a reference, or NULL. */
struct vsim_chan *vsim_chan_get(struct vsim_session *s, u32 id)
{
	struct vsim_chan *c, *found = NULL;

	mutex_lock(&vsim_lock);
	list_for_each_entry(c, &vsim_channels, node) {
		if (c->id == id && READ_ONCE(c->owner) == s) {
			kref_get(&c->ref);
			found = c;
			break;
		}
	}
	mutex_unlock(&vsim_lock);
	return found;
}

/*
 * Drop the registry's reference once the channel is rescinded and its device gone: it no longer
 * counts as alive (VSIM_IOC_INFO), though queued events may hold the memory a while.
 */
static void vsim_chan_maybe_free(struct vsim_chan *c)
{
	bool done;

	mutex_lock(&vsim_lock);
	mutex_lock(&c->lock);
	done = c->rescinded && c->device_removed && !list_empty(&c->node);
	if (done) {
		list_del_init(&c->node);
		atomic_dec(&vsim_nchannels);
	}
	mutex_unlock(&c->lock);
	mutex_unlock(&vsim_lock);
	if (done)
		vsim_chan_put(c);
}

/* The channel callback, from a tasklet as vmbus_on_event() runs it for HV_CALL_DIRECT. */
static void vsim_cb_tasklet(unsigned long data)
{
	struct vsim_chan *c = (struct vsim_chan *)data;
	void (*cb)(void *ctx) = NULL;
	void *ctx = NULL;

	spin_lock_bh(&c->cb_lock);
	if (c->cb_enabled) {
		cb = c->channel.onchannel_callback;
		ctx = c->channel.channel_callback_context;
	}
	spin_unlock_bh(&c->cb_lock);
	if (cb)
		cb(ctx);
}

void vsim_signal_guest(struct vsim_chan *c)
{
	unsigned long flags;

	spin_lock_irqsave(&c->cb_lock, flags);
	if (c->cb_enabled)
		tasklet_schedule(&c->cb_tasklet);
	spin_unlock_irqrestore(&c->cb_lock, flags);
}

/* Something the host's SEND/RECV may wait for changed. Any context. */
void vsim_host_wake(struct vsim_chan *c)
{
	atomic_inc(&c->gen);
	wake_up_interruptible_all(&c->host_wq);
}

/* vmbus_reset_channel_cb(): no callback runs after this returns. */
static void vsim_cb_disable(struct vsim_chan *c)
{
	spin_lock_bh(&c->cb_lock);
	c->cb_enabled = false;
	spin_unlock_bh(&c->cb_lock);
	tasklet_kill(&c->cb_tasklet);
}

static void vsim_call_remove(struct hv_driver *drv, struct hv_device *hdev)
{
	if (drv && drv->remove)
		drv->remove(hdev);
}

/* vmbus_device_unregister() for a hv_sock device: the driver's remove, once. */
static void vsim_device_remove(struct vsim_chan *c)
{
	struct hv_driver *drv;
	bool first;

	mutex_lock(&vsim_lock);
	mutex_lock(&c->lock);
	first = !c->device_removed;
	c->device_removed = true;
	mutex_unlock(&c->lock);
	drv = vsim_driver();
	mutex_unlock(&vsim_lock);
	if (!first)
		return;
	vsim_call_remove(drv, c->hdev);
	/* hv_sock may be unloaded next: nothing of it may be called any more. */
	vsim_cb_disable(c);
	c->channel.chn_rescind_callback = NULL;
	vsim_chan_maybe_free(c);
}

int vsim_offer(struct vsim_session *s, struct vsim_offer *o)
{
	struct hv_driver *drv;
	struct vsim_chan *c;
	int ret;

	c = kzalloc(sizeof(*c), GFP_KERNEL);
	if (!c)
		return -ENOMEM;
	c->hdev = kzalloc(sizeof(*c->hdev), GFP_KERNEL);
	if (!c->hdev) {
		kfree(c);
		return -ENOMEM;
	}
	kref_init(&c->ref);
	INIT_LIST_HEAD(&c->node);
	mutex_init(&c->lock);
	spin_lock_init(&c->cb_lock);
	tasklet_init(&c->cb_tasklet, vsim_cb_tasklet, (unsigned long)c);
	init_waitqueue_head(&c->host_wq);
	init_waitqueue_head(&c->rescind_wq);
	c->state = VSIM_CHAN_OFFERED;
	c->host_initiated = o->flags & VSIM_OFFER_HOST_INITIATED;
	c->owner = s;

	/* What vmbus_onoffer() / alloc_channel() / vmbus_device_create() fill and hv_sock reads. */
	memcpy(&c->channel.offermsg.offer.if_type, o->if_type.b, sizeof(guid_t));
	memcpy(&c->channel.offermsg.offer.if_instance, o->if_instance.b, sizeof(guid_t));
	c->channel.offermsg.offer.chn_flags = VMBUS_CHANNEL_TLNPI_PROVIDER_OFFER;
	c->channel.offermsg.offer.u.pipe.user_def[0] = c->host_initiated;
	c->channel.state = CHANNEL_OPEN_STATE;	/* hv_vmbus's name for "offered, not opened" */
	c->channel.callback_mode = HV_CALL_BATCHED;
	mutex_init(&c->channel.inbound.ring_buffer_mutex);
	mutex_init(&c->channel.outbound.ring_buffer_mutex);
	spin_lock_init(&c->channel.inbound.ring_lock);
	spin_lock_init(&c->channel.outbound.ring_lock);
	c->hdev->channel = &c->channel;
	memcpy(&c->hdev->dev_type, o->if_type.b, sizeof(guid_t));
	memcpy(&c->hdev->dev_instance, o->if_instance.b, sizeof(guid_t));
	c->channel.device_obj = c->hdev;

	mutex_lock(&vsim_lock);
	drv = vsim_driver();
	if (!drv) {
		mutex_unlock(&vsim_lock);
		kfree(c->hdev);
		kfree(c);
		return -ENODEV;
	}
	__module_get(THIS_MODULE);
	atomic_inc(&vsim_nchannels);
	c->id = vsim_next_id++;
	if (!vsim_next_id)
		vsim_next_id = 1;
	c->channel.offermsg.child_relid = c->id;
	list_add_tail(&c->node, &vsim_channels);
	kref_get(&c->ref);	/* ours until the end of this call */
	mutex_unlock(&vsim_lock);

	/* vmbus_probe(): synchronously, like vmbus_device_register() from the offer work. */
	mutex_lock(&vsim_drv_lock);
	ret = drv->probe(c->hdev, NULL);
	WRITE_ONCE(c->channel.probe_done, true);
	mutex_unlock(&vsim_drv_lock);
	if (ret)
		pr_info("vmbus_sim: chan %u: probe returned %d\n", c->id, ret);

	mutex_lock(&c->lock);
	o->chan = c->id;
	o->state = c->state;
	o->guest_send_ring = c->channel.outbound.ring_buffer ? c->channel.outbound.ring_datasize : 0;
	o->guest_recv_ring = c->channel.inbound.ring_buffer ? c->channel.inbound.ring_datasize : 0;
	mutex_unlock(&c->lock);
	vsim_chan_put(c);
	return 0;
}

/*
 * The host closes the channel (vmbus_onoffer_rescind()): stop the channel callback, mark it
 * rescinded, then either hv_sock's rescind callback (an opened channel) or the device's
 * removal (no callback set). Process context.
 */
void vsim_rescind(struct vsim_chan *c)
{
	bool first, removed, waiting;

	mutex_lock(&c->lock);
	first = !c->rescinded;
	waiting = c->waits_rescind;
	c->rescinded = true;
	removed = c->device_removed;
	if (first && c->state != VSIM_CHAN_CLOSED)
		c->state = VSIM_CHAN_RESCINDED;
	mutex_unlock(&c->lock);
	if (!first)
		return;
	vsim_cb_disable(c);
	WRITE_ONCE(c->channel.rescind, true);
	vsim_host_wake(c);
	wake_up_all(&c->rescind_wq);
	/* hv_sock destroying its socket already (it waits for us): no callback into it. */
	if (!removed && !waiting) {
		if (c->channel.chn_rescind_callback)
			c->channel.chn_rescind_callback(&c->channel);
		else
			vsim_device_remove(c);
	}
	vsim_chan_maybe_free(c);
}

/* vmbus_driver_unregister(): remove the devices hv_sock still has. */
void vsim_remove_all_devices(struct hv_driver *drv)
{
	struct vsim_chan *c;

	for (;;) {
		struct vsim_chan *todo = NULL;

		mutex_lock(&vsim_lock);
		list_for_each_entry(c, &vsim_channels, node) {
			if (!READ_ONCE(c->device_removed)) {
				kref_get(&c->ref);
				todo = c;
				break;
			}
		}
		mutex_unlock(&vsim_lock);
		if (!todo)
			return;
		vsim_device_remove(todo);
		vsim_chan_put(todo);
	}
}

/* ---- hv_vmbus functions ---- */

int vsim_vmbus_open(struct vmbus_channel *channel, u32 send_ringbuffersize,
		    u32 recv_ringbuffersize, void *userdata, u32 userdatalen,
		    void (*onchannel_callback)(void *context), void *context)
{
	struct vsim_chan *c = vsim_chan_of(channel);
	u32 out, in;
	int ret;

	if (userdatalen > MAX_USER_DEFINED_BYTES)
		return -EINVAL;
	mutex_lock(&c->lock);
	if (c->state != VSIM_CHAN_OFFERED || channel->state != CHANNEL_OPEN_STATE) {
		mutex_unlock(&c->lock);
		return -EINVAL;
	}
	if (c->rescinded) {
		mutex_unlock(&c->lock);
		return -ENODEV;
	}
#if VSIM_PKT_COPY
	if (!channel->max_pkt_size)
		channel->max_pkt_size = VMBUS_DEFAULT_MAX_PKT_SIZE;
#endif
	ret = vsim_ring_alloc(c, send_ringbuffersize, recv_ringbuffersize);
	if (ret) {
		mutex_unlock(&c->lock);
		return ret;
	}
	channel->onchannel_callback = onchannel_callback;
	channel->channel_callback_context = context;
	channel->state = CHANNEL_OPENED_STATE;
	c->state = VSIM_CHAN_OPEN;
	out = channel->outbound.ring_datasize;
	in = channel->inbound.ring_datasize;
	spin_lock_bh(&c->cb_lock);
	c->cb_enabled = true;
	spin_unlock_bh(&c->cb_lock);
	mutex_unlock(&c->lock);
	vsim_chan_event(c, VSIM_EV_OPENED, out, in, GFP_KERNEL);
	return 0;
}

/* vmbus_close(): no callback any more, rings freed, the host told. Nothing for an unopened one. */
void vsim_vmbus_close(struct vmbus_channel *channel)
{
	struct vsim_chan *c = vsim_chan_of(channel);

	vsim_cb_disable(c);
	mutex_lock(&c->lock);
	if (c->state != VSIM_CHAN_OPEN && !(c->state == VSIM_CHAN_RESCINDED &&
					    channel->state == CHANNEL_OPENED_STATE)) {
		mutex_unlock(&c->lock);
		return;
	}
	vsim_ring_free(c);
	channel->state = CHANNEL_OPEN_STATE;
	channel->onchannel_callback = NULL;
	c->state = VSIM_CHAN_CLOSED;
	mutex_unlock(&c->lock);
	vsim_host_wake(c);
	vsim_chan_event(c, VSIM_EV_GUEST_CLOSED, 0, 0, GFP_KERNEL);
}

void vsim_vmbus_set_chn_rescind_callback(struct vmbus_channel *channel,
					 void (*chn_rescind_cb)(struct vmbus_channel *))
{
	channel->chn_rescind_callback = chn_rescind_cb;
}

/*
 * The real one polls (msleep(1)) until the host's rescind arrives. Here the owner session is
 * told (VSIM_EV_WAIT_RESCIND) and the wait ends at its rescind, which closing the session
 * also does, then the device is removed (hv_sock's remove: vmbus_close).
 */
void vsim_vmbus_hvsock_device_unregister(struct vmbus_channel *channel)
{
	struct vsim_chan *c = vsim_chan_of(channel);

	WARN_ON(!is_hvsock_channel(channel));
	kref_get(&c->ref);
	mutex_lock(&c->lock);
	c->waits_rescind = !c->rescinded;
	mutex_unlock(&c->lock);
	if (c->waits_rescind) {
		vsim_chan_event(c, VSIM_EV_WAIT_RESCIND, 0, 0, GFP_KERNEL);
		wait_event_idle(c->rescind_wq, READ_ONCE(c->rescinded));
		c->waits_rescind = false;
	}
	vsim_device_remove(c);
	vsim_chan_put(c);
}

/* CHANNELMSG_TL_CONNECT_REQUEST: to the session listening on the host service, or dropped. */
int vsim_vmbus_send_tl_connect_request(const guid_t *shv_guest_servie_id,
				       const guid_t *shv_host_servie_id)
{
	struct vsim_session *s;

	mutex_lock(&vsim_lock);
	s = vsim_listener(shv_host_servie_id);
	if (s)
		vsim_event(NULL, s, VSIM_EV_TL_CONNECT, shv_guest_servie_id,
			   shv_host_servie_id, 0, 0, GFP_KERNEL);
	mutex_unlock(&vsim_lock);
	if (!s)
		pr_info("vmbus_sim: TL connect request for %pUl from %pUl: no host listener, dropped\n",
			shv_host_servie_id, shv_guest_servie_id);
	return 0;
}
