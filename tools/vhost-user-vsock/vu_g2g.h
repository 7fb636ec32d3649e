/* vu_g2g.h: guest->guest: a packet for another VM of this process goes into its rx ring as is. */
#ifndef VU_G2G_H
#define VU_G2G_H

#include "vu_vm.h"

/* The VM attached to this process with guest CID `cid`, other than `from`; NULL if none. */
struct vu_vm *vu_g2g_find(const struct vu_vm *from, uint64_t cid);
/* Copies the packet into `to`'s rx ring: 1 when the chain may go back to `from`'s guest, 0 when
 * `to` ran out of receive buffers and `from` holds the chain (and takes no more) until it has. */
int vu_g2g_forward(struct vu_vm *from, struct vu_vm *to, const struct vu_vsock_hdr *hdr,
		   const struct vu_chain *chain);
/* Goes on with the held chain; 1 once it is all delivered (or answered with RST). */
int vu_g2g_resume(struct vu_vm *from);

#endif
