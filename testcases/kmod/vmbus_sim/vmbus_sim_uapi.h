/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * vmbus_sim_uapi.h: the character device /dev/vmbus_sim through which a userspace process plays
 * the Hyper-V host for the real hv_sock.ko running on the vmbus_sim module.
 *
 * Shared by the module (kernel) and the host peers (tools/): only <linux/types.h> and
 * <linux/ioctl.h> types. Every open file is one host "session"; a session owns the channels it
 * offered and the services it listens on, and closing it rescinds its channels (the host
 * application died).
 *
 * GUIDs are 16 bytes in VMBus order (Linux guid_t, Windows GUID in memory): Data1 (4 bytes),
 * Data2 and Data3 (2 bytes each) little-endian, then 8 bytes as they are. A vsock port P is the
 * service GUID 00000000-facb-11e6-bd58-64006a7986d3 with Data1 = P.
 */
#ifndef VMBUS_SIM_UAPI_H
#define VMBUS_SIM_UAPI_H

#include <linux/types.h>
#include <linux/ioctl.h>

#define VSIM_DEVICE "/dev/vmbus_sim"
#define VSIM_ABI 1

struct vsim_guid {
	__u8 b[16];
};

/* VSIM_IOC_INFO (out). */
enum vsim_attach {
	VSIM_ATTACH_EXPORTS = 1,	/* the module exports hv_vmbus's symbols (hv_vmbus is a module, not loaded) */
	VSIM_ATTACH_LIVEPATCH = 2,	/* hv_vmbus is built in: the module livepatches its functions */
};
struct vsim_info {
	__u32 abi;			/* VSIM_ABI */
	__u32 proto_version;		/* the vmbus_proto_version hv_sock reads, e.g. 0x50002 (WIN10_V5_2) */
	__u32 attach;			/* enum vsim_attach */
	__u32 driver_registered;	/* 1 once hv_sock's hv_driver is registered (its module_init ran) */
	__u32 channels;			/* channels alive (offered and not yet freed), all sessions */
	__u32 reserved[3];
};

/* VSIM_IOC_SET_PROTO (in): the vmbus_proto_version hv_sock reads from now on (ring sizing). */
struct vsim_proto {
	__u32 version;			/* e.g. 0x40000 (WIN10) or 0x50000 (WIN10_V5); 0: the module's default */
	__u32 reserved;
};

/*
 * VSIM_IOC_LISTEN / VSIM_IOC_UNLISTEN (in): the guest's TL connect requests for this host service
 * come to this session as VSIM_EV_TL_CONNECT. The all-zero GUID listens on every service not
 * claimed by another session (a fixture engine). A request nobody listens for is dropped, as
 * Hyper-V does when no host application listens: the guest's connect() times out.
 */
struct vsim_listen {
	struct vsim_guid service;
};

/*
 * VSIM_IOC_OFFER (in/out): offer a hv_sock channel (VMBUS_CHANNEL_TLNPI_PROVIDER_OFFER) to the
 * guest, synchronously: hv_sock's probe runs inside the call.
 *  - host-initiated connect (flags VSIM_OFFER_HOST_INITIATED, user_def[0] = 1): if_type is the
 *    guest's listening service, if_instance the host's endpoint (its service GUID);
 *  - answer to a VSIM_EV_TL_CONNECT (flags 0): if_type = the request's host service,
 *    if_instance = the request's guest endpoint.
 * state tells whether hv_sock opened the channel during its probe (VSIM_CHAN_OPEN, with the
 * ring sizes it chose) or left it unopened (no listener / no connecting socket:
 * VSIM_CHAN_OFFERED; rescind it to clean up).
 */
#define VSIM_OFFER_HOST_INITIATED (1u << 0)
enum vsim_chan_state {
	VSIM_CHAN_OFFERED = 1,		/* offered; hv_sock has not called vmbus_open */
	VSIM_CHAN_OPEN = 2,		/* hv_sock called vmbus_open */
	VSIM_CHAN_CLOSED = 3,		/* hv_sock called vmbus_close */
	VSIM_CHAN_RESCINDED = 4,	/* the host rescinded it */
};
struct vsim_offer {
	struct vsim_guid if_type;	/* in */
	struct vsim_guid if_instance;	/* in */
	__u32 flags;			/* in: VSIM_OFFER_* */
	__u32 chan;			/* out: the channel's id (> 0) for the other calls */
	__u32 state;			/* out: enum vsim_chan_state after the probe */
	__u32 guest_send_ring;		/* out when OPEN: data bytes of the guest-to-host ring */
	__u32 guest_recv_ring;		/* out when OPEN: data bytes of the host-to-guest ring */
	__u32 reserved;
};

