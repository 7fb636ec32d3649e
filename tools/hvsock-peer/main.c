/*
 * hvsock-peer: plays the Hyper-V host for hv_sock in a guest running vmbus_sim.
 *   hvsock-peer info
 *   hvsock-peer listen PORT [--echo]     accept one guest connect to PORT; print (or echo) its
 *                                        data until its FIN, then FIN and rescind
 *   hvsock-peer connect GUEST_PORT [--from HOST_PORT]
 *                                        connect to the guest's listener, send stdin, FIN, print
 *                                        what comes back until the guest's FIN, then rescind
 * Exit 0 on success, 1 when a call fails (one line naming it), 2 on a usage error.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hvp.h"

#define ACCEPT_TIMEOUT_MS 60000
#define RECV_TIMEOUT_MS 60000
#define DEFAULT_HOST_PORT 0x40000000u

static const char *prog = "hvsock-peer";

static void usage(FILE *out)
{
	fprintf(out, "usage: %s info\n"
		     "       %s listen PORT [--echo]\n"
		     "       %s connect GUEST_PORT [--from HOST_PORT]\n",
		prog, prog, prog);
}

static int fail(const struct hvp_session *s)
{
	fprintf(stderr, "%s: %s\n", prog, hvp_error(s));
	return 1;
}

static uint32_t parse_port(const char *text)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(text, &end, 0);
	if (!*text || *end || errno || v > 0xffffffffUL) {
		fprintf(stderr, "%s: bad port '%s'\n", prog, text);
		exit(2);
	}
	return (uint32_t)v;
}

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len) {
		n = write(fd, p, len);
		if (n < 0) {
			fprintf(stderr, "%s: write(stdout): %s\n", prog, strerror(errno));
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Copies the guest's packets to stdout (and back, with echo) until its FIN. */
static int pump_from_guest(struct hvp_conn *c, int echo)
{
	static char buf[HVP_MTU];
	struct hvp_packet p;
	int n;

	for (;;) {
		n = hvp_recv_packet(c, buf, sizeof(buf), 0, RECV_TIMEOUT_MS, &p);
		if (n < 0)
			return fail(c->s);
		if (p.fin)
			return 0;
		if (echo ? hvp_send(c, buf, (size_t)n, 0) < 0 : write_all(1, buf, (size_t)n) < 0)
			return echo ? fail(c->s) : 1;
	}
}

static int cmd_info(struct hvp_session *s)
{
	struct vsim_info i;

	if (hvp_info(s, &i) < 0)
		return fail(s);
	printf("abi %u proto 0x%x attach %s driver_registered %u channels %u\n", i.abi,
	       i.proto_version, i.attach == VSIM_ATTACH_LIVEPATCH ? "livepatch" : "exports",
	       i.driver_registered, i.channels);
	return 0;
}

static int cmd_listen(struct hvp_session *s, uint32_t port, int echo)
{
	struct hvp_conn c;
	int ret;

	if (hvp_listen(s, port) < 0)
		return fail(s);
	/* From here a guest's connect reaches us: a script (or a case) may start its client. */
	fprintf(stderr, "%s: listening on port %u\n", prog, port);
	if (hvp_accept(s, ACCEPT_TIMEOUT_MS, &c) < 0)
		return fail(s);
	if (c.state != VSIM_CHAN_OPEN) {
		fprintf(stderr, "%s: VSIM_IOC_OFFER(port %u): the guest left the channel unopened\n",
			prog, port);
		hvp_rescind(&c);
		return 1;
	}
	ret = pump_from_guest(&c, echo);
	if (!ret && hvp_shutdown(&c) < 0)
		ret = fail(s);
	if (hvp_rescind(&c) < 0 && !ret)
		ret = fail(s);
	return ret;
}

static int cmd_connect(struct hvp_session *s, uint32_t guest_port, uint32_t host_port)
{
	static char buf[HVP_SEND_CHUNK];
	struct hvp_conn c;
	ssize_t n;
	int ret = 0;

	if (hvp_connect(s, guest_port, host_port, &c) < 0)
		return fail(s);
	if (c.state != VSIM_CHAN_OPEN) {
		fprintf(stderr, "%s: VSIM_IOC_OFFER(guest port %u): nobody listens there (channel unopened)\n",
			prog, guest_port);
		hvp_rescind(&c);
		return 1;
	}
	while ((n = read(0, buf, sizeof(buf))) > 0)
		if (hvp_send(&c, buf, (size_t)n, 0) < 0) {
			ret = fail(s);
			break;
		}
	if (n < 0) {
		fprintf(stderr, "%s: read(stdin): %s\n", prog, strerror(errno));
		ret = 1;
	}
	if (!ret && hvp_shutdown(&c) < 0)
		ret = fail(s);
	if (!ret)
		ret = pump_from_guest(&c, 0);
	if (hvp_rescind(&c) < 0 && !ret)
		ret = fail(s);
	return ret;
}

int main(int argc, char **argv)
{
	struct hvp_session s;
	int ret;

	if (argc < 2 || strcmp(argv[1], "--help") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (!((strcmp(argv[1], "info") == 0 && argc == 2) ||
	      (strcmp(argv[1], "listen") == 0 && (argc == 3 || (argc == 4 && strcmp(argv[3], "--echo") == 0))) ||
	      (strcmp(argv[1], "connect") == 0 && (argc == 3 || (argc == 5 && strcmp(argv[3], "--from") == 0))))) {
		usage(stderr);
		return 2;
	}
	if (argc >= 3)
		parse_port(argv[2]);
	if (argc == 5)
		parse_port(argv[4]);
	if (hvp_open(&s) < 0)
		return fail(&s);
	if (strcmp(argv[1], "info") == 0)
		ret = cmd_info(&s);
	else if (strcmp(argv[1], "listen") == 0)
		ret = cmd_listen(&s, parse_port(argv[2]), argc == 4);
	else
		ret = cmd_connect(&s, parse_port(argv[2]),
				  argc == 5 ? parse_port(argv[4]) : DEFAULT_HOST_PORT);
	hvp_close(&s);
	return ret;
}
