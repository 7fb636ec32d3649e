/* race.c: threads racing on vsock's shared state: transports, ports, one socket. */
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <linux/sockios.h>

#include "vsc.h"
#include "vsc_sock.h"

/* How long the hammering goes on: long enough for thousands of rounds, short under TCG. */
#define HAMMER_MS 500
#define QUIET_MS 200

/* A CID no transport in any of our topologies owns. */
#define FOREIGN_CID 0x7fff1234u

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000 + (double)ts.tv_nsec / 1e6;
}

/* Loaded or built in: either way its transport is registered. */
static int module_present(const char *name)
{
	return vsc_module_state(name) != VSC_MODULE_ABSENT;
}

/* The loopback transport and a guest-to-host one: connect() can move a socket between them. */
static void need_two_transports(void)
{
	if (!module_present("vsock_loopback"))
		vsc_skip("vsock_loopback is neither loaded nor built in: only one transport to switch between");
	if (!module_present("vmw_vsock_virtio_transport") && !module_present("hv_sock") &&
	    !module_present("vmw_vsock_vmci_transport"))
		vsc_skip("no guest-to-host transport loaded or built in: only one transport to switch between");
}

/* The echo server the race cases use to show, afterwards, that connections still work. */
static void echo_server(const struct vsc_env *env)
{
	int listener, fd = vsc_accept_peer(SOCK_STREAM, env, &listener);
	char buf[8];

	vsc_recv_all(fd, buf, sizeof(buf));
	vsc_send_all(fd, buf, sizeof(buf));
	SAFE(close(fd));
	SAFE(close(listener));
}

static void echo_check(const struct vsc_env *env)
{
	int fd = vsc_connect_peer(SOCK_STREAM, env);
	char buf[8];

	vsc_send_all(fd, "survived", 8);
	vsc_recv_all(fd, buf, sizeof(buf));
	EXPECT_TRUE(memcmp(buf, "survived", 8) == 0);
	SAFE(close(fd));
}

struct switch_race {
	int fd;			/* the socket every thread works on */
	unsigned int port;	/* nobody listens there */
	double deadline;
	unsigned long rounds;
	atomic_int done;	/* the switcher has stopped: so do the pokers */
	int last_errno[2];	/* what connect() to each CID said last, for the log */
	int odd_errno;		/* a connect error no transport should give; -1: it connected */
};

/*
 * Moves the socket between the loopback and the guest-to-host transport, over and over: for
 * HAMMER_MS and one round at least. Under load (TCG inside TCG) the thread can start after the
 * deadline, which left the race with no round at all (measured in nested's L2a).
 */
static void *switcher(void *arg)
{
	struct switch_race *r = arg;

	while (now_ms() < r->deadline || r->rounds == 0) {
		static const unsigned int cids[] = { VMADDR_CID_LOCAL, VMADDR_CID_HOST };
		int i;

		for (i = 0; i < 2; i++) {
			int ret = vsc_connect(r->fd, cids[i], r->port);

			r->last_errno[i] = errno;
			if (ret == 0)
				r->odd_errno = -1;
			else if (errno != ECONNRESET && errno != ENODEV && errno != ETIMEDOUT &&
				 errno != ENETUNREACH)
				r->odd_errno = errno;
		}
		r->rounds++;
	}
	atomic_store(&r->done, 1);
	return NULL;
}

/* Everything CVE-2021-26708 found reading vsk->transport without the socket lock. */
static void *poker(void *arg)
{
	struct switch_race *r = arg;
	unsigned long i;

	for (i = 0; !atomic_load(&r->done); i++) {
		uint64_t size = i & 1 ? 65536 : 131072, got;
		socklen_t len = sizeof(got);
		struct pollfd pfd = { .fd = r->fd, .events = POLLIN | POLLOUT };
		char byte = 0;
		int queued;

		setsockopt(r->fd, AF_VSOCK, SO_VM_SOCKETS_BUFFER_SIZE, &size, sizeof(size));
		getsockopt(r->fd, AF_VSOCK, SO_VM_SOCKETS_BUFFER_SIZE, &got, &len);
		send(r->fd, &byte, 1, MSG_DONTWAIT | MSG_NOSIGNAL);
		recv(r->fd, &byte, 1, MSG_DONTWAIT);
		poll(&pfd, 1, 0);
		ioctl(r->fd, SIOCOUTQ, &queued);
	}
	return NULL;
}

