/* hvp_addr.c: vsock port <-> hv_sock service GUID for the UAPI's vsim_guid, through the one
 * mapping of tools/vsock-uri (both types are the same 16 bytes in VMBus order). */
#include <string.h>

#include "hvp.h"
#include "vsock_uri.h"

_Static_assert(sizeof(struct vsim_guid) == sizeof(struct vsock_guid), "two names for one GUID layout");

void hvp_port_guid(uint32_t port, struct vsim_guid *g)
{
	struct vsock_guid v;

	vsock_guid_from_port(port, &v);
	memcpy(g->b, v.b, sizeof(g->b));
}

int hvp_guid_port(const struct vsim_guid *g, uint32_t *port)
{
	struct vsock_guid v;

	memcpy(v.b, g->b, sizeof(v.b));
	return vsock_guid_to_port(&v, port);
}
