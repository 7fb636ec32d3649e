/*
 * fuzz_vu_packets.c: libFuzzer target for the packet engine (vu_vsock, vu_rx, vu_conn, vu_g2g,
 * vu_bridge). The input scripts a hostile guest on one or two VMs (tx packets with any header,
 * payload and descriptor split; rx buffers of any shape) and the host programs behind VM 0's
 * hybrid-vsock bridge (listeners "<uds>_P" the target accepts, reads and writes; CONNECT lines on
 * the uds). After every command the engine runs one pass through its real entry points, the
 * target plays the guest driver on the used rings and checks what no guest may break:
 *   - the engine touches guest memory only inside buffers offered to it (the rest is poisoned
 *     for ASan: slot gaps, a tx chain's writable buffers, every buffer once it is returned);
 *   - a used length never exceeds the chain's writable bytes and matches the header written;
 *   - each returned head was outstanding (no double push), tx chains come back with 0 written;
 *   - host->guest stream bytes never exceed the guest's credit (the packet begun before the
 *     pass plus what the credit allows), and the bytes in rx headers match the engine's count;
 *   - bytes held for a Unix stream never exceed the buf_alloc the engine advertises;
 *   - the RST queue stays bounded, the WAIT_RESPONSE count matches the table.
 * Every input ends with vu_vm_reset() on each VM, so nothing leaks into the next (LeakSanitizer).
 * VU_FUZZ_VERBOSE=1 in the environment turns on the engine's --verbose log (to follow one input).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "vu_conn.h"
#include "vu_credit.h"
#include "vu_vm.h"
#include "vu_vsock.h"

/* Reported through the sanitizer's output: make fuzz closes stderr (-close_fd_mask=2). */
#define CHECK(cond, ...)                                                   \
	do {                                                               \
		if (!(cond))                                               \
			broken(__LINE__, #cond, __VA_ARGS__);              \
	} while (0)

static void broken(int line, const char *cond, const char *fmt, ...)
	__attribute__((format(printf, 3, 4), noreturn));
static void broken(int line, const char *cond, const char *fmt, ...)
{
	char why[512], report[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	snprintf(report, sizeof(report), "fuzz_vu_packets.c:%d: invariant broken: %s: %s", line,
		 cond, why);
	__sanitizer_report_error_summary(report);
	abort();
}

#define HDR_LEN sizeof(struct vu_vsock_hdr)
#define N_VMS 2
#define FIRST_CID 3
#define NUM 64			/* descriptors per ring */
#define CHAIN_DESCS_MAX 12
#define STEPS_MAX 200
#define QEMU_VA 0x7f0000000000ull

/* One VM's guest memory (guest-physical 0 on): tx ring, rx ring, a slot per descriptor, and a
 * payload area every tx chain may point into (guests may alias their buffers). */
#define TX_RING_AT 0x0000
#define RX_RING_AT 0x1000
#define AVAIL_OFF 0x400
#define USED_OFF 0x600
#define TX_SLOTS_AT 0x2000
#define TX_SLOT 64
#define PAYLOAD_AT 0x3000
#define PAYLOAD_BYTES 0x11000
#define RX_SLOTS_AT (PAYLOAD_AT + PAYLOAD_BYTES)
#define RX_SLOT 2048
#define MEM_BYTES (RX_SLOTS_AT + NUM * RX_SLOT)

#define F_NEXT 1
#define F_WRITE 2

/* Host ports with a "<uds>_P" listener; host ports of connections the host programs start. */
static const uint32_t listened_ports[] = { 1000, 1001, 1002 };
#define N_LISTENED (sizeof(listened_ports) / sizeof(listened_ports[0]))
static const uint32_t dst_ports[8] = { 1000, 1001, 1002, 1003, 1u << 30, (1u << 30) + 1, 1024, 1025 };
#define GUEST_PORT_FIRST 1024

struct vring_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
} __attribute__((packed));

struct chain_rec {
	int live;
	int n;
	uint16_t desc[CHAIN_DESCS_MAX];
	uint8_t *buf[CHAIN_DESCS_MAX];
	uint32_t len[CHAIN_DESCS_MAX];
	uint8_t writable[CHAIN_DESCS_MAX];
	uint64_t writable_bytes;
};

struct guest_ring {
	uint32_t at;
	uint16_t avail_idx, used_seen;
	uint16_t free[NUM];
	int n_free;
	struct chain_rec chains[NUM];	/* by head descriptor */
};

/* What the guest's sockets have received from each host port, for honest fwd_cnt values. */
struct pair_count {
	uint32_t guest_port, host_port, received;
};
#define PAIRS_MAX 32

struct guest {
	struct vu_vm *vm;
	uint8_t *mem;
	int features;
	struct guest_ring ring[VU_VSOCK_QUEUES];
	struct pair_count pairs[PAIRS_MAX];
	int n_pairs;
	uint64_t host_rw_bytes;		/* host stream bytes found in rx this pass */
};

/* What a connection had before a pass: its credit bound for the pass. */
struct credit_snap {
	struct vu_conn *c;
	uint32_t tx_cnt, bound;
};

#define HOST_ENDS_MAX 16

static struct vu_vm vms[N_VMS];
static struct guest guests[N_VMS];
static struct credit_snap snaps[N_VMS][VU_CONN_MAX];
static int n_snaps[N_VMS];
static int host_ends[HOST_ENDS_MAX];
static int n_host_ends;
static int listeners[N_LISTENED];
static char dir[64], uds_path[96];
static uint8_t pattern[1 << 16];

/* ---- the guest driver's side of a split ring ---- */

static struct vring_desc *desc_table(struct guest *g, int r)
{
	return (struct vring_desc *)(g->mem + g->ring[r].at);
}

static uint16_t *avail_of(struct guest *g, int r)
{
	return (uint16_t *)(g->mem + g->ring[r].at + AVAIL_OFF);
}

static uint8_t *used_of(struct guest *g, int r)
{
	return g->mem + g->ring[r].at + USED_OFF;
}

static void poison(void *p, size_t n)
{
	ASAN_POISON_MEMORY_REGION(p, n);
}

static void unpoison(void *p, size_t n)
{
	ASAN_UNPOISON_MEMORY_REGION(p, n);
}

/* Offers a chain of n buffers; 0 when the ring has no room for it. Buffers become addressable
 * while the device has them, except the ones `keep_poisoned` (the device must not touch them). */
static int offer(struct guest *g, int r, int n, uint8_t *const *buf, const uint32_t *len,
		 const uint8_t *writable, const uint8_t *keep_poisoned)
{
	struct guest_ring *ring = &g->ring[r];
	struct vring_desc *table = desc_table(g, r);
	uint16_t *avail = avail_of(g, r);
	struct chain_rec *rec;
	uint16_t head;
	int i;

	if (n < 1 || n > CHAIN_DESCS_MAX || ring->n_free < n)
		return 0;
	head = ring->free[ring->n_free - 1];
	rec = &ring->chains[head];
	memset(rec, 0, sizeof(*rec));
	rec->n = n;
	for (i = 0; i < n; i++) {
		uint16_t d = ring->free[--ring->n_free];

		rec->desc[i] = d;
		rec->buf[i] = buf[i];
		rec->len[i] = len[i];
		rec->writable[i] = writable[i];
		if (writable[i])
			rec->writable_bytes += len[i];
		if (!keep_poisoned[i])
			unpoison(buf[i], len[i]);
	}
	for (i = 0; i < n; i++) {
		table[rec->desc[i]] = (struct vring_desc){
			.addr = (uint64_t)(buf[i] - g->mem), .len = len[i],
			.flags = (uint16_t)((i + 1 < n ? F_NEXT : 0) | (writable[i] ? F_WRITE : 0)),
			.next = i + 1 < n ? rec->desc[i + 1] : 0 };
	}
	rec->live = 1;
	avail[2 + ring->avail_idx % NUM] = head;
	__atomic_store_n(&avail[1], (uint16_t)(ring->avail_idx + 1), __ATOMIC_RELEASE);
	ring->avail_idx++;
	return 1;
}

static void gather(const struct chain_rec *rec, size_t offset, void *out, size_t len)
{
	uint8_t *p = out;
	int i;

	for (i = 0; i < rec->n && len; i++) {
		size_t take;

		if (!rec->writable[i])
			continue;
		if (offset >= rec->len[i]) {
			offset -= rec->len[i];
			continue;
		}
		take = rec->len[i] - offset < len ? rec->len[i] - offset : len;
		memcpy(p, rec->buf[i] + offset, take);
		p += take;
		len -= take;
		offset = 0;
	}
}

static struct pair_count *pair_of(struct guest *g, uint32_t guest_port, uint32_t host_port)
{
	int i;

	for (i = 0; i < g->n_pairs; i++)
		if (g->pairs[i].guest_port == guest_port && g->pairs[i].host_port == host_port)
			return &g->pairs[i];
	if (g->n_pairs == PAIRS_MAX)
		return NULL;
	g->pairs[g->n_pairs] = (struct pair_count){ guest_port, host_port, 0 };
	return &g->pairs[g->n_pairs++];
}

/* A packet the device put into this guest's rx ring. */
static void check_rx_packet(struct guest *g, const struct chain_rec *rec, uint32_t used_len)
{
	struct vu_vsock_hdr hdr;
	struct pair_count *pair;

	if (used_len == 0) {
		CHECK(rec->writable_bytes < HDR_LEN, "cid %llu: an rx chain of %llu bytes came back empty",
		      (unsigned long long)g->vm->cid, (unsigned long long)rec->writable_bytes);
		return;
	}
	CHECK(used_len >= HDR_LEN, "used len %u", used_len);
	gather(rec, 0, &hdr, HDR_LEN);
	CHECK(HDR_LEN + hdr.len == used_len, "header len %u, used len %u", hdr.len, used_len);
	if (g->vm->verbose)
		vu_vm_log(g->vm, "rx: op %u from %llu:%u to port %u, len %u, fwd_cnt %u", hdr.op,
			  (unsigned long long)hdr.src_cid, hdr.src_port, hdr.dst_port, hdr.len,
			  hdr.fwd_cnt);
	CHECK(hdr.dst_cid == g->vm->cid, "dst_cid %llu in cid %llu's rx",
	      (unsigned long long)hdr.dst_cid, (unsigned long long)g->vm->cid);
	if (hdr.src_cid != VU_HOST_CID) {
		/* guest->guest: the sender's header, checked against its cid when routed */
		CHECK(hdr.src_cid >= FIRST_CID && hdr.src_cid < FIRST_CID + N_VMS &&
		      hdr.src_cid != g->vm->cid, "src_cid %llu", (unsigned long long)hdr.src_cid);
		return;
	}
	/* An RST answering a packet of no connection echoes its type and advertises nothing. */
	CHECK(hdr.op == VU_OP_RST || (hdr.type == VU_TYPE_STREAM && hdr.buf_alloc == VU_BUF_ALLOC),
	      "host packet op %u type %u buf_alloc %u", hdr.op, hdr.type, hdr.buf_alloc);
	CHECK(hdr.op == VU_OP_RW || hdr.len == 0, "op %u with %u bytes", hdr.op, hdr.len);
	pair = pair_of(g, hdr.dst_port, hdr.src_port);
	if (!pair)
		return;
	if (hdr.op == VU_OP_REQUEST || hdr.op == VU_OP_RESPONSE || hdr.op == VU_OP_RST)
		pair->received = 0;
	if (hdr.op == VU_OP_RW) {
		pair->received += hdr.len;
		g->host_rw_bytes += hdr.len;
	}
}

/* Takes back what the device returned on ring r, checking each entry. */
static void harvest(struct guest *g, int r)
{
	struct guest_ring *ring = &g->ring[r];
	uint8_t *used = used_of(g, r);
	uint16_t used_idx = __atomic_load_n((uint16_t *)(used + 2), __ATOMIC_ACQUIRE);

	CHECK((uint16_t)(used_idx - ring->used_seen) <= NUM, "used idx moved by %u",
	      (uint16_t)(used_idx - ring->used_seen));
	while (ring->used_seen != used_idx) {
		uint32_t id, len;
		struct chain_rec *rec;
		int i;

		memcpy(&id, used + 4 + 8 * (ring->used_seen % NUM), 4);
		memcpy(&len, used + 8 + 8 * (ring->used_seen % NUM), 4);
		ring->used_seen++;
		CHECK(id < NUM && ring->chains[id].live, "ring %d: head %u returned, not outstanding",
		      r, id);
		rec = &ring->chains[id];
		CHECK(len <= rec->writable_bytes, "ring %d: used len %u, %llu writable bytes", r, len,
		      (unsigned long long)rec->writable_bytes);
		if (r == VU_VSOCK_TX)
			CHECK(len == 0, "tx chain returned with %u bytes written", len);
		else
			check_rx_packet(g, rec, len);
		/* The device is done with these buffers: any later access is a use after return. */
		for (i = 0; i < rec->n; i++) {
			if (rec->buf[i] < g->mem + PAYLOAD_AT || rec->buf[i] >= g->mem + RX_SLOTS_AT)
				poison(rec->buf[i], rec->len[i]);
			ring->free[ring->n_free++] = rec->desc[i];
		}
		rec->live = 0;
	}
}

/* ---- one VM: its guest memory and rings, set up as QEMU does ---- */

static void handle(struct vu_device *dev, uint32_t request, const void *payload, uint32_t size)
{
	struct vu_msg msg = { .hdr = { request, VU_FLAG_VERSION, size } };
	char error[256];

	memcpy(&msg.payload, payload, size);
	if (vu_device_handle(&dev[0], -1, &msg, error, sizeof(error)) < 0)
		CHECK(0, "ring set-up refused: %s", error);
}

static void guest_start(struct guest *g)
{
	struct vu_vm *vm = g->vm;
	int r, d;

	unpoison(g->mem, MEM_BYTES);
	memset(g->mem, 0, RX_SLOTS_AT);
	for (d = 0; d < PAYLOAD_BYTES; d++)
		g->mem[PAYLOAD_AT + d] = (uint8_t)(d * 13 + vm->cid);
	/* Slots are addressable only while their buffer is offered. */
	poison(g->mem + TX_SLOTS_AT, NUM * TX_SLOT);
	poison(g->mem + RX_SLOTS_AT, NUM * RX_SLOT);
	memset(g->ring, 0, sizeof(g->ring));
	g->n_pairs = 0;

	vm->dev.features = VU_F_VERSION_1 | (g->features & 1 ? VU_F_EVENT_IDX : 0);
	vm->dev.mem.regions[0] = (struct vu_mem_region){
		.guest_phys_addr = 0, .size = MEM_BYTES, .userspace_addr = QEMU_VA,
		.host = g->mem };
	vm->dev.mem.count = 1;
	for (r = 0; r < VU_VSOCK_QUEUES; r++) {
		struct guest_ring *ring = &g->ring[r];
		uint32_t at = r == VU_VSOCK_TX ? TX_RING_AT : RX_RING_AT;
		struct vu_vring_state state = { (uint32_t)r, NUM };
		struct vu_vring_addr addr = { .index = (uint32_t)r, .desc_uaddr = QEMU_VA + at,
					      .avail_uaddr = QEMU_VA + at + AVAIL_OFF,
					      .used_uaddr = QEMU_VA + at + USED_OFF };

		ring->at = at;
		for (d = 0; d < NUM; d++)
			ring->free[ring->n_free++] = (uint16_t)(NUM - 1 - d);
		handle(&vm->dev, VU_SET_VRING_NUM, &state, sizeof(state));
		state.num = 0;
		handle(&vm->dev, VU_SET_VRING_BASE, &state, sizeof(state));
		handle(&vm->dev, VU_SET_VRING_ADDR, &addr, sizeof(addr));
		state.num = 1;
		handle(&vm->dev, VU_SET_VRING_ENABLE, &state, sizeof(state));
	}
	/* "QEMU connected": any descriptor will do, the engine only closes it at reset. */
	vm->qemu_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	CHECK(vm->qemu_fd >= 0, "open /dev/null: %m");
}

/* ---- the host programs ---- */

static void host_end_add(int fd)
{
	if (n_host_ends == HOST_ENDS_MAX) {
		close(fd);
		return;
	}
	host_ends[n_host_ends++] = fd;
}

static void accept_host_ends(void)
{
	unsigned int i;
	int fd;

	for (i = 0; i < N_LISTENED; i++)
		while ((fd = accept4(listeners[i], NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0)
			host_end_add(fd);
}

static void host_end_close(int k)
{
	close(host_ends[k]);
	host_ends[k] = host_ends[--n_host_ends];
}

/* A host program on VM 0's uds, as vsockcheck-host does: "CONNECT <port>\n", then data. */
static void bridge_connect(uint8_t how)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	char line[64];
	int fd, len;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	CHECK(fd >= 0, "socket: %m");
	strcpy(addr.sun_path, uds_path);
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
		close(fd);
		return;
	}
	if (how & 0x20)
		len = snprintf(line, sizeof(line), "CONNECT 99999999999\n");
	else
		len = snprintf(line, sizeof(line), "%s %u%s%s", how & 0x10 ? "connect " : "CONNECT",
			       GUEST_PORT_FIRST + (how & 7), how & 8 ? "" : "\n",
			       how & 0x40 ? "early data" : "");
	if (send(fd, line, (size_t)len, MSG_NOSIGNAL) != len)
		CHECK(0, "writing a CONNECT line: %m");
	host_end_add(fd);
}

static void host_action(uint8_t what, uint8_t which, uint16_t size)
{
	static uint8_t sink[1 << 16];
	int k;

	if (!n_host_ends)
		return;
	k = which % n_host_ends;
	switch (what % 4) {
	case 0:
		send(host_ends[k], pattern, size ? size : sizeof(pattern), MSG_NOSIGNAL | MSG_DONTWAIT);
		break;
	case 1:
		recv(host_ends[k], sink, size ? size : sizeof(sink), MSG_DONTWAIT);
		break;
	case 2:
		shutdown(host_ends[k], which & 0x80 ? SHUT_RD : SHUT_WR);
		break;
	default:
		host_end_close(k);
		break;
	}
}

/* ---- one pass of the engine, as its loop runs it, with the checks after it ---- */

static uint32_t credit_bound(const struct vu_conn *c)
{
	uint32_t in_flight = c->credit.tx_cnt + c->packet_left - c->credit.peer_fwd_cnt;

	/* the packet begun earlier (its credit taken then), then what the credit allows */
	return c->packet_left +
	       (in_flight >= c->credit.peer_buf_alloc ? 0 : c->credit.peer_buf_alloc - in_flight);
}

static void snapshot_credit(int v)
{
	struct vu_vm *vm = &vms[v];
	int i;

	n_snaps[v] = 0;
	for (i = 0; i < VU_CONN_MAX; i++) {
		struct vu_conn *c = vm->conns.slots[i];

		if (c)
			snaps[v][n_snaps[v]++] = (struct credit_snap){ c, c->credit.tx_cnt,
								       credit_bound(c) };
	}
}

static void check_credit(int v)
{
	uint64_t sent = 0;
	int i;

	for (i = 0; i < n_snaps[v]; i++) {
		const struct credit_snap *s = &snaps[v][i];
		uint32_t delta = s->c->credit.tx_cnt - s->tx_cnt;

		CHECK((uint64_t)delta + s->c->packet_left <= s->bound,
		      "guest port %u: %u bytes sent and %u more promised, %u of credit",
		      s->c->guest_port, delta, s->c->packet_left, s->bound);
		sent += delta;
	}
	CHECK(sent == guests[v].host_rw_bytes, "cid %llu: %llu stream bytes counted, %llu in rx",
	      (unsigned long long)vms[v].cid, (unsigned long long)sent,
	      (unsigned long long)guests[v].host_rw_bytes);
}

static void check_table(const struct vu_vm *vm)
{
	unsigned int waiting = 0;
	int i, count = 0;

	CHECK(vm->rst_count <= VU_RST_QUEUE_MAX, "%u RSTs queued", vm->rst_count);
	for (i = 0; i < VU_CONN_MAX; i++) {
		const struct vu_conn *c = vm->conns.slots[i];

		if (!c)
			continue;
		count++;
		waiting += c->state == VU_CONN_WAIT_RESPONSE && c->fd >= 0;
		CHECK(vu_credit_held(&c->credit) <= VU_BUF_ALLOC,
		      "guest port %u: %u bytes held, %u advertised", c->guest_port,
		      vu_credit_held(&c->credit), VU_BUF_ALLOC);
		CHECK(!vu_credit_held(&c->credit) || c->held || c->fd < 0,
		      "guest port %u: bytes held without a buffer", c->guest_port);
	}
	CHECK(count == vm->conns.count, "%d connections in the table, count %d", count,
	      vm->conns.count);
	CHECK(waiting == vm->conns.waiting, "%u connections wait for RESPONSE, counted %u",
	      waiting, vm->conns.waiting);
}

/* The engine's streams get a small send buffer, so a host program that stops reading makes the
 * engine hold guest bytes (its held ring, credit, EPOLLOUT) within a few packets, not 200 KiB. */
static void shrink_stream_buffers(const struct vu_vm *vm)
{
	static const int bytes = 4096;
	int i;

	for (i = 0; i < VU_CONN_MAX; i++) {
		const struct vu_conn *c = vm->conns.slots[i];

		if (c && c->fd >= 0)
			setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof(bytes));
	}
}

