/* bridge_client.c: the hybrid-vsock CONNECT handshake, for the host programs that need it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bridge_client.h"

int bridge_connect_line(char *line, size_t size, unsigned int port)
{
	return snprintf(line, size, "CONNECT %u\n", port);
}

enum bridge_answer bridge_answer_parse(const char *answer, unsigned int *host_port)
{
	char *end;
	unsigned long value;

	if (strncmp(answer, "OK ", 3) != 0)
		return BRIDGE_GARBLED;
	errno = 0;
	value = strtoul(answer + 3, &end, 10);
	if (errno || end == answer + 3 || *end || value > 0xffffffffUL)
		return BRIDGE_GARBLED;
	*host_port = (unsigned int)value;
	return BRIDGE_OK;
}

enum bridge_answer bridge_handshake(int fd, unsigned int port, unsigned int *host_port,
				    char *answer, size_t size)
{
	char request[32];
	size_t used = 0;
	int len = bridge_connect_line(request, sizeof(request), port);

	/* MSG_NOSIGNAL: a bridge that already closed is an answer, not a SIGPIPE. */
	if (send(fd, request, (size_t)len, MSG_NOSIGNAL) != len)
		return BRIDGE_IO_ERROR;
	answer[0] = '\0';
	for (;;) {
		char c;
		/* EINTR included: a signal ends the wait, as it would end a blocking connect(). */
		ssize_t n = read(fd, &c, 1);

		if (n < 0)
			return BRIDGE_IO_ERROR;
		if (n == 0)
			return used ? BRIDGE_GARBLED : BRIDGE_CLOSED;
		if (c == '\n')
			break;
		if (used + 1 >= size)
			return BRIDGE_GARBLED;	/* longer than any OK line */
		answer[used++] = c;
		answer[used] = '\0';
	}
	return bridge_answer_parse(answer, host_port);
}
