/* ident.c: the identity service (vsockcheck-tests --ident) and the cases' side of its protocol. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vsc_ident.h"
#include "vsc_internal.h"
#include "vsc_sock.h"

/* The longest line a greeting can be, with its newline. */
#define GREETING_MAX (sizeof(VSC_IDENT_PREFIX) - 1 + VSC_IDENT_NAME_MAX + 1)

int vsc_ident_name_invalid(const char *name)
{
	size_t len = strlen(name), i;

	if (len == 0 || len > VSC_IDENT_NAME_MAX)
		return 1;
	for (i = 0; i < len; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= 'A' && name[i] <= 'Z') ||
		      (name[i] >= '0' && name[i] <= '9') || strchr("-_.", name[i])))
			return 1;
	return 0;
}

static int send_whole(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int vsc_ident_greet(int fd, const char *name)
{
	char line[GREETING_MAX + 1];

	snprintf(line, sizeof(line), VSC_IDENT_PREFIX "%s\n", name);
	return send_whole(fd, line, strlen(line));
}

/* One connection, in its own child: the greeting, then an echo of everything until EOF. */
static int serve_connection(int fd, const char *name)
{
	char buf[4096];
	ssize_t n;

	if (vsc_ident_greet(fd, name) != 0) {
		fprintf(stderr, "ident %s: sending the greeting: %s\n", name, vsc_errname(errno));
		return 1;
	}
	for (;;) {
		n = recv(fd, buf, sizeof(buf), 0);
		if (n == 0)
			return 0;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || send_whole(fd, buf, (size_t)n) != 0) {
			/* A peer that resets is a case's business, not the service's failure. */
			fprintf(stderr, "ident %s: echo: %s\n", name, vsc_errname(errno));
			return 0;
		}
	}
}

/* accept() errors that say nothing about the listener itself: wait a little and go on. */
static int accept_error_passes(int err)
{
	return err == EINTR || err == ECONNABORTED || err == EAGAIN || err == ENOMEM ||
	       err == ENOBUFS || err == EMFILE || err == ENFILE;
}

int vsc_ident_serve(const char *name, unsigned int port)
{
	int listener, fd;
	pid_t pid;

	/* Children are reaped by the kernel: the service never waits for one. */
	signal(SIGCHLD, SIG_IGN);
	listener = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (listener < 0) {
		fprintf(stderr, "ident %s: socket(AF_VSOCK): %s\n", name, vsc_errname(errno));
		return 1;
	}
	if (vsc_bind(listener, VMADDR_CID_ANY, port) != 0 || listen(listener, 16) != 0) {
		fprintf(stderr, "ident %s: listening on port %u: %s\n", name, port,
			vsc_errname(errno));
		return 1;
	}
	for (;;) {
		fd = accept(listener, NULL, NULL);
		if (fd < 0) {
			if (!accept_error_passes(errno)) {
				fprintf(stderr, "ident %s: accept(port %u): %s\n", name, port,
					vsc_errname(errno));
				return 1;
			}
			poll(NULL, 0, 100);
			continue;
		}
		pid = fork();
		if (pid == 0) {
			close(listener);
			_exit(serve_connection(fd, name));
		}
		if (pid < 0)
			fprintf(stderr, "ident %s: fork: %s\n", name, vsc_errname(errno));
		close(fd);
	}
}

int vsc_ident_expect_at(const char *file, int line, int fd, const char *expected)
{
	char text[GREETING_MAX + 1];
	size_t len = 0;
	ssize_t n;

	vsc_step_at(file, line, "reading the identity line");
	while (len < GREETING_MAX) {
		if (!(vsc_poll_at(file, line, fd, POLLIN, VSC_SETTLE_MS) & (POLLIN | POLLHUP | POLLERR)))
			vsc_fatal_at(file, line, "no identity line within %d ms (expected %s)",
				     VSC_SETTLE_MS, expected);
		n = recv(fd, text + len, 1, 0);
		if (n < 0)
			vsc_fatal_at(file, line, "reading the identity line (expected %s): %s",
				     expected, vsc_errname(errno));
		if (n == 0)
			vsc_fatal_at(file, line, "EOF after %zu bytes of the identity line (expected %s)",
				     len, expected);
		if (text[len++] == '\n')
			break;
	}
	text[len] = '\0';
	if (len == 0 || text[len - 1] != '\n' ||
	    strncmp(text, VSC_IDENT_PREFIX, sizeof(VSC_IDENT_PREFIX) - 1) != 0)
		vsc_fatal_at(file, line, "\"%.*s\" is not an identity line (expected %s)",
			     (int)strcspn(text, "\n"), text, expected);
	text[len - 1] = '\0';
	if (strcmp(text + sizeof(VSC_IDENT_PREFIX) - 1, expected) != 0) {
		vsc_fail_at(file, line, "the identity line names %s, expected %s",
			    text + sizeof(VSC_IDENT_PREFIX) - 1, expected);
		return 1;
	}
	return 0;
}
