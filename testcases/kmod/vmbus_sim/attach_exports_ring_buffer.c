// SPDX-License-Identifier: GPL-2.0
/*
 * The symbols drivers/hv/ring_buffer.c exports, routed to vmbus_sim. The includes are
 * ring_buffer.c's (5.10, 6.1, 6.12, 7.2) so the modversions CRCs match hv_sock.ko's: see
 * attach.h and attach_exports_channel.c.
 */
#include <linux/version.h>
#include <linux/kernel.h>
#include <linux/mm.h>
#include <linux/hyperv.h>
#include <linux/uio.h>
#include <linux/vmalloc.h>
#include <linux/slab.h>
#include <linux/prefetch.h>
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 1, 0)
#include <linux/io.h>
#endif
#if LINUX_VERSION_CODE >= KERNEL_VERSION(7, 0, 0)
#include <linux/export.h>
#endif
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 1, 0)
#include <asm/mshyperv.h>
#endif
#include "attach_hv_private.h"

EXPORT_SYMBOL_GPL(hv_pkt_iter_first);
EXPORT_SYMBOL_GPL(__hv_pkt_iter_next);
EXPORT_SYMBOL_GPL(hv_pkt_iter_close);

#include "vsim.h"

struct vmpacket_descriptor *hv_pkt_iter_first(struct vmbus_channel *channel)
{
	return vsim_hv_pkt_iter_first(channel);
}

struct vmpacket_descriptor *__hv_pkt_iter_next(struct vmbus_channel *channel,
					       const struct vmpacket_descriptor *pkt)
{
	return vsim_hv_pkt_iter_next(channel, pkt);
}

void hv_pkt_iter_close(struct vmbus_channel *channel)
{
	vsim_hv_pkt_iter_close(channel);
}
