/*
 * stress_exact.c: byte-exact stress. Several connections carry long streams both ways at once,
 * every 8-byte word naming its connection and offset (vsc_exact.h); each receiver checks every
 * 64 KiB chunk as it lands and, at the first wrong byte, says which connection, which offset, and
 * what came instead (lost, duplicated, reordered, another connection's or corrupt bytes). The
 * end compares byte counts and running checksums with the sender's over the peer channel. Bounded
 * by a byte count per connection and a number of seconds; a stream that stops moving is named.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vsc.h"
#include "vsc_exact.h"
#include "vsc_sock.h"

#define EXACT_MAX_CONNECTIONS 8
#define EXACT_CHUNK (64u << 10)		/* the receiver checks this much at a time */
#define EXACT_SEND_SECONDS 20		/* senders stop at this, or at their byte count */
#define EXACT_STALL_MS 15000		/* no stream moved for this long: stuck */
#define EXACT_CASE_TIMEOUT_S 60		/* room for the sending time, a stall report and the end */
#define EXACT_MAX_WRITE (128u << 10)

/* A run's shape, one per case. Even connections go client to server, odd ones the other way. */
struct exact_shape {
	unsigned int connections;
	uint64_t bytes_per_connection;
	const unsigned int *write_sizes;	/* cycled through by every sender; 0-terminated */
};

/* One connection, as this role sees it. */
struct stream {
	int fd;
	unsigned int conn;
	int sending;
	int done;		/* sender: shut down for writing; receiver: EOF seen */
	uint64_t offset;	/* sender: bytes sent; receiver: bytes checked */
	uint64_t received;	/* receiver: bytes read, checked or not */
	uint64_t limit;		/* sender: the byte count it stops at */
	unsigned int next_write;	/* sender: index into the shape's write sizes */
	int suspect;		/* receiver: the chunk at offset differs; more is read to say how */
	int faulted;		/* receiver: its fault is reported; the rest is only counted */
	struct vsc_exact_sum sum;
	unsigned char *buf;	/* sender: one write; receiver: two chunks */
	size_t fill;		/* receiver: bytes in buf from offset on */
};

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int is_client_to_server(unsigned int conn)
{
	return conn % 2 == 0;
}

static void stream_init(struct stream *s, int fd, unsigned int conn, int is_client,
			const struct exact_shape *shape)
{
	memset(s, 0, sizeof(*s));
	s->fd = fd;
	s->conn = conn;
	s->sending = is_client == is_client_to_server(conn);
	s->limit = shape->bytes_per_connection;
	s->buf = malloc(s->sending ? EXACT_MAX_WRITE : 2 * EXACT_CHUNK);
	ASSERT_TRUE(s->buf != NULL);
}

static void sender_stop(struct stream *s)
{
	SAFE(shutdown(s->fd, SHUT_WR));
	s->done = 1;
}

/* One non-blocking write of the next size; stops at the byte count or the deadline. */
static void sender_step(struct stream *s, const struct exact_shape *shape, long long deadline)
{
	size_t size = shape->write_sizes[s->next_write];
	ssize_t n;

	if (now_ms() >= deadline)
		s->limit = s->offset;
	if (s->offset >= s->limit) {
		sender_stop(s);
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
	if (!shape->write_sizes[++s->next_write])
		s->next_write = 0;
}

/* The fault in buf (the suspect chunk and what came after it), reported once. */
static void receiver_report(struct stream *s)
{
	struct vsc_exact_fault fault;
	char text[512];

	s->faulted = 1;
	if (!vsc_exact_locate(s->buf, s->fill, s->conn, s->offset, &fault))
		return;		/* cannot be: the chunk differed */
	vsc_exact_describe(&fault, s->conn, text, sizeof(text));
	vsc_fail_at(__FILE__, __LINE__, "%s", text);
}

/* Checks the full chunk at the start of buf; a differing one waits for more bytes to say how. */
static void receiver_check(struct stream *s, unsigned char *expected)
{
	if (s->faulted) {
		s->fill = 0;
		return;
	}
	if (!s->suspect && s->fill >= EXACT_CHUNK) {
		vsc_exact_fill(expected, EXACT_CHUNK, s->conn, s->offset);
		if (memcmp(s->buf, expected, EXACT_CHUNK) == 0) {
			s->offset += EXACT_CHUNK;
			s->fill -= EXACT_CHUNK;
			memmove(s->buf, s->buf + EXACT_CHUNK, s->fill);
			return;
		}
		s->suspect = 1;
	}
	if (s->suspect && (s->fill == 2 * EXACT_CHUNK || s->done))
		receiver_report(s);
}

static void receiver_step(struct stream *s, unsigned char *expected)
{
	size_t room = (s->suspect ? 2 * EXACT_CHUNK : EXACT_CHUNK) - s->fill;
	ssize_t n = recv(s->fd, s->buf + s->fill, room, MSG_DONTWAIT);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n < 0)
		vsc_fatal_at(__FILE__, __LINE__, "connection %u: recv() at offset %llu failed: %s",
			     s->conn, (unsigned long long)s->received, vsc_errname(errno));
	if (n == 0) {
		s->done = 1;
		/* The last, short chunk. */
		if (!s->faulted && !s->suspect && s->fill) {
			vsc_exact_fill(expected, s->fill, s->conn, s->offset);
			if (memcmp(s->buf, expected, s->fill) != 0)
				s->suspect = 1;
			else
				s->offset += s->fill;
		}
		if (s->suspect && !s->faulted)
			receiver_report(s);
		return;
	}
	vsc_exact_sum_add(&s->sum, s->buf + s->fill, (size_t)n);
	s->received += (uint64_t)n;
	s->fill += (size_t)n;
	receiver_check(s, expected);
}

