/*
 * vu_pcap.c: writes each packet as a pcap record of link type LINKTYPE_VSOCK (271), the layout
 * of the kernel's vsockmon device: struct af_vsockmon_hdr, the virtio header, the payload.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/vsockmon.h>

#include "vu_pcap.h"

#define PCAP_MAGIC 0xa1b2c3d4u		/* microsecond timestamps */
#define PCAP_LINKTYPE_VSOCK 271u	/* DLT_VSOCK; the kernel's ARPHRD_VSOCKMON (826) */
/* The largest virtio-vsock packet is 64 KiB of payload; leave room above it. */
#define PCAP_SNAPLEN 262144u
#define RECORD_HEADERS (sizeof(struct af_vsockmon_hdr) + sizeof(struct vu_vsock_hdr))
/* Three iovecs carry the headers; the rest the payload's pieces. */
#define PAYLOAD_SLICES_MAX (IOV_MAX - 3)

struct pcap_file_header {
	uint32_t magic;
	uint16_t version_major, version_minor;
	int32_t thiszone;
	uint32_t sigfigs;
	uint32_t snaplen;
	uint32_t linktype;
} __attribute__((packed));

struct pcap_record_header {
	uint32_t ts_sec, ts_usec;
	uint32_t incl_len;	/* bytes that follow in the file */
	uint32_t orig_len;	/* bytes the packet had */
} __attribute__((packed));

struct vu_pcap {
	int fd;
	char *path;
	off_t size;		/* bytes of the header and of every whole record written */
	unsigned long records;
	int failed;		/* a write failed and was reported: capture has stopped */
	struct iovec slices[IOV_MAX];
};

_Static_assert(sizeof(struct af_vsockmon_hdr) == 32, "vsockmon header is 32 bytes");
_Static_assert(sizeof(struct vu_vsock_hdr) == 44, "virtio vsock header is 44 bytes");

/* Writes all of `v` (resuming after short writes); 0, or -1 with errno. */
static int write_all(int fd, struct iovec *v, int n)
{
	while (n > 0) {
		ssize_t done = writev(fd, v, n);

		if (done < 0 && errno == EINTR)
			continue;
		if (done < 0)
			return -1;
		if (done == 0) {
			errno = EIO;
			return -1;
		}
		while (n > 0 && (size_t)done >= v->iov_len) {
			done -= (ssize_t)v->iov_len;
			v++;
			n--;
		}
		if (n > 0) {
			v->iov_base = (char *)v->iov_base + done;
			v->iov_len -= (size_t)done;
		}
	}
	return 0;
}

struct vu_pcap *vu_pcap_open(const char *path, char *error, size_t error_size)
{
	struct pcap_file_header fh = {
		.magic = htole32(PCAP_MAGIC),
		.version_major = htole16(2),
		.version_minor = htole16(4),
		.snaplen = htole32(PCAP_SNAPLEN),
		.linktype = htole32(PCAP_LINKTYPE_VSOCK),
	};
	struct iovec v = { &fh, sizeof(fh) };
	struct vu_pcap *p = calloc(1, sizeof(*p));

	if (!p || !(p->path = strdup(path))) {
		snprintf(error, error_size, "--pcap %s: out of memory", path);
		free(p);
		return NULL;
	}
	p->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (p->fd < 0 || write_all(p->fd, &v, 1) < 0) {
		snprintf(error, error_size, "--pcap %s: %s", path, strerror(errno));
		if (p->fd >= 0)
			close(p->fd);
		free(p->path);
		free(p);
		return NULL;
	}
	p->size = (off_t)sizeof(fh);
	return p;
}

