/* mon_link.c: creates, brings up and deletes the vsockmon link with libnl-route-3. */
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>

#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>

#include "mon_link.h"

#define LINK_TYPE "vsockmon"

struct mon_link {
	struct nl_sock *sock;
	struct rtnl_link *link;	/* holds the name the kernel knows it by */
};

static void free_link(struct mon_link *mon)
{
	if (mon->link)
		rtnl_link_put(mon->link);
	if (mon->sock)
		nl_socket_free(mon->sock);
	free(mon);
}

/* The kernel answers an unknown link kind with EOPNOTSUPP (after its request_module failed). */
static int is_unsupported(int nl_err)
{
	return nl_err == -NLE_OPNOTSUPP || nl_err == -NLE_NOATTR;
}

/* Takes away a link this program created but could not go on with. */
static void delete_by_name(struct nl_sock *sock, const char *name)
{
	struct rtnl_link *link = rtnl_link_alloc();

	if (!link)
		return;
	rtnl_link_set_name(link, name);
	rtnl_link_delete(sock, link);
	rtnl_link_put(link);
}

static int bring_up(struct mon_link *mon, const char *name, char *err, size_t err_len)
{
	struct rtnl_link *change = rtnl_link_alloc();
	int ret;

	if (!change) {
		snprintf(err, err_len, "rtnl_link_alloc: out of memory");
		return -1;
	}
	rtnl_link_set_flags(change, IFF_UP);
	ret = rtnl_link_change(mon->sock, mon->link, change, 0);
	rtnl_link_put(change);
	if (ret < 0) {
		snprintf(err, err_len, "rtnl_link_change %s up: %s", name, nl_geterror(ret));
		return -1;
	}
	return 0;
}

struct mon_link *mon_link_create(const char *name, int *ifindex, int *unsupported, char *err,
				 size_t err_len)
{
	struct mon_link *mon = calloc(1, sizeof(*mon));
	struct rtnl_link *request;
	int ret;

	*unsupported = 0;
	if (!mon) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	mon->sock = nl_socket_alloc();
	if (!mon->sock) {
		snprintf(err, err_len, "nl_socket_alloc: out of memory");
		goto fail;
	}
	ret = nl_connect(mon->sock, NETLINK_ROUTE);
	if (ret < 0) {
		snprintf(err, err_len, "nl_connect NETLINK_ROUTE: %s", nl_geterror(ret));
		goto fail;
	}
	request = rtnl_link_alloc();
	if (!request) {
		snprintf(err, err_len, "rtnl_link_alloc: out of memory");
		goto fail;
	}
	rtnl_link_set_name(request, name);
	ret = rtnl_link_set_type(request, LINK_TYPE);
	if (ret >= 0)
		ret = rtnl_link_add(mon->sock, request, NLM_F_CREATE | NLM_F_EXCL);
	rtnl_link_put(request);
	if (ret < 0) {
		*unsupported = is_unsupported(ret);
		snprintf(err, err_len, "rtnl_link_add %s type %s: %s%s", name, LINK_TYPE, nl_geterror(ret),
			 *unsupported ? " (the kernel has no vsockmon link type: CONFIG_VSOCKMON, "
					"is vsockmon.ko loaded?)" : "");
		goto fail;
	}
	ret = rtnl_link_get_kernel(mon->sock, 0, name, &mon->link);
	if (ret < 0) {
		snprintf(err, err_len, "rtnl_link_get_kernel %s: %s", name, nl_geterror(ret));
		delete_by_name(mon->sock, name);
		goto fail;
	}
	if (bring_up(mon, name, err, err_len) < 0) {
		char ignored[128];

		mon_link_destroy(mon, ignored, sizeof(ignored));
		return NULL;
	}
	*ifindex = rtnl_link_get_ifindex(mon->link);
	return mon;
fail:
	free_link(mon);
	return NULL;
}

int mon_link_destroy(struct mon_link *mon, char *err, size_t err_len)
{
	int ret = rtnl_link_delete(mon->sock, mon->link);

	if (ret < 0)
		snprintf(err, err_len, "rtnl_link_delete %s: %s", rtnl_link_get_name(mon->link),
			 nl_geterror(ret));
	free_link(mon);
	return ret < 0 ? -1 : 0;
}
