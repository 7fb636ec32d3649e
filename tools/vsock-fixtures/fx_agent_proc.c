/* fx_agent_proc.c: the agent child of an engine that runs in the kernel under test's system. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fx_agent_proc.h"

pid_t fx_agent_start(const char *me, const char *agent, int *replies, int *requests)
{
	int to_agent[2], from_agent[2];
	pid_t pid;

	if (pipe2(to_agent, O_CLOEXEC) || pipe2(from_agent, O_CLOEXEC)) {
		fprintf(stderr, "%s: pipe for the agent: %s\n", me, strerror(errno));
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "%s: fork for the agent: %s\n", me, strerror(errno));
		return -1;
	}
	if (pid == 0) {
		if (dup2(to_agent[0], STDIN_FILENO) < 0 || dup2(from_agent[1], STDOUT_FILENO) < 0)
			_exit(127);
		execvp(agent, (char *[]){ (char *)agent, NULL });
		fprintf(stderr, "%s: cannot run the agent %s: %s\n", me, agent, strerror(errno));
		_exit(127);
	}
	close(to_agent[0]);
	close(from_agent[1]);
	*replies = from_agent[0];
	*requests = to_agent[1];
	return pid;
}

void fx_agent_stop(const char *me, pid_t pid, int replies, int requests)
{
	int status;

	close(requests);
	close(replies);
	if (waitpid(pid, &status, 0) != pid)
		return;
	if (WIFSIGNALED(status))
		fprintf(stderr, "%s: the agent was killed by signal %d\n", me, WTERMSIG(status));
	else if (WEXITSTATUS(status))
		fprintf(stderr, "%s: the agent exited with status %d\n", me, WEXITSTATUS(status));
}
