/*
 * unit_agent.c: the fake kernel's agent: the agent protocol (testcases/fixtures/README.md) over
 * pipes, answered from the fake's model instead of real sockets.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "unit_fake.h"

struct fake_agent {
	struct fake *f;
	int in, out;
	pthread_t thread;
	pthread_mutex_t write_lock;
	int waiters;			/* connect waiters still running (under write_lock) */
};

static void reply_send(struct fake_agent *a, json_object *reply)
{
	const char *text = json_object_to_json_string_ext(reply, JSON_C_TO_STRING_PLAIN);

	pthread_mutex_lock(&a->write_lock);
	if (write(a->out, text, strlen(text)) < 0 || write(a->out, "\n", 1) < 0)
		perror("fake agent: write");
	pthread_mutex_unlock(&a->write_lock);
	json_object_put(reply);
}

static const char *str(json_object *req, const char *key)
{
	json_object *e;

	return json_object_object_get_ex(req, key, &e) ? json_object_get_string(e) : "";
}

static int64_t num(json_object *req, const char *key)
{
	json_object *e;

	return json_object_object_get_ex(req, key, &e) ? json_object_get_int64(e) : -1;
}

static void result(json_object *reply, long ret, const char *err, long port)
{
	json_object_object_add(reply, "ret", json_object_new_int64(ret));
	json_object_object_add(reply, "errno", err ? json_object_new_string(err) : NULL);
	json_object_object_add(reply, "port", json_object_new_int64(port));
}

static long port_of(struct fake *f, const char *sock)
{
	if (f->listener[0] && !strcmp(sock, f->listener))
		return f->listen_port;
	if (f->client[0] && !strcmp(sock, f->client))
		return FAKE_EPHEMERAL_PORT;
	if (f->conn_name[0] && !strcmp(sock, f->conn_name))
		return f->kernel_port;
	return -1;
}

struct pending_connect {
	struct fake_agent *a;
	json_object *reply;
};

/* A blocking connect: replies once the engine answered the REQUEST (or after 3 s). */
static void *connect_waiter(void *arg)
{
	struct pending_connect *p = arg;
	struct fake *f = p->a->f;
	int done = 0;

	for (int i = 0; i < 3000 && !done; i++) {
		struct timespec ms = { 0, 1000000 };

		nanosleep(&ms, NULL);
		pthread_mutex_lock(&f->lock);
		done = f->established;
		pthread_mutex_unlock(&f->lock);
	}
	result(p->reply, done ? 0 : -1, done ? NULL : "ETIMEDOUT", FAKE_EPHEMERAL_PORT);
	reply_send(p->a, p->reply);
	pthread_mutex_lock(&p->a->write_lock);
	p->a->waiters--;
	pthread_mutex_unlock(&p->a->write_lock);
	free(p);
	return NULL;
}

