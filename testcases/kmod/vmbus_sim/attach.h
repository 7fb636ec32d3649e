/* SPDX-License-Identifier: GPL-2.0 */
/*
 * attach.h: how vmbus_sim takes the place of hv_vmbus for the packaged hv_sock.ko.
 *
 * One attachment is built, chosen by Kbuild from the kernel's config:
 *  - exports (hv_vmbus is a module, never loaded here): attach_exports_*.c define hv_vmbus's
 *    symbols as wrappers around vsim_* and export them. Each file mirrors one drivers/hv file
 *    (same #include set, see attach_hv_private.h) so its modversions CRCs equal the ones
 *    hv_sock.ko recorded against the real hv_vmbus;
 *  - livepatch (hv_vmbus built into vmlinux, whose exports a module may not repeat):
 *    attach_livepatch.c redirects vmlinux's functions to vsim_*.
 * The core calls these; all behaviour is in the core.
 */
#ifndef VSIM_ATTACH_H
#define VSIM_ATTACH_H

#include "vmbus_sim_uapi.h"

/* Called by the core's module_init once its character device is ready. */
int vsim_attach_init(void);
/* Called first by the core's module_exit. */
void vsim_attach_exit(void);
/* For VSIM_IOC_INFO. */
enum vsim_attach vsim_attach_mode(void);

#endif
