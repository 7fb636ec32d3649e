/* options.c: sock-stress's command line: sock_stress's options and defaults, plus -t. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stress.h"

void stress_usage(FILE *out)
{
	fprintf(out,
		"usage: sock-stress -c URL | -s URL [-i N] [-p N] [-L MIN] [-l MAX] [-B MIN] [-b MAX]\n"
		"                   [-w SECONDS] [-e] [-v LEVEL] [-t SECONDS]\n"
		"Stress test of stream sockets, with the options of linuxkit/virtsock's sock_stress: the\n"
		"client sends random data in random chunks, half-closes, reads the echo back and compares\n"
		"SHA-256 digests; the server echoes every connection.\n"
		"  -c URL      run the client against URL\n"
		"  -s URL      run the server on URL\n"
		"  -i N        connections in all (default 100); a server given -i stops after N\n"
		"  -p N        client connections at once (default 1)\n"
		"  -L MIN      least bytes sent on one connection (default 0)\n"
		"  -l MAX      most bytes sent on one connection (default 65536)\n"
		"  -B MIN      smallest write or read (default 16384)\n"
		"  -b MAX      largest write or read (default 16384)\n"
		"  -w SECONDS  sleep between one client's connections (default 0)\n"
		"  -e          exit at the first error (else go on and count the errors)\n"
		"  -v LEVEL    1: a line per connection; 2: more (default 0)\n"
		"  -t SECONDS  fail if the run is not over in SECONDS (ours; default 0: no limit)\n"
		"URLs: vsock://CID:PORT, vsock://:PORT (server), hvsock://VM/SERVICE or VM:SERVICE\n"
		"(parent, loopback; SERVICE a vsock port GUID), unix:PATH or unix://PATH; a bare scheme\n"
		"\"vsock\" (port %u) or \"hvsock\" (service %s) as sock_stress.\n"
		"Exit status: 0 every connection echoed exactly, 1 a connection failed or -t ran out,\n"
		"2 bad usage.\n", STRESS_VSOCK_PORT, STRESS_HVSOCK_SERVICE);
}

static int bad(char *err, size_t err_size, const char *fmt, const char *a, const char *b)
{
	snprintf(err, err_size, fmt, a, b);
	return -1;
}

/* A decimal number in [min, max]; -1 on anything else. */
static int number(const char *text, long min, long max, long *value)
{
	char *end;

	errno = 0;
	*value = strtol(text, &end, 10);
	return errno || end == text || *end || *value < min || *value > max ? -1 : 0;
}

int stress_parse_options(int argc, char **argv, struct stress_options *o, char *err, size_t err_size)
{
	static const struct option longs[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	/*
	 * Each numeric option: its letter, where it goes, its range. The ceilings keep the
	 * arithmetic far from overflow and a chunk (two buffers per client thread) allocatable.
	 */
	struct { char letter; long *value; long min, max; } numbers[] = {
		{ 'i', &o->connections, 1, 1L << 40 }, { 'p', &o->parallel, 1, 4096 },
		{ 'L', &o->min_len, 0, 1L << 40 }, { 'l', &o->max_len, 0, 1L << 40 },
		{ 'B', &o->min_chunk, 1, 1L << 26 }, { 'b', &o->max_chunk, 1, 1L << 26 },
		{ 'w', &o->wait_s, 0, 86400 }, { 'v', &o->verbose, 0, 9 },
		{ 't', &o->time_limit_s, 0, 1L << 30 },
	};
	char letter[2] = "";
	size_t i;
	int opt;

	*o = (struct stress_options){ .connections = 100, .parallel = 1, .max_len = 64 * 1024,
				      .min_chunk = 16 * 1024, .max_chunk = 16 * 1024 };
	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, ":c:s:i:p:L:l:B:b:w:ev:t:h", longs, NULL)) != -1) {
		letter[0] = (char)optopt;
		switch (opt) {
		case 'h':
			return 1;
		case 'c':
		case 's':
			if (o->url)
				return bad(err, err_size, "-%s: give one of -c URL and -s URL%s",
					   opt == 'c' ? "c" : "s", "");
			o->url = optarg;
			o->server = opt == 's';
			continue;
		case 'e':
			o->exit_on_error = 1;
			continue;
		case ':':
			return bad(err, err_size, "-%s needs a value%s", letter, "");
		case '?':
			if (optopt)
				return bad(err, err_size, "-%s: unknown option (see --help)%s", letter, "");
			return bad(err, err_size, "%s: unknown option (see --help)%s", argv[optind - 1], "");
		}
		for (i = 0; i < sizeof(numbers) / sizeof(numbers[0]); i++) {
			if (numbers[i].letter != opt)
				continue;
			letter[0] = (char)opt;
			if (number(optarg, numbers[i].min, numbers[i].max, numbers[i].value)) {
				snprintf(err, err_size, "-%s %s: want a whole number from %ld to %ld",
					 letter, optarg, numbers[i].min, numbers[i].max);
				return -1;
			}
			if (opt == 'i')
				o->count_given = 1;
		}
	}
	if (optind < argc)
		return bad(err, err_size, "%s: unexpected argument (URLs go after -c or -s)%s",
			   argv[optind], "");
	if (!o->url)
		return bad(err, err_size, "give -c URL (client) or -s URL (server)%s%s", "", "");
	if (o->min_len > o->max_len)
		return bad(err, err_size, "-L (least bytes) is more than -l (most bytes)%s%s", "", "");
	if (o->min_chunk > o->max_chunk)
		return bad(err, err_size, "-B (smallest chunk) is more than -b (largest chunk): "
			   "sock_stress's defaults are 16384 for both%s%s", "", "");
	return 0;
}
