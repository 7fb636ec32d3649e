/* vsockcat.h: the parts of vsockcat: opening a URI's stream, and relaying it to stdin/stdout. */
#ifndef VSOCKCAT_H
#define VSOCKCAT_H

#include <stddef.h>

#include "vsock_uri.h"

/* HyperKit's CIDs when a hyperkit:// URI names none (ocaml-hvsock's Hyperkit module): a
 * connection goes to the guest, CID 3; a listener is the host, CID 2. */
#define HYPERKIT_GUEST_CID 3u
#define HYPERKIT_HOST_CID 2u

/*
 * Connects to uri, or (listening) accepts one connection on it; the connected descriptor, or -1
 * with err holding one line that names the call, the URI and the errno, or VSOCKCAT_BAD_ADDRESS
 * when the URI cannot be used so (err says why). verbose: says on stderr where it listens (a
 * caller can wait for that line) and whom it reached.
 */
#define VSOCKCAT_BAD_ADDRESS (-2)
int vsockcat_open(const struct vsock_uri *uri, const char *text, int listening, int verbose,
		  char *err, size_t err_size);

/* The HyperKit paths of uri: its connect socket, and the socket a listener binds. -1: too long. */
int vsockcat_hyperkit_connect_path(const struct vsock_uri *uri, char *out, size_t size);
int vsockcat_hyperkit_listen_path(const struct vsock_uri *uri, char *out, size_t size);

/*
 * Copies stdin to fd and fd to stdout until both reach EOF: stdin's EOF becomes
 * shutdown(SHUT_WR), fd's closes stdout. 0, or -1 with err saying which call failed.
 */
int vsockcat_relay(int fd, char *err, size_t err_size);

#endif
