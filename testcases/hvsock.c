/*
 * hvsock.c: hv_sock (net/vmw_vsock/hyperv_transport.c), the real module, on vmbus_sim. The guest
 * role is AF_VSOCK towards env->peer_cid (2); the host role plays Hyper-V through hvp
 * (tools/hvsock-peer). Every case needs the hvsock topology. What the cases assert was read in
 * hyperv_transport.c and af_vsock.c of 5.10, 6.1, 6.12 and 7.2; where those differ, the
 * expectations table (lib/expectations.c) holds the per-version value.
 */
#include <poll.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hvsock_host.h"
#include "vsc.h"
#include "vsc_sock.h"

/* Ports inside the case's VSC_PORTS_PER_CASE: the host's service and the guest's listener. */
#define HOST_PORT(env) ((env)->port)
#define GUEST_PORT(env) ((env)->port + 1)
#define HOST_FROM_PORT(env) ((env)->port + 2)

static void host_connect_server(const struct vsc_env *env)
{
	struct hvp_session s;
	struct hvp_conn c;

	hvh_open(&s);
	hvh_accept(&s, HOST_PORT(env), &c);
	EXPECT_EQ(c.host_port, HOST_PORT(env));
	vsc_send_value("guest_port", c.guest_port);
	hvh_recv_exact(&c, "ping", 4);
	HVP_SAFE(&s, hvp_send(&c, "pong", 4, 0));
	vsc_wait("done");
	HVP_SAFE(&s, hvp_rescind(&c));
	hvp_close(&s);
}

static void host_connect_client(const struct vsc_env *env)
{
	struct sockaddr_vm peer, self;
	char reply[4];
	int fd;

	vsc_wait("listening");
	fd = vsc_connect_to(SOCK_STREAM, env->peer_cid, HOST_PORT(env));
	peer = vsc_peername(fd);
	EXPECT_EQ(peer.svm_cid, env->peer_cid);
	EXPECT_EQ(peer.svm_port, HOST_PORT(env));
	self = vsc_sockname(fd);
	/* hvs_get_local_cid(): a Linux guest on Hyper-V reports no CID of its own. */
	EXPECT_EQ(self.svm_cid, VMADDR_CID_ANY);
	/* The guest endpoint of the TL connect request is this socket's port. */
	EXPECT_EQ(self.svm_port, vsc_recv_value("guest_port"));
	vsc_send_all(fd, "ping", 4);
	vsc_recv_all(fd, reply, sizeof(reply));
	EXPECT_TRUE(memcmp(reply, "pong", 4) == 0);
	vsc_signal("done");
	SAFE(close(fd));
}
VSC_CASE(hvsock_connect, .sock_type = SOCK_STREAM,
	 .summary = "guest connects to a host port: TL request, offer, connected; getpeername is CID 2 + the port",
	 .server = host_connect_server, .client = host_connect_client, .needs = VSC_NEED_HVSOCK,
	 .timeout_s = 30);

static void guest_accept_server(const struct vsc_env *env)
{
	int listener = vsc_listen(SOCK_STREAM, GUEST_PORT(env), 1);
	struct sockaddr_vm peer;
	char buf[5];
	int fd;

	vsc_signal("listening");
	fd = SAFE(accept(listener, NULL, NULL));
	peer = vsc_peername(fd);
	EXPECT_EQ(peer.svm_cid, env->peer_cid);
	EXPECT_EQ(peer.svm_port, HOST_FROM_PORT(env));
	EXPECT_EQ(vsc_sockname(fd).svm_port, GUEST_PORT(env));
	vsc_recv_all(fd, buf, sizeof(buf));
	EXPECT_TRUE(memcmp(buf, "hello", 5) == 0);
	vsc_send_all(fd, "back", 4);
	vsc_wait("done");
	SAFE(close(fd));
	SAFE(close(listener));
}

