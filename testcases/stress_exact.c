/*
 * stress_exact.c: byte-exact stress. Several connections carry long streams both ways at once,
 * every 8-byte word naming its connection and offset (vsc_exact.h); each receiver checks every
 * 64 KiB chunk as it lands and, at the first wrong byte, says which connection, which offset, and
 * what came instead (lost, duplicated, reordered, another connection's or corrupt bytes). The
 * end compares byte counts and running checksums with the sender's over the peer channel. Bounded
 * by a byte count per connection and a number of seconds; a stream that stops moving is named.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vsc.h"
#include "vsc_exact.h"
#include "vsc_sock.h"

#define EXACT_SEND_SECONDS 20		/* senders stop at this, or at their byte count */
#define EXACT_STALL_MS 15000		/* no stream moved for this long: stuck */
#define EXACT_CASE_TIMEOUT_S 60		/* room for the sending time, a stall report and the end */

/* A run's shape, one per case. Even connections go client to server, odd ones the other way. */
struct exact_shape {
	unsigned int connections;
	uint64_t bytes_per_connection;
	const unsigned int *write_sizes;	/* cycled through by every sender; 0-terminated */
};

static void stream_init(struct vsc_exact_stream *s, int fd, unsigned int conn, int is_client,
			const struct exact_shape *shape)
{
	int client_sends = conn % 2 == 0;

	vsc_exact_stream_init(s, fd, conn, is_client == client_sends, shape->bytes_per_connection,
			      shape->write_sizes);
}

/*
 * Each sender's byte count and checksum go to the peer; each receiver compares its own with the
 * peer's. A located fault already explains a difference: only an unexplained one is reported.
 */
static void exact_compare(struct vsc_exact_stream *streams, unsigned int count)
{
	char key[32];
	unsigned int i;

	for (i = 0; i < count; i++) {
		if (!streams[i].sending)
			continue;
		if (streams[i].out_of_time)
			vsc_diag("connection %u: sent %llu bytes, stopped by the %d s bound",
				 streams[i].conn, (unsigned long long)streams[i].offset,
				 EXACT_SEND_SECONDS);
		snprintf(key, sizeof(key), "bytes %u", streams[i].conn);
		vsc_send_value(key, streams[i].offset);
		snprintf(key, sizeof(key), "sum %u", streams[i].conn);
		vsc_send_value(key, vsc_exact_sum_value(&streams[i].sum));
	}
	for (i = 0; i < count; i++) {
		struct vsc_exact_stream *s = &streams[i];
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
			vsc_fail_at(__FILE__, __LINE__, "%s", s->fault);
		else if (s->received != sent)
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

static void exact_finish(struct vsc_exact_stream *streams, unsigned int count)
{
	unsigned int i;

	/* Nobody closes before both sides have compared: a close must not cut a stream short. */
	vsc_signal("compared");
	vsc_wait("compared");
	for (i = 0; i < count; i++) {
		SAFE(close(streams[i].fd));
		vsc_exact_stream_free(&streams[i]);
	}
}

static void exact_server(const struct vsc_env *env, const struct exact_shape *shape)
{
	struct vsc_exact_stream streams[VSC_EXACT_MAX_STREAMS];
	unsigned int i;
	int listener;

	ASSERT_TRUE(shape->connections <= VSC_EXACT_MAX_STREAMS);
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
	vsc_exact_pump(streams, shape->connections, EXACT_SEND_SECONDS, EXACT_STALL_MS);
	exact_compare(streams, shape->connections);
	exact_finish(streams, shape->connections);
}

static void exact_client(const struct vsc_env *env, const struct exact_shape *shape)
{
	struct vsc_exact_stream streams[VSC_EXACT_MAX_STREAMS];
	unsigned int i;

	ASSERT_TRUE(shape->connections <= VSC_EXACT_MAX_STREAMS);
	vsc_wait("listening");
	for (i = 0; i < shape->connections; i++) {
		int fd = vsc_connect_to(SOCK_STREAM, env->peer_cid, env->port);

		vsc_signal("connected");
		vsc_wait("accepted");
		stream_init(&streams[i], fd, i, 1, shape);
	}
	vsc_exact_pump(streams, shape->connections, EXACT_SEND_SECONDS, EXACT_STALL_MS);
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
