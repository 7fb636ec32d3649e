/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vsim.h: the interface between the vmbus_sim core (channels, rings, char device) and its
 * attachment (attach_*.c), which routes hv_vmbus's real symbol names to these functions,
 * by exporting them (hv_vmbus is a module) or by livepatching vmlinux (hv_vmbus built in).
 *
 * Each vsim_<name> has exactly the parameter list and return type that this kernel's
 * include/linux/hyperv.h declares for <name>. They are the same in 5.10, 6.1, 6.12 and 7.2
 * (checked in each kernel's hyperv.h), so no LINUX_VERSION_CODE branch is needed here; the
 * differences between those kernels (hv_driver.remove's return type, ring buffer fields)
 * stay inside the core.
 *
 * vmbus_proto_version: the core reads and writes it through hyperv.h's extern; the
 * attachment defines and exports it (exports mode) or it is vmlinux's (livepatch mode).
 */
#ifndef VSIM_H
#define VSIM_H

#include <linux/hyperv.h>

/* for __vmbus_driver_register */
int vsim_vmbus_driver_register(struct hv_driver *hv_driver, struct module *owner,
			       const char *mod_name);
void vsim_vmbus_driver_unregister(struct hv_driver *hv_driver);
int vsim_vmbus_open(struct vmbus_channel *channel, u32 send_ringbuffersize,
		    u32 recv_ringbuffersize, void *userdata, u32 userdatalen,
		    void (*onchannel_callback)(void *context), void *context);
void vsim_vmbus_close(struct vmbus_channel *channel);
int vsim_vmbus_sendpacket(struct vmbus_channel *channel, void *buffer, u32 bufferLen,
			  u64 requestid, enum vmbus_packet_type type, u32 flags);
int vsim_vmbus_send_tl_connect_request(const guid_t *shv_guest_servie_id,
				       const guid_t *shv_host_servie_id);
void vsim_vmbus_set_chn_rescind_callback(struct vmbus_channel *channel,
					 void (*chn_rescind_cb)(struct vmbus_channel *));
void vsim_vmbus_hvsock_device_unregister(struct vmbus_channel *channel);
struct vmpacket_descriptor *vsim_hv_pkt_iter_first(struct vmbus_channel *channel);
/* for __hv_pkt_iter_next */
struct vmpacket_descriptor *vsim_hv_pkt_iter_next(struct vmbus_channel *channel,
						  const struct vmpacket_descriptor *pkt);
void vsim_hv_pkt_iter_close(struct vmbus_channel *channel);

#endif
