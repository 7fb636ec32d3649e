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
 * Connects to uri: the connected descriptor, or -1 with err holding one line that names the
 * call, the URI and the errno, or VSOCKCAT_BAD_ADDRESS when the URI cannot be used so (err says
 * why). verbose: says on stderr whom it reached.
 */
#define VSOCKCAT_BAD_ADDRESS (-2)
int vsockcat_connect(const struct vsock_uri *uri, const char *text, int verbose, char *err,
		     size_t err_size);

/* A listening socket, and what it needs to accept and to go away. */
struct vsockcat_listener {
	int fd;
	const char *text;	/* the URI, for messages */
	int verbose;		/* say on stderr where it listens and what it accepted */
	char path[108];		/* hyperkit://: the socket file to remove at close, else "" */
};

/* Listens on uri: 0, or -1 / VSOCKCAT_BAD_ADDRESS as vsockcat_connect. verbose: says
 * "vsockcat: listening on URI" on stderr (a caller can wait for that line). */
int vsockcat_listen(const struct vsock_uri *uri, const char *text, int verbose,
		    struct vsockcat_listener *l, char *err, size_t err_size);
/* The next connection (close on exec), or -1 with err. */
int vsockcat_accept(const struct vsockcat_listener *l, char *err, size_t err_size);
void vsockcat_listener_close(struct vsockcat_listener *l);

/* The HyperKit paths of uri: its connect socket, and the socket a listener binds. -1: too long. */
int vsockcat_hyperkit_connect_path(const struct vsock_uri *uri, char *out, size_t size);
int vsockcat_hyperkit_listen_path(const struct vsock_uri *uri, char *out, size_t size);

/* What the relay joins: the connection, and where its bytes come from and go to. */
struct vsockcat_ends {
	int sock;		/* the connection; the relay makes it non-blocking */
	int in, out;		/* stdin and stdout, or -e CMD's stdout and stdin pipes */
	const char *in_name, *out_name;	/* for messages: "stdin", "CMD's stdout", ... */
	int out_is_cmd;		/* out is CMD's stdin: CMD not reading (EPIPE) is no error */
};

/*
 * Copies in to sock and sock to out until both reach EOF, each way by itself: in's EOF becomes
 * shutdown(SHUT_WR) while sock is still read; sock's EOF closes out while in is still sent.
 * Partial writes, EINTR and EAGAIN are retried. in and out are closed by the time it returns
 * (the socket is the caller's). 0, or -1 with err naming the call, the side and
 * the errno (a peer's reset: "read from the connection: ECONNRESET ...").
 */
int vsockcat_relay(const struct vsockcat_ends *ends, char *err, size_t err_size);

/*
 * -e: starts /bin/sh -c cmd with pipes for its stdin and stdout (ours non-blocking, close on
 * exec; its stderr is ours); its pid, or -1 with err. vsockcat_cmd_wait: waits for it; its exit
 * status or 128 + the signal that ended it.
 */
int vsockcat_cmd_start(const char *cmd, int *to_cmd, int *from_cmd, char *err, size_t err_size);
int vsockcat_cmd_wait(int pid);

#endif
