// SPDX-License-Identifier: GPL-2.0
/*
 * vmbus_proto_version, which drivers/hv/connection.c defines and exports; the core reads and
 * writes it through hyperv.h's extern. The includes are connection.c's (5.10, 6.1, 6.12, 7.2):
 * see attach.h.
 */
#include <linux/version.h>
#include <linux/kernel.h>
#include <linux/sched.h>
#include <linux/wait.h>
#include <linux/delay.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>
#include <linux/hyperv.h>
#include <linux/export.h>
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 1, 0)
#include <linux/io.h>
#include <linux/set_memory.h>
#endif
#include <asm/mshyperv.h>
#include "attach_hv_private.h"

__u32 vmbus_proto_version;
EXPORT_SYMBOL_GPL(vmbus_proto_version);
