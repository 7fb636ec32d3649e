/* vsock_uri.h: vsock://, hvsock:// and hyperkit:// addresses as text and as values; GUIDs. */
#ifndef VSOCK_URI_H
#define VSOCK_URI_H

#include <stddef.h>
#include <stdint.h>

/*
 * The grammar (GRAMMAR.md beside this file says where each form comes from):
 *   vsock://CID:PORT[/]          connect to (or, listening, bind) CID, PORT
 *   vsock://:PORT[/]             no CID: listen on any CID
 *   hvsock://VM/SERVICE          VM: a GUID, a well-known name (vsock_guid_vm_name) or empty
 *   hvsock://VM:SERVICE          (wildcard); SERVICE: a GUID. The ':' form is sock_stress's.
 *   hyperkit://[CID]:PORT/DIR    HyperKit's state directory DIR ("/./x" is the relative "./x")
 * CID and PORT are decimal, 0 to 4294967295.
 */
enum vsock_uri_scheme {
	VSOCK_URI_VSOCK,
	VSOCK_URI_HVSOCK,
	VSOCK_URI_HYPERKIT,
};

/* A GUID as VMBus and Windows keep it in memory: Data1, Data2, Data3 little-endian, then Data4. */
struct vsock_guid {
	uint8_t b[16];
};

/* "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" and its NUL. */
#define VSOCK_GUID_TEXT_SIZE 37

/* Longest HyperKit directory kept (a Unix socket path is shorter still: sun_path is 108). */
#define VSOCK_URI_PATH_MAX 256

struct vsock_uri {
	enum vsock_uri_scheme scheme;
	int has_cid;			/* vsock, hyperkit: a CID was written */
	uint32_t cid;
	uint32_t port;			/* vsock, hyperkit */
	struct vsock_guid vm_id;	/* hvsock */
	struct vsock_guid service_id;	/* hvsock */
	char path[VSOCK_URI_PATH_MAX];	/* hyperkit: the state directory */
};

/*
 * Parses text; 0, or -1 with err holding one line: the URI, the column (1-based) where it went
 * wrong, and why.
 */
int vsock_uri_parse(const char *text, struct vsock_uri *uri, char *err, size_t err_size);

/* The canonical text of uri (parsing it gives uri back); its length, or -1 if size is too small. */
int vsock_uri_format(const struct vsock_uri *uri, char *out, size_t size);

/* Parses exactly len characters; 0, or -1 with *bad_at the offset of the first wrong one. */
int vsock_guid_parse(const char *text, size_t len, struct vsock_guid *guid, size_t *bad_at);
void vsock_guid_format(const struct vsock_guid *guid, char out[VSOCK_GUID_TEXT_SIZE]);
int vsock_guid_equal(const struct vsock_guid *a, const struct vsock_guid *b);

/* The vsock port <-> service GUID mapping: 00000000-facb-11e6-bd58-64006a7986d3, Data1 = port. */
void vsock_guid_from_port(uint32_t port, struct vsock_guid *guid);
/* 0 and *port, or -1: bytes 4-15 differ from the template, so the GUID is no vsock port. */
int vsock_guid_to_port(const struct vsock_guid *guid, uint32_t *port);

/* Well-known VM ids (Windows hvsocket.h): wildcard, broadcast, children, loopback, parent, silohost. */
int vsock_guid_vm_by_name(const char *name, size_t len, struct vsock_guid *guid);
const char *vsock_guid_vm_name(const struct vsock_guid *guid);	/* NULL: not well known */

/*
 * What an hvsock:// URI is in a Linux guest, where hv_sock sits under AF_VSOCK: the CID (parent
 * is 2, loopback the local CID 1; listening: wildcard or parent is any CID) and the port of the
 * service GUID. 0, or -1 with err saying why it has no vsock meaning.
 */
int vsock_uri_hvsock_to_vsock(const struct vsock_uri *uri, int listening, uint32_t *cid,
			      uint32_t *port, char *err, size_t err_size);

#endif
