/*
 * fx_host.c: `vhost-user-vsock --fixtures`: engine 1's program. It takes one QEMU on the
 * vhost-user socket and serves it with the device's own handlers until the guest's driver has
 * set up rx and tx, connects to the agent's virtio-serial chardev, then lets the fixture runner
 * drive the rings packet by packet (fx_host_wire.c). The packet engine is CID 2.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "fx_host.h"
#include "vu_loop.h"
#include "vu_proto.h"
#include "vu_vsock.h"

/* From start to a guest driver with both rings up and the agent's port connected: a TCG boot
 * on a loaded machine takes a minute at worst; after this the guest is taken as lost. */
#define START_MS 240000
#define AGENT_RETRY_MS 50
/* After the last fixture: how long the guest has to power off while QEMU is served. */
#define WIND_DOWN_MS 10000

struct fx_setup {
	unsigned long long cid;
	const char *socket_path, *agent_path, *trace_path, *prefix;
	int verbose;
};

static void usage(FILE *out, const char *prog)
{
	fprintf(out,
		"usage: %s --fixtures --vm cid=N,socket=PATH --agent-socket PATH [--trace FILE]\n"
		"       [--prefix P] [--verbose] FIXTURE...\n"
		"Engine 1 of the packet fixtures: takes one QEMU's vhost-user-vsock-pci on PATH and,\n"
		"once its guest's driver is up, runs each fixture against the guest's virtio_transport\n"
		"as the host (CID 2), through the rings; the guest's vsock-fixture-agent is reached on\n"
		"the virtio-serial chardev socket --agent-socket. KTAP on stdout; exit 0 when every\n"
		"fixture passed, XFAILed or SKIPped, 1 otherwise, 2 on a usage or start-up error.\n",
		prog);
}

static void fail(const char *fmt, const char *value)
{
	fprintf(stderr, "vhost-user-vsock --fixtures: ");
	fprintf(stderr, fmt, value);
	fputc('\n', stderr);
	exit(2);
}

/* A system call on `path` failed: says which, with errno's text. */
static void fail_call(const char *what, const char *path)
{
	fprintf(stderr, "vhost-user-vsock --fixtures: %s %s: %s\n", what, path, strerror(errno));
	exit(2);
}

static void parse_vm(char *spec, struct fx_setup *setup)
{
	char *item, *save = NULL, *end;

	for (item = strtok_r(spec, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		if (!strncmp(item, "cid=", 4)) {
			errno = 0;
			setup->cid = strtoull(item + 4, &end, 0);
			if (errno || !item[4] || *end || setup->cid < 3 || setup->cid >= 0xffffffffull)
				fail("--vm %s: not a guest CID (3 to 0xfffffffe)", item);
		} else if (!strncmp(item, "socket=", 7) && item[7]) {
			setup->socket_path = item + 7;
		} else {
			fail("--vm: '%s' is not cid=N or socket=PATH (no uds bridge here)", item);
		}
	}
}

static int parse(int argc, char **argv, struct fx_setup *setup)
{
	static const struct option longopts[] = {
		{ "fixtures", no_argument, NULL, 'f' },
		{ "vm", required_argument, NULL, 'm' },
		{ "agent-socket", required_argument, NULL, 'a' },
		{ "trace", required_argument, NULL, 't' },
		{ "prefix", required_argument, NULL, 'p' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 'f': break;
		case 'm': parse_vm(optarg, setup); break;
		case 'a': setup->agent_path = optarg; break;
		case 't': setup->trace_path = optarg; break;
		case 'p': setup->prefix = optarg; break;
		case 'v': setup->verbose = 1; break;
		case 'h': usage(stdout, argv[0]); exit(0);
		default: usage(stderr, argv[0]); exit(2);
		}
	}
	if (!setup->cid || !setup->socket_path)
		fail("%s", "--vm cid=N,socket=PATH is needed (see --help)");
	if (!setup->agent_path)
		fail("%s", "--agent-socket PATH is needed (see --help)");
	if (optind == argc)
		fail("%s", "no FIXTURE given (see --help)");
	return optind;
}

static int unix_address(const char *path, struct sockaddr_un *addr)
{
	memset(addr, 0, sizeof(*addr));
	addr->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(addr->sun_path))
		fail("%s: longer than a Unix socket path may be", path);
	strcpy(addr->sun_path, path);
	return 0;
}

