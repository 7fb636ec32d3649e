/* vu_vm.h: one guest served by this process: its vhost-user socket and QEMU connection, its
 * device and rings, its hybrid-vsock bridge, its connections with the host. */
#ifndef VU_VM_H
#define VU_VM_H

#include <stdint.h>

#include "vu_conn.h"
#include "vu_device.h"
#include "vu_loop.h"
#include "vu_packet.h"
#include "vu_queue.h"

#define VU_RST_QUEUE_MAX 64

struct vu_pcap;

/* A chain from the guest's tx ring parked while the VM it is for has no receive buffer. */
struct vu_held_tx {
	int active;
	struct vu_chain chain;
	struct vu_vsock_hdr hdr;
	uint32_t sent;			/* payload bytes already delivered */
	struct vu_vm *to;
};

struct vu_vm {
	uint64_t cid;
	const char *socket_path, *uds_path;
	int verbose;
	struct vu_pcap *pcap;
	struct vu_vm *all;		/* every VM of the process, for guest->guest */
	int n_all;

	int listen_fd, qemu_fd, uds_listen_fd;
	struct vu_watch listen_watch, qemu_watch, uds_watch;
	struct vu_kick {
		struct vu_watch watch;
		struct vu_vm *vm;
		int ring;
		int fd;			/* the kick eventfd watched now, or -1 */
	} kicks[VU_VSOCK_QUEUES];
	struct vu_device dev;

	struct vu_conn_table conns;
	/* RSTs for packets of no known connection: a small bounded queue */
	struct vu_vsock_hdr rst_queue[VU_RST_QUEUE_MAX];
	unsigned int rst_head, rst_count;
	/* a chain taken from the rx ring but not filled yet (the queue API cannot give it back) */
	struct vu_chain rx_spare;
	int has_rx_spare;
	int rx_starved;			/* the pump stopped for want of receive buffers */
	struct vu_held_tx held;

	unsigned long rst_dropped, spoofed, unroutable, oversized, over_credit;
};

/* Creates the VM's sockets (uds first, as the contract says); 0, or -1 with `error`. */
int vu_vm_listen_uds(struct vu_vm *vm, char *error, size_t error_size);
int vu_vm_listen_socket(struct vu_vm *vm, char *error, size_t error_size);
/* Whether the guest's driver has set up both rings (it can take and give packets). */
int vu_vm_running(const struct vu_vm *vm);
/* Resets everything the departed QEMU and its guest had; listens for the next QEMU. */
void vu_vm_reset(struct vu_vm *vm, const char *why);
/* After a batch of events: retries a held guest->guest chain and fills the rx ring with what is
 * owed. Servicing one VM can fill another's rx ring (a held chain delivered): notify every VM
 * only after servicing them all. */
void vu_vm_service(struct vu_vm *vm);
/* Tells the guest, once for each ring, of the chains pushed since the last call. */
void vu_vm_notify(struct vu_vm *vm);
/* One turn after a batch of events: every VM serviced, then every VM notified. */
void vu_vm_turn(struct vu_vm *vms, int n);
/* Gives up WAIT_RESPONSE connections past their deadline; the earliest left, or UINT64_MAX. */
uint64_t vu_vm_expire(struct vu_vm *vm, uint64_t now_ms);
void vu_vm_log(const struct vu_vm *vm, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void vu_vm_unlink(const struct vu_vm *vm);

#endif
