/*
 * client.c: sock_stress's client. Each connection sends a random number of random bytes in
 * random chunks, half-closes, reads the echo back to EOF and compares SHA-256 digests of what
 * went out and what came back. -p threads share the -i connections.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "run_state.h"
#include "sha256.h"

/* xorshift64*: a fast generator per connection; the data only has to be hard to echo by luck. */
static uint64_t next_random(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dULL;
}

/* A number in [min, max]. */
static long pick(uint64_t *s, long min, long max)
{
	return min + (long)(next_random(s) % (uint64_t)(max - min + 1));
}

static void fill_random(uint64_t *s, unsigned char *buf, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = (unsigned char)(next_random(s) >> 56);
}

struct conn {
	struct run_state *rs;
	long id;
	int fd;
	long total;			/* bytes to send */
	long sent, received;
	int write_closed, eof;
	unsigned char *tx, *rx;		/* one chunk each */
	size_t tx_len, tx_done;		/* the chunk being written */
	struct sha256 tx_hash, rx_hash;
	uint64_t seed;
	char err[256];
};

/* Writes what it can of the current chunk, making the next one when it is done. */
static int send_some(struct conn *c)
{
	const struct stress_options *o = c->rs->o;
	ssize_t n;

	if (c->tx_done == c->tx_len) {
		c->tx_len = (size_t)pick(&c->seed, o->min_chunk, o->max_chunk);
		if ((long)c->tx_len > c->total - c->sent)
			c->tx_len = (size_t)(c->total - c->sent);
		fill_random(&c->seed, c->tx, c->tx_len);
		sha256_update(&c->tx_hash, c->tx, c->tx_len);
		c->tx_done = 0;
	}
	n = write(c->fd, c->tx + c->tx_done, c->tx_len - c->tx_done);
	if (n < 0 && errno == EAGAIN)
		return 0;
	if (n < 0) {
		snprintf(c->err, sizeof(c->err), "write after %ld of %ld bytes: %s", c->sent, c->total,
			 strerror(errno));
		return -1;
	}
	c->tx_done += (size_t)n;
	c->sent += n;
	return 0;
}

static int receive_some(struct conn *c)
{
	const struct stress_options *o = c->rs->o;
	ssize_t n = read(c->fd, c->rx, (size_t)pick(&c->seed, o->min_chunk, o->max_chunk));

	if (n < 0 && errno == EAGAIN)
		return 0;
	if (n < 0) {
		snprintf(c->err, sizeof(c->err), "read after %ld of %ld bytes: %s", c->received,
			 c->total, strerror(errno));
		return -1;
	}
	if (n == 0) {
		c->eof = 1;
		if (c->received < c->total) {
			snprintf(c->err, sizeof(c->err), "EOF after %ld of %ld bytes echoed",
				 c->received, c->total);
			return -1;
		}
		return 0;
	}
	if (c->received + n > c->total) {
		snprintf(c->err, sizeof(c->err), "%ld bytes echoed, %ld sent", c->received + n,
			 c->total);
		return -1;
	}
	sha256_update(&c->rx_hash, c->rx, (size_t)n);
	c->received += n;
	return 0;
}

/* Both ways at once: a client that wrote everything first could fill both buffers and stall. */
static int exchange(struct conn *c)
{
	while (!c->eof) {
		short events = POLLIN | (c->write_closed ? 0 : POLLOUT);

		if (stress_poll(c->rs, c->fd, events, c->err, sizeof(c->err))) {
			char why[256];

			snprintf(why, sizeof(why), "%s (sent %ld of %ld, echoed %ld)", c->err, c->sent,
				 c->total, c->received);
			snprintf(c->err, sizeof(c->err), "%s", why);
			return -1;
		}
		if (!c->write_closed && c->sent < c->total && send_some(c))
			return -1;
		if (!c->write_closed && c->sent == c->total) {
			if (shutdown(c->fd, SHUT_WR) < 0) {
				snprintf(c->err, sizeof(c->err), "shutdown(SHUT_WR) after %ld bytes: %s",
					 c->total, strerror(errno));
				return -1;
			}
			c->write_closed = 1;
		}
		if (receive_some(c))
			return -1;
	}
	return 0;
}

