/*
 * table.h: the vsock sockets hostwrap made, keyed by socket inode (not by pid and fd: threads,
 * dup(), fork() children and fds passed over SCM_RIGHTS all reach the same socket, as in the
 * kernel). Entries of closed sockets are dropped lazily, by a sweep over /proc/net/unix.
 * Every call below but the lock's own runs under table_lock(); table_add() and
 * table_port_taken() may move entries, so no entry pointer is kept across them.
 */
#ifndef HW_TABLE_H
#define HW_TABLE_H

#include <stdint.h>

struct vsock_state {
	unsigned long ino;
	unsigned int local_port;	/* bound port, the bridge's OK port, or the listener's */
	unsigned int peer_port;		/* the guest port connected to; VMADDR_PORT_ANY if accepted */
	unsigned char bound, bound_any, connected, connecting, accepted;
	/* AF_VSOCK-level options: what was set, with the kernel's defaults. */
	uint64_t buffer_size, buffer_min_size, buffer_max_size;
	int64_t connect_timeout_sec, connect_timeout_usec;
};

void table_lock(void);
void table_unlock(void);
/* The entry of socket `ino`, or NULL: valid until table_unlock(). */
struct vsock_state *table_find(unsigned long ino);
/* A new entry for `ino` with the kernel's defaults (or a copy of `like`), or NULL (no memory). */
struct vsock_state *table_add(unsigned long ino, const struct vsock_state *like);
/* Whether a socket that is still open is bound to `port`. */
int table_port_taken(unsigned int port);

#endif