/* The vsockmon op of a virtio op, as virtio_transport_build_skb() maps it. */
static uint16_t monitor_op(uint16_t virtio_op)
{
	switch (virtio_op) {
	case VU_OP_REQUEST:
	case VU_OP_RESPONSE:
		return AF_VSOCK_OP_CONNECT;
	case VU_OP_RST:
	case VU_OP_SHUTDOWN:
		return AF_VSOCK_OP_DISCONNECT;
	case VU_OP_RW:
		return AF_VSOCK_OP_PAYLOAD;
	case VU_OP_CREDIT_UPDATE:
	case VU_OP_CREDIT_REQUEST:
		return AF_VSOCK_OP_CONTROL;
	default:
		return AF_VSOCK_OP_UNKNOWN;
	}
}

/* Stops the capture at the last whole record, and says so once. */
static void stop_capture(struct vu_pcap *p, int err)
{
	p->failed = 1;
	if (ftruncate(p->fd, p->size) < 0)
		fprintf(stderr, "vhost-user-vsock: pcap %s: cannot cut a partial record: %s\n",
			p->path, strerror(errno));
	fprintf(stderr, "vhost-user-vsock: pcap %s: write failed after %lu packets: %s; "
		"capture stopped\n", p->path, p->records, strerror(err));
}

void vu_pcap_packet(struct vu_pcap *p, const struct vu_vsock_hdr *hdr,
		    const struct iovec *iov, int iovcnt, size_t payload_len)
{
	struct pcap_record_header rh;
	struct af_vsockmon_hdr mon;
	struct timespec now;
	size_t available = 0, recorded = 0, wanted;
	int i, n = 3;

	if (!p || p->failed)
		return;
	/* The header's `len` is the guest's claim; the record holds the bytes we were given. */
	for (i = 0; i < iovcnt && available < payload_len; i++) {
		size_t take = iov[i].iov_len;

		if (take > payload_len - available)
			take = payload_len - available;
		available += take;
		/* Past the snap length or the iovec limit the record is cut, as pcap allows. */
		if (take > PCAP_SNAPLEN - RECORD_HEADERS - recorded)
			take = PCAP_SNAPLEN - RECORD_HEADERS - recorded;
		if (take && n < 3 + PAYLOAD_SLICES_MAX) {
			p->slices[n++] = (struct iovec){ iov[i].iov_base, take };
			recorded += take;
		}
	}
	wanted = RECORD_HEADERS + recorded;

	memset(&mon, 0, sizeof(mon));
	/* Both headers are little-endian: the addresses are copied as they are. */
	mon.src_cid = hdr->src_cid;
	mon.dst_cid = hdr->dst_cid;
	mon.src_port = hdr->src_port;
	mon.dst_port = hdr->dst_port;
	mon.op = htole16(monitor_op(le16toh(hdr->op)));
	mon.transport = htole16(AF_VSOCK_TRANSPORT_VIRTIO);
	mon.len = htole16(sizeof(*hdr));

	clock_gettime(CLOCK_REALTIME, &now);
	rh.ts_sec = htole32((uint32_t)now.tv_sec);
	rh.ts_usec = htole32((uint32_t)(now.tv_nsec / 1000));
	rh.incl_len = htole32((uint32_t)wanted);
	rh.orig_len = htole32((uint32_t)(RECORD_HEADERS + available));

	p->slices[0] = (struct iovec){ &rh, sizeof(rh) };
	p->slices[1] = (struct iovec){ &mon, sizeof(mon) };
	p->slices[2] = (struct iovec){ (void *)hdr, sizeof(*hdr) };
	/*
	 * Plain write(2), no stdio buffer: once it returns, the record is in the file even if the
	 * backend is killed the next moment.
	 */
	if (write_all(p->fd, p->slices, n) < 0) {
		stop_capture(p, errno);
		return;
	}
	p->size += (off_t)(sizeof(rh) + wanted);
	p->records++;
}

void vu_pcap_close(struct vu_pcap *p)
{
	if (!p)
		return;
	if (close(p->fd) < 0 && !p->failed)
		fprintf(stderr, "vhost-user-vsock: pcap %s: close: %s\n", p->path, strerror(errno));
	free(p->path);
	free(p);
}
