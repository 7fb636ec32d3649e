/* vu_conn.c: the connection table of a VM, and the guest->stream direction with its held bytes. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vu_conn.h"
#include "vu_vm.h"

/* Connections dropped during a batch of events: freed after it, since a later event of the
 * same batch may still name them. */
static struct vu_conn *graveyard[VU_CONN_MAX * 4];
static int graveyard_count;

void vu_conn_table_init(struct vu_conn_table *t)
{
	memset(t, 0, sizeof(*t));
	t->work.work_next = t->work.work_prev = &t->work;
	t->port_cursor = VU_HOST_PORT_FIRST;
}

static unsigned int hash_of(uint32_t guest_port, uint32_t host_port)
{
	return (guest_port * 2654435761u ^ host_port) % VU_CONN_HASH;
}

struct vu_conn *vu_conn_new(struct vu_vm *vm, int fd, void (*on_event)(struct vu_watch *, uint32_t))
{
	struct vu_conn_table *t = &vm->conns;
	struct vu_conn *c;
	int slot;

	if (t->count == VU_CONN_MAX)
		return NULL;
	for (slot = 0; t->slots[slot]; slot++)
		;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->watch.on_event = on_event;
	c->vm = vm;
	c->fd = fd;
	c->slot = slot;
	c->credit.peer_buf_alloc = 0;
	if (vu_loop_add(fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, &c->watch) != 0) {
		free(c);
		return NULL;
	}
	t->slots[slot] = c;
	t->count++;
	return c;
}

void vu_conn_hash(struct vu_conn *c, uint32_t guest_port, uint32_t host_port)
{
	struct vu_conn **head = &c->vm->conns.hash[hash_of(guest_port, host_port)];

	c->guest_port = guest_port;
	c->host_port = host_port;
	c->hash_next = *head;
	*head = c;
	c->hashed = 1;
}

static void unhash(struct vu_conn *c)
{
	struct vu_conn **p = &c->vm->conns.hash[hash_of(c->guest_port, c->host_port)];

	if (!c->hashed)
		return;
	while (*p != c)
		p = &(*p)->hash_next;
	*p = c->hash_next;
	c->hashed = 0;
}

struct vu_conn *vu_conn_find(struct vu_conn_table *t, uint32_t guest_port, uint32_t host_port)
{
	struct vu_conn *c = t->hash[hash_of(guest_port, host_port)];

	while (c && (c->guest_port != guest_port || c->host_port != host_port))
		c = c->hash_next;
	return c;
}

int vu_conn_host_port_in_use(void *table, uint32_t port)
{
	struct vu_conn_table *t = table;
	int i, seen = 0;

	for (i = 0; i < VU_CONN_MAX && seen < t->count; i++) {
		if (!t->slots[i])
			continue;
		seen++;
		if (t->slots[i]->host_port == port)
			return 1;
	}
	return 0;
}

void vu_conn_wake(struct vu_conn *c)
{
	struct vu_conn *head = &c->vm->conns.work;

	if (c->working || c->dead)
		return;
	c->working = 1;
	c->work_prev = head->work_prev;
	c->work_next = head;
	head->work_prev->work_next = c;
	head->work_prev = c;
}

void vu_conn_unwork(struct vu_conn *c)
{
	if (!c->working)
		return;
	c->work_prev->work_next = c->work_next;
	c->work_next->work_prev = c->work_prev;
	c->working = 0;
}

void vu_conn_owe(struct vu_conn *c, uint32_t what)
{
	c->owed |= what;
	vu_conn_wake(c);
}

/*
 * A Unix stream closed over bytes it never read gives its peer ECONNRESET; a vsock socket whose
 * peer shut down or reset reads EOF (virtio_transport_do_close() sets no error) and loses what
 * it had sent. So: no more from the host program (its sends fail with EPIPE from here on, as
 * vsock's do after the peer's SHUTDOWN RCV), then what is queued is read and dropped.
 */
static void discard_unread(int fd)
{
	char scrap[4096];
	ssize_t n;

	shutdown(fd, SHUT_RD);
	do
		n = recv(fd, scrap, sizeof(scrap), MSG_DONTWAIT);
	while (n > 0 || (n < 0 && errno == EINTR));
}

static void close_stream(struct vu_conn *c)
{
	if (c->fd < 0)
		return;
	vu_loop_del(c->fd);
	discard_unread(c->fd);
	close(c->fd);
	c->fd = -1;
	free(c->held);
	c->held = NULL;
	if (c->state == VU_CONN_WAIT_RESPONSE)
		c->vm->conns.waiting--;
}

