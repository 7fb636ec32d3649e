/*
 * calls.c: the agent's socket calls, one per request "do". Each fills the reply's "ret",
 * "errno" (a name, or null) and "port" (its socket's local port, -1 when unbound or gone).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <linux/vm_sockets.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "agent.h"
#include "vsc.h"
#include "vsc_hex.h"
#include "vsc_sockdiag.h"

struct agent_sock *agent_sock_find(const char *name)
{
	for (int i = 0; i < AGENT_SOCKS_MAX; i++)
		if (agent_socks[i].fd >= 0 && !strcmp(agent_socks[i].name, name))
			return &agent_socks[i];
	return NULL;
}

/* Registers fd under name; -1 (EMFILE) when the table is full. */
static int sock_add(const char *name, int fd)
{
	int rc = -1;

	pthread_mutex_lock(&agent_lock);
	for (int i = 0; i < AGENT_SOCKS_MAX; i++)
		if (agent_socks[i].fd < 0) {
			snprintf(agent_socks[i].name, AGENT_NAME_MAX, "%s", name);
			agent_socks[i].fd = fd;
			agent_socks[i].busy = agent_socks[i].orphan = 0;
			rc = 0;
			break;
		}
	pthread_mutex_unlock(&agent_lock);
	return rc;
}

static const char *str(json_object *req, const char *key)
{
	json_object *e;

	return json_object_object_get_ex(req, key, &e) && json_object_is_type(e, json_type_string) ?
		json_object_get_string(e) : NULL;
}

static int64_t num(json_object *req, const char *key, int64_t def)
{
	json_object *e;

	return json_object_object_get_ex(req, key, &e) && json_object_is_type(e, json_type_int) ?
		json_object_get_int64(e) : def;
}

static int lookup_fd(json_object *req)
{
	const char *name = str(req, "sock");
	struct agent_sock *s;
	int fd = -1;

	if (!name)
		return -1;
	pthread_mutex_lock(&agent_lock);
	s = agent_sock_find(name);
	if (s)
		fd = s->fd;
	pthread_mutex_unlock(&agent_lock);
	return fd;
}

/* Ports are u32 (the kernel picks ephemeral ones above 2^31 too): -1 when unbound or gone. */
static int64_t local_port(int fd)
{
	struct sockaddr_vm addr;
	socklen_t len = sizeof(addr);
	int saved = errno;
	int64_t port = -1;

	if (fd >= 0 && getsockname(fd, (struct sockaddr *)&addr, &len) == 0 &&
	    addr.svm_port != VMADDR_PORT_ANY)
		port = addr.svm_port;
	errno = saved;
	return port;
}

static void finish(json_object *reply, long ret, int err, int fd)
{
	json_object_object_add(reply, "ret", json_object_new_int64(ret));
	json_object_object_add(reply, "errno", ret < 0 ? json_object_new_string(vsc_errname(err)) : NULL);
	json_object_object_add(reply, "port", json_object_new_int64(local_port(fd)));
}

/* The request's socket, created when new (bind, listen, connect). */
int agent_sock_open(json_object *req, int *err)
{
	const char *type = str(req, "type");
	int fd = lookup_fd(req);

	if (fd >= 0)
		return fd;
	if (!str(req, "sock")) {
		*err = EINVAL;
		return -1;
	}
	fd = socket(AF_VSOCK, type && !strcmp(type, "seqpacket") ? SOCK_SEQPACKET : SOCK_STREAM, 0);
	if (fd < 0) {
		*err = errno;
		return -1;
	}
	if (sock_add(str(req, "sock"), fd)) {
		close(fd);
		*err = EMFILE;
		return -1;
	}
	return fd;
}

/* sockaddr_vm holds u32 CIDs and ports: a wider value is the request's error, not truncated. */
static int vm_address(json_object *req, uint32_t def_cid, uint32_t def_port, struct sockaddr_vm *addr)
{
	int64_t cid = num(req, "cid", def_cid), port = num(req, "port", def_port);

	memset(addr, 0, sizeof(*addr));
	addr->svm_family = AF_VSOCK;
	if (cid < 0 || cid > UINT32_MAX || port < 0 || port > UINT32_MAX) {
		errno = EINVAL;
		return -1;
	}
	addr->svm_cid = (uint32_t)cid;
	addr->svm_port = (uint32_t)port;
	return 0;
}

