/* options.c: vsock-perf's command line: the mode, then options; every error is one line, exit 2. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "perf.h"

static const char *const mode_names[] = { "recv", "send", "echo", "connrate", "latency" };
#define MODES (sizeof(mode_names) / sizeof(mode_names[0]))

static void usage(FILE *out)
{
	fprintf(out,
		"usage: vsock-perf recv|send [--cid C | --bridge UDS | --bridge-listen UDS] --port P\n"
		"                  [--bytes N] [--chunk N] [--vsk-size N] [--rcvlowat N] [--poll]\n"
		"                  [--zerocopy] [--background]\n"
		"       vsock-perf echo --port P [--count N] [--bridge-listen UDS] [--background]\n"
		"       vsock-perf connrate --cid C --port P --count N [--bridge UDS]\n"
		"       vsock-perf latency [--cid C --count N [--size N]] --port P [--background]\n"
		"Stream throughput, latency and connection rate over AF_VSOCK (SOCK_STREAM).\n"
		"With --cid (or --bridge) a mode connects; without, it listens and accepts one\n"
		"connection, so either side may send.\n"
		"  recv      read until EOF, print bytes and MiB/s (timed from the first byte to\n"
		"            EOF), then close\n"
		"  send      write --bytes N in --chunk writes, shut down writing, wait for the\n"
		"            peer's close, print bytes and MiB/s\n"
		"  echo      accept connections; on each read one byte, write it back, close\n"
		"  connrate  N times: connect, write one byte, read it back, close; print conn/s\n"
		"  latency   connecting: --count round trips of --size bytes (default 64); print\n"
		"            min/p50/p90/p99/max/mean in microseconds; listening: echo until EOF\n"
		"Options:\n"
		"  --cid C              peer CID (1 loopback, 2 host)\n"
		"  --port P             vsock port\n"
		"  --bytes N            bytes to send; K, M, G suffixes are KiB, MiB, GiB\n"
		"  --chunk N            buffer size: bytes per write/read (default 65536)\n"
		"  --vsk-size N         socket buffer size: SO_VM_SOCKETS_BUFFER_MAX_SIZE and\n"
		"                       SO_VM_SOCKETS_BUFFER_SIZE (default: the kernel's, 256K)\n"
		"  --rcvlowat N         SO_RCVLOWAT on the socket\n"
		"  --poll               receivers: poll() for POLLIN before each read()\n"
		"  --zerocopy           send with MSG_ZEROCOPY (Linux 6.7 and later; exit status\n"
		"                       4 where the kernel lacks it)\n"
		"  --count N            connections, round trips (echo: default unlimited)\n"
		"  --size N             latency: bytes per round trip (default 64)\n"
		"  --json               print reports as one JSON object a line\n"
		"  --bridge UDS         reach the guest through a hybrid-vsock bridge instead of\n"
		"                       AF_VSOCK: connect to UDS, 'CONNECT <port>', 'OK <n>'\n"
		"  --bridge-listen UDS  listen on the Unix socket UDS_<port> for the guest's\n"
		"                       connections to the host instead of on AF_VSOCK\n"
		"  --background         listeners: return once listening; serve in a child\n"
		"  --timeout S          give up after S seconds in all (default 300)\n"
		"  -h, --help           this text\n"
		"Listeners print 'vsock-perf: MODE listening port=P' once they accept.\n");
}

static void usage_error(const char *fmt, const char *word)
{
	fprintf(stderr, "vsock-perf: %s: ", mode_name);
	fprintf(stderr, fmt, word);
	fprintf(stderr, " (see --help)\n");
	exit(2);
}

static unsigned long long parse_number(const char *option, const char *text, int suffixes,
				       unsigned long long min, unsigned long long max)
{
	unsigned long long value, scale = 1;
	char *end;

	errno = 0;
	value = strtoull(text, &end, 0);
	if (suffixes && *end && !end[1]) {
		switch (*end) {
		case 'K': case 'k': scale = 1ull << 10; end++; break;
		case 'M': case 'm': scale = 1ull << 20; end++; break;
		case 'G': case 'g': scale = 1ull << 30; end++; break;
		}
	}
	if (errno || !*text || *text == '-' || *end || value > max / scale ||
	    value * scale < min) {
		fprintf(stderr, "vsock-perf: %s '%s': not a number from %llu to %llu\n", option, text,
			min, max);
		exit(2);
	}
	return value * scale;
}

int connects(const struct options *o)
{
	if (o->mode == MODE_CONNRATE)
		return 1;
	if (o->mode == MODE_ECHO)
		return 0;
	return o->have_cid || o->bridge;
}

static void need(int have, const char *option)
{
	if (!have)
		usage_error("%s is required", option);
}

static void refuse(int given, const char *option)
{
	if (given)
		usage_error("%s does not apply here", option);
}

static enum mode parse_mode(int argc, char **argv)
{
	unsigned int i;

	if (argc < 2 || argv[1][0] == '-') {
		if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
			usage(stdout);
			exit(0);
		}
		fprintf(stderr, "vsock-perf: the first argument is the mode: recv, send, echo, connrate or latency (see --help)\n");
		exit(2);
	}
	for (i = 0; i < MODES; i++)
		if (!strcmp(argv[1], mode_names[i]))
			break;
	if (i == MODES) {
		fprintf(stderr, "vsock-perf: unknown mode '%s': recv, send, echo, connrate or latency (see --help)\n",
			argv[1]);
		exit(2);
	}
	mode_name = mode_names[i];
	return (enum mode)i;
}

/* What each mode accepts, once the options are read. */
static void check_combination(const struct options *o)
{
	int stream = o->mode == MODE_RECV || o->mode == MODE_SEND;
	int listens = !connects(o);

	need(o->have_port, "--port");
	need(o->mode != MODE_CONNRATE || o->have_cid || o->bridge, "--cid (or --bridge)");
	need(o->mode != MODE_SEND || o->have_bytes, "--bytes");
	need(o->mode != MODE_CONNRATE || o->have_count, "--count");
	need(o->mode != MODE_LATENCY || listens || o->have_count, "--count");
	refuse(o->mode == MODE_ECHO && (o->have_cid || o->bridge), "--cid or --bridge (echo listens)");
	refuse(o->bridge && o->have_cid, "--cid together with --bridge");
	refuse(o->bridge_listen && !listens, "--bridge-listen on a connecting side");
	refuse(!listens && o->background, "--background on a connecting side");
	refuse(o->mode != MODE_SEND && o->have_bytes, "--bytes");
	refuse(stream && o->have_count, "--count");
	refuse(o->mode == MODE_LATENCY && listens && o->have_count, "--count on the echoing side");
	refuse(o->mode != MODE_LATENCY && o->have_size, "--size");
	refuse(o->mode != MODE_SEND && o->zerocopy, "--zerocopy");
	refuse(o->mode != MODE_RECV && o->poll_before_read, "--poll");
	refuse((o->bridge || o->bridge_listen) && (o->vsk_size || o->rcvlowat || o->zerocopy),
	       "--vsk-size, --rcvlowat or --zerocopy over a bridge (AF_VSOCK only)");
}

void parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "cid", required_argument, NULL, 'c' },
		{ "port", required_argument, NULL, 'p' },
		{ "bytes", required_argument, NULL, 'b' },
		{ "chunk", required_argument, NULL, 'k' },
		{ "count", required_argument, NULL, 'n' },
		{ "size", required_argument, NULL, 's' },
		{ "vsk-size", required_argument, NULL, 'V' },
		{ "rcvlowat", required_argument, NULL, 'R' },
		{ "poll", no_argument, NULL, 'P' },
		{ "zerocopy", no_argument, NULL, 'Z' },
		{ "json", no_argument, NULL, 'j' },
		{ "bridge", required_argument, NULL, 'B' },
		{ "bridge-listen", required_argument, NULL, 'L' },
		{ "background", no_argument, NULL, 'g' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	o->mode = parse_mode(argc, argv);
	optind = 2;
	opterr = 0;	/* one error line, ours */
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c': o->cid = parse_number("--cid", optarg, 0, 0, 0xffffffffull); o->have_cid = 1; break;
		case 'p': o->port = (unsigned int)parse_number("--port", optarg, 0, 0, 0xfffffffeull); o->have_port = 1; break;
		case 'b': o->bytes = parse_number("--bytes", optarg, 1, 1, 1ull << 50); o->have_bytes = 1; break;
		case 'k': o->chunk = (size_t)parse_number("--chunk", optarg, 1, 1, CHUNK_MAX); break;
		case 'n': o->count = parse_number("--count", optarg, 0, 1, 1ull << 40); o->have_count = 1; break;
		case 's': o->msg_size = (size_t)parse_number("--size", optarg, 1, 1, CHUNK_MAX); o->have_size = 1; break;
		case 'V': o->vsk_size = parse_number("--vsk-size", optarg, 1, 1, 1ull << 32); break;
		case 'R': o->rcvlowat = (unsigned int)parse_number("--rcvlowat", optarg, 1, 1, 1u << 30); break;
		case 'P': o->poll_before_read = 1; break;
		case 'Z': o->zerocopy = 1; break;
		case 'j': o->json = 1; break;
		case 'B': o->bridge = optarg; break;
		case 'L': o->bridge_listen = optarg; break;
		case 'g': o->background = 1; break;
		case 't': o->timeout_s = (unsigned int)parse_number("--timeout", optarg, 0, 1, 86400); break;
		case 'h': usage(stdout); exit(0);
		default:
			usage_error("bad option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		usage_error("unexpected argument '%s'", argv[optind]);
	check_combination(o);
	if (o->mode == MODE_LATENCY && o->count > (1ull << 28))
		usage_error("%s: at most 268435456 round trips", "--count");
}
