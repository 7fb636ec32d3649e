/* calls.h: the emulated vsock calls: what each call of the program becomes on Unix sockets. */
#ifndef HW_CALLS_H
#define HW_CALLS_H

#include <linux/vm_sockets.h>
#include <stdint.h>
#include <sys/un.h>

#include "loop.h"

/* Answers one notification (now, or from a thread for the calls that wait). */
void calls_dispatch(struct notice *n);
/* Unlinks every "<uds>_P" that hostwrap bound, at its exit. */
void calls_unlink_listeners(void);

/* Shared by calls.c and calls_wait.c. */

/*
 * What a handler returns, as the kernel's own handlers do: a value >= 0, or -errno; or
 * REPLY_CONTINUE (the call runs natively) or REPLY_DONE (answered already, or a thread will).
 */
#define REPLY_CONTINUE INT64_MIN
#define REPLY_DONE (INT64_MIN + 1)
void calls_reply(const struct notice *n, long long reply);

/* Argument `i` of the call as an int (fds, lengths and flags are ints in the kernel's ABI). */
int arg_int(const struct notice *n, int i);
/* Whether the call's fd argument 0 is one of hostwrap's sockets: 1 with *ino set, else 0. */
int tracked_fd(const struct notice *n, unsigned long *ino);
/*
 * The address argument as the socket layer copies it in (move_addr_to_kernel()): 0 with *vm
 * filled (zeroes past `len`), or its errno (EINVAL for the length, EFAULT).
 */
int read_vm_address(const struct notice *n, uint64_t addr, int len, struct sockaddr_vm *vm);
/* Whether vsock_addr_cast() refuses it (too short, not AF_VSOCK, unknown svm_flags): the
 * EINVAL of bind() and connect(). */
int vm_address_refused(int len, const struct sockaddr_vm *vm);
/* Writes { cid, port } to the caller's (addr, *len_ptr) as move_addr_to_user() does: 0 or errno. */
int give_vm_address(const struct notice *n, uint64_t addr, uint64_t len_ptr, unsigned int cid,
		    unsigned int port);
/* "<uds>_<port>", where the device delivers a guest's connect to CID 2 port `port`. */
void listener_path(struct sockaddr_un *out, unsigned int port);

/* The calls that wait, in calls_wait.c; `ino` is the socket of fd argument 0. */
long long call_connect(struct notice *n, unsigned long ino);
long long call_accept(struct notice *n, unsigned long ino);

#endif
