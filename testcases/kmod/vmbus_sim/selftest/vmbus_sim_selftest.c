// SPDX-License-Identifier: GPL-2.0
/*
 * vmbus-sim-selftest: the smoke test of the vmbus_sim module with the kernel's real hv_sock.ko,
 * run as root in a guest where vmbus_sim is loaded and no other G2H vsock transport is:
 *
 *   vmbus-sim-selftest [--load /path/to/hv_sock.ko]
 *
 * --load loads hv_sock.ko first (finit_module; if the modversions CRCs are refused, again with
 * MODULE_INIT_IGNORE_MODVERSIONS, said in a comment line). Then, playing the host through
 * /dev/vmbus_sim: hv_sock's driver is registered; a guest connect() to CID 2 port P reaches the
 * host as a TL connect request with the right GUIDs; the host's offer completes it; data both
 * ways; FIN both ways; the guest's close keeps the channel until the rescind; a host-initiated connection is
 * accepted by a guest listener and a host rescind ends it. KTAP on stdout, exit 0 if all pass.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/module.h>
#include <linux/vm_sockets.h>

#include "../vmbus_sim_uapi.h"
#include "../../../../tools/vsock-uri/vsock_uri.h"

#define PORT_CONNECT 0x5000		/* the host service the guest connects to */
#define PORT_LISTEN 0x5001		/* the guest's listener for the host-initiated case */
#define PORT_HOST 0x6000		/* the host's endpoint of that connection */
#define EVENT_WAIT_MS 10000

static int ntest, nfail;

static void result(int ok, const char *fmt, ...)
{
	va_list ap;

	printf("%s %d - ", ok ? "ok" : "not ok", ++ntest);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (!ok)
		nfail++;
}

/* The URI library's port <-> service GUID mapping (tools/vsock-uri), on the UAPI's GUIDs. */
static void port_guid(struct vsim_guid *g, unsigned int port)
{
	struct vsock_guid v;

	vsock_guid_from_port(port, &v);
	memcpy(g->b, v.b, sizeof(g->b));
}

/* 1 with the port when g is a vsock service GUID, else 0. */
static int guid_port(const struct vsim_guid *g, unsigned int *port)
{
	struct vsock_guid v;
	uint32_t p;

	memcpy(v.b, g->b, sizeof(v.b));
	if (vsock_guid_to_port(&v, &p) < 0)
		return 0;
	*port = p;
	return 1;
}

/* The next event of type `type` (others are skipped and printed), or -1 after EVENT_WAIT_MS. */
static int wait_event(int fd, unsigned int type, unsigned int chan, struct vsim_event *ev)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	for (;;) {
		if (poll(&p, 1, EVENT_WAIT_MS) <= 0)
			return -1;
		if (read(fd, ev, sizeof(*ev)) != (ssize_t)sizeof(*ev)) {
			if (errno == EAGAIN)
				continue;
			return -1;
		}
		if (ev->type == type && (!chan || ev->chan == chan))
			return 0;
		printf("# (event %u chan %u skipped)\n", ev->type, ev->chan);
	}
}

