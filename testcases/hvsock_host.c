/* hvsock_host.c: the host role's steps for the hv_sock cases (see hvsock_host.h). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hvsock_host.h"
#include "vsc_sock.h"
#include "vsc_sockdiag.h"

void hvh_open_at(const char *file, int line, struct hvp_session *s)
{
	vsc_step_at(file, line, "hvp_open()");
	if (hvp_open(s) < 0)
		vsc_fatal_at(file, line, "%s (is vmbus_sim loaded?)", hvp_error(s));
}

/* The guest's TL connect request answered with an offer that it opened. */
static void accept_opened_at(const char *file, int line, struct hvp_session *s, struct hvp_conn *c)
{
	vsc_step_at(file, line, "hvp_accept()");
	if (hvp_accept(s, HVH_WAIT_MS, c) < 0)
		vsc_fatal_at(file, line, "%s", hvp_error(s));
	if (c->state != VSIM_CHAN_OPEN)
		vsc_fatal_at(file, line, "the guest left the channel it asked for unopened (state %u)",
			     c->state);
}

void hvh_accept_at(const char *file, int line, struct hvp_session *s, unsigned int port,
		   struct hvp_conn *c)
{
	vsc_step_at(file, line, "hvp_listen()");
	if (hvp_listen(s, port) < 0)
		vsc_fatal_at(file, line, "%s", hvp_error(s));
	vsc_signal_at(file, line, "listening");
	accept_opened_at(file, line, s, c);
}

int hvh_pair_at(const char *file, int line, const struct vsc_env *env, struct hvp_session *s,
		unsigned int port, struct hvp_conn *c, void (*prep)(int fd))
{
	int fd, err = 0;
	socklen_t len = sizeof(err);

	vsc_step_at(file, line, "socket(AF_VSOCK, SOCK_STREAM | SOCK_NONBLOCK)");
	fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (fd < 0)
		vsc_fatal_at(file, line, "socket() failed: %s", vsc_errname(errno));
	if (prep)
		prep(fd);
	if (hvp_listen(s, port) < 0)
		vsc_fatal_at(file, line, "%s", hvp_error(s));
	vsc_step_at(file, line, "connect() without blocking");
	if (vsc_connect(fd, env->peer_cid, port) == 0 || errno != EINPROGRESS)
		vsc_fatal_at(file, line, "connect() to the host's port %u: %s, expected EINPROGRESS",
			     port, vsc_errname(errno));
	accept_opened_at(file, line, s, c);
	if (!(vsc_poll_at(file, line, fd, POLLOUT, VSC_SETTLE_MS) & POLLOUT))
		vsc_fatal_at(file, line, "connect() did not complete after the host's offer");
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err)
		vsc_fatal_at(file, line, "connect() completed with %s", vsc_errname(err ? err : errno));
	/* The cases read and write blocking from here on. */
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	return fd;
}

uint32_t hvh_recv_exact_at(const char *file, int line, struct hvp_conn *c, const void *buf,
			   size_t len)
{
	static uint8_t pkt[HVP_MTU];
	const uint8_t *want = buf;
	struct hvp_packet p;
	uint32_t largest = 0;
	size_t got = 0;
	int n;

	vsc_step_at(file, line, "hvp_recv_packet()");
	while (got < len) {
		n = hvp_recv_packet(c, pkt, sizeof(pkt), 0, HVH_WAIT_MS, &p);
		if (n < 0)
			vsc_fatal_at(file, line, "after %zu of %zu bytes: %s", got, len, hvp_error(c->s));
		if (p.fin)
			vsc_fatal_at(file, line, "FIN after %zu of %zu bytes", got, len);
		if (p.truncated || (uint32_t)n > HVP_SEND_CHUNK)
			vsc_fatal_at(file, line, "a packet of more than %u bytes (HVS_SEND_BUF_SIZE) from the guest",
				     HVP_SEND_CHUNK);
		if (got + (size_t)n > len)
			vsc_fatal_at(file, line, "%zu bytes from the guest, expected %zu",
				     got + (size_t)n, len);
		if (memcmp(pkt, want + got, (size_t)n) != 0)
			vsc_fatal_at(file, line, "bytes %zu..%zu differ from what the guest sent", got,
				     got + (size_t)n);
		got += (size_t)n;
		if ((uint32_t)n > largest)
			largest = (uint32_t)n;
	}
	return largest;
}

void hvh_expect_fin_at(const char *file, int line, struct hvp_conn *c)
{
	static uint8_t pkt[HVP_MTU];
	struct hvp_packet p;

	vsc_step_at(file, line, "hvp_recv_packet() for the FIN");
	if (hvp_recv_packet(c, pkt, sizeof(pkt), 0, HVH_WAIT_MS, &p) < 0)
		vsc_fatal_at(file, line, "%s", hvp_error(c->s));
	if (!p.fin)
		vsc_fatal_at(file, line, "a packet of %u bytes where the FIN was due", p.len);
}

void hvh_expect_silence_at(const char *file, int line, struct hvp_conn *c, int ms)
{
	static uint8_t pkt[HVP_MTU];
	struct hvp_packet p;
	int n;

	vsc_step_at(file, line, "hvp_recv_packet() for silence");
	n = hvp_recv_packet(c, pkt, sizeof(pkt), 0, ms, &p);
	if (n == -ETIMEDOUT || n == -EPIPE)
		return;
	if (n < 0)
		vsc_fatal_at(file, line, "%s", hvp_error(c->s));
	vsc_fail_at(file, line, "the guest sent another %s within %d ms", p.fin ? "FIN" : "packet", ms);
}

int hvh_socket_listed_at(const char *file, int line, unsigned int src_port, unsigned int dst_port)
{
	struct vsc_sockdiag_list list;
	size_t i;
	int ret, found = 0;

	ret = vsc_sockdiag_dump(VSC_SOCKDIAG_ALL_STATES, &list);
	if (ret == -ENOENT)
		vsc_skip("vsock_diag is not loaded: the socket's end cannot be seen");
	if (ret < 0)
		vsc_fatal_at(file, line, "vsock_diag dump failed: %s", vsc_errname(-ret));
	for (i = 0; i < list.count; i++)
		if (list.sockets[i].vdiag_src_port == src_port &&
		    list.sockets[i].vdiag_dst_port == dst_port)
			found = 1;
	vsc_sockdiag_free(&list);
	return found;
}

long hvh_wait_gone_at(const char *file, int line, unsigned int src_port, unsigned int dst_port,
		      long limit_ms)
{
	struct timespec start;
	long ms;

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		ms = vsc_elapsed_ms(&start);
		if (!hvh_socket_listed_at(file, line, src_port, dst_port))
			return ms;
		if (ms > limit_ms)
			return -1;
		usleep(20000);
	}
}
