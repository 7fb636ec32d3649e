/*
 * bridge_client.h: the host side of the hybrid-vsock handshake (Firecracker, Cloud Hypervisor,
 * our vhost-user-vsock): on a Unix stream connected to a VM's bridge socket, "CONNECT <port>\n"
 * asks for the guest's listener on <port>; "OK <host_port>\n" says it answered.
 */
#ifndef BRIDGE_CLIENT_H
#define BRIDGE_CLIENT_H

#include <stddef.h>

enum bridge_answer {
	BRIDGE_OK = 1,		/* "OK <n>": *host_port is n; the stream now reaches the guest */
	BRIDGE_CLOSED = 0,	/* closed with no answer: nothing listens there, or it refused */
	BRIDGE_IO_ERROR = -1,	/* errno says why (EINTR: a signal came while waiting) */
	BRIDGE_GARBLED = -2,	/* any other answer, copied to `answer` */
};

/*
 * Sends the CONNECT line on `fd` and reads the answer a byte at a time, so nothing of the
 * stream after the newline is taken. `answer` (of `size` bytes) receives the line.
 */
enum bridge_answer bridge_handshake(int fd, unsigned int port, unsigned int *host_port,
				    char *answer, size_t size);

/* The request line "CONNECT <port>\n" into `line`: its length, as snprintf() gives it. */
int bridge_connect_line(char *line, size_t size, unsigned int port);

/* An answer line without its newline: BRIDGE_OK with *host_port set, or BRIDGE_GARBLED. */
enum bridge_answer bridge_answer_parse(const char *answer, unsigned int *host_port);

#endif
