/* control.c: the peer channel between a case's server and client: barrier names and values. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vsc_internal.h"

#define LINE_MAX_LEN 256

void vsc_control_attach(int fd)
{
	vsc_self.control_fd = fd;
}

static void require_channel(const char *file, int line)
{
	if (vsc_self.control_fd < 0) {
		char why[VSC_TEXT_MAX];

		snprintf(why, sizeof(why), "%s:%d: peer channel used in a one-process case", file,
			 line);
		vsc_out("# [%s] %s", vsc_self.label, why);
		vsc_role_exit(VSC_BROKEN, why);
	}
}

static void send_line(const char *file, int line, const char *text)
{
	char buf[LINE_MAX_LEN + 1];
	int len;

	require_channel(file, line);
	len = snprintf(buf, sizeof(buf), "%s\n", text);
	/* MSG_NOSIGNAL: a peer that already ended gives EPIPE here, not a SIGPIPE that kills us. */
	if (len < 0 || len >= (int)sizeof(buf) ||
	    send(vsc_self.control_fd, buf, (size_t)len, MSG_NOSIGNAL) != len)
		vsc_role_exit(VSC_PEER_GONE, NULL);	/* the peer's own result says why */
}

/* Reads one line byte by byte: lines are short and nothing may be read past the newline. */
static void recv_line(const char *file, int line, char *buf, size_t size)
{
	size_t used = 0;

	require_channel(file, line);
	for (;;) {
		char c;
		ssize_t n = read(vsc_self.control_fd, &c, 1);

		if (n <= 0)
			vsc_role_exit(VSC_PEER_GONE, NULL);
		if (c == '\n')
			break;
		if (used + 1 < size)
			buf[used++] = c;
	}
	buf[used] = '\0';
}

static void broken_at(const char *file, int line, const char *fmt, const char *a, const char *b)
{
	char text[VSC_TEXT_MAX], why[VSC_TEXT_MAX];

	snprintf(text, sizeof(text), fmt, a, b);
	snprintf(why, sizeof(why), "[%s] %s:%d: %s", vsc_self.label, file, line, text);
	vsc_out("# %s", why);
	vsc_role_exit(VSC_BROKEN, why);
}

void vsc_signal_at(const char *file, int line, const char *barrier)
{
	char text[LINE_MAX_LEN];

	snprintf(text, sizeof(text), "signalling \"%s\" to the peer", barrier);
	vsc_step_at(file, line, text);
	snprintf(text, sizeof(text), "B %s", barrier);
	send_line(file, line, text);
}

void vsc_wait_at(const char *file, int line, const char *barrier)
{
	char got[LINE_MAX_LEN], want[LINE_MAX_LEN];

	snprintf(want, sizeof(want), "B %s", barrier);
	snprintf(got, sizeof(got), "waiting for the peer's \"%s\"", barrier);
	vsc_step_at(file, line, got);
	recv_line(file, line, got, sizeof(got));
	if (strcmp(got, want) != 0)
		broken_at(file, line, "waited for barrier \"%s\", the peer sent \"%s\"", barrier, got);
}

void vsc_send_value_at(const char *file, int line, const char *key, uint64_t value)
{
	char text[LINE_MAX_LEN];

	snprintf(text, sizeof(text), "V %s %" PRIu64, key, value);
	send_line(file, line, text);
}

uint64_t vsc_recv_value_at(const char *file, int line, const char *key)
{
	char got[LINE_MAX_LEN], prefix[LINE_MAX_LEN];
	size_t prefix_len;
	char *end;
	uint64_t value;

	snprintf(got, sizeof(got), "waiting for the peer's value \"%s\"", key);
	vsc_step_at(file, line, got);
	recv_line(file, line, got, sizeof(got));
	prefix_len = (size_t)snprintf(prefix, sizeof(prefix), "V %s ", key);
	if (strncmp(got, prefix, prefix_len) != 0)
		broken_at(file, line, "waited for value \"%s\", the peer sent \"%s\"", key, got);
	value = strtoull(got + prefix_len, &end, 10);
	if (*end != '\0')
		broken_at(file, line, "value \"%s\" is not a number: \"%s\"", key, got);
	return value;
}
