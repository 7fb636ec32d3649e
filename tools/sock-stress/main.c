/* sock-stress: a stream socket stress test with linuxkit/virtsock's sock_stress options (see usage). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "stress.h"

int main(int argc, char **argv)
{
	struct stress_options o;
	struct stress_addr a;
	char err[512];
	int n;

	n = stress_parse_options(argc, argv, &o, err, sizeof(err));
	if (n == 1) {
		stress_usage(stdout);
		return 0;
	}
	if (n < 0) {
		fprintf(stderr, "sock-stress: %s\n", err);
		return STRESS_EXIT_USAGE;
	}
	if (stress_parse_addr(o.url, o.server, &a, err, sizeof(err))) {
		fprintf(stderr, "sock-stress: %s %s\n", o.server ? "-s" : "-c", err);
		return STRESS_EXIT_USAGE;
	}
	/* A peer that goes away shows as EPIPE on its connection, not as the process killed. */
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	return o.server ? stress_server(&o, &a) : stress_client(&o, &a);
}