static int do_bind(int fd, json_object *req)
{
	struct sockaddr_vm addr;

	if (vm_address(req, VMADDR_CID_ANY, VMADDR_PORT_ANY, &addr))
		return -1;
	return bind(fd, (struct sockaddr *)&addr, sizeof(addr));
}

static int set_timeval_ms(int fd, int level, int opt, int64_t ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };

	return setsockopt(fd, level, opt, &tv, sizeof(tv));
}

/*
 * Digit by digit: sscanf("%2x") measured the whole rest of the string on every call, so a
 * 256 KiB send took minutes under TCG and the orphaned call outlived its fixture.
 */
static int hex_decode(const char *hex, size_t len, unsigned char *out)
{
	for (size_t i = 0; i < len; i++) {
		int hi = vsc_hex_digit(hex[2 * i]), lo = vsc_hex_digit(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

static json_object *hex_encode(const unsigned char *buf, size_t len)
{
	char *hex = malloc(2 * len + 1);
	json_object *s;

	if (!hex)
		return NULL;
	for (size_t i = 0; i < len; i++)
		snprintf(hex + 2 * i, 3, "%02x", buf[i]);
	s = json_object_new_string_len(hex, (int)(2 * len));
	free(hex);
	return s;
}

static void call_accept(int fd, json_object *req, json_object *reply)
{
	struct sockaddr_vm peer;
	socklen_t len = sizeof(peer);
	int nfd, flags = fcntl(fd, F_GETFL), err;

	if (num(req, "nonblock", 0) || (json_object_object_get_ex(req, "nonblock", NULL) &&
					json_object_get_boolean(json_object_object_get(req, "nonblock"))))
		fcntl(fd, F_SETFL, flags | O_NONBLOCK);
	nfd = accept(fd, (struct sockaddr *)&peer, &len);
	err = errno;
	fcntl(fd, F_SETFL, flags);
	if (nfd >= 0 && (!str(req, "as") || sock_add(str(req, "as"), nfd))) {
		close(nfd);
		nfd = -1;
		err = str(req, "as") ? EMFILE : EINVAL;
	}
	if (nfd >= 0) {
		json_object_object_add(reply, "peer_cid", json_object_new_int64(peer.svm_cid));
		json_object_object_add(reply, "peer_port", json_object_new_int64(peer.svm_port));
	}
	finish(reply, nfd < 0 ? -1 : 0, err, nfd >= 0 ? nfd : fd);
}

static void call_send(int fd, json_object *req, json_object *reply)
{
	const char *hex = str(req, "hex");
	size_t len = hex ? strlen(hex) / 2 : 0;
	unsigned char *buf = malloc(len ? len : 1);
	int flags;
	ssize_t n;

	if (!buf || !hex || len > AGENT_DATA_MAX || strlen(hex) % 2 || hex_decode(hex, len, buf) ||
	    agent_msg_flags(json_object_object_get(req, "flags"), &flags)) {
		free(buf);
		finish(reply, -1, EINVAL, fd);
		return;
	}
	n = send(fd, buf, len, flags | MSG_NOSIGNAL);
	finish(reply, n, errno, fd);
	free(buf);
}

static void call_recv(int fd, json_object *req, json_object *reply)
{
	int64_t len = num(req, "len", -1);
	unsigned char *buf;
	struct iovec iov;
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	int flags;
	ssize_t n;

	if (len < 0 || len > AGENT_DATA_MAX ||
	    agent_msg_flags(json_object_object_get(req, "flags"), &flags) ||
	    !(buf = malloc(len ? (size_t)len : 1))) {
		finish(reply, -1, EINVAL, fd);
		return;
	}
	iov = (struct iovec){ buf, (size_t)len };
	n = recvmsg(fd, &msg, flags);
	finish(reply, n, errno, fd);
	if (n >= 0) {
		json_object_object_add(reply, "hex", hex_encode(buf, (size_t)n < (size_t)len ? (size_t)n : (size_t)len));
		json_object_object_add(reply, "msg_flags", json_object_new_int(msg.msg_flags));
	}
	free(buf);
}

static void call_sockopt(int fd, json_object *req, json_object *reply, int set)
{
	const struct agent_opt *o = agent_opt_find(str(req, "level"), str(req, "opt") ? str(req, "opt") : "");
	json_object *value_json = json_object_object_get(req, "value");
	/* u64 options take the full range (json-c's int64 getter would stop at 2^63-1). */
	uint64_t uvalue = value_json ? json_object_get_uint64(value_json) : 0;
	int64_t value = num(req, "value", 0);
	union {
		int i;
		uint64_t u;
		struct timeval tv;
		struct linger l;
	} v;
	socklen_t len;
	int rc;

	if (!o) {
		finish(reply, -1, ENOPROTOOPT, fd);
		return;
	}
	memset(&v, 0, sizeof(v));
	switch (o->kind) {
	case OPT_INT:
		v.i = (int)value;
		len = sizeof(v.i);
		break;
	case OPT_U64:
		v.u = uvalue;
		len = sizeof(v.u);
		break;
	case OPT_TIMEVAL_MS:
		v.tv = (struct timeval){ value / 1000, (value % 1000) * 1000 };
		len = sizeof(v.tv);
		break;
	default:
		v.l = (struct linger){ 1, (int)value };
		len = sizeof(v.l);
		break;
	}
	if (set) {
		rc = setsockopt(fd, o->level, o->optname, &v, len);
		finish(reply, rc, errno, fd);
		return;
	}
	rc = getsockopt(fd, o->level, o->optname, &v, &len);
	finish(reply, rc, errno, fd);
	if (rc == 0 && o->kind == OPT_U64)
		json_object_object_add(reply, "value", json_object_new_uint64(v.u));
	else if (rc == 0)
		json_object_object_add(reply, "value", json_object_new_int64(
			o->kind == OPT_INT ? v.i :
			o->kind == OPT_TIMEVAL_MS ? (int64_t)v.tv.tv_sec * 1000 + v.tv.tv_usec / 1000 :
			v.l.l_onoff ? v.l.l_linger : -1));
}

static void call_poll(int fd, json_object *req, json_object *reply)
{
	struct pollfd p = { .fd = fd };
	int so_error = 0, rc;
	socklen_t len = sizeof(so_error);

	if (agent_poll_events(json_object_object_get(req, "events"), &p.events)) {
		finish(reply, -1, EINVAL, fd);
		return;
	}
	rc = poll(&p, 1, (int)num(req, "timeout_ms", 0));
	finish(reply, rc, errno, fd);
	json_object_object_add(reply, "revents", agent_revents(p.revents));
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len);
	json_object_object_add(reply, "so_error", so_error ? json_object_new_string(vsc_errname(so_error)) :
			       json_object_new_int(0));
}

static void call_diag(int fd, json_object *reply)
{
	struct vsc_sockdiag_list list;
	struct stat st;
	int rc, queued;

	if (fstat(fd, &st) != 0) {
		finish(reply, -1, errno, fd);
		return;
	}
	rc = vsc_sockdiag_dump(VSC_SOCKDIAG_ALL_STATES, &list);
	if (rc < 0) {
		finish(reply, -1, -rc, fd);
		return;
	}
	for (size_t i = 0; i < list.count; i++) {
		const struct vsock_diag_msg *m = &list.sockets[i];
		json_object *d;

		if (m->vdiag_ino != st.st_ino)
			continue;
		d = json_object_new_object();
		json_object_object_add(d, "state", json_object_new_string(agent_tcp_state(m->vdiag_state)));
		json_object_object_add(d, "shutdown", json_object_new_int(m->vdiag_shutdown));
		json_object_object_add(d, "src_port", json_object_new_int64(m->vdiag_src_port));
		json_object_object_add(d, "dst_cid", json_object_new_int64(m->vdiag_dst_cid));
		json_object_object_add(d, "dst_port", json_object_new_int64(m->vdiag_dst_port));
		/* sock_diag has no queue lengths for vsock: SIOCINQ/SIOCOUTQ where the kernel has them. */
		json_object_object_add(d, "rqueue", json_object_new_int(ioctl(fd, SIOCINQ, &queued) ? -1 : queued));
		json_object_object_add(d, "wqueue", json_object_new_int(ioctl(fd, SIOCOUTQ, &queued) ? -1 : queued));
		json_object_object_add(reply, "diag", d);
		vsc_sockdiag_free(&list);
		finish(reply, 0, 0, fd);
		return;
	}
	vsc_sockdiag_free(&list);
	finish(reply, -1, ENOENT, fd);
}

void agent_call(const char *what, json_object *req, json_object *reply)
{
	int err = 0, fd, rc;

	if (!strcmp(what, "bind") || !strcmp(what, "listen") || !strcmp(what, "connect")) {
		int existed = lookup_fd(req) >= 0;

		fd = agent_sock_open(req, &err);
		if (fd < 0) {
			finish(reply, -1, err, fd);
			return;
		}
		if (!strcmp(what, "bind")) {
			rc = do_bind(fd, req);
			finish(reply, rc, errno, fd);
			return;
		}
		if (!strcmp(what, "listen")) {
			rc = 0;
			if (!existed || json_object_object_get_ex(req, "port", NULL))
				rc = existed && local_port(fd) >= 0 ? 0 : do_bind(fd, req);
			if (rc == 0)
				rc = listen(fd, (int)num(req, "backlog", 16));
			finish(reply, rc, errno, fd);
			return;
		}
		struct sockaddr_vm addr;

		if (vm_address(req, 0, 0, &addr)) {
			finish(reply, -1, errno, fd);
			return;
		}
		if (json_object_get_boolean(json_object_object_get(req, "nonblock")))
			fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
		if (num(req, "timeout_ms", -1) >= 0 &&
		    set_timeval_ms(fd, AF_VSOCK, SO_VM_SOCKETS_CONNECT_TIMEOUT, num(req, "timeout_ms", 0))) {
			finish(reply, -1, errno, fd);
			return;
		}
		rc = connect(fd, (struct sockaddr *)&addr, sizeof(addr));
		finish(reply, rc, errno, fd);
		return;
	}
	fd = lookup_fd(req);
	if (fd < 0) {
		finish(reply, -1, EBADF, fd);
		return;
	}
	if (!strcmp(what, "accept"))
		call_accept(fd, req, reply);
	else if (!strcmp(what, "send"))
		call_send(fd, req, reply);
	else if (!strcmp(what, "recv"))
		call_recv(fd, req, reply);
	else if (!strcmp(what, "shutdown")) {
		const char *how = str(req, "how");
		int h = !how ? -1 : !strcmp(how, "rd") ? SHUT_RD : !strcmp(how, "wr") ? SHUT_WR :
			!strcmp(how, "rdwr") ? SHUT_RDWR : -1;

		if (h < 0) {
			finish(reply, -1, EINVAL, fd);
			return;
		}
		rc = shutdown(fd, h);
		finish(reply, rc, errno, fd);
	} else if (!strcmp(what, "close")) {
		int64_t port = local_port(fd);

		pthread_mutex_lock(&agent_lock);
		struct agent_sock *s = agent_sock_find(str(req, "sock"));

		if (s)
			s->fd = -1;
		pthread_mutex_unlock(&agent_lock);
		rc = close(fd);
		finish(reply, rc, errno, -1);
		json_object_object_add(reply, "port", json_object_new_int64(port));
	} else if (!strcmp(what, "setsockopt") || !strcmp(what, "getsockopt")) {
		call_sockopt(fd, req, reply, what[0] == 's');
	} else if (!strcmp(what, "poll")) {
		call_poll(fd, req, reply);
	} else if (!strcmp(what, "diag")) {
		call_diag(fd, reply);
	} else if (!strcmp(what, "getsockname")) {
		struct sockaddr_vm addr;
		socklen_t len = sizeof(addr);

		rc = getsockname(fd, (struct sockaddr *)&addr, &len);
		finish(reply, rc, errno, fd);
		if (rc == 0)
			json_object_object_add(reply, "cid", json_object_new_int64(addr.svm_cid));
	} else {
		finish(reply, -1, EOPNOTSUPP, -1);
	}
}