static void switch_client(const struct vsc_env *env)
{
	struct switch_race r = { .port = env->port + 1 };
	struct timeval patience = { 0, 50000 };
	pthread_t threads[3];
	uint64_t size;
	socklen_t len = sizeof(size);
	int i;

	need_two_transports();
	r.fd = SAFE(socket(AF_VSOCK, SOCK_STREAM, 0));
	/* A guest-to-host peer that never answers must not stall the switching. */
	SAFE(setsockopt(r.fd, AF_VSOCK, SO_VM_SOCKETS_CONNECT_TIMEOUT, &patience,
			sizeof(patience)));
	r.deadline = now_ms() + HAMMER_MS;
	ASSERT_EQ(pthread_create(&threads[0], NULL, switcher, &r), 0);
	for (i = 1; i < 3; i++)
		ASSERT_EQ(pthread_create(&threads[i], NULL, poker, &r), 0);
	for (i = 0; i < 3; i++)
		ASSERT_EQ(pthread_join(threads[i], NULL), 0);
	vsc_diag("%lu rounds of transport switching; last connect errors: local %s, host %s",
		 r.rounds, vsc_errname(r.last_errno[0]), vsc_errname(r.last_errno[1]));
	if (r.odd_errno < 0)
		vsc_fail_at(__FILE__, __LINE__, "connect() succeeded where nobody listens");
	else if (r.odd_errno)
		vsc_fail_at(__FILE__, __LINE__, "connect() gave %s while switching transports",
			      vsc_errname(r.odd_errno));
	/* The socket survived in a consistent state: its options still answer sensibly. */
	SAFE(getsockopt(r.fd, AF_VSOCK, SO_VM_SOCKETS_BUFFER_SIZE, &size, &len));
	EXPECT_TRUE(size == 65536 || size == 131072);
	SAFE(close(r.fd));
	echo_check(env);
}
VSC_CASE(race_transport_switch_vs_sockopt, .sock_type = SOCK_STREAM,
	 .summary = "connect() moves a socket between transports while threads use it",
	 .server = echo_server, .client = switch_client,
	 .tags = VSC_TAGS("vsock: fix the race conditions in multi-transport support",
			  "CVE-2021-26708"));

#define G2H_MODULE "vmw_vsock_virtio_transport"

struct reload_race {
	atomic_int stop;	/* set once the reloader has done its time and a cycle at least */
	int dev_fd;		/* /dev/vsock, or -1 */
	unsigned long rounds[3];
	int odd_errno;		/* what a racing call should not have said; -1: bind succeeded */
};

/* bind() to a specific CID asks vsock_find_cid(), which reads transport_g2h. */
static void *binder(void *arg)
{
	struct reload_race *r = arg;
	int fd = socket(AF_VSOCK, SOCK_STREAM, 0);

	if (fd < 0) {
		r->odd_errno = errno;
		return NULL;
	}
	while (!atomic_load(&r->stop)) {
		if (vsc_bind(fd, FOREIGN_CID, VMADDR_PORT_ANY) == 0)
			r->odd_errno = -1;
		else if (errno != EADDRNOTAVAIL)
			r->odd_errno = errno;
		r->rounds[0]++;
	}
	close(fd);
	return NULL;
}

/* IOCTL_VM_SOCKETS_GET_LOCAL_CID reads transport_g2h and transport_h2g. */
static void *cid_asker(void *arg)
{
	struct reload_race *r = arg;
	unsigned int cid;

	while (r->dev_fd >= 0 && !atomic_load(&r->stop)) {
		if (ioctl(r->dev_fd, IOCTL_VM_SOCKETS_GET_LOCAL_CID, &cid) != 0)
			r->odd_errno = errno;
		r->rounds[1]++;
	}
	return NULL;
}

/* connect() to the host picks transport_g2h as the module comes and goes. */
static void *host_connector(void *arg)
{
	struct reload_race *r = arg;
	struct timeval patience = { 0, 50000 };

	while (!atomic_load(&r->stop)) {
		int fd = socket(AF_VSOCK, SOCK_STREAM, 0);

		if (fd < 0) {
			r->odd_errno = errno;
			return NULL;
		}
		setsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_CONNECT_TIMEOUT, &patience,
			   sizeof(patience));
		vsc_connect(fd, VMADDR_CID_HOST, 1234);
		close(fd);
		r->rounds[2]++;
	}
	return NULL;
}

