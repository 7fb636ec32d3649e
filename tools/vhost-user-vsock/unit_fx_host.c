/* unit_fx_host.c: engine 1's wire (fx_host_wire.c) on a fake guest: packets into the guest's
 * receive buffers as they allow, out of its tx ring, RSTs for what is left, and the refusals. */
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fx_host.h"
#include "unit_fake_guest.h"
#include "vsc.h"
#include "vu_packet.h"
#include "vu_vsock.h"

/* The fake guest's ring 0 is rx; tx (ring 1) goes into its free space. */
#define TX_DESC_AT 0x5000
#define TX_AVAIL_AT 0x6000
#define TX_USED_AT 0x7000

struct wire_rig {
	struct fake_guest g;
	struct fx_host host;
	struct fx_engine engine;
	uint16_t *tx_avail, *tx_used;
	char why[512];
};

static void rig_init(struct wire_rig *r, uint64_t features)
{
	struct vu_vring *tx;

	memset(r, 0, sizeof(*r));
	fake_guest_init(&r->g, features);
	tx = &r->g.dev.vrings[VU_VSOCK_TX];
	tx->num = RING_NUM;
	tx->desc = r->g.mem + TX_DESC_AT;
	tx->avail = r->g.mem + TX_AVAIL_AT;
	tx->used = r->g.mem + TX_USED_AT;
	tx->enabled = 1;
	r->tx_avail = tx->avail;
	r->tx_used = tx->used;
	r->host.dev = &r->g.dev;
	r->host.qemu_fd = -1;
	r->host.engine = &r->engine;
	r->engine.ops = &fx_host_wire_ops;
	r->engine.ctx = &r->host;
}

/* The guest puts a packet of `len` payload bytes on tx, in one descriptor at `addr`. */
static void tx_packet(struct wire_rig *r, unsigned int desc, uint64_t addr, uint16_t op,
		      uint32_t guest_port, uint32_t host_port, const char *payload)
{
	struct vu_vsock_hdr hdr = { .src_cid = 3, .dst_cid = VU_HOST_CID, .src_port = guest_port,
				    .dst_port = host_port, .type = VU_TYPE_STREAM, .op = op };

	hdr.len = payload ? (uint32_t)strlen(payload) : 0;
	memcpy(r->g.mem + addr, &hdr, sizeof(hdr));
	if (payload)
		memcpy(r->g.mem + addr + sizeof(hdr), payload, hdr.len);
	fake_desc(&r->g, TX_DESC_AT, desc, addr, sizeof(hdr) + hdr.len, 0, 0);
	r->tx_avail[2 + r->tx_avail[1] % RING_NUM] = (uint16_t)desc;
	r->tx_avail[1]++;
}

static uint32_t used_len(const uint16_t *used, unsigned int i)
{
	return ((const uint32_t *)(used + 2))[2 * i + 1];
}

static void send_into_rx(const struct vsc_env *env)
{
	struct vu_vsock_hdr hdr = { .src_cid = 2, .dst_cid = 3, .src_port = 5000, .dst_port = 1234,
				    .len = 5, .type = VU_TYPE_STREAM, .op = VU_OP_RW };
	static const uint32_t split[] = { 44, 5 }, wrong[] = { 40, 9 };
	struct wire_rig r;
	uint8_t bytes[200] = { 0 };

	(void)env;
	rig_init(&r, 0);
	memcpy(bytes, &hdr, sizeof(hdr));
	memcpy(bytes + sizeof(hdr), "hello", 5);
	/* A receive buffer as 5.10's driver posts them: the header, then the payload. */
	fake_desc(&r.g, DESC_AT, 0, 0x8000, 44, F_WRITE | F_NEXT, 1);
	fake_desc(&r.g, DESC_AT, 1, 0x9000, 100, F_WRITE, 0);
	fake_offer(&r.g, 0);
	EXPECT_EQ(r.engine.ops->send(r.engine.ctx, bytes, 49, wrong, 2, r.why, sizeof(r.why)), 1);
	EXPECT_TRUE(strstr(r.why, "[40, 9]") && strstr(r.why, "[44, 100]"));
	EXPECT_EQ(r.engine.ops->send(r.engine.ctx, bytes, sizeof(bytes), NULL, 0, r.why,
				     sizeof(r.why)), 1);
	EXPECT_TRUE(strstr(r.why, "does not fit") != NULL);
	EXPECT_EQ(r.g.used[1], 0);	/* the buffer is kept for the next packet */
	ASSERT_EQ(r.engine.ops->send(r.engine.ctx, bytes, 49, split, 2, r.why, sizeof(r.why)), 0);
	EXPECT_EQ(r.g.used[1], 1);
	EXPECT_EQ(used_len(r.g.used, 0), 49);
	EXPECT_TRUE(memcmp(r.g.mem + 0x8000, &hdr, sizeof(hdr)) == 0);
	EXPECT_TRUE(memcmp(r.g.mem + 0x9000, "hello", 5) == 0);
	vu_device_reset(&r.g.dev);
}
VSC_CASE(fx_host_send_into_rx,
	 .summary = "engine 1 writes a packet across the guest's receive buffers, SKIPs a layout they do not allow",
	 .run = send_into_rx);

