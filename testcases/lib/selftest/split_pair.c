/*
 * split_pair.c: vsc-split-pair runs a test program as both sides of split mode in one machine,
 * joined by a socketpair, so the split path is exercised with real vsock before the topologies
 * that put the sides on two machines exist.
 *
 * The server side (--solo) writes the KTAP on stdout; the client side's KTAP follows as
 * diagnostic lines "# client-side: <line>", so one stream holds both for comparison.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define CONTROL_FD 3
#define PREFIX "# client-side: "

static void usage(FILE *out, const char *prog)
{
	fprintf(out,
		"usage: %s PROGRAM [ARGS...]\n"
		"Runs PROGRAM --split server --solo and PROGRAM --split client, each with\n"
		"--control-fd %d and ARGS, over a socketpair. Prints the server side's KTAP and the\n"
		"client side's as lines \"" PREFIX "...\"; exits with the server side's status.\n",
		prog, CONTROL_FD);
}

/* Runs one side with its end of the pair as CONTROL_FD and `out` as stdout; closes the others. */
static pid_t start_side(char **argv, const char *side, int control, int out, int other,
			int other_pipe)
{
	pid_t pid = fork();
	char fd_text[16];
	int argc = 0, i;
	char **args;

	if (pid != 0)
		return pid;
	while (argv[argc])
		argc++;
	args = calloc((size_t)argc + 8, sizeof(*args));
	/* The other side's ends first: one of them may sit on CONTROL_FD. */
	close(other);
	if (other_pipe >= 0)
		close(other_pipe);
	if (!args || dup2(control, CONTROL_FD) < 0 || dup2(out, STDOUT_FILENO) < 0)
		_exit(127);
	snprintf(fd_text, sizeof(fd_text), "%d", CONTROL_FD);
	i = 0;
	args[i++] = argv[0];
	args[i++] = "--split";
	args[i++] = (char *)side;
	if (strcmp(side, "server") == 0)
		args[i++] = "--solo";
	args[i++] = "--control-fd";
	args[i++] = fd_text;
	memcpy(args + i, argv + 1, sizeof(*args) * (size_t)argc);
	execv(argv[0], args);
	fprintf(stderr, "vsc-split-pair: cannot run %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

/* Copies the client side's lines to stdout, each prefixed, each in one write. */
static void relay_client_lines(int from)
{
	char line[4096 + sizeof(PREFIX)];
	size_t used = strlen(PREFIX);
	char c;

	memcpy(line, PREFIX, used);
	while (read(from, &c, 1) == 1) {
		if (used < sizeof(line) - 1)
			line[used++] = c;
		if (c != '\n')
			continue;
		if (line[used - 1] != '\n')
			line[used++] = '\n';
		if (write(STDOUT_FILENO, line, used) < 0)
			return;
		used = strlen(PREFIX);
	}
}

static int exit_status(int status)
{
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int main(int argc, char **argv)
{
	int pair[2], pipe_fds[2], server_status, client_status;
	pid_t server, client;

	if (argc < 2 || argv[1][0] == '-') {
		usage(argc >= 2 && strcmp(argv[1], "--help") == 0 ? stdout : stderr, argv[0]);
		return argc >= 2 && strcmp(argv[1], "--help") == 0 ? 0 : 2;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair) != 0) {
		fprintf(stderr, "vsc-split-pair: socketpair: %s\n", strerror(errno));
		return 2;
	}
	server = start_side(argv + 1, "server", pair[0], STDOUT_FILENO, pair[1], -1);
	if (pipe(pipe_fds) != 0) {
		fprintf(stderr, "vsc-split-pair: pipe: %s\n", strerror(errno));
		return 2;
	}
	client = start_side(argv + 1, "client", pair[1], pipe_fds[1], pair[0], pipe_fds[0]);
	if (server < 0 || client < 0) {
		fprintf(stderr, "vsc-split-pair: fork: %s\n", strerror(errno));
		return 2;
	}
	close(pair[0]);
	close(pair[1]);
	close(pipe_fds[1]);
	relay_client_lines(pipe_fds[0]);
	if (waitpid(server, &server_status, 0) < 0 || waitpid(client, &client_status, 0) < 0)
		return 2;
	printf("# vsc-split-pair: server side exit=%d, client side exit=%d\n",
	       exit_status(server_status), exit_status(client_status));
	return exit_status(server_status);
}
