/* names.c: the symbolic names the agent protocol uses for flags, events and socket options. */
#include <linux/vm_sockets.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>

#include "agent.h"

#define N(x) { #x, x }

static const struct { const char *name; int value; } msg_flags[] = {
	N(MSG_PEEK), N(MSG_DONTWAIT), N(MSG_WAITALL), N(MSG_TRUNC), N(MSG_EOR), N(MSG_OOB),
	N(MSG_NOSIGNAL), N(MSG_ERRQUEUE), N(MSG_CMSG_CLOEXEC),
};

static const struct { const char *name; short value; } poll_events[] = {
	N(POLLIN), N(POLLPRI), N(POLLOUT), N(POLLRDHUP), N(POLLHUP), N(POLLERR), N(POLLNVAL),
	N(POLLRDNORM), N(POLLWRNORM),
};

int agent_msg_flags(json_object *names, int *out)
{
	*out = 0;
	if (!names)
		return 0;
	if (!json_object_is_type(names, json_type_array))
		return -1;
	for (size_t i = 0; i < json_object_array_length(names); i++) {
		const char *s = json_object_get_string(json_object_array_get_idx(names, i));
		size_t k;

		for (k = 0; k < sizeof(msg_flags) / sizeof(msg_flags[0]) && strcmp(s, msg_flags[k].name); k++)
			;
		if (k == sizeof(msg_flags) / sizeof(msg_flags[0]))
			return -1;
		*out |= msg_flags[k].value;
	}
	return 0;
}

int agent_poll_events(json_object *events, short *out)
{
	*out = 0;
	if (json_object_is_type(events, json_type_int)) {
		*out = (short)json_object_get_int(events);
		return 0;
	}
	if (!json_object_is_type(events, json_type_array))
		return -1;
	for (size_t i = 0; i < json_object_array_length(events); i++) {
		const char *s = json_object_get_string(json_object_array_get_idx(events, i));
		size_t k;

		for (k = 0; k < sizeof(poll_events) / sizeof(poll_events[0]) &&
			    strcmp(s, poll_events[k].name); k++)
			;
		if (k == sizeof(poll_events) / sizeof(poll_events[0]))
			return -1;
		*out |= poll_events[k].value;
	}
	return 0;
}

/* revents as the bits' number: fixtures match it with integers or one_of. */
json_object *agent_revents(short revents)
{
	return json_object_new_int(revents);
}

static const struct agent_opt opts[] = {
	{ "SO_RCVLOWAT", SOL_SOCKET, SO_RCVLOWAT, OPT_INT },
	{ "SO_SNDBUF", SOL_SOCKET, SO_SNDBUF, OPT_INT },
	{ "SO_RCVBUF", SOL_SOCKET, SO_RCVBUF, OPT_INT },
	{ "SO_ERROR", SOL_SOCKET, SO_ERROR, OPT_INT },
	{ "SO_KEEPALIVE", SOL_SOCKET, SO_KEEPALIVE, OPT_INT },
	{ "SO_ZEROCOPY", SOL_SOCKET, 60 /* SO_ZEROCOPY */, OPT_INT },
	{ "SO_RCVTIMEO_MS", SOL_SOCKET, SO_RCVTIMEO, OPT_TIMEVAL_MS },
	{ "SO_SNDTIMEO_MS", SOL_SOCKET, SO_SNDTIMEO, OPT_TIMEVAL_MS },
	{ "SO_LINGER_S", SOL_SOCKET, SO_LINGER, OPT_LINGER_S },
	{ "SO_VM_SOCKETS_BUFFER_SIZE", AF_VSOCK, SO_VM_SOCKETS_BUFFER_SIZE, OPT_U64 },
	{ "SO_VM_SOCKETS_BUFFER_MIN_SIZE", AF_VSOCK, SO_VM_SOCKETS_BUFFER_MIN_SIZE, OPT_U64 },
	{ "SO_VM_SOCKETS_BUFFER_MAX_SIZE", AF_VSOCK, SO_VM_SOCKETS_BUFFER_MAX_SIZE, OPT_U64 },
	{ "SO_VM_SOCKETS_CONNECT_TIMEOUT", AF_VSOCK, SO_VM_SOCKETS_CONNECT_TIMEOUT, OPT_TIMEVAL_MS },
};

const struct agent_opt *agent_opt_find(const char *level, const char *name)
{
	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++)
		if (!strcmp(opts[i].name, name) &&
		    (!level || (opts[i].level == AF_VSOCK) == !strcmp(level, "AF_VSOCK")))
			return &opts[i];
	return NULL;
}

const char *agent_tcp_state(unsigned int state)
{
	static const char *const names[] = { [TCP_ESTABLISHED] = "ESTABLISHED",
		[TCP_SYN_SENT] = "SYN_SENT", [TCP_SYN_RECV] = "SYN_RECV", [TCP_FIN_WAIT1] = "FIN_WAIT1",
		[TCP_FIN_WAIT2] = "FIN_WAIT2", [TCP_TIME_WAIT] = "TIME_WAIT", [TCP_CLOSE] = "CLOSE",
		[TCP_CLOSE_WAIT] = "CLOSE_WAIT", [TCP_LAST_ACK] = "LAST_ACK", [TCP_LISTEN] = "LISTEN",
		[TCP_CLOSING] = "CLOSING" };

	return state < sizeof(names) / sizeof(names[0]) && names[state] ? names[state] : "UNKNOWN";
}
