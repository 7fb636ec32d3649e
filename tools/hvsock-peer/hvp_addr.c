/* hvp_addr.c: vsock port <-> hv_sock service GUID, and GUID text (VMBus byte order). */
#include <stdio.h>
#include <string.h>

#include "hvp.h"

/* 00000000-facb-11e6-bd58-64006a7986d3 in memory order (Data2/Data3 little-endian). */
static const uint8_t template_tail[12] = { 0xcb, 0xfa, 0xe6, 0x11, 0xbd, 0x58,
					   0x64, 0x00, 0x6a, 0x79, 0x86, 0xd3 };

void hvp_port_guid(uint32_t port, struct vsim_guid *g)
{
	g->b[0] = port & 0xff;
	g->b[1] = (port >> 8) & 0xff;
	g->b[2] = (port >> 16) & 0xff;
	g->b[3] = port >> 24;
	memcpy(&g->b[4], template_tail, sizeof(template_tail));
}

int hvp_guid_port(const struct vsim_guid *g, uint32_t *port)
{
	if (memcmp(&g->b[4], template_tail, sizeof(template_tail)) != 0)
		return -1;
	*port = (uint32_t)g->b[0] | (uint32_t)g->b[1] << 8 | (uint32_t)g->b[2] << 16 |
		(uint32_t)g->b[3] << 24;
	return 0;
}

void hvp_guid_format(const struct vsim_guid *g, char out[37])
{
	const uint8_t *b = g->b;

	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6], b[8], b[9], b[10], b[11], b[12],
		 b[13], b[14], b[15]);
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int hvp_guid_parse(const char *text, struct vsim_guid *g)
{
	/* Text byte i (in reading order) goes to memory byte order[i]. */
	static const uint8_t order[16] = { 3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15 };
	size_t pos = 0;
	int i = 0, hi, lo;

	if (strlen(text) != 36)
		return -1;
	while (i < 16) {
		if (pos == 8 || pos == 13 || pos == 18 || pos == 23) {
			if (text[pos++] != '-')
				return -1;
			continue;
		}
		hi = hex_digit(text[pos]);
		lo = hi < 0 ? -1 : hex_digit(text[pos + 1]);
		if (lo < 0)
			return -1;
		g->b[order[i++]] = (uint8_t)(hi << 4 | lo);
		pos += 2;
	}
	return 0;
}
