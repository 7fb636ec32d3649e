/*
 * main.c: the command line of every test program built on this library. Built a second time
 * with VSC_HOST_PROGRAM for vsockcheck-host, whose AF_VSOCK calls go to a hybrid bridge.
 */
#include <fcntl.h>
#include <fnmatch.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "vsc_internal.h"
#ifdef VSC_HOST_PROGRAM
#include "host/shim.h"
#endif

#define MAX_GLOBS 64

struct options {
	const char *pick[MAX_GLOBS];
	const char *skip[MAX_GLOBS];
	int npick, nskip;
	unsigned int peer_cid, local_cid, device_cid, silent_cid, port_base;
	int list, check_kernel_log;
	const char *split;		/* "server", "client" or NULL */
	const char *control_path;	/* --control */
	int control_fd;			/* --control-fd, -1 if not given */
	int solo;
	const char *bridge;		/* vsockcheck-host: the hybrid bridge's Unix socket */
};

#ifdef VSC_HOST_PROGRAM
#define SOLO_USAGE ""
#define HOST_USAGE " --bridge UDS"
#else
#define SOLO_USAGE " [--solo]"
#define HOST_USAGE ""
#endif

static void usage(FILE *out, const char *prog)
{
	fprintf(out,
		"usage: %s [--list] [--pick GLOB]... [--skip GLOB]... [--peer-cid CID]\n"
		"          [--local-cid CID] [--device-cid CID] [--silent-cid CID] [--port-base PORT]\n"
		"          [--no-kernel-log]\n"
		"          [--split server|client (--control PATH | --control-fd N)" SOLO_USAGE "]"
		HOST_USAGE "\n"
		"Runs the vsock cases built into this program and prints KTAP on stdout.\n"
		"  --list            print the selected cases, tab-separated: name, type, roles, needs,\n"
		"                    timeout, summary, tags (joined by \" | \")\n"
		"  --pick GLOB       run only cases whose name matches (repeat or separate with commas)\n"
		"  --skip GLOB       leave out cases whose name matches (repeat or separate with commas)\n"
		"  --peer-cid CID    CID that reaches the peer role's kernel (default 1, loopback)\n"
		"  --local-cid CID   this kernel's CID as the peer sees it (default 1, loopback)\n"
		"  --device-cid CID  CID of this kernel's guest-to-host device (default none: -1)\n"
		"  --silent-cid CID  a CID whose packets go unanswered, for connect timeouts (default\n"
		"                    none: -1; loopback answers every connect)\n"
		"  --port-base PORT  first vsock port; each case owns %d from there (default 20000)\n"
		"  --no-kernel-log   do not check /dev/kmsg and the taint flags around each case\n"
		"  --split ROLE      run only this role of each server+client case; the other side's\n"
		"                    program runs the other, agreeing case by case over the control\n"
		"                    channel; both print the same verdicts\n"
		"  --control PATH    the control channel: a character device (opened read-write) or a\n"
		"                    Unix stream socket (connected to)\n"
		"  --control-fd N    the control channel is the inherited descriptor N\n"
#ifdef VSC_HOST_PROGRAM
		"  --bridge UDS      the guest's hybrid vsock bridge (Firecracker protocol); AF_VSOCK\n"
		"                    calls map onto it, what cannot be mapped reports SKIP.\n"
		"                    This program never reads the kernel log of the machine it runs on.\n"
#else
		"  --solo            this side also runs the one-process cases (exactly one side must)\n"
#endif
		, prog, VSC_PORTS_PER_CASE);
}

static void die(const char *prog, const char *what, const char *value)
{
	fprintf(stderr, "%s: %s: '%s' (see --help)\n", prog, what, value);
	exit(2);
}

static unsigned int parse_uint(const char *prog, const char *opt, const char *text)
{
	char *end;
	unsigned long v = strtoul(text, &end, 0);

	if (!*text || *end || v > 0xffffffffUL)
		die(prog, opt, text);
	return (unsigned int)v;
}