/* The module's file, where the runner's initramfs or a distribution keeps it. */
static int open_module_file(void)
{
	char path[256];
	int fd;

	fd = open("/lib/modules/vsockcheck/" G2H_MODULE ".ko", O_RDONLY | O_CLOEXEC);
	if (fd >= 0)
		return fd;
	snprintf(path, sizeof(path), "/lib/modules/%s/kernel/net/vmw_vsock/" G2H_MODULE ".ko",
		 vsc_kernel_release());
	return open(path, O_RDONLY | O_CLOEXEC);
}

/* A virtio device bound to the driver means a live guest-to-host link: leave it alone. */
static int g2h_drives_a_device(void)
{
	DIR *dir = opendir("/sys/bus/virtio/drivers/" G2H_MODULE);
	struct dirent *entry;
	int found = 0;

	if (!dir)
		return 0;
	while ((entry = readdir(dir)))
		found |= strncmp(entry->d_name, "virtio", 6) == 0;
	closedir(dir);
	return found;
}

static int unload(void)
{
	return (int)syscall(SYS_delete_module, G2H_MODULE, O_NONBLOCK);
}

static int load(int module_fd)
{
	return (int)syscall(SYS_finit_module, module_fd, "", 0);
}

static void reload_client(const struct vsc_env *env)
{
	struct reload_race r = { .dev_fd = -1 };
	enum vsc_module_state state;
	unsigned int cid_before = 0, cid_after = 0;
	int module_fd, loaded = 1, cycles = 0, busy = 0, i, fd;
	double deadline;
	pthread_t threads[3];

	state = vsc_module_state(G2H_MODULE);
	if (state == VSC_MODULE_BUILTIN)
		vsc_skip(G2H_MODULE " is built in: cannot be unloaded");
	if (state == VSC_MODULE_ABSENT)
		vsc_skip(G2H_MODULE " is not loaded: no guest-to-host transport to reload");
	if (g2h_drives_a_device())
		vsc_skip(G2H_MODULE " drives a device here: unloading it would cut the guest off");
	module_fd = open_module_file();
	if (module_fd < 0)
		vsc_skip("no " G2H_MODULE ".ko to load it back from: %s", vsc_errname(errno));
	if (unload() != 0)
		vsc_skip("cannot unload " G2H_MODULE ": %s", vsc_errname(errno));
	SAFE(load(module_fd));
	r.dev_fd = open("/dev/vsock", O_RDONLY | O_CLOEXEC);
	if (r.dev_fd >= 0)
		SAFE(ioctl(r.dev_fd, IOCTL_VM_SOCKETS_GET_LOCAL_CID, &cid_before));

	deadline = now_ms() + HAMMER_MS;
	ASSERT_EQ(pthread_create(&threads[0], NULL, binder, &r), 0);
	ASSERT_EQ(pthread_create(&threads[1], NULL, cid_asker, &r), 0);
	ASSERT_EQ(pthread_create(&threads[2], NULL, host_connector, &r), 0);
	/*
	 * Unregister and register transport_g2h under their feet, for HAMMER_MS and until one
	 * cycle is done: on a loaded host a guest CPU can be off for longer than HAMMER_MS, and
	 * unloading a module waits for every CPU (measured: 0 cycles in 3 of 48 parallel runs).
	 * The case's timeout bounds the wait.
	 */
	while (now_ms() < deadline || cycles == 0) {
		if (loaded) {
			if (unload() == 0) {
				loaded = 0;
			} else if (errno == EWOULDBLOCK || errno == EBUSY) {
				busy++;	/* a connecting socket holds the module for a moment */
				continue;
			} else {
				vsc_fail_at(__FILE__, __LINE__, "delete_module: %s",
					      vsc_errname(errno));
				break;
			}
		} else {
			if (load(module_fd) != 0) {
				vsc_fail_at(__FILE__, __LINE__, "finit_module: %s",
					      vsc_errname(errno));
				break;
			}
			loaded = 1;
			cycles++;
		}
	}
	atomic_store(&r.stop, 1);
	for (i = 0; i < 3; i++)
		ASSERT_EQ(pthread_join(threads[i], NULL), 0);
	/* Leave the guest with the transports it had, whatever happened above. */
	if (!loaded)
		SAFE(load(module_fd));
	SAFE(close(module_fd));
	vsc_diag("%d unload/load cycles (%d busy), %lu binds, %lu ioctls, %lu connects", cycles,
		 busy, r.rounds[0], r.rounds[1], r.rounds[2]);
	EXPECT_TRUE(cycles > 0);
	if (r.odd_errno < 0)
		vsc_fail_at(__FILE__, __LINE__, "bind() to a foreign CID succeeded");
	else if (r.odd_errno)
		vsc_fail_at(__FILE__, __LINE__, "a racing call failed with %s",
			      vsc_errname(r.odd_errno));
	if (r.dev_fd >= 0) {
		SAFE(ioctl(r.dev_fd, IOCTL_VM_SOCKETS_GET_LOCAL_CID, &cid_after));
		EXPECT_EQ(cid_after, cid_before);
		SAFE(close(r.dev_fd));
	}
	fd = SAFE(socket(AF_VSOCK, SOCK_STREAM, 0));
	EXPECT_ERRNO(vsc_bind(fd, FOREIGN_CID, VMADDR_PORT_ANY), EADDRNOTAVAIL);
	SAFE(close(fd));
	echo_check(env);
}
VSC_CASE(race_transport_module_reload, .sock_type = SOCK_STREAM,
	 .summary = "bind, /dev/vsock ioctl, connect race the g2h transport module reloading",
	 .server = echo_server, .client = reload_client,
	 .tags = VSC_TAGS("vsock: Fix transport_{g2h,h2g} TOCTOU"));

