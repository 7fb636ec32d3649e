/* vsock_uri.c: parses and formats vsock://, hvsock:// and hyperkit:// URIs; GUID text and ports. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "vsock_uri.h"

#define CID_ANY 0xFFFFFFFFu	/* VMADDR_CID_ANY */
#define CID_LOCAL 1u		/* VMADDR_CID_LOCAL: vsock_loopback */
#define CID_HOST 2u		/* VMADDR_CID_HOST: the parent */

/* hyperv_transport.c's srv_id_template: a service GUID whose bytes 4-15 are these is a port. */
static const struct vsock_guid port_template = { {
	0x00, 0x00, 0x00, 0x00, 0xcb, 0xfa, 0xe6, 0x11,
	0xbd, 0x58, 0x64, 0x00, 0x6a, 0x79, 0x86, 0xd3 } };

/* Windows hvsocket.h's HV_GUID_* values, in memory order; names as URIs write them. */
static const struct {
	const char *name;
	struct vsock_guid guid;
} well_known_vms[] = {
	{ "wildcard", { { 0 } } },
	{ "broadcast", { { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
			   0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff } } },
	/* 90db8b89-0d35-4f79-8ce9-49ea0ac8b7cd */
	{ "children", { { 0x89, 0x8b, 0xdb, 0x90, 0x35, 0x0d, 0x79, 0x4f,
			  0x8c, 0xe9, 0x49, 0xea, 0x0a, 0xc8, 0xb7, 0xcd } } },
	/* e0e16197-dd56-4a10-9195-5ee7a155a838 */
	{ "loopback", { { 0x97, 0x61, 0xe1, 0xe0, 0x56, 0xdd, 0x10, 0x4a,
			  0x91, 0x95, 0x5e, 0xe7, 0xa1, 0x55, 0xa8, 0x38 } } },
	/* a42e7cda-d03f-480c-9cc2-a4de20abb878 */
	{ "parent", { { 0xda, 0x7c, 0x2e, 0xa4, 0x3f, 0xd0, 0x0c, 0x48,
			0x9c, 0xc2, 0xa4, 0xde, 0x20, 0xab, 0xb8, 0x78 } } },
	/* 36bd0c5c-7276-4223-88ba-7d03b654c568 */
	{ "silohost", { { 0x5c, 0x0c, 0xbd, 0x36, 0x76, 0x72, 0x23, 0x42,
			  0x88, 0xba, 0x7d, 0x03, 0xb6, 0x54, 0xc5, 0x68 } } },
};
#define N_WELL_KNOWN (sizeof(well_known_vms) / sizeof(well_known_vms[0]))

/* Text position i (0..35) -> byte of the GUID; -1 for the dashes. Data1-3 are little-endian. */
static const signed char text_byte[36] = {
	3, 3, 2, 2, 1, 1, 0, 0, -1,
	5, 5, 4, 4, -1,
	7, 7, 6, 6, -1,
	8, 8, 9, 9, -1,
	10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15,
};

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int vsock_guid_parse(const char *text, size_t len, struct vsock_guid *guid, size_t *bad_at)
{
	struct vsock_guid g = { { 0 } };
	int high = 1;
	size_t i;

	for (i = 0; i < 36; i++) {
		int v;

		if (i >= len)
			goto bad;
		if (text_byte[i] < 0) {
			if (text[i] != '-')
				goto bad;
			continue;
		}
		v = hex_value(text[i]);
		if (v < 0)
			goto bad;
		/* Within each byte the first digit is the high nibble, whatever the byte order. */
		g.b[text_byte[i]] |= (uint8_t)(high ? v << 4 : v);
		high = !high;
	}
	if (len > 36)
		goto bad;
	*guid = g;
	return 0;
bad:
	*bad_at = i;
	return -1;
}