/*
 * One turn of the backend's loop, as main.c runs it: the guest that acted kicks its ring, which
 * serves its tx (vu_vm.c on_kick); Unix stream events; then vu_vm_turn over every VM. `kicked`
 * is that guest's VM, or -1 when only the host side acted.
 */
static void engine_pass(int n_vms, int kicked)
{
	char error[256];
	int v, r, n, rounds;

	if (kicked >= 0) {
		error[0] = 0;
		if (vu_vsock_tx(&vms[kicked], error, sizeof(error)) < 0)
			vu_vm_reset(&vms[kicked], error);
	}
	/* Unix stream readiness is immediate: a zero timeout sees everything written so far. */
	for (rounds = 0; rounds < 8 && (n = vu_loop_wait(0)) > 0; rounds++)
		;
	for (v = 0; v < n_vms; v++) {
		guests[v].host_rw_bytes = 0;
		snapshot_credit(v);
	}
	vu_vm_turn(vms, n_vms);
	/* The guest hears of every chain returned in the turn: none may wait for a later event. */
	for (v = 0; v < n_vms; v++)
		for (r = 0; r < VU_VSOCK_QUEUES; r++)
			if (vms[v].dev.vrings[r].pushed_since_notify)
				broken(__LINE__, "every returned chain notified",
				       "cid %llu ring %d: %u chains returned, guest not told",
				       (unsigned long long)vms[v].cid, r,
				       vms[v].dev.vrings[r].pushed_since_notify);
	for (v = 0; v < n_vms; v++) {
		harvest(&guests[v], VU_VSOCK_TX);
		harvest(&guests[v], VU_VSOCK_RX);
		check_credit(v);
		check_table(&vms[v]);
	}
	vu_conn_reap();
	for (v = 0; v < n_vms; v++)
		shrink_stream_buffers(&vms[v]);
	accept_host_ends();
	/* A VM the engine reset (a ring it found broken): the guest comes back, as after a reboot. */
	for (v = 0; v < n_vms; v++)
		if (vms[v].qemu_fd < 0)
			guest_start(&guests[v]);
}

