/* SPDX-License-Identifier: GPL-2.0 */
/*
 * attach_hv_private.h: the headers drivers/hv/hyperv_vmbus.h (private to drivers/hv, not in a
 * linux-headers package) includes, and hv_trace.h's <linux/tracepoint.h> that it pulls in,
 * without its own text. That is enough for the CRCs: hyperv_vmbus.h's own definitions appear in
 * no exported symbol's type, but the headers it includes complete types that hyperv.h leaves
 * incomplete (tracepoint.h defines struct trace_eval_map and struct static_call_mod, which
 * struct module reaches); without them genksyms expands those as UNKNOWN and every CRC through
 * struct vmbus_channel -> struct module differs (measured on 6.12: vmbus_open 0xe5d9c185
 * instead of 0x9c634fe1).
 *
 * Include it last, where the drivers/hv file includes "hyperv_vmbus.h".
 */
#ifndef VSIM_ATTACH_HV_PRIVATE_H
#define VSIM_ATTACH_HV_PRIVATE_H

#include <linux/version.h>
#include <linux/list.h>
#include <linux/bitops.h>
#include <asm/sync_bitops.h>
#if LINUX_VERSION_CODE < KERNEL_VERSION(7, 0, 0)
#include <asm/hyperv-tlfs.h>
#else
#include <asm/mshyperv.h>
#endif
#include <linux/atomic.h>
#include <linux/hyperv.h>
#include <linux/interrupt.h>
#if LINUX_VERSION_CODE >= KERNEL_VERSION(7, 0, 0)
#include <hyperv/hvhdk.h>
#endif
#include <linux/tracepoint.h>

#endif
