/* shim.h: vsockcheck-host's AF_VSOCK, mapped onto a guest's hybrid vsock bridge (shim.c). */
#ifndef VSC_HOST_SHIM_H
#define VSC_HOST_SHIM_H

#include "vsc.h"

/* The bridge's Unix socket and the guest CID it reaches; -1 if the path cannot be a socket. */
int vsc_bridge_init(const char *uds, unsigned int guest_cid);

/*
 * The bridge's Unix socket, for a case that runs a tool as the host peer under vsock-hostwrap
 * (stress_soak.c); NULL before vsc_bridge_init.
 */
const char *vsc_bridge_path(void);

/* The needs probes, answered for the bridge: never an AF_VSOCK socket on this machine. */
const char *vsc_bridge_unmet_need(const struct vsc_case *c);

#endif