void vsock_guid_format(const struct vsock_guid *guid, char out[VSOCK_GUID_TEXT_SIZE])
{
	static const char digits[] = "0123456789abcdef";
	int i, high = 1;

	for (i = 0; i < 36; i++) {
		uint8_t byte;

		if (text_byte[i] < 0) {
			out[i] = '-';
			continue;
		}
		byte = guid->b[text_byte[i]];
		out[i] = digits[high ? byte >> 4 : byte & 0xf];
		high = !high;
	}
	out[36] = '\0';
}

int vsock_guid_equal(const struct vsock_guid *a, const struct vsock_guid *b)
{
	return memcmp(a->b, b->b, sizeof(a->b)) == 0;
}

void vsock_guid_from_port(uint32_t port, struct vsock_guid *guid)
{
	*guid = port_template;
	guid->b[0] = (uint8_t)port;
	guid->b[1] = (uint8_t)(port >> 8);
	guid->b[2] = (uint8_t)(port >> 16);
	guid->b[3] = (uint8_t)(port >> 24);
}

int vsock_guid_to_port(const struct vsock_guid *guid, uint32_t *port)
{
	if (memcmp(&guid->b[4], &port_template.b[4], 12) != 0)
		return -1;
	*port = (uint32_t)guid->b[0] | (uint32_t)guid->b[1] << 8 | (uint32_t)guid->b[2] << 16 |
		(uint32_t)guid->b[3] << 24;
	return 0;
}

int vsock_guid_vm_by_name(const char *name, size_t len, struct vsock_guid *guid)
{
	size_t i;

	for (i = 0; i < N_WELL_KNOWN; i++)
		if (strlen(well_known_vms[i].name) == len &&
		    strncasecmp(well_known_vms[i].name, name, len) == 0) {
			*guid = well_known_vms[i].guid;
			return 0;
		}
	return -1;
}

const char *vsock_guid_vm_name(const struct vsock_guid *guid)
{
	size_t i;

	for (i = 0; i < N_WELL_KNOWN; i++)
		if (vsock_guid_equal(&well_known_vms[i].guid, guid))
			return well_known_vms[i].name;
	return NULL;
}

/* Says what is wrong at column `at` (0-based offset into text) of the URI; returns -1. */
static int fail(char *err, size_t err_size, const char *text, size_t at, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
static int fail(char *err, size_t err_size, const char *text, size_t at, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	snprintf(err, err_size, "%s: column %zu: %s", text, at + 1, why);
	return -1;
}

/* A decimal u32 of exactly len characters; -1 with *bad_at (0 when empty or too large). */
static int parse_u32(const char *s, size_t len, uint32_t *value, size_t *bad_at)
{
	uint64_t v = 0;
	size_t i;

	*bad_at = 0;
	if (len == 0)
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9') {
			*bad_at = i;
			return -1;
		}
		v = v * 10 + (uint64_t)(s[i] - '0');
		if (v > UINT32_MAX)
			return -1;
	}
	*value = (uint32_t)v;
	return 0;
}

static int number(const char *text, size_t at, size_t len, const char *what, uint32_t *value,
		  char *err, size_t err_size)
{
	size_t bad_at;

	if (parse_u32(text + at, len, value, &bad_at) == 0)
		return 0;
	if (len == 0)
		return fail(err, err_size, text, at, "%s is missing", what);
	if (text[at + bad_at] < '0' || text[at + bad_at] > '9')
		return fail(err, err_size, text, at + bad_at, "%s: '%c' is not a decimal digit", what,
			    text[at + bad_at]);
	return fail(err, err_size, text, at, "%s is larger than 4294967295", what);
}

/* "[CID]:PORT" from `at` up to `end`: the authority of vsock:// and hyperkit://. */
static int cid_port(const char *text, size_t at, size_t end, struct vsock_uri *uri, char *err,
		    size_t err_size)
{
	const char *colon = memchr(text + at, ':', end - at);
	size_t sep;

	if (!colon)
		return fail(err, err_size, text, end, "expected ':PORT' (write vsock://CID:PORT, "
			    "or vsock://:PORT to listen on any CID)");
	sep = (size_t)(colon - text);
	uri->has_cid = sep > at;
	if (uri->has_cid && number(text, at, sep - at, "CID", &uri->cid, err, err_size))
		return -1;
	return number(text, sep + 1, end - sep - 1, "PORT", &uri->port, err, err_size);
}

