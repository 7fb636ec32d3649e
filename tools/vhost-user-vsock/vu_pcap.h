/* vu_pcap.h: a capture of every packet the device carries (the `pcap` branch writes it). */
#ifndef VU_PCAP_H
#define VU_PCAP_H

#include <stddef.h>
#include <sys/uio.h>

#include "vu_packet.h"

struct vu_pcap;

struct vu_pcap *vu_pcap_open(const char *path, char *error, size_t error_size); /* NULL + error */
/* one record: `hdr` as on the wire (little-endian), then `payload_len` bytes gathered from iov */
void vu_pcap_packet(struct vu_pcap *p, const struct vu_vsock_hdr *hdr,
		    const struct iovec *iov, int iovcnt, size_t payload_len);
void vu_pcap_close(struct vu_pcap *p);

#endif
