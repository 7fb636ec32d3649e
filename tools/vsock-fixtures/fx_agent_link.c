/*
 * fx_agent_link.c: the runner's side of the agent protocol: one JSON object per line each way,
 * requests carry "id", replies may come out of order (async calls) and are kept until asked for.
 * Writing also drains replies, so neither side can block the other with a long line.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fx_agent_link.h"
#include "fx_engine.h"

#define LINE_MAX_BYTES (4u << 20)	/* a recv of 1 MiB is 2 MiB of hex */
#define KEPT_MAX 64

struct fx_agent {
	int in, out;
	long next_id;
	char *buf;
	size_t len;
	struct {
		long id;
		json_object *reply;
	} kept[KEPT_MAX];
	int n_kept;
	char broken[160];		/* why the link is unusable, "" while it works */
};

struct fx_agent *fx_agent_new(int in, int out)
{
	struct fx_agent *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->buf = malloc(LINE_MAX_BYTES);
	if (!a->buf) {
		free(a);
		return NULL;
	}
	a->in = in;
	a->out = out;
	a->next_id = 1;
	fcntl(in, F_SETFL, fcntl(in, F_GETFL) | O_NONBLOCK);
	fcntl(out, F_SETFL, fcntl(out, F_GETFL) | O_NONBLOCK);
	return a;
}

void fx_agent_free(struct fx_agent *a)
{
	if (!a)
		return;
	for (int i = 0; i < a->n_kept; i++)
		json_object_put(a->kept[i].reply);
	free(a->buf);
	free(a);
}

const char *fx_agent_broken(const struct fx_agent *a)
{
	return a->broken[0] ? a->broken : NULL;
}

static void keep_line(struct fx_agent *a, const char *line)
{
	json_object *reply = json_tokener_parse(line), *id;

	if (!reply || !json_object_is_type(reply, json_type_object) ||
	    !json_object_object_get_ex(reply, "id", &id) || !json_object_is_type(id, json_type_int)) {
		snprintf(a->broken, sizeof(a->broken), "the agent wrote a line that is no reply: %.80s",
			 line);
		json_object_put(reply);
		return;
	}
	if (a->n_kept == KEPT_MAX) {
		snprintf(a->broken, sizeof(a->broken), "more than %d agent replies nobody asked for",
			 KEPT_MAX);
		json_object_put(reply);
		return;
	}
	a->kept[a->n_kept].id = (long)json_object_get_int64(id);
	a->kept[a->n_kept++].reply = reply;
}

/* Reads what is there; splits lines. -1 when the link broke. */
static int read_some(struct fx_agent *a)
{
	ssize_t n = read(a->in, a->buf + a->len, LINE_MAX_BYTES - a->len);
	char *nl;

	if (n == 0) {
		snprintf(a->broken, sizeof(a->broken), "the agent closed its output");
		return -1;
	}
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : (snprintf(a->broken, sizeof(a->broken),
			"reading from the agent: %s", strerror(errno)), -1);
	a->len += (size_t)n;
	while ((nl = memchr(a->buf, '\n', a->len))) {
		*nl = '\0';
		keep_line(a, a->buf);
		a->len -= (size_t)(nl + 1 - a->buf);
		memmove(a->buf, nl + 1, a->len);
	}
	if (a->len == LINE_MAX_BYTES) {
		snprintf(a->broken, sizeof(a->broken), "an agent line longer than %u bytes", LINE_MAX_BYTES);
		return -1;
	}
	return a->broken[0] ? -1 : 0;
}

/*
 * write() that turns a gone agent into EPIPE instead of killing the engine with SIGPIPE: the
 * signal is blocked for this thread around the call and a pending one taken back, so the
 * process's own disposition stays as the engine set it.
 */
static ssize_t write_nosigpipe(int fd, const void *buf, size_t len)
{
	static const struct timespec now = { 0, 0 };
	sigset_t pipe_set, old;
	ssize_t n;
	int err;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	n = write(fd, buf, len);
	err = errno;
	if (n < 0 && err == EPIPE && !sigismember(&old, SIGPIPE))
		while (sigtimedwait(&pipe_set, NULL, &now) < 0 && errno == EINTR)
			;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	errno = err;
	return n;
}

static int write_line(struct fx_agent *a, const char *text, size_t len, uint64_t deadline)
{
	size_t done = 0;

	while (done < len) {
		struct pollfd p[2] = { { a->out, POLLOUT, 0 }, { a->in, POLLIN, 0 } };
		uint64_t now = fx_now_ms();
		int rc;

		if (now >= deadline) {
			snprintf(a->broken, sizeof(a->broken), "the agent took no request for too long");
			return -1;
		}
		rc = poll(p, 2, (int)(deadline - now));
		if (rc < 0 && errno != EINTR)
			return -1;
		if (p[1].revents && read_some(a))
			return -1;
		if (p[0].revents & (POLLERR | POLLHUP)) {
			snprintf(a->broken, sizeof(a->broken), "the agent closed its input");
			return -1;
		}
		if (p[0].revents & POLLOUT) {
			ssize_t n = write_nosigpipe(a->out, text + done, len - done);

			if (n < 0 && errno != EAGAIN && errno != EINTR) {
				snprintf(a->broken, sizeof(a->broken), "writing to the agent: %s",
					 strerror(errno));
				return -1;
			}
			if (n > 0)
				done += (size_t)n;
		}
	}
	return 0;
}

long fx_agent_send(struct fx_agent *a, json_object *req, char *why, size_t why_size)
{
	long id = a->next_id++;
	const char *text;
	char *line;
	size_t len;
	int rc;

	if (a->broken[0]) {
		snprintf(why, why_size, "%s", a->broken);
		json_object_put(req);
		return -1;
	}
	json_object_object_add(req, "id", json_object_new_int64(id));
	text = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
	len = strlen(text);
	line = malloc(len + 2);
	if (!line) {
		json_object_put(req);
		snprintf(why, why_size, "out of memory");
		return -1;
	}
	memcpy(line, text, len);
	line[len++] = '\n';
	json_object_put(req);
	rc = write_line(a, line, len, fx_now_ms() + 10000);
	free(line);
	if (rc) {
		snprintf(why, why_size, "%s", a->broken[0] ? a->broken : "writing to the agent failed");
		return -1;
	}
	return id;
}

int fx_agent_wait(struct fx_agent *a, long id, uint64_t deadline, json_object **reply, char *why,
		  size_t why_size)
{
	for (;;) {
		struct pollfd p = { a->in, POLLIN, 0 };
		uint64_t now;

		for (int i = 0; i < a->n_kept; i++)
			if (a->kept[i].id == id) {
				*reply = a->kept[i].reply;
				a->kept[i] = a->kept[--a->n_kept];
				return 1;
			}
		if (a->broken[0]) {
			snprintf(why, why_size, "%s", a->broken);
			return -1;
		}
		now = fx_now_ms();
		if (now >= deadline)
			return 0;
		if (poll(&p, 1, (int)(deadline - now)) > 0 && read_some(a)) {
			snprintf(why, why_size, "%s", a->broken);
			return -1;
		}
	}
}

void fx_agent_forget(struct fx_agent *a)
{
	for (int i = 0; i < a->n_kept; i++)
		json_object_put(a->kept[i].reply);
	a->n_kept = 0;
}