static void handle(struct fake_agent *a, json_object *req)
{
	struct fake *f = a->f;
	json_object *reply = json_object_new_object(), *id, *e;
	const char *what = str(req, "do"), *sock = str(req, "sock");

	json_object_object_get_ex(req, "id", &id);
	json_object_object_add(reply, "id", json_object_get(id));
	pthread_mutex_lock(&f->lock);
	if (!strcmp(what, "hello")) {
		json_object_object_add(reply, "kernel", json_object_new_string(f->cfg.kernel));
		json_object_object_add(reply, "release", json_object_new_string("fake"));
		result(reply, 0, NULL, -1);
	} else if (!strcmp(what, "kmsg_mark")) {
		json_object_object_add(reply, "taint", json_object_new_int(0));
		result(reply, 0, NULL, -1);
	} else if (!strcmp(what, "kmsg")) {
		json_object *alarms = json_object_new_array();

		if (f->cfg.alarm)
			json_object_array_add(alarms, json_object_new_string(f->cfg.alarm));
		json_object_object_add(reply, "alarms", alarms);
		json_object_object_add(reply, "taint", json_object_new_int(0));
		result(reply, 0, NULL, -1);
	} else if (!strcmp(what, "reset")) {
		f->listener[0] = f->conn_name[0] = f->client[0] = '\0';
		result(reply, 0, NULL, -1);
	} else if (!strcmp(what, "listen")) {
		snprintf(f->listener, sizeof(f->listener), "%s", sock);
		f->listen_port = (uint32_t)num(req, "port");
		result(reply, 0, NULL, f->listen_port);
	} else if (!strcmp(what, "accept")) {
		if (strcmp(sock, f->listener) || !f->established) {
			result(reply, -1, "EAGAIN", -1);
		} else {
			snprintf(f->conn_name, sizeof(f->conn_name), "%s", str(req, "as"));
			json_object_object_add(reply, "peer_cid", json_object_new_int64((int64_t)f->engine_cid));
			json_object_object_add(reply, "peer_port", json_object_new_int64(f->engine_port));
			result(reply, 0, NULL, f->kernel_port);
		}
	} else if (!strcmp(what, "connect")) {
		snprintf(f->client, sizeof(f->client), "%s", sock);
		snprintf(f->conn_name, sizeof(f->conn_name), "%s", sock);
		f->connecting = 1;
		f->established = 0;
		fake_emit(f, FX_OP_REQUEST, FAKE_EPHEMERAL_PORT, (uint32_t)num(req, "port"), 0, NULL, 0);
		if (json_object_object_get_ex(req, "nonblock", &e) && json_object_get_boolean(e)) {
			result(reply, -1, "EINPROGRESS", FAKE_EPHEMERAL_PORT);
		} else {
			struct pending_connect *p = malloc(sizeof(*p));
			pthread_t t;

			p->a = a;
			p->reply = reply;
			pthread_mutex_lock(&a->write_lock);
			a->waiters++;
			pthread_mutex_unlock(&a->write_lock);
			pthread_create(&t, NULL, connect_waiter, p);
			pthread_detach(t);
			pthread_mutex_unlock(&f->lock);
			return;
		}
	} else if (!strcmp(what, "getsockname")) {
		long port = port_of(f, sock);

		result(reply, port < 0 ? -1 : 0, port < 0 ? "EBADF" : NULL, port);
	} else if (!strcmp(what, "recv")) {
		uint32_t n = (uint32_t)num(req, "len");
		char *hex;

		if (n > f->rx_queued)
			n = f->rx_queued;
		hex = calloc(1, 2 * n + 1);
		for (uint32_t i = 0; i < n; i++)
			memcpy(hex + 2 * i, "41", 2);	/* the tests send 'A's */
		f->rx_queued -= n;
		f->fwd_cnt += n;
		json_object_object_add(reply, "hex", json_object_new_string(hex));
		json_object_object_add(reply, "msg_flags", json_object_new_int(0));
		free(hex);
		result(reply, n, NULL, port_of(f, sock));
		if (n)	/* as virtio_transport_stream_do_dequeue(): rx_bytes below SO_RCVLOWAT */
			fake_emit(f, FX_OP_CREDIT_UPDATE, f->kernel_port, f->engine_port, 0, NULL, 0);
	} else if (!strcmp(what, "send")) {
		const char *hex = str(req, "hex");
		size_t len = strlen(hex) / 2;
		uint8_t buf[256];
		uint32_t credit = f->peer_buf_alloc - (f->tx_cnt - f->peer_fwd_cnt);

		if (len > sizeof(buf))
			len = sizeof(buf);
		for (size_t i = 0; i < len; i++) {
			unsigned int b;

			sscanf(hex + 2 * i, "%2x", &b);
			buf[i] = (uint8_t)b;
		}
		if (len > credit && !f->cfg.rw_beyond_credit)
			len = credit;
		f->tx_cnt += (uint32_t)len;
		fake_emit(f, FX_OP_RW, f->kernel_port, f->engine_port, 0, buf, len);
		result(reply, (long)len, NULL, port_of(f, sock));
	} else if (!strcmp(what, "setsockopt")) {
		if (!strcmp(str(req, "opt"), "SO_VM_SOCKETS_BUFFER_SIZE")) {
			f->buf_alloc = (uint32_t)num(req, "value");
			fake_emit(f, FX_OP_CREDIT_UPDATE, f->kernel_port, f->engine_port, 0, NULL, 0);
		}
		result(reply, 0, NULL, port_of(f, sock));
	} else if (!strcmp(what, "poll")) {
		json_object_object_add(reply, "revents", json_object_new_int(f->established ? POLLOUT : 0));
		json_object_object_add(reply, "so_error", json_object_new_int(0));
		result(reply, f->established, NULL, port_of(f, sock));
	} else if (!strcmp(what, "diag")) {
		json_object *d = json_object_new_object();

		json_object_object_add(d, "state", json_object_new_string(f->established ? "ESTABLISHED" : "CLOSE"));
		json_object_object_add(d, "shutdown", json_object_new_int(0));
		json_object_object_add(d, "rqueue", json_object_new_int64(f->rx_queued));
		json_object_object_add(d, "wqueue", json_object_new_int(0));
		json_object_object_add(reply, "diag", d);
		result(reply, 0, NULL, port_of(f, sock));
	} else {
		result(reply, 0, NULL, port_of(f, sock));
	}
	pthread_mutex_unlock(&f->lock);
	reply_send(a, reply);
}

static void *agent_main(void *arg)
{
	struct fake_agent *a = arg;
	static char line[1 << 16];
	size_t len = 0;

	for (;;) {
		ssize_t n = read(a->in, line + len, sizeof(line) - 1 - len);
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
			if (req)
				handle(a, req);
			json_object_put(req);
			len -= (size_t)(nl + 1 - line);
			memmove(line, nl + 1, len);
		}
	}
	close(a->in);
	return NULL;
}

struct fake_agent *fake_agent_start(struct fake *f, int *to_agent, int *from_agent)
{
	int req[2], rep[2];
	struct fake_agent *a = calloc(1, sizeof(*a));

	if (!a || pipe(req) || pipe(rep)) {
		free(a);
		return NULL;
	}
	a->f = f;
	a->in = req[0];
	a->out = rep[1];
	pthread_mutex_init(&a->write_lock, NULL);
	*to_agent = req[1];
	*from_agent = rep[0];
	if (pthread_create(&a->thread, NULL, agent_main, a)) {
		free(a);
		return NULL;
	}
	return a;
}

void fake_agent_stop(struct fake_agent *a)
{
	int waiters;

	pthread_join(a->thread, NULL);
	do {	/* a connect waiter answers within 3 s */
		struct timespec ms = { 0, 1000000 };

		pthread_mutex_lock(&a->write_lock);
		waiters = a->waiters;
		pthread_mutex_unlock(&a->write_lock);
		if (waiters)
			nanosleep(&ms, NULL);
	} while (waiters);
	close(a->out);
	pthread_mutex_destroy(&a->write_lock);
	free(a);
}
