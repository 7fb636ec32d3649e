/* agent.h: the fixture agent's shared state: named sockets, calls running on threads, replies. */
#ifndef FX_AGENT_H
#define FX_AGENT_H

#include <pthread.h>
#include <stdint.h>

#include <json-c/json.h>

#define AGENT_SOCKS_MAX 64
#define AGENT_NAME_MAX 48
#define AGENT_DATA_MAX (1u << 20)

struct agent_sock {
	char name[AGENT_NAME_MAX];
	int fd;			/* -1: free slot */
	int busy;		/* a thread runs a call on it */
	int orphan;		/* reset gave up waiting: the thread closes fd and does not reply */
};

extern pthread_mutex_t agent_lock;	/* the socket table and stdout */
extern struct agent_sock agent_socks[AGENT_SOCKS_MAX];

/* names.c */
int agent_msg_flags(json_object *names, int *out);	/* 0, or -1 for an unknown name */
int agent_poll_events(json_object *events, short *out);
json_object *agent_revents(short revents);
/* setsockopt/getsockopt by name: level "SOL_SOCKET" / "AF_VSOCK". */
struct agent_opt {
	const char *name;
	int level, optname;
	enum { OPT_INT, OPT_U64, OPT_TIMEVAL_MS, OPT_LINGER_S } kind;
};
const struct agent_opt *agent_opt_find(const char *level, const char *name);
const char *agent_tcp_state(unsigned int state);

/* calls.c: one socket call; fills reply's ret/errno/port and its extra fields. */
void agent_call(const char *what, json_object *req, json_object *reply);
/* The request's "sock", created (of its "type") when new: fd, or -1 with *err. */
int agent_sock_open(json_object *req, int *err);
/* The socket named `name` (locked by the caller), or NULL. */
struct agent_sock *agent_sock_find(const char *name);

#endif
