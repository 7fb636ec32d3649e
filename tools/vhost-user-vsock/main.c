/*
 * main.c: vhost-user-vsock, a vsock device for QEMU's vhost-user-vsock-pci, as a plain process
 * serving several VMs: command line, start-up, and the event loop's rhythm.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "fx_host.h"
#include "vu_conn.h"
#include "vu_loop.h"
#include "vu_pcap.h"
#include "vu_vm.h"

#define MAX_VMS 16

static struct vu_vm vms[MAX_VMS];
static int n_vms;

static void usage(FILE *out, const char *prog)
{
	fprintf(out,
		"usage: %s --vm cid=N,socket=PATH[,uds=PATH] [--vm ...] [--pcap FILE] [--verbose]\n"
		"       %s --print-capabilities\n"
		"       %s --fixtures ... (engine 1 of the packet fixtures: --fixtures --help)\n"
		"A vhost-user backend for QEMU's vhost-user-vsock-pci device, one process for up to %d\n"
		"VMs; each VM's QEMU connects to its own socket and is taken again after it leaves.\n"
		"  --vm cid=N,socket=PATH[,uds=PATH]\n"
		"        a guest with CID N (3 to 0xfffffffe), its QEMU on the Unix socket PATH\n"
		"        (-chardev socket,path=PATH); uds=PATH is its hybrid-vsock bridge: host\n"
		"        programs connect there and write \"CONNECT <port>\\n\"; the guest reaches a\n"
		"        host program listening on PATH_<port> by connecting to CID 2\n"
		"  --pcap FILE           capture every packet the device carries\n"
		"  --verbose             log every vhost-user message and dropped packet on stderr\n"
		"  --print-capabilities  print the backend's capabilities as JSON and exit\n",
		prog, prog, prog, MAX_VMS);
}

static void die(const char *prog, const char *fmt, const char *value)
{
	fprintf(stderr, "%s: ", prog);
	fprintf(stderr, fmt, value);
	fputc('\n', stderr);
	exit(2);
}

/* "cid=N,socket=PATH[,uds=PATH]": the strings point into `spec`, which stays (argv). */
static void parse_vm(const char *prog, char *spec, struct vu_vm *vm)
{
	char *item, *save = NULL, *end;
	unsigned long long cid = 0;

	for (item = strtok_r(spec, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		if (!strncmp(item, "cid=", 4)) {
			errno = 0;
			cid = strtoull(item + 4, &end, 0);
			if (errno || !item[4] || *end || cid < 3 || cid >= 0xffffffffull)
				die(prog, "--vm %s: not a guest CID (3 to 0xfffffffe)", item);
		} else if (!strncmp(item, "socket=", 7) && item[7]) {
			vm->socket_path = item + 7;
		} else if (!strncmp(item, "uds=", 4) && item[4]) {
			vm->uds_path = item + 4;
		} else {
			die(prog, "--vm: '%s' is not cid=N, socket=PATH or uds=PATH", item);
		}
	}
	if (!cid || !vm->socket_path)
		die(prog, "%s", "--vm needs cid=N and socket=PATH (see --help)");
	vm->cid = cid;
}

static void setup_vm(struct vu_vm *vm, int verbose, struct vu_pcap *pcap)
{
	int i;

	vm->verbose = verbose;
	vm->pcap = pcap;
	vm->all = vms;
	vm->n_all = n_vms;
	vm->listen_fd = vm->qemu_fd = vm->uds_listen_fd = -1;
	for (i = 0; i < VU_VSOCK_QUEUES; i++)
		vm->kicks[i].fd = -1;
	vu_device_init(&vm->dev, vm->cid, verbose);
	vu_conn_table_init(&vm->conns);
}

/* SIGTERM and SIGINT arrive through a signalfd, so the capture is closed whole. */
static void on_stop_signal(struct vu_watch *watch, uint32_t events)
{
	int i;

	(void)watch, (void)events;
	for (i = 0; i < n_vms; i++)
		vu_vm_unlink(&vms[i]);
	vu_pcap_close(vms[0].pcap);
	exit(0);
}

static int watch_stop_signals(void)
{
	static struct vu_watch watch = { .on_event = on_stop_signal };
	sigset_t set;
	int fd;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (sigprocmask(SIG_BLOCK, &set, NULL) != 0)
		return -1;
	fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	return fd < 0 ? -1 : vu_loop_add(fd, EPOLLIN, &watch);
}

/* Each turn: expire late answers, fill the rx rings (one notification per ring), wait. */
static void run(void)
{
	for (;;) {
		uint64_t now = vu_now_ms(), next = UINT64_MAX, t;
		int i, timeout = -1;

		for (i = 0; i < n_vms; i++)
			if ((t = vu_vm_expire(&vms[i], now)) < next)
				next = t;
		if (next != UINT64_MAX)
			timeout = (int)(next - now) + 1;
		vu_vm_turn(vms, n_vms);
		vu_conn_reap();
		if (vu_loop_wait(timeout) < 0) {
			fprintf(stderr, "vhost-user-vsock: epoll_wait: %s\n", strerror(errno));
			exit(1);
		}
	}
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "vm", required_argument, NULL, 'm' },
		{ "pcap", required_argument, NULL, 'c' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "print-capabilities", no_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *pcap_path = NULL;
	struct vu_pcap *pcap = NULL;
	char error[512];
	int opt, verbose = 0, i, j;

	/* The fixture mode is a program of its own on the same device code. */
	for (i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--fixtures"))
			return fx_host_main(argc, argv);
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 'm':
			if (n_vms == MAX_VMS)
				die(argv[0], "more than %s --vm options", "16");
			parse_vm(argv[0], optarg, &vms[n_vms++]);
			break;
		case 'c': pcap_path = optarg; break;
		case 'v': verbose = 1; break;
		case 'p': printf("{\n  \"type\": \"vsock\"\n}\n"); return 0;
		case 'h': usage(stdout, argv[0]); return 0;
		default: usage(stderr, argv[0]); return 2;
		}
	}
	if (optind < argc)
		die(argv[0], "unexpected argument '%s' (see --help)", argv[optind]);
	if (!n_vms)
		die(argv[0], "%s", "at least one --vm cid=N,socket=PATH is needed (see --help)");
	for (i = 0; i < n_vms; i++)
		for (j = 0; j < i; j++)
			if (vms[i].cid == vms[j].cid || !strcmp(vms[i].socket_path, vms[j].socket_path))
				die(argv[0], "--vm %s: two VMs with the same cid or socket",
				    vms[i].socket_path);
	if (pcap_path && !(pcap = vu_pcap_open(pcap_path, error, sizeof(error))))
		die(argv[0], "%s", error);
	signal(SIGPIPE, SIG_IGN);
	if (vu_loop_init(error, sizeof(error)) != 0)
		die(argv[0], "%s", error);
	if (watch_stop_signals() != 0)
		die(argv[0], "signalfd: %s", strerror(errno));
	for (i = 0; i < n_vms; i++)
		setup_vm(&vms[i], verbose, pcap);
	/* Every bridge first, then every vhost-user socket: a runner waits for the latter. */
	for (i = 0; i < n_vms; i++)
		if (vu_vm_listen_uds(&vms[i], error, sizeof(error)) != 0)
			die(argv[0], "%s", error);
	for (i = 0; i < n_vms; i++)
		if (vu_vm_listen_socket(&vms[i], error, sizeof(error)) != 0)
			die(argv[0], "%s", error);
	run();
}
