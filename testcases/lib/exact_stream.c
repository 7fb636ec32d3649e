/* exact_stream.c: pattern streams over connected sockets, moved with poll(), each checked as it lands. */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>

#include "vsc.h"
#include "vsc_exact.h"

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void vsc_exact_stream_init(struct vsc_exact_stream *s, int fd, unsigned int conn, int sending,
			   uint64_t limit, const unsigned int *write_sizes)
{
	const unsigned int *size;

	memset(s, 0, sizeof(*s));
	s->fd = fd;
	s->conn = conn;
	s->sending = sending;
	s->limit = limit;
	s->write_sizes = write_sizes;
	if (sending) {
		ASSERT_TRUE(write_sizes && write_sizes[0]);
		for (size = write_sizes; *size; size++)
			ASSERT_TRUE(*size <= VSC_EXACT_MAX_WRITE);
	}
	s->buf = malloc(sending ? VSC_EXACT_MAX_WRITE : 2 * VSC_EXACT_CHUNK);
	ASSERT_TRUE(s->buf != NULL);
}

void vsc_exact_stream_free(struct vsc_exact_stream *s)
{
	free(s->buf);
	s->buf = NULL;
}

/* One non-blocking write of the next size; stops at the byte count or the deadline. */
static void sender_step(struct vsc_exact_stream *s, long long deadline)
{
	size_t size = s->write_sizes[s->next_write];
	ssize_t n;

	if (s->offset < s->limit && now_ms() >= deadline) {
		s->limit = s->offset;
		s->out_of_time = 1;
	}
	if (s->offset >= s->limit) {
		SAFE(shutdown(s->fd, SHUT_WR));
		s->done = 1;
		return;
	}
	if (size > s->limit - s->offset)
		size = (size_t)(s->limit - s->offset);
	vsc_exact_fill(s->buf, size, s->conn, s->offset);
	n = send(s->fd, s->buf, size, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n < 0)
		vsc_fatal_at(__FILE__, __LINE__, "connection %u: send() at offset %llu failed: %s",
			     s->conn, (unsigned long long)s->offset, vsc_errname(errno));
	vsc_exact_sum_add(&s->sum, s->buf, (size_t)n);
	s->offset += (uint64_t)n;
	if (!s->write_sizes[++s->next_write])
		s->next_write = 0;
}

/* Locates the fault in buf (the suspect chunk and what came after it) and keeps its description. */
static void receiver_locate(struct vsc_exact_stream *s)
{
	struct vsc_exact_fault fault;

	s->faulted = 1;
	if (vsc_exact_locate(s->buf, s->fill, s->conn, s->offset, &fault))
		vsc_exact_describe(&fault, s->conn, s->fault, sizeof(s->fault));
	else	/* cannot be: the chunk differed */
		snprintf(s->fault, sizeof(s->fault), "connection %u, offset %llu: a chunk differed "
			 "and then matched", s->conn, (unsigned long long)s->offset);
}

/* The bytes at the start of buf (up to a chunk) match the pattern. */
static int receiver_matches(struct vsc_exact_stream *s, unsigned char *expected, size_t len)
{
	vsc_exact_fill(expected, len, s->conn, s->offset);
	return memcmp(s->buf, expected, len) == 0;
}

/* Checks what was read: a whole chunk, or at EOF the short last one; a fault is located once. */
static void receiver_check(struct vsc_exact_stream *s, unsigned char *expected)
{
	if (s->faulted) {
		s->fill = 0;
		return;
	}
	if (!s->suspect && (s->fill == VSC_EXACT_CHUNK || (s->done && s->fill))) {
		if (receiver_matches(s, expected, s->fill < VSC_EXACT_CHUNK ? s->fill : VSC_EXACT_CHUNK)) {
			s->offset += s->fill;
			s->fill = 0;
			return;
		}
		s->suspect = 1;
	}
	if (s->suspect && (s->fill == 2 * VSC_EXACT_CHUNK || s->done))
		receiver_locate(s);
}

static void receiver_step(struct vsc_exact_stream *s, unsigned char *expected)
{
	size_t room = (s->suspect ? 2 * VSC_EXACT_CHUNK : VSC_EXACT_CHUNK) - s->fill;
	ssize_t n = recv(s->fd, s->buf + s->fill, room, MSG_DONTWAIT);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n < 0)
		vsc_fatal_at(__FILE__, __LINE__, "connection %u: recv() at offset %llu failed: %s",
			     s->conn, (unsigned long long)s->received, vsc_errname(errno));
	if (n == 0) {
		s->done = 1;
	} else {
		vsc_exact_sum_add(&s->sum, s->buf + s->fill, (size_t)n);
		s->received += (uint64_t)n;
		s->fill += (size_t)n;
	}
	receiver_check(s, expected);
}

/* Names every stream still open when nothing moved for stall_ms; ends the role. */
static void report_stall(const struct vsc_exact_stream *streams, unsigned int count, int stall_ms)
{
	char text[1024] = "";
	size_t len = 0;
	unsigned int i;

	for (i = 0; i < count && len < sizeof(text); i++) {
		const struct vsc_exact_stream *s = &streams[i];

		if (s->done)
			continue;
		len += (size_t)snprintf(text + len, sizeof(text) - len, "%sconnection %u %s at offset %llu",
					len ? "; " : "", s->conn, s->sending ? "sending" : "receiving",
					(unsigned long long)(s->sending ? s->offset : s->received));
	}
	vsc_fatal_at(__FILE__, __LINE__, "no stream moved for %d ms: %s", stall_ms, text);
}

void vsc_exact_pump(struct vsc_exact_stream *streams, unsigned int count, int send_seconds,
		    int stall_ms)
{
	long long deadline = now_ms() + send_seconds * 1000LL;
	unsigned char *expected = malloc(VSC_EXACT_CHUNK);
	struct pollfd pfds[VSC_EXACT_MAX_STREAMS];
	unsigned int i, open;

	ASSERT_TRUE(expected != NULL);
	ASSERT_TRUE(count <= VSC_EXACT_MAX_STREAMS);
	vsc_step_at(__FILE__, __LINE__, "moving the streams");
	for (;;) {
		int ready;

		for (i = 0, open = 0; i < count; i++) {
			pfds[i].fd = streams[i].done ? -1 : streams[i].fd;
			pfds[i].events = streams[i].sending ? POLLOUT : POLLIN;
			pfds[i].revents = 0;
			open += !streams[i].done;
		}
		if (!open)
			break;
		ready = poll(pfds, count, stall_ms);
		if (ready < 0 && errno == EINTR)
			continue;
		if (ready < 0)
			vsc_fatal_at(__FILE__, __LINE__, "poll() failed: %s", vsc_errname(errno));
		if (ready == 0)
			report_stall(streams, count, stall_ms);
		for (i = 0; i < count; i++) {
			if (!pfds[i].revents)
				continue;
			if (streams[i].sending)
				sender_step(&streams[i], deadline);
			else
				receiver_step(&streams[i], expected);
		}
	}
	free(expected);
}
