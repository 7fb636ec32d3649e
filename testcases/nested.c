/*
 * nested.c: nested CIDs. L1 is a guest of L0 (virtio transport, CID 3) that hosts L2 guests
 * through vhost_vsock (it is CID 2 to them); the kernel must send each CID to the right
 * transport. The server role runs in L1, the client in L2a (pass "l1" of the nested topology);
 * identity services answer as L0 (CID 2 seen from L1) and L2b (the sibling) on env->ident_port.
 */
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "vsc.h"
#include "vsc_ident.h"
#include "vsc_qmp.h"
#include "vsc_sock.h"

#define ROUNDS 16
#define CHUNK 512
/* How long a connect that nobody answers may wait: it must end in ETIMEDOUT, not hang. */
#define PATIENCE_MS 500
/* A CID no guest holds, unless the topology gave it to one (then the next free one). */
#define UNHELD_CID 99

/* Each role of a nested case has its level; elsewhere it reports why it does not run. */
static void require_level(const struct vsc_env *env, unsigned int level)
{
	if (env->level != level)
		vsc_skip("this role runs in L%u and this kernel is L%u (nested cases run in pass l1)",
			 level, env->level);
}

static int patient_socket(int ms)
{
	int fd = SAFE(socket(AF_VSOCK, SOCK_STREAM, 0));

	vsc_set_connect_timeout(fd, ms);
	return fd;
}

static unsigned int unheld_cid(const struct vsc_env *env)
{
	unsigned int cid = UNHELD_CID;

	while (cid == env->l2_cid || cid == env->sibling_cid || cid == env->device_cid)
		cid++;
	return cid;
}

/* Pause between connects to a guest that is not there yet. */
#define RETRY_PAUSE_MS 200
/*
 * How long L2b may take to answer its identity: the runner starts it when pass l1 begins. A
 * TCG-in-TCG boot took 40-70 s on an idle machine and over 200 s on a loaded one (L2a's boot
 * measured 209 s, and L2b had not answered 150 s into this case): the same bound as the split
 * harness's wait for L2a's boot (split.c START_S).
 */
#define SIBLING_UP_MS 300000

/*
 * Connects to cid:port by `since` + within_ms, retrying while the guest behind the CID is not
 * there yet: no vhost_vsock holds the CID (ENODEV: QEMU has not set it, or the device is
 * unplugged), the guest's driver takes no packets yet (ETIMEDOUT: vhost keeps them queued;
 * EHOSTUNREACH: newer vhost_transport_send_pkt() fails fast while the guest's RX queue has no
 * backend, seen on 7.2 right after a replug), or nothing listens yet (ECONNRESET). Says how
 * long it waited; any other error, or the deadline, ends the role naming `who`.
 */
static int connect_when_up(unsigned int cid, unsigned int port, const struct timespec *since,
			   int within_ms, const char *who)
{
	int fd, err, attempts = 0;

	do {
		attempts++;
		fd = patient_socket(2000);
		if (vsc_connect(fd, cid, port) == 0) {
			vsc_diag("%s answered %ld ms after the wait began (%d connects)", who,
				 vsc_elapsed_ms(since), attempts);
			return fd;
		}
		err = errno;
		SAFE(close(fd));
		if (err != ENODEV && err != ETIMEDOUT && err != EHOSTUNREACH && err != ECONNRESET)
			vsc_fatal_at(__FILE__, __LINE__, "connect to %s (CID %u port %u): %s", who,
				     cid, port, vsc_errname(err));
		poll(NULL, 0, RETRY_PAUSE_MS);
	} while (vsc_elapsed_ms(since) < within_ms);
	vsc_fatal_at(__FILE__, __LINE__, "%s (CID %u port %u) unreachable for %d ms: last %s",
		     who, cid, port, within_ms, vsc_errname(err));
}

/* Echoes until the peer closes: the L2a side of the identity protocol. */
static void echo_until_eof(int fd)
{
	char buf[CHUNK];
	ssize_t n;

	while ((n = SAFE(recv(fd, buf, sizeof(buf), 0))) > 0)
		vsc_send_all(fd, buf, (size_t)n);
}

/* Accepts one connection, answers as the identity service NAME does, and closes it at EOF. */
static void serve_ident_once(int listener, const char *name)
{
	int fd = SAFE(accept(listener, NULL, NULL));

	SAFE(vsc_ident_greet(fd, name));
	echo_until_eof(fd);
	SAFE(close(fd));
}

/* Sends a chunk of the pattern and checks that the echo comes back unchanged. */
static void check_echo(int fd, uint64_t offset)
{
	unsigned char out[CHUNK], in[CHUNK];

	vsc_fill_pattern(out, sizeof(out), offset);
	vsc_send_all(fd, out, sizeof(out));
	vsc_recv_all(fd, in, sizeof(in));
	EXPECT_TRUE(memcmp(in, out, sizeof(in)) == 0);
}