/* ---- the commands of an input ---- */

struct tx_cmd {
	uint8_t sel;		/* 0-1 dst (host, other VM, itself, nobody), 2 spoofed src,
				 * 3-7 payload offset in 2 KiB */
	uint8_t op;		/* 0-3 op, 4-5 type (stream, seqpacket, 0, 7) */
	uint8_t ports;		/* 0-2 src port, 3-5 dst port, 6-7 header pieces - 1 */
	uint8_t shape;		/* 0-1 payload pieces - 1, 2 chain 1 byte short, 3 add a writable
				 * buffer, 4-5 fwd_cnt, 6 raw buf_alloc, 7 len + 64 KiB */
	uint16_t len;
	uint32_t flags, buf_alloc, fwd_cnt;
	uint16_t split;
} __attribute__((packed));

static void tx_packet(struct guest *g, int n_vms, const struct tx_cmd *t)
{
	static const uint16_t types[4] = { VU_TYPE_STREAM, VU_TYPE_SEQPACKET, 0, 7 };
	uint8_t *buf[CHAIN_DESCS_MAX], writable[CHAIN_DESCS_MAX] = { 0 };
	uint8_t poisoned[CHAIN_DESCS_MAX] = { 0 };
	uint32_t len[CHAIN_DESCS_MAX], payload, offset, left, pieces, i;
	struct guest_ring *ring = &g->ring[VU_VSOCK_TX];
	struct vu_vsock_hdr hdr = { 0 };
	struct pair_count *pair;
	uint32_t cut[3], n_cut, at;
	int n = 0;

	if (ring->n_free < CHAIN_DESCS_MAX)
		return;
	switch (t->sel & 3) {
	case 0: hdr.dst_cid = VU_HOST_CID; break;
	case 1: hdr.dst_cid = FIRST_CID + (g->vm->cid - FIRST_CID + 1) % n_vms; break;
	case 2: hdr.dst_cid = g->vm->cid; break;
	default: hdr.dst_cid = 77; break;
	}
	hdr.src_cid = t->sel & 4 ? 99 : g->vm->cid;
	hdr.src_port = GUEST_PORT_FIRST + (t->ports & 7);
	hdr.dst_port = dst_ports[(t->ports >> 3) & 7];
	hdr.op = t->op & 8 ? (t->op & 7) + 8 : t->op & 7;
	hdr.type = types[(t->op >> 4) & 3];
	hdr.len = t->len + (t->shape & 0x80 ? 0x10000u : 0);
	hdr.flags = t->flags;
	hdr.buf_alloc = t->shape & 0x40 ? t->buf_alloc : 65536;
	pair = pair_of(g, hdr.src_port, hdr.dst_port);
	switch ((t->shape >> 4) & 3) {
	case 0: hdr.fwd_cnt = pair ? pair->received : 0; break;
	case 1: hdr.fwd_cnt = t->fwd_cnt; break;
	case 2: hdr.fwd_cnt = (pair ? pair->received : 0) - (t->fwd_cnt & 0xffff); break;
	default: hdr.fwd_cnt = (pair ? pair->received : 0) + (t->fwd_cnt & 0xff); break;
	}

	/* The header in 1-3 pieces, each in its own descriptor's slot, ending on the slot's end. */
	n_cut = (uint32_t)(t->ports >> 6) % 3;
	at = 0;
	for (i = 0; i < n_cut; i++) {
		cut[i] = at + 1 + (t->split >> (i * 5)) % (HDR_LEN - 1 - at - (n_cut - i - 1));
		at = cut[i];
	}
	cut[n_cut] = HDR_LEN;
	at = 0;
	for (i = 0; i <= n_cut; i++) {
		uint16_t d = ring->free[ring->n_free - 1 - n];
		uint8_t *slot_end = g->mem + TX_SLOTS_AT + (d + 1) * TX_SLOT;

		len[n] = cut[i] - at;
		buf[n] = slot_end - len[n];
		unpoison(buf[n], len[n]);
		memcpy(buf[n], (uint8_t *)&hdr + at, len[n]);
		at = cut[i];
		n++;
	}
	/* The payload: pieces of the shared payload area, wrapping around it. */
	payload = hdr.len - (t->shape & 4 && hdr.len ? 1 : 0);
	offset = ((t->sel >> 3) & 31) * 2048;
	pieces = (t->shape & 3) + 1;
	for (left = payload, i = 0; left && n < CHAIN_DESCS_MAX - 1; i++) {
		uint32_t take = i + 1 < pieces ? 1 + (t->split * (i + 7)) % left : left;

		if (take > PAYLOAD_BYTES - offset)
			take = PAYLOAD_BYTES - offset;
		buf[n] = g->mem + PAYLOAD_AT + offset;
		len[n++] = take;
		left -= take;
		offset = (offset + take) % PAYLOAD_BYTES;
	}
	/* A writable buffer on tx: the device must never touch it. */
	if (t->shape & 8 && n < CHAIN_DESCS_MAX) {
		uint16_t d = ring->free[ring->n_free - 1 - n];

		buf[n] = g->mem + TX_SLOTS_AT + d * TX_SLOT;
		len[n] = 16;
		writable[n] = poisoned[n] = 1;
		n++;
	}
	offer(g, VU_VSOCK_TX, n, buf, len, writable, poisoned);
}