/* Names every stream still open when nothing moved for EXACT_STALL_MS; ends the role. */
static void report_stall(const struct stream *streams, unsigned int count)
{
	char text[1024];
	size_t len = 0;
	unsigned int i;

	for (i = 0; i < count; i++) {
		const struct stream *s = &streams[i];

		if (s->done)
			continue;
		len += (size_t)snprintf(text + len, sizeof(text) - len, "%sconnection %u %s at offset %llu",
					len ? "; " : "", s->conn, s->sending ? "sending" : "receiving",
					(unsigned long long)(s->sending ? s->offset : s->received));
		if (len >= sizeof(text))
			break;
	}
	vsc_fatal_at(__FILE__, __LINE__, "no stream moved for %d ms: %s", EXACT_STALL_MS, text);
}

/* Moves every stream until each sender has shut down and each receiver has seen EOF. */
static void exact_pump(struct stream *streams, unsigned int count, const struct exact_shape *shape)
{
	long long deadline = now_ms() + EXACT_SEND_SECONDS * 1000LL;
	unsigned char *expected = malloc(EXACT_CHUNK);
	struct pollfd pfds[EXACT_MAX_CONNECTIONS];
	unsigned int i, open;

	ASSERT_TRUE(expected != NULL);
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
		ready = poll(pfds, count, EXACT_STALL_MS);
		if (ready < 0 && errno == EINTR)
			continue;
		if (ready < 0)
			vsc_fatal_at(__FILE__, __LINE__, "poll() failed: %s", vsc_errname(errno));
		if (ready == 0)
			report_stall(streams, count);
		for (i = 0; i < count; i++) {
			if (!pfds[i].revents)
				continue;
			if (streams[i].sending)
				sender_step(&streams[i], shape, deadline);
			else
				receiver_step(&streams[i], expected);
		}
	}
	free(expected);
}

/*
 * Each sender's byte count and checksum go to the peer; each receiver compares its own with the
 * peer's. A located fault already explains a difference: only an unexplained one is reported.
 */
static void exact_compare(struct stream *streams, unsigned int count)
{
	char key[32];
	unsigned int i;

	for (i = 0; i < count; i++) {
		if (!streams[i].sending)
			continue;
		snprintf(key, sizeof(key), "bytes %u", streams[i].conn);
		vsc_send_value(key, streams[i].offset);
		snprintf(key, sizeof(key), "sum %u", streams[i].conn);
		vsc_send_value(key, vsc_exact_sum_value(&streams[i].sum));
	}
	for (i = 0; i < count; i++) {
		struct stream *s = &streams[i];
		uint64_t sent, sum;

		if (s->sending)
			continue;
		snprintf(key, sizeof(key), "bytes %u", s->conn);
		sent = vsc_recv_value(key);
		snprintf(key, sizeof(key), "sum %u", s->conn);
		sum = vsc_recv_value(key);
		vsc_diag("connection %u: %llu bytes received, %llu sent", s->conn,
			 (unsigned long long)s->received, (unsigned long long)sent);
		if (s->faulted)
			continue;
		if (s->received != sent)
			vsc_fail_at(__FILE__, __LINE__, "connection %u: %llu bytes arrived, all as sent, "
				    "but the sender sent %llu (%s %llu bytes at the end)", s->conn,
				    (unsigned long long)s->received, (unsigned long long)sent,
				    s->received < sent ? "lost" : "gained",
				    (unsigned long long)(s->received < sent ? sent - s->received :
							 s->received - sent));
		else if (vsc_exact_sum_value(&s->sum) != sum)
			vsc_fail_at(__FILE__, __LINE__, "connection %u: every byte matched the pattern "
				    "but the running checksum differs from the sender's (%#llx, sender "
				    "%#llx): the sender sent something else", s->conn,
				    (unsigned long long)vsc_exact_sum_value(&s->sum),
				    (unsigned long long)sum);
	}
}