/*
 * No connection waits on the listener. The listener itself must be non-blocking: accept4()'s
 * SOCK_NONBLOCK applies only to the socket it returns, so accept4(listener, ..., SOCK_NONBLOCK)
 * on a blocking listener waits for a connection that, when the check holds, never comes.
 */
static void expect_no_pending_connection(int listener)
{
	SAFE(fcntl(listener, F_SETFL, SAFE(fcntl(listener, F_GETFL)) | O_NONBLOCK));
	EXPECT_ERRNO(accept(listener, NULL, NULL), EAGAIN);
}

static int sock_error(int fd)
{
	int err = 0;
	socklen_t len = sizeof(err);

	SAFE(getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len));
	return err;
}

/* L2a's usual part: listen on env->port, greet each connection as L2a, echo it until EOF. */
static void l2a_greeting_listener(const struct vsc_env *env, int connections)
{
	int listener, i;

	require_level(env, 2);
	listener = vsc_listen(SOCK_STREAM, env->port, connections);
	vsc_signal("listening");
	for (i = 0; i < connections; i++)
		serve_ident_once(listener, "L2a");
	SAFE(close(listener));
}

static void both_ways_server(const struct vsc_env *env)
{
	unsigned char out[CHUNK], in[CHUNK];
	int to_l0, to_l2, i;

	require_level(env, 1);
	vsc_wait("listening");
	/* CID 2 goes to the guest-to-host transport (L0), CID l2_cid to vhost_vsock (L2a). */
	to_l2 = vsc_connect_to(SOCK_STREAM, env->l2_cid, env->port);
	to_l0 = vsc_connect_to(SOCK_STREAM, VMADDR_CID_HOST, env->ident_port);
	vsc_ident_expect(to_l0, "L0");
	vsc_ident_expect(to_l2, "L2a");
	EXPECT_EQ(vsc_peername(to_l0).svm_cid, VMADDR_CID_HOST);
	EXPECT_EQ(vsc_peername(to_l2).svm_cid, env->l2_cid);
	/* Both stay open; the rounds interleave so each transport carries data while the other does. */
	for (i = 0; i < ROUNDS; i++) {
		vsc_fill_pattern(out, sizeof(out), (uint64_t)i * CHUNK);
		vsc_send_all(to_l0, out, sizeof(out));
		vsc_send_all(to_l2, out, sizeof(out));
		vsc_recv_all(to_l0, in, sizeof(in));
		EXPECT_TRUE(memcmp(in, out, sizeof(in)) == 0);
		vsc_recv_all(to_l2, in, sizeof(in));
		EXPECT_TRUE(memcmp(in, out, sizeof(in)) == 0);
	}
	SAFE(close(to_l0));
	SAFE(close(to_l2));
}

static void both_ways_client(const struct vsc_env *env)
{
	l2a_greeting_listener(env, 1);
}
VSC_CASE(nested_l0_and_l2_at_once, .sock_type = SOCK_STREAM,
	 .summary = "from L1, CID 2 reaches L0 and the L2 CID reaches L2a, both open, data interleaved",
	 .server = both_ways_server, .client = both_ways_client, .needs = VSC_NEED_NESTED,
	 .timeout_s = 30,
	 .tags = VSC_TAGS("vsock: add multi-transports support"));

static void to_host_server(const struct vsc_env *env)
{
	struct sockaddr_vm addr = vsc_addr(env->l2_cid, env->port);
	int fd;

	require_level(env, 1);
	vsc_wait("listening");
	/*
	 * The flag sends even a CID above 2 to the guest-to-host transport: the REQUEST goes to
	 * L0, whose device routes nothing to the L2 CID and drops it. Without the flag vhost_vsock
	 * would carry it to L2a's listener, which would answer at once.
	 */
	addr.svm_flags = VMADDR_FLAG_TO_HOST;
	fd = patient_socket(PATIENCE_MS);
	EXPECT_ERRNO(connect(fd, (struct sockaddr *)&addr, sizeof(addr)), ETIMEDOUT);
	SAFE(close(fd));
	fd = vsc_connect_to(SOCK_STREAM, env->l2_cid, env->port);
	vsc_ident_expect(fd, "L2a");
	SAFE(close(fd));
	vsc_signal("done");
}

