// SPDX-License-Identifier: GPL-2.0
/*
 * vsim_main.c: vmbus_sim's module init/exit, its `proto` parameter and hv_sock's driver
 * registration (__vmbus_driver_register / vmbus_driver_unregister).
 *
 * vmbus_sim lets the kernel's own hv_sock.ko run without Hyper-V: a userspace process plays
 * the host through /dev/vmbus_sim (vsim_dev.c); channels and rings are in vsim_chan.c and
 * vsim_ring.c; the attachment (attach_*.c) routes hv_vmbus's symbol names to vsim_*.
 */
#include <linux/module.h>
#include <linux/moduleparam.h>

#include "vsim.h"
#include "vsim_core.h"

DEFINE_MUTEX(vsim_lock);
DEFINE_MUTEX(vsim_drv_lock);
DEFINE_SPINLOCK(vsim_owner_lock);
LIST_HEAD(vsim_channels);
atomic_t vsim_nchannels = ATOMIC_INIT(0);

static struct hv_driver *vsim_drv;	/* hv_sock's, under vsim_lock */
static u32 vsim_saved_proto;		/* vmbus_proto_version before us (livepatch: vmlinux's) */

static uint proto = VERSION_WIN10_V5_2;
module_param(proto, uint, 0444);
MODULE_PARM_DESC(proto, "vmbus_proto_version hv_sock reads (default 0x50002, WIN10_V5_2; hv_sock needs >= 0x40000)");

u32 vsim_default_proto(void)
{
	return proto;
}

/* Under vsim_lock. */
struct hv_driver *vsim_driver(void)
{
	return vsim_drv;
}

/* Only hv_sock's driver (hvsock set) is taken: it is the only one that can reach us. */
int vsim_vmbus_driver_register(struct hv_driver *hv_driver, struct module *owner,
			       const char *mod_name)
{
	if (!hv_driver->hvsock || !hv_driver->probe) {
		pr_warn("vmbus_sim: driver %s (%s) is not a hv_sock driver: refused\n",
			hv_driver->name, mod_name);
		return -ENODEV;
	}
	mutex_lock(&vsim_lock);
	if (vsim_drv) {
		mutex_unlock(&vsim_lock);
		pr_warn("vmbus_sim: driver %s: %s is already registered\n",
			hv_driver->name, vsim_drv->name);
		return -EBUSY;
	}
	vsim_drv = hv_driver;
	/* In livepatch mode hv_sock takes no reference on us: hold one while it is here. */
	__module_get(THIS_MODULE);
	mutex_unlock(&vsim_lock);
	pr_info("vmbus_sim: driver %s registered (module %s)\n", hv_driver->name, mod_name);
	return 0;
}

void vsim_vmbus_driver_unregister(struct hv_driver *hv_driver)
{
	mutex_lock(&vsim_lock);
	if (vsim_drv != hv_driver) {
		mutex_unlock(&vsim_lock);
		pr_warn("vmbus_sim: unregister of driver %s that is not registered\n", hv_driver->name);
		return;
	}
	mutex_unlock(&vsim_lock);
	/* No probe runs while the devices go (an offer's probe holds vsim_drv_lock). */
	mutex_lock(&vsim_drv_lock);
	vsim_remove_all_devices(hv_driver);
	mutex_lock(&vsim_lock);
	vsim_drv = NULL;
	mutex_unlock(&vsim_lock);
	mutex_unlock(&vsim_drv_lock);
	module_put(THIS_MODULE);
	pr_info("vmbus_sim: driver %s unregistered\n", hv_driver->name);
}

static int __init vsim_init(void)
{
	int ret;

	if (proto < VERSION_WIN10) {
		pr_err("vmbus_sim: proto 0x%x: hv_sock needs at least 0x%x (WIN10)\n",
		       proto, VERSION_WIN10);
		return -EINVAL;
	}
	ret = vsim_dev_init();
	if (ret)
		return ret;
	ret = vsim_attach_init();
	if (ret) {
		vsim_dev_exit();
		return ret;
	}
	vsim_saved_proto = vmbus_proto_version;
	vmbus_proto_version = proto;
	pr_info("vmbus_sim: ready, vmbus_proto_version 0x%x, attach mode %d\n",
		proto, vsim_attach_mode());
	return 0;
}

static void __exit vsim_exit(void)
{
	vsim_attach_exit();
	vmbus_proto_version = vsim_saved_proto;
	vsim_dev_exit();
}

module_init(vsim_init);
module_exit(vsim_exit);

MODULE_DESCRIPTION("Simulated VMBus host for hv_sock (vsockcheck)");
MODULE_LICENSE("GPL");
