/* unit_uri.c: the URI library on the build machine: GUID text and bytes, the port mapping, the
 * well-known VMs, every URI form (round trips) and every error with its column. */
#include <stdio.h>
#include <string.h>

#include "vsc.h"
#include "vsock_uri.h"

static void expect_text(const char *file, int line, const char *got, const char *want)
{
	if (strcmp(got, want) != 0)
		vsc_fail_at(file, line, "got '%s', want '%s'", got, want);
}
#define EXPECT_TEXT(got, want) expect_text(__FILE__, __LINE__, got, want)

static void expect_bytes(const char *file, int line, const struct vsock_guid *g,
			 const uint8_t want[16])
{
	int i;

	for (i = 0; i < 16; i++)
		if (g->b[i] != want[i]) {
			vsc_fail_at(file, line, "GUID byte %d is %02x, want %02x", i, g->b[i], want[i]);
			return;
		}
}
#define EXPECT_BYTES(g, ...) expect_bytes(__FILE__, __LINE__, g, (const uint8_t[16]){ __VA_ARGS__ })

static struct vsock_guid guid_of(const char *text)
{
	struct vsock_guid g;
	size_t bad_at;

	if (vsock_guid_parse(text, strlen(text), &g, &bad_at))
		vsc_fatal_at(__FILE__, __LINE__, "'%s' does not parse (at %zu)", text, bad_at);
	return g;
}

/* Data1, Data2, Data3 little-endian in memory; Data4 as written. */
static void guid_bytes(const struct vsc_env *env)
{
	char text[VSOCK_GUID_TEXT_SIZE];
	struct vsock_guid g = guid_of("01234567-89ab-cdef-0011-223344556677");

	(void)env;
	EXPECT_BYTES(&g, 0x67, 0x45, 0x23, 0x01, 0xab, 0x89, 0xef, 0xcd,
		     0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77);
	vsock_guid_format(&g, text);
	EXPECT_TEXT(text, "01234567-89ab-cdef-0011-223344556677");
	/* Upper case parses; formatting is lower case. */
	g = guid_of("3049197C-FACB-11E6-BD58-64006A7986D3");
	vsock_guid_format(&g, text);
	EXPECT_TEXT(text, "3049197c-facb-11e6-bd58-64006a7986d3");
}
VSC_CASE(uri_guid_bytes, .summary = "GUID text <-> 16 bytes in VMBus/Windows memory order",
	 .run = guid_bytes);

/* Each wrong GUID text and the offset of its first wrong character. */
static void guid_errors(const struct vsc_env *env)
{
	static const struct {
		const char *text;
		size_t bad_at;
	} bad[] = {
		{ "", 0 },
		{ "0123456", 7 },				/* short */
		{ "01234567-89ab-cdef-0011-2233445566", 34 },	/* short */
		{ "01234567-89ab-cdef-0011-2233445566778", 36 },	/* long */
		{ "0123456g-89ab-cdef-0011-223344556677", 7 },	/* not hex */
		{ "01234567_89ab-cdef-0011-223344556677", 8 },	/* no dash */
		{ "01234567-89ab-cdef-0011+223344556677", 23 },
		{ "01234567-89ab-cdef-00-11223344556677", 21 },	/* dash moved */
		{ "{1234567-89ab-cdef-0011-223344556677", 0 },
	};
	struct vsock_guid g;
	size_t i, bad_at;

	(void)env;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		bad_at = 999;
		if (vsock_guid_parse(bad[i].text, strlen(bad[i].text), &g, &bad_at) == 0) {
			vsc_fail_at(__FILE__, __LINE__, "'%s' parsed", bad[i].text);
			continue;
		}
		if (bad_at != bad[i].bad_at)
			vsc_fail_at(__FILE__, __LINE__, "'%s': bad at %zu, want %zu", bad[i].text,
				    bad_at, bad[i].bad_at);
	}
}
VSC_CASE(uri_guid_errors, .summary = "a wrong GUID text is refused at its first wrong character",
	 .run = guid_errors);

