/*
 * server.c: sock_stress's echo server: a thread per connection copies what it reads back until
 * EOF, then closes. With -i N it stops accepting after N connections and exits once they are
 * echoed; without, it serves until killed (as sock_stress). -t bounds either.
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

#define ECHO_BUF_SIZE (64 * 1024)

static pthread_mutex_t active_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t active_done = PTHREAD_COND_INITIALIZER;
static long active;

struct echo {
	struct run_state *rs;
	long id;
	int fd;
};

/* Writes all of buf; 0, or -1 with err. */
static int write_all(struct run_state *rs, int fd, const char *buf, size_t len, char *err,
		     size_t err_size)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EAGAIN) {
			if (stress_poll(rs, fd, POLLOUT, err, err_size))
				return -1;
			continue;
		}
		if (n < 0) {
			snprintf(err, err_size, "write: %s", strerror(errno));
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static int echo_all(struct echo *e, long long *echoed, char *err, size_t err_size)
{
	char *buf = malloc(ECHO_BUF_SIZE);
	int status = -1;

	if (!buf) {
		snprintf(err, err_size, "out of memory for a %d-byte buffer", ECHO_BUF_SIZE);
		return -1;
	}
	for (;;) {
		ssize_t n = read(e->fd, buf, ECHO_BUF_SIZE);

		if (n < 0 && errno == EAGAIN) {
			if (stress_poll(e->rs, e->fd, POLLIN, err, err_size))
				break;
			continue;
		}
		if (n < 0) {
			snprintf(err, err_size, "read after %lld bytes: %s", *echoed, strerror(errno));
			break;
		}
		if (n == 0) {
			/* The client's half-close: ours tells it the echo is complete. */
			if (shutdown(e->fd, SHUT_WR) < 0)
				snprintf(err, err_size, "shutdown(SHUT_WR) after %lld bytes: %s",
					 *echoed, strerror(errno));
			else
				status = 0;
			break;
		}
		if (write_all(e->rs, e->fd, buf, (size_t)n, err, err_size))
			break;
		*echoed += n;
	}
	free(buf);
	return status;
}

static void *echo_main(void *arg)
{
	struct echo *e = arg;
	struct run_state *rs = e->rs;
	long long start = stress_now_ms(), echoed = 0;
	char err[256];

	if (echo_all(e, &echoed, err, sizeof(err)) == 0) {
		atomic_fetch_add(&rs->ok, 1);
		atomic_fetch_add(&rs->bytes, echoed);
		if (rs->o->verbose > 0)
			stress_log("[%05ld] ECHOED: %10lld bytes in %10lld ms", e->id, echoed,
				   stress_now_ms() - start);
	} else {
		stress_conn_failed(rs, e->id, err);
	}
	close(e->fd);
	free(e);
	pthread_mutex_lock(&active_lock);
	active--;
	pthread_cond_signal(&active_done);
	pthread_mutex_unlock(&active_lock);
	return NULL;
}

static int start_echo(struct run_state *rs, long id, int fd)
{
	struct echo *e = malloc(sizeof(*e));
	pthread_attr_t attr;
	pthread_t thread;
	int err;

	if (!e) {
		stress_conn_failed(rs, id, "out of memory for a connection");
		close(fd);
		return -1;
	}
	*e = (struct echo){ .rs = rs, .id = id, .fd = fd };
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_mutex_lock(&active_lock);
	active++;
	pthread_mutex_unlock(&active_lock);
	err = pthread_create(&thread, &attr, echo_main, e);
	pthread_attr_destroy(&attr);
	if (err) {
		pthread_mutex_lock(&active_lock);
		active--;
		pthread_mutex_unlock(&active_lock);
		stress_conn_failed(rs, id, strerror(err));
		close(fd);
		free(e);
		return -1;
	}
	return 0;
}

/* Waits for the echo threads; 0, or -1 when -t ran out first. */
static int wait_for_echoes(struct run_state *rs)
{
	pthread_mutex_lock(&active_lock);
	while (active > 0) {
		struct timespec until;
		long long left = rs->deadline_ms ? rs->deadline_ms - stress_now_ms() : 1000;

		if (left <= 0) {
			pthread_mutex_unlock(&active_lock);
			return -1;
		}
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += left / 1000;
		until.tv_nsec += (left % 1000) * 1000000;
		if (until.tv_nsec >= 1000000000) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&active_done, &active_lock, &until);
	}
	pthread_mutex_unlock(&active_lock);
	return 0;
}

int stress_server(const struct stress_options *o, const struct stress_addr *a)
{
	struct run_state rs = { .o = o, .a = a };
	long long start = stress_now_ms();
	char err[256];
	long id;
	int fd;

	if (o->time_limit_s)
		rs.deadline_ms = start + o->time_limit_s * 1000;
	fd = stress_listen(a, err, sizeof(err));
	if (fd < 0) {
		stress_log("server: %s", err);
		return STRESS_EXIT_FAILED;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	/* Cases wait for this line before they start a client. */
	stress_log("server listening on %s", a->text);
	for (id = 0; !o->count_given || id < o->connections; id++) {
		int conn;

		for (;;) {
			conn = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
			if (conn >= 0 || (errno != EAGAIN && errno != EINTR))
				break;
			/* No deadline: wait on; stress_poll's 60 s is only a wake-up then. */
			if (stress_poll(&rs, fd, POLLIN, err, sizeof(err)) && rs.deadline_ms) {
				stress_log("server %s: %s after %ld connections", a->text, err, id);
				return STRESS_EXIT_FAILED;
			}
		}
		if (conn < 0) {
			stress_log("server: accept on %s: %s", a->text, strerror(errno));
			return STRESS_EXIT_FAILED;
		}
		if (o->verbose > 1)
			stress_log("[%05ld] accepted", id);
		start_echo(&rs, id, conn);
	}
	close(fd);
	if (wait_for_echoes(&rs)) {
		stress_log("server %s: the time limit (-t %ld) ran out with connections still echoing",
			   a->text, o->time_limit_s);
		return STRESS_EXIT_FAILED;
	}
	printf("sock-stress: server %s connections=%ld ok=%ld failed=%ld bytes=%lld ms=%lld\n",
	       a->text, id, atomic_load(&rs.ok), atomic_load(&rs.failed), atomic_load(&rs.bytes),
	       stress_now_ms() - start);
	return atomic_load(&rs.failed) ? STRESS_EXIT_FAILED : 0;
}
