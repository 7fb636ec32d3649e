/* run_state.h: what the threads of one run share: the deadline, counts, the stop flag. */
#ifndef SOCK_STRESS_RUN_STATE_H
#define SOCK_STRESS_RUN_STATE_H

#include <poll.h>
#include <stdatomic.h>

#include "stress.h"

/* One read or write that waits longer than this fails its connection (sock_stress: 60 s). */
#define STRESS_IO_TIMEOUT_MS 60000

struct run_state {
	const struct stress_options *o;
	const struct stress_addr *a;
	long long deadline_ms;		/* 0: no -t */
	atomic_long next_id;		/* client: the next connection to make */
	atomic_long ok, failed;
	atomic_llong bytes;		/* echoed, counted once per direction's byte */
	atomic_int stop;		/* -t ran out (or -e saw an error): no new connections */
};

/*
 * How long poll() may wait: the I/O timeout or what is left of the run; 0 with *why set when
 * the run's time is up.
 */
int stress_wait_ms(const struct run_state *rs, const char **why);

/* Waits for fd to be ready for events; 0, or -1 with err saying why (timeout, time limit). */
int stress_poll(const struct run_state *rs, int fd, short events, char *err, size_t err_size);

/* A connection failed: log it; with -e end the process (status 1). */
void stress_conn_failed(struct run_state *rs, long id, const char *what);

#endif
