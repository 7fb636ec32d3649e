/* vsc_sockdiag.h: the kernel's list of AF_VSOCK sockets (sock_diag), for the cases and vsock-ss. */
#ifndef VSC_SOCKDIAG_H
#define VSC_SOCKDIAG_H

#include <stddef.h>
#include <stdint.h>
#include <linux/vm_sockets_diag.h>

/* vdiag_states bits are 1 << TCP_* (netinet/tcp.h); this asks for every state. */
#define VSC_SOCKDIAG_ALL_STATES 0xffffffffu

struct vsc_sockdiag_list {
	struct vsock_diag_msg *sockets;	/* in the kernel's order: bound table, then connected */
	size_t count;
};

/*
 * Dumps the AF_VSOCK sockets whose state is in `states`. Returns 0, or a negative errno: the one
 * the kernel answered with (-ENOENT: no vsock_diag), or the local step's (-EBADMSG: a reply too
 * short for struct vsock_diag_msg). On failure the list is empty. Free it with vsc_sockdiag_free.
 */
int vsc_sockdiag_dump(uint32_t states, struct vsc_sockdiag_list *list);
void vsc_sockdiag_free(struct vsc_sockdiag_list *list);

/*
 * Sends one SOCK_DIAG_BY_FAMILY message holding `payload` (any length, even a malformed one),
 * with NLM_F_REQUEST | NLM_F_ACK | extra_flags, and returns the kernel's verdict: 0 when it
 * acknowledged or dumped, else the negative errno of its NLMSG_ERROR (or of a local failure).
 */
int vsc_sockdiag_request(const void *payload, size_t len, int extra_flags);

/* Names as ss(8) prints them: "LISTEN", "ESTAB", "SYN-SENT", "UNCONN"...; "v_str", "v_seq"... */
const char *vsc_sockdiag_state_name(unsigned int state);
const char *vsc_sockdiag_netid(unsigned int type);

/* "CID:port", with "*" for VMADDR_CID_ANY and VMADDR_PORT_ANY as ss prints them; returns out. */
#define VSC_SOCKDIAG_ADDR_MAX 24
char *vsc_sockdiag_address(char out[VSC_SOCKDIAG_ADDR_MAX], unsigned int cid, unsigned int port);

#endif