static int parse_vsock(const char *text, size_t at, struct vsock_uri *uri, char *err,
		       size_t err_size)
{
	size_t len = strlen(text), end = at + strcspn(text + at, "/");

	if (cid_port(text, at, end, uri, err, err_size))
		return -1;
	/* ocaml-hvsock writes vsock://2:80/: one trailing slash is allowed, nothing after it. */
	if (end < len && end + 1 != len)
		return fail(err, err_size, text, end + 1, "nothing may follow 'vsock://CID:PORT/'");
	return 0;
}

static int guid_at(const char *text, size_t at, size_t len, const char *what,
		   struct vsock_guid *guid, char *err, size_t err_size)
{
	size_t bad_at;

	if (vsock_guid_parse(text + at, len, guid, &bad_at) == 0)
		return 0;
	if (len == 0)
		return fail(err, err_size, text, at, "%s GUID is missing", what);
	if (bad_at == 36)
		return fail(err, err_size, text, at + 36, "%s GUID is longer than 36 characters", what);
	if (bad_at >= len)
		return fail(err, err_size, text, at + len, "%s GUID ends after %zu of 36 characters",
			    what, len);
	if (text_byte[bad_at] < 0)
		return fail(err, err_size, text, at + bad_at, "%s GUID: expected '-', not '%c'", what,
			    text[at + bad_at]);
	return fail(err, err_size, text, at + bad_at, "%s GUID: '%c' is not a hex digit", what,
		    text[at + bad_at]);
}

static int parse_hvsock(const char *text, size_t at, struct vsock_uri *uri, char *err,
			size_t err_size)
{
	size_t len = strlen(text), sep = at + strcspn(text + at, "/:");
	size_t vm_len = sep - at;

	if (sep == len)
		return fail(err, err_size, text, len, "expected '/SERVICE-GUID' after the VM");
	if (vm_len == 0) {
		memset(&uri->vm_id, 0, sizeof(uri->vm_id));	/* no VM: the wildcard */
	} else if (memchr(text + at, '-', vm_len)) {
		if (guid_at(text, at, vm_len, "VM", &uri->vm_id, err, err_size))
			return -1;
	} else if (vsock_guid_vm_by_name(text + at, vm_len, &uri->vm_id)) {
		return fail(err, err_size, text, at, "unknown VM '%.*s' (a GUID, or parent, loopback, "
			    "children, wildcard, broadcast, silohost)", (int)vm_len, text + at);
	}
	return guid_at(text, sep + 1, len - sep - 1, "service", &uri->service_id, err, err_size);
}

static int parse_hyperkit(const char *text, size_t at, struct vsock_uri *uri, char *err,
			  size_t err_size)
{
	size_t len = strlen(text), slash = at + strcspn(text + at, "/");
	const char *path = text + slash;

	if (cid_port(text, at, slash, uri, err, err_size))
		return -1;
	if (slash == len)
		return fail(err, err_size, text, len, "expected '/STATE-DIR' after the port");
	/* ocaml-hvsock: a path that starts "/." is relative ("/./state" is "./state"). */
	if (!strncmp(path, "/./", 3) || !strncmp(path, "/../", 4) || !strcmp(path, "/.") ||
	    !strcmp(path, "/.."))
		path++;
	if (strlen(path) >= sizeof(uri->path))
		return fail(err, err_size, text, slash, "the state directory is longer than %zu "
			    "characters", sizeof(uri->path) - 1);
	strcpy(uri->path, path);
	return 0;
}

