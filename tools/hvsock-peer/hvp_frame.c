/* hvp_frame.c: hv_sock's packet framing and ring sizing, as pure functions (unit-tested). */
#include <string.h>

#include "hvp.h"

#define ALIGN8(n) (((n) + 7u) & ~7u)
#define PAGE_ALIGN(n) (((n) + HVP_PAGE - 1u) & ~(HVP_PAGE - 1u))

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v & 0xff;
	p[1] = v >> 8;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v & 0xffff);
	put16(p + 2, v >> 16);
}

static uint32_t get16(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}

static uint32_t get32(const uint8_t *p)
{
	return get16(p) | get16(p + 2) << 16;
}

uint32_t hvp_pkt_ring_len(uint32_t payload)
{
	return HVP_DESC_LEN + HVP_PIPE_HDR_LEN + ALIGN8(payload) + HVP_TRAILER_LEN;
}

int hvp_frame_raw(void *out, size_t size, uint32_t data_size, const void *payload,
		  uint32_t payload_len)
{
	uint32_t total = HVP_DESC_LEN + HVP_PIPE_HDR_LEN + ALIGN8(payload_len);
	uint8_t *p = out;

	if (payload_len > HVP_MTU || total > size)
		return -1;
	memset(p, 0, total);
	put16(p, HVP_PKT_DATA_INBAND);		/* type */
	put16(p + 2, HVP_DESC_LEN / 8);		/* offset8: the data follows the descriptor */
	put16(p + 4, (uint16_t)(total / 8));	/* len8 */
	put32(p + HVP_DESC_LEN, 1);		/* vmpipe pkt_type */
	put32(p + HVP_DESC_LEN + 4, data_size);
	if (payload_len)
		memcpy(p + HVP_DESC_LEN + HVP_PIPE_HDR_LEN, payload, payload_len);
	return (int)total;
}

/*
 * The checks of hvs_update_recv_data() on kernels with "hv_sock: Add validation for untrusted
 * Hyper-V values" (hv_pkt_len is len8*8 - offset8*8), plus the descriptor's own consistency.
 */
int hvp_check_raw(const void *pkt, size_t len, const char **why)
{
	const uint8_t *p = pkt;
	uint32_t offset, total, pkt_len, data_size;

	if (len < HVP_DESC_LEN) {
		*why = "shorter than a vmpacket_descriptor";
		return -1;
	}
	offset = get16(p + 2) * 8;
	total = get16(p + 4) * 8;
	if (get16(p) != HVP_PKT_DATA_INBAND) {
		*why = "not VM_PKT_DATA_INBAND";
		return -1;
	}
	if (total > len || offset > total || offset < HVP_DESC_LEN) {
		*why = "offset8/len8 outside the packet";
		return -1;
	}
	pkt_len = total - offset;
	if (pkt_len < HVP_PIPE_HDR_LEN) {
		*why = "no room for the vmpipe header";
		return -1;
	}
	data_size = get32(p + offset + 4);
	if (get32(p + offset) != 1) {
		*why = "vmpipe pkt_type is not 1";
		return -1;
	}
	if (data_size > pkt_len - HVP_PIPE_HDR_LEN || data_size > HVP_MTU) {
		*why = "data_size exceeds the packet or the MTU";
		return -1;
	}
	*why = NULL;
	return (int)data_size;
}

/*
 * Before VERSION_WIN10_V5 hv_sock opens fixed rings of 6 pages; from it on, the socket's buffer
 * size clamped to [6, 64] pages, through VMBUS_RING_SIZE(), which adds a header page (5.10) or
 * adds one only below 8 pages (VMBUS_HEADER_ADJ, newer headers). The ring's first page is its
 * header, so the data bytes are the total less a page: the bounds cover both macros.
 */
void hvp_ring_bounds(uint32_t proto, int sockbuf, uint32_t *lo, uint32_t *hi)
{
	uint32_t b;

	if (proto < HVP_PROTO_WIN10_V5) {
		*lo = *hi = HVP_FIXED_RING - HVP_PAGE;
		return;
	}
	b = sockbuf < (int)HVP_FIXED_RING ? HVP_FIXED_RING : (uint32_t)sockbuf;
	if (b > HVP_MAX_RING)
		b = HVP_MAX_RING;
	*lo = PAGE_ALIGN(b) - HVP_PAGE;
	*hi = PAGE_ALIGN(b + HVP_PAGE) - HVP_PAGE;
}