static void port_mapping(const struct vsc_env *env)
{
	static const uint32_t ports[] = { 0, 80, 0x3049197c, 0x7fffffff, 0x80000000, 0xffffffff };
	char text[VSOCK_GUID_TEXT_SIZE];
	struct vsock_guid g, other;
	uint32_t port = 0;
	size_t i;
	int byte;

	(void)env;
	vsock_guid_from_port(80, &g);
	vsock_guid_format(&g, text);
	EXPECT_TEXT(text, "00000050-facb-11e6-bd58-64006a7986d3");
	EXPECT_BYTES(&g, 0x50, 0, 0, 0, 0xcb, 0xfa, 0xe6, 0x11,
		     0xbd, 0x58, 0x64, 0x00, 0x6a, 0x79, 0x86, 0xd3);
	/* sock_stress's service (linuxkit/virtsock) is port 0x3049197c. */
	g = guid_of("3049197C-FACB-11E6-BD58-64006A7986D3");
	EXPECT_EQ(vsock_guid_to_port(&g, &port), 0);
	EXPECT_EQ(port, 0x3049197c);
	for (i = 0; i < sizeof(ports) / sizeof(ports[0]); i++) {
		vsock_guid_from_port(ports[i], &g);
		port = 1;
		EXPECT_EQ(vsock_guid_to_port(&g, &port), 0);
		EXPECT_EQ(port, ports[i]);
	}
	/* Any change in bytes 4-15 makes it a GUID that is no vsock port. */
	for (byte = 4; byte < 16; byte++) {
		vsock_guid_from_port(80, &other);
		other.b[byte] ^= 0x01;
		if (vsock_guid_to_port(&other, &port) == 0)
			vsc_fail_at(__FILE__, __LINE__, "byte %d changed, still port %u", byte, port);
	}
	g = guid_of("3049197c-9a4e-4fbf-9367-97f792f16994");	/* ocaml-hvsock's example */
	EXPECT_EQ(vsock_guid_to_port(&g, &port), -1);
}
VSC_CASE(uri_port_mapping, .summary = "port <-> service GUID both ways; a GUID off the template is no port",
	 .run = port_mapping);

static void well_known_vms(const struct vsc_env *env)
{
	static const struct {
		const char *name, *text;
	} vms[] = {
		{ "wildcard", "00000000-0000-0000-0000-000000000000" },
		{ "broadcast", "ffffffff-ffff-ffff-ffff-ffffffffffff" },
		{ "children", "90db8b89-0d35-4f79-8ce9-49ea0ac8b7cd" },
		{ "loopback", "e0e16197-dd56-4a10-9195-5ee7a155a838" },
		{ "parent", "a42e7cda-d03f-480c-9cc2-a4de20abb878" },
		{ "silohost", "36bd0c5c-7276-4223-88ba-7d03b654c568" },
	};
	struct vsock_guid g, want;
	const char *name;
	size_t i;

	(void)env;
	for (i = 0; i < sizeof(vms) / sizeof(vms[0]); i++) {
		want = guid_of(vms[i].text);
		ASSERT_EQ(vsock_guid_vm_by_name(vms[i].name, strlen(vms[i].name), &g), 0);
		EXPECT_TRUE(vsock_guid_equal(&g, &want));
		name = vsock_guid_vm_name(&want);
		EXPECT_TEXT(name ? name : "(none)", vms[i].name);
	}
	EXPECT_EQ(vsock_guid_vm_by_name("PARENT", 6, &g), 0);	/* any case */
	EXPECT_EQ(vsock_guid_vm_by_name("parents", 7, &g), -1);
	EXPECT_EQ(vsock_guid_vm_by_name("paren", 5, &g), -1);
	g = guid_of("01234567-89ab-cdef-0011-223344556677");
	EXPECT_TRUE(vsock_guid_vm_name(&g) == NULL);
}
VSC_CASE(uri_well_known_vms, .summary = "the well-known VM GUIDs of hvsocket.h by name and back",
	 .run = well_known_vms);

static struct vsock_uri parse_ok(const char *file, int line, const char *text)
{
	struct vsock_uri uri;
	char err[512];

	if (vsock_uri_parse(text, &uri, err, sizeof(err)))
		vsc_fatal_at(file, line, "'%s' does not parse: %s", text, err);
	return uri;
}

/* parse(text) formats as `canonical`, and parsing that gives the same value again. */
static void round_trip(const char *file, int line, const char *text, const char *canonical)
{
	struct vsock_uri uri = parse_ok(file, line, text), again;
	char out[512];

	if (vsock_uri_format(&uri, out, sizeof(out)) < 0) {
		vsc_fail_at(file, line, "'%s' does not format", text);
		return;
	}
	expect_text(file, line, out, canonical);
	again = parse_ok(file, line, out);
	if (memcmp(&again, &uri, sizeof(uri)) != 0)
		vsc_fail_at(file, line, "'%s' -> '%s' parses to another value", text, out);
}
#define ROUND_TRIP(text, canonical) round_trip(__FILE__, __LINE__, text, canonical)