static void to_host_client(const struct vsc_env *env)
{
	int listener;

	require_level(env, 2);
	listener = vsc_listen(SOCK_STREAM, env->port, 2);
	vsc_signal("listening");
	serve_ident_once(listener, "L2a");
	vsc_wait("done");
	/* Only the connect without the flag arrived here. */
	expect_no_pending_connection(listener);
	SAFE(close(listener));
}
/* The flag and its routing came in mainline 5.11; Debian's 5.10 sources have them too. */
VSC_CASE(nested_to_host_flag, .sock_type = SOCK_STREAM,
	 .summary = "from L1, VMADDR_FLAG_TO_HOST sends the L2 CID to L0 (dropped); without it, to L2a",
	 .server = to_host_server, .client = to_host_client, .needs = VSC_NEED_NESTED,
	 .min_kver = "5.10", .timeout_s = 30,
	 .tags = VSC_TAGS("vm_sockets: Add VMADDR_FLAG_TO_HOST vsock flag",
			  "af_vsock: Assign the vsock transport considering the vsock address flags"));

static unsigned int dev_vsock_local_cid(void)
{
	int fd = SAFE(open("/dev/vsock", O_RDONLY));
	unsigned int cid = 0;

	SAFE(ioctl(fd, IOCTL_VM_SOCKETS_GET_LOCAL_CID, &cid));
	SAFE(close(fd));
	return cid;
}

static void names_server(const struct vsc_env *env)
{
	struct sockaddr_vm name, peer;
	int listener, fd;

	require_level(env, 1);
	/* L1 has all three transports: the guest CID (of virtio, to L0) comes first. */
	EXPECT_EQ(dev_vsock_local_cid(), env->device_cid);
	listener = vsc_listen(SOCK_STREAM, env->port, 1);
	vsc_signal("listening");
	fd = SAFE(accept(listener, NULL, NULL));
	name = vsc_sockname(fd);
	peer = vsc_peername(fd);
	/* L2a addressed CID 2: the accepted socket takes that CID, not L1's CID toward L0. */
	EXPECT_EQ(name.svm_cid, VMADDR_CID_HOST);
	EXPECT_EQ(name.svm_port, env->port);
	EXPECT_EQ(peer.svm_cid, env->l2_cid);
	EXPECT_EQ(peer.svm_port, vsc_recv_value("client port"));
	SAFE(close(fd));
	SAFE(close(listener));

	vsc_wait("listening 2");
	fd = vsc_connect_to(SOCK_STREAM, env->l2_cid, env->port + 1);
	name = vsc_sockname(fd);
	peer = vsc_peername(fd);
	/* An auto-bound socket keeps VMADDR_CID_ANY: the transport updates only a bound CID. */
	EXPECT_EQ(name.svm_cid, VMADDR_CID_ANY);
	EXPECT_TRUE(name.svm_port > 1023 && name.svm_port != VMADDR_PORT_ANY);
	EXPECT_EQ(peer.svm_cid, env->l2_cid);
	EXPECT_EQ(peer.svm_port, env->port + 1);
	vsc_send_value("l1 port", name.svm_port);
	vsc_wait("checked");
	SAFE(close(fd));
}

static void names_client(const struct vsc_env *env)
{
	struct sockaddr_vm name, peer;
	int listener, fd;

	require_level(env, 2);
	EXPECT_EQ(dev_vsock_local_cid(), env->l2_cid);
	vsc_wait("listening");
	fd = vsc_connect_to(SOCK_STREAM, VMADDR_CID_HOST, env->port);
	name = vsc_sockname(fd);
	peer = vsc_peername(fd);
	EXPECT_EQ(name.svm_cid, VMADDR_CID_ANY);
	EXPECT_EQ(peer.svm_cid, VMADDR_CID_HOST);
	EXPECT_EQ(peer.svm_port, env->port);
	vsc_send_value("client port", name.svm_port);
	SAFE(close(fd));

	listener = vsc_listen(SOCK_STREAM, env->port + 1, 1);
	vsc_signal("listening 2");
	fd = SAFE(accept(listener, NULL, NULL));
	name = vsc_sockname(fd);
	peer = vsc_peername(fd);
	/* vhost_vsock sends as CID 2: L1 is the host here. */
	EXPECT_EQ(name.svm_cid, env->l2_cid);
	EXPECT_EQ(name.svm_port, env->port + 1);
	EXPECT_EQ(peer.svm_cid, VMADDR_CID_HOST);
	EXPECT_EQ(peer.svm_port, vsc_recv_value("l1 port"));
	vsc_signal("checked");
	SAFE(close(fd));
	SAFE(close(listener));
}
VSC_CASE(nested_local_cid_and_names, .sock_type = SOCK_STREAM,
	 .summary = "the local CID ioctl gives 3 in L1 and the L2 CID in L2a; both ends name each other",
	 .server = names_server, .client = names_client,
	 .needs = VSC_NEED_NESTED | VSC_NEED_DEV_VSOCK, .timeout_s = 30,
	 .tags = VSC_TAGS("vsock: Fix IOCTL_VM_SOCKETS_GET_LOCAL_CID to check also `transport_local`",
			  "vsock: Fix transport_{g2h,h2g} TOCTOU"));

