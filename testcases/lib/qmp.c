/* qmp.c: the QMP client of the nested cases (vsc_qmp.h): commands, answers and awaited events. */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "vsc_internal.h"
#include "vsc_qmp.h"

#define LINE_MAX_BYTES 8192
#define EVENTS_KEPT 32
#define NAME_MAX_BYTES 64

struct seen_event {
	char name[NAME_MAX_BYTES];
	char device[NAME_MAX_BYTES];
};

struct vsc_qmp {
	int fd;
	char buf[LINE_MAX_BYTES];
	size_t used;
	struct seen_event events[EVENTS_KEPT];	/* a ring: the newest EVENTS_KEPT */
	unsigned int nevents;
};

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Where `key` appears as a key: just past its colon, or NULL. */
static const char *key_value(const char *json, const char *key)
{
	size_t len = strlen(key);
	const char *p = json;

	while ((p = strchr(p, '"'))) {
		if (strncmp(p + 1, key, len) == 0 && p[1 + len] == '"') {
			const char *q = p + 2 + len;

			while (*q == ' ' || *q == '\t')
				q++;
			if (*q == ':')
				return q + 1;
		}
		p++;
	}
	return NULL;
}

int vsc_qmp_json_string(const char *json, const char *key, char *out, unsigned long out_size)
{
	const char *p = key_value(json, key);
	unsigned long n = 0;

	if (!p || out_size == 0)
		return -1;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p++ != '"')
		return -1;
	for (; *p && *p != '"'; p++) {
		if (*p == '\\' && p[1])
			p++;
		if (n + 1 < out_size)
			out[n++] = *p;
	}
	out[n] = '\0';
	return *p == '"' ? 0 : -1;
}

/* The next line from QEMU into line (without "\r\n"); 0, or -1 when the deadline passed. */
static int read_line(const char *file, int line_no, struct vsc_qmp *q, long long deadline,
		     char *line)
{
	for (;;) {
		char *nl = memchr(q->buf, '\n', q->used);
		struct pollfd pfd = { .fd = q->fd, .events = POLLIN };
		long long left;
		ssize_t n;

		if (nl) {
			size_t len = (size_t)(nl - q->buf);

			memcpy(line, q->buf, len);
			line[len] = '\0';
			if (len && line[len - 1] == '\r')
				line[len - 1] = '\0';
			q->used -= len + 1;
			memmove(q->buf, nl + 1, q->used);
			return 0;
		}
		if (q->used == sizeof(q->buf))
			vsc_fatal_at(file, line_no, "QMP sent a line longer than %d bytes",
				     LINE_MAX_BYTES);
		left = deadline - now_ms();
		if (left <= 0)
			return -1;
		if (poll(&pfd, 1, (int)left) < 0 && errno != EINTR)
			vsc_fatal_at(file, line_no, "poll(QMP socket) failed: %s", vsc_errname(errno));
		if (!(pfd.revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		n = recv(q->fd, q->buf + q->used, sizeof(q->buf) - q->used, 0);
		if (n == 0)
			vsc_fatal_at(file, line_no, "QEMU closed the QMP socket");
		if (n < 0 && errno != EINTR)
			vsc_fatal_at(file, line_no, "reading the QMP socket: %s", vsc_errname(errno));
		if (n > 0)
			q->used += (size_t)n;
	}
}

/* Keeps an event line's name and device; returns 1 if the line was an event. */
static int note_event(struct vsc_qmp *q, const char *line)
{
	struct seen_event *e = &q->events[q->nevents % EVENTS_KEPT];

	if (vsc_qmp_json_string(line, "event", e->name, sizeof(e->name)) != 0)
		return 0;
	if (vsc_qmp_json_string(line, "device", e->device, sizeof(e->device)) != 0)
		e->device[0] = '\0';
	q->nevents++;
	return 1;
}

void vsc_qmp_execute_at(const char *file, int line_no, struct vsc_qmp *q, const char *command)
{
	long long deadline = now_ms() + VSC_SETTLE_MS;
	char line[LINE_MAX_BYTES], desc[VSC_TEXT_MAX];
	size_t len = strlen(command);

	vsc_step_at(file, line_no, command);
	if (send(q->fd, command, len, MSG_NOSIGNAL) != (ssize_t)len ||
	    send(q->fd, "\n", 1, MSG_NOSIGNAL) != 1)
		vsc_fatal_at(file, line_no, "sending %s over QMP: %s", command, vsc_errname(errno));
	for (;;) {
		if (read_line(file, line_no, q, deadline, line) != 0)
			vsc_fatal_at(file, line_no, "no QMP answer to %s within %d ms", command,
				     VSC_SETTLE_MS);
		if (note_event(q, line))
			continue;
		if (key_value(line, "return"))
			return;
		if (key_value(line, "error")) {
			if (vsc_qmp_json_string(line, "desc", desc, sizeof(desc)) != 0)
				snprintf(desc, sizeof(desc), "%.200s", line);
			vsc_fatal_at(file, line_no, "QMP refused %s: %s", command, desc);
		}
		vsc_fatal_at(file, line_no, "unexpected QMP line after %s: %.200s", command, line);
	}
}

static int event_seen(const struct vsc_qmp *q, const char *name, const char *device)
{
	unsigned int i, kept = q->nevents < EVENTS_KEPT ? q->nevents : EVENTS_KEPT;

	for (i = 0; i < kept; i++)
		if (strcmp(q->events[i].name, name) == 0 && strcmp(q->events[i].device, device) == 0)
			return 1;
	return 0;
}

int vsc_qmp_wait_event_at(const char *file, int line_no, struct vsc_qmp *q, const char *name,
			  const char *device, int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;
	char line[LINE_MAX_BYTES];

	vsc_step_at(file, line_no, name);
	while (!event_seen(q, name, device)) {
		if (read_line(file, line_no, q, deadline, line) != 0)
			return -1;
		if (!note_event(q, line))
			vsc_fatal_at(file, line_no, "unexpected QMP line while waiting for %s: %.200s",
				     name, line);
	}
	return 0;
}

struct vsc_qmp *vsc_qmp_open_at(const char *file, int line_no, const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	char line[LINE_MAX_BYTES];
	struct vsc_qmp *q;

	if (strlen(path) >= sizeof(addr.sun_path))
		vsc_fatal_at(file, line_no, "QMP socket path too long: %s", path);
	strcpy(addr.sun_path, path);
	q = calloc(1, sizeof(*q));
	if (!q)
		vsc_fatal_at(file, line_no, "out of memory for the QMP client");
	vsc_step_at(file, line_no, "connecting to QMP");
	q->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (q->fd < 0 || connect(q->fd, (struct sockaddr *)&addr, sizeof(addr)) != 0)
		vsc_fatal_at(file, line_no, "connecting to QMP at %s: %s", path, vsc_errname(errno));
	if (read_line(file, line_no, q, now_ms() + VSC_SETTLE_MS, line) != 0)
		vsc_fatal_at(file, line_no, "no QMP greeting from %s within %d ms", path,
			     VSC_SETTLE_MS);
	if (!key_value(line, "QMP"))
		vsc_fatal_at(file, line_no, "%s greets with %.200s, not QMP", path, line);
	vsc_qmp_execute_at(file, line_no, q, "{\"execute\": \"qmp_capabilities\"}");
	return q;
}

void vsc_qmp_close(struct vsc_qmp *q)
{
	if (!q)
		return;
	close(q->fd);
	free(q);
}
