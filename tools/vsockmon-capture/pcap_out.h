/* pcap_out.h: writes a LINKTYPE_VSOCK pcap stream to a file descriptor, one write per record. */
#ifndef VSOCKMON_PCAP_OUT_H
#define VSOCKMON_PCAP_OUT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define PCAP_LINKTYPE_VSOCK 271
/* The global header's magic for nanosecond timestamps, in the writer's (little-endian) order. */
#define PCAP_MAGIC_NSEC 0xa1b23c4dU
#define PCAP_FILE_HEADER_LEN 24
#define PCAP_RECORD_HEADER_LEN 16

/* Writes the global header; 0, or -errno of the failed write. */
int pcap_out_header(int fd, uint32_t snaplen);

/* Writes one record: `captured` bytes of `frame`, which was `orig_len` long on the wire. The
 * record goes out in one write where the fd takes it whole, so a reader of a pipe or a
 * virtio-serial port never sees half a record before the next one; 0, or -errno. */
int pcap_out_record(int fd, const struct timespec *when, const void *frame, size_t captured,
		    size_t orig_len);

#endif
