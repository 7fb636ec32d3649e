/* unit_tests.c: the backend's protocol framing, memory translation and device handlers, on the
 * build machine (socketpairs and memfds stand in for QEMU; no vsock socket is opened). The
 * queue layer's cases are in unit_queue.c. */
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vsc.h"
#include "vu_device.h"
#include "vu_bridge.h"
#include "vu_credit.h"
#include "vu_queue.h"

/* Sends a request as QEMU would: header, payload, and optionally one descriptor. */
static void send_request(int sock, uint32_t request, const void *payload, uint32_t size, int fd)
{
	struct vu_header hdr = { request, VU_FLAG_VERSION, size };
	char control[CMSG_SPACE(sizeof(int))];
	struct iovec iov[2] = { { &hdr, sizeof(hdr) }, { (void *)payload, size } };
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = size ? 2 : 1 };

	if (fd >= 0) {
		struct cmsghdr *cmsg;

		mh.msg_control = control;
		mh.msg_controllen = sizeof(control);
		cmsg = CMSG_FIRSTHDR(&mh);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
	}
	SAFE(sendmsg(sock, &mh, 0));
}

static int handle_one(struct vu_device *dev, int backend, char *error, size_t size)
{
	struct vu_msg msg;
	int ret = vu_msg_read(backend, &msg, error, size);

	if (ret <= 0)
		return -1;
	return vu_device_handle(dev, backend, &msg, error, size);
}

static void features_and_config(const struct vsc_env *env)
{
	struct vu_device dev;
	struct vu_header reply_hdr;
	struct vu_config config = { .offset = 0, .size = 8 };
	uint64_t value = 0;
	char error[256];
	int sv[2];

	(void)env;
	SAFE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	vu_device_init(&dev, 0x1234567890ull, 0);
	send_request(sv[0], VU_GET_FEATURES, NULL, 0, -1);
	ASSERT_EQ(handle_one(&dev, sv[1], error, sizeof(error)), 0);
	ASSERT_EQ(SAFE(read(sv[0], &reply_hdr, sizeof(reply_hdr))), sizeof(reply_hdr));
	/* QEMU insists on exactly version 1 | REPLY, and the request echoed. */
	EXPECT_EQ(reply_hdr.flags, VU_FLAG_VERSION | VU_FLAG_REPLY);
	EXPECT_EQ(reply_hdr.request, VU_GET_FEATURES);
	EXPECT_EQ(reply_hdr.size, 8);
	ASSERT_EQ(SAFE(read(sv[0], &value, sizeof(value))), 8);
	EXPECT_EQ(value, VU_F_VERSION_1 | VU_F_PROTOCOL_FEATURES | VU_F_INDIRECT_DESC | VU_F_EVENT_IDX |
			 VU_VSOCK_F_SEQPACKET);

	send_request(sv[0], VU_GET_CONFIG, &config, 12 + 8, -1);
	ASSERT_EQ(handle_one(&dev, sv[1], error, sizeof(error)), 0);
	ASSERT_EQ(SAFE(read(sv[0], &reply_hdr, sizeof(reply_hdr))), sizeof(reply_hdr));
	EXPECT_EQ(reply_hdr.size, 20);
	ASSERT_EQ(SAFE(read(sv[0], &config, 20)), 20);
	memcpy(&value, config.region, 8);
	EXPECT_EQ(value, 0x1234567890ull);	/* little-endian on x86, as virtio wants */

	/* A read past the 8-byte config space is refused, not served from beyond it. */
	config.offset = 4;
	config.size = 8;
	send_request(sv[0], VU_GET_CONFIG, &config, 12 + 8, -1);
	EXPECT_EQ(handle_one(&dev, sv[1], error, sizeof(error)), -1);
	EXPECT_TRUE(strstr(error, "outside the 8-byte config space") != NULL);
	/* Acking a feature we never offered (VIRTIO_F_ACCESS_PLATFORM) is an error. */
	value = 1ull << 33;
	send_request(sv[0], VU_SET_FEATURES, &value, 8, -1);
	EXPECT_EQ(handle_one(&dev, sv[1], error, sizeof(error)), -1);
	vu_device_reset(&dev);
	SAFE(close(sv[0]));
	SAFE(close(sv[1]));
}
VSC_CASE(vu_features_and_config, .summary = "GET_FEATURES and GET_CONFIG replies; bad requests refused",
	 .run = features_and_config);