void vu_conn_reset(struct vu_conn *c)
{
	close_stream(c);
	unhash(c);
	c->state = VU_CONN_CLOSING;
	c->owed = 0;
	vu_conn_owe(c, VU_OWE_RST);
}

void vu_conn_drop(struct vu_conn *c)
{
	struct vu_conn_table *t = &c->vm->conns;

	if (c->dead)
		return;
	close_stream(c);
	unhash(c);
	vu_conn_unwork(c);
	t->slots[c->slot] = NULL;
	t->count--;
	c->dead = 1;
	if (graveyard_count < (int)(sizeof(graveyard) / sizeof(graveyard[0])))
		graveyard[graveyard_count++] = c;
	/* else: leak one struct rather than free what a pending event may still name */
}

void vu_conn_reap(void)
{
	while (graveyard_count)
		free(graveyard[--graveyard_count]);
}

/* The held ring as up to two spans starting at its head. */
static int held_spans(const struct vu_conn *c, struct iovec *iov)
{
	uint32_t len = vu_credit_held(&c->credit), first = VU_BUF_ALLOC - c->held_head;

	if (!len)
		return 0;
	iov[0].iov_base = c->held + c->held_head;
	iov[0].iov_len = len < first ? len : first;
	if (len <= first)
		return 1;
	iov[1].iov_base = c->held;
	iov[1].iov_len = len - first;
	return 2;
}

static int stream_error(ssize_t n)
{
	return n < 0 && errno != EAGAIN && errno != EINTR;
}

int vu_conn_flush(struct vu_conn *c)
{
	struct iovec iov[2];
	int count = held_spans(c, iov);
	ssize_t n;

	if (count) {
		n = writev(c->fd, iov, count);
		if (stream_error(n))
			return -1;
		if (n > 0) {
			c->credit.fwd_cnt += (uint32_t)n;
			c->held_head = (c->held_head + (uint32_t)n) % VU_BUF_ALLOC;
		}
		if (vu_credit_held(&c->credit))
			return 0;
	}
	free(c->held);
	c->held = NULL;
	c->held_head = 0;
	if ((c->guest_shutdown & VU_SHUTDOWN_SEND) && !c->write_shut) {
		shutdown(c->fd, SHUT_WR);
		c->write_shut = 1;
	}
	return 0;
}

/* Appends the part of iov from `skip` bytes on to the held ring at `tail` (credit keeps it
 * within the ring's size). */
static void hold(struct vu_conn *c, uint32_t tail, const struct iovec *iov, int iovcnt, size_t skip)
{
	int i;

	for (i = 0; i < iovcnt; i++) {
		const uint8_t *p = iov[i].iov_base;
		size_t len = iov[i].iov_len;

		if (skip >= len) {
			skip -= len;
			continue;
		}
		p += skip;
		len -= skip;
		skip = 0;
		while (len) {
			size_t take = VU_BUF_ALLOC - tail < len ? VU_BUF_ALLOC - tail : len;

			memcpy(c->held + tail, p, take);
			tail = (tail + (uint32_t)take) % VU_BUF_ALLOC;
			p += take;
			len -= take;
		}
	}
}

int vu_conn_write(struct vu_conn *c, const struct iovec *iov, int iovcnt, uint32_t len)
{
	uint32_t held_before = vu_credit_held(&c->credit);
	ssize_t n = 0;

	/* Straight from the guest's buffers unless older bytes wait: order is kept. */
	if (!held_before) {
		n = writev(c->fd, iov, iovcnt);
		if (stream_error(n))
			return -1;
		if (n < 0)
			n = 0;
	}
	if ((uint32_t)n < len) {
		if (!c->held) {
			c->held = malloc(VU_BUF_ALLOC);
			if (!c->held)
				return -1;
			c->held_head = 0;
		}
		hold(c, (c->held_head + held_before) % VU_BUF_ALLOC, iov, iovcnt, (size_t)n);
	}
	c->credit.rx_cnt += len;
	c->credit.fwd_cnt += (uint32_t)n;
	return 0;
}

int vu_conn_finished(const struct vu_conn *c)
{
	int guest_to_host_done = (c->guest_shutdown & VU_SHUTDOWN_SEND) && c->write_shut;
	int host_to_guest_done = c->host_eof || (c->guest_shutdown & VU_SHUTDOWN_RCV);

	return c->state == VU_CONN_ESTABLISHED && guest_to_host_done && host_to_guest_done;
}
