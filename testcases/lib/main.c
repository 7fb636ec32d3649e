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
#include <sys/un.h>

#include "harness.h"
#include "vsc_ident.h"
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
	/* The nested topology: see struct vsc_env. */
	unsigned int level, l2_cid, sibling_cid, ident_port;
	const char *l2_qmp, *sibling_qmp;
	const char *ident;		/* --ident NAME: run the identity service, no cases */
	int hvsock;			/* --hvsock: the hvsock topology (VSC_NEED_HVSOCK) */
};

/* The port the runner gives the identity services (CONTRACTS5.md). */
#define DEFAULT_IDENT_PORT 19999

#ifdef VSC_HOST_PROGRAM
#define SOLO_USAGE ""
#define HOST_USAGE " --bridge UDS"
#define NESTED_USAGE ""
#else
#define SOLO_USAGE " [--solo]"
#define HOST_USAGE ""
#define NESTED_USAGE \
	"          [--level 0|1|2 --l2-cid CID [--sibling-cid CID] [--l2-qmp PATH]\n" \
	"           [--sibling-qmp PATH]]\n" \
	"          [--ident-port PORT] [--hvsock]\n" \
	"   or: %s --ident NAME [--ident-port PORT]\n"
#endif

static void usage(FILE *out, const char *prog)
{
	fprintf(out,
		"usage: %s [--list] [--pick GLOB]... [--skip GLOB]... [--peer-cid CID]\n"
		"          [--local-cid CID] [--device-cid CID] [--silent-cid CID] [--port-base PORT]\n"
		"          [--no-kernel-log]\n"
		"          [--split server|client (--control PATH | --control-fd N)" SOLO_USAGE "]"
		HOST_USAGE "\n"
		NESTED_USAGE
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
		"The nested topology (cases that need \"nested\" skip without --level 1 or 2):\n"
		"  --level N         0: not nested (default); 1: this kernel is L1, a guest that hosts\n"
		"                    L2 guests through vhost_vsock; 2: this kernel is an L2 guest of L1\n"
		"  --l2-cid CID      the CID of the L2 guest that runs the other role (levels 1 and 2)\n"
		"  --sibling-cid CID the CID of a second L2 guest, or -1 for none (default -1)\n"
		"  --l2-qmp PATH     level 1: the QMP socket of the L2 guest's QEMU\n"
		"  --sibling-qmp PATH level 1: the QMP socket of the second L2 guest's QEMU\n"
		"  --ident-port PORT the vsock port of the identity services (default %d)\n"
		"  --hvsock          the hvsock topology: hv_sock runs on vmbus_sim and the cases that\n"
		"                    need \"hvsock\" play the host through /dev/vmbus_sim\n"
		"  --ident NAME      run only the identity service: listen on --ident-port, answer\n"
		"                    each connection with \"vsockcheck-ident NAME\", then echo it\n"
#endif
		, prog,
#ifndef VSC_HOST_PROGRAM
		prog,
#endif
		VSC_PORTS_PER_CASE
#ifndef VSC_HOST_PROGRAM
		, DEFAULT_IDENT_PORT
#endif
		);
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

/* A guest's CID (above VMADDR_CID_HOST), or -1 for none where `none_ok`. */
static unsigned int parse_guest_cid(const char *prog, const char *opt, const char *text, int none_ok)
{
	unsigned int cid;

	if (none_ok && strcmp(text, "-1") == 0)
		return VMADDR_CID_ANY;
	cid = parse_uint(prog, opt, text);
	if (cid <= VMADDR_CID_HOST || cid == VMADDR_CID_ANY)
		die(prog, opt, text);
	return cid;
}

/* A QEMU monitor socket's path: it must fit a sockaddr_un. */
static const char *parse_qmp_path(const char *prog, const char *opt, const char *text)
{
	char what[64];

	if (!*text || strlen(text) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		snprintf(what, sizeof(what), "%s (empty, or too long for a Unix socket)", opt);
		die(prog, what, text);
	}
	return text;
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
		{ "level", required_argument, NULL, 'V' },
		{ "l2-cid", required_argument, NULL, '2' },
		{ "sibling-cid", required_argument, NULL, 'b' },
		{ "l2-qmp", required_argument, NULL, 'q' },
		{ "sibling-qmp", required_argument, NULL, 'm' },
		{ "ident-port", required_argument, NULL, 'i' },
		{ "ident", required_argument, NULL, 'I' },
		{ "hvsock", no_argument, NULL, 'H' },
#endif
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	*o = (struct options){ .peer_cid = VMADDR_CID_LOCAL, .local_cid = VMADDR_CID_LOCAL,
			       .device_cid = VMADDR_CID_ANY, .silent_cid = VMADDR_CID_ANY, .port_base = 20000, .check_kernel_log = 1,
			       .control_fd = -1, .l2_cid = VMADDR_CID_ANY,
			       .sibling_cid = VMADDR_CID_ANY, .ident_port = DEFAULT_IDENT_PORT };
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
		case 'V':
			o->level = parse_uint(argv[0], "bad --level (0, 1 or 2)", optarg);
			if (o->level > 2)
				die(argv[0], "bad --level (0, 1 or 2)", optarg);
			break;
		case '2': o->l2_cid = parse_guest_cid(argv[0], "bad --l2-cid", optarg, 0); break;
		case 'b': o->sibling_cid = parse_guest_cid(argv[0], "bad --sibling-cid", optarg, 1); break;
		case 'q': o->l2_qmp = parse_qmp_path(argv[0], "bad --l2-qmp", optarg); break;
		case 'm': o->sibling_qmp = parse_qmp_path(argv[0], "bad --sibling-qmp", optarg); break;
		case 'i':
			o->ident_port = parse_uint(argv[0], "bad --ident-port", optarg);
			if (o->ident_port == VMADDR_PORT_ANY)
				die(argv[0], "bad --ident-port", optarg);
			break;
		case 'I':
			if (vsc_ident_name_invalid(optarg))
				die(argv[0], "bad --ident (1-32 letters, digits, '-', '_' or '.')", optarg);
			o->ident = optarg;
			break;
		case 'H': o->hvsock = 1; break;
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
	if (o->level && o->l2_cid == VMADDR_CID_ANY)
		die(argv[0], "--level 1 and 2 need --l2-cid", "");
	if (!o->level && (o->l2_cid != VMADDR_CID_ANY || o->sibling_cid != VMADDR_CID_ANY))
		die(argv[0], "--l2-cid and --sibling-cid need --level 1 or 2", "");
	if (o->l2_qmp && o->level != 1)
		die(argv[0], "--l2-qmp needs --level 1", o->l2_qmp);
	if (o->sibling_qmp && o->level != 1)
		die(argv[0], "--sibling-qmp needs --level 1", o->sibling_qmp);
	if (o->ident && (o->split || o->list || o->level))
		die(argv[0], "--ident runs the identity service alone: no --split, --list or --level",
		    o->ident);
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
	if (o.ident)
		return vsc_ident_serve(o.ident, o.ident_port);
	vsc_set_nested_level(o.level);
	vsc_set_hvsock(o.hvsock);
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
			.level = o.level,
			.l2_cid = o.l2_cid,
			.sibling_cid = o.sibling_cid,
			.ident_port = o.ident_port,
			.l2_qmp = o.l2_qmp,
			.sibling_qmp = o.sibling_qmp,
		};

		if (selected(&o, c))
			failed |= vsc_run_case(&h, c, ++number, &env);
	}
	if (h.split)
		failed |= vsc_split_end(h.split);
	return failed;
}
