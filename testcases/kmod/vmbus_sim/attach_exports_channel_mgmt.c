// SPDX-License-Identifier: GPL-2.0
/*
 * The symbols drivers/hv/channel_mgmt.c exports, routed to vmbus_sim. The includes are
 * channel_mgmt.c's (5.10, 6.1, 6.12, 7.2) so the modversions CRCs match hv_sock.ko's: see
 * attach.h and attach_exports_channel.c.
 */
#include <linux/version.h>
#include <linux/kernel.h>
#include <linux/interrupt.h>
#include <linux/sched.h>
#include <linux/wait.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/list.h>
#include <linux/module.h>
#include <linux/completion.h>
#include <linux/delay.h>
#include <linux/cpu.h>
#include <linux/hyperv.h>
#if LINUX_VERSION_CODE >= KERNEL_VERSION(7, 0, 0)
#include <linux/export.h>
#endif
#include <asm/mshyperv.h>
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 1, 0)
#include <linux/sched/isolation.h>
#endif
#include "attach_hv_private.h"

EXPORT_SYMBOL_GPL(vmbus_hvsock_device_unregister);
EXPORT_SYMBOL_GPL(vmbus_set_chn_rescind_callback);

#include "vsim.h"

void vmbus_hvsock_device_unregister(struct vmbus_channel *channel)
{
	vsim_vmbus_hvsock_device_unregister(channel);
}

void vmbus_set_chn_rescind_callback(struct vmbus_channel *channel,
				    void (*chn_rescind_cb)(struct vmbus_channel *))
{
	vsim_vmbus_set_chn_rescind_callback(channel, chn_rescind_cb);
}
