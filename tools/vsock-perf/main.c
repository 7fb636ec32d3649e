/*
 * vsock-perf: stream throughput (either direction, buffer and socket sizes, MSG_ZEROCOPY),
 * round-trip latency and connection rate over AF_VSOCK in a guest, or over the hybrid-vsock
 * bridge (a Unix socket) on the build machine, which never opens AF_VSOCK itself.
 */
#include <stdlib.h>

#include "perf.h"

int main(int argc, char **argv)
{
	struct options o = { .chunk = 65536, .msg_size = 64, .timeout_s = 300 };
	char *buf;

	parse_options(argc, argv, &o);
	install_signals(o.timeout_s);
	buf = malloc(o.chunk > o.msg_size ? o.chunk : o.msg_size);
	if (!buf)
		fail("cannot allocate a %zu-byte buffer", o.chunk);
	switch (o.mode) {
	case MODE_RECV: return run_recv(&o, buf);
	case MODE_SEND: return run_send(&o, buf);
	case MODE_ECHO: return run_echo(&o);
	case MODE_CONNRATE: return run_connrate(&o);
	case MODE_LATENCY: return run_latency(&o, buf);
	}
	return 2;
}