static void guest_accept_client(const struct vsc_env *env)
{
	struct hvp_session s;
	struct hvp_conn c;

	hvh_open(&s);
	vsc_wait("listening");
	HVP_SAFE(&s, hvp_connect(&s, GUEST_PORT(env), HOST_FROM_PORT(env), &c));
	ASSERT_EQ(c.state, VSIM_CHAN_OPEN);
	HVP_SAFE(&s, hvp_send(&c, "hello", 5, 0));
	hvh_recv_exact(&c, "back", 4);
	vsc_signal("done");
	HVP_SAFE(&s, hvp_rescind(&c));
	hvp_close(&s);
}
VSC_CASE(hvsock_accept, .sock_type = SOCK_STREAM,
	 .summary = "the host connects to a guest listener: accept() gives a socket whose peer is CID 2 + the host's port",
	 .server = guest_accept_server, .client = guest_accept_client, .needs = VSC_NEED_HVSOCK,
	 .min_kver = "5.6", .tags = VSC_TAGS("hv_sock: Remove the accept port restriction"),
	 .timeout_s = 30);

/* Around the guest's 4088-byte send chunk and the 16 KiB MTU, and past a ring's size. */
static const size_t sizes[] = { 1, 4087, 4088, 4089, 8176, 16383, 16384, 16385, 65536 };
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))
#define MAX_SIZE 65536

static void data_host(const struct vsc_env *env)
{
	static uint8_t buf[MAX_SIZE];
	struct hvp_session s;
	struct hvp_conn c;
	uint32_t largest;
	size_t i;

	hvh_open(&s);
	hvh_accept(&s, HOST_PORT(env), &c);
	for (i = 0; i < NSIZES; i++) {
		vsc_fill_pattern(buf, sizes[i], i * MAX_SIZE);
		largest = hvh_recv_exact(&c, buf, sizes[i]);
		/* hvs_stream_enqueue() cuts at HVS_SEND_BUF_SIZE; a smaller send is one packet. */
		if (sizes[i] >= HVP_SEND_CHUNK)
			EXPECT_EQ(largest, HVP_SEND_CHUNK);
		else
			EXPECT_EQ(largest, sizes[i]);
		/* Back in packets of up to the MTU, the largest payload hv_sock takes. */
		HVP_SAFE(&s, hvp_send(&c, buf, sizes[i], HVP_MTU));
	}
	vsc_wait("done");
	HVP_SAFE(&s, hvp_rescind(&c));
	hvp_close(&s);
}

static void data_guest(const struct vsc_env *env)
{
	static uint8_t out[MAX_SIZE], in[MAX_SIZE];
	size_t i;
	int fd;

	vsc_wait("listening");
	fd = vsc_connect_to(SOCK_STREAM, env->peer_cid, HOST_PORT(env));
	for (i = 0; i < NSIZES; i++) {
		vsc_fill_pattern(out, sizes[i], i * MAX_SIZE);
		vsc_send_all(fd, out, sizes[i]);
		vsc_recv_all(fd, in, sizes[i]);
		if (memcmp(in, out, sizes[i]) != 0)
			vsc_fail_at(__FILE__, __LINE__, "%zu bytes came back different", sizes[i]);
	}
	vsc_signal("done");
	SAFE(close(fd));
}
VSC_CASE(hvsock_data_sizes, .sock_type = SOCK_STREAM,
	 .summary = "1 B to 64 KiB both ways byte-exact; the guest's packets hold at most 4088 bytes, the host's up to 16 KiB",
	 .server = data_host, .client = data_guest, .needs = VSC_NEED_HVSOCK, .timeout_s = 60);

static void fin_host(const struct vsc_env *env)
{
	struct hvp_session s;
	struct hvp_conn c;

	hvh_open(&s);
	hvh_accept(&s, HOST_PORT(env), &c);
	hvh_recv_exact(&c, "last", 4);
	hvh_expect_fin(&c);
	vsc_wait("shut twice");
	/* hvs_shutdown_lock_held() sends the FIN once (fin_sent). */
	hvh_expect_silence(&c, 500);
	HVP_SAFE(&s, hvp_send(&c, "tail", 4, 0));
	vsc_wait("got tail");
	HVP_SAFE(&s, hvp_shutdown(&c));
	vsc_wait("closed");
	/* Nor does close() after SHUT_WR send a second one. */
	hvh_expect_silence(&c, 500);
	HVP_SAFE(&s, hvp_rescind(&c));
	hvp_close(&s);
}

