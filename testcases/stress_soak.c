/*
 * stress_soak.c: bounded soaks with sock-stress (tools/sock-stress), virtsock sock_stress's echo
 * test: a server role runs `sock-stress -s`, a client role `sock-stress -c` against it, so each
 * topology puts them where its roles run (loopback: one guest; g2g: two; nested: L1 and L2a both
 * ways; g2h: the build machine's role runs the tool under vsock-hostwrap, through the device's
 * hybrid bridge). In topology hvsock the client meets `hvsock-peer listen PORT --echo` over the
 * real hv_sock. Every run is bounded by a connection count (-i) and seconds (-t).
 */
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vsc.h"
#include "vsock_uri.h"

#define GUEST_TOOL_DIR "/usr/bin"
/* Seconds sock-stress may take (its -t); the case's timeout leaves room to report past it. */
#define SOAK_SECONDS 60
#define SOAK_CASE_TIMEOUT_S 100
/* How long a server may take to say it listens. */
#define LISTEN_WAIT_MS 20000

/*
 * vsockcheck-host's bridge (testcases/lib/host/shim.c). Weak: the guest's test program has no
 * shim, and there it is NULL, which is how a role knows it runs in a guest.
 */
extern const char *vsc_bridge_path(void) __attribute__((weak));

static const char *host_bridge(void)
{
	return vsc_bridge_path ? vsc_bridge_path() : NULL;
}

/* A tool's process: stdout and stderr on one pipe, kept to show in a failure. */
struct tool {
	const char *name;
	pid_t pid;
	int out;
	char text[8192];
	size_t len;
};

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Where sock-stress and vsock-hostwrap are: /usr/bin in a guest, beside vsockcheck-host on the host. */
static void tool_path(const char *name, char *out, size_t size)
{
	char self[PATH_MAX];
	ssize_t n;

	if (!host_bridge()) {
		snprintf(out, size, GUEST_TOOL_DIR "/%s", name);
		return;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n < 0)
		vsc_fatal_at(__FILE__, __LINE__, "readlink(/proc/self/exe): %s", vsc_errname(errno));
	self[n] = '\0';
	snprintf(out, size, "%s/%s", dirname(self), name);
}

static void require_tool(const char *name)
{
	char path[PATH_MAX];

	tool_path(name, path, sizeof(path));
	if (access(path, X_OK) != 0)
		vsc_skip("%s is not there (%s): topologies ship it with GUEST_TOOLS, 'make' builds it",
			 path, vsc_errname(errno));
}