static void malformed_headers(const struct vsc_env *env)
{
	struct vu_header bad = { VU_GET_FEATURES, 0x2, 0 };
	struct vu_header huge = { VU_SET_MEM_TABLE, VU_FLAG_VERSION, 1u << 20 };
	struct vu_msg msg;
	char error[256];
	int sv[2];

	(void)env;
	SAFE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	SAFE(write(sv[0], &bad, sizeof(bad)));
	EXPECT_EQ(vu_msg_read(sv[1], &msg, error, sizeof(error)), -1);
	EXPECT_TRUE(strstr(error, "bad header") != NULL);
	SAFE(write(sv[0], &huge, sizeof(huge)));
	EXPECT_EQ(vu_msg_read(sv[1], &msg, error, sizeof(error)), -1);
	/* Half a header, then the peer hangs up. */
	SAFE(write(sv[0], &bad, 5));
	SAFE(close(sv[0]));
	EXPECT_EQ(vu_msg_read(sv[1], &msg, error, sizeof(error)), -1);
	EXPECT_EQ(vu_msg_read(sv[1], &msg, error, sizeof(error)), 0);
	SAFE(close(sv[1]));
}
VSC_CASE(vu_malformed_headers, .summary = "wrong version bits, oversized and cut headers are refused",
	 .run = malformed_headers);

static void memory_translation(const struct vsc_env *env)
{
	struct vu_mem_table table = { .nregions = 1 };
	struct vu_device dev;
	char error[256];
	uint8_t *host;
	int sv[2], fd = SAFE(memfd_create("guest", 0));

	(void)env;
	SAFE(ftruncate(fd, 2 * 4096));
	table.regions[0] = (struct vu_region){ .guest_phys_addr = 0x10000, .memory_size = 4096,
					       .userspace_addr = 0x7f0000000000ull,
					       .mmap_offset = 4096 };
	SAFE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	vu_device_init(&dev, 3, 0);
	send_request(sv[0], VU_SET_MEM_TABLE, &table, 8 + sizeof(struct vu_region), fd);
	ASSERT_EQ(handle_one(&dev, sv[1], error, sizeof(error)), 0);
	host = vu_mem_gpa(&dev.mem, 0x10000, 4096);
	ASSERT_TRUE(host != NULL);
	/* The region starts mmap_offset bytes into the fd. */
	SAFE(pwrite(fd, "marker", 6, 4096));
	EXPECT_TRUE(memcmp(host, "marker", 6) == 0);
	EXPECT_TRUE(vu_mem_uva(&dev.mem, 0x7f0000000000ull + 10, 6) == host + 10);
	/* One byte past the end, before the start, and a length that wraps: all refused. */
	EXPECT_TRUE(vu_mem_gpa(&dev.mem, 0x10000 + 1, 4096) == NULL);
	EXPECT_TRUE(vu_mem_gpa(&dev.mem, 0xffff, 2) == NULL);
	EXPECT_TRUE(vu_mem_gpa(&dev.mem, 0x10000, UINT64_MAX) == NULL);
	EXPECT_TRUE(vu_mem_gpa(&dev.mem, UINT64_MAX, 2) == NULL);
	/* A region whose end wraps around is refused at SET_MEM_TABLE. */
	table.regions[0].guest_phys_addr = UINT64_MAX - 100;
	send_request(sv[0], VU_SET_MEM_TABLE, &table, 8 + sizeof(struct vu_region), fd);
	EXPECT_EQ(handle_one(&dev, sv[1], error, sizeof(error)), -1);
	EXPECT_TRUE(strstr(error, "wraps") != NULL);
	vu_device_reset(&dev);
	SAFE(close(fd));
	SAFE(close(sv[0]));
	SAFE(close(sv[1]));
}
VSC_CASE(vu_memory_translation, .summary = "guest addresses translate only inside a mapped region",
	 .run = memory_translation);

