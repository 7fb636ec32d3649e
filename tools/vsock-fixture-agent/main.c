/*
 * vsock-fixture-agent: runs in the guest under test and makes the socket calls a fixture asks
 * for. Requests on stdin, replies on stdout, one JSON object per line:
 *   {"id": N, "do": OP, ..., "async": true?} → {"id": N, "ret": R, "errno": "E..." | null,
 *   "port": P, ...}. An async call runs on a thread of its own and replies when it returns.
 * OPs: hello, bind, listen, connect, accept, send, recv, shutdown, close, setsockopt, getsockopt,
 * poll, diag, getsockname, reset, kmsg_mark, kmsg (testcases/fixtures/README.md).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "vsc.h"
#include "vsc_internal.h"

#define LINE_MAX_BYTES (4u << 20)
#define CALLS_MAX 64

pthread_mutex_t agent_lock = PTHREAD_MUTEX_INITIALIZER;
struct agent_sock agent_socks[AGENT_SOCKS_MAX];

struct async_call {
	pthread_t thread;
	int used;
	volatile int done;
	int orphan;			/* reset gave up on it: no reply */
	json_object *req;
	char sock[AGENT_NAME_MAX];
};

static struct async_call calls[CALLS_MAX];
static struct vsc_kmsg *kmsg;

