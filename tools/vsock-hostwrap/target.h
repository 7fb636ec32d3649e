/* target.h: reaching into the program's processes: their fds, fd flags and memory. */
#ifndef HW_TARGET_H
#define HW_TARGET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * The socket inode behind fd `fd` of thread `tid`: 1 with *ino set, 0 if the fd is not a
 * socket (or is not open). Read from /proc/<tid>/fd, so dup(), fork() and SCM_RIGHTS need no
 * bookkeeping: a socket is the same socket under any fd in any process.
 */
int target_socket_inode(pid_t tid, int fd, unsigned long *ino);
/* Whether fd `fd` of `tid` is the file `path` (as /proc/<tid>/fd names it). */
int target_fd_is(pid_t tid, int fd, const char *path);
/* The fd's O_* flags as /proc/<tid>/fdinfo shows them (O_CLOEXEC included): 0, or -1. */
int target_fd_flags(pid_t tid, int fd, int *flags);
/* A copy of the thread's fd in hostwrap (pidfd_getfd; close-on-exec): the fd, or -1 (errno). */
int target_take_fd(pid_t tid, int fd);
/* The thread's memory: 0, or -1 with errno (EFAULT when not all of it could be reached). */
int target_read(pid_t tid, uint64_t addr, void *buf, size_t len);
int target_write(pid_t tid, uint64_t addr, const void *buf, size_t len);
/* Whether this kernel has pidfd_getfd (5.6): 0, or -1 with the reason printed. */
int target_check_support(void);

#endif