static void ring_checks(const struct vsc_env *env)
{
	struct vu_vring_state bad_num = { 0, 100 }, bad_index = { 7, 256 }, num = { 0, 256 };
	struct vu_vring_addr addr = { .index = 0, .desc_uaddr = 0x1000, .avail_uaddr = 0x2000,
				      .used_uaddr = 0x3000 };
	struct vu_device dev;
	char error[256];
	int sv[2];

	(void)env;
	SAFE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	vu_device_init(&dev, 3, 0);
	send_request(sv[0], VU_SET_VRING_NUM, &bad_num, sizeof(bad_num), -1);
	EXPECT_EQ(handle_one(&dev, sv[1], error, sizeof(error)), -1);
	EXPECT_TRUE(strstr(error, "power of two") != NULL);
	send_request(sv[0], VU_SET_VRING_NUM, &bad_index, sizeof(bad_index), -1);
	EXPECT_EQ(handle_one(&dev, sv[1], error, sizeof(error)), -1);
	EXPECT_TRUE(strstr(error, "ring index out of range") != NULL);
	/* Ring addresses with no memory table behind them are refused. */
	send_request(sv[0], VU_SET_VRING_NUM, &num, sizeof(num), -1);
	EXPECT_EQ(handle_one(&dev, sv[1], error, sizeof(error)), 0);
	send_request(sv[0], VU_SET_VRING_ADDR, &addr, sizeof(addr), -1);
	EXPECT_EQ(handle_one(&dev, sv[1], error, sizeof(error)), -1);
	EXPECT_TRUE(strstr(error, "outside the memory table") != NULL);
	vu_device_reset(&dev);
	SAFE(close(sv[0]));
	SAFE(close(sv[1]));
}
VSC_CASE(vu_ring_checks, .summary = "ring sizes, indexes and addresses from QEMU are validated",
	 .run = ring_checks);

static void connect_lines(const struct vsc_env *env)
{
	static const char *const bad[] = {
		"CONNECT\n", "CONNECT \n", "CONNECT 12a\n", "CONNECT -1\n", "CONNECT 4294967296\n",
		"CONNECTX 1\n", "CONNEC 1\n", "CONNECT 1", "CONNECT 1\r\n", " CONNECT 1\n",
		"CONNECT 1 \n", "CONNECT 000000000000000000000000001\n",
	};
	uint32_t port = 0;
	size_t i;

	(void)env;
	EXPECT_EQ(vu_connect_line_parse("CONNECT 1234\n", 13, &port), 1);
	EXPECT_EQ(port, 1234);
	EXPECT_EQ(vu_connect_line_parse("connect 5\n", 10, &port), 1);
	EXPECT_EQ(port, 5);
	EXPECT_EQ(vu_connect_line_parse("CoNnEcT   4294967295\n", 21, &port), 1);
	EXPECT_EQ(port, 4294967295u);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (vu_connect_line_parse(bad[i], strlen(bad[i]), &port))
			vsc_fail_at(__FILE__, __LINE__, "accepted the line \"%s\"", bad[i]);
}
VSC_CASE(vu_connect_lines, .summary = "CONNECT <port> lines: case-insensitive, 32 bytes at most, malformed refused",
	 .run = connect_lines);

/* in_use() for the allocator: a small set of taken ports. */
static int taken_port(void *ctx, uint32_t port)
{
	const uint32_t *taken = ctx;
	int i;

	for (i = 0; taken[i]; i++)
		if (taken[i] == port)
			return 1;
	return 0;
}