static void reply_write(json_object *reply)
{
	const char *text = json_object_to_json_string_ext(reply, JSON_C_TO_STRING_PLAIN);
	size_t len = strlen(text), done = 0;

	/* Under the lock: lines from several threads never mix. */
	while (done < len) {
		ssize_t n = write(STDOUT_FILENO, text + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			exit(1);	/* the runner is gone */
		done += (size_t)n;
	}
	while (write(STDOUT_FILENO, "\n", 1) < 0 && errno == EINTR)
		;
}

static json_object *new_reply(json_object *req)
{
	json_object *reply = json_object_new_object(), *id;

	json_object_object_get_ex(req, "id", &id);
	json_object_object_add(reply, "id", json_object_get(id));
	return reply;
}

static void send_reply(json_object *reply)
{
	pthread_mutex_lock(&agent_lock);
	reply_write(reply);
	pthread_mutex_unlock(&agent_lock);
	json_object_put(reply);
}

static void *async_main(void *arg)
{
	struct async_call *c = arg;
	json_object *reply = new_reply(c->req), *what;
	int orphan;

	json_object_object_get_ex(c->req, "do", &what);
	agent_call(json_object_get_string(what), c->req, reply);
	pthread_mutex_lock(&agent_lock);
	orphan = c->orphan;
	if (!orphan)
		reply_write(reply);
	c->done = 1;
	pthread_mutex_unlock(&agent_lock);
	json_object_put(reply);
	if (orphan) {
		/* reset closed the table without this socket: close it now the call has ended. */
		pthread_mutex_lock(&agent_lock);
		for (int i = 0; i < AGENT_SOCKS_MAX; i++)
			if (agent_socks[i].fd >= 0 && agent_socks[i].orphan &&
			    !strcmp(agent_socks[i].name, c->sock)) {
				close(agent_socks[i].fd);
				agent_socks[i].fd = -1;
			}
		pthread_mutex_unlock(&agent_lock);
		json_object_put(c->req);
		c->req = NULL;
		pthread_mutex_lock(&agent_lock);
		c->used = 0;
		pthread_mutex_unlock(&agent_lock);
	}
	return NULL;
}

static int start_async(json_object *req)
{
	json_object *sock;

	pthread_mutex_lock(&agent_lock);
	for (int i = 0; i < CALLS_MAX; i++) {
		struct async_call *c = &calls[i];

		if (c->used)
			continue;
		memset(c, 0, sizeof(*c));
		c->used = 1;
		c->req = json_object_get(req);
		if (json_object_object_get_ex(req, "sock", &sock))
			snprintf(c->sock, sizeof(c->sock), "%s", json_object_get_string(sock));
		if (pthread_create(&c->thread, NULL, async_main, c) != 0) {
			json_object_put(c->req);
			c->used = 0;
			break;
		}
		pthread_mutex_unlock(&agent_lock);
		return 0;
	}
	pthread_mutex_unlock(&agent_lock);
	return -1;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/*
 * Ends every call and closes every socket. A blocked call is interrupted with SIGUSR1 (its
 * handler does nothing, installed without SA_RESTART: the call returns EINTR). One that still
 * has not ended after two seconds is left to close its socket when it returns.
 */
static void reset(void)
{
	for (int i = 0; i < CALLS_MAX; i++) {
		struct async_call *c = &calls[i];
		int waited = 0;

		if (!c->used || c->orphan)
			continue;
		while (!c->done && waited < 2000) {
			pthread_kill(c->thread, SIGUSR1);
			sleep_ms(20);
			waited += 20;
		}
		pthread_mutex_lock(&agent_lock);
		if (!c->done) {
			c->orphan = 1;
			for (int k = 0; k < AGENT_SOCKS_MAX; k++)
				if (agent_socks[k].fd >= 0 && !strcmp(agent_socks[k].name, c->sock))
					agent_socks[k].orphan = 1;
			pthread_detach(c->thread);
			pthread_mutex_unlock(&agent_lock);
			continue;
		}
		pthread_mutex_unlock(&agent_lock);
		pthread_join(c->thread, NULL);
		json_object_put(c->req);
		c->used = 0;
	}
	pthread_mutex_lock(&agent_lock);
	for (int i = 0; i < AGENT_SOCKS_MAX; i++)
		if (agent_socks[i].fd >= 0 && !agent_socks[i].orphan) {
			close(agent_socks[i].fd);
			agent_socks[i].fd = -1;
		}
	pthread_mutex_unlock(&agent_lock);
}

static void do_kmsg(json_object *reply)
{
	static char lines[16][VSC_TEXT_MAX];
	json_object *alarms = json_object_new_array();
	int n = kmsg ? vsc_kmsg_alarms(kmsg, lines, 16) : 0;

	for (int i = 0; i < n; i++)
		json_object_array_add(alarms, json_object_new_string(lines[i]));
	json_object_object_add(reply, "alarms", alarms);
	json_object_object_add(reply, "taint", json_object_new_int64((int64_t)vsc_taint_read()));
	if (kmsg)
		vsc_kmsg_mark(kmsg);
}

static void handle(json_object *req)
{
	json_object *reply = new_reply(req), *what, *async;
	const char *op;

	if (!json_object_object_get_ex(req, "do", &what) || !json_object_is_type(what, json_type_string)) {
		json_object_object_add(reply, "ret", json_object_new_int(-1));
		json_object_object_add(reply, "errno", json_object_new_string("EINVAL"));
		json_object_object_add(reply, "port", json_object_new_int(-1));
		send_reply(reply);
		return;
	}
	op = json_object_get_string(what);
	if (!strcmp(op, "hello") || !strcmp(op, "reset") || !strcmp(op, "kmsg_mark") ||
	    !strcmp(op, "kmsg")) {
		if (!strcmp(op, "hello")) {
			json_object_object_add(reply, "kernel", json_object_new_string(vsc_kernel_version_short()));
			json_object_object_add(reply, "release", json_object_new_string(vsc_kernel_release()));
		} else if (!strcmp(op, "reset")) {
			reset();
		} else if (!strcmp(op, "kmsg_mark")) {
			if (!kmsg)
				kmsg = vsc_kmsg_open();
			if (kmsg)
				vsc_kmsg_mark(kmsg);
			json_object_object_add(reply, "taint", json_object_new_int64((int64_t)vsc_taint_read()));
		} else {
			do_kmsg(reply);
		}
		json_object_object_add(reply, "ret", json_object_new_int(0));
		json_object_object_add(reply, "errno", NULL);
		json_object_object_add(reply, "port", json_object_new_int(-1));
		send_reply(reply);
		return;
	}
	if (json_object_object_get_ex(req, "async", &async) && json_object_get_boolean(async)) {
		/* Created here, before the thread runs, so getsockname sees the socket at once. */
		if (!strcmp(op, "connect") || !strcmp(op, "bind") || !strcmp(op, "listen")) {
			int err;

			agent_sock_open(req, &err);	/* a failure is the call's own to report */
		}
		if (start_async(req) == 0) {
			json_object_put(reply);
			return;
		}
		json_object_object_add(reply, "ret", json_object_new_int(-1));
		json_object_object_add(reply, "errno", json_object_new_string("EAGAIN"));
		json_object_object_add(reply, "port", json_object_new_int(-1));
		send_reply(reply);
		return;
	}
	agent_call(op, req, reply);
	send_reply(reply);
}

static void on_sigusr1(int sig)
{
	(void)sig;
}

int main(void)
{
	struct sigaction sa = { .sa_handler = on_sigusr1 };	/* no SA_RESTART */
	char *line = malloc(LINE_MAX_BYTES + 1);
	size_t len = 0;

	if (!line)
		return 1;
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	for (int i = 0; i < AGENT_SOCKS_MAX; i++)
		agent_socks[i].fd = -1;
	for (;;) {
		ssize_t n = read(STDIN_FILENO, line + len, LINE_MAX_BYTES - len);
		char *nl;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		while ((nl = memchr(line, '\n', len))) {
			json_object *req;

			*nl = '\0';
			req = json_tokener_parse(line);
			if (req && json_object_is_type(req, json_type_object) &&
			    json_object_object_get_ex(req, "id", NULL))
				handle(req);
			else
				fprintf(stderr, "vsock-fixture-agent: not a request: %.80s\n", line);
			json_object_put(req);
			len -= (size_t)(nl + 1 - line);
			memmove(line, nl + 1, len);
		}
		if (len == LINE_MAX_BYTES) {
			fprintf(stderr, "vsock-fixture-agent: a request longer than %u bytes\n", LINE_MAX_BYTES);
			return 1;
		}
	}
	reset();
	free(line);
	return 0;
}