static void vsock_forms(const struct vsc_env *env)
{
	struct vsock_uri uri;

	(void)env;
	uri = parse_ok(__FILE__, __LINE__, "vsock://3:1234");
	EXPECT_EQ(uri.scheme, VSOCK_URI_VSOCK);
	EXPECT_EQ(uri.has_cid, 1);
	EXPECT_EQ(uri.cid, 3);
	EXPECT_EQ(uri.port, 1234);
	uri = parse_ok(__FILE__, __LINE__, "vsock://:80");
	EXPECT_EQ(uri.has_cid, 0);
	EXPECT_EQ(uri.port, 80);
	ROUND_TRIP("vsock://3:1234", "vsock://3:1234");
	ROUND_TRIP("vsock://:80", "vsock://:80");
	ROUND_TRIP("vsock://2:80/", "vsock://2:80");	/* ocaml-hvsock's trailing slash */
	ROUND_TRIP("vsock://4294967295:4294967295", "vsock://4294967295:4294967295");
	ROUND_TRIP("vsock://0:0", "vsock://0:0");
}
VSC_CASE(uri_vsock_forms, .summary = "vsock://CID:PORT and vsock://:PORT parse and format back",
	 .run = vsock_forms);

static void hvsock_forms(const struct vsc_env *env)
{
	struct vsock_uri uri;
	struct vsock_guid parent;
	uint32_t port = 0;

	(void)env;
	uri = parse_ok(__FILE__, __LINE__, "hvsock://parent/00000050-facb-11e6-bd58-64006a7986d3");
	EXPECT_EQ(uri.scheme, VSOCK_URI_HVSOCK);
	ASSERT_EQ(vsock_guid_vm_by_name("parent", 6, &parent), 0);
	EXPECT_TRUE(vsock_guid_equal(&uri.vm_id, &parent));
	EXPECT_EQ(vsock_guid_to_port(&uri.service_id, &port), 0);
	EXPECT_EQ(port, 80);
	ROUND_TRIP("hvsock://parent/00000050-facb-11e6-bd58-64006a7986d3",
		   "hvsock://parent/00000050-facb-11e6-bd58-64006a7986d3");
	/* The VM as a GUID: a well-known one formats as its name. */
	ROUND_TRIP("hvsock://A42E7CDA-D03F-480C-9CC2-A4DE20ABB878/00000050-FACB-11E6-BD58-64006A7986D3",
		   "hvsock://parent/00000050-facb-11e6-bd58-64006a7986d3");
	ROUND_TRIP("hvsock://01234567-89ab-cdef-0011-223344556677/3049197c-9a4e-4fbf-9367-97f792f16994",
		   "hvsock://01234567-89ab-cdef-0011-223344556677/3049197c-9a4e-4fbf-9367-97f792f16994");
	/* No VM is the wildcard (ocaml-hvsock's Any); sock_stress writes VM:SERVICE. */
	ROUND_TRIP("hvsock:///00000050-facb-11e6-bd58-64006a7986d3",
		   "hvsock://wildcard/00000050-facb-11e6-bd58-64006a7986d3");
	ROUND_TRIP("hvsock://:00000050-facb-11e6-bd58-64006a7986d3",
		   "hvsock://wildcard/00000050-facb-11e6-bd58-64006a7986d3");
	ROUND_TRIP("hvsock://Loopback:00000050-facb-11e6-bd58-64006a7986d3",
		   "hvsock://loopback/00000050-facb-11e6-bd58-64006a7986d3");
	ROUND_TRIP("hvsock://children/00000050-facb-11e6-bd58-64006a7986d3",
		   "hvsock://children/00000050-facb-11e6-bd58-64006a7986d3");
	ROUND_TRIP("hvsock://broadcast/00000050-facb-11e6-bd58-64006a7986d3",
		   "hvsock://broadcast/00000050-facb-11e6-bd58-64006a7986d3");
	ROUND_TRIP("hvsock://silohost/00000050-facb-11e6-bd58-64006a7986d3",
		   "hvsock://silohost/00000050-facb-11e6-bd58-64006a7986d3");
}
VSC_CASE(uri_hvsock_forms, .summary = "hvsock://VM/SERVICE with GUIDs, names, no VM, and sock_stress's ':'",
	 .run = hvsock_forms);

