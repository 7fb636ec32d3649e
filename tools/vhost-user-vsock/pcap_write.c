/*
 * pcap_write.c: vu-pcap-write, writes packets described on stdin through the backend's pcap
 * writer, so a decoder (tshark) can be checked against known input.
 */
#include <endian.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vu_pcap.h"

#define PAYLOAD_MAX 65536
/* Payloads are handed over in pieces this small, as a descriptor chain might split them. */
#define PIECE 5

static void usage(FILE *out, const char *prog)
{
	fprintf(out,
		"usage: %s FILE\n"
		"Writes one pcap record to FILE for each line of stdin:\n"
		"  SRC_CID DST_CID SRC_PORT DST_PORT TYPE OP FLAGS LEN PAYLOAD\n"
		"decimal numbers; PAYLOAD in hex, or - for none. LEN goes into the header as\n"
		"given, whatever the payload's real size.\n",
		prog);
}

static int parse_hex(const char *text, unsigned char *out, size_t *len)
{
	size_t n = strlen(text), i;

	*len = 0;
	if (strcmp(text, "-") == 0)
		return 0;
	if (n % 2 || n / 2 > PAYLOAD_MAX)
		return -1;
	for (i = 0; i < n; i += 2) {
		unsigned int byte;

		if (sscanf(text + i, "%2x", &byte) != 1)
			return -1;
		out[(*len)++] = (unsigned char)byte;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static unsigned char payload[PAYLOAD_MAX];
	/* %s cannot overrun `hex`: it is as long as the line it is read from. */
	static char line[2 * PAYLOAD_MAX + 256], hex[sizeof(line)];
	static struct iovec iov[PAYLOAD_MAX / PIECE + 1];
	unsigned long long src_cid, dst_cid;
	unsigned int src_port, dst_port, type, op, flags, len;
	char error[256];
	struct vu_pcap *p;
	int lineno = 0;

	if (argc == 2 && strcmp(argv[1], "--help") == 0) {
		usage(stdout, argv[0]);
		return 0;
	}
	if (argc != 2) {
		usage(stderr, argv[0]);
		return 2;
	}
	p = vu_pcap_open(argv[1], error, sizeof(error));
	if (!p) {
		fprintf(stderr, "%s: %s\n", argv[0], error);
		return 1;
	}
	while (fgets(line, sizeof(line), stdin)) {
		struct vu_vsock_hdr hdr;
		size_t payload_len, off;
		int n = 0;

		lineno++;
		if (sscanf(line, "%llu %llu %u %u %u %u %u %u %s", &src_cid, &dst_cid, &src_port,
			   &dst_port, &type, &op, &flags, &len, hex) != 9 ||
		    parse_hex(hex, payload, &payload_len) < 0) {
			fprintf(stderr, "%s: stdin line %d: not 8 decimal numbers and a hex payload\n",
				argv[0], lineno);
			vu_pcap_close(p);
			return 1;
		}
		/* The header as on the wire: little-endian. */
		hdr = (struct vu_vsock_hdr){ .src_cid = htole64(src_cid),
					     .dst_cid = htole64(dst_cid),
					     .src_port = htole32(src_port),
					     .dst_port = htole32(dst_port), .len = htole32(len),
					     .type = htole16((uint16_t)type),
					     .op = htole16((uint16_t)op), .flags = htole32(flags) };
		for (off = 0; off < payload_len; off += PIECE)
			iov[n++] = (struct iovec){ payload + off,
						   payload_len - off < PIECE ? payload_len - off : PIECE };
		vu_pcap_packet(p, &hdr, iov, n, payload_len);
	}
	vu_pcap_close(p);
	return 0;
}