static void rx_offer(struct guest *g, uint8_t count, uint8_t shape, uint16_t size)
{
	int chains = 1 + count % 8, c;

	for (c = 0; c < chains; c++) {
		uint8_t *buf[4], writable[4], poisoned[4] = { 0 };
		uint32_t len[4];
		int segs = 1 + (shape + c) % 3, n = 0, j;
		struct guest_ring *ring = &g->ring[VU_VSOCK_RX];

		if (ring->n_free < 4)
			return;
		/* A device-readable buffer first: allowed, and never to be touched. */
		if (shape & 0x80) {
			uint16_t d = ring->free[ring->n_free - 1];

			buf[n] = g->mem + RX_SLOTS_AT + (d + 1) * RX_SLOT - 64;
			len[n] = 64;
			writable[n] = 0;
			poisoned[n++] = 1;
		}
		for (j = 0; j < segs; j++) {
			uint16_t d = ring->free[ring->n_free - 1 - n];
			uint32_t l = 1 + (uint32_t)(size * (2 * j + 1 + c)) % RX_SLOT;

			if (shape & 0x40)
				l = RX_SLOT;
			buf[n] = g->mem + RX_SLOTS_AT + (d + 1) * RX_SLOT - l;
			len[n] = l;
			writable[n++] = 1;
		}
		offer(g, VU_VSOCK_RX, n, buf, len, writable, poisoned);
	}
}