int vsock_uri_parse(const char *text, struct vsock_uri *uri, char *err, size_t err_size)
{
	static const struct {
		const char *prefix;
		enum vsock_uri_scheme scheme;
		int (*parse)(const char *, size_t, struct vsock_uri *, char *, size_t);
	} schemes[] = {
		{ "vsock://", VSOCK_URI_VSOCK, parse_vsock },
		{ "hvsock://", VSOCK_URI_HVSOCK, parse_hvsock },
		{ "hyperkit://", VSOCK_URI_HYPERKIT, parse_hyperkit },
	};
	size_t i;

	memset(uri, 0, sizeof(*uri));
	for (i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
		size_t n = strlen(schemes[i].prefix);

		if (strncmp(text, schemes[i].prefix, n) == 0) {
			uri->scheme = schemes[i].scheme;
			return schemes[i].parse(text, n, uri, err, err_size);
		}
	}
	return fail(err, err_size, text, 0, "the URI must start with vsock://, hvsock:// or "
		    "hyperkit://");
}

/* snprintf that reports a short buffer as -1. */
static int put(char *out, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int put(char *out, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out, size, fmt, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= size ? -1 : n;
}

int vsock_uri_format(const struct vsock_uri *uri, char *out, size_t size)
{
	char cid[16] = "", vm[VSOCK_GUID_TEXT_SIZE], service[VSOCK_GUID_TEXT_SIZE];
	const char *name, *lead = "";

	if (uri->has_cid)
		snprintf(cid, sizeof(cid), "%u", uri->cid);
	switch (uri->scheme) {
	case VSOCK_URI_VSOCK:
		return put(out, size, "vsock://%s:%u", cid, uri->port);
	case VSOCK_URI_HVSOCK:
		name = vsock_guid_vm_name(&uri->vm_id);
		vsock_guid_format(&uri->vm_id, vm);
		vsock_guid_format(&uri->service_id, service);
		return put(out, size, "hvsock://%s/%s", name ? name : vm, service);
	case VSOCK_URI_HYPERKIT:
		/* Absolute paths follow the port as they are; relative ones behind "/" or "/./". */
		if (uri->path[0] != '/')
			lead = uri->path[0] == '.' && (uri->path[1] == '/' || uri->path[1] == '\0' ||
					(uri->path[1] == '.' && (uri->path[2] == '/' || uri->path[2] == '\0'))) ?
				"/" : "/./";
		return put(out, size, "hyperkit://%s:%u%s%s", cid, uri->port, lead, uri->path);
	}
	return -1;
}

int vsock_uri_hvsock_to_vsock(const struct vsock_uri *uri, int listening, uint32_t *cid,
			      uint32_t *port, char *err, size_t err_size)
{
	char service[VSOCK_GUID_TEXT_SIZE], vm[VSOCK_GUID_TEXT_SIZE];
	const char *name = vsock_guid_vm_name(&uri->vm_id);

	vsock_guid_format(&uri->service_id, service);
	vsock_guid_format(&uri->vm_id, vm);
	if (uri->scheme != VSOCK_URI_HVSOCK) {
		snprintf(err, err_size, "not an hvsock:// URI");
		return -1;
	}
	if (vsock_guid_to_port(&uri->service_id, port)) {
		snprintf(err, err_size, "service %s is not a vsock port: a Linux guest's hv_sock "
			 "serves only xxxxxxxx-facb-11e6-bd58-64006a7986d3 (xxxxxxxx = port)", service);
		return -1;
	}
	if (name && !strcmp(name, "loopback")) {
		*cid = CID_LOCAL;
	} else if (name && !strcmp(name, "parent")) {
		*cid = listening ? CID_ANY : CID_HOST;
	} else if (name && !strcmp(name, "wildcard") && listening) {
		*cid = CID_ANY;
	} else {
		snprintf(err, err_size, "VM %s: a Linux guest reaches only its parent (CID 2) and "
			 "itself (loopback, CID 1)%s", name ? name : vm,
			 listening ? "" : "; wildcard is for listeners");
		return -1;
	}
	return 0;
}
