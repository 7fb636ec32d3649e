/* transport.c: a socket moving between transports (loopback, guest-to-host) as it connects. */
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "vsc.h"
#include "vsc_sock.h"

/* net/vmw_vsock/af_vsock.c: how many ports an automatic bind tries before EADDRNOTAVAIL. */
#define MAX_PORT_RETRIES 24

/*
 * Binds MAX_PORT_RETRIES sockets to the ports after `port` on `cid`, so the next automatic bind,
 * which starts there, finds none free. Returns how many it bound (the rest were taken already).
 */
static int drain_autobind(int *fds, unsigned int cid, unsigned int port)
{
	int i, bound = 0;

	for (i = 0; i < MAX_PORT_RETRIES; i++) {
		fds[i] = SAFE(socket(AF_VSOCK, SOCK_STREAM, 0));
		if (vsc_bind(fds[i], cid, port + 1 + (unsigned int)i) == 0)
			bound++;
		else if (errno != EADDRINUSE)
			vsc_fatal_at(__FILE__, __LINE__, "bind(%u, port %u) failed: %s", cid,
				      port + 1 + i, vsc_errname(errno));
	}
	return bound;
}

static void release_unbound(const struct vsc_env *env)
{
	int drained[MAX_PORT_RETRIES], probe, fd, err, i;
	struct sockaddr_vm name;

	/* Where the automatic bind will look next: just after the port it hands out now. */
	probe = SAFE(socket(AF_VSOCK, SOCK_STREAM, 0));
	if (vsc_bind(probe, VMADDR_CID_LOCAL, VMADDR_PORT_ANY) != 0)
		vsc_skip("bind(VMADDR_CID_LOCAL) fails with %s: no loopback transport",
			 vsc_errname(errno));
	name = vsc_sockname(probe);
	drain_autobind(drained, VMADDR_CID_LOCAL, name.svm_port);
	SAFE(close(probe));

	/* Non-blocking: connect() returns as soon as the transport is (re)assigned. */
	fd = SAFE(socket(AF_VSOCK, SOCK_STREAM | SOCK_NONBLOCK, 0));
	/* The loopback transport is assigned, then the automatic bind finds no free port. */
	ASSERT_ERRNO(vsc_connect(fd, VMADDR_CID_LOCAL, env->port), EADDRNOTAVAIL);
	EXPECT_EQ(vsc_sockname(fd).svm_port, VMADDR_PORT_ANY);
	/*
	 * CID 2 belongs to the guest-to-host transport: loopback is released from a socket that was
	 * never bound, then the automatic bind, past the drained ports now, succeeds. Unbinding the
	 * unbound socket on release dropped a reference the bind then dropped again.
	 */
	(void)vsc_connect(fd, VMADDR_CID_HOST, env->port);
	err = errno;
	if (vsc_sockname(fd).svm_port == VMADDR_PORT_ANY)
		vsc_skip("connect() to CID 2 fails with %s before binding: no second transport to "
			 "move the socket to", vsc_errname(err));
	/* Back to loopback, now from a bound socket: the binding must survive the change. */
	name = vsc_sockname(fd);
	(void)vsc_connect(fd, VMADDR_CID_LOCAL, env->port);
	EXPECT_EQ(vsc_sockname(fd).svm_port, name.svm_port);
	SAFE(close(fd));
	for (i = 0; i < MAX_PORT_RETRIES; i++)
		SAFE(close(drained[i]));
}
VSC_CASE(transport_release_unbound_socket, .sock_type = SOCK_STREAM,
	 .summary = "a socket whose automatic bind failed changes transport, binds, changes back",
	 .run = release_unbound,
	 .tags = VSC_TAGS("vsock_test 29", "vsock: Keep the binding until socket destruction",
			  "CVE-2025-21756"));

/*
 * Connect attempts interrupted by signals leave requests and responses in flight while the next
 * connect() to CID 0 moves the socket to another transport (or to none, without a guest-to-host
 * transport). The race is bounded in time and in attempts.
 */
#define STORM_MS 1000
#define STORM_ATTEMPTS 3000
#define SIGNAL_EVERY_US 200

static void on_alarm(int sig)
{
	(void)sig;	/* only there to interrupt connect() */
}