/* ---- set-up once per process, reset after every input ---- */

/* Directories of earlier runs that ended without cleaning up (a crash): their pid is gone. */
static void remove_dir(const char *path)
{
	char name[512];
	struct dirent *e;
	DIR *d = opendir(path);

	if (!d)
		return;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.') {
			snprintf(name, sizeof(name), "%s/%s", path, e->d_name);
			unlink(name);
		}
	closedir(d);
	rmdir(path);
}

static void remove_stale_dirs(void)
{
	const char *prefix = "fuzz_vu_packets.";
	struct dirent *e;
	DIR *d = opendir("/tmp");
	char path[512];

	if (!d)
		return;
	while ((e = readdir(d))) {
		long pid;

		if (strncmp(e->d_name, prefix, strlen(prefix)))
			continue;
		pid = strtol(e->d_name + strlen(prefix), NULL, 10);
		if (pid > 0 && kill((pid_t)pid, 0) != 0 && errno == ESRCH) {
			snprintf(path, sizeof(path), "/tmp/%s", e->d_name);
			remove_dir(path);
		}
	}
	closedir(d);
}

static void cleanup(void)
{
	remove_dir(dir);
}

static int listen_at(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	CHECK(strlen(path) < sizeof(addr.sun_path), "%s", path);
	strcpy(addr.sun_path, path);
	CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0 &&
	      listen(fd, 64) == 0, "listening on %s: %m", path);
	return fd;
}

