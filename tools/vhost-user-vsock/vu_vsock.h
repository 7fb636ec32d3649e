/* vu_vsock.h: the vsock device behind one VM's rings: packets from the guest's tx ring are
 * routed (host CID 2, another VM, or dropped); packets for it are built into its rx ring. */
#ifndef VU_VSOCK_H
#define VU_VSOCK_H

#include <stddef.h>

#include "vu_vm.h"

#define VU_VSOCK_RX 0
#define VU_VSOCK_TX 1
/* Payload of one packet from a guest at most (VIRTIO_VSOCK_MAX_PKT_BUF_SIZE); longer: dropped. */
#define VU_VSOCK_MAX_PAYLOAD (64u << 10)

/* Takes the guest's tx ring; -1 when it broke the ring (why: `error`). */
int vu_vsock_tx(struct vu_vm *vm, char *error, size_t error_size);
/* Fills the rx ring with what is owed: RSTs, control packets, then stream data; -1 on a broken ring. */
int vu_vsock_rx(struct vu_vm *vm, char *error, size_t error_size);
/* Queues an RST answering `in` (never to an RST); counted when the small queue is full. */
void vu_vsock_queue_rst(struct vu_vm *vm, const struct vu_vsock_hdr *in);
/* Events of a host-side Unix stream (every state of a connection). */
void vu_vsock_stream_event(struct vu_watch *watch, uint32_t events);
/* The VM `to` lost its guest: chains held for it are answered with RST and released. */
void vu_vsock_release_held_for(struct vu_vm *to);

#endif
