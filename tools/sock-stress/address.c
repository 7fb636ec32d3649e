/*
 * address.c: -c/-s URLs to socket addresses. vsock:// and hvsock:// go through tools/vsock-uri
 * (the one parser); this file adds sock_stress's defaults for what that grammar leaves out (a
 * bare scheme, a vsock CID or an hvsock VM without port or service) and unix:PATH, which
 * vsock-uri does not know.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#include "stress.h"
#include "vsock_uri.h"

static int failed(char *err, size_t err_size, const char *call, const char *what, int e)
{
	snprintf(err, err_size, "%s %s: %s", call, what, strerror(e));
	return -1;
}

static int unix_addr(const char *url, const char *path, struct stress_addr *a, char *err,
		     size_t err_size)
{
	struct sockaddr_un *un = (struct sockaddr_un *)&a->sa;

	if (!*path) {
		snprintf(err, err_size, "%s: no path after unix: (unix:PATH or unix://PATH)", url);
		return -1;
	}
	if (strlen(path) >= sizeof(un->sun_path)) {
		snprintf(err, err_size, "%s: the path is longer than a Unix socket's %zu bytes", url,
			 sizeof(un->sun_path) - 1);
		return -1;
	}
	a->family = AF_UNIX;
	un->sun_family = AF_UNIX;
	strcpy(un->sun_path, path);
	a->sa_len = sizeof(*un);
	return 0;
}

/* sock_stress's "vsock", "vsock://CID", "hvsock", "hvsock://VM" with their defaults written out. */
static void fill_defaults(const char *url, char *out, size_t size)
{
	if (strcmp(url, "vsock") == 0)
		snprintf(out, size, "vsock://:%u", STRESS_VSOCK_PORT);
	else if (strcmp(url, "hvsock") == 0)
		snprintf(out, size, "hvsock://wildcard/%s", STRESS_HVSOCK_SERVICE);
	else if (strncmp(url, "vsock://", 8) == 0 && !strchr(url + 8, ':'))
		snprintf(out, size, "%s:%u", url, STRESS_VSOCK_PORT);
	else if (strncmp(url, "hvsock://", 9) == 0 && !strpbrk(url + 9, "/:"))
		snprintf(out, size, "%s/%s", url, STRESS_HVSOCK_SERVICE);
	else
		snprintf(out, size, "%s", url);
}

int stress_parse_addr(const char *url, int listening, struct stress_addr *a, char *err, size_t err_size)
{
	struct sockaddr_vm *vm = (struct sockaddr_vm *)&a->sa;
	struct vsock_uri uri;
	uint32_t cid, port;
	char why[256];

	memset(a, 0, sizeof(*a));
	if (strncmp(url, "unix:", 5) == 0) {
		snprintf(a->text, sizeof(a->text), "%s", url);
		return unix_addr(url, url + 5 + (strncmp(url + 5, "//", 2) == 0 ? 2 : 0), a, err,
				 err_size);
	}
	fill_defaults(url, a->text, sizeof(a->text));
	if (vsock_uri_parse(a->text, &uri, why, sizeof(why))) {
		snprintf(err, err_size, "%s", why);
		return -1;
	}
	switch (uri.scheme) {
	case VSOCK_URI_VSOCK:
		if (!listening && !uri.has_cid) {
			snprintf(err, err_size, "%s: a client needs a CID (vsock://CID:PORT)", a->text);
			return -1;
		}
		cid = uri.has_cid ? uri.cid : VMADDR_CID_ANY;
		port = uri.port;
		break;
	case VSOCK_URI_HVSOCK:
		if (vsock_uri_hvsock_to_vsock(&uri, listening, &cid, &port, why, sizeof(why))) {
			snprintf(err, err_size, "%s: %s", a->text, why);
			return -1;
		}
		break;
	default:
		snprintf(err, err_size, "%s: sock-stress takes vsock://, hvsock:// and unix: URLs",
			 a->text);
		return -1;
	}
	a->family = AF_VSOCK;
	vm->svm_family = AF_VSOCK;
	vm->svm_cid = cid;
	vm->svm_port = port;
	a->sa_len = sizeof(*vm);
	return 0;
}

int stress_connect(const struct stress_addr *a, char *err, size_t err_size)
{
	int fd = socket(a->family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return failed(err, err_size, "socket for", a->text, errno);
	if (connect(fd, (const struct sockaddr *)&a->sa, a->sa_len) < 0) {
		failed(err, err_size, "connect", a->text, errno);
		close(fd);
		return -1;
	}
	return fd;
}

int stress_listen(const struct stress_addr *a, char *err, size_t err_size)
{
	const struct sockaddr_un *un = (const struct sockaddr_un *)&a->sa;
	int fd = socket(a->family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return failed(err, err_size, "socket for", a->text, errno);
	if (a->family == AF_UNIX && unlink(un->sun_path) < 0 && errno != ENOENT) {
		failed(err, err_size, "unlink of the stale socket of", a->text, errno);
	} else if (bind(fd, (const struct sockaddr *)&a->sa, a->sa_len) < 0) {
		failed(err, err_size, "bind", a->text, errno);
	} else if (listen(fd, 128) < 0) {
		failed(err, err_size, "listen", a->text, errno);
	} else {
		return fd;
	}
	close(fd);
	return -1;
}
