/* unit_pcap.c: the pcap writer's bytes, record by record; captures go to memfds, not to disk. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "vsc.h"
#include "vu_pcap.h"

#define FILE_HEADER 24
#define RECORD_HEADER 16
#define MON_HEADER 32
#define VIRTIO_HEADER 44

/* A memfd and the path that opens it again, so vu_pcap_open() writes where we can read. */
struct capture {
	int fd;
	char path[64];
	uint8_t bytes[4096];
	size_t size;
};

static void capture_init(struct capture *c)
{
	c->fd = SAFE(memfd_create("pcap", 0));
	snprintf(c->path, sizeof(c->path), "/proc/self/fd/%d", c->fd);
}

static void capture_load(struct capture *c)
{
	c->size = (size_t)SAFE(pread(c->fd, c->bytes, sizeof(c->bytes), 0));
}

static uint64_t le(const uint8_t *p, int bytes)
{
	uint64_t v = 0;

	while (bytes--)
		v = v << 8 | p[bytes];
	return v;
}

static struct vu_vsock_hdr packet(uint16_t op, uint32_t len)
{
	return (struct vu_vsock_hdr){ .src_cid = 3, .dst_cid = 2, .src_port = 1024 + op,
				      .dst_port = 0x12345678, .len = len, .type = VU_TYPE_STREAM,
				      .op = op, .flags = 0x5a, .buf_alloc = 65536, .fwd_cnt = 7 };
}

/*
 * Checks the record at `*at`: its lengths, the vsockmon header derived from `hdr`, the virtio
 * header verbatim, then `payload`; moves `*at` past it.
 */
static void expect_record(const struct capture *c, size_t *at, const struct vu_vsock_hdr *hdr,
			  uint16_t mon_op, const void *payload, size_t payload_len)
{
	const uint8_t *r = c->bytes + *at, *mon = r + RECORD_HEADER;
	size_t body = MON_HEADER + VIRTIO_HEADER + payload_len;

	ASSERT_TRUE(*at + RECORD_HEADER + body <= c->size);
	EXPECT_EQ(le(r + 8, 4), body);		/* incl_len */
	EXPECT_EQ(le(r + 12, 4), body);		/* orig_len */
	EXPECT_EQ(le(mon, 8), hdr->src_cid);
	EXPECT_EQ(le(mon + 8, 8), hdr->dst_cid);
	EXPECT_EQ(le(mon + 16, 4), hdr->src_port);
	EXPECT_EQ(le(mon + 20, 4), hdr->dst_port);
	EXPECT_EQ(le(mon + 24, 2), mon_op);
	EXPECT_EQ(le(mon + 26, 2), 2);		/* AF_VSOCK_TRANSPORT_VIRTIO */
	EXPECT_EQ(le(mon + 28, 2), VIRTIO_HEADER);
	EXPECT_EQ(le(mon + 30, 2), 0);		/* reserved */
	EXPECT_TRUE(memcmp(mon + MON_HEADER, hdr, VIRTIO_HEADER) == 0);
	EXPECT_TRUE(memcmp(mon + MON_HEADER + VIRTIO_HEADER, payload, payload_len) == 0);
	*at += RECORD_HEADER + body;
}

static void every_op(const struct vsc_env *env)
{
	/* virtio op -> vsockmon op, as virtio_transport_build_skb() maps them */
	static const uint16_t ops[][2] = {
		{ VU_OP_REQUEST, 1 }, { VU_OP_RESPONSE, 1 }, { VU_OP_RST, 2 },
		{ VU_OP_SHUTDOWN, 2 }, { VU_OP_CREDIT_UPDATE, 3 }, { VU_OP_CREDIT_REQUEST, 3 },
		{ VU_OP_RW, 4 }, { VU_OP_INVALID, 0 }, { 99, 0 },
	};
	struct capture c;
	struct vu_pcap *p;
	char error[256];
	size_t at = FILE_HEADER, i;

	(void)env;
	capture_init(&c);
	p = vu_pcap_open(c.path, error, sizeof(error));
	ASSERT_TRUE(p != NULL);
	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		struct vu_vsock_hdr hdr = packet(ops[i][0], 0);

		vu_pcap_packet(p, &hdr, NULL, 0, 0);
	}
	vu_pcap_close(p);
	capture_load(&c);
	/* magic (microseconds), 2.4, zone 0, sigfigs 0, snaplen, LINKTYPE_VSOCK */
	EXPECT_EQ(le(c.bytes, 4), 0xa1b2c3d4u);
	EXPECT_EQ(le(c.bytes + 4, 2), 2);
	EXPECT_EQ(le(c.bytes + 6, 2), 4);
	EXPECT_EQ(le(c.bytes + 8, 8), 0);
	EXPECT_TRUE(le(c.bytes + 16, 4) >= 65535 + MON_HEADER + VIRTIO_HEADER);
	EXPECT_EQ(le(c.bytes + 20, 4), 271);
	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		struct vu_vsock_hdr hdr = packet(ops[i][0], 0);

		expect_record(&c, &at, &hdr, ops[i][1], "", 0);
	}
	EXPECT_EQ(at, c.size);
	SAFE(close(c.fd));
}
VSC_CASE(vu_pcap_every_op, .summary = "pcap file header, and each virtio op under its vsockmon op",
	 .run = every_op);

