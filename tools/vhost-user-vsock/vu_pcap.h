/* vu_pcap.h: a capture of the packets the backend carries, as a pcap file Wireshark decodes. */
#ifndef VU_PCAP_H
#define VU_PCAP_H

#include <stddef.h>
#include <sys/uio.h>

#include "vu_packet.h"

struct vu_pcap;

/* Creates (truncates) `path` and writes the file header; NULL with `error` when it cannot. */
struct vu_pcap *vu_pcap_open(const char *path, char *error, size_t error_size);

/*
 * Appends one record: `hdr` as on the wire (little-endian), then `payload_len` bytes gathered
 * from `iov`. A NULL `p` does nothing. A failed write is reported once on stderr and ends the
 * capture; the file then holds every whole record written before it.
 */
void vu_pcap_packet(struct vu_pcap *p, const struct vu_vsock_hdr *hdr,
		    const struct iovec *iov, int iovcnt, size_t payload_len);

/* Closes the file and frees `p`; a NULL `p` does nothing. */
void vu_pcap_close(struct vu_pcap *p);

#endif
