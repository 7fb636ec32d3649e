/*
 * hvsock_probe.c: one case per hv_sock behaviour that changed between kernel versions. Each
 * prints the behaviour this kernel has in a "behaviour:" line and passes when it is the one its
 * version should have, so `vsockcheck bisect --test <probe>` tells good from bad kernels.
 */
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "hvsock_host.h"
#include "vsc.h"
#include "vsc_sock.h"

/* First upstream versions of the fixes whose behaviour has no errno to put in expectations.c. */
#define KVER_ACCEPT_ANY_PORT "5.6"	/* hv_sock: Remove the accept port restriction */
#define KVER_DELAYED_CLOSE "5.2"	/* hv_sock: Add support for delayed close */

#define HOST_PORT(env) ((env)->port)
#define GUEST_PORT(env) ((env)->port + 1)
#define HOST_FROM_PORT(env) ((env)->port + 2)

/* The ephemeral ports old kernels gave the host's end of an accepted socket. */
#define OLD_EPHEMERAL_MIN 0x80000000u

static void accept_peer(const struct vsc_env *env)
{
	struct hvp_session s;
	struct hvp_conn c;
	struct sockaddr_vm peer;
	int listener, fd, restricted;

	hvh_open(&s);
	listener = vsc_listen(SOCK_STREAM, GUEST_PORT(env), 1);
	HVP_SAFE(&s, hvp_connect(&s, GUEST_PORT(env), HOST_FROM_PORT(env), &c));
	ASSERT_EQ(c.state, VSIM_CHAN_OPEN);
	fd = SAFE(accept(listener, NULL, NULL));
	peer = vsc_peername(fd);
	if (peer.svm_cid == env->peer_cid && peer.svm_port == HOST_FROM_PORT(env)) {
		restricted = 0;
		vsc_diag("behaviour: accepted peer is CID %u + the host's port %u (no accept port restriction)",
			 peer.svm_cid, peer.svm_port);
	} else if (peer.svm_cid == VMADDR_CID_ANY && peer.svm_port >= OLD_EPHEMERAL_MIN) {
		restricted = 1;
		vsc_diag("behaviour: accepted peer is CID_ANY + ephemeral port 0x%x (accept port restriction)",
			 peer.svm_port);
	} else {
		vsc_fatal_at(__FILE__, __LINE__, "behaviour: accepted peer is %u:%u, neither known form",
			     peer.svm_cid, peer.svm_port);
	}
	EXPECT_EQ(restricted, !vsc_kernel_at_least(KVER_ACCEPT_ANY_PORT));
	HVP_SAFE(&s, hvp_rescind(&c));
	SAFE(close(fd));
	SAFE(close(listener));
	hvp_close(&s);
}
VSC_CASE(hvsock_probe_accept_port, .sock_type = SOCK_STREAM,
	 .summary = "probe: an accepted socket's peer is CID 2 + the host's port (since 5.6), not CID_ANY + an ephemeral port",
	 .run = accept_peer, .needs = VSC_NEED_HVSOCK, .timeout_s = 20,
	 .tags = VSC_TAGS("hv_sock: Remove the accept port restriction"));

static void fin_read_host(const struct vsc_env *env)
{
	struct hvp_session s;
	struct hvp_conn c;

	hvh_open(&s);
	hvh_accept(&s, HOST_PORT(env), &c);
	/* Data and FIN in the ring together, before the guest reads either. */
	HVP_SAFE(&s, hvp_send(&c, "data", 4, 0));
	HVP_SAFE(&s, hvp_shutdown(&c));
	vsc_signal("sent");
	vsc_wait("done");
	HVP_SAFE(&s, hvp_rescind(&c));
	hvp_close(&s);
}

static void fin_read_guest(const struct vsc_env *env)
{
	int expected = vsc_expected_errno("hvsock_read_at_fin");
	char buf[4];
	ssize_t n;
	int fd, err;

	vsc_wait("listening");
	fd = vsc_connect_to(SOCK_STREAM, env->peer_cid, HOST_PORT(env));
	vsc_wait("sent");
	vsc_recv_all(fd, buf, sizeof(buf));
	EXPECT_TRUE(memcmp(buf, "data", 4) == 0);
	n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
	err = n < 0 ? errno : 0;
	if (n == 0)
		vsc_diag("behaviour: the read at FIN returns 0 (EOF)");
	else if (n < 0)
		vsc_diag("behaviour: the read at FIN fails with %s", vsc_errname(err));
	else
		vsc_diag("behaviour: the read at FIN returns %zd bytes", n);
	EXPECT_TRUE(n <= 0);
	EXPECT_EQ(err, expected);
	vsc_signal("done");
	SAFE(close(fd));
}
VSC_CASE(hvsock_probe_fin_read, .sock_type = SOCK_STREAM,
	 .summary = "probe: after data then FIN, the final read returns 0, not an error (6.17 to 7.0 before the fix)",
	 .server = fin_read_host, .client = fin_read_guest, .needs = VSC_NEED_HVSOCK, .timeout_s = 30,
	 .tags = VSC_TAGS("hv_sock: Return the readable bytes in hvs_stream_has_data()",
			  "hv_sock: Report EOF instead of -EIO for FIN"));

