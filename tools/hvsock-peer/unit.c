/* unit.c: hvp's pure parts (GUID <-> port, packet framing, ring sizing), on the build machine. */
#include <string.h>

#include "vsc.h"
#include "hvp.h"

static void guid_port(const struct vsc_env *env)
{
	struct vsim_guid g;
	uint32_t port = 0;

	(void)env;
	hvp_port_guid(80, &g);
	EXPECT_EQ(g.b[0], 0x50);	/* Data1 little-endian in memory */
	EXPECT_EQ(g.b[4], 0xcb);	/* facb, little-endian */
	ASSERT_EQ(hvp_guid_port(&g, &port), 0);
	EXPECT_EQ(port, 80);
	hvp_port_guid(0x80000001u, &g);
	EXPECT_EQ(g.b[3], 0x80);
	EXPECT_EQ(g.b[0], 0x01);
	ASSERT_EQ(hvp_guid_port(&g, &port), 0);
	EXPECT_EQ(port, 0x80000001u);
	/* Off the template (one byte of Data4 changed): not a vsock port. */
	g.b[15] ^= 1;
	EXPECT_EQ(hvp_guid_port(&g, &port), -1);
}
VSC_CASE(hvp_guid_port, .summary = "vsock ports map to hv_sock service GUIDs and back; others are not ports",
	 .run = guid_port);

static void framing(const struct vsc_env *env)
{
	uint8_t pkt[64];
	const char *why;
	int n;

	(void)env;
	EXPECT_EQ(hvp_pkt_ring_len(0), 32);
	EXPECT_EQ(hvp_pkt_ring_len(1), 40);
	EXPECT_EQ(hvp_pkt_ring_len(HVP_SEND_CHUNK), 16 + 8 + 4088 + 8);
	n = hvp_frame_raw(pkt, sizeof(pkt), 5, "hello", 5);
	ASSERT_EQ(n, 32);
	EXPECT_EQ(pkt[0], HVP_PKT_DATA_INBAND);
	EXPECT_EQ(pkt[2], 2);		/* offset8 */
	EXPECT_EQ(pkt[4], 4);		/* len8 */
	EXPECT_EQ(hvp_check_raw(pkt, (size_t)n, &why), 5);
	EXPECT_TRUE(memcmp(pkt + 24, "hello\0\0\0", 8) == 0);
	/* FIN: a zero-length payload. */
	n = hvp_frame_raw(pkt, sizeof(pkt), 0, NULL, 0);
	ASSERT_EQ(n, 24);
	EXPECT_EQ(hvp_check_raw(pkt, (size_t)n, &why), 0);
	/* data_size larger than the packet: what validating kernels refuse with -EIO. */
	n = hvp_frame_raw(pkt, sizeof(pkt), 64, "ABCDEFGH", 8);
	ASSERT_EQ(n, 32);
	EXPECT_EQ(hvp_check_raw(pkt, (size_t)n, &why), -1);
	EXPECT_TRUE(why && strstr(why, "data_size"));
	EXPECT_EQ(hvp_frame_raw(pkt, 16, 0, NULL, 0), -1);
	EXPECT_EQ(hvp_frame_raw(pkt, sizeof(pkt), 0, NULL, HVP_RAW_MAX + 1), -1);
	n = hvp_frame_raw(pkt, sizeof(pkt), 0, NULL, 0);
	pkt[4] = 1;	/* len8 shorter than the descriptor's offset */
	EXPECT_EQ(hvp_check_raw(pkt, (size_t)n, &why), -1);
}
VSC_CASE(hvp_framing, .summary = "raw hv_sock packets frame like vmbus_sendpacket and fail the kernel's length checks",
	 .run = framing);

static void ring_bounds(const struct vsc_env *env)
{
	uint32_t lo, hi;

	(void)env;
	hvp_ring_bounds(HVP_PROTO_WIN10, 1 << 20, &lo, &hi);
	EXPECT_EQ(lo, 5 * 4096);
	EXPECT_EQ(hi, 5 * 4096);
	hvp_ring_bounds(HVP_PROTO_WIN10_V5, 0, &lo, &hi);	/* clamped up to 6 pages */
	EXPECT_EQ(lo, 5 * 4096);
	EXPECT_EQ(hi, 6 * 4096);
	hvp_ring_bounds(HVP_PROTO_WIN10_V5, 80000, &lo, &hi);
	EXPECT_EQ(lo, 19 * 4096);
	EXPECT_EQ(hi, 20 * 4096);
	hvp_ring_bounds(0x50002, 1 << 30, &lo, &hi);		/* clamped down to 64 pages */
	EXPECT_EQ(lo, 63 * 4096);
	EXPECT_EQ(hi, 64 * 4096);
}
VSC_CASE(hvp_ring_bounds, .summary = "ring sizes follow SO_SNDBUF/SO_RCVBUF from WIN10_V5 on, fixed before",
	 .run = ring_bounds);
