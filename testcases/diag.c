/* diag.c: what NETLINK_SOCK_DIAG reports about AF_VSOCK sockets in each state, and its errors. */
#include <fcntl.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/netlink.h>

#include "vsc.h"
#include "vsc_sock.h"
#include "vsc_sockdiag.h"

/* vdiag_shutdown carries sk->sk_shutdown: these are include/net/sock.h's bits, not uapi. */
#define RCV_SHUTDOWN 1
#define SEND_SHUTDOWN 2

#define RETRY_MS 10

#define VSOCK_SS "/usr/bin/vsock-ss"

static int own_port(const struct vsc_env *env, unsigned int port)
{
	return port >= env->port && port < env->port + VSC_PORTS_PER_CASE;
}

/*
 * Dumps AF_VSOCK sockets. With `env`, keeps only this case's: those with one of its ports at
 * either end. The kernel is shared with the harness and with sockets earlier cases left closing,
 * so a case never counts the whole table.
 */
static void dump_at(const char *file, int line, const struct vsc_env *env, uint32_t states,
		    struct vsc_sockdiag_list *list)
{
	size_t i, kept = 0;
	int err;

	vsc_step_at(file, line, "sock_diag dump");
	err = vsc_sockdiag_dump(states, list);
	if (err == -ENOENT)
		vsc_skip("sock_diag has no AF_VSOCK handler (ENOENT): vsock_diag is not loaded");
	if (err)
		vsc_fatal_at(file, line, "sock_diag dump of AF_VSOCK sockets failed: %s",
			      vsc_errname(-err));
	if (!env)
		return;
	for (i = 0; i < list->count; i++)
		if (own_port(env, list->sockets[i].vdiag_src_port) ||
		    own_port(env, list->sockets[i].vdiag_dst_port))
			list->sockets[kept++] = list->sockets[i];
	list->count = kept;
}
#define dump_own(env, list) dump_at(__FILE__, __LINE__, env, VSC_SOCKDIAG_ALL_STATES, list)
#define dump_own_states(env, states, list) dump_at(__FILE__, __LINE__, env, states, list)
#define dump_all(list) dump_at(__FILE__, __LINE__, NULL, VSC_SOCKDIAG_ALL_STATES, list)

/*
 * How many of the other role's `n` sockets this kernel lists: all of them when both roles share
 * the kernel (loopback), none when the peer is another machine (g2g, g2h topologies).
 */
static unsigned int peer_sockets_here(const struct vsc_env *env, unsigned int n)
{
	return env->peer_cid == env->local_cid ? n : 0;
}

static unsigned long inode_of(int fd)
{
	struct stat st;

	SAFE(fstat(fd, &st));
	return st.st_ino;
}

static const struct vsock_diag_msg *find_inode(const struct vsc_sockdiag_list *list,
					       unsigned long ino)
{
	size_t i;

	for (i = 0; i < list->count; i++)
		if (list->sockets[i].vdiag_ino == ino)
			return &list->sockets[i];
	return NULL;
}

/* Prints a dump after a failure (never before: the first diagnostic is the one a reader sees). */
static void show(const struct vsc_sockdiag_list *list)
{
	size_t i;

	for (i = 0; i < list->count; i++) {
		const struct vsock_diag_msg *m = &list->sockets[i];
		char local[VSC_SOCKDIAG_ADDR_MAX], peer[VSC_SOCKDIAG_ADDR_MAX];

		vsc_diag("dump: %s %s shutdown %u %s -> %s inode %u",
			 vsc_sockdiag_netid(m->vdiag_type), vsc_sockdiag_state_name(m->vdiag_state),
			 m->vdiag_shutdown,
			 vsc_sockdiag_address(local, m->vdiag_src_cid, m->vdiag_src_port),
			 vsc_sockdiag_address(peer, m->vdiag_dst_cid, m->vdiag_dst_port),
			 m->vdiag_ino);
	}
}

#define EXPECT_COUNT(list, n)                                                              \
	do {                                                                               \
		EXPECT_EQ((list)->count, n);                                               \
		if ((list)->count != (size_t)(n))                                          \
			show(list);                                                        \
	} while (0)