static int listen_on(const char *path)
{
	struct sockaddr_un addr;
	int fd;

	unix_address(path, &addr);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	unlink(path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 || listen(fd, 1) != 0)
		fail_call("cannot listen on", path);
	return fd;
}

/* The agent's port: QEMU listens there (server=on); it may not exist yet. fd, or -1 for later. */
static int connect_agent(const char *path)
{
	struct sockaddr_un addr;
	int fd;

	unix_address(path, &addr);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		fail_call("socket() for --agent-socket", path);
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0)
		return fd;
	close(fd);
	if (errno != ENOENT && errno != ECONNREFUSED)
		fail_call("cannot connect to --agent-socket", path);
	return -1;
}

/* Accepts QEMU and serves it until both rings are up, and connects to the agent's port;
 * returns the agent's descriptor. */
static int start(struct fx_host *host, const struct fx_setup *setup)
{
	int listen_fd = listen_on(setup->socket_path), agent_fd = -1;
	uint64_t deadline = vu_now_ms() + START_MS;

	while (agent_fd < 0 || host->qemu_fd < 0 || !fx_host_running(host)) {
		if (vu_now_ms() > deadline) {
			fprintf(stderr, "vhost-user-vsock --fixtures: after %d s: %s\n", START_MS / 1000,
				host->qemu_fd < 0 ? "no QEMU connected" : agent_fd < 0
				? "the agent's port was not there" : "the guest's driver did not set up rx and tx");
			exit(2);
		}
		if (agent_fd < 0 && (agent_fd = connect_agent(setup->agent_path)) >= 0)
			fprintf(stderr, "vhost-user-vsock --fixtures: connected to the agent's port\n");
		if (host->qemu_fd < 0) {
			struct pollfd pfd = { .fd = listen_fd, .events = POLLIN };

			if (poll(&pfd, 1, AGENT_RETRY_MS) == 1 &&
			    (host->qemu_fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC)) >= 0)
				fprintf(stderr, "vhost-user-vsock --fixtures: QEMU connected\n");
		} else if (fx_host_pump(host, AGENT_RETRY_MS) < 0) {
			fprintf(stderr, "vhost-user-vsock --fixtures: before the guest was up: %s\n",
				host->broken);
			exit(2);
		}
	}
	fprintf(stderr, "vhost-user-vsock --fixtures: the guest's driver is up (features 0x%llx)\n",
		(unsigned long long)host->dev->features);
	/* One QEMU only: nobody else may take its place. */
	close(listen_fd);
	unlink(setup->socket_path);
	return agent_fd;
}

static void wind_down(struct fx_host *host)
{
	uint64_t deadline = vu_now_ms() + WIND_DOWN_MS, now;

	while (!host->broken[0] && (now = vu_now_ms()) < deadline)
		fx_host_pump(host, (int)(deadline - now));
}

int fx_host_main(int argc, char **argv)
{
	static struct vu_device dev;
	static struct fx_host host;
	struct fx_setup setup = { .prefix = "" };
	struct fx_engine engine = {
		.target = "virtio_transport",
		.engine_cid = VU_HOST_CID,
		.ops = &fx_host_wire_ops,
		.ctx = &host,
	};
	struct fx_run_options options = { .ktap = stdout };
	int first = parse(argc, argv, &setup), agent_fd, status;

	signal(SIGPIPE, SIG_IGN);
	vu_device_init(&dev, setup.cid, setup.verbose);
	host.dev = &dev;
	host.qemu_fd = -1;
	host.engine = &engine;
	engine.kernel_cid = setup.cid;
	if (setup.trace_path && !(options.trace = fopen(setup.trace_path, "w")))
		fail_call("cannot write --trace", setup.trace_path);
	agent_fd = start(&host, &setup);
	options.agent_in = options.agent_out = agent_fd;
	options.prefix = setup.prefix;
	status = fx_run_files(&engine, &options, argv + first, argc - first);
	fflush(stdout);
	if (options.trace && fclose(options.trace) != 0)
		fprintf(stderr, "vhost-user-vsock --fixtures: --trace %s: %s\n", setup.trace_path,
			strerror(errno));
	/* The agent sees its port close and ends, the guest powers off: QEMU stops the rings
	 * and leaves, served to the end so that its log shows a clean stop. */
	close(agent_fd);
	wind_down(&host);
	return status;
}