static int bound_listener(unsigned int cid, unsigned int port)
{
	int fd = SAFE(socket(AF_VSOCK, SOCK_STREAM, 0));

	SAFE(vsc_bind(fd, cid, port));
	SAFE(listen(fd, 1));
	return fd;
}

static void bind_server(const struct vsc_env *env)
{
	int to_host, to_device, to_any, fd;

	require_level(env, 1);
	/* vsock_find_cid(): the g2h device's CID, and CID 2 because a host transport is loaded. */
	to_host = bound_listener(VMADDR_CID_HOST, env->port);
	to_device = bound_listener(env->device_cid, env->port + 1);
	to_any = bound_listener(VMADDR_CID_ANY, env->port + 2);
	fd = SAFE(socket(AF_VSOCK, SOCK_STREAM, 0));
	EXPECT_ERRNO(vsc_bind(fd, env->l2_cid, env->port + 3), vsc_expected_errno("bind_foreign_cid"));
	SAFE(close(fd));
	vsc_signal("listening");
	SAFE(close(SAFE(accept(to_host, NULL, NULL))));
	SAFE(close(SAFE(accept(to_any, NULL, NULL))));
	vsc_wait("done");
	/* L2a's REQUEST to CID 2 never matched the listener bound to L1's CID toward L0. */
	expect_no_pending_connection(to_device);
	SAFE(close(to_host));
	SAFE(close(to_device));
	SAFE(close(to_any));
}

static void bind_client(const struct vsc_env *env)
{
	int fd;

	require_level(env, 2);
	fd = SAFE(socket(AF_VSOCK, SOCK_STREAM, 0));
	/* L2a has only a guest transport: CID 2 is its host's, not its own. */
	if (vsc_module_state("vhost_vsock") != VSC_MODULE_ABSENT)
		vsc_diag("vhost_vsock is loaded or built in in L2a too: it may bind CID 2, not checked");
	else
		EXPECT_ERRNO(vsc_bind(fd, VMADDR_CID_HOST, env->port + 4),
			     vsc_expected_errno("bind_foreign_cid"));
	SAFE(close(fd));
	fd = SAFE(socket(AF_VSOCK, SOCK_STREAM, 0));
	SAFE(vsc_bind(fd, env->l2_cid, env->port + 5));
	SAFE(close(fd));
	vsc_wait("listening");
	SAFE(close(vsc_connect_to(SOCK_STREAM, VMADDR_CID_HOST, env->port)));
	/* Nothing in L1 listens on (2, port + 1): its request is reset like any unheard one. */
	fd = SAFE(socket(AF_VSOCK, SOCK_STREAM, 0));
	EXPECT_ERRNO(vsc_connect(fd, VMADDR_CID_HOST, env->port + 1),
		     vsc_expected_errno("connect_no_listener"));
	SAFE(close(fd));
	SAFE(close(vsc_connect_to(SOCK_STREAM, VMADDR_CID_HOST, env->port + 2)));
	vsc_signal("done");
}
VSC_CASE(nested_bind_cids, .sock_type = SOCK_STREAM,
	 .summary = "L1 binds CID 2 and 3, L2a only its own; L2a's CID 2 reaches listeners on 2 and ANY, not 3",
	 .server = bind_server, .client = bind_client, .needs = VSC_NEED_NESTED, .timeout_s = 30,
	 .tags = VSC_TAGS("vsock: add multi-transports support",
			  "vsock: Fix transport_{g2h,h2g} TOCTOU"));

static void reaches_l1_server(const struct vsc_env *env)
{
	int listener;

	require_level(env, 1);
	/* The identity port: had the REQUEST gone on to L0, L0's service would answer "L0". */
	listener = vsc_listen(SOCK_STREAM, env->ident_port, 1);
	vsc_signal("listening");
	serve_ident_once(listener, "L1");
	SAFE(close(listener));
}

static void reaches_l1_client(const struct vsc_env *env)
{
	int fd;

	require_level(env, 2);
	vsc_wait("listening");
	fd = vsc_connect_to(SOCK_STREAM, VMADDR_CID_HOST, env->ident_port);
	vsc_ident_expect(fd, "L1");
	check_echo(fd, 0);
	SAFE(close(fd));
}
VSC_CASE(nested_l2_reaches_l1, .sock_type = SOCK_STREAM,
	 .summary = "L2a's CID 2 is L1 (its host), never L0: L1's listener answers as L1",
	 .server = reaches_l1_server, .client = reaches_l1_client, .needs = VSC_NEED_NESTED,
	 .timeout_s = 30);