static int one_connection(struct run_state *rs, long id, unsigned char *tx, unsigned char *rx,
			  uint64_t seed)
{
	const struct stress_options *o = rs->o;
	struct conn c = { .rs = rs, .id = id, .tx = tx, .rx = rx, .seed = seed };
	uint8_t out_digest[SHA256_DIGEST_SIZE], back_digest[SHA256_DIGEST_SIZE];
	long long start = stress_now_ms();
	int status;

	c.fd = stress_connect(rs->a, c.err, sizeof(c.err));
	if (c.fd < 0) {
		stress_conn_failed(rs, id, c.err);
		return -1;
	}
	c.total = pick(&c.seed, o->min_len, o->max_len);
	if (o->verbose > 1)
		stress_log("[%05ld] send and receive %ld bytes in chunks of %ld to %ld", id, c.total,
			   o->min_chunk, o->max_chunk);
	sha256_init(&c.tx_hash);
	sha256_init(&c.rx_hash);
	fcntl(c.fd, F_SETFL, fcntl(c.fd, F_GETFL) | O_NONBLOCK);
	status = exchange(&c);
	close(c.fd);
	if (status == 0) {
		sha256_final(&c.tx_hash, out_digest);
		sha256_final(&c.rx_hash, back_digest);
		if (memcmp(out_digest, back_digest, sizeof(out_digest)) != 0) {
			snprintf(c.err, sizeof(c.err), "SHA-256 of the %ld bytes echoed differs from "
				 "what was sent", c.total);
			status = -1;
		}
	}
	if (status) {
		stress_conn_failed(rs, id, c.err);
		return -1;
	}
	atomic_fetch_add(&rs->ok, 1);
	atomic_fetch_add(&rs->bytes, (long long)c.total);
	if (o->verbose > 0)
		stress_log("[%05ld] TX/RX: %10ld bytes in %10lld ms", id, c.total,
			   stress_now_ms() - start);
	return 0;
}

/* -w: sleep between connections, no further than the run's deadline. */
static void pause_between(const struct run_state *rs)
{
	long long ms = rs->o->wait_s * 1000LL;
	struct timespec ts;

	if (rs->deadline_ms && rs->deadline_ms - stress_now_ms() < ms)
		ms = rs->deadline_ms - stress_now_ms();
	if (ms <= 0)
		return;
	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000;
	nanosleep(&ts, NULL);
}

struct worker {
	struct run_state *rs;
	uint64_t seed;
	pthread_t thread;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct run_state *rs = w->rs;
	const struct stress_options *o = rs->o;
	unsigned char *tx = malloc((size_t)o->max_chunk), *rx = malloc((size_t)o->max_chunk);
	long id;

	if (!tx || !rx) {
		stress_log("out of memory for two %ld-byte chunks (-b)", o->max_chunk);
		exit(STRESS_EXIT_FAILED);
	}
	while (!atomic_load(&rs->stop) &&
	       (id = atomic_fetch_add(&rs->next_id, 1)) < o->connections) {
		if (one_connection(rs, id, tx, rx, w->seed ^ ((uint64_t)id * 0x9e3779b97f4a7c15ULL)) &&
		    rs->deadline_ms && stress_now_ms() >= rs->deadline_ms)
			atomic_store(&rs->stop, 1);
		if (o->wait_s && id + 1 < o->connections)
			pause_between(rs);
	}
	free(tx);
	free(rx);
	return NULL;
}

int stress_client(const struct stress_options *o, const struct stress_addr *a)
{
	struct run_state rs = { .o = o, .a = a };
	struct worker *workers = calloc((size_t)o->parallel, sizeof(*workers));
	long long start = stress_now_ms();
	uint64_t seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	long i, done;
	int e;

	if (!workers) {
		stress_log("out of memory for %ld clients (-p)", o->parallel);
		return STRESS_EXIT_FAILED;
	}
	if (o->time_limit_s)
		rs.deadline_ms = start + o->time_limit_s * 1000;
	if (o->verbose > 0)
		stress_log("client connecting to %s (seed %#llx)", a->text, (unsigned long long)seed);
	for (i = 0; i < o->parallel; i++) {
		workers[i] = (struct worker){ .rs = &rs, .seed = seed + (uint64_t)i };
		e = pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]);
		if (e) {
			stress_log("pthread_create for client %ld of %ld (-p): %s", i + 1, o->parallel,
				   strerror(e));
			exit(STRESS_EXIT_FAILED);
		}
	}
	for (i = 0; i < o->parallel; i++)
		pthread_join(workers[i].thread, NULL);
	free(workers);
	done = atomic_load(&rs.ok) + atomic_load(&rs.failed);
	if (done < o->connections)
		stress_log("client %s: the time limit (-t %ld) ran out after %ld of %ld connections",
			   a->text, o->time_limit_s, done, o->connections);
	printf("sock-stress: client %s connections=%ld ok=%ld failed=%ld bytes=%lld ms=%lld\n",
	       a->text, o->connections, atomic_load(&rs.ok), atomic_load(&rs.failed),
	       atomic_load(&rs.bytes), stress_now_ms() - start);
	return atomic_load(&rs.ok) == o->connections ? 0 : STRESS_EXIT_FAILED;
}
