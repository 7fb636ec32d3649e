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
 * an hvsock:// service GUID that is no vsock port). */
#define EXIT_FAILED 1
#define EXIT_USAGE 2

static void usage(FILE *to)
{
	fprintf(to,
		"usage: vsockcat [-l] [-v] URI\n"
		"       vsockcat --probe-hyperv\n"
		"Connects to URI (or with -l accepts one connection on it) and copies stdin to it and\n"
		"it to stdout until both reach EOF (stdin's EOF is sent as shutdown(SHUT_WR)).\n"
		"  vsock://CID:PORT            AF_VSOCK; vsock://:PORT listens on any CID (-l)\n"
		"  hvsock://VM/SERVICE-GUID    in a Linux guest: VM parent is CID 2, loopback CID 1,\n"
		"                              wildcard (or empty) any CID for -l; the service GUID\n"
		"                              must be xxxxxxxx-facb-11e6-bd58-64006a7986d3 (port)\n"
		"  hyperkit://[CID]:PORT/DIR   HyperKit's state dir: connect through DIR/connect\n"
		"                              (CID default 3), listen on DIR/CCCCCCCC.PPPPPPPP (2)\n"
		"  -l, --listen         accept one connection instead of connecting\n"
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

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "listen", no_argument, NULL, 'l' }, { "verbose", no_argument, NULL, 'v' },
		{ "probe-hyperv", no_argument, NULL, 'P' }, { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int listening = 0, verbose = 0, probe = 0, opt, fd;
	struct vsock_uri uri;
	char err[512];

	while ((opt = getopt_long(argc, argv, "lvh", options, NULL)) != -1) {
		switch (opt) {
		case 'l':
			listening = 1;
			break;
		case 'v':
			verbose = 1;
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
		if (optind != argc || listening) {
			fprintf(stderr, "vsockcat: --probe-hyperv takes no URI and no -l\n");
			return EXIT_USAGE;
		}
		return probe_hyperv();
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
	fd = vsockcat_open(&uri, argv[optind], listening, verbose, err, sizeof(err));
	if (fd < 0) {
		fprintf(stderr, "vsockcat: %s\n", err);
		return fd == VSOCKCAT_BAD_ADDRESS ? EXIT_USAGE : EXIT_FAILED;
	}
	if (vsockcat_relay(fd, err, sizeof(err))) {
		fprintf(stderr, "vsockcat: %s: %s\n", argv[optind], err);
		close(fd);
		return EXIT_FAILED;
	}
	close(fd);
	return 0;
}