static int load_module(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		printf("# open %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (syscall(SYS_finit_module, fd, "", 0) == 0) {
		printf("# %s loaded (modversions CRCs accepted)\n", path);
	} else if (errno == ENOEXEC || errno == EINVAL) {
		printf("# %s refused (%s): loading with MODULE_INIT_IGNORE_MODVERSIONS\n", path,
		       strerror(errno));
		if (syscall(SYS_finit_module, fd, "", MODULE_INIT_IGNORE_MODVERSIONS) != 0) {
			printf("# forced load of %s: %s\n", path, strerror(errno));
			close(fd);
			return -1;
		}
	} else if (errno != EEXIST) {
		printf("# finit_module %s: %s\n", path, strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

struct connector {
	pthread_t thread;
	int fd;
	int ret, err;
};

static void *connect_thread(void *arg)
{
	struct connector *c = arg;
	struct sockaddr_vm a = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_HOST,
				 .svm_port = PORT_CONNECT };

	c->ret = connect(c->fd, (struct sockaddr *)&a, sizeof(a));
	c->err = errno;
	return NULL;
}

static int xfer(int fd, unsigned long cmd, unsigned int chan, void *buf, unsigned int len,
		unsigned int flags, struct vsim_xfer *x)
{
	memset(x, 0, sizeof(*x));
	x->chan = chan;
	x->flags = flags;
	x->buf = (unsigned long)buf;
	x->len = len;
	return ioctl(fd, cmd, x);
}

static void guest_initiated(int fd)
{
	struct vsim_listen l;
	struct vsim_event ev;
	struct vsim_offer o;
	struct vsim_xfer x;
	struct vsim_chan_ref r;
	struct connector c = { 0 };
	struct vsim_chan_info ci;
	int ok;
	unsigned int gport = 0, hport = 0;
	char buf[64];
	ssize_t n;

	port_guid(&l.service, PORT_CONNECT);
	ok = ioctl(fd, VSIM_IOC_LISTEN, &l) == 0;
	result(ok, "LISTEN on port 0x%x", PORT_CONNECT);
	c.fd = socket(AF_VSOCK, SOCK_STREAM, 0);
	if (c.fd < 0) {
		result(0, "socket(AF_VSOCK): %s", strerror(errno));
		return;
	}
	pthread_create(&c.thread, NULL, connect_thread, &c);
	if (wait_event(fd, VSIM_EV_TL_CONNECT, 0, &ev)) {
		result(0, "guest connect to CID 2 port 0x%x gives VSIM_EV_TL_CONNECT", PORT_CONNECT);
		pthread_join(c.thread, NULL);
		close(c.fd);
		return;
	}
	ok = guid_port(&ev.b, &hport) && hport == PORT_CONNECT && guid_port(&ev.a, &gport);
	result(ok,
	       "TL_CONNECT GUIDs: host service port 0x%x (want 0x%x), guest endpoint port 0x%x",
	       hport, PORT_CONNECT, gport);

	memset(&o, 0, sizeof(o));
	o.if_type = ev.b;
	o.if_instance = ev.a;
	ok = ioctl(fd, VSIM_IOC_OFFER, &o) == 0 && o.state == VSIM_CHAN_OPEN;
	result(ok, "OFFER answer: chan %u state %u (want %u), rings %u/%u", o.chan, o.state,
	       VSIM_CHAN_OPEN, o.guest_send_ring, o.guest_recv_ring);
	pthread_join(c.thread, NULL);
	result(c.ret == 0, "guest connect() returns 0 (%s)", c.ret ? strerror(c.err) : "ok");
	if (c.ret) {
		close(c.fd);
		return;
	}

	n = write(c.fd, "hello", 5);
	ok = n == 5 && xfer(fd, VSIM_IOC_RECV, o.chan, buf, sizeof(buf), 0, &x) == 0 &&
	     x.done == 5 && !memcmp(buf, "hello", 5);
	result(ok, "guest to host: 5 bytes (done %u)", x.done);
	ok = xfer(fd, VSIM_IOC_SEND, o.chan, "world!", 6, 0, &x) == 0 &&
	     read(c.fd, buf, sizeof(buf)) == 6 && !memcmp(buf, "world!", 6);
	result(ok, "host to guest: 6 bytes");

	shutdown(c.fd, SHUT_WR);
	ok = xfer(fd, VSIM_IOC_RECV, o.chan, buf, sizeof(buf), 0, &x) == 0 && x.fin == 1;
	result(ok, "guest shutdown(SHUT_WR) reaches the host as FIN (fin %u done %u)", x.fin, x.done);
	ok = xfer(fd, VSIM_IOC_SEND, o.chan, NULL, 0, 0, &x) == 0 && read(c.fd, buf, sizeof(buf)) == 0;
	result(ok, "host FIN: guest read() returns 0");

	/* hv_sock's close keeps the channel (and the socket) until the host rescinds it. */
	close(c.fd);
	memset(&ci, 0, sizeof(ci));
	ci.chan = o.chan;
	ok = ioctl(fd, VSIM_IOC_CHAN_INFO, &ci) == 0 && ci.state == VSIM_CHAN_OPEN;
	result(ok, "after the guest's close() chan %u stays open until the rescind (state %u)",
	       o.chan, ci.state);
	r.chan = o.chan;
	r.reserved = 0;
	ok = ioctl(fd, VSIM_IOC_RESCIND, &r) == 0;
	result(ok, "RESCIND chan %u", o.chan);
	ok = wait_event(fd, VSIM_EV_GUEST_CLOSED, o.chan, &ev) == 0;
	result(ok, "after the rescind the guest closes chan %u", o.chan);
	ioctl(fd, VSIM_IOC_UNLISTEN, &l);
}

static void host_initiated(int fd)
{
	struct sockaddr_vm a = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY,
				 .svm_port = PORT_LISTEN };
	socklen_t alen = sizeof(a);
	struct vsim_chan_ref r;
	struct vsim_offer o;
	struct vsim_xfer x;
	char buf[64];
	int lfd, cfd, ok;

	lfd = socket(AF_VSOCK, SOCK_STREAM, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) || listen(lfd, 4)) {
		result(0, "guest listener on port 0x%x: %s", PORT_LISTEN, strerror(errno));
		return;
	}
	memset(&o, 0, sizeof(o));
	port_guid(&o.if_type, PORT_LISTEN);
	port_guid(&o.if_instance, PORT_HOST);
	o.flags = VSIM_OFFER_HOST_INITIATED;
	ok = ioctl(fd, VSIM_IOC_OFFER, &o) == 0 && o.state == VSIM_CHAN_OPEN;
	result(ok, "host-initiated OFFER: chan %u state %u", o.chan, o.state);
	cfd = accept(lfd, (struct sockaddr *)&a, &alen);
	result(cfd >= 0 && a.svm_cid == VMADDR_CID_HOST && a.svm_port == PORT_HOST,
	       "guest accept(): peer CID %u port 0x%x (want 2, 0x%x)", a.svm_cid, a.svm_port,
	       PORT_HOST);
	if (cfd < 0) {
		close(lfd);
		return;
	}
	ok = xfer(fd, VSIM_IOC_SEND, o.chan, "ping", 4, 0, &x) == 0 &&
	     read(cfd, buf, sizeof(buf)) == 4 && !memcmp(buf, "ping", 4);
	result(ok, "host to guest: 4 bytes");
	ok = write(cfd, "pong", 4) == 4 && xfer(fd, VSIM_IOC_RECV, o.chan, buf, sizeof(buf), 0, &x) == 0 &&
	     x.done == 4 && !memcmp(buf, "pong", 4);
	result(ok, "guest to host: 4 bytes");
	r.chan = o.chan;
	r.reserved = 0;
	ok = ioctl(fd, VSIM_IOC_RESCIND, &r) == 0;
	result(ok, "host RESCIND chan %u", o.chan);
	ok = read(cfd, buf, sizeof(buf)) == 0;
	result(ok, "after the rescind the guest's read() returns 0");
	close(cfd);
	close(lfd);
}

