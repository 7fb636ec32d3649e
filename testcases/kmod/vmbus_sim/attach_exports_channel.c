// SPDX-License-Identifier: GPL-2.0
/*
 * The symbols drivers/hv/channel.c exports, routed to vmbus_sim. The includes are channel.c's
 * (5.10, 6.1, 6.12, 7.2) so the modversions CRCs match hv_sock.ko's: see attach.h.
 * The exports come before vsim.h so that nothing vsim.h may include one day changes them
 * (genksyms computes a CRC where the EXPORT_SYMBOL stands).
 */
#include <linux/version.h>
#include <linux/kernel.h>
#include <linux/sched.h>
#include <linux/wait.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/module.h>
#include <linux/hyperv.h>
#include <linux/uio.h>
#include <linux/interrupt.h>
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 1, 0)
#include <linux/set_memory.h>
#endif
#if LINUX_VERSION_CODE >= KERNEL_VERSION(7, 0, 0)
#include <linux/export.h>
#endif
#include <asm/page.h>
#include <asm/mshyperv.h>
#include "attach_hv_private.h"

EXPORT_SYMBOL_GPL(vmbus_send_tl_connect_request);
EXPORT_SYMBOL_GPL(vmbus_open);
EXPORT_SYMBOL_GPL(vmbus_close);
EXPORT_SYMBOL(vmbus_sendpacket);

#include "vsim.h"

int vmbus_send_tl_connect_request(const guid_t *shv_guest_servie_id, const guid_t *shv_host_servie_id)
{
	return vsim_vmbus_send_tl_connect_request(shv_guest_servie_id, shv_host_servie_id);
}

int vmbus_open(struct vmbus_channel *channel, u32 send_ringbuffersize, u32 recv_ringbuffersize,
	       void *userdata, u32 userdatalen, void (*onchannel_callback)(void *context), void *context)
{
	return vsim_vmbus_open(channel, send_ringbuffersize, recv_ringbuffersize, userdata, userdatalen,
			       onchannel_callback, context);
}

void vmbus_close(struct vmbus_channel *channel)
{
	vsim_vmbus_close(channel);
}

int vmbus_sendpacket(struct vmbus_channel *channel, void *buffer, u32 bufferLen, u64 requestid,
		     enum vmbus_packet_type type, u32 flags)
{
	return vsim_vmbus_sendpacket(channel, buffer, bufferLen, requestid, type, flags);
}