#define BINDERS 4
#define BIND_ROUNDS 50

struct bind_race {
	pthread_barrier_t start;
	unsigned int port;
	int results[BINDERS];
};

/* What each racing thread gets: the shared race and its own slot in it. */
struct racer {
	void *race;
	int index;
};

static void *same_port_binder(void *arg)
{
	struct racer *a = arg;
	struct bind_race *race = a->race;
	int fd = socket(AF_VSOCK, SOCK_STREAM, 0);

	pthread_barrier_wait(&race->start);
	if (fd < 0)
		race->results[a->index] = errno;
	else
		race->results[a->index] = vsc_bind(fd, VMADDR_CID_ANY, race->port) == 0 ? 0 : errno;
	/* Everyone has bound or failed before anyone lets go of the port. */
	pthread_barrier_wait(&race->start);
	if (fd >= 0)
		close(fd);
	return NULL;
}

static void bind_same_port(const struct vsc_env *env)
{
	struct bind_race race = { .port = env->port };
	struct racer args[BINDERS];
	pthread_t threads[BINDERS];
	int round, i;

	ASSERT_EQ(pthread_barrier_init(&race.start, NULL, BINDERS), 0);
	for (round = 0; round < BIND_ROUNDS; round++) {
		int winners = 0;

		for (i = 0; i < BINDERS; i++) {
			args[i] = (struct racer){ &race, i };
			ASSERT_EQ(pthread_create(&threads[i], NULL, same_port_binder, &args[i]), 0);
		}
		for (i = 0; i < BINDERS; i++)
			ASSERT_EQ(pthread_join(threads[i], NULL), 0);
		/* vsock_table_lock serialises the binds: one owner, every other one told so. */
		for (i = 0; i < BINDERS; i++) {
			winners += race.results[i] == 0;
			if (race.results[i] != 0 && race.results[i] != EADDRINUSE)
				vsc_fatal_at(__FILE__, __LINE__, "round %d: bind gave %s",
					      round, vsc_errname(race.results[i]));
		}
		if (winners != 1)
			vsc_fatal_at(__FILE__, __LINE__, "round %d: %d binds won the port",
				      round, winners);
	}
	pthread_barrier_destroy(&race.start);
}
VSC_CASE(race_bind_same_port, .sock_type = SOCK_STREAM,
	 .summary = "4 threads bind one port at once, 50 times: exactly one wins each time",
	 .run = bind_same_port);

#define ANY_PER_THREAD 64

struct any_race {
	pthread_barrier_t start;
	unsigned int ports[BINDERS][ANY_PER_THREAD];
	int fds[BINDERS][ANY_PER_THREAD];
};

static void *any_binder(void *arg)
{
	struct racer *a = arg;
	struct any_race *race = a->race;
	int i;

	pthread_barrier_wait(&race->start);
	for (i = 0; i < ANY_PER_THREAD; i++) {
		struct sockaddr_vm name = { 0 };
		socklen_t len = sizeof(name);
		int fd = socket(AF_VSOCK, SOCK_STREAM, 0);

		race->fds[a->index][i] = fd;
		race->ports[a->index][i] = VMADDR_PORT_ANY;
		if (fd >= 0 && vsc_bind(fd, VMADDR_CID_ANY, VMADDR_PORT_ANY) == 0 &&
		    getsockname(fd, (struct sockaddr *)&name, &len) == 0)
			race->ports[a->index][i] = name.svm_port;
	}
	return NULL;
}

