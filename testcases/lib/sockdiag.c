/* sockdiag.c: asks NETLINK_SOCK_DIAG for AF_VSOCK sockets through libnl-3, decodes the replies. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <linux/sock_diag.h>
#include <linux/vm_sockets.h>
#include <netlink/errno.h>
#include <netlink/handlers.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>

#include "vsc_sockdiag.h"

/* What the replies to one request gave. */
struct replies {
	struct vsc_sockdiag_list *list;	/* NULL when only the verdict matters */
	size_t capacity;
	int err;			/* first error: the kernel's NLMSG_ERROR or a bad reply */
};

/* libnl folds errno values into its own codes; callers of this file speak errno. */
static int errno_of(int nl_err)
{
	switch (nl_err < 0 ? -nl_err : nl_err) {
	case NLE_INTR: return -EINTR;
	case NLE_BAD_SOCK: return -EBADF;
	case NLE_AGAIN: return -EAGAIN;
	case NLE_NOMEM: return -ENOMEM;
	case NLE_INVAL: return -EINVAL;
	case NLE_OPNOTSUPP: return -EOPNOTSUPP;
	case NLE_AF_NOSUPPORT: return -EAFNOSUPPORT;
	case NLE_OBJ_NOTFOUND: return -ENOENT;
	case NLE_PROTO_MISMATCH: return -EPROTONOSUPPORT;
	case NLE_NOACCESS: return -EACCES;
	case NLE_PERM: return -EPERM;
	case NLE_SEQ_MISMATCH: return -EPROTO;
	case NLE_MSG_TRUNC:
	case NLE_MSG_TOOSHORT:
	case NLE_MSG_OVERFLOW: return -EBADMSG;
	default: return -EIO;
	}
}

static int on_valid(struct nl_msg *msg, void *arg)
{
	struct replies *r = arg;
	struct nlmsghdr *h = nlmsg_hdr(msg);
	const struct vsock_diag_msg *m = nlmsg_data(h);
	struct vsc_sockdiag_list *list = r->list;

	if (!list)
		return NL_OK;
	/* A reply shorter than the structure would be read past its end: refuse it whole. */
	if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY || nlmsg_datalen(h) < (int)sizeof(*m) ||
	    m->vdiag_family != AF_VSOCK) {
		r->err = -EBADMSG;
		return NL_STOP;
	}
	if (list->count == r->capacity) {
		size_t capacity = r->capacity ? 2 * r->capacity : 16;
		struct vsock_diag_msg *grown = realloc(list->sockets, capacity * sizeof(*grown));

		if (!grown) {
			r->err = -ENOMEM;
			return NL_STOP;
		}
		list->sockets = grown;
		r->capacity = capacity;
	}
	list->sockets[list->count++] = *m;
	return NL_OK;
}

static int on_error(struct sockaddr_nl *who, struct nlmsgerr *e, void *arg)
{
	struct replies *r = arg;

	(void)who;
	if (!r->err)
		r->err = e->error;	/* the kernel sends -errno */
	return NL_STOP;
}

/* One request on a fresh socket, every reply read: the dump's NLMSG_DONE, an ACK or an error. */
static int exchange(const void *payload, size_t len, int flags, int ack, struct replies *r)
{
	struct nl_sock *sk = nl_socket_alloc();
	struct nl_cb *cb = nl_cb_alloc(NL_CB_DEFAULT);
	int err;

	if (!sk || !cb) {
		err = -ENOMEM;
		goto out;
	}
	if (!ack)
		nl_socket_disable_auto_ack(sk);
	err = nl_connect(sk, NETLINK_SOCK_DIAG);
	if (err < 0) {
		err = errno_of(err);
		goto out;
	}
	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, on_valid, r);
	nl_cb_err(cb, NL_CB_CUSTOM, on_error, r);
	err = nl_send_simple(sk, SOCK_DIAG_BY_FAMILY, flags, (void *)payload, len);
	if (err < 0) {
		err = errno_of(err);
		goto out;
	}
	err = nl_recvmsgs(sk, cb);
	if (r->err)
		err = r->err;
	else
		err = err < 0 ? errno_of(err) : 0;
out:
	nl_cb_put(cb);
	nl_socket_free(sk);
	return err;
}

int vsc_sockdiag_dump(uint32_t states, struct vsc_sockdiag_list *list)
{
	struct vsock_diag_req req = {
		.sdiag_family = AF_VSOCK,
		.vdiag_states = states,
	};
	struct replies r = { .list = list };
	int err;

	list->sockets = NULL;
	list->count = 0;
	/* A dump ends with NLMSG_DONE; an ACK on top would only be one more message to read. */
	err = exchange(&req, sizeof(req), NLM_F_DUMP, 0, &r);
	if (err)
		vsc_sockdiag_free(list);
	return err;
}

void vsc_sockdiag_free(struct vsc_sockdiag_list *list)
{
	free(list->sockets);
	list->sockets = NULL;
	list->count = 0;
}

int vsc_sockdiag_request(const void *payload, size_t len, int extra_flags)
{
	struct replies r = { .list = NULL };

	/* NLM_F_ACK: a request the kernel takes without a dump still gets an answer to wait for. */
	return exchange(payload, len, extra_flags, 1, &r);
}

const char *vsc_sockdiag_state_name(unsigned int state)
{
	static const char *const names[] = {
		[TCP_ESTABLISHED] = "ESTAB",	   [TCP_SYN_SENT] = "SYN-SENT",
		[TCP_SYN_RECV] = "SYN-RECV",	   [TCP_FIN_WAIT1] = "FIN-WAIT-1",
		[TCP_FIN_WAIT2] = "FIN-WAIT-2",	   [TCP_TIME_WAIT] = "TIME-WAIT",
		[TCP_CLOSE] = "UNCONN",		   [TCP_CLOSE_WAIT] = "CLOSE-WAIT",
		[TCP_LAST_ACK] = "LAST-ACK",	   [TCP_LISTEN] = "LISTEN",
		[TCP_CLOSING] = "CLOSING",
	};

	if (state < sizeof(names) / sizeof(names[0]) && names[state])
		return names[state];
	return "UNKNOWN";
}

const char *vsc_sockdiag_netid(unsigned int type)
{
	switch (type) {
	case SOCK_STREAM:
		return "v_str";
	case SOCK_DGRAM:
		return "v_dgr";
	case SOCK_SEQPACKET:
		return "v_seq";	/* ss prints "???" here; the kernel has had SEQPACKET since 5.14 */
	default:
		return "???";
	}
}

char *vsc_sockdiag_address(char out[VSC_SOCKDIAG_ADDR_MAX], unsigned int cid, unsigned int port)
{
	char cid_text[11] = "*", port_text[11] = "*";

	if (cid != VMADDR_CID_ANY)
		snprintf(cid_text, sizeof(cid_text), "%u", cid);
	if (port != VMADDR_PORT_ANY)
		snprintf(port_text, sizeof(port_text), "%u", port);
	snprintf(out, VSC_SOCKDIAG_ADDR_MAX, "%s:%s", cid_text, port_text);
	return out;
}