static void payloads(const struct vsc_env *env)
{
	char part1[] = "hello ", part2[] = "vsock", part3[] = " world!";
	struct iovec iov[3] = { { part1, 6 }, { part2, 5 }, { part3, 7 } };
	struct vu_vsock_hdr rw = packet(VU_OP_RW, 18), empty = packet(VU_OP_RW, 0);
	struct vu_vsock_hdr liar = packet(VU_OP_RW, 60000);
	struct capture c;
	struct vu_pcap *p;
	char error[256];
	size_t at = FILE_HEADER;

	(void)env;
	capture_init(&c);
	p = vu_pcap_open(c.path, error, sizeof(error));
	ASSERT_TRUE(p != NULL);
	vu_pcap_packet(p, &rw, iov, 3, 18);		/* gathered across three iovecs */
	vu_pcap_packet(p, &rw, iov, 3, 9);		/* the iovecs hold more than the payload */
	vu_pcap_packet(p, &empty, iov, 3, 0);		/* no payload, iovecs or not */
	vu_pcap_packet(p, &liar, iov, 2, 60000);	/* claims 60000 bytes, has 11 */
	vu_pcap_close(p);
	capture_load(&c);
	expect_record(&c, &at, &rw, 4, "hello vsock world!", 18);
	expect_record(&c, &at, &rw, 4, "hello vso", 9);
	expect_record(&c, &at, &empty, 4, "", 0);
	expect_record(&c, &at, &liar, 4, "hello vsock", 11);
	EXPECT_EQ(at, c.size);
	SAFE(close(c.fd));
}
VSC_CASE(vu_pcap_payloads, .summary = "payloads gathered from iovecs; only the bytes supplied are recorded",
	 .run = payloads);

static void null_and_unwritable(const struct vsc_env *env)
{
	struct vu_vsock_hdr hdr = packet(VU_OP_RW, 0);
	char error[256] = "";

	(void)env;
	/* The engine calls these without a capture. */
	vu_pcap_packet(NULL, &hdr, NULL, 0, 0);
	vu_pcap_close(NULL);
	EXPECT_TRUE(vu_pcap_open("/nonexistent-dir/x.pcap", error, sizeof(error)) == NULL);
	EXPECT_TRUE(strstr(error, "/nonexistent-dir/x.pcap") != NULL);
	EXPECT_TRUE(strstr(error, "No such file or directory") != NULL);
	/* The file header itself cannot be written. */
	EXPECT_TRUE(vu_pcap_open("/dev/full", error, sizeof(error)) == NULL);
	EXPECT_TRUE(strstr(error, "No space left on device") != NULL);
}
VSC_CASE(vu_pcap_null_and_unwritable, .summary = "a NULL capture does nothing; unwritable paths are named",
	 .run = null_and_unwritable);

/*
 * A file size limit that falls inside the third record: the write comes up short, the partial
 * record is cut away, the failure is reported once, and later packets are not written.
 */
static void short_write(const struct vsc_env *env)
{
	char payload[100], report[1024] = "";
	struct iovec iov = { payload, sizeof(payload) };
	struct vu_vsock_hdr hdr = packet(VU_OP_RW, sizeof(payload));
	size_t record = RECORD_HEADER + MON_HEADER + VIRTIO_HEADER + sizeof(payload), at, i;
	struct rlimit limit = { FILE_HEADER + 2 * record + 50, RLIM_INFINITY };
	int err_fd = SAFE(memfd_create("stderr", 0)), saved_stderr = SAFE(dup(2));
	struct capture c;
	struct vu_pcap *p;
	char error[256];

	(void)env;
	memset(payload, 'x', sizeof(payload));
	capture_init(&c);
	p = vu_pcap_open(c.path, error, sizeof(error));
	ASSERT_TRUE(p != NULL);
	signal(SIGXFSZ, SIG_IGN);	/* a write past the limit then fails with EFBIG */
	SAFE(setrlimit(RLIMIT_FSIZE, &limit));
	SAFE(dup2(err_fd, 2));
	for (i = 0; i < 5; i++)
		vu_pcap_packet(p, &hdr, &iov, 1, sizeof(payload));
	vu_pcap_close(p);
	SAFE(dup2(saved_stderr, 2));
	SAFE(pread(err_fd, report, sizeof(report) - 1, 0));
	capture_load(&c);
	EXPECT_EQ(c.size, FILE_HEADER + 2 * record);
	at = FILE_HEADER;
	expect_record(&c, &at, &hdr, 4, payload, sizeof(payload));
	expect_record(&c, &at, &hdr, 4, payload, sizeof(payload));
	EXPECT_TRUE(strstr(report, "write failed after 2 packets: File too large") != NULL);
	/* one line, however many packets came after the failure */
	EXPECT_TRUE(strchr(report, '\n') == report + strlen(report) - 1);
	SAFE(close(err_fd));
	SAFE(close(c.fd));
}
VSC_CASE(vu_pcap_short_write, .summary = "a write cut short leaves only whole records, reported once",
	 .run = short_write);