static void host_ports(const struct vsc_env *env)
{
	uint32_t none[] = { 0 };
	uint32_t some[] = { VU_HOST_PORT_FIRST + 1, VU_HOST_PORT_FIRST + 2, VU_HOST_PORT_FIRST, 0 };
	uint32_t cursor = VU_HOST_PORT_FIRST;

	(void)env;
	EXPECT_EQ(vu_host_port_next(&cursor, taken_port, none), VU_HOST_PORT_FIRST);
	EXPECT_EQ(vu_host_port_next(&cursor, taken_port, none), VU_HOST_PORT_FIRST + 1);
	/* Round-robin: a freed port is not reused until the cursor comes round; taken ones skipped. */
	cursor = VU_HOST_PORT_FIRST;
	EXPECT_EQ(vu_host_port_next(&cursor, taken_port, some), VU_HOST_PORT_FIRST + 3);
	/* The range ends below 2^31 and wraps to 2^30. */
	cursor = VU_HOST_PORT_END - 1;
	EXPECT_EQ(vu_host_port_next(&cursor, taken_port, none), VU_HOST_PORT_END - 1);
	EXPECT_EQ(vu_host_port_next(&cursor, taken_port, none), VU_HOST_PORT_FIRST);
	cursor = VU_HOST_PORT_END - 1;
	some[0] = VU_HOST_PORT_END - 1;
	EXPECT_EQ(vu_host_port_next(&cursor, taken_port, some), VU_HOST_PORT_FIRST + 1);
}
VSC_CASE(vu_host_ports, .summary = "bridged host ports: round-robin in [2^30, 2^31), in-use ones skipped",
	 .run = host_ports);

static void credit_arithmetic(const struct vsc_env *env)
{
	struct vu_credit c = { .peer_buf_alloc = 1000 };

	(void)env;
	EXPECT_EQ(vu_credit_peer_free(&c), 1000);
	c.tx_cnt = 600;
	EXPECT_EQ(vu_credit_peer_free(&c), 400);
	c.peer_fwd_cnt = 100;
	EXPECT_EQ(vu_credit_peer_free(&c), 500);
	/* The u32 counters wrap: only differences count. */
	c.tx_cnt = 0x100u;		/* sent 0x200 bytes past the wrap */
	c.peer_fwd_cnt = 0xffffff00u;
	EXPECT_EQ(vu_credit_peer_free(&c), 1000 - 0x200);
	/* A guest that shrank its buffer below what is in flight gets nothing, not 4 GiB. */
	c.peer_buf_alloc = 0x100;
	EXPECT_EQ(vu_credit_peer_free(&c), 0);

	/* Our side: the guest may send up to VU_BUF_ALLOC beyond what we wrote, across the wrap. */
	c.rx_cnt = 0x10u;
	c.fwd_cnt = 0xfffffff0u;	/* 0x20 bytes held */
	EXPECT_EQ(vu_credit_held(&c), 0x20);
	EXPECT_TRUE(vu_credit_accepts(&c, VU_BUF_ALLOC - 0x20));
	EXPECT_TRUE(!vu_credit_accepts(&c, VU_BUF_ALLOC - 0x1f));
	/* No update owed until the guest's view of our space is low and we have news for it. */
	c.last_fwd_cnt_sent = c.fwd_cnt;
	EXPECT_TRUE(!vu_credit_update_due(&c));
	c.rx_cnt = c.last_fwd_cnt_sent + VU_BUF_ALLOC - VU_CREDIT_UPDATE_BELOW + 1;
	c.fwd_cnt = c.rx_cnt;
	EXPECT_TRUE(vu_credit_update_due(&c));
	c.fwd_cnt = c.last_fwd_cnt_sent;	/* low, but nothing consumed: nothing to say */
	EXPECT_TRUE(!vu_credit_update_due(&c));
}
VSC_CASE(vu_credit_arithmetic, .summary = "credit both ways with u32 counters that wrap",
	 .run = credit_arithmetic);
