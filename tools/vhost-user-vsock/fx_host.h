/* fx_host.h: engine 1 of the packet fixtures: our vhost-user vsock device with its rings driven
 * packet by packet by fixtures (tools/vsock-fixtures), the guest's virtio_transport under test. */
#ifndef FX_HOST_H
#define FX_HOST_H

#include <stddef.h>

#include "../vsock-fixtures/fx_engine.h"
#include "vu_device.h"
#include "vu_queue.h"

/* end(): the kernel counts as quiet after this long without a packet, and end() gives up after
 * the bound below whatever it still sends (a kernel that never stops is the next begin's error). */
#define FX_HOST_QUIET_MS 300
#define FX_HOST_END_MS 3000
/* send(): how long the guest may take to post a receive buffer (it refills after each packet). */
#define FX_HOST_RX_WAIT_MS 2000

struct fx_host {
	struct vu_device *dev;		/* the rings QEMU set up */
	int qemu_fd;			/* the vhost-user connection, -1 once QEMU has left */
	struct fx_engine *engine;	/* whose `features` begin() sets */
	/* a chain taken from the rx ring but not filled (the packet did not fit it) */
	struct vu_chain rx_spare;
	int has_rx_spare;
	char broken[256];		/* why the device is unusable, "" while it works */
};

/* The mode's whole program: `vhost-user-vsock --fixtures ...`; returns the exit status. */
int fx_host_main(int argc, char **argv);

/* Waits up to timeout_ms for a message from QEMU or a kick, and handles what came. 0, or -1
 * when QEMU left or broke the protocol (host->broken says which). */
int fx_host_pump(struct fx_host *host, int timeout_ms);

/* Whether the guest's driver has both rings (rx 0, tx 1) up. */
int fx_host_running(const struct fx_host *host);

/* The fixture runner's wire on these rings; ctx is a struct fx_host. */
extern const struct fx_wire_ops fx_host_wire_ops;

#endif
