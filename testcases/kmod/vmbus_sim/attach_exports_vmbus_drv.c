// SPDX-License-Identifier: GPL-2.0
/*
 * The driver registration drivers/hv/vmbus_drv.c exports, routed to vmbus_sim. The includes
 * are vmbus_drv.c's (5.10, 6.1, 6.12, 7.2) so the modversions CRCs match hv_sock.ko's: see
 * attach.h and attach_exports_channel.c.
 */
#include <linux/version.h>
#include <linux/init.h>
#include <linux/module.h>
#include <linux/device.h>
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 12, 0)
#include <linux/platform_device.h>
#endif
#include <linux/interrupt.h>
#include <linux/sysctl.h>
#include <linux/slab.h>
#include <linux/acpi.h>
#include <linux/completion.h>
#include <linux/hyperv.h>
#include <linux/kernel_stat.h>
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 12, 0)
#include <linux/of_address.h>
#endif
#include <linux/clockchips.h>
#include <linux/cpu.h>
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 1, 0)
#include <linux/sched/isolation.h>
#endif
#include <linux/sched/task_stack.h>
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 12, 0)
#include <linux/smpboot.h>
#endif
#include <linux/delay.h>
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 1, 0)
#include <linux/panic_notifier.h>
#else
#include <linux/notifier.h>
#endif
#include <linux/ptrace.h>
#if LINUX_VERSION_CODE >= KERNEL_VERSION(7, 0, 0)
#include <linux/sysfb.h>
#else
#include <linux/screen_info.h>
#endif
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 1, 0)
#include <linux/kdebug.h>
#endif
#include <linux/efi.h>
#if LINUX_VERSION_CODE < KERNEL_VERSION(7, 0, 0)
#include <linux/random.h>
#endif
#include <linux/kernel.h>
#include <linux/syscore_ops.h>
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 1, 0)
#include <linux/dma-map-ops.h>
#include <linux/pci.h>
#endif
#if LINUX_VERSION_CODE >= KERNEL_VERSION(7, 0, 0)
#include <linux/export.h>
#endif
#include <clocksource/hyperv_timer.h>
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 12, 0)
#include <asm/mshyperv.h>
#endif
#include "attach_hv_private.h"

EXPORT_SYMBOL_GPL(__vmbus_driver_register);
EXPORT_SYMBOL_GPL(vmbus_driver_unregister);

#include "vsim.h"

int __vmbus_driver_register(struct hv_driver *hv_driver, struct module *owner, const char *mod_name)
{
	return vsim_vmbus_driver_register(hv_driver, owner, mod_name);
}

void vmbus_driver_unregister(struct hv_driver *hv_driver)
{
	vsim_vmbus_driver_unregister(hv_driver);
}