static void fin_guest(const struct vsc_env *env)
{
	char buf[4];
	int fd;

	vsc_wait("listening");
	fd = vsc_connect_to(SOCK_STREAM, env->peer_cid, HOST_PORT(env));
	vsc_send_all(fd, "last", 4);
	SAFE(shutdown(fd, SHUT_WR));
	SAFE(shutdown(fd, SHUT_WR));
	EXPECT_ERRNO(send(fd, "x", 1, MSG_NOSIGNAL), EPIPE);
	vsc_signal("shut twice");
	vsc_recv_all(fd, buf, sizeof(buf));
	EXPECT_TRUE(memcmp(buf, "tail", 4) == 0);
	vsc_signal("got tail");
	/* Only the FIN is left in the ring: every version reads EOF here (see hvsock_probe_fin_read). */
	EXPECT_EQ(SAFE(recv(fd, buf, sizeof(buf), 0)), 0);
	EXPECT_TRUE(vsc_poll(fd, POLLRDHUP, VSC_SETTLE_MS) & POLLRDHUP);
	SAFE(close(fd));
	vsc_signal("closed");
}
VSC_CASE(hvsock_shutdown_fin, .sock_type = SOCK_STREAM,
	 .summary = "SHUT_WR sends one zero-length packet, once; the host's FIN makes the guest's read return 0",
	 .server = fin_host, .client = fin_guest, .needs = VSC_NEED_HVSOCK, .timeout_s = 30);

static void rescind_host(const struct vsc_env *env)
{
	struct hvp_session s;
	struct hvp_conn c;
	struct vsim_event ev;

	hvh_open(&s);
	hvh_accept(&s, HOST_PORT(env), &c);
	vsc_send_value("guest_port", c.guest_port);
	hvh_recv_exact(&c, "bye", 3);
	hvh_expect_fin(&c);
	vsc_wait("still there");
	HVP_SAFE(&s, hvp_rescind(&c));
	vsc_signal("rescinded");
	/* The socket's destructor unregisters the device, whose remove closes the channel. */
	if (hvp_wait_event(&s, VSIM_EV_GUEST_CLOSED, c.chan, VSC_SETTLE_MS, &ev) < 0)
		vsc_fail_at(__FILE__, __LINE__, "%s", hvp_error(&s));
	vsc_wait("gone");
	hvp_close(&s);
}

static void rescind_guest(const struct vsc_env *env)
{
	unsigned int port;
	long ms;
	int fd;

	vsc_wait("listening");
	fd = vsc_connect_to(SOCK_STREAM, env->peer_cid, HOST_PORT(env));
	port = (unsigned int)vsc_recv_value("guest_port");
	vsc_send_all(fd, "bye", 3);
	SAFE(close(fd));
	/* hvs_close_lock_held(): FIN, then the socket waits for the host's rescind. */
	EXPECT_TRUE(hvh_socket_listed(port, HOST_PORT(env)));
	vsc_signal("still there");
	vsc_wait("rescinded");
	ms = hvh_wait_gone(port, HOST_PORT(env), VSC_SETTLE_MS);
	vsc_diag("the socket left vsock's tables %ld ms after the rescind", ms);
	EXPECT_TRUE(ms >= 0);
	vsc_signal("gone");
}
VSC_CASE(hvsock_close_rescind, .sock_type = SOCK_STREAM,
	 .summary = "guest close(): FIN, the socket waits; the host's rescind ends it and the guest closes the channel",
	 .server = rescind_host, .client = rescind_guest, .needs = VSC_NEED_HVSOCK,
	 .min_kver = "5.2", .tags = VSC_TAGS("hv_sock: Add support for delayed close"), .timeout_s = 30);