static void add_globs(const char *prog, const char **list, int *n, char *arg)
{
	char *save = NULL, *glob;

	for (glob = strtok_r(arg, ",", &save); glob; glob = strtok_r(NULL, ",", &save)) {
		if (*n == MAX_GLOBS)
			die(prog, "too many globs", glob);
		list[(*n)++] = glob;
	}
}

static int matches_any(const char *name, const char *const *globs, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (fnmatch(globs[i], name, 0) == 0)
			return 1;
	return 0;
}

static int selected(const struct options *o, const struct vsc_case *c)
{
	return (o->npick == 0 || matches_any(c->name, o->pick, o->npick)) &&
	       !matches_any(c->name, o->skip, o->nskip);
}

static void parse(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "list", no_argument, NULL, 'l' },	   { "pick", required_argument, NULL, 'p' },
		{ "skip", required_argument, NULL, 's' },  { "peer-cid", required_argument, NULL, 'c' },
		{ "local-cid", required_argument, NULL, 'L' },
		{ "device-cid", required_argument, NULL, 'D' },
		{ "silent-cid", required_argument, NULL, 'Q' },
		{ "port-base", required_argument, NULL, 'P' },
		{ "no-kernel-log", no_argument, NULL, 'K' }, { "help", no_argument, NULL, 'h' },
		{ "split", required_argument, NULL, 'S' },
		{ "control", required_argument, NULL, 'C' },
		{ "control-fd", required_argument, NULL, 'F' },
#ifdef VSC_HOST_PROGRAM
		{ "bridge", required_argument, NULL, 'B' },
#else
		{ "solo", no_argument, NULL, 'O' },
#endif
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	*o = (struct options){ .peer_cid = VMADDR_CID_LOCAL, .local_cid = VMADDR_CID_LOCAL,
			       .device_cid = VMADDR_CID_ANY, .silent_cid = VMADDR_CID_ANY, .port_base = 20000, .check_kernel_log = 1,
			       .control_fd = -1 };
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 'l': o->list = 1; break;
		case 'p': add_globs(argv[0], o->pick, &o->npick, optarg); break;
		case 's': add_globs(argv[0], o->skip, &o->nskip, optarg); break;
		case 'c': o->peer_cid = parse_uint(argv[0], "bad --peer-cid", optarg); break;
		case 'L': o->local_cid = parse_uint(argv[0], "bad --local-cid", optarg); break;
		case 'D': o->device_cid = parse_uint(argv[0], "bad --device-cid", optarg); break;
		case 'Q': o->silent_cid = parse_uint(argv[0], "bad --silent-cid", optarg); break;
		case 'P': o->port_base = parse_uint(argv[0], "bad --port-base", optarg); break;
		case 'K': o->check_kernel_log = 0; break;
		case 'S':
			if (strcmp(optarg, "server") != 0 && strcmp(optarg, "client") != 0)
				die(argv[0], "--split takes server or client", optarg);
			o->split = optarg;
			break;
		case 'C': o->control_path = optarg; break;
		case 'F': o->control_fd = (int)parse_uint(argv[0], "bad --control-fd", optarg); break;
		case 'O': o->solo = 1; break;
		case 'B': o->bridge = optarg; break;
		case 'h': usage(stdout, argv[0]); exit(0);
		default: usage(stderr, argv[0]); exit(2);
		}
	}
	if (optind < argc)
		die(argv[0], "unexpected argument", argv[optind]);
	if (o->split && !o->control_path == (o->control_fd < 0))
		die(argv[0], "--split needs one of --control and --control-fd", o->split);
	if (!o->split && (o->control_path || o->control_fd >= 0 || o->solo))
		die(argv[0], "--control, --control-fd and --solo need --split", "");
#ifdef VSC_HOST_PROGRAM
	if (!o->bridge && !o->list)
		die(argv[0], "--bridge is required", "");
	o->check_kernel_log = 0;	/* the build machine's kernel is not under test */
