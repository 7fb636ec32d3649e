/* vsock-ss: lists AF_VSOCK sockets from NETLINK_SOCK_DIAG, the way `ss --vsock` does. */
#include <errno.h>
#include <getopt.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vsc_sockdiag.h"

#define ROW "%-6s %-10s %-21s %-21s %s\n"

static void usage(FILE *out, const char *prog)
{
	fprintf(out,
		"usage: %s [--listening | --all] [--no-header]\n"
		"Lists AF_VSOCK sockets as the kernel's sock_diag reports them (needs vsock_diag):"
		"\n"
		"netid (v_str, v_seq, v_dgr), state, local CID:port, peer CID:port, inode.\n"
		"  -l, --listening  only listening sockets\n"
		"  -a, --all        sockets in every state\n"
		"                   (default: all but listening and unconnected ones, as ss does)\n"
		"  -H, --no-header  leave out the column titles\n"
		"  -h, --help       this text\n",
		prog);
}

static const char *explain(int err)
{
	switch (err) {
	case ENOENT:
		return " (no sock_diag handler for AF_VSOCK: load the vsock_diag module)";
	case EPROTONOSUPPORT:
		return " (this kernel has no NETLINK_SOCK_DIAG)";
	default:
		return "";
	}
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "listening", no_argument, NULL, 'l' }, { "all", no_argument, NULL, 'a' },
		{ "no-header", no_argument, NULL, 'H' }, { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint32_t states = VSC_SOCKDIAG_ALL_STATES & ~(1u << TCP_LISTEN | 1u << TCP_CLOSE);
	struct vsc_sockdiag_list list;
	int opt, header = 1, err;
	size_t i;

	opterr = 0;	/* one error line, ours */
	while ((opt = getopt_long(argc, argv, "laHh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'l': states = 1u << TCP_LISTEN; break;
		case 'a': states = VSC_SOCKDIAG_ALL_STATES; break;
		case 'H': header = 0; break;
		case 'h': usage(stdout, argv[0]); return 0;
		default:
			if (strncmp(argv[optind - 1], "--", 2) == 0)
				fprintf(stderr, "%s: bad option '%s' (see --help)\n", argv[0],
					argv[optind - 1]);
			else
				fprintf(stderr, "%s: bad option '-%c' (see --help)\n", argv[0],
					optopt);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "%s: unexpected argument '%s' (see --help)\n", argv[0],
			argv[optind]);
		return 2;
	}
	err = vsc_sockdiag_dump(states, &list);
	if (err) {
		fprintf(stderr, "%s: cannot list AF_VSOCK sockets: %s%s\n", argv[0], strerror(-err),
			explain(-err));
		return 1;
	}
	if (header)
		printf(ROW, "Netid", "State", "Local Address:Port", "Peer Address:Port", "Inode");
	for (i = 0; i < list.count; i++) {
		const struct vsock_diag_msg *m = &list.sockets[i];
		char local[VSC_SOCKDIAG_ADDR_MAX], peer[VSC_SOCKDIAG_ADDR_MAX], inode[16];

		vsc_sockdiag_address(local, m->vdiag_src_cid, m->vdiag_src_port);
		vsc_sockdiag_address(peer, m->vdiag_dst_cid, m->vdiag_dst_port);
		snprintf(inode, sizeof(inode), "%u", m->vdiag_ino);
		printf(ROW, vsc_sockdiag_netid(m->vdiag_type),
		       vsc_sockdiag_state_name(m->vdiag_state), local, peer, inode);
	}
	vsc_sockdiag_free(&list);
	if (fflush(stdout) != 0) {
		fprintf(stderr, "%s: cannot write the list: %s\n", argv[0], strerror(errno));
		return 1;
	}
	return 0;
}