static void hyperkit_forms(const struct vsc_env *env)
{
	struct vsock_uri uri;

	(void)env;
	uri = parse_ok(__FILE__, __LINE__, "hyperkit://:80/Users/foo/vms/0");
	EXPECT_EQ(uri.scheme, VSOCK_URI_HYPERKIT);
	EXPECT_EQ(uri.has_cid, 0);
	EXPECT_EQ(uri.port, 80);
	EXPECT_TEXT(uri.path, "/Users/foo/vms/0");
	uri = parse_ok(__FILE__, __LINE__, "hyperkit://:80/./state");
	EXPECT_TEXT(uri.path, "./state");
	uri = parse_ok(__FILE__, __LINE__, "hyperkit://:80/../state");
	EXPECT_TEXT(uri.path, "../state");
	uri = parse_ok(__FILE__, __LINE__, "hyperkit://:80/.");
	EXPECT_TEXT(uri.path, ".");
	uri = parse_ok(__FILE__, __LINE__, "hyperkit://:80/.hidden");	/* absolute: "/." is no prefix */
	EXPECT_TEXT(uri.path, "/.hidden");
	ROUND_TRIP("hyperkit://:80/Users/foo/vms/0", "hyperkit://:80/Users/foo/vms/0");
	ROUND_TRIP("hyperkit://3:80/tmp/state", "hyperkit://3:80/tmp/state");
	ROUND_TRIP("hyperkit://:80/./state", "hyperkit://:80/./state");
	ROUND_TRIP("hyperkit://:80/..", "hyperkit://:80/..");
	ROUND_TRIP("hyperkit://:80/", "hyperkit://:80/");
	/* A relative path that does not start with '.' (made in code) formats behind "/./". */
	strcpy(uri.path, "state");
	{
		char out[128];

		ASSERT_TRUE(vsock_uri_format(&uri, out, sizeof(out)) > 0);
		EXPECT_TEXT(out, "hyperkit://:80/./state");
	}
}
VSC_CASE(uri_hyperkit_forms, .summary = "hyperkit://[CID]:PORT/DIR, absolute and relative ('/.') directories",
	 .run = hyperkit_forms);

/* Every way a URI is refused: the column (1-based) and a word of the reason. */
static void uri_errors(const struct vsc_env *env)
{
	static const struct {
		const char *text;
		unsigned int column;
		const char *reason;
	} bad[] = {
		{ "", 1, "must start with" },
		{ "tcp://1:2", 1, "must start with" },
		{ "vsock:/3:80", 1, "must start with" },
		{ "VSOCK://3:80", 1, "must start with" },
		{ "vsock://3", 10, "expected ':PORT'" },
		{ "vsock://", 9, "expected ':PORT'" },
		{ "vsock://3:", 11, "PORT is missing" },
		{ "vsock://x:80", 9, "CID: 'x' is not a decimal digit" },
		{ "vsock://3:8x0", 12, "PORT: 'x' is not a decimal digit" },
		{ "vsock://-1:80", 9, "CID: '-' is not" },
		{ "vsock://3:+80", 11, "PORT: '+' is not" },
		{ "vsock://4294967296:80", 9, "CID is larger than 4294967295" },
		{ "vsock://3:99999999999", 11, "PORT is larger" },
		{ "vsock://3:80/x", 14, "nothing may follow" },
		{ "vsock://3:80//", 14, "nothing may follow" },
		{ "vsock://3:80:1", 13, "PORT: ':' is not" },
		{ "hvsock://parent", 16, "expected '/SERVICE-GUID'" },
		{ "hvsock://parent/", 17, "service GUID is missing" },
		{ "hvsock://mother/00000050-facb-11e6-bd58-64006a7986d3", 10, "unknown VM 'mother'" },
		{ "hvsock://a42e7cda-d03f-480c-9cc2/00000050-facb-11e6-bd58-64006a7986d3", 33,
		  "VM GUID ends after 23 of 36" },
		{ "hvsock://a42e7cda-d03f-480c-9cc2-a4de20abb87g/00000050-facb-11e6-bd58-64006a7986d3", 45,
		  "VM GUID: 'g' is not a hex digit" },
		{ "hvsock://parent/00000050-facb-11e6-bd58-64006a7986d", 52, "service GUID ends after 35" },
		{ "hvsock://parent/00000050-facb-11e6-bd58-64006a7986d3/", 53,
		  "service GUID is longer than 36" },
		{ "hvsock://parent/00000050xfacb-11e6-bd58-64006a7986d3", 25,
		  "service GUID: expected '-', not 'x'" },
		{ "hvsock://parent/80", 19, "service GUID ends after 2" },
		{ "hyperkit://:80", 15, "expected '/STATE-DIR'" },
		{ "hyperkit://80/tmp", 14, "expected ':PORT'" },
		{ "hyperkit://:/tmp", 13, "PORT is missing" },
		{ "hyperkit://z:80/tmp", 12, "CID: 'z' is not" },
	};
	char err[512], want[32], long_uri[400];
	struct vsock_uri uri;
	size_t i;

	(void)env;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (vsock_uri_parse(bad[i].text, &uri, err, sizeof(err)) == 0) {
			vsc_fail_at(__FILE__, __LINE__, "'%s' parsed", bad[i].text);
			continue;
		}
		/* The message names the URI and the column first. */
		snprintf(want, sizeof(want), ": column %u: ", bad[i].column);
		if (strncmp(err, bad[i].text, strlen(bad[i].text)) != 0 ||
		    strncmp(err + strlen(bad[i].text), want, strlen(want)) != 0 ||
		    !strstr(err, bad[i].reason))
			vsc_fail_at(__FILE__, __LINE__, "'%s': got \"%s\", want column %u and \"%s\"",
				    bad[i].text, err, bad[i].column, bad[i].reason);
	}
	/* A state directory longer than the library keeps. */
	snprintf(long_uri, sizeof(long_uri), "hyperkit://:80/%0300d", 0);
	EXPECT_EQ(vsock_uri_parse(long_uri, &uri, err, sizeof(err)), -1);
	EXPECT_TRUE(strstr(err, "column 15: the state directory is longer than 255") != NULL);
}
VSC_CASE(uri_errors, .summary = "each malformed URI is refused naming the URI, the column and why",
	 .run = uri_errors);