/* HVS_CLOSE_TIMEOUT, and how late the delayed work may run on a slow TCG guest. */
#define CLOSE_TIMEOUT_MS 8000
#define CLOSE_LATE_MS 4000

static void timeout_host(const struct vsc_env *env)
{
	struct hvp_session s;
	struct hvp_conn c;

	hvh_open(&s);
	hvh_accept(&s, HOST_PORT(env), &c);
	vsc_send_value("guest_port", c.guest_port);
	hvh_expect_fin(&c);
	/* No rescind: the guest's close timeout must end the socket by itself. */
	vsc_wait("gone");
	HVP_SAFE(&s, hvp_rescind(&c));
	hvp_close(&s);
}

static void timeout_guest(const struct vsc_env *env)
{
	unsigned int port;
	long ms;
	int fd;

	vsc_wait("listening");
	fd = vsc_connect_to(SOCK_STREAM, env->peer_cid, HOST_PORT(env));
	port = (unsigned int)vsc_recv_value("guest_port");
	SAFE(close(fd));
	ms = hvh_wait_gone(port, HOST_PORT(env), CLOSE_TIMEOUT_MS + CLOSE_LATE_MS);
	vsc_diag("without a rescind the socket left vsock's tables %ld ms after close()", ms);
	EXPECT_TRUE(ms >= CLOSE_TIMEOUT_MS - 100);
	EXPECT_TRUE(ms >= 0 && ms <= CLOSE_TIMEOUT_MS + CLOSE_LATE_MS);
	vsc_signal("gone");
}
VSC_CASE(hvsock_close_timeout, .sock_type = SOCK_STREAM,
	 .summary = "guest close() without the host's rescind: the socket ends after HVS_CLOSE_TIMEOUT (8 s)",
	 .server = timeout_host, .client = timeout_guest, .needs = VSC_NEED_HVSOCK,
	 .min_kver = "5.2", .tags = VSC_TAGS("hv_sock: Add support for delayed close"),
	 .timeout_s = 30);

/* SO_SNDBUF/SO_RCVBUF as set here; the kernel doubles them (sock_setsockopt). */
#define ASK_SNDBUF 40000
#define ASK_RCVBUF 100000

static void set_bufs(int fd)
{
	int snd = ASK_SNDBUF, rcv = ASK_RCVBUF;

	SAFE(setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &snd, sizeof(snd)));
	SAFE(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv)));
}

static int sockbuf(int fd, int opt)
{
	int v = 0;
	socklen_t len = sizeof(v);

	SAFE(getsockopt(fd, SOL_SOCKET, opt, &v, &len));
	return v;
}

static void check_ring(const char *what, uint32_t proto, int buf, uint32_t got)
{
	uint32_t lo, hi;

	hvp_ring_bounds(proto, buf, &lo, &hi);
	vsc_diag("VMBus 0x%x, %s %d: ring of %u data bytes (expected %u..%u)", proto, what, buf, got,
		 lo, hi);
	if (got < lo || got > hi)
		vsc_fail_at(__FILE__, __LINE__, "%s ring %u outside %u..%u", what, got, lo, hi);
}

/*
 * hvs_open_connection() sizes the rings from the listener's buffers: a connecting socket's own
 * SO_SNDBUF is reset by hvs_sock_init() when connect() assigns the transport, so the options are
 * set on a guest listener and the host connects to it.
 */
