/* cmd.c: -e CMD: /bin/sh -c CMD on a pair of pipes the relay joins to the connection. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vsc.h"	/* vsc_errname */
#include "vsockcat.h"

static int failed(char *err, size_t err_size, const char *call, int e)
{
	snprintf(err, err_size, "%s for -e: %s (%s)", call, vsc_errname(e), strerror(e));
	return -1;
}

/* In the child: fd becomes `target`, open across exec (dup2 onto itself would keep CLOEXEC). */
static int move_to(int fd, int target)
{
	if (fd == target)
		return fcntl(fd, F_SETFD, 0);
	return dup2(fd, target) < 0 ? -1 : 0;
}

static void close_pair(int fds[2])
{
	close(fds[0]);
	close(fds[1]);
}

int vsockcat_cmd_start(const char *cmd, int *to_cmd, int *from_cmd, char *err, size_t err_size)
{
	int in[2], out[2];
	pid_t pid;

	if (pipe2(in, O_CLOEXEC) < 0)
		return failed(err, err_size, "pipe", errno);
	if (pipe2(out, O_CLOEXEC) < 0) {
		failed(err, err_size, "pipe", errno);
		close_pair(in);
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		failed(err, err_size, "fork", errno);
		close_pair(in);
		close_pair(out);
		return -1;
	}
	if (pid == 0) {
		/* vsockcat ignores SIGPIPE; CMD gets the usual default (a `yes` must end). */
		signal(SIGPIPE, SIG_DFL);
		/* A vsockcat started with 0 or 1 closed may hold a pipe there: step aside first. */
		if (out[1] == STDIN_FILENO)
			out[1] = fcntl(out[1], F_DUPFD_CLOEXEC, 3);
		if (out[1] < 0 || move_to(in[0], STDIN_FILENO) < 0 ||
		    move_to(out[1], STDOUT_FILENO) < 0)
			_exit(127);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		fprintf(stderr, "vsockcat: exec /bin/sh for -e: %s\n", vsc_errname(errno));
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	/* Our ends only (the relay never blocks on a CMD that does not read or write). */
	fcntl(in[1], F_SETFL, O_NONBLOCK);
	fcntl(out[0], F_SETFL, O_NONBLOCK);
	*to_cmd = in[1];
	*from_cmd = out[0];
	return (int)pid;
}

int vsockcat_cmd_wait(int pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return 1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