static void exact_finish(struct stream *streams, unsigned int count)
{
	unsigned int i;

	/* Nobody closes before both sides have compared: a close must not cut a stream short. */
	vsc_signal("compared");
	vsc_wait("compared");
	for (i = 0; i < count; i++) {
		SAFE(close(streams[i].fd));
		free(streams[i].buf);
	}
}

static void exact_server(const struct vsc_env *env, const struct exact_shape *shape)
{
	struct stream streams[EXACT_MAX_CONNECTIONS];
	unsigned int i;
	int listener;

	ASSERT_TRUE(shape->connections <= EXACT_MAX_CONNECTIONS);
	listener = vsc_listen(SOCK_STREAM, env->port, (int)shape->connections);
	vsc_signal("listening");
	/* One connect at a time, so the accept order is the connection number. */
	for (i = 0; i < shape->connections; i++) {
		int fd;

		vsc_wait("connected");
		fd = SAFE(accept(listener, NULL, NULL));
		stream_init(&streams[i], fd, i, 0, shape);
		vsc_signal("accepted");
	}
	SAFE(close(listener));
	exact_pump(streams, shape->connections, shape);
	exact_compare(streams, shape->connections);
	exact_finish(streams, shape->connections);
}

static void exact_client(const struct vsc_env *env, const struct exact_shape *shape)
{
	struct stream streams[EXACT_MAX_CONNECTIONS];
	unsigned int i;

	ASSERT_TRUE(shape->connections <= EXACT_MAX_CONNECTIONS);
	vsc_wait("listening");
	for (i = 0; i < shape->connections; i++) {
		int fd = vsc_connect_to(SOCK_STREAM, env->peer_cid, env->port);

		vsc_signal("connected");
		vsc_wait("accepted");
		stream_init(&streams[i], fd, i, 1, shape);
	}
	exact_pump(streams, shape->connections, shape);
	exact_compare(streams, shape->connections);
	exact_finish(streams, shape->connections);
}

/* Four connections, two each way, 32 MiB each in 64 KiB writes. */
static const unsigned int whole_chunks[] = { 64u << 10, 0 };
static const struct exact_shape both_ways = {
	.connections = 4, .bytes_per_connection = 32u << 20, .write_sizes = whole_chunks,
};

static void both_ways_server(const struct vsc_env *env)
{
	exact_server(env, &both_ways);
}

static void both_ways_client(const struct vsc_env *env)
{
	exact_client(env, &both_ways);
}
VSC_CASE(stress_exact_both_ways, .sock_type = SOCK_STREAM,
	 .summary = "4 connections, 2 each way at once, 32 MiB each: every byte arrives once, in order "
		    "(a fault is located: connection, offset, what came instead)",
	 .server = both_ways_server, .client = both_ways_client, .timeout_s = EXACT_CASE_TIMEOUT_S);

/*
 * Write sizes that straddle word, page and packet boundaries (the 4 KiB rx buffers, the 64 KiB
 * packet payload limit), so the receiving side merges and splits at every alignment.
 */
static const unsigned int odd_sizes[] = { 1, 7, 9, 63, 4095, 4097, 65535, 65537, 131071, 3, 0 };
static const struct exact_shape odd_writes = {
	.connections = 2, .bytes_per_connection = 4u << 20, .write_sizes = odd_sizes,
};

static void odd_writes_server(const struct vsc_env *env)
{
	exact_server(env, &odd_writes);
}

static void odd_writes_client(const struct vsc_env *env)
{
	exact_client(env, &odd_writes);
}
VSC_CASE(stress_exact_odd_writes, .sock_type = SOCK_STREAM,
	 .summary = "2 connections, one each way, 4 MiB each in writes of 1 B to 128 KiB at every "
		    "alignment: every byte arrives once, in order",
	 .server = odd_writes_server, .client = odd_writes_client, .timeout_s = EXACT_CASE_TIMEOUT_S);
