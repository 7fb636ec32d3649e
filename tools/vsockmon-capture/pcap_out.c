/* pcap_out.c: the pcap file format (global header, record headers), written little-endian. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "pcap_out.h"

/* The largest frame a record carries: a vsock packet's payload is at most 64 KiB, plus headers. */
#define PCAP_RECORD_MAX (PCAP_RECORD_HEADER_LEN + 65536 + 256)

static void put_le16(uint8_t *to, uint16_t value)
{
	to[0] = value & 0xff;
	to[1] = value >> 8;
}

static void put_le32(uint8_t *to, uint32_t value)
{
	put_le16(to, value & 0xffff);
	put_le16(to + 2, value >> 16);
}

static int write_all(int fd, const uint8_t *data, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, data, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

int pcap_out_header(int fd, uint32_t snaplen)
{
	uint8_t header[PCAP_FILE_HEADER_LEN] = { 0 };

	put_le32(header, PCAP_MAGIC_NSEC);
	put_le16(header + 4, 2);	/* version 2.4 */
	put_le16(header + 6, 4);
	/* thiszone and sigfigs stay 0 */
	put_le32(header + 16, snaplen);
	put_le32(header + 20, PCAP_LINKTYPE_VSOCK);
	return write_all(fd, header, sizeof(header));
}

int pcap_out_record(int fd, const struct timespec *when, const void *frame, size_t captured,
		    size_t orig_len)
{
	static uint8_t record[PCAP_RECORD_MAX];

	if (captured > sizeof(record) - PCAP_RECORD_HEADER_LEN || captured > orig_len ||
	    orig_len > UINT32_MAX)
		return -EINVAL;
	put_le32(record, (uint32_t)when->tv_sec);
	put_le32(record + 4, (uint32_t)when->tv_nsec);
	put_le32(record + 8, (uint32_t)captured);
	put_le32(record + 12, (uint32_t)orig_len);
	memcpy(record + PCAP_RECORD_HEADER_LEN, frame, captured);
	return write_all(fd, record, PCAP_RECORD_HEADER_LEN + captured);
}
