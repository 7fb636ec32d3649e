// SPDX-License-Identifier: GPL-2.0
/*
 * Livepatch mode: hv_vmbus is built into vmlinux (CONFIG_HYPERV_VMBUS=y, sid's 7.2), so vmlinux
 * already exports hv_vmbus's symbols and a module exporting them again is refused. Instead
 * vmbus_sim livepatches vmlinux's functions to the core's vsim_*; hv_sock.ko keeps linking to
 * vmlinux's exports. Without Hyper-V, vmlinux's vmbus never initialised, so nothing else calls
 * these functions. vmbus_proto_version is vmlinux's variable: the core sets it through
 * hyperv.h's extern.
 *
 * klp_enable_patch returns with the transition under way; a task calls the new functions once
 * it was switched. The guest's init shell sleeps in wait() while insmod runs, so the first
 * transition pass switches it, and the insmod of hv_sock it forks next inherits the patched
 * state (measured on sid: hv_sock registered on vmbus_sim before "patching complete").
 *
 * The patch holds a reference on this module: it can be removed only after
 * /sys/kernel/livepatch/vmbus_sim/enabled was set to 0 and the transition finished.
 */
#include <linux/module.h>
#include <linux/livepatch.h>
#include "vsim.h"
#include "attach.h"

#ifndef CONFIG_LIVEPATCH
#error "hv_vmbus is built into this kernel and it has no CONFIG_LIVEPATCH: vmbus_sim cannot attach"
#endif

#define VSIM_KLP_FUNC(name, vsim) { .old_name = name, .new_func = vsim }

/* hv_vmbus's 11 functions that hv_sock.ko calls. */
static struct klp_func vsim_klp_funcs[] = {
	VSIM_KLP_FUNC("__vmbus_driver_register", vsim_vmbus_driver_register),
	VSIM_KLP_FUNC("vmbus_driver_unregister", vsim_vmbus_driver_unregister),
	VSIM_KLP_FUNC("vmbus_open", vsim_vmbus_open),
	VSIM_KLP_FUNC("vmbus_close", vsim_vmbus_close),
	VSIM_KLP_FUNC("vmbus_sendpacket", vsim_vmbus_sendpacket),
	VSIM_KLP_FUNC("vmbus_send_tl_connect_request", vsim_vmbus_send_tl_connect_request),
	VSIM_KLP_FUNC("vmbus_set_chn_rescind_callback", vsim_vmbus_set_chn_rescind_callback),
	VSIM_KLP_FUNC("vmbus_hvsock_device_unregister", vsim_vmbus_hvsock_device_unregister),
	VSIM_KLP_FUNC("hv_pkt_iter_first", vsim_hv_pkt_iter_first),
	VSIM_KLP_FUNC("__hv_pkt_iter_next", vsim_hv_pkt_iter_next),
	VSIM_KLP_FUNC("hv_pkt_iter_close", vsim_hv_pkt_iter_close),
	{ }
};

static struct klp_object vsim_klp_objs[] = {
	{ .name = NULL, .funcs = vsim_klp_funcs },	/* NULL: vmlinux */
	{ }
};

static struct klp_patch vsim_klp_patch = {
	.mod = THIS_MODULE,
	.objs = vsim_klp_objs,
};

int vsim_attach_init(void)
{
	int err = klp_enable_patch(&vsim_klp_patch);

	if (err)
		pr_err("vmbus_sim: livepatching vmlinux's hv_vmbus functions failed: %d\n", err);
	return err;
}

void vsim_attach_exit(void)
{
	/* Reached only once the patch is disabled (it holds a module reference until then). */
}

enum vsim_attach vsim_attach_mode(void)
{
	return VSIM_ATTACH_LIVEPATCH;
}

MODULE_INFO(livepatch, "Y");
