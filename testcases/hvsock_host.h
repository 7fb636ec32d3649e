/*
 * hvsock_host.h: the host side of the hv_sock cases (hvsock.c, hvsock_probe.c) on hvp, whose
 * failures end the role with the caller's file:line and hvp's message naming the call.
 */
#ifndef HVSOCK_HOST_H
#define HVSOCK_HOST_H

#include <stddef.h>
#include <stdint.h>

#include "hvp.h"
#include "vsc.h"

/* How long the host waits for the guest's next step (a TL request, a packet): TCG is slow. */
#define HVH_WAIT_MS 10000

/* The hvp call must succeed; its value is returned. */
#define HVP_SAFE(s, call)                                                            \
	({                                                                           \
		vsc_step_at(__FILE__, __LINE__, #call);                              \
		int hvh_ret_ = (call);                                               \
		if (hvh_ret_ < 0)                                                    \
			vsc_fatal_at(__FILE__, __LINE__, "%s", hvp_error(s));        \
		hvh_ret_;                                                            \
	})

void hvh_open_at(const char *file, int line, struct hvp_session *s);
#define hvh_open(s) hvh_open_at(__FILE__, __LINE__, s)

/* Listens on port, signals "listening", answers the guest's connect; the channel must open. */
void hvh_accept_at(const char *file, int line, struct hvp_session *s, unsigned int port,
		   struct hvp_conn *c);
#define hvh_accept(s, port, c) hvh_accept_at(__FILE__, __LINE__, s, port, c)

/*
 * In one process: a guest socket (prepared by prep, if given) connects without blocking to the
 * host's port, the host answers, and the guest's connect completes. Returns the guest's fd.
 */
int hvh_pair_at(const char *file, int line, const struct vsc_env *env, struct hvp_session *s,
		unsigned int port, struct hvp_conn *c, void (*prep)(int fd));
#define hvh_pair(env, s, port, c, prep) hvh_pair_at(__FILE__, __LINE__, env, s, port, c, prep)

/*
 * Receives exactly len bytes from the guest, equal to buf; each packet must hold at most
 * HVP_SEND_CHUNK bytes and none may be a FIN. Returns the largest packet seen.
 */
uint32_t hvh_recv_exact_at(const char *file, int line, struct hvp_conn *c, const void *buf,
			   size_t len);
#define hvh_recv_exact(c, buf, len) hvh_recv_exact_at(__FILE__, __LINE__, c, buf, len)

/* The next packet must be the guest's FIN. */
void hvh_expect_fin_at(const char *file, int line, struct hvp_conn *c);
#define hvh_expect_fin(c) hvh_expect_fin_at(__FILE__, __LINE__, c)

/* The guest sends nothing more within ms (no second FIN, no data). */
void hvh_expect_silence_at(const char *file, int line, struct hvp_conn *c, int ms);
#define hvh_expect_silence(c, ms) hvh_expect_silence_at(__FILE__, __LINE__, c, ms)

/* Whether the kernel still lists the vsock socket src_port -> dst_port (vsock_diag). */
int hvh_socket_listed_at(const char *file, int line, unsigned int src_port, unsigned int dst_port);
#define hvh_socket_listed(src, dst) hvh_socket_listed_at(__FILE__, __LINE__, src, dst)

/* Milliseconds until the socket leaves the list, polling every 20 ms; -1 after limit_ms. */
long hvh_wait_gone_at(const char *file, int line, unsigned int src_port, unsigned int dst_port,
		      long limit_ms);
#define hvh_wait_gone(src, dst, limit) hvh_wait_gone_at(__FILE__, __LINE__, src, dst, limit)

#endif
