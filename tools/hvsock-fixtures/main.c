/* main.c: vsock-fixtures-hv: runs hv_sock packet fixtures (engine 3) against the real hv_sock.ko
 * on vmbus_sim, playing the Hyper-V host through /dev/vmbus_sim, with vsock-fixture-agent as
 * the kernel's socket side in the same guest. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../vsock-fixtures/fx_agent_proc.h"
#include "vsim_wire.h"

#define ME "vsock-fixtures-hv"
#define DEFAULT_AGENT "vsock-fixture-agent"
/* In a hv_sock guest the host is CID 2 and the guest's own CID reads as VMADDR_CID_ANY. */
#define ENGINE_CID 2
#define KERNEL_CID 0xffffffffu

struct options {
	const char *agent;
	const char *trace;
	const char *prefix;
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: " ME " [--agent PATH] [--trace FILE] [--prefix P] FIXTURE...\n"
		"Runs each hv_sock fixture file against this kernel's hv_sock.ko on vmbus_sim: this\n"
		"program plays the Hyper-V host through /dev/vmbus_sim, and the agent it starts holds\n"
		"the kernel's sockets. Prints KTAP on stdout; exits 0 when nothing failed, 1 otherwise,\n"
		"2 on bad usage.\n"
		"  --agent PATH   the agent program (default: %s, looked up in PATH)\n"
		"  --trace FILE   write every packet, event and agent result there, as JSON lines\n"
		"  --prefix P     result names are P<fixture name> (e.g. hv_sock/)\n",
		DEFAULT_AGENT);
}

static int parse(int argc, char **argv, struct options *opts)
{
	static const struct option longopts[] = {
		{ "agent", required_argument, NULL, 'a' },
		{ "trace", required_argument, NULL, 't' },
		{ "prefix", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	*opts = (struct options){ DEFAULT_AGENT, NULL, "" };
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
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
		fprintf(stderr, ME ": no fixture files given\n");
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct hvf_wire wire;
	struct fx_engine engine = { .target = "hv_sock", .engine_cid = ENGINE_CID,
				    .kernel_cid = KERNEL_CID };
	struct fx_run_options run = { .ktap = stdout };
	struct options opts;
	pid_t agent;
	int ret;

	if (parse(argc, argv, &opts))
		return 2;
	if (hvf_wire_init(&wire, &engine)) {
		fprintf(stderr, ME ": out of memory\n");
		return 1;
	}
	/* Before the device is opened: the agent must not inherit a session. */
	agent = fx_agent_start(ME, opts.agent, &run.agent_in, &run.agent_out);
	if (agent < 0)
		return 1;
	/* A dead agent must show up as a failed write, not kill us with the results unprinted. */
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (opts.trace) {
		run.trace = fopen(opts.trace, "w");
		if (!run.trace) {
			fprintf(stderr, ME ": --trace %s: %s\n", opts.trace, strerror(errno));
			fx_agent_stop(ME, agent, run.agent_in, run.agent_out);
			return 1;
		}
		setvbuf(run.trace, NULL, _IOLBF, 0);
	}
	run.prefix = opts.prefix;
	ret = fx_run_files(&engine, &run, argv + optind, argc - optind);
	if (run.trace)
		fclose(run.trace);
	fx_agent_stop(ME, agent, run.agent_in, run.agent_out);
	return ret;
}
