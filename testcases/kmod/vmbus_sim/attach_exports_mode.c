// SPDX-License-Identifier: GPL-2.0
/*
 * Exports mode: hv_vmbus is a module of this kernel that never loads without Hyper-V, so
 * vmbus_sim itself exports hv_vmbus's symbols (attach_exports_*.c). Nothing to set up.
 */
#include <linux/module.h>
#include "attach.h"

int vsim_attach_init(void)
{
	return 0;
}

void vsim_attach_exit(void)
{
}

enum vsim_attach vsim_attach_mode(void)
{
	return VSIM_ATTACH_EXPORTS;
}
