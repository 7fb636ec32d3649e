/* vsc_sock.h: AF_VSOCK helpers for tests; the *_at ones fail the role with the caller's file:line. */
#ifndef VSC_SOCK_H
#define VSC_SOCK_H

#include <time.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <linux/vm_sockets.h>

struct sockaddr_vm vsc_addr(unsigned int cid, unsigned int port);

/* Plain wrappers: return what the system call returns, errno untouched. */
int vsc_bind(int fd, unsigned int cid, unsigned int port);
int vsc_connect(int fd, unsigned int cid, unsigned int port);

/* The address a socket reports; fails the role if the call fails or the family is not AF_VSOCK. */
struct sockaddr_vm vsc_sockname_at(const char *file, int line, int fd);
struct sockaddr_vm vsc_peername_at(const char *file, int line, int fd);
#define vsc_sockname(fd) vsc_sockname_at(__FILE__, __LINE__, fd)
#define vsc_peername(fd) vsc_peername_at(__FILE__, __LINE__, fd)

/* socket + bind(VMADDR_CID_ANY, port) + listen, or socket + connect; each step must succeed. */
int vsc_listen_at(const char *file, int line, int type, unsigned int port, int backlog);
int vsc_connect_to_at(const char *file, int line, int type, unsigned int cid, unsigned int port);
#define vsc_listen(type, port, backlog) vsc_listen_at(__FILE__, __LINE__, type, port, backlog)
#define vsc_connect_to(type, cid, port) vsc_connect_to_at(__FILE__, __LINE__, type, cid, port)

/*
 * The usual opening of a server+client case: the server listens on env->port, signals
 * "listening" and accepts one connection; the client waits for "listening" and connects.
 */
struct vsc_env;
int vsc_accept_peer_at(const char *file, int line, int type, const struct vsc_env *env,
		       int *listener);
int vsc_connect_peer_at(const char *file, int line, int type, const struct vsc_env *env);
#define vsc_accept_peer(type, env, listener) vsc_accept_peer_at(__FILE__, __LINE__, type, env, listener)
#define vsc_connect_peer(type, env) vsc_connect_peer_at(__FILE__, __LINE__, type, env)

/* Whole transfers: loop over short writes and reads; a failure or early EOF fails the role. */
void vsc_send_all_at(const char *file, int line, int fd, const void *buf, size_t len);
void vsc_recv_all_at(const char *file, int line, int fd, void *buf, size_t len);
#define vsc_send_all(fd, buf, len) vsc_send_all_at(__FILE__, __LINE__, fd, buf, len)
#define vsc_recv_all(fd, buf, len) vsc_recv_all_at(__FILE__, __LINE__, fd, buf, len)

/* A byte pattern both roles can regenerate, and a checksum to compare over the peer channel. */
void vsc_fill_pattern(void *buf, size_t len, uint64_t offset);
uint32_t vsc_crc32(uint32_t crc, const void *buf, size_t len);

/* SO_VM_SOCKETS_CONNECT_TIMEOUT in milliseconds; a failure ends the role at file:line. */
void vsc_set_connect_timeout_at(const char *file, int line, int fd, int ms);
#define vsc_set_connect_timeout(fd, ms) vsc_set_connect_timeout_at(__FILE__, __LINE__, fd, ms)

/* Milliseconds of CLOCK_MONOTONIC since *start. */
long vsc_elapsed_ms(const struct timespec *start);

/* Bounded wait for poll events on one fd; returns revents (0 when the time ran out). */
short vsc_poll_at(const char *file, int line, int fd, short events, int timeout_ms);
#define vsc_poll(fd, events, timeout_ms) vsc_poll_at(__FILE__, __LINE__, fd, events, timeout_ms)

#endif
