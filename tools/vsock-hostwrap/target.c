/* target.c: the program's fds, fd flags and memory, reached through /proc, pidfds and
 * process_vm_readv/writev (hostwrap is the program's parent: ptrace access is allowed). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "report.h"
#include "target.h"

#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL	/* Linux 6.9: a pidfd for a thread, not only a leader */
#endif

static int link_of(pid_t tid, int fd, char *out, size_t size)
{
	char path[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)tid, fd);
	n = readlink(path, out, size - 1);
	if (n < 0)
		return -1;
	out[n] = '\0';
	return 0;
}

int target_socket_inode(pid_t tid, int fd, unsigned long *ino)
{
	char link[128], *end;

	if (fd < 0 || link_of(tid, fd, link, sizeof(link)) != 0)
		return 0;
	if (strncmp(link, "socket:[", 8) != 0)
		return 0;
	*ino = strtoul(link + 8, &end, 10);
	return *end == ']';
}

int target_fd_is(pid_t tid, int fd, const char *path)
{
	char link[128];

	return fd >= 0 && link_of(tid, fd, link, sizeof(link)) == 0 && strcmp(link, path) == 0;
}

int target_fd_flags(pid_t tid, int fd, int *flags)
{
	char path[64], line[128];
	FILE *f;
	int found = 0;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", (int)tid, fd);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (!found && fgets(line, sizeof(line), f))
		found = sscanf(line, "flags: %o", (unsigned int *)flags) == 1;
	fclose(f);
	return found ? 0 : -1;
}

/* The tgid of a thread, for kernels whose pidfd_open() takes leaders only. */
static pid_t tgid_of(pid_t tid)
{
	char path[64], line[128];
	FILE *f;
	int tgid = -1;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)tid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (tgid < 0 && fgets(line, sizeof(line), f))
		if (sscanf(line, "Tgid: %d", &tgid) != 1)
			tgid = -1;
	fclose(f);
	return tgid;
}

int target_take_fd(pid_t tid, int fd)
{
	int pidfd = (int)syscall(SYS_pidfd_open, tid, PIDFD_THREAD), copy, saved;

	if (pidfd < 0 && errno == EINVAL) {
		pid_t tgid = tgid_of(tid);

		if (tgid < 0) {
			errno = ESRCH;
			return -1;
		}
		pidfd = (int)syscall(SYS_pidfd_open, tgid, 0);
	}
	if (pidfd < 0)
		return -1;
	copy = (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
	saved = errno;
	close(pidfd);
	errno = saved;
	return copy;
}

static int vm_io(pid_t tid, uint64_t addr, void *buf, size_t len, int writing)
{
	struct iovec local = { .iov_base = buf, .iov_len = len };
	struct iovec remote = { .iov_base = (void *)(uintptr_t)addr, .iov_len = len };
	ssize_t n;

	if (len == 0)
		return 0;
	n = writing ? process_vm_writev(tid, &local, 1, &remote, 1, 0)
		    : process_vm_readv(tid, &local, 1, &remote, 1, 0);
	if (n < 0)
		return -1;
	if ((size_t)n != len) {
		errno = EFAULT;
		return -1;
	}
	return 0;
}

int target_read(pid_t tid, uint64_t addr, void *buf, size_t len)
{
	return vm_io(tid, addr, buf, len, 0);
}

int target_write(pid_t tid, uint64_t addr, const void *buf, size_t len)
{
	return vm_io(tid, addr, (void *)buf, len, 1);
}

int target_check_support(void)
{
	int pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0), copy;

	if (pidfd < 0) {
		hw_own_error("pidfd_open: %s (needs Linux 5.3 or later)", strerror(errno));
		return -1;
	}
	copy = (int)syscall(SYS_pidfd_getfd, pidfd, 2, 0);
	if (copy < 0 && errno == ENOSYS) {
		hw_own_error("pidfd_getfd: %s (needs Linux 5.6 or later)", strerror(errno));
		close(pidfd);
		return -1;
	}
	if (copy >= 0)
		close(copy);
	close(pidfd);
	return 0;
}
