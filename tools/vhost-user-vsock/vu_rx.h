/* vu_rx.h: building packets in a VM's rx ring (shared by the host side and guest->guest). */
#ifndef VU_RX_H
#define VU_RX_H

#include <sys/uio.h>

#include "vu_vm.h"

/* The iovec of `len` bytes from `offset` on in a chain's segments; how many entries it took. */
int vu_segments_iov(const struct vu_segment *segs, int n, size_t offset, size_t len,
		    struct iovec *iov, int max);
/* Makes sure vm->rx_spare holds a chain with room for a header: 1, 0 when the ring is empty,
 * -1 when the guest broke it. */
int vu_rx_chain(struct vu_vm *vm, char *error, size_t error_size);
/* Writes `hdr` at the start of vm->rx_spare (payload already in place, hdr->len bytes, also
 * described by iov for the capture) and returns the chain to the guest, unnotified. */
void vu_rx_put(struct vu_vm *vm, const struct vu_vsock_hdr *hdr, const struct iovec *iov,
	       int iovcnt);

#endif