static void recv_from_tx(const struct vsc_env *env)
{
	static struct fx_packet pkt;
	struct wire_rig r;

	(void)env;
	rig_init(&r, 0);
	EXPECT_EQ(r.engine.ops->recv(r.engine.ctx, &pkt, vu_now_ms() + 20, r.why, sizeof(r.why)), 0);
	tx_packet(&r, 0, 0xa000, VU_OP_RW, 1234, 5000, "world");
	ASSERT_EQ(r.engine.ops->recv(r.engine.ctx, &pkt, vu_now_ms() + 20, r.why, sizeof(r.why)), 1);
	EXPECT_EQ(pkt.len, 49);
	EXPECT_EQ(pkt.n_buffers, 1);
	EXPECT_TRUE(memcmp(pkt.bytes + 44, "world", 5) == 0);
	EXPECT_EQ(r.tx_used[1], 1);	/* returned to the guest */
	vu_device_reset(&r.g.dev);
}
VSC_CASE(fx_host_recv_from_tx,
	 .summary = "engine 1 takes the guest's next tx packet, or none by the deadline",
	 .run = recv_from_tx);

static void end_answers_rst(const struct vsc_env *env)
{
	struct vu_vsock_hdr rst;
	struct wire_rig r;

	(void)env;
	rig_init(&r, 0);
	fake_desc(&r.g, DESC_AT, 2, 0xc000, 64, F_WRITE, 0);
	fake_offer(&r.g, 2);
	tx_packet(&r, 0, 0xa000, VU_OP_SHUTDOWN, 1234, 5000, NULL);
	tx_packet(&r, 1, 0xb000, VU_OP_RST, 1235, 5001, NULL);
	r.engine.ops->end(r.engine.ctx);
	EXPECT_EQ(r.tx_used[1], 2);
	ASSERT_EQ(r.g.used[1], 1);	/* one RST: the RST is not answered */
	EXPECT_EQ(used_len(r.g.used, 0), 44);
	memcpy(&rst, r.g.mem + 0xc000, sizeof(rst));
	EXPECT_EQ(rst.op, VU_OP_RST);
	EXPECT_EQ(rst.src_cid, 2);
	EXPECT_EQ(rst.dst_cid, 3);
	EXPECT_EQ(rst.src_port, 5000);
	EXPECT_EQ(rst.dst_port, 1234);
	EXPECT_EQ(rst.type, VU_TYPE_STREAM);
	vu_device_reset(&r.g.dev);
}
VSC_CASE(fx_host_end_answers_rst,
	 .summary = "engine 1's end() answers what the kernel still sends with RST, never an RST",
	 .run = end_answers_rst);

static void begin_and_acts(const struct vsc_env *env)
{
	struct fx_device_needs seq = { .seqpacket = 1 }, noseq = { .seqpacket = 0 },
			       any = { .seqpacket = -1 };
	struct wire_rig r;

	(void)env;
	rig_init(&r, 0);
	EXPECT_EQ(r.engine.ops->begin(r.engine.ctx, &seq, r.why, sizeof(r.why)), 1);
	EXPECT_TRUE(strstr(r.why, "SEQPACKET") != NULL);
	EXPECT_EQ(r.engine.ops->begin(r.engine.ctx, &noseq, r.why, sizeof(r.why)), 0);
	EXPECT_EQ(r.engine.ops->act(r.engine.ctx, "transport_reset", 0, r.why, sizeof(r.why)),
		  FX_ACT_UNSUPPORTED);
	EXPECT_TRUE(strstr(r.why, "event queue") != NULL);
	EXPECT_EQ(r.engine.ops->act(r.engine.ctx, "device_stop", 0, r.why, sizeof(r.why)),
		  FX_ACT_UNSUPPORTED);
	r.g.dev.vrings[VU_VSOCK_TX].enabled = 0;
	EXPECT_EQ(r.engine.ops->begin(r.engine.ctx, &any, r.why, sizeof(r.why)), -1);
	vu_device_reset(&r.g.dev);

	rig_init(&r, VU_VSOCK_F_SEQPACKET);
	EXPECT_EQ(r.engine.ops->begin(r.engine.ctx, &noseq, r.why, sizeof(r.why)), 1);
	EXPECT_EQ(r.engine.ops->begin(r.engine.ctx, &any, r.why, sizeof(r.why)), 0);
	EXPECT_EQ(r.engine.features, VU_VSOCK_F_SEQPACKET);
	vu_device_reset(&r.g.dev);
}
VSC_CASE(fx_host_begin_and_acts,
	 .summary = "engine 1's begin() SKIPs a SEQPACKET need the boot did not meet; no TRANSPORT_RESET",
	 .run = begin_and_acts);

static void qemu_gone(const struct vsc_env *env)
{
	static struct fx_packet pkt;
	struct wire_rig r;
	int sv[2];

	(void)env;
	rig_init(&r, 0);
	SAFE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	r.host.qemu_fd = sv[0];
	SAFE(close(sv[1]));
	EXPECT_EQ(r.engine.ops->recv(r.engine.ctx, &pkt, vu_now_ms() + 1000, r.why, sizeof(r.why)), -1);
	EXPECT_TRUE(strstr(r.why, "QEMU closed") != NULL);
	EXPECT_EQ(r.host.qemu_fd, -1);
	vu_device_reset(&r.g.dev);
}
VSC_CASE(fx_host_qemu_gone,
	 .summary = "engine 1 fails a recv, naming why, once QEMU has closed the vhost-user connection",
	 .run = qemu_gone);