/* How long the socket must outlive close() to count as waiting for the rescind. */
#define STILL_THERE_MS 1000

static void close_host(const struct vsc_env *env)
{
	struct hvp_session s;
	struct hvp_conn c;

	hvh_open(&s);
	hvh_accept(&s, HOST_PORT(env), &c);
	vsc_send_value("guest_port", c.guest_port);
	vsc_wait("looked");
	HVP_SAFE(&s, hvp_rescind(&c));
	vsc_signal("rescinded");
	vsc_wait("done");
	hvp_close(&s);
}

static void close_guest(const struct vsc_env *env)
{
	unsigned int port;
	int fd, listed;
	long ms;

	vsc_wait("listening");
	fd = vsc_connect_to(SOCK_STREAM, env->peer_cid, HOST_PORT(env));
	port = (unsigned int)vsc_recv_value("guest_port");
	SAFE(close(fd));
	usleep(STILL_THERE_MS * 1000);
	listed = hvh_socket_listed(port, HOST_PORT(env));
	vsc_diag("behaviour: %s", listed ? "delayed close (the socket waits for the host's rescind)"
					 : "immediate teardown at close()");
	EXPECT_EQ(listed, vsc_kernel_at_least(KVER_DELAYED_CLOSE));
	vsc_signal("looked");
	vsc_wait("rescinded");
	ms = hvh_wait_gone(port, HOST_PORT(env), VSC_SETTLE_MS);
	EXPECT_TRUE(ms >= 0);
	vsc_signal("done");
}
VSC_CASE(hvsock_probe_delayed_close, .sock_type = SOCK_STREAM,
	 .summary = "probe: close() sends FIN and keeps the socket until the rescind (since 5.2), not torn down at once",
	 .server = close_host, .client = close_guest, .needs = VSC_NEED_HVSOCK, .timeout_s = 30,
	 .tags = VSC_TAGS("hv_sock: Add support for delayed close"));

static void short_packet(const struct vsc_env *env)
{
	static uint8_t pkt[64];
	struct hvp_session s;
	struct hvp_conn c;
	char buf[256];
	int expected = vsc_expected_errno("hvsock_short_packet");
	int fd, n;
	ssize_t got;

	hvh_open(&s);
	fd = hvh_pair(env, &s, HOST_PORT(env), &c, NULL);
	/* 8 payload bytes in the packet, but data_size says 64. */
	n = hvp_frame_raw(pkt, sizeof(pkt), 64, "ABCDEFGH", 8);
	ASSERT_TRUE(n > 0);
	HVP_SAFE(&s, hvp_send_packet(&c, pkt, (uint32_t)n, VSIM_XFER_RAW));
	ASSERT_TRUE(vsc_poll(fd, POLLIN, VSC_SETTLE_MS) & POLLIN);
	got = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
	if (got < 0)
		vsc_diag("behaviour: data_size beyond the packet is refused: %s (validated)",
			 vsc_errname(errno));
	else
		vsc_diag("behaviour: data_size beyond the packet is believed: read %zd bytes (not validated)",
			 got);
	if (expected)
		EXPECT_ERRNO(got, expected);
	else
		EXPECT_EQ(got, 64);
	HVP_SAFE(&s, hvp_rescind(&c));
	SAFE(close(fd));
	hvp_close(&s);
}
VSC_CASE(hvsock_probe_untrusted_len, .sock_type = SOCK_STREAM,
	 .summary = "probe: a host packet whose data_size exceeds the packet fails the read (since 5.17), not read past it",
	 .run = short_packet, .needs = VSC_NEED_HVSOCK, .timeout_s = 20,
	 .tags = VSC_TAGS("hv_sock: Add validation for untrusted Hyper-V values"));