/* Host-initiated connection to the guest listener lfd: the accepted guest fd, chan in *chan. */
static int host_connect(int fd, int lfd, unsigned int host_port, unsigned int *chan)
{
	struct vsim_offer o;

	memset(&o, 0, sizeof(o));
	port_guid(&o.if_type, PORT_LISTEN);
	port_guid(&o.if_instance, host_port);
	o.flags = VSIM_OFFER_HOST_INITIATED;
	if (ioctl(fd, VSIM_IOC_OFFER, &o) || o.state != VSIM_CHAN_OPEN)
		return -1;
	*chan = o.chan;
	return accept(lfd, NULL, NULL);
}

static int rescind(int fd, unsigned int chan)
{
	struct vsim_chan_ref r = { .chan = chan };

	return ioctl(fd, VSIM_IOC_RESCIND, &r);
}

static unsigned long taint(void)
{
	unsigned long t = 0;
	FILE *f = fopen("/proc/sys/kernel/tainted", "r");

	if (f) {
		if (fscanf(f, "%lu", &t) != 1)
			t = 0;
		fclose(f);
	}
	return t;
}

/* The guest fills the guest-to-host ring, waits for room; the host's RECV gives it room. */
static void flow_control(int fd, int lfd)
{
	static char chunk[4096], buf[20000];
	unsigned int chan;
	struct vsim_chan_info ci = { 0 };
	struct vsim_xfer x;
	long sent = 0, got = 0;
	struct pollfd p;
	int cfd, ok, i;
	ssize_t n;

	cfd = host_connect(fd, lfd, PORT_HOST + 1, &chan);
	if (cfd < 0) {
		result(0, "flow control: connection: %s", strerror(errno));
		return;
	}
	for (i = 0; i < (int)sizeof(chunk); i++)
		chunk[i] = (char)i;
	while ((n = send(cfd, chunk, sizeof(chunk), MSG_DONTWAIT)) > 0)
		sent += n;
	ci.chan = chan;
	ok = n < 0 && errno == EAGAIN && ioctl(fd, VSIM_IOC_CHAN_INFO, &ci) == 0 &&
	     ci.out_pending_send_sz > 0;
	result(ok, "guest send() fills the ring after %ld bytes (EAGAIN), pending_send_sz %u", sent,
	       ci.out_pending_send_sz);
	p.fd = cfd;
	p.events = POLLOUT;
	p.revents = 0;
	result(poll(&p, 1, 0) == 0, "guest not writable while the ring is full");
	while (xfer(fd, VSIM_IOC_RECV, chan, buf, sizeof(buf), VSIM_XFER_NONBLOCK, &x) == 0) {
		for (i = 0; i < (int)x.done; i++)
			if (buf[i] != (char)((got + i) % sizeof(chunk)))
				break;
		if (i != (int)x.done)
			break;
		got += x.done;
	}
	result(got == sent, "host RECV takes all %ld bytes in order (%ld)", sent, got);
	ok = poll(&p, 1, 5000) == 1 && (p.revents & POLLOUT);
	result(ok, "guest writable again after the host read (revents 0x%x)", p.revents);
	rescind(fd, chan);
	close(cfd);
}