#endif
}

/* The control channel of --split, as a descriptor; exits 2 with one line if it is unusable. */
static int open_control(const char *prog, const struct options *o)
{
	char error[VSC_TEXT_MAX];
	int fd;

	if (o->control_fd >= 0) {
		if (fcntl(o->control_fd, F_GETFD) < 0)
			die(prog, "--control-fd is not an open descriptor", vsc_errname(errno));
		fcntl(o->control_fd, F_SETFD, FD_CLOEXEC);
		return o->control_fd;
	}
	fd = vsc_split_open_control(o->control_path, error, sizeof(error));
	if (fd < 0) {
		fprintf(stderr, "%s: %s\n", prog, error);
		exit(2);
	}
	return fd;
}

/* The distribution's package version from /proc/version ("Debian 6.1.192-2"), if any. */
static void package_version(char *out, size_t size)
{
	char line[512];
	const char *debian;
	FILE *f = fopen("/proc/version", "re");

	out[0] = '\0';
	if (!f)
		return;
	if (fgets(line, sizeof(line), f) && (debian = strstr(line, " Debian ")))
		snprintf(out, size, " (Debian %.*s)", (int)strcspn(debian + 8, " \n"), debian + 8);
	fclose(f);
}

static void print_header(const struct options *o, int planned)
{
	char version[128];

	package_version(version, sizeof(version));
	vsc_out("KTAP version 1");
	vsc_out("# vsockcheck: kernel %s%s, peer CID %u, local CID %u", vsc_kernel_release(),
		version, o->peer_cid, o->local_cid);
	vsc_out("1..%d", planned);
}

int main(int argc, char **argv)
{
	const struct vsc_case *c;
	struct options o;
	struct harness h;
	int planned = 0, number = 0, failed = 0;

	parse(argc, argv, &o);
	for (c = vsc_cases_begin(); c < vsc_cases_end(); c++)
		planned += selected(&o, c);
	if (planned == 0) {
		fprintf(stderr, "%s: no case matches the --pick/--skip globs\n", argv[0]);
		return 2;
	}
	if (o.list) {
		for (c = vsc_cases_begin(); c < vsc_cases_end(); c++)
			if (selected(&o, c))
				vsc_list_case(c);
		return 0;
	}
	if (vsc_harness_init(&h, o.check_kernel_log) != 0) {
		fprintf(stderr, "%s: cannot map memory shared with the roles\n", argv[0]);
		return 2;
	}
#ifdef VSC_HOST_PROGRAM
	if (vsc_bridge_init(o.bridge, o.peer_cid) != 0)
		die(argv[0], "--bridge path too long for a Unix socket", o.bridge);
	h.unmet_need = vsc_bridge_unmet_need;
#endif
	if (o.split) {
		h.split = vsc_split_new(open_control(argv[0], &o), o.split, o.solo);
		if (!h.split) {
			fprintf(stderr, "%s: out of memory\n", argv[0]);
			return 2;
		}
#ifdef VSC_HOST_PROGRAM
		vsc_split_adopt_peer_kernel(h.split);
#endif
	}
	print_header(&o, planned);
	if (h.split) {
		vsc_out("# vsockcheck: split, %s side%s", o.split, o.solo ? ", solo" : "");
		vsc_split_hello(h.split, planned);
	}
	for (c = vsc_cases_begin(); c < vsc_cases_end(); c++) {
		struct vsc_env env = {
			.peer_cid = o.peer_cid,
			.local_cid = o.local_cid,
			.device_cid = o.device_cid,
			.silent_cid = o.silent_cid,
			/* Ports follow the table index, so a case keeps its ports under --pick. */
			.port = o.port_base + (unsigned int)(c - vsc_cases_begin()) * VSC_PORTS_PER_CASE,
		};

		if (selected(&o, c))
			failed |= vsc_run_case(&h, c, ++number, &env);
	}
	if (h.split)
		failed |= vsc_split_end(h.split);
	return failed;
}
