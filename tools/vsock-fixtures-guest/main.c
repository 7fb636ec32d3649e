/* main.c: vsock-fixtures-guest: runs packet fixtures against this kernel's vhost_vsock, playing
 * the guest driver of /dev/vhost-vsock, with vsock-fixture-agent as the kernel's socket side. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../vsock-fixtures/fx_agent_proc.h"
#include "wire.h"

#define DEFAULT_ENGINE_CID 42
#define KERNEL_CID 2	/* vhost's own CID is always VMADDR_CID_HOST */
#define DEFAULT_AGENT "vsock-fixture-agent"

struct options {
	uint64_t engine_cid;
	const char *agent;
	const char *trace;
	const char *prefix;
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: vsock-fixtures-guest [--cid N] [--agent PATH] [--trace FILE] [--prefix P] FIXTURE...\n"
		"Runs each fixture file against this kernel's vhost_vsock: this program drives\n"
		"/dev/vhost-vsock as the guest driver of a CID, and the agent it starts holds the kernel's\n"
		"sockets. Prints KTAP on stdout; exits 0 when nothing failed, 1 otherwise, 2 on bad usage.\n"
		"  --cid N        $engine_cid of the first fixture (default %d); each next fixture\n"
		"                 plays the next CID, up to N+4095, then N again\n"
		"  --agent PATH   the agent program (default: %s, looked up in PATH)\n"
		"  --trace FILE   write every packet and agent result there, as JSON lines\n"
		"  --prefix P     result names are P<fixture name> (e.g. vhost_vsock/)\n",
		DEFAULT_ENGINE_CID, DEFAULT_AGENT);
}

static int parse(int argc, char **argv, struct options *opts)
{
	static const struct option longopts[] = {
		{ "cid", required_argument, NULL, 'c' },
		{ "agent", required_argument, NULL, 'a' },
		{ "trace", required_argument, NULL, 't' },
		{ "prefix", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char *end;
	int c;

	*opts = (struct options){ DEFAULT_ENGINE_CID, DEFAULT_AGENT, NULL, "" };
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			errno = 0;
			opts->engine_cid = strtoull(optarg, &end, 0);
			if (errno || end == optarg || *end || optarg[0] == '-' || opts->engine_cid < 3 ||
			    opts->engine_cid + FXG_CIDS_IN_TURN > 0xffffffffull) {
				fprintf(stderr, "vsock-fixtures-guest: --cid %s: not a CID from 3 to "
					"0xffffffff - %u\n", optarg, FXG_CIDS_IN_TURN);
				return -1;
			}
			break;
		case 'a':
			opts->agent = optarg;
			break;
		case 't':
			opts->trace = optarg;
			break;
		case 'p':
			opts->prefix = optarg;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind == argc) {
		fprintf(stderr, "vsock-fixtures-guest: no fixture files given\n");
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct fxg_wire wire;
	struct fx_engine engine = { .kernel_cid = KERNEL_CID };
	struct fx_run_options run = { .ktap = stdout };
	struct options opts;
	pid_t agent;
	int ret;

	if (parse(argc, argv, &opts))
		return 2;
	/* Before the device is ever opened: vhost accepts ioctls only from its owner. */
	agent = fx_agent_start("vsock-fixtures-guest", opts.agent, &run.agent_in, &run.agent_out);
	if (agent < 0)
		return 1;
	/* A dead agent must show up as a failed write, not kill us with the results unprinted. */
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (opts.trace) {
		run.trace = fopen(opts.trace, "w");
		if (!run.trace) {
			fprintf(stderr, "vsock-fixtures-guest: --trace %s: %s\n", opts.trace,
				strerror(errno));
			fx_agent_stop("vsock-fixtures-guest", agent, run.agent_in, run.agent_out);
			return 1;
		}
		setvbuf(run.trace, NULL, _IOLBF, 0);
	}
	run.prefix = opts.prefix;
	engine.engine_cid = opts.engine_cid;
	fxg_wire_init(&wire, &engine);
	ret = fx_run_files(&engine, &run, argv + optind, argc - optind);
	if (run.trace)
		fclose(run.trace);
	fx_agent_stop("vsock-fixtures-guest", agent, run.agent_in, run.agent_out);
	return ret;
}