/* The host fills the host-to-guest ring (EAGAIN), the guest reads it all. */
static void host_full(int fd, int lfd)
{
	static char chunk[4000], buf[65536];
	unsigned int chan;
	struct vsim_xfer x;
	long sent = 0, got = 0;
	int cfd, ok, i;
	ssize_t n;

	cfd = host_connect(fd, lfd, PORT_HOST + 2, &chan);
	if (cfd < 0) {
		result(0, "host flow control: connection: %s", strerror(errno));
		return;
	}
	for (i = 0; i < (int)sizeof(chunk); i++)
		chunk[i] = (char)(i * 7);
	while (xfer(fd, VSIM_IOC_SEND, chan, chunk, sizeof(chunk), VSIM_XFER_NONBLOCK, &x) == 0)
		sent += x.done;
	ok = errno == EAGAIN && sent > 0;
	result(ok, "host SEND: EAGAIN once the ring is full, after %ld bytes (%s)", sent,
	       strerror(errno));
	while (got < sent && (n = recv(cfd, buf, sizeof(buf), 0)) > 0) {
		for (i = 0; i < n; i++)
			if (buf[i] != (char)(((got + i) % sizeof(chunk)) * 7))
				break;
		if (i != n)
			break;
		got += n;
	}
	result(got == sent, "guest reads all %ld bytes in order (%ld)", sent, got);
	ok = xfer(fd, VSIM_IOC_SEND, chan, chunk, sizeof(chunk), VSIM_XFER_NONBLOCK, &x) == 0;
	result(ok, "host SEND has room again");
	rescind(fd, chan);
	close(cfd);
}

/*
 * Malformed host packets: the guest must not crash, whatever hv_sock of this kernel returns.
 * Not here: a len8 below 2 (shorter than a descriptor). hv_pkt_iter_first (5.15+) clamps it to
 * the bytes available, trailer included, so __hv_pkt_iter_next steps 8 bytes past the write
 * index; with a data_size of 0 hv_sock then spins in recv() (soft lockup), on real hv_vmbus
 * as here (WIRE.md).
 */
static void malformed(int fd, int lfd)
{
	static const struct {
		const char *name;
		unsigned short len8, offset8;
		unsigned int data_size;
	} cases[] = {
		{ "len8 0xffff", 0xffff, 2, 8 },
		{ "data_size 0x7fffffff", 4, 2, 0x7fffffff },
		{ "offset8 0xffff", 4, 0xffff, 8 },
	};
	unsigned long before = taint();
	unsigned char pkt[32];
	unsigned int chan, k;
	struct vsim_xfer x;
	struct pollfd p;
	char buf[64];
	int cfd, ok;
	ssize_t n;

	for (k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		cfd = host_connect(fd, lfd, PORT_HOST + 3 + k, &chan);
		if (cfd < 0) {
			result(0, "malformed %s: connection: %s", cases[k].name, strerror(errno));
			continue;
		}
		memset(pkt, 0, sizeof(pkt));
		pkt[0] = 6;				/* VM_PKT_DATA_INBAND */
		memcpy(pkt + 2, &cases[k].offset8, 2);
		memcpy(pkt + 4, &cases[k].len8, 2);
		pkt[16] = 1;				/* vmpipe pkt_type */
		memcpy(pkt + 20, &cases[k].data_size, 4);
		memcpy(pkt + 24, "abcdefgh", 8);
		ok = xfer(fd, VSIM_IOC_SEND, chan, pkt, sizeof(pkt), VSIM_XFER_RAW, &x) == 0;
		p.fd = cfd;
		p.events = POLLIN;
		n = -2;
		errno = 0;
		if (ok && poll(&p, 1, 2000) == 1)
			n = recv(cfd, buf, sizeof(buf), MSG_DONTWAIT);
		printf("# malformed %s: guest recv() = %zd (%s)\n", cases[k].name, n,
		       n < 0 ? strerror(errno) : "data");
		result(ok && (taint() & 0x80) == (before & 0x80),
		       "malformed host packet (%s): sent, the kernel did not oops", cases[k].name);
		rescind(fd, chan);
		close(cfd);
	}
}

