/* main.c: vsockcat, netcat for vsock://, hvsock:// and hyperkit:// URIs; and the AF_HYPERV probe. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "hyperv_probe.h"
#include "vsockcat.h"

/* Exit statuses: 0 done (probe: AF_HYPERV present), 1 a call failed (probe: not AF_HYPERV),
 * 2 a bad command line or URI, or one that cannot be used as asked (vsock://:PORT without -l,
 * an hvsock:// service GUID that is no vsock port). With -e: CMD's exit status. */
#define EXIT_FAILED 1
#define EXIT_USAGE 2

static void usage(FILE *to)
{
	fprintf(to,
		"usage: vsockcat [-l [-k]] [-v] [-e CMD] URI\n"
		"       vsockcat --probe-hyperv\n"
		"Connects to URI (or with -l accepts one connection on it) and copies stdin to it and\n"
		"it to stdout until both reach EOF, each EOF passed on by itself: stdin's as\n"
		"shutdown(SHUT_WR), the connection's by closing stdout.\n"
		"  vsock://CID:PORT            AF_VSOCK; vsock://:PORT listens on any CID (-l)\n"
		"  hvsock://VM/SERVICE-GUID    in a Linux guest: VM parent is CID 2, loopback CID 1,\n"
		"                              wildcard (or empty) any CID for -l; the service GUID\n"
		"                              must be xxxxxxxx-facb-11e6-bd58-64006a7986d3 (port)\n"
		"  hyperkit://[CID]:PORT/DIR   HyperKit's state dir: connect through DIR/connect\n"
		"                              (CID default 3), listen on DIR/CCCCCCCC.PPPPPPPP (2)\n"
		"  -l, --listen         accept one connection instead of connecting\n"
		"  -e, --exec CMD       run /bin/sh -c CMD with the connection as its stdin and\n"
		"                       stdout (EOFs passed on as above); exit with CMD's status\n"
		"  -k, --keep           with -l and -e: serve connections one after another\n"
		"  -v, --verbose        say on stderr where it listens and whom it reached\n"
		"  --probe-hyperv       is socket family 43 LinuxKit's AF_HYPERV? (exit 0 yes, 1 no)\n");
}

static int probe_hyperv(void)
{
	struct hyperv_probe_result r;
	char msg[256];
	int present;

	hyperv_probe_run(&r);
	present = hyperv_probe_decide(&r, msg, sizeof(msg));
	printf("%s\n", msg);
	return present ? 0 : EXIT_FAILED;
}

/* One connection relayed to stdin/stdout or to a fresh CMD; the exit status it earns. */
static int serve(int conn, const char *cmd, const char *text)
{
	struct vsockcat_ends ends = { .sock = conn, .in = STDIN_FILENO, .out = STDOUT_FILENO,
				      .in_name = "stdin", .out_name = "stdout" };
	int pid = 0, status = 0;
	char err[512];

	if (cmd) {
		pid = vsockcat_cmd_start(cmd, &ends.out, &ends.in, err, sizeof(err));
		if (pid < 0) {
			fprintf(stderr, "vsockcat: %s: %s\n", text, err);
			close(conn);
			return EXIT_FAILED;
		}
		ends.in_name = "CMD's stdout";
		ends.out_name = "CMD's stdin";
		ends.out_is_cmd = 1;
	}
	if (vsockcat_relay(&ends, err, sizeof(err))) {
		fprintf(stderr, "vsockcat: %s: %s\n", text, err);
		status = EXIT_FAILED;
		/* Its pipes are closed already; one that ignores that must not hold us forever. */
		if (pid)
			kill(pid, SIGTERM);
	}
	close(conn);
	if (pid) {
		int cmd_status = vsockcat_cmd_wait(pid);

		if (!status)
			status = cmd_status;
	}
	return status;
}

static int listen_and_serve(const struct vsock_uri *uri, const char *text, int verbose,
			    const char *cmd, int keep)
{
	struct vsockcat_listener l;
	int r, conn, status;
	char err[512];

	r = vsockcat_listen(uri, text, verbose, &l, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "vsockcat: %s\n", err);
		return r == VSOCKCAT_BAD_ADDRESS ? EXIT_USAGE : EXIT_FAILED;
	}
	do {
		conn = vsockcat_accept(&l, err, sizeof(err));
		if (conn < 0) {
			fprintf(stderr, "vsockcat: %s\n", err);
			status = EXIT_FAILED;
			break;
		}
		/* With -k a failed connection is said and the next one served. */
		status = serve(conn, cmd, text);
	} while (keep);
	vsockcat_listener_close(&l);
	return status;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "listen", no_argument, NULL, 'l' }, { "verbose", no_argument, NULL, 'v' },
		{ "exec", required_argument, NULL, 'e' }, { "keep", no_argument, NULL, 'k' },
		{ "probe-hyperv", no_argument, NULL, 'P' }, { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int listening = 0, verbose = 0, probe = 0, keep = 0, opt, fd;
	const char *cmd = NULL;
	struct vsock_uri uri;
	char err[512];

	while ((opt = getopt_long(argc, argv, "lve:kh", options, NULL)) != -1) {
		switch (opt) {
		case 'l':
			listening = 1;
			break;
		case 'v':
			verbose = 1;
			break;
		case 'e':
			cmd = optarg;
			break;
		case 'k':
			keep = 1;
			break;
		case 'P':
			probe = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (probe) {
		if (optind != argc || listening || cmd || keep) {
			fprintf(stderr, "vsockcat: --probe-hyperv takes no URI and no -l, -e or -k\n");
			return EXIT_USAGE;
		}
		return probe_hyperv();
	}
	/* Without -e stdin and stdout end with the first connection: nothing to keep serving. */
	if (keep && (!listening || !cmd)) {
		fprintf(stderr, "vsockcat: -k needs -l and -e CMD\n");
		return EXIT_USAGE;
	}
	if (optind != argc - 1) {
		fprintf(stderr, "vsockcat: expected one URI (vsockcat --help)\n");
		return EXIT_USAGE;
	}
	if (vsock_uri_parse(argv[optind], &uri, err, sizeof(err))) {
		fprintf(stderr, "vsockcat: %s\n", err);
		return EXIT_USAGE;
	}
	/* A peer that goes away is a write error (EPIPE) with a message, not a silent death. */
	signal(SIGPIPE, SIG_IGN);
	if (listening)
		return listen_and_serve(&uri, argv[optind], verbose, cmd, keep);
	fd = vsockcat_connect(&uri, argv[optind], verbose, err, sizeof(err));
	if (fd < 0) {
		fprintf(stderr, "vsockcat: %s\n", err);
		return fd == VSOCKCAT_BAD_ADDRESS ? EXIT_USAGE : EXIT_FAILED;
	}
	return serve(fd, cmd, argv[optind]);
}
