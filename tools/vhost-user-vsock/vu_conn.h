/* vu_conn.h: one VM's connections with the host (CID 2): a table of at most VU_CONN_MAX, each
 * with its Unix stream, credit, control packets owed to the guest and bytes held for the stream. */
#ifndef VU_CONN_H
#define VU_CONN_H

#include <stdint.h>
#include <sys/uio.h>

#include "vu_credit.h"
#include "vu_loop.h"
#include "vu_bridge.h"

#define VU_CONN_MAX 1023
#define VU_CONN_HASH 256

enum vu_conn_state {
	VU_CONN_LINE,		/* host program accepted, reading its CONNECT line */
	VU_CONN_WAIT_RESPONSE,	/* REQUEST sent to the guest for a host program */
	VU_CONN_ESTABLISHED,
	VU_CONN_CLOSING,	/* stream closed; only the RST to the guest is left */
};

/* Control packets owed to the guest: flags, not a queue, so they cost no memory. */
#define VU_OWE_REQUEST 1u
#define VU_OWE_RESPONSE 2u
#define VU_OWE_CREDIT_UPDATE 4u
#define VU_OWE_SHUTDOWN 16u
#define VU_OWE_RST 32u

struct vu_vm;

struct vu_conn {
	struct vu_watch watch;		/* the Unix stream, edge-triggered */
	struct vu_vm *vm;
	int fd;
	int slot;
	enum vu_conn_state state;
	uint32_t guest_port, host_port;
	uint32_t owed;			/* VU_OWE_* */
	uint32_t guest_shutdown;	/* VU_SHUTDOWN_* flags the guest sent */
	struct vu_credit credit;
	uint32_t packet_left;		/* bytes of the host->guest packet still to read (credit
					 * taken when it began), 0 between packets */
	unsigned int readable : 1;	/* the stream may have bytes (no EAGAIN since the last edge) */
	unsigned int host_eof : 1;	/* the stream's host end will send no more */
	unsigned int host_closed : 1;	/* ... and takes no more either: it closed, not half-closed */
	unsigned int write_shut : 1;	/* shutdown(SHUT_WR) done after the guest's SHUTDOWN SEND */
	unsigned int hashed : 1, working : 1, dead : 1;
	/* guest bytes the stream did not take yet: a ring of VU_BUF_ALLOC, allocated on demand */
	uint8_t *held;
	uint32_t held_head;
	char line[VU_CONNECT_LINE_MAX];
	uint32_t line_len;
	uint64_t deadline_ms;		/* WAIT_RESPONSE: when to give up on the guest */
	struct vu_conn *hash_next;
	struct vu_conn *work_next, *work_prev;	/* in the VM's list of connections with work */
};

struct vu_conn_table {
	struct vu_conn *slots[VU_CONN_MAX];
	int count;
	struct vu_conn *hash[VU_CONN_HASH];
	struct vu_conn work;		/* list head of connections owing packets or with data */
	uint32_t port_cursor;		/* round-robin host-port allocation */
	unsigned int waiting;		/* connections in WAIT_RESPONSE */
};

void vu_conn_table_init(struct vu_conn_table *t);
/* A new connection owning `fd` (watched from now on), or NULL when the table is full. */
struct vu_conn *vu_conn_new(struct vu_vm *vm, int fd, void (*on_event)(struct vu_watch *, uint32_t));
void vu_conn_hash(struct vu_conn *c, uint32_t guest_port, uint32_t host_port);
struct vu_conn *vu_conn_find(struct vu_conn_table *t, uint32_t guest_port, uint32_t host_port);
int vu_conn_host_port_in_use(void *table, uint32_t port);

/* Closes the stream; the connection stays until the owed RST has gone to the guest. */
void vu_conn_reset(struct vu_conn *c);
/* Closes and frees (after the current batch of events): no packet to the guest. */
void vu_conn_drop(struct vu_conn *c);
/* Frees the connections dropped during the last batch of events. */
void vu_conn_reap(void);

/* The connection has something for the pump (owed packets or data to read): list it. */
void vu_conn_wake(struct vu_conn *c);
void vu_conn_owe(struct vu_conn *c, uint32_t what);
void vu_conn_unwork(struct vu_conn *c);

/* Writes guest payload to the stream, holding what it does not take; 0, or -1 on a broken stream. */
int vu_conn_write(struct vu_conn *c, const struct iovec *iov, int iovcnt, uint32_t len);
/* Writes held bytes to the stream; 0, or -1 on a broken stream. */
int vu_conn_flush(struct vu_conn *c);
/* Both directions finished (guest shut sending and all written; host EOF or guest shut
 * receiving): true if so, and then the connection ends with an RST, as the kernel does. */
int vu_conn_finished(const struct vu_conn *c);

#endif
