/* hvp_conn.c: the host's ends of a connection: accept a guest's connect, or connect to it. */
#include <errno.h>
#include <string.h>

#include "hvp.h"
#include "hvp_internal.h"

static int listen_call(struct hvp_session *s, uint32_t port, unsigned long req, const char *name)
{
	struct vsim_listen l;

	hvp_port_guid(port, &l.service);
	if (hvp_ioctl(s, req, &l, name, 0) < 0)
		return hvp_fail(s, errno, "%s(port %u)", name, port);
	return 0;
}

int hvp_listen(struct hvp_session *s, uint32_t port)
{
	return listen_call(s, port, VSIM_IOC_LISTEN, "VSIM_IOC_LISTEN");
}

int hvp_unlisten(struct hvp_session *s, uint32_t port)
{
	return listen_call(s, port, VSIM_IOC_UNLISTEN, "VSIM_IOC_UNLISTEN");
}

static int offer(struct hvp_session *s, struct vsim_offer *o, struct hvp_conn *c)
{
	int ret = hvp_ioctl(s, VSIM_IOC_OFFER, o, "VSIM_IOC_OFFER", 0);

	if (ret < 0)
		return ret;
	c->s = s;
	c->chan = o->chan;
	c->state = o->state;
	c->guest_send_ring = o->guest_send_ring;
	c->guest_recv_ring = o->guest_recv_ring;
	return 0;
}

int hvp_accept(struct hvp_session *s, int timeout_ms, struct hvp_conn *c)
{
	struct vsim_offer o;
	struct vsim_event ev;
	int ret;

	memset(c, 0, sizeof(*c));
	ret = hvp_wait_event(s, VSIM_EV_TL_CONNECT, 0, timeout_ms, &ev);
	if (ret < 0)
		return ret;
	if (hvp_guid_port(&ev.a, &c->guest_port) < 0 || hvp_guid_port(&ev.b, &c->host_port) < 0)
		return hvp_fail(s, EPROTO, "VSIM_EV_TL_CONNECT: an endpoint is not a vsock port GUID");
	memset(&o, 0, sizeof(o));
	o.if_type = ev.b;	/* the host service the guest asked for */
	o.if_instance = ev.a;	/* the guest's endpoint */
	return offer(s, &o, c);
}

int hvp_connect(struct hvp_session *s, uint32_t guest_port, uint32_t host_port, struct hvp_conn *c)
{
	struct vsim_offer o;

	memset(c, 0, sizeof(*c));
	memset(&o, 0, sizeof(o));
	hvp_port_guid(guest_port, &o.if_type);
	hvp_port_guid(host_port, &o.if_instance);
	o.flags = VSIM_OFFER_HOST_INITIATED;
	c->guest_port = guest_port;
	c->host_port = host_port;
	return offer(s, &o, c);
}