static void ring_sizes(const struct vsc_env *env)
{
	static const uint32_t protos[] = { HVP_PROTO_WIN10, HVP_PROTO_WIN10_V5 };
	struct hvp_session s;
	struct hvp_conn c;
	struct vsim_event ev;
	size_t i;
	int listener, fd;

	hvh_open(&s);
	listener = SAFE(socket(AF_VSOCK, SOCK_STREAM, 0));
	set_bufs(listener);
	SAFE(vsc_bind(listener, VMADDR_CID_ANY, GUEST_PORT(env)));
	SAFE(listen(listener, 1));
	for (i = 0; i < 2; i++) {
		HVP_SAFE(&s, hvp_set_proto(&s, protos[i]));
		HVP_SAFE(&s, hvp_connect(&s, GUEST_PORT(env), HOST_FROM_PORT(env) + (unsigned int)i, &c));
		ASSERT_EQ(c.state, VSIM_CHAN_OPEN);
		HVP_SAFE(&s, hvp_wait_event(&s, VSIM_EV_OPENED, c.chan, VSC_SETTLE_MS, &ev));
		EXPECT_EQ(ev.value, c.guest_send_ring);
		EXPECT_EQ(ev.value2, c.guest_recv_ring);
		check_ring("SO_SNDBUF", protos[i], sockbuf(listener, SO_SNDBUF), c.guest_send_ring);
		check_ring("SO_RCVBUF", protos[i], sockbuf(listener, SO_RCVBUF), c.guest_recv_ring);
		fd = SAFE(accept(listener, NULL, NULL));
		HVP_SAFE(&s, hvp_rescind(&c));
		SAFE(close(fd));
	}
	HVP_SAFE(&s, hvp_set_proto(&s, 0));
	SAFE(close(listener));
	hvp_close(&s);
}
VSC_CASE(hvsock_ring_sizes, .sock_type = SOCK_STREAM,
	 .summary = "rings follow the listener's SO_SNDBUF/SO_RCVBUF from VMBus WIN10_V5 on and stay 6 pages before",
	 .run = ring_sizes, .needs = VSC_NEED_HVSOCK, .timeout_s = 30,
	 .tags = VSC_TAGS("hv_sock: perf: Allow the socket buffer size options to influence the actual socket buffers"));

static void msg_peek(const struct vsc_env *env)
{
	struct hvp_session s;
	struct hvp_conn c;
	char buf[4];
	int fd, err = vsc_expected_errno("hvsock_msg_peek");

	hvh_open(&s);
	fd = hvh_pair(env, &s, HOST_PORT(env), &c, NULL);
	HVP_SAFE(&s, hvp_send(&c, "abcd", 4, 0));
	ASSERT_TRUE(vsc_poll(fd, POLLIN, VSC_SETTLE_MS) & POLLIN);
	EXPECT_ERRNO(recv(fd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT), err);
	/* The refused peek consumed nothing. */
	vsc_recv_all(fd, buf, sizeof(buf));
	EXPECT_TRUE(memcmp(buf, "abcd", 4) == 0);
	HVP_SAFE(&s, hvp_rescind(&c));
	SAFE(close(fd));
	hvp_close(&s);
}
VSC_CASE(hvsock_msg_peek, .sock_type = SOCK_STREAM,
	 .summary = "recv(MSG_PEEK) is refused (EOPNOTSUPP; ENOMEM before 6.4) and leaves the data in place",
	 .run = msg_peek, .needs = VSC_NEED_HVSOCK, .timeout_s = 20);

static void rcvlowat(const struct vsc_env *env)
{
	struct hvp_session s;
	struct hvp_conn c;
	int fd, one = 1, err = vsc_expected_errno("hvsock_so_rcvlowat");

	hvh_open(&s);
	fd = hvh_pair(env, &s, HOST_PORT(env), &c, NULL);
	if (err)
		EXPECT_ERRNO(setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &one, sizeof(one)), err);
	else
		SAFE(setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &one, sizeof(one)));
	HVP_SAFE(&s, hvp_rescind(&c));
	SAFE(close(fd));
	hvp_close(&s);
}
VSC_CASE(hvsock_rcvlowat, .sock_type = SOCK_STREAM,
	 .summary = "SO_RCVLOWAT on a hv_sock socket is refused with EOPNOTSUPP (accepted before 5.15)",
	 .run = rcvlowat, .needs = VSC_NEED_HVSOCK, .timeout_s = 20,
	 .tags = VSC_TAGS("hv_sock: disable SO_RCVLOWAT support"));

#define CONNECT_TIMEOUT_MS 1000
#define CONNECT_LATE_MS 3000