/* What one socket's entry must say. */
struct want {
	int type, state, shutdown;
	unsigned int src_cid, src_port, dst_cid, dst_port;
};

/* Finds fd's entry by inode (as ss and vsock_diag_test do) and checks every field of it. */
static void check_entry_at(const char *file, int line, const struct vsc_sockdiag_list *list,
			   int fd, const struct want *w)
{
	unsigned long ino = inode_of(fd);
	const struct vsock_diag_msg *m = find_inode(list, ino);

	if (!m) {
		vsc_fail_at(file, line, "fd %d (inode %lu) is not among the %zu dumped", fd,
			      ino, list->count);
		show(list);
		return;
	}
	vsc_check_eq_at(file, line, "vdiag_type", "type", m->vdiag_type, w->type);
	if (m->vdiag_state != w->state)
		vsc_fail_at(file, line, "vdiag_state is %s (%u), expected %s (%d)",
			      vsc_sockdiag_state_name(m->vdiag_state), m->vdiag_state,
			      vsc_sockdiag_state_name(w->state), w->state);
	vsc_check_eq_at(file, line, "vdiag_shutdown", "shutdown", m->vdiag_shutdown,
			w->shutdown);
	vsc_check_eq_at(file, line, "vdiag_src_cid", "src_cid", m->vdiag_src_cid, w->src_cid);
	vsc_check_eq_at(file, line, "vdiag_src_port", "src_port", m->vdiag_src_port,
			w->src_port);
	vsc_check_eq_at(file, line, "vdiag_dst_cid", "dst_cid", m->vdiag_dst_cid, w->dst_cid);
	vsc_check_eq_at(file, line, "vdiag_dst_port", "dst_port", m->vdiag_dst_port,
			w->dst_port);
}
#define CHECK_ENTRY(list, fd, ...) \
	check_entry_at(__FILE__, __LINE__, list, fd, &(struct want){ __VA_ARGS__ })

/* Waits (bounded) until fd's entry shows `state`; returns the dump that shows it, or fails. */
static void await_state_at(const char *file, int line, const struct vsc_env *env, int fd,
			   int state, struct vsc_sockdiag_list *list)
{
	unsigned long ino = inode_of(fd);
	const struct vsock_diag_msg *m = NULL;
	int waited;

	for (waited = 0; waited <= VSC_SETTLE_MS; waited += RETRY_MS) {
		dump_at(file, line, env, VSC_SOCKDIAG_ALL_STATES, list);
		m = find_inode(list, ino);
		if (m && m->vdiag_state == state)
			return;
		vsc_sockdiag_free(list);
		/* The change comes from a packet the loopback worker has yet to deliver. */
		poll(NULL, 0, RETRY_MS);
	}
	vsc_fatal_at(file, line, "fd %d never showed state %s within %d ms", fd,
		      vsc_sockdiag_state_name(state), VSC_SETTLE_MS);
}
#define await_state(env, fd, state, list) await_state_at(__FILE__, __LINE__, env, fd, state, list)

/* Waits (bounded) until none of this case's sockets is left in the tables. */
static void await_none_at(const char *file, int line, const struct vsc_env *env)
{
	struct vsc_sockdiag_list list;
	int waited;

	for (waited = 0;; waited += RETRY_MS) {
		dump_at(file, line, env, VSC_SOCKDIAG_ALL_STATES, &list);
		if (list.count == 0)
			return;
		if (waited >= VSC_SETTLE_MS)
			break;
		vsc_sockdiag_free(&list);
		poll(NULL, 0, RETRY_MS);
	}
	vsc_fail_at(file, line, "closed sockets still listed %d ms later", VSC_SETTLE_MS);
	show(&list);
	vsc_sockdiag_free(&list);
}
#define await_none(env) await_none_at(__FILE__, __LINE__, env)

/*
 * Most behaviours hold for both connection types; the roles take the type, and this declares
 * the STREAM case (with the upstream tags given) and the SEQPACKET one (5.14+).
 */
