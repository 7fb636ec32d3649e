/* vu_pcap.c: PLACEHOLDER until the `pcap` branch's writer is merged: --pcap is refused. */
#include <stdio.h>

#include "vu_pcap.h"

struct vu_pcap *vu_pcap_open(const char *path, char *error, size_t error_size)
{
	snprintf(error, error_size, "--pcap %s: pcap support not built yet", path);
	return NULL;
}

void vu_pcap_packet(struct vu_pcap *p, const struct vu_vsock_hdr *hdr,
		    const struct iovec *iov, int iovcnt, size_t payload_len)
{
	(void)p, (void)hdr, (void)iov, (void)iovcnt, (void)payload_len;
}

void vu_pcap_close(struct vu_pcap *p)
{
	(void)p;
}