static void format_short_buffer(const struct vsc_env *env)
{
	struct vsock_uri uri = parse_ok(__FILE__, __LINE__, "vsock://3:1234");
	char out[15];

	(void)env;
	EXPECT_EQ(vsock_uri_format(&uri, out, sizeof(out)), 14);
	EXPECT_EQ(vsock_uri_format(&uri, out, 14), -1);	/* no room for the NUL */
	EXPECT_EQ(vsock_uri_format(&uri, out, 0), -1);
}
VSC_CASE(uri_format_short_buffer, .summary = "formatting into a buffer too small says so",
	 .run = format_short_buffer);

/* hvsock:// in a Linux guest: which CID and port it is under AF_VSOCK, or why none. */
static void hvsock_in_guest(const struct vsc_env *env)
{
	static const struct {
		const char *vm;
		int listening;
		long long cid;	/* -1: refused */
	} rows[] = {
		{ "parent", 0, 2 }, { "parent", 1, 0xffffffffll },
		{ "loopback", 0, 1 }, { "loopback", 1, 1 },
		{ "wildcard", 1, 0xffffffffll }, { "wildcard", 0, -1 },
		{ "children", 0, -1 }, { "children", 1, -1 }, { "broadcast", 0, -1 },
		{ "silohost", 0, -1 }, { "01234567-89ab-cdef-0011-223344556677", 0, -1 },
	};
	struct vsock_uri uri;
	char text[160], err[256];
	uint32_t cid, port;
	size_t i;
	int ret;

	(void)env;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		snprintf(text, sizeof(text), "hvsock://%s/00001388-facb-11e6-bd58-64006a7986d3",
			 rows[i].vm);
		uri = parse_ok(__FILE__, __LINE__, text);
		cid = 7;
		port = 0;
		err[0] = '\0';
		ret = vsock_uri_hvsock_to_vsock(&uri, rows[i].listening, &cid, &port, err, sizeof(err));
		if (rows[i].cid < 0) {
			if (ret == 0 || !strstr(err, "reaches only its parent"))
				vsc_fail_at(__FILE__, __LINE__, "%s (listening %d): ret %d, \"%s\"",
					    text, rows[i].listening, ret, err);
			continue;
		}
		if (ret != 0 || cid != rows[i].cid || port != 5000)
			vsc_fail_at(__FILE__, __LINE__, "%s (listening %d): ret %d cid %u port %u (%s)",
				    text, rows[i].listening, ret, cid, port, err);
	}
	uri = parse_ok(__FILE__, __LINE__,
		       "hvsock://parent/3049197c-9a4e-4fbf-9367-97f792f16994");
	EXPECT_EQ(vsock_uri_hvsock_to_vsock(&uri, 0, &cid, &port, err, sizeof(err)), -1);
	EXPECT_TRUE(strstr(err, "service 3049197c-9a4e-4fbf-9367-97f792f16994 is not a vsock port"));
	uri = parse_ok(__FILE__, __LINE__, "vsock://2:80");
	EXPECT_EQ(vsock_uri_hvsock_to_vsock(&uri, 0, &cid, &port, err, sizeof(err)), -1);
}
VSC_CASE(uri_hvsock_in_guest,
	 .summary = "hvsock:// in a Linux guest: parent CID 2, loopback CID 1, wildcard listens; others refused",
	 .run = hvsock_in_guest);