static int compare_ports(const void *a, const void *b)
{
	unsigned int x = *(const unsigned int *)a, y = *(const unsigned int *)b;

	return x < y ? -1 : x > y;
}

static void port_any_distinct(const struct vsc_env *env)
{
	static struct any_race race;
	struct racer args[BINDERS];
	pthread_t threads[BINDERS];
	unsigned int *all = &race.ports[0][0];
	size_t n = BINDERS * ANY_PER_THREAD, i;
	int t;

	(void)env;
	ASSERT_EQ(pthread_barrier_init(&race.start, NULL, BINDERS), 0);
	for (t = 0; t < BINDERS; t++) {
		args[t] = (struct racer){ &race, t };
		ASSERT_EQ(pthread_create(&threads[t], NULL, any_binder, &args[t]), 0);
	}
	for (t = 0; t < BINDERS; t++)
		ASSERT_EQ(pthread_join(threads[t], NULL), 0);
	qsort(all, n, sizeof(*all), compare_ports);
	/* Every bind got a real port above the reserved range, and no port twice. */
	for (i = 0; i < n; i++) {
		if (all[i] == VMADDR_PORT_ANY || all[i] <= 1023)
			vsc_fatal_at(__FILE__, __LINE__, "automatic bind gave port %u", all[i]);
		if (i && all[i] == all[i - 1])
			vsc_fatal_at(__FILE__, __LINE__, "port %u handed out twice", all[i]);
	}
	for (i = 0; i < n; i++)
		if ((&race.fds[0][0])[i] >= 0)
			SAFE(close((&race.fds[0][0])[i]));
	pthread_barrier_destroy(&race.start);
}
VSC_CASE(race_port_any_distinct, .sock_type = SOCK_STREAM,
	 .summary = "4 threads making 64 automatic binds each at once get 256 distinct real ports",
	 .run = port_any_distinct);

#define CONNECTORS 4

struct connect_race {
	pthread_barrier_t start;
	int fd;
	unsigned int cid, port;
	int results[CONNECTORS];
};

static void *connector(void *arg)
{
	struct racer *a = arg;
	struct connect_race *race = a->race;

	pthread_barrier_wait(&race->start);
	race->results[a->index] = vsc_connect(race->fd, race->cid, race->port) == 0 ? 0 : errno;
	return NULL;
}

static void same_socket_server(const struct vsc_env *env)
{
	int listener, fd = vsc_accept_peer(SOCK_STREAM, env, &listener);
	char byte;

	vsc_wait("connected");
	/* However many threads called connect(), one request went out: no second connection. */
	EXPECT_EQ(vsc_poll(listener, POLLIN, QUIET_MS), 0);
	vsc_recv_all(fd, &byte, 1);
	EXPECT_EQ(byte, 'c');
	SAFE(close(fd));
	SAFE(close(listener));
}

static void same_socket_client(const struct vsc_env *env)
{
	struct connect_race race = { .cid = env->peer_cid, .port = env->port };
	struct racer args[CONNECTORS];
	pthread_t threads[CONNECTORS];
	int winners = 0, i;

	race.fd = SAFE(socket(AF_VSOCK, SOCK_STREAM, 0));
	ASSERT_EQ(pthread_barrier_init(&race.start, NULL, CONNECTORS), 0);
	vsc_wait("listening");
	for (i = 0; i < CONNECTORS; i++) {
		args[i] = (struct racer){ &race, i };
		ASSERT_EQ(pthread_create(&threads[i], NULL, connector, &args[i]), 0);
	}
	for (i = 0; i < CONNECTORS; i++)
		ASSERT_EQ(pthread_join(threads[i], NULL), 0);
	/* A thread that found the connect under way waits for it and shares its success. */
	for (i = 0; i < CONNECTORS; i++) {
		winners += race.results[i] == 0;
		if (race.results[i] != 0 && race.results[i] != EISCONN)
			vsc_fail_at(__FILE__, __LINE__, "a concurrent connect() gave %s",
				      vsc_errname(race.results[i]));
	}
	EXPECT_TRUE(winners >= 1);
	vsc_signal("connected");
	vsc_send_all(race.fd, "c", 1);
	pthread_barrier_destroy(&race.start);
	SAFE(close(race.fd));
}
VSC_CASE(race_connect_same_socket, .sock_type = SOCK_STREAM,
	 .summary = "4 threads connect() one socket at once: 0 or EISCONN, one connection",
	 .server = same_socket_server, .client = same_socket_client);