static void setup_once(void)
{
	char error[256], path[128];
	unsigned int i;
	int v;

	signal(SIGPIPE, SIG_IGN);	/* as main.c: a closed stream is an error, not a signal */
	remove_stale_dirs();
	snprintf(dir, sizeof(dir), "/tmp/fuzz_vu_packets.%d", (int)getpid());
	CHECK(mkdir(dir, 0700) == 0 || errno == EEXIST, "mkdir %s: %m", dir);
	atexit(cleanup);
	snprintf(uds_path, sizeof(uds_path), "%s/uds", dir);
	for (i = 0; i < N_LISTENED; i++) {
		snprintf(path, sizeof(path), "%s_%u", uds_path, listened_ports[i]);
		listeners[i] = listen_at(path);
	}
	for (i = 0; i < sizeof(pattern); i++)
		pattern[i] = (uint8_t)(i * 7 + 1);
	CHECK(vu_loop_init(error, sizeof(error)) == 0, "%s", error);
	for (v = 0; v < N_VMS; v++) {
		struct vu_vm *vm = &vms[v];

		vm->cid = FIRST_CID + (uint64_t)v;
		vm->socket_path = "(fuzz: no vhost-user socket)";
		vm->uds_path = v == 0 ? uds_path : NULL;	/* VM 1: every REQUEST to CID 2 gets RST */
		vm->verbose = getenv("VU_FUZZ_VERBOSE") != NULL;	/* to follow one input */
		vm->all = vms;
		vm->listen_fd = vm->qemu_fd = vm->uds_listen_fd = -1;
		for (i = 0; i < VU_VSOCK_QUEUES; i++)
			vm->kicks[i].fd = -1;
		vu_device_init(&vm->dev, vm->cid, 0);
		vu_conn_table_init(&vm->conns);
		CHECK(vu_vm_listen_uds(vm, error, sizeof(error)) == 0, "%s", error);
		guests[v].vm = vm;
		guests[v].mem = aligned_alloc(4096, MEM_BYTES);
		CHECK(guests[v].mem, "no memory");
	}
}