/* Closing a session rescinds its channels: the guest sees EOF. */
static void session_close(int lfd)
{
	unsigned int chan;
	char buf[8];
	int fd2, cfd, ok;

	fd2 = open(VSIM_DEVICE, O_RDWR | O_CLOEXEC);
	cfd = fd2 < 0 ? -1 : host_connect(fd2, lfd, PORT_HOST + 10, &chan);
	if (cfd < 0) {
		result(0, "second session's connection: %s", strerror(errno));
		if (fd2 >= 0)
			close(fd2);
		return;
	}
	close(fd2);
	ok = recv(cfd, buf, sizeof(buf), 0) == 0;
	result(ok, "closing the host session rescinds its channel: guest recv() returns 0");
	close(cfd);
}

static void unload_refused(void)
{
	int ret = syscall(SYS_delete_module, "vmbus_sim", O_NONBLOCK);

	result(ret < 0 && (errno == EWOULDBLOCK || errno == EBUSY),
	       "rmmod vmbus_sim refused while hv_sock is registered (%s)",
	       ret < 0 ? strerror(errno) : "it unloaded");
}

static void set_proto(int fd)
{
	struct vsim_proto p = { .version = 0x40000 };
	struct vsim_info info = { 0 };
	int ok;

	ok = ioctl(fd, VSIM_IOC_SET_PROTO, &p) == 0 && ioctl(fd, VSIM_IOC_INFO, &info) == 0 &&
	     info.proto_version == 0x40000;
	result(ok, "SET_PROTO 0x40000: INFO says 0x%x", info.proto_version);
	p.version = 0;
	ok = ioctl(fd, VSIM_IOC_SET_PROTO, &p) == 0 && ioctl(fd, VSIM_IOC_INFO, &info) == 0;
	result(ok && info.proto_version >= 0x40000, "SET_PROTO 0: back to the default 0x%x",
	       info.proto_version);
}

/* A TL connect nobody listens for is dropped: the guest's connect() times out. */
static void no_listener(int fd)
{
	struct sockaddr_vm a = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_HOST,
				 .svm_port = PORT_CONNECT + 2 };
	struct vsim_event ev;
	int s = socket(AF_VSOCK, SOCK_STREAM, 0);
	int ret, err, ok;

	ret = connect(s, (struct sockaddr *)&a, sizeof(a));
	err = errno;
	ok = ret < 0 && err == ETIMEDOUT;
	while (read(fd, &ev, sizeof(ev)) == (ssize_t)sizeof(ev))
		if (ev.type == VSIM_EV_TL_CONNECT)
			ok = 0;
	result(ok, "connect() to an unlistened host service times out (%s), no TL_CONNECT event",
	       ret ? strerror(err) : "connected");
	close(s);
}

/* An offer nobody takes (no guest listener) stays OFFERED until the host rescinds it. */
static void unopened(int fd)
{
	struct vsim_chan_info ci = { 0 };
	struct vsim_offer o;
	struct vsim_xfer x;
	int ok;

	memset(&o, 0, sizeof(o));
	port_guid(&o.if_type, PORT_LISTEN + 1);
	port_guid(&o.if_instance, PORT_HOST + 20);
	o.flags = VSIM_OFFER_HOST_INITIATED;
	ok = ioctl(fd, VSIM_IOC_OFFER, &o) == 0 && o.state == VSIM_CHAN_OFFERED;
	result(ok, "offer to a port nobody listens on stays OFFERED (state %u)", o.state);
	ci.chan = o.chan;
	ok = ioctl(fd, VSIM_IOC_CHAN_INFO, &ci) == 0 && ci.guest_send_ring == 0 &&
	     xfer(fd, VSIM_IOC_SEND, o.chan, "x", 1, VSIM_XFER_NONBLOCK, &x) < 0 &&
	     errno == ENOTCONN;
	result(ok, "SEND on an unopened channel: ENOTCONN");
	ok = rescind(fd, o.chan) == 0 && ioctl(fd, VSIM_IOC_CHAN_INFO, &ci) < 0 && errno == ENOENT;
	result(ok, "its rescind frees it (CHAN_INFO: %s)", strerror(errno));
}

