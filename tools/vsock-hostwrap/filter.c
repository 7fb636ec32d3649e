/*
 * filter.c: the seccomp filter. It hands hostwrap (SECCOMP_RET_USER_NOTIF) every call that may
 * act on a vsock socket, and nothing else, so the program's other calls cost nothing:
 *   socket(AF_VSOCK, ...)                    the only way an AF_VSOCK socket is made here
 *   connect, bind, listen, accept, accept4,  on any fd: hostwrap looks the fd up and lets the
 *   getsockname, getpeername                 call go on natively (CONTINUE) if it is not one of
 *                                            its sockets
 *   setsockopt, getsockopt at level AF_VSOCK
 *   ioctl(IOCTL_VM_SOCKETS_GET_LOCAL_CID)
 * io_uring_setup fails with ENOSYS: an IORING_OP_SOCKET would make a real AF_VSOCK socket
 * behind the filter's back. A 32-bit or x32 program is killed at its first call: its socket
 * calls have other numbers (and socketcall) that this filter does not look at.
 */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <linux/vm_sockets.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "filter.h"
#include "report.h"

#define X32_SYSCALL_BIT 0x40000000

#define NR offsetof(struct seccomp_data, nr)
#define ARCH offsetof(struct seccomp_data, arch)
/* The low 32 bits of an argument (little-endian): an int argument is compared as an int. */
#define ARG_LOW(i) (offsetof(struct seccomp_data, args) + (i) * sizeof(__u64))

#define LOAD(off) BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (off))
#define RET(val) BPF_STMT(BPF_RET | BPF_K, (val))
/* If the accumulator equals `value`, go on with the next instruction, else skip `skip` ones. */
#define IF_EQ(value, skip) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (value), 0, (skip))

/* nr == `call`: hand it to hostwrap. */
#define NOTIFY_CALL(call) IF_EQ(call, 1), RET(SECCOMP_RET_USER_NOTIF)
/* nr == `call` and argument `arg` == `value`: hand it over; nr == `call` otherwise: allow. */
#define NOTIFY_CALL_IF(call, arg, value) \
	IF_EQ(call, 4), LOAD(ARG_LOW(arg)), IF_EQ(value, 1), RET(SECCOMP_RET_USER_NOTIF), \
	RET(SECCOMP_RET_ALLOW)

static struct sock_filter program[] = {
	LOAD(ARCH),
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
	RET(SECCOMP_RET_KILL_PROCESS),
	LOAD(NR),
	BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, X32_SYSCALL_BIT, 0, 1),
	RET(SECCOMP_RET_KILL_PROCESS),
	NOTIFY_CALL(__NR_connect),
	NOTIFY_CALL(__NR_bind),
	NOTIFY_CALL(__NR_listen),
	NOTIFY_CALL(__NR_accept),
	NOTIFY_CALL(__NR_accept4),
	NOTIFY_CALL(__NR_getsockname),
	NOTIFY_CALL(__NR_getpeername),
	IF_EQ(__NR_io_uring_setup, 1),
	RET(SECCOMP_RET_ERRNO | ENOSYS),
	/* Each NOTIFY_CALL_IF reloads its argument: put them last, reloading nr between them. */
	NOTIFY_CALL_IF(__NR_socket, 0, AF_VSOCK),
	LOAD(NR),
	NOTIFY_CALL_IF(__NR_setsockopt, 1, AF_VSOCK),
	LOAD(NR),
	NOTIFY_CALL_IF(__NR_getsockopt, 1, AF_VSOCK),
	LOAD(NR),
	NOTIFY_CALL_IF(__NR_ioctl, 1, IOCTL_VM_SOCKETS_GET_LOCAL_CID),
	RET(SECCOMP_RET_ALLOW),
};

int filter_install(void)
{
	struct sock_fprog prog = {
		.len = sizeof(program) / sizeof(program[0]),
		.filter = program,
	};
	long fd;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		hw_own_error("prctl(PR_SET_NO_NEW_PRIVS): %s", strerror(errno));
		return -1;
	}
	fd = syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
	if (fd < 0) {
		hw_own_error("seccomp(SECCOMP_FILTER_FLAG_NEW_LISTENER): %s (needs Linux 5.0 or later "
			     "with CONFIG_SECCOMP_FILTER)", strerror(errno));
		return -1;
	}
	return (int)fd;
}