static void end_input(int n_vms)
{
	int v, fd;
	unsigned int i;

	while (n_host_ends)
		host_end_close(0);
	/* Connections still in a backlog belong to this input: take and close them. */
	while (vu_loop_wait(0) > 0)
		;
	for (i = 0; i < N_LISTENED; i++)
		while ((fd = accept4(listeners[i], NULL, NULL, SOCK_CLOEXEC)) >= 0)
			close(fd);
	for (v = 0; v < n_vms; v++)
		vu_vm_reset(&vms[v], NULL);
	vu_conn_reap();
	for (v = 0; v < n_vms; v++) {
		vms[v].dev.mem.count = 0;
		unpoison(guests[v].mem, MEM_BYTES);
	}
}

static int take(const uint8_t **data, size_t *size, void *out, size_t n)
{
	if (*size < n)
		return 0;
	memcpy(out, *data, n);
	*data += n;
	*size -= n;
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	uint8_t config, cmd;
	int n_vms, v, steps;

	if (!ready) {
		setup_once();
		ready = 1;
	}
	if (!take(&data, &size, &config, 1))
		return 0;
	n_vms = config & 1 ? 2 : 1;
	for (v = 0; v < n_vms; v++) {
		vms[v].n_all = n_vms;
		guests[v].features = (config >> (1 + v)) & 1;
		guest_start(&guests[v]);
	}
	for (steps = 0; steps < STEPS_MAX && take(&data, &size, &cmd, 1); steps++) {
		struct guest *g = &guests[((cmd >> 4) & 1) % n_vms];
		uint8_t arg[4];
		struct tx_cmd t;

		switch (cmd & 15) {
		case 5: case 6:
			if (!take(&data, &size, arg, 4))
				break;
			rx_offer(g, arg[0], arg[1], (uint16_t)(arg[2] | arg[3] << 8));
			break;
		case 7:
			if (!take(&data, &size, arg, 4))
				break;
			host_action(arg[0], arg[1], (uint16_t)(arg[2] | arg[3] << 8));
			break;
		case 8:
			if (!take(&data, &size, arg, 1))
				break;
			bridge_connect(arg[0]);
			break;
		case 9:		/* every host program's wait for the guest's answer is over */
			for (v = 0; v < n_vms; v++)
				vu_vm_expire(&vms[v], UINT64_MAX - 1);
			break;
		case 10:	/* QEMU goes away and comes back: a new guest driver */
			vu_vm_reset(g->vm, NULL);
			vu_conn_reap();
			guest_start(g);
			break;
		default:
			if (!take(&data, &size, &t, sizeof(t)))
				break;
			tx_packet(g, n_vms, &t);
			break;
		}
		/* Bit 7: more from the guest before the device looks (a batch). */
		if (!(cmd & 0x80))
			engine_pass(n_vms, (cmd & 15) >= 7 && (cmd & 15) <= 10 ? -1 : (int)(g - guests));
	}
	engine_pass(n_vms, -1);
	end_input(n_vms);
	return 0;
}
