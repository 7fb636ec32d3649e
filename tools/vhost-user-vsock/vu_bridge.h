/* vu_bridge.h: the host side of the hybrid-vsock bridge (Firecracker's protocol) for one VM:
 * "CONNECT <port>\n" from a host program, "OK <host_port>\n" back once the guest accepted. */
#ifndef VU_BRIDGE_H
#define VU_BRIDGE_H

#include <stddef.h>
#include <stdint.h>

#define VU_CONNECT_LINE_MAX 32		/* bytes, the '\n' included */
#define VU_HOST_PORT_FIRST (1u << 30)	/* host ports of bridged connections: [2^30, 2^31) */
#define VU_HOST_PORT_END (1u << 31)
#define VU_BRIDGE_RESPONSE_MS 2000	/* how long a host program waits for the guest's answer */

/* Parses one whole line (ending in '\n'): 1 with *port set, 0 when malformed. */
int vu_connect_line_parse(const char *line, size_t len, uint32_t *port);

/* The next free host port after *cursor, round-robin inside [FIRST, END), skipping those
 * in_use() reports; 0 when all are taken. *cursor moves past the port returned. */
uint32_t vu_host_port_next(uint32_t *cursor, int (*in_use)(void *ctx, uint32_t port), void *ctx);

struct vu_vm;
struct vu_conn;
/* Accepts host programs on the VM's uds listener; reads their CONNECT lines. */
int vu_bridge_listen(struct vu_vm *vm, char *error, size_t error_size);
/* Reads a host program's CONNECT line, then asks the guest (REQUEST); drops it when malformed. */
void vu_bridge_read_line(struct vu_conn *c);
/* The guest to CID 2 port P: connects to "<uds>_P"; the stream's fd, or -1 (errno). */
int vu_bridge_connect_host(const struct vu_vm *vm, uint32_t port);

#endif
