/* open.c: a vsockcat URI to a connected stream: AF_VSOCK for vsock:// and hvsock://, Unix
 * sockets through HyperKit's state directory for hyperkit://. */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#include "vsc.h"	/* vsc_errname */
#include "vsockcat.h"

/* One line for a failed call: "connect vsock://1:80: ECONNREFUSED (Connection refused)". */
static int call_failed(char *err, size_t err_size, const char *call, const char *what, int e)
{
	snprintf(err, err_size, "%s %s: %s (%s)", call, what, vsc_errname(e), strerror(e));
	return -1;
}

static int hyperkit_path(const struct vsock_uri *uri, const char *leaf, char *out, size_t size)
{
	struct sockaddr_un un;
	int n = snprintf(out, size, "%s/%s", uri->path, leaf);

	return n < 0 || (size_t)n >= size || (size_t)n >= sizeof(un.sun_path) ? -1 : 0;
}

int vsockcat_hyperkit_connect_path(const struct vsock_uri *uri, char *out, size_t size)
{
	return hyperkit_path(uri, "connect", out, size);
}

int vsockcat_hyperkit_listen_path(const struct vsock_uri *uri, char *out, size_t size)
{
	char leaf[32];

	snprintf(leaf, sizeof(leaf), "%08x.%08x", uri->has_cid ? uri->cid : HYPERKIT_HOST_CID,
		 uri->port);
	return hyperkit_path(uri, leaf, out, size);
}

/* Listens on fd (bound already): l holds it, or it is closed and -1 returned. */
static int listen_on(int fd, const char *text, int verbose, struct vsockcat_listener *l,
		     char *err, size_t err_size)
{
	if (listen(fd, 1) < 0) {
		call_failed(err, err_size, "listen", text, errno);
		close(fd);
		return -1;
	}
	if (verbose)
		fprintf(stderr, "vsockcat: listening on %s\n", text);
	l->fd = fd;
	l->text = text;
	l->verbose = verbose;
	return 0;
}

int vsockcat_accept(const struct vsockcat_listener *l, char *err, size_t err_size)
{
	int conn;

	do
		conn = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC);
	while (conn < 0 && errno == EINTR);
	if (conn < 0)
		return call_failed(err, err_size, "accept", l->text, errno);
	if (l->verbose)
		fprintf(stderr, "vsockcat: accepted a connection on %s\n", l->text);
	return conn;
}

void vsockcat_listener_close(struct vsockcat_listener *l)
{
	close(l->fd);
	/* A HyperKit listener's socket file goes with it, as HyperKit's own clients do. */
	if (l->path[0])
		unlink(l->path);
	l->fd = -1;
}

/* Connected: the descriptor. Listening: 0 and l filled in. -1 with err on failure. */
static int open_vsock(uint32_t cid, uint32_t port, struct vsockcat_listener *l, const char *text,
		      int verbose, char *err, size_t err_size)
{
	struct sockaddr_vm addr = { .svm_family = AF_VSOCK, .svm_cid = cid, .svm_port = port };
	int fd;

	fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return call_failed(err, err_size, "socket(AF_VSOCK) for", text, errno);
	if (!l) {
		if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
			call_failed(err, err_size, "connect", text, errno);
			close(fd);
			return -1;
		}
		if (verbose)
			fprintf(stderr, "vsockcat: connected to %s\n", text);
		return fd;
	}
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		call_failed(err, err_size, "bind", text, errno);
		close(fd);
		return -1;
	}
	return listen_on(fd, text, verbose, l, err, err_size);
}

/* HyperKit: a connection is a Unix connect to DIR/connect and the line "CID.PORT\n" in hex. */
static int open_hyperkit(const struct vsock_uri *uri, struct vsockcat_listener *l, const char *text,
			 int verbose, char *err, size_t err_size)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	char line[32], what[sizeof(addr.sun_path) + 256];
	int fd, n;

	if ((l ? vsockcat_hyperkit_listen_path : vsockcat_hyperkit_connect_path)
	    (uri, addr.sun_path, sizeof(addr.sun_path))) {
		snprintf(err, err_size, "%s: the state directory is too long for a Unix socket path "
			 "(%zu bytes at most)", text, sizeof(addr.sun_path) - 1);
		return VSOCKCAT_BAD_ADDRESS;
	}
	/* Errors name the socket file and the URI it came from. */
	snprintf(what, sizeof(what), "%s for %s", addr.sun_path, text);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return call_failed(err, err_size, "socket(AF_UNIX) for", text, errno);
	if (l) {
		/* As HyperKit's own clients do: a stale socket file of an earlier listener goes. */
		if (unlink(addr.sun_path) < 0 && errno != ENOENT)
			call_failed(err, err_size, "unlink", what, errno);
		else if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
			call_failed(err, err_size, "bind", what, errno);
		else if (listen_on(fd, text, verbose, l, err, err_size) == 0) {
			snprintf(l->path, sizeof(l->path), "%s", addr.sun_path);
			return 0;
		} else {
			unlink(addr.sun_path);
			return -1;
		}
		close(fd);
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		call_failed(err, err_size, "connect", what, errno);
		close(fd);
		return -1;
	}
	n = snprintf(line, sizeof(line), "%08x.%08x\n",
		     uri->has_cid ? uri->cid : HYPERKIT_GUEST_CID, uri->port);
	if (write(fd, line, (size_t)n) != n) {
		call_failed(err, err_size, "write of the CID.PORT line to", what, errno);
		close(fd);
		return -1;
	}
	if (verbose)
		fprintf(stderr, "vsockcat: connected to %s\n", text);
	return fd;
}

/* Connecting (l NULL) or listening (l filled in): the shared address checks, then the scheme's way. */
static int open_uri(const struct vsock_uri *uri, const char *text, struct vsockcat_listener *l,
		    int verbose, char *err, size_t err_size)
{
	uint32_t cid, port;
	char why[256];

	switch (uri->scheme) {
	case VSOCK_URI_VSOCK:
		if (!l && !uri->has_cid) {
			snprintf(err, err_size, "%s: connecting needs a CID (vsock://CID:PORT); "
				 "vsock://:PORT is for -l", text);
			return VSOCKCAT_BAD_ADDRESS;
		}
		return open_vsock(uri->has_cid ? uri->cid : VMADDR_CID_ANY, uri->port, l, text,
				  verbose, err, err_size);
	case VSOCK_URI_HVSOCK:
		if (vsock_uri_hvsock_to_vsock(uri, l != NULL, &cid, &port, why, sizeof(why))) {
			snprintf(err, err_size, "%s: %s", text, why);
			return VSOCKCAT_BAD_ADDRESS;
		}
		return open_vsock(cid, port, l, text, verbose, err, err_size);
	case VSOCK_URI_HYPERKIT:
		return open_hyperkit(uri, l, text, verbose, err, err_size);
	}
	snprintf(err, err_size, "%s: unknown scheme", text);
	return VSOCKCAT_BAD_ADDRESS;
}

int vsockcat_connect(const struct vsock_uri *uri, const char *text, int verbose, char *err,
		     size_t err_size)
{
	return open_uri(uri, text, NULL, verbose, err, err_size);
}

int vsockcat_listen(const struct vsock_uri *uri, const char *text, int verbose,
		    struct vsockcat_listener *l, char *err, size_t err_size)
{
	*l = (struct vsockcat_listener){ .fd = -1 };
	return open_uri(uri, text, l, verbose, err, err_size);
}