static struct tool tool_start(char **argv)
{
	struct tool t = { .name = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0] };
	pid_t parent = getpid();
	int p[2];

	SAFE(pipe2(p, O_CLOEXEC));
	t.pid = SAFE(fork());
	if (t.pid == 0) {
		/* A case that ends early (a failed check, its timeout) takes the tool along. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		dup2(p[1], STDOUT_FILENO);
		dup2(p[1], STDERR_FILENO);
		execv(argv[0], argv);
		dprintf(p[1], "execv %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(p[1]);
	t.out = p[0];
	return t;
}

/* Reads what the tool wrote until `word` shows, EOF, or the deadline; 1 if word was seen. */
static int tool_read_until(struct tool *t, const char *word, long long deadline)
{
	while (!word || !strstr(t->text, word)) {
		struct pollfd p = { .fd = t->out, .events = POLLIN };
		long long left = deadline - now_ms();
		ssize_t n;

		int ready;

		if (left <= 0)
			return 0;
		ready = poll(&p, 1, (int)left);
		if (ready < 0 && errno == EINTR)
			continue;
		if (ready <= 0)
			return 0;
		if (t->len == sizeof(t->text) - 1) {	/* keep the end, where the summary is */
			memmove(t->text, t->text + sizeof(t->text) / 2, sizeof(t->text) / 2);
			t->len -= sizeof(t->text) / 2;
		}
		n = read(t->out, t->text + t->len, sizeof(t->text) - 1 - t->len);
		if (n <= 0)
			return 0;
		t->len += (size_t)n;
		t->text[t->len] = '\0';
	}
	return 1;
}

static void tool_wait_listening(struct tool *t)
{
	if (!tool_read_until(t, "listening on", now_ms() + LISTEN_WAIT_MS))
		vsc_fatal_at(__FILE__, __LINE__, "%s did not say 'listening on' in %d ms; it wrote: "
			     "\"%s\"", t->name, LISTEN_WAIT_MS, t->text);
}

/*
 * Waits (bounded: a tool that outlives its own -t is killed) for the tool's end; its exit
 * status, 128 + N if signal N ended it.
 */
static int tool_finish(struct tool *t, int seconds)
{
	long long start = now_ms(), deadline = start + seconds * 1000LL;
	struct timespec tick = { .tv_nsec = 20 * 1000000 };
	int status;
	pid_t got;

	/* EOF on its output comes as it exits; its status a moment later. */
	tool_read_until(t, NULL, deadline);
	while ((got = waitpid(t->pid, &status, WNOHANG)) == 0 && now_ms() < deadline)
		nanosleep(&tick, NULL);
	if (got == 0) {
		kill(t->pid, SIGKILL);
		vsc_fail_at(__FILE__, __LINE__, "%s still ran after %lld ms (past its own -t): killed; "
			    "it wrote: \"%s\"", t->name, now_ms() - start, t->text);
		SAFE(waitpid(t->pid, &status, 0));
	} else if (got < 0) {
		vsc_fatal_at(__FILE__, __LINE__, "waitpid(%s): %s", t->name, vsc_errname(errno));
	}
	close(t->out);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* The tool ended with 0 and its summary says every connection was echoed exactly. */
static void check_summary(struct tool *t, int status, const char *role, long connections)
{
	char want[64];
	char *line;

	snprintf(want, sizeof(want), "ok=%ld failed=0", connections);
	if (status != 0 || !strstr(t->text, want)) {
		vsc_fail_at(__FILE__, __LINE__, "sock-stress %s exited %d, want 0 and \"%s\"; it "
			    "wrote: \"%s\"", role, status, want, t->text);
		return;
	}
	/* The summary: the line holding "connections=". */
	line = strstr(t->text, " connections=");
	while (line && line > t->text && line[-1] != '\n')
		line--;
	if (line)
		vsc_diag("%.*s", (int)strcspn(line, "\n"), line);
}

/*
 * argv for sock-stress with `args` (NULL-terminated): the tool itself in a guest; on the build
 * machine the tool under vsock-hostwrap, whose bridge carries its AF_VSOCK calls (it never
 * opens an AF_VSOCK socket here).
 */
static void stress_argv(const struct vsc_env *env, char **argv, size_t size, char *const *args,
			char paths[2][PATH_MAX], char *cid_text, size_t cid_size)
{
	size_t n = 0;

	tool_path("sock-stress", paths[0], PATH_MAX);
	if (host_bridge()) {
		tool_path("vsock-hostwrap", paths[1], PATH_MAX);
		snprintf(cid_text, cid_size, "%u", env->peer_cid);
		argv[n++] = paths[1];
		argv[n++] = "--bridge";
		argv[n++] = (char *)host_bridge();
		argv[n++] = "--guest-cid";
		argv[n++] = cid_text;
		argv[n++] = "--";
	}
	argv[n++] = paths[0];
	while (*args && n < size - 1)
		argv[n++] = *args++;
	argv[n] = NULL;
}

static void require_peer(const struct vsc_env *env)
{
	require_tool("sock-stress");
	if (host_bridge())
		require_tool("vsock-hostwrap");
	if (env->peer_cid == VMADDR_CID_LOCAL && vsc_module_state("vsock_loopback") == VSC_MODULE_ABSENT)
		vsc_skip("vsock_loopback is not loaded: no CID 1 to talk to");
}

/* A soak's shape: sock_stress's options for both ends. */
struct soak {
	long connections;	/* -i */
	const char *parallel;	/* -p */
	const char *min_len, *max_len;		/* -L, -l */
	const char *min_chunk, *max_chunk;	/* -B, -b */
};

static void soak_server(const struct vsc_env *env, const struct soak *s)
{
	char url[48], count[16], seconds[16], cid[16], paths[2][PATH_MAX];
	char *args[] = { "-s", url, "-i", count, "-t", seconds, NULL };
	char *argv[16];
	struct tool t;

	require_peer(env);
	snprintf(url, sizeof(url), "vsock://:%u", env->port);
	snprintf(count, sizeof(count), "%ld", s->connections);
	snprintf(seconds, sizeof(seconds), "%d", SOAK_SECONDS);
	stress_argv(env, argv, 16, args, paths, cid, sizeof(cid));
	vsc_step_at(__FILE__, __LINE__, url);
	t = tool_start(argv);
	tool_wait_listening(&t);
	vsc_signal("listening");
	check_summary(&t, tool_finish(&t, SOAK_SECONDS + 10), "server", s->connections);
	vsc_signal("served");
}

static void soak_client(const struct vsc_env *env, const struct soak *s)
{
	char url[48], count[16], seconds[16], cid[16], paths[2][PATH_MAX];
	char *args[] = { "-c", url, "-i", count, "-p", (char *)s->parallel, "-L", (char *)s->min_len,
			 "-l", (char *)s->max_len, "-B", (char *)s->min_chunk, "-b",
			 (char *)s->max_chunk, "-t", seconds, NULL };
	char *argv[32];
	struct tool t;

	require_peer(env);
	snprintf(url, sizeof(url), "vsock://%u:%u", env->peer_cid, env->port);
	snprintf(count, sizeof(count), "%ld", s->connections);
	snprintf(seconds, sizeof(seconds), "%d", SOAK_SECONDS);
	stress_argv(env, argv, 32, args, paths, cid, sizeof(cid));
	vsc_wait("listening");
	vsc_step_at(__FILE__, __LINE__, url);
	t = tool_start(argv);
	check_summary(&t, tool_finish(&t, SOAK_SECONDS + 10), "client", s->connections);
	vsc_wait("served");
}

/* One connection at a time, sock_stress's default sizes: up to 64 KiB in 16 KiB chunks. */
static const struct soak serial_soak = { .connections = 20, .parallel = "1", .min_len = "0",
					 .max_len = "65536", .min_chunk = "16384",
					 .max_chunk = "16384" };
/* Four at once, chunks from one byte to 8 KiB: many small packets, credit updates, interleaving. */
static const struct soak parallel_soak = { .connections = 24, .parallel = "4", .min_len = "1",
					   .max_len = "131072", .min_chunk = "1",
					   .max_chunk = "8192" };

static void serial_server(const struct vsc_env *env) { soak_server(env, &serial_soak); }
static void serial_client(const struct vsc_env *env) { soak_client(env, &serial_soak); }
VSC_CASE(stress_soak_serial, .sock_type = SOCK_STREAM, .timeout_s = SOAK_CASE_TIMEOUT_S,
	 .summary = "sock-stress: 20 connections one at a time, up to 64 KiB each in 16 KiB chunks, echoed with equal SHA-256",
	 .server = serial_server, .client = serial_client);

static void parallel_server(const struct vsc_env *env) { soak_server(env, &parallel_soak); }
static void parallel_client(const struct vsc_env *env) { soak_client(env, &parallel_soak); }
VSC_CASE(stress_soak_parallel, .sock_type = SOCK_STREAM, .timeout_s = SOAK_CASE_TIMEOUT_S,
	 .summary = "sock-stress -p 4: 24 connections four at once, up to 128 KiB each in 1 B..8 KiB chunks, echoed with equal SHA-256",
	 .server = parallel_server, .client = parallel_client);

/*
 * Topology hvsock: hvsock-peer (the Hyper-V host, on /dev/vmbus_sim) echoes one connection per
 * listen, so the soak is rounds of one connection each, on a port of its own, over hv_sock.
 */
#define HVSOCK_ROUNDS 6
#define HVSOCK_ROUND_SECONDS 30
/* Rounds stop starting after this many seconds (the count bounds them too). */
#define HVSOCK_BUDGET_S 60

static void hvsock_round(const struct vsc_env *env, unsigned int port)
{
	char port_text[16], url[96], guid[VSOCK_GUID_TEXT_SIZE], seconds[16], cid[16];
	char paths[2][PATH_MAX], peer_path[PATH_MAX];
	char *peer_argv[] = { peer_path, "listen", port_text, "--echo", NULL };
	char *args[] = { "-c", url, "-i", "1", "-L", "1", "-l", "65536", "-B", "1", "-b", "16384",
			 "-t", seconds, NULL };
	char *argv[24];
	struct vsock_guid service;
	struct tool peer, client;
	int status;

	tool_path("hvsock-peer", peer_path, sizeof(peer_path));
	snprintf(port_text, sizeof(port_text), "%u", port);
	vsock_guid_from_port(port, &service);
	vsock_guid_format(&service, guid);
	snprintf(url, sizeof(url), "hvsock://parent/%s", guid);
	snprintf(seconds, sizeof(seconds), "%d", HVSOCK_ROUND_SECONDS);
	stress_argv(env, argv, 24, args, paths, cid, sizeof(cid));
	peer = tool_start(peer_argv);
	tool_wait_listening(&peer);
	vsc_step_at(__FILE__, __LINE__, url);
	client = tool_start(argv);
	check_summary(&client, tool_finish(&client, HVSOCK_ROUND_SECONDS + 10), "client", 1);
	status = tool_finish(&peer, 10);
	if (status != 0)
		vsc_fail_at(__FILE__, __LINE__, "hvsock-peer listen %s --echo exited %d; it wrote: "
			    "\"%s\"", port_text, status, peer.text);
}

static void hvsock_echo(const struct vsc_env *env)
{
	long long budget_end = now_ms() + HVSOCK_BUDGET_S * 1000LL;
	unsigned int round;

	require_tool("sock-stress");
	require_tool("hvsock-peer");
	for (round = 0; round < HVSOCK_ROUNDS && now_ms() < budget_end; round++)
		hvsock_round(env, env->port + round % VSC_PORTS_PER_CASE);
	vsc_diag("%u of %d rounds (a %d s budget)", round, HVSOCK_ROUNDS, HVSOCK_BUDGET_S);
	if (round == 0)
		vsc_fail_at(__FILE__, __LINE__, "no round started");
}
VSC_CASE(stress_soak_hvsock, .sock_type = SOCK_STREAM, .timeout_s = SOAK_CASE_TIMEOUT_S + 30,
	 .summary = "sock-stress -c hvsock://parent/<service> against hvsock-peer --echo over hv_sock: rounds of random data echoed with equal SHA-256",
	 .run = hvsock_echo, .needs = VSC_NEED_HVSOCK);