static void set_alarm_every(long usec)
{
	struct itimerval every = { { 0, usec }, { 0, usec } };

	SAFE(setitimer(ITIMER_REAL, &every, NULL));
}

static void change_server(const struct vsc_env *env)
{
	int listener = vsc_listen(SOCK_STREAM, env->port, 128), final_listener, fd;
	char byte;

	SAFE(fcntl(listener, F_SETFL, O_NONBLOCK));
	vsc_signal("listening");
	/* Accept whatever the client's attempts queued, so the backlog never fills. */
	while (vsc_recv_value("attempts queued") != 0) {
		while ((fd = accept(listener, NULL, NULL)) >= 0)
			SAFE(close(fd));
		EXPECT_EQ(errno, EAGAIN);
	}
	vsc_wait("storm over");
	final_listener = vsc_listen(SOCK_STREAM, env->port + 1, 1);
	vsc_signal("final listening");
	fd = SAFE(accept(final_listener, NULL, NULL));
	vsc_recv_all(fd, &byte, 1);
	EXPECT_EQ(byte, 'f');
	SAFE(close(fd));
	SAFE(close(final_listener));
	SAFE(close(listener));
}

static void change_client(const struct vsc_env *env)
{
	struct sigaction sa = { .sa_handler = on_alarm, .sa_flags = SA_RESTART };
	struct linger linger = { .l_onoff = 1, .l_linger = 1 };
	int attempts, interrupted = 0, established = 0, fd;
	struct timespec start;

	/* SA_RESTART keeps the peer channel's I/O whole; connect() still ends EINTR. */
	SAFE(sigaction(SIGALRM, &sa, NULL));
	vsc_wait("listening");
	clock_gettime(CLOCK_MONOTONIC, &start);
	set_alarm_every(SIGNAL_EVERY_US);
	for (attempts = 0; attempts < STORM_ATTEMPTS && vsc_elapsed_ms(&start) < STORM_MS; attempts++) {
		int queued = 0, ret;

		fd = SAFE(socket(AF_VSOCK, SOCK_STREAM, 0));
		/* Lingering takes the socket lock on close, where the transport may be changing. */
		SAFE(setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, sizeof(linger)));
		ret = vsc_connect(fd, env->peer_cid, env->port);
		if (ret == 0) {
			established++;
			queued = 1;
		} else if (errno == EINTR) {
			interrupted++;
		} else if (errno == ECONNRESET) {
			queued = 1;	/* a full backlog answers with a reset */
		} else {
			vsc_fatal_at(__FILE__, __LINE__, "connect() failed: %s",
				      vsc_errname(errno));
		}
		/* CID 0 belongs to the guest-to-host transport, if there is one. */
		if (vsc_connect(fd, VMADDR_CID_HYPERVISOR, env->port) == 0 || errno == ECONNRESET)
			queued = 1;
		SAFE(close(fd));
		if (queued)
			vsc_send_value("attempts queued", 1);
	}
	set_alarm_every(0);
	vsc_send_value("attempts queued", 0);
	vsc_diag("%d connect attempts: %d interrupted by a signal, %d established", attempts,
		 interrupted, established);
	if (!interrupted)
		vsc_skip("no connect() was interrupted in %d attempts: the race was not reached",
			 attempts);
	/* The storm is over: the loopback transport still carries a plain connection. */
	vsc_signal("storm over");
	vsc_wait("final listening");
	fd = vsc_connect_to(SOCK_STREAM, env->peer_cid, env->port + 1);
	vsc_send_all(fd, "f", 1);
	SAFE(close(fd));
}
VSC_CASE(transport_change_during_connect, .sock_type = SOCK_STREAM,
	 .summary = "connects cut by signals, then retried to CID 0 (new transport), do no harm",
	 .server = change_server, .client = change_client, .timeout_s = 20,
	 .tags = VSC_TAGS("vsock_test 33",
			  "vsock: prevent null-ptr-deref in vsock_*[has_data|has_space]",
			  "CVE-2025-21666",
			  "vsock/virtio: discard packets if the transport changes",
			  "CVE-2025-21669",
			  "vsock: reset socket state when de-assigning the transport",
			  "vsock/virtio: cancel close work in the destructor",
			  "vsock: fix lock inversion in vsock_assign_transport()",
			  "CVE-2025-40231"));