#define DIAG_CASES(id, summary_text, server_fn, client_fn, ...)                              \
	static void id##_stream_server(const struct vsc_env *env)                           \
	{                                                                                   \
		server_fn(env, SOCK_STREAM);                                                \
	}                                                                                   \
	static void id##_stream_client(const struct vsc_env *env)                           \
	{                                                                                   \
		client_fn(env, SOCK_STREAM);                                                \
	}                                                                                   \
	static void id##_seqpacket_server(const struct vsc_env *env)                        \
	{                                                                                   \
		server_fn(env, SOCK_SEQPACKET);                                             \
	}                                                                                   \
	static void id##_seqpacket_client(const struct vsc_env *env)                        \
	{                                                                                   \
		client_fn(env, SOCK_SEQPACKET);                                             \
	}                                                                                   \
	VSC_CASE(id##_stream, .sock_type = SOCK_STREAM, .summary = summary_text,            \
		 .server = id##_stream_server, .client = id##_stream_client, __VA_ARGS__);  \
	VSC_CASE(id##_seqpacket, .sock_type = SOCK_SEQPACKET, .summary = summary_text,      \
		 .server = id##_seqpacket_server, .client = id##_seqpacket_client,          \
		 .needs = VSC_NEED_SEQPACKET)

/* The same for a one-process behaviour. */
#define DIAG_RUN_CASES(id, summary_text, run_fn, ...)                                        \
	static void id##_stream_run(const struct vsc_env *env)                              \
	{                                                                                   \
		run_fn(env, SOCK_STREAM);                                                   \
	}                                                                                   \
	static void id##_seqpacket_run(const struct vsc_env *env)                           \
	{                                                                                   \
		run_fn(env, SOCK_SEQPACKET);                                                \
	}                                                                                   \
	VSC_CASE(id##_stream, .sock_type = SOCK_STREAM, .summary = summary_text,            \
		 .run = id##_stream_run, __VA_ARGS__);                                      \
	VSC_CASE(id##_seqpacket, .sock_type = SOCK_SEQPACKET, .summary = summary_text,      \
		 .run = id##_seqpacket_run, .needs = VSC_NEED_SEQPACKET)

static void no_sockets(const struct vsc_env *env)
{
	struct vsc_sockdiag_list list;

	dump_own(env, &list);
	EXPECT_COUNT(&list, 0);
	vsc_sockdiag_free(&list);
}
VSC_CASE(diag_no_sockets,
	 .summary = "a dump succeeds and lists nothing on ports no socket uses",
	 .run = no_sockets, .tags = VSC_TAGS("vsock_diag_test 0"));

static void unbound(const struct vsc_env *env)
{
	struct vsc_sockdiag_list list;
	int fd = SAFE(socket(AF_VSOCK, SOCK_STREAM, 0));
	unsigned long ino = inode_of(fd);

	(void)env;
	/* vsock_create() puts every new socket in the unbound bucket of the bind table. */
	dump_all(&list);
	CHECK_ENTRY(&list, fd, .type = SOCK_STREAM, .state = TCP_CLOSE,
		    .src_cid = VMADDR_CID_ANY, .src_port = VMADDR_PORT_ANY,
		    .dst_cid = VMADDR_CID_ANY, .dst_port = VMADDR_PORT_ANY);
	vsc_sockdiag_free(&list);
	/* Nothing else holds it: close releases it at once. */
	SAFE(close(fd));
	dump_all(&list);
	EXPECT_TRUE(find_inode(&list, ino) == NULL);
	vsc_sockdiag_free(&list);
}
VSC_CASE(diag_unbound_socket, .sock_type = SOCK_STREAM,
	 .summary = "a new socket is listed UNCONN with *:* at both ends, and gone once closed",
	 .run = unbound);

static void bound(const struct vsc_env *env)
{
	struct vsc_sockdiag_list list;
	int fd = SAFE(socket(AF_VSOCK, SOCK_STREAM, 0));

	SAFE(vsc_bind(fd, VMADDR_CID_ANY, env->port));
	dump_own(env, &list);
	EXPECT_COUNT(&list, 1);
	CHECK_ENTRY(&list, fd, .type = SOCK_STREAM, .state = TCP_CLOSE,
		    .src_cid = VMADDR_CID_ANY, .src_port = env->port,
		    .dst_cid = VMADDR_CID_ANY, .dst_port = VMADDR_PORT_ANY);
	vsc_sockdiag_free(&list);
	SAFE(close(fd));
}
VSC_CASE(diag_bound_socket, .sock_type = SOCK_STREAM,
	 .summary = "a bound, unconnected socket is listed UNCONN with its port",
	 .run = bound);

static void listen_run(const struct vsc_env *env, int type)
{
	struct vsc_sockdiag_list list;
	int fd = vsc_listen(type, env->port, 1);
	unsigned long ino = inode_of(fd);

	dump_own(env, &list);
	EXPECT_COUNT(&list, 1);
	CHECK_ENTRY(&list, fd, .type = type, .state = TCP_LISTEN,
		    .src_cid = VMADDR_CID_ANY, .src_port = env->port,
		    .dst_cid = VMADDR_CID_ANY, .dst_port = VMADDR_PORT_ANY);
	vsc_sockdiag_free(&list);
	SAFE(close(fd));
	/* A listener has no connection to wind down: its entry goes with close(). */
	dump_own(env, &list);
	EXPECT_TRUE(find_inode(&list, ino) == NULL);
	vsc_sockdiag_free(&list);
}
DIAG_RUN_CASES(diag_listen, "a listener is listed LISTEN on *:port, peer *:*, and gone once closed",
	       listen_run, .tags = VSC_TAGS("vsock_diag_test 1"));

/*
 * Connected: the client's socket (bound table) and the accepted one (connected table only) are
 * each listed once, ESTABLISHED, with the addresses getsockname/getpeername give.
 */
static void connected_server(const struct vsc_env *env, int type)
{
	struct vsc_sockdiag_list list;
	int listener, fd = vsc_accept_peer(type, env, &listener);
	unsigned int client_port = (unsigned int)vsc_recv_value("client port");

	vsc_wait("client checked");
	dump_own(env, &list);
	EXPECT_COUNT(&list, 2 + peer_sockets_here(env, 1));
	CHECK_ENTRY(&list, fd, .type = type, .state = TCP_ESTABLISHED,
		    .src_cid = env->local_cid, .src_port = env->port,
		    .dst_cid = env->peer_cid, .dst_port = client_port);
	CHECK_ENTRY(&list, listener, .type = type, .state = TCP_LISTEN,
		    .src_cid = VMADDR_CID_ANY, .src_port = env->port,
		    .dst_cid = VMADDR_CID_ANY, .dst_port = VMADDR_PORT_ANY);
	vsc_sockdiag_free(&list);
	vsc_signal("done");
	SAFE(close(fd));
	SAFE(close(listener));
}

static void connected_client(const struct vsc_env *env, int type)
{
	struct vsc_sockdiag_list list;
	int fd = vsc_connect_peer(type, env);
	struct sockaddr_vm name = vsc_sockname(fd);

	vsc_send_value("client port", name.svm_port);
	dump_own(env, &list);
	/* Ours, and the listener and the accepted one: the peer made it before its RESPONSE. */
	EXPECT_COUNT(&list, 1 + peer_sockets_here(env, 2));
	CHECK_ENTRY(&list, fd, .type = type, .state = TCP_ESTABLISHED,
		    .src_cid = name.svm_cid, .src_port = name.svm_port,
		    .dst_cid = env->peer_cid, .dst_port = env->port);
	vsc_sockdiag_free(&list);
	vsc_signal("client checked");
	vsc_wait("done");
	SAFE(close(fd));
}
DIAG_CASES(diag_connected,
	   "both ends of a connection are listed ESTABLISHED with matching CIDs and ports",
	   connected_server, connected_client, .tags = VSC_TAGS("vsock_diag_test 2"));

static void connecting_server(const struct vsc_env *env, int type)
{
	int listener, fd = vsc_accept_peer(type, env, &listener);

	vsc_wait("done");
	SAFE(close(fd));
	SAFE(close(listener));
}

/*
 * Over loopback the RESPONSE follows within microseconds, so the dump may already see the
 * connection made: SYN-SENT or ESTABLISHED are both right then, with the peer's address set
 * from the moment connect() starts. Once POLLOUT says connected, it must be ESTABLISHED.
 */
static void connecting_client(const struct vsc_env *env, int type)
{
	struct vsc_sockdiag_list list;
	const struct vsock_diag_msg *m;
	int fd = SAFE(socket(AF_VSOCK, type | SOCK_NONBLOCK, 0));
	int ret, err;

	vsc_wait("listening");
	ret = vsc_connect(fd, env->peer_cid, env->port);
	err = errno;
	if (ret != 0 && err != EINPROGRESS)
		vsc_fatal_at(__FILE__, __LINE__, "non-blocking connect failed: %s",
			      vsc_errname(err));
	dump_own(env, &list);
	m = find_inode(&list, inode_of(fd));
	ASSERT_TRUE(m != NULL);
	vsc_diag("right after connect() (%s) the dump says %s", ret ? "EINPROGRESS" : "0",
		 vsc_sockdiag_state_name(m->vdiag_state));
	EXPECT_TRUE(m->vdiag_state == TCP_SYN_SENT || m->vdiag_state == TCP_ESTABLISHED);
	EXPECT_EQ(m->vdiag_dst_cid, env->peer_cid);
	EXPECT_EQ(m->vdiag_dst_port, env->port);
	EXPECT_TRUE(m->vdiag_src_port != VMADDR_PORT_ANY);
	vsc_sockdiag_free(&list);

	EXPECT_TRUE(vsc_poll(fd, POLLOUT, VSC_SETTLE_MS) & POLLOUT);
	dump_own(env, &list);
	CHECK_ENTRY(&list, fd, .type = type, .state = TCP_ESTABLISHED,
		    .src_cid = vsc_sockname(fd).svm_cid, .src_port = vsc_sockname(fd).svm_port,
		    .dst_cid = env->peer_cid, .dst_port = env->port);
	vsc_sockdiag_free(&list);
	vsc_signal("done");
	SAFE(close(fd));
}
DIAG_CASES(diag_connecting,
	   "a non-blocking connect is listed with its peer at once, then ESTABLISHED",
	   connecting_server, connecting_client);

/* Each end's own shutdown() shows in its vdiag_shutdown; the peer's does not. */
static void shutdown_server(const struct vsc_env *env, int type)
{
	struct vsc_sockdiag_list list;
	int listener, fd = vsc_accept_peer(type, env, &listener);
	unsigned int client_port = (unsigned int)vsc_recv_value("client port");

	vsc_wait("client shut rd");
	SAFE(shutdown(fd, SHUT_WR));
	dump_own(env, &list);
	CHECK_ENTRY(&list, fd, .type = type, .state = TCP_ESTABLISHED, .shutdown = SEND_SHUTDOWN,
		    .src_cid = env->local_cid, .src_port = env->port,
		    .dst_cid = env->peer_cid, .dst_port = client_port);
	vsc_sockdiag_free(&list);
	vsc_signal("done");
	SAFE(close(fd));
	SAFE(close(listener));
}

static void shutdown_client(const struct vsc_env *env, int type)
{
	struct vsc_sockdiag_list list;
	int fd = vsc_connect_peer(type, env);
	struct sockaddr_vm name = vsc_sockname(fd);

	vsc_send_value("client port", name.svm_port);
	SAFE(shutdown(fd, SHUT_RD));
	dump_own(env, &list);
	CHECK_ENTRY(&list, fd, .type = type, .state = TCP_ESTABLISHED, .shutdown = RCV_SHUTDOWN,
		    .src_cid = name.svm_cid, .src_port = name.svm_port,
		    .dst_cid = env->peer_cid, .dst_port = env->port);
	vsc_sockdiag_free(&list);
	vsc_signal("client shut rd");
	vsc_wait("done");
	SAFE(close(fd));
}
DIAG_CASES(diag_shutdown_bits,
	   "SHUT_RD shows as RCV_SHUTDOWN, SHUT_WR as SEND_SHUTDOWN; the state stays ESTABLISHED",
	   shutdown_server, shutdown_client);

/*
 * Closing: our SHUT_RDWR reaches a peer with nothing left to read, which answers RST; the RST
 * moves our still-open socket to CLOSING (virtio_transport_do_close()).
 */
static void closing_server(const struct vsc_env *env, int type)
{
	int listener, fd = vsc_accept_peer(type, env, &listener);

	vsc_wait("done");
	SAFE(close(fd));
	SAFE(close(listener));
}

static void closing_client(const struct vsc_env *env, int type)
{
	struct vsc_sockdiag_list list;
	int fd = vsc_connect_peer(type, env);
	struct sockaddr_vm name = vsc_sockname(fd);

	SAFE(shutdown(fd, SHUT_RDWR));
	await_state(env, fd, TCP_CLOSING, &list);
	CHECK_ENTRY(&list, fd, .type = type, .state = TCP_CLOSING,
		    .shutdown = RCV_SHUTDOWN | SEND_SHUTDOWN,
		    .src_cid = name.svm_cid, .src_port = name.svm_port,
		    .dst_cid = env->peer_cid, .dst_port = env->port);
	vsc_sockdiag_free(&list);
	vsc_signal("done");
	SAFE(close(fd));
}
DIAG_CASES(diag_closing,
	   "after SHUT_RDWR and the peer's reset, our open socket is listed CLOSING with both bits",
	   closing_server, closing_client);

/* Closing both ends of a connection takes every one of the case's entries out of the tables. */
static void gone_server(const struct vsc_env *env, int type)
{
	struct vsc_sockdiag_list list;
	int listener, fd = vsc_accept_peer(type, env, &listener);
	unsigned long listener_ino = inode_of(listener);

	SAFE(close(listener));
	dump_own(env, &list);
	EXPECT_TRUE(find_inode(&list, listener_ino) == NULL);
	EXPECT_COUNT(&list, 1 + peer_sockets_here(env, 1));
	vsc_sockdiag_free(&list);
	vsc_signal("listener closed");
	vsc_wait("client closed");
	SAFE(close(fd));
	/* The SHUTDOWN/RST exchange of the two closes runs in the loopback worker. */
	await_none(env);
	vsc_signal("done");
}

static void gone_client(const struct vsc_env *env, int type)
{
	int fd = vsc_connect_peer(type, env);

	vsc_wait("listener closed");
	SAFE(close(fd));
	vsc_signal("client closed");
	vsc_wait("done");
}
DIAG_CASES(diag_close_removes,
	   "a closed listener leaves the dump at once; a closed connection soon after",
	   gone_server, gone_client);

/* vdiag_states selects by state: a LISTEN-only dump holds the listener, an ESTABLISHED one not. */
static void filter_server(const struct vsc_env *env)
{
	struct vsc_sockdiag_list list;
	int listener, fd = vsc_accept_peer(SOCK_STREAM, env, &listener);
	unsigned long listener_ino = inode_of(listener);

	vsc_wait("connected");
	dump_own_states(env, 1u << TCP_LISTEN, &list);
	EXPECT_COUNT(&list, 1);
	EXPECT_TRUE(find_inode(&list, listener_ino) != NULL);
	vsc_sockdiag_free(&list);
	dump_own_states(env, 1u << TCP_ESTABLISHED, &list);
	EXPECT_COUNT(&list, 1 + peer_sockets_here(env, 1));
	EXPECT_TRUE(find_inode(&list, listener_ino) == NULL);
	EXPECT_TRUE(find_inode(&list, inode_of(fd)) != NULL);
	vsc_sockdiag_free(&list);
	dump_own_states(env, 1u << TCP_SYN_SENT | 1u << TCP_CLOSING, &list);
	EXPECT_COUNT(&list, 0);
	vsc_sockdiag_free(&list);
	vsc_signal("done");
	SAFE(close(fd));
	SAFE(close(listener));
}

static void filter_client(const struct vsc_env *env)
{
	int fd = vsc_connect_peer(SOCK_STREAM, env);

	vsc_signal("connected");
	vsc_wait("done");
	SAFE(close(fd));
}
VSC_CASE(diag_state_filter, .sock_type = SOCK_STREAM,
	 .summary = "the request's vdiag_states bitmap selects which states are dumped",
	 .server = filter_server, .client = filter_client);

/*
 * Bad requests. sock_diag itself needs only 2 bytes (family, protocol); vsock_diag wants the
 * whole struct vsock_diag_req, and answers only dumps.
 */
static void request_errors(const struct vsc_env *env)
{
	struct vsock_diag_req req = {
		.sdiag_family = AF_VSOCK,
		.vdiag_states = VSC_SOCKDIAG_ALL_STATES,
	};
	size_t short_len = offsetof(struct vsock_diag_req, vdiag_ino);
	int err;

	(void)env;
	err = vsc_sockdiag_request(&req, short_len, NLM_F_DUMP);
	if (err == -ENOENT)
		vsc_skip("sock_diag has no AF_VSOCK handler (ENOENT): vsock_diag is not loaded");
	if (err != -vsc_expected_errno("diag_request_short"))
		vsc_fail_at(__FILE__, __LINE__, "a %zu-byte dump request got %s, expected %s",
			      short_len, err ? vsc_errname(-err) : "success",
			      vsc_errname(vsc_expected_errno("diag_request_short")));
	err = vsc_sockdiag_request(&req, sizeof(req), 0);
	if (err != -vsc_expected_errno("diag_request_without_dump"))
		vsc_fail_at(__FILE__, __LINE__,
			      "a request without NLM_F_DUMP got %s, expected %s",
			      err ? vsc_errname(-err) : "success",
			      vsc_errname(vsc_expected_errno("diag_request_without_dump")));
	/* The same request as a dump is fine: the two errors above are about length and flags. */
	EXPECT_EQ(vsc_sockdiag_request(&req, sizeof(req), NLM_F_DUMP), 0);
}
VSC_CASE(diag_bad_requests,
	 .summary = "a short vsock_diag_req gets EINVAL, a request without NLM_F_DUMP EOPNOTSUPP",
	 .run = request_errors);

/* Runs argv with stdout captured into out (NUL-terminated); returns the exit status. */
static int capture(char *const argv[], char *out, size_t size)
{
	int pipe_fds[2], status;
	size_t used = 0;
	ssize_t n;
	pid_t pid;

	SAFE(pipe2(pipe_fds, O_CLOEXEC));
	pid = SAFE(fork());
	if (pid == 0) {
		dup2(pipe_fds[1], STDOUT_FILENO);
		execv(argv[0], argv);
		_exit(127);
	}
	close(pipe_fds[1]);
	while (used + 1 < size && (n = read(pipe_fds[0], out + used, size - used - 1)) > 0)
		used += (size_t)n;
	out[used] = '\0';
	close(pipe_fds[0]);
	SAFE(waitpid(pid, &status, 0));
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* The tool prints what the library dumps: our listener's line must be there, field by field. */
static void vsock_ss_listener(const struct vsc_env *env)
{
	char *argv[] = { VSOCK_SS, "--listening", NULL };
	char out[16384], want_local[32];
	char netid[16], state[16], local[32], peer[32];
	unsigned long ino, want_ino;
	int fd, status, found = 0;
	char *line, *save = NULL;

	if (access(VSOCK_SS, X_OK) != 0)
		vsc_skip("%s is not in this image (the runner ships it from build/bin)", VSOCK_SS);
	fd = vsc_listen(SOCK_STREAM, env->port, 1);
	want_ino = inode_of(fd);
	snprintf(want_local, sizeof(want_local), "*:%u", env->port);
	status = capture(argv, out, sizeof(out));
	EXPECT_EQ(status, 0);
	EXPECT_TRUE(strncmp(out, "Netid", 5) == 0);
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (sscanf(line, "%15s %15s %31s %31s %lu", netid, state, local, peer, &ino) != 5 ||
		    ino != want_ino)
			continue;
		found = 1;
		EXPECT_TRUE(strcmp(netid, "v_str") == 0);
		EXPECT_TRUE(strcmp(state, "LISTEN") == 0);
		EXPECT_TRUE(strcmp(local, want_local) == 0);
		EXPECT_TRUE(strcmp(peer, "*:*") == 0);
		vsc_diag("vsock-ss: %s", line);
	}
	if (!found)
		vsc_fail_at(__FILE__, __LINE__, "no line of %s names inode %lu", VSOCK_SS,
			      want_ino);
	SAFE(close(fd));
}
VSC_CASE(diag_vsock_ss_listener, .sock_type = SOCK_STREAM,
	 .summary = "vsock-ss --listening prints our listener as v_str LISTEN *:port *:* inode",
	 .run = vsock_ss_listener);