/*
 * VSIM_IOC_SEND (in/out): write one packet into the host-to-guest ring of `chan`, then signal
 * the guest (hv_sock's channel callback runs).
 *  - flags 0: `buf` is a payload of `len` bytes (0 = FIN): the module frames it as hv_sock
 *    expects (vmpacket_descriptor VM_PKT_DATA_INBAND, offset8 2, vmpipe_proto_header
 *    {1, len}, payload padded to 8 bytes) and appends the 8-byte trailer.
 *  - VSIM_XFER_RAW: `buf` is the whole packet from its descriptor on, written as given (any
 *    descriptor and header values: the malformed-packet fixtures); len must be a multiple of 8;
 *    the module appends only the trailer.
 * Blocks until the ring has room (VSIM_XFER_NONBLOCK: EAGAIN). `done` = bytes taken from buf.
 * Errors: ENOENT unknown channel, ENOTCONN not open, EPIPE rescinded or closed by the guest,
 * EMSGSIZE larger than the ring can ever hold, EINVAL bad flags or RAW length, EINTR.
 *
 * VSIM_IOC_RECV (in/out): take the next packet hv_sock wrote into the guest-to-host ring.
 *  - flags 0: copies its payload (vmpipe data_size bytes, at most len; the rest is dropped and
 *    `truncated` set); data_size 0 is the guest's FIN (done = 0, fin = 1).
 *  - VSIM_XFER_RAW: copies the packet from its descriptor on, without the trailer.
 * Blocks until a packet arrives (VSIM_XFER_NONBLOCK: EAGAIN). When the guest has closed the
 * channel and the ring is empty: EPIPE. After taking the packet the module updates the ring's
 * read index and signals the guest if it waits for room (pending_send_sz).
 */
#define VSIM_XFER_RAW (1u << 0)
#define VSIM_XFER_NONBLOCK (1u << 1)
struct vsim_xfer {
	__u32 chan;
	__u32 flags;			/* VSIM_XFER_* */
	__u64 buf;			/* user address */
	__u32 len;			/* send: bytes in buf; recv: room in buf */
	__u32 done;			/* out: bytes copied */
	__u32 fin;			/* recv out: 1 when the packet was a FIN (data_size 0) */
	__u32 truncated;		/* recv out: 1 when the payload did not fit in len */
	__u32 desc_type;		/* recv out: the packet's vmpacket_descriptor type */
	__u32 reserved;
};

/* VSIM_IOC_RESCIND (in): the host closes `chan`: rescind it (hv_sock's rescind callback runs). */
struct vsim_chan_ref {
	__u32 chan;
	__u32 reserved;
};

/* VSIM_IOC_CHAN_INFO (in chan / out): one channel's state and ring indices, for checks. */
struct vsim_chan_info {
	__u32 chan;			/* in */
	__u32 state;			/* enum vsim_chan_state */
	__u32 host_initiated;
	__u32 guest_send_ring;		/* data bytes, 0 until open */
	__u32 guest_recv_ring;
	__u32 out_read_index;		/* guest-to-host ring */
	__u32 out_write_index;
	__u32 out_pending_send_sz;	/* what hv_sock wrote there: it waits for this much room */
	__u32 in_read_index;		/* host-to-guest ring */
	__u32 in_write_index;
	__u32 in_pending_send_sz;
	__u32 guest_waits_rescind;	/* 1 while hv_sock is in vmbus_hvsock_device_unregister */
};

/*
 * Events, read() from the device: read returns whole struct vsim_event records (EAGAIN with
 * O_NONBLOCK when none); poll() reports POLLIN when an event is queued or a channel of this
 * session has a packet to RECV, POLLOUT never matters (SEND blocks).
 */
enum vsim_event_type {
	VSIM_EV_TL_CONNECT = 1,		/* guest asked to connect: a = guest endpoint, b = host service */
	VSIM_EV_OPENED = 2,		/* the guest opened chan: value = guest send ring, value2 = recv ring */
	VSIM_EV_GUEST_CLOSED = 3,	/* the guest called vmbus_close on chan */
	VSIM_EV_WAIT_RESCIND = 4,	/* the guest destroyed its socket and waits for chan's rescind */
	VSIM_EV_PACKET = 5,		/* the guest wrote into chan's ring (a hint: RECV until EAGAIN) */
};
struct vsim_event {
	__u32 type;			/* enum vsim_event_type */
	__u32 chan;			/* 0 for TL_CONNECT */
	struct vsim_guid a;
	struct vsim_guid b;
	__u32 value;
	__u32 value2;
	__u64 time_ns;			/* ktime_get_ns() when it happened */
};

#define VSIM_IOC_MAGIC 'V'
#define VSIM_IOC_INFO _IOR(VSIM_IOC_MAGIC, 1, struct vsim_info)
#define VSIM_IOC_SET_PROTO _IOW(VSIM_IOC_MAGIC, 2, struct vsim_proto)
#define VSIM_IOC_LISTEN _IOW(VSIM_IOC_MAGIC, 3, struct vsim_listen)
#define VSIM_IOC_UNLISTEN _IOW(VSIM_IOC_MAGIC, 4, struct vsim_listen)
#define VSIM_IOC_OFFER _IOWR(VSIM_IOC_MAGIC, 5, struct vsim_offer)
#define VSIM_IOC_SEND _IOWR(VSIM_IOC_MAGIC, 6, struct vsim_xfer)
#define VSIM_IOC_RECV _IOWR(VSIM_IOC_MAGIC, 7, struct vsim_xfer)
#define VSIM_IOC_RESCIND _IOW(VSIM_IOC_MAGIC, 8, struct vsim_chan_ref)
#define VSIM_IOC_CHAN_INFO _IOWR(VSIM_IOC_MAGIC, 9, struct vsim_chan_info)

#endif