static void connect_unanswered(const struct vsc_env *env)
{
	struct timespec start;
	long ms;
	int fd = SAFE(socket(AF_VSOCK, SOCK_STREAM, 0));

	/* No host session listens on this port: vmbus_sim drops the TL request, as Hyper-V does. */
	vsc_set_connect_timeout(fd, CONNECT_TIMEOUT_MS);
	clock_gettime(CLOCK_MONOTONIC, &start);
	EXPECT_ERRNO(vsc_connect(fd, env->peer_cid, HOST_PORT(env)), ETIMEDOUT);
	ms = vsc_elapsed_ms(&start);
	vsc_diag("connect() gave up after %ld ms", ms);
	EXPECT_TRUE(ms >= CONNECT_TIMEOUT_MS - 20);
	EXPECT_TRUE(ms < CONNECT_TIMEOUT_MS + CONNECT_LATE_MS);
	SAFE(close(fd));
}
VSC_CASE(hvsock_connect_unanswered, .sock_type = SOCK_STREAM,
	 .summary = "a connect no host application answers ends with ETIMEDOUT after the connect timeout",
	 .run = connect_unanswered, .needs = VSC_NEED_HVSOCK, .timeout_s = 20);

static void offer_unheard(const struct vsc_env *env)
{
	struct hvp_session s;
	struct hvp_conn c;
	int listener, fd;

	hvh_open(&s);
	listener = vsc_listen(SOCK_STREAM, GUEST_PORT(env), 1);
	/* A port nobody listens on: hvs_open_connection() finds no socket and leaves the channel. */
	HVP_SAFE(&s, hvp_connect(&s, GUEST_PORT(env) + 3, HOST_FROM_PORT(env), &c));
	EXPECT_EQ(c.state, VSIM_CHAN_OFFERED);
	EXPECT_EQ(c.guest_send_ring, 0);
	HVP_SAFE(&s, hvp_rescind(&c));
	/* The listener's own port does open: the offer itself was sound. */
	HVP_SAFE(&s, hvp_connect(&s, GUEST_PORT(env), HOST_FROM_PORT(env), &c));
	EXPECT_EQ(c.state, VSIM_CHAN_OPEN);
	fd = SAFE(accept(listener, NULL, NULL));
	HVP_SAFE(&s, hvp_rescind(&c));
	SAFE(close(fd));
	SAFE(close(listener));
	hvp_close(&s);
}
VSC_CASE(hvsock_offer_unheard, .sock_type = SOCK_STREAM,
	 .summary = "the host connects to a guest port nobody listens on: the channel stays unopened",
	 .run = offer_unheard, .needs = VSC_NEED_HVSOCK, .timeout_s = 20);

static void oversized(const struct vsc_env *env)
{
	static uint8_t pkt[HVP_MTU + 64], payload[HVP_MTU + 8];
	struct hvp_session s;
	struct hvp_conn c;
	char buf[64];
	int fd, n, err = vsc_expected_errno("hvsock_oversized_packet");

	hvh_open(&s);
	fd = hvh_pair(env, &s, HOST_PORT(env), &c, NULL);
	n = hvp_frame_raw(pkt, sizeof(pkt), HVP_MTU + 1, payload, HVP_MTU + 8);
	ASSERT_TRUE(n > 0);
	HVP_SAFE(&s, hvp_send_packet(&c, pkt, (uint32_t)n, VSIM_XFER_RAW));
	ASSERT_TRUE(vsc_poll(fd, POLLIN, VSC_SETTLE_MS) & POLLIN);
	EXPECT_ERRNO(recv(fd, buf, sizeof(buf), MSG_DONTWAIT), err);
	HVP_SAFE(&s, hvp_rescind(&c));
	SAFE(close(fd));
	hvp_close(&s);
}
VSC_CASE(hvsock_oversized_packet, .sock_type = SOCK_STREAM,
	 .summary = "a host packet whose data_size exceeds the 16 KiB MTU fails the read (EIO, or ENOMEM where af_vsock turns it)",
	 .run = oversized, .needs = VSC_NEED_HVSOCK, .timeout_s = 20);