#define G2H_FALLBACK "/proc/sys/net/vsock/g2h_fallback"

/* The sysctl's value, or -1 where the kernel has none (it came with vsock's netns support). */
static int read_g2h_fallback(void)
{
	char text[8] = "";
	int fd = open(G2H_FALLBACK, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	SAFE(read(fd, text, sizeof(text) - 1));
	SAFE(close(fd));
	return atoi(text);
}

static void write_g2h_fallback(int value)
{
	char text[8];
	int fd = SAFE(open(G2H_FALLBACK, O_WRONLY | O_CLOEXEC));
	int len = snprintf(text, sizeof(text), "%d\n", value);

	SAFE(write(fd, text, (size_t)len));
	SAFE(close(fd));
}

static void unheld_server(const struct vsc_env *env)
{
	unsigned int cid = unheld_cid(env);
	int fd, fallback;

	require_level(env, 1);
	fallback = read_g2h_fallback();
	if (fallback >= 0)
		write_g2h_fallback(0);
	/* vhost_vsock carries CIDs above 2, and no guest of L1 has this one. */
	fd = SAFE(socket(AF_VSOCK, SOCK_STREAM, 0));
	EXPECT_ERRNO(vsc_connect(fd, cid, env->port), vsc_expected_errno("nested_h2g_connect_unheld_cid"));
	SAFE(close(fd));
	if (fallback < 0)
		return;
	/*
	 * net.vsock.g2h_fallback=1 (the default where it exists): a CID no guest of L1 holds goes
	 * to L1's own host instead (vsock_assign_transport() asks the h2g transport first). L0's
	 * device has no such CID and drops the REQUEST, so the connect is never answered.
	 */
	write_g2h_fallback(1);
	fd = patient_socket(PATIENCE_MS);
	EXPECT_ERRNO(vsc_connect(fd, cid, env->port), ETIMEDOUT);
	SAFE(close(fd));
	write_g2h_fallback(fallback);
}

static void unheld_client(const struct vsc_env *env)
{
	unsigned int cid = unheld_cid(env);
	int fd;

	require_level(env, 2);
	fd = patient_socket(PATIENCE_MS);
	EXPECT_ERRNO(vsc_connect(fd, cid, env->port),
		     vsc_expected_errno("nested_g2h_connect_unrouted_cid"));
	SAFE(close(fd));
}
VSC_CASE(nested_unheld_cid, .sock_type = SOCK_STREAM,
	 .summary = "a CID no guest holds: L1's connect fails at once (ENODEV; with g2h_fallback it goes "
		    "to L0, unanswered), L2a's is never answered",
	 .server = unheld_server, .client = unheld_client, .needs = VSC_NEED_NESTED,
	 .timeout_s = 30);

static void require_sibling(const struct vsc_env *env)
{
	if (env->sibling_cid == VMADDR_CID_ANY)
		vsc_skip("no second L2 guest here (--sibling-cid -1)");
}

static void sibling_server(const struct vsc_env *env)
{
	struct timespec start;
	int fd;

	require_level(env, 1);
	require_sibling(env);
	clock_gettime(CLOCK_MONOTONIC, &start);
	fd = connect_when_up(env->sibling_cid, env->ident_port, &start, SIBLING_UP_MS,
			     "L2b's identity service");
	vsc_ident_expect(fd, "L2b");
	check_echo(fd, 0);
	SAFE(close(fd));
}

static void sibling_client(const struct vsc_env *env)
{
	int fd;

	require_level(env, 2);
	require_sibling(env);
	/* vhost_vsock takes from L2a only packets addressed to CID 2: L2b never sees this one. */
	fd = patient_socket(PATIENCE_MS);
	EXPECT_ERRNO(vsc_connect(fd, env->sibling_cid, env->ident_port),
		     vsc_expected_errno("nested_g2h_connect_unrouted_cid"));
	SAFE(close(fd));
}
VSC_CASE(nested_sibling_l2, .sock_type = SOCK_STREAM,
	 .summary = "L1 reaches the second L2 guest (L2b); L2a cannot: vhost carries only packets to CID 2",
	 .server = sibling_server, .client = sibling_client, .needs = VSC_NEED_NESTED,
	 .timeout_s = SIBLING_UP_MS / 1000 + 30);

/* Whether a transport owns `cid`: binding to a CID succeeds only if a registered transport has it. */
static int transport_owns(unsigned int cid, unsigned int port)
{
	int fd = SAFE(socket(AF_VSOCK, SOCK_STREAM, 0));
	int owned = vsc_bind(fd, cid, port) == 0;

	SAFE(close(fd));
	return owned;
}

/* Connects to cid:port, accepts it on listener, and sends a chunk each way. */
static void local_round_trip(int listener, unsigned int cid, unsigned int port, uint64_t offset)
{
	int out = vsc_connect_to(SOCK_STREAM, cid, port);
	int in = SAFE(accept(listener, NULL, NULL));
	unsigned char sent[CHUNK], got[CHUNK];

	EXPECT_EQ(vsc_peername(out).svm_cid, cid);
	/* vsock_loopback sends as CID 1 whichever CID was dialled. */
	EXPECT_EQ(vsc_peername(in).svm_cid, VMADDR_CID_LOCAL);
	vsc_fill_pattern(sent, sizeof(sent), offset);
	vsc_send_all(out, sent, sizeof(sent));
	vsc_recv_all(in, got, sizeof(got));
	EXPECT_TRUE(memcmp(sent, got, sizeof(got)) == 0);
	vsc_send_all(in, sent, sizeof(sent));
	vsc_recv_all(out, got, sizeof(got));
	EXPECT_TRUE(memcmp(sent, got, sizeof(got)) == 0);
	SAFE(close(in));
	SAFE(close(out));
}

static void loopback_in_l1(const struct vsc_env *env)
{
	int listener;

	require_level(env, 1);
	/* vsock_find_cid(): each transport makes its CID bindable. */
	if (!transport_owns(VMADDR_CID_HOST, env->port + 1))
		vsc_fatal_at(__FILE__, __LINE__, "CID 2 is not bindable: vhost_vsock is not loaded");
	if (!transport_owns(env->device_cid, env->port + 1))
		vsc_fatal_at(__FILE__, __LINE__, "CID %u is not bindable: no virtio transport to L0",
			     env->device_cid);
	if (!transport_owns(VMADDR_CID_LOCAL, env->port + 1))
		vsc_fatal_at(__FILE__, __LINE__, "CID 1 is not bindable: vsock_loopback is not loaded");
	listener = vsc_listen(SOCK_STREAM, env->port, 2);
	local_round_trip(listener, VMADDR_CID_LOCAL, env->port, 0);
	/* With a loopback transport, the guest's own CID goes to it too, not to L0. */
	local_round_trip(listener, env->device_cid, env->port, CHUNK);
	SAFE(close(listener));
}
VSC_CASE(nested_loopback_in_l1, .sock_type = SOCK_STREAM,
	 .summary = "in L1, with virtio, vhost and loopback loaded, CID 1 and L1's own CID stay local",
	 .run = loopback_in_l1, .needs = VSC_NEED_NESTED,
	 .tags = VSC_TAGS("vsock: use local transport when it is loaded"));

#define VHOST_VSOCK_KO "/lib/modules/vsockcheck/vhost_vsock.ko"
#define L2_DEVICE_ID "vsc_l2_vsock"
/* pciehp waits 5 s after the attention button before it removes a device; TCG in TCG is slow. */
#define UNPLUG_MS 30000
/* A closing socket holds the module until its peer's RST or VSOCK_CLOSE_TIMEOUT (8 s). */
#define UNLOAD_MS 12000
/* The replugged device: QEMU, then L2a's pciehp and virtio_vsock_probe. */
#define REPLUG_MS 60000

/* The first process holding /dev/vhost-vsock open, as "pid N (comm)", or "" if none. */
static void vhost_vsock_holder(char *out, size_t size)
{
	char path[300], target[64], comm[64] = "";
	struct dirent *p, *f;
	DIR *procs = opendir("/proc"), *fds;

	out[0] = '\0';
	while (procs && !out[0] && (p = readdir(procs))) {
		if (p->d_name[0] < '1' || p->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/fd", p->d_name);
		fds = opendir(path);
		while (fds && !out[0] && (f = readdir(fds))) {
			ssize_t n;
			FILE *c;

			snprintf(path, sizeof(path), "/proc/%s/fd/%s", p->d_name, f->d_name);
			n = readlink(path, target, sizeof(target) - 1);
			if (n < 0)
				continue;
			target[n] = '\0';
			if (strcmp(target, "/dev/vhost-vsock") != 0)
				continue;
			snprintf(path, sizeof(path), "/proc/%s/comm", p->d_name);
			c = fopen(path, "re");
			if (c && fgets(comm, sizeof(comm), c))
				comm[strcspn(comm, "\n")] = '\0';
			if (c)
				fclose(c);
			snprintf(out, size, "pid %s (%s)", p->d_name, comm);
		}
		if (fds)
			closedir(fds);
	}
	if (procs)
		closedir(procs);
}

static long delete_vhost_vsock(void)
{
	return syscall(SYS_delete_module, "vhost_vsock", O_NONBLOCK);
}

/* Unloads vhost_vsock within UNLOAD_MS; 0, or -1 with why in `why`. */
static int unload_vhost_vsock(char *why, size_t size)
{
	int waited;

	for (waited = 0; waited < UNLOAD_MS; waited += RETRY_PAUSE_MS) {
		if (delete_vhost_vsock() == 0)
			return 0;
		if (errno != EWOULDBLOCK) {
			snprintf(why, size, "delete_module(vhost_vsock) failed: %s", vsc_errname(errno));
			return -1;
		}
		poll(NULL, 0, RETRY_PAUSE_MS);
	}
	snprintf(why, size, "vhost_vsock still in use %d ms after its sockets closed", UNLOAD_MS);
	return -1;
}

/* The device of one L2 guest (both have the same id and root port), out and waited for. */
static void unplug_l2_device(struct vsc_qmp *q, const char *who)
{
	vsc_qmp_execute(q, "{\"execute\": \"device_del\", \"arguments\": {\"id\": \"" L2_DEVICE_ID "\"}}");
	if (vsc_qmp_wait_event(q, "DEVICE_DELETED", L2_DEVICE_ID, UNPLUG_MS) != 0)
		vsc_fatal_at(__FILE__, __LINE__, "no DEVICE_DELETED for %s's %s within %d ms", who,
			     L2_DEVICE_ID, UNPLUG_MS);
}

static void plug_l2_device(struct vsc_qmp *q, unsigned int cid)
{
	char add[256];

	snprintf(add, sizeof(add), "{\"execute\": \"device_add\", \"arguments\": {\"driver\": "
		 "\"vhost-vsock-pci\", \"id\": \"" L2_DEVICE_ID "\", \"bus\": \"vsc_l2_rp\", "
		 "\"guest-cid\": %u}}", cid);
	vsc_qmp_execute(q, add);
}

/* L2b's identity service answers and echoes: L2b is up (its pciehp too) or back. */
static void expect_sibling_answers(const struct vsc_env *env, const struct timespec *since,
				   int within_ms, const char *who)
{
	int fd = connect_when_up(env->sibling_cid, env->ident_port, since, within_ms, who);

	vsc_ident_expect(fd, "L2b");
	check_echo(fd, 0);
	SAFE(close(fd));
}

static void reload_server(const struct vsc_env *env)
{
	char holder[128] = "", unload_failed[256] = "";
	int ko = -1, to_l0, closing, orphan, unloaded = 0, sibling, builtin;
	struct vsc_qmp *qa, *qb = NULL;
	struct timespec start;

	require_level(env, 1);
	if (!env->l2_qmp)
		vsc_skip("no --l2-qmp: L2a's vsock device cannot be unplugged");
	/* Without its QMP socket L2b's QEMU keeps /dev/vhost-vsock open: the unload is skipped. */
	sibling = env->sibling_cid != VMADDR_CID_ANY && env->sibling_qmp;
	/* Built in, it cannot be unloaded: the unplug, the resets and the replug are still checked. */
	builtin = vsc_module_state("vhost_vsock") == VSC_MODULE_BUILTIN;
	if (!builtin)
		ko = SAFE(open(VHOST_VSOCK_KO, O_RDONLY | O_CLOEXEC));
	clock_gettime(CLOCK_MONOTONIC, &start);
	/* Its unplug needs L2b's pciehp: wait for L2b to be up first (it boots during pass l1). */
	if (sibling)
		expect_sibling_answers(env, &start, SIBLING_UP_MS, "L2b before the unplug");
	vsc_wait("listening");
	/* A connection to L0 that must live through everything: it is virtio's, not vhost's. */
	to_l0 = vsc_connect_to(SOCK_STREAM, VMADDR_CID_HOST, env->ident_port);
	vsc_ident_expect(to_l0, "L0");
	closing = vsc_connect_to(SOCK_STREAM, env->l2_cid, env->port);
	vsc_ident_expect(closing, "L2a");
	orphan = vsc_connect_to(SOCK_STREAM, env->l2_cid, env->port);
	vsc_ident_expect(orphan, "L2a");
	/* Sockets assigned to vhost and QEMU's /dev/vhost-vsock hold the module: try_stop_module(). */
	if (!builtin)
		EXPECT_ERRNO(delete_vhost_vsock(), EWOULDBLOCK);

	SAFE(close(closing));
	vsc_wait("closed");
	/* L2b's device first: if it fails to go, the role ends before L2a's device is touched. */
	if (sibling) {
		qb = vsc_qmp_open(env->sibling_qmp);
		unplug_l2_device(qb, "L2b");
	}
	qa = vsc_qmp_open(env->l2_qmp);
	unplug_l2_device(qa, "L2a");
	/*
	 * vhost_vsock_dev_release() resets the sockets whose guest went away, and only those of
	 * its own transport: L1's connection to L0 has no error (its data is checked below).
	 * Until L2a's device is back nothing here may end the role: L2a must get its device again.
	 */
	EXPECT_EQ(sock_error(orphan), ECONNRESET);
	EXPECT_EQ(sock_error(to_l0), 0);
	SAFE(close(orphan));

	if (!builtin) {
		unloaded = unload_vhost_vsock(unload_failed, sizeof(unload_failed)) == 0;
		if (!unloaded)
			vhost_vsock_holder(holder, sizeof(holder));
		else
			EXPECT_TRUE(syscall(SYS_finit_module, ko, "", 0) == 0);
		SAFE(close(ko));
	}
	plug_l2_device(qa, env->l2_cid);
	vsc_qmp_close(qa);
	clock_gettime(CLOCK_MONOTONIC, &start);
	vsc_signal("replugged");
	if (qb) {
		plug_l2_device(qb, env->sibling_cid);
		vsc_qmp_close(qb);
	}

	check_echo(to_l0, 0);
	/* Both guests bring their device up at once: one deadline from the replug for both. */
	closing = connect_when_up(env->l2_cid, env->port, &start, REPLUG_MS,
				  "L2a's listener after the replug");
	vsc_ident_expect(closing, "L2a");
	check_echo(closing, 0);
	SAFE(close(closing));
	if (sibling)
		expect_sibling_answers(env, &start, REPLUG_MS, "L2b after the replug");
	check_echo(to_l0, CHUNK);
	SAFE(close(to_l0));
	if (builtin)
		vsc_skip("vhost_vsock is built in: cannot be unloaded (the unplug, resets and replug "
			 "around it passed)");
	if (!unloaded && holder[0])
		vsc_skip("%s; %s holds /dev/vhost-vsock (another L2 guest?), so the unload and "
			 "reload were not tested", unload_failed, holder);
	if (!unloaded)
		vsc_fail_at(__FILE__, __LINE__, "%s, and nobody holds /dev/vhost-vsock", unload_failed);
}

/*
 * The first connection after the replug that L1 still holds: an attempt L1 gave up on may
 * have reached the listener before L1's RST did. L1 sends a chunk after the greeting.
 */
static int accept_l1_again(int listener)
{
	char buf[CHUNK];
	ssize_t n;
	int fd;

	for (;;) {
		fd = SAFE(accept(listener, NULL, NULL));
		if (vsc_ident_greet(fd, "L2a") == 0 && (n = recv(fd, buf, sizeof(buf), 0)) > 0) {
			vsc_send_all(fd, buf, (size_t)n);
			return fd;
		}
		vsc_diag("an accepted connection was already gone (an attempt L1 gave up on)");
		SAFE(close(fd));
	}
}

static void reload_client(const struct vsc_env *env)
{
	int listener, closing, orphan, fd;
	char byte;

	require_level(env, 2);
	listener = vsc_listen(SOCK_STREAM, env->port, 2);
	vsc_signal("listening");
	closing = SAFE(accept(listener, NULL, NULL));
	SAFE(vsc_ident_greet(closing, "L2a"));
	orphan = SAFE(accept(listener, NULL, NULL));
	SAFE(vsc_ident_greet(orphan, "L2a"));
	/* L1 closed its end: EOF here, and our RST lets L1's socket go (with its module ref). */
	ASSERT_TRUE(vsc_poll(closing, POLLIN, VSC_SETTLE_MS) & POLLIN);
	EXPECT_EQ(SAFE(recv(closing, &byte, 1, 0)), 0);
	SAFE(close(closing));
	vsc_signal("closed");

	vsc_wait("replugged");
	/* virtio_vsock_remove() reset the connection that was open when the device left. */
	EXPECT_EQ(sock_error(orphan), ECONNRESET);
	SAFE(close(orphan));
	/* The listener had no device under it for a while, and still takes L1's new connection. */
	fd = accept_l1_again(listener);
	echo_until_eof(fd);
	SAFE(close(fd));
	SAFE(close(listener));
}
VSC_CASE(nested_vhost_reload, .sock_type = SOCK_STREAM,
	 .summary = "L2a's device unplugged, vhost_vsock unloaded and reloaded, device back: resets, "
		    "module refs, and L2a's listener survive",
	 .server = reload_server, .client = reload_client, .needs = VSC_NEED_NESTED,
	 /* The sum of the server's bounded waits, and time for the rest. */
	 .timeout_s = (SIBLING_UP_MS + 2 * UNPLUG_MS + UNLOAD_MS + REPLUG_MS) / 1000 + 20,
	 .tags = VSC_TAGS("vhost/vsock: fix reset orphans race with close timeout",
			  "vsock: each transport cycles only on its own sockets",
			  "vsock: Fix transport_* TOCTOU"));