struct writer {
	pthread_t thread;
	int fd;
	long sent;
};

static void *writer_thread(void *arg)
{
	static char chunk[8192];
	struct writer *w = arg;
	ssize_t n;

	while ((n = send(w->fd, chunk, sizeof(chunk), MSG_NOSIGNAL)) > 0)
		w->sent += n;
	return NULL;
}

/*
 * Races: the guest writes without pause while the host reads, then rescinds (or closes its
 * session) under it; the guest's send() must end, the kernel must not oops.
 */
static void rescind_race(int lfd)
{
	unsigned long before = taint();
	static char buf[65536];
	struct vsim_xfer x;
	struct writer w;
	unsigned int chan;
	int i, fd2, ok = 1;

	for (i = 0; i < 20 && ok; i++) {
		fd2 = open(VSIM_DEVICE, O_RDWR | O_CLOEXEC);
		memset(&w, 0, sizeof(w));
		w.fd = fd2 < 0 ? -1 : host_connect(fd2, lfd, PORT_HOST + 30 + i, &chan);
		if (w.fd < 0) {
			ok = 0;
			break;
		}
		pthread_create(&w.thread, NULL, writer_thread, &w);
		xfer(fd2, VSIM_IOC_RECV, chan, buf, sizeof(buf), 0, &x);
		xfer(fd2, VSIM_IOC_RECV, chan, buf, sizeof(buf), VSIM_XFER_NONBLOCK, &x);
		if (i % 2)
			rescind(fd2, chan);
		close(fd2);
		pthread_join(w.thread, NULL);
		close(w.fd);
	}
	result(ok && (taint() & 0x80) == (before & 0x80),
	       "rescind / session close under a writing guest, %d rounds: send() ends, no oops", i);
}

static void more(int fd)
{
	struct sockaddr_vm a = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY,
				 .svm_port = PORT_LISTEN };
	int lfd = socket(AF_VSOCK, SOCK_STREAM, 0);

	if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) || listen(lfd, 4)) {
		result(0, "guest listener on port 0x%x: %s", PORT_LISTEN, strerror(errno));
		return;
	}
	flow_control(fd, lfd);
	host_full(fd, lfd);
	malformed(fd, lfd);
	session_close(lfd);
	rescind_race(lfd);
	close(lfd);
	no_listener(fd);
	unopened(fd);
	unload_refused();
	set_proto(fd);
}

int main(int argc, char **argv)
{
	struct vsim_info info;
	int fd, ok, i;

	printf("TAP version 13\n");
	if (argc == 3 && !strcmp(argv[1], "--load") && load_module(argv[2]))
		printf("# loading %s failed\n", argv[2]);
	fd = open(VSIM_DEVICE, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		printf("1..0 # SKIP %s: %s (is vmbus_sim loaded?)\n", VSIM_DEVICE, strerror(errno));
		return 0;
	}
	memset(&info, 0, sizeof(info));
	ok = ioctl(fd, VSIM_IOC_INFO, &info) == 0 && info.abi == VSIM_ABI && info.driver_registered == 1;
	result(ok,
	       "INFO: abi %u proto 0x%x attach %u driver_registered %u channels %u", info.abi,
	       info.proto_version, info.attach, info.driver_registered, info.channels);
	if (info.driver_registered) {
		guest_initiated(fd);
		host_initiated(fd);
		more(fd);
		/* An unshut socket's close waits HVS_CLOSE_TIMEOUT (8 s) before it lets go. */
		for (i = 0; i < 200; i++) {
			memset(&info, 0, sizeof(info));
			if (ioctl(fd, VSIM_IOC_INFO, &info) || !info.channels)
				break;
			usleep(100000);
		}
		result(info.channels == 0, "no channel left after %d.%d s (%u)", i / 10, i % 10,
		       info.channels);
	}
	close(fd);
	printf("1..%d\n", ntest);
	return nfail ? 1 : 0;
}
