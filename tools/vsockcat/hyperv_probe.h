/* hyperv_probe.h: is socket family 43 LinuxKit's old AF_HYPERV, or AF_SMC (or nothing)? */
#ifndef HYPERV_PROBE_H
#define HYPERV_PROBE_H

#include <stddef.h>
#include <sys/socket.h>

/* LinuxKit's 4.9 kernels: AF_HYPERV 43, protocol 1 (raw), struct sockaddr_hv of 36 bytes. */
#define LEGACY_AF_HYPERV 43
#define LEGACY_HV_PROTOCOL_RAW 1
#define LEGACY_SOCKADDR_HV_SIZE 36

/* What the probe's calls returned. */
struct hyperv_probe_result {
	int socket_errno;	/* 0: socket(43, SOCK_STREAM, 1) opened */
	int getsockname_errno;	/* 0: getsockname() succeeded (only if the socket opened) */
	socklen_t name_len;	/* the address length getsockname() gave */
};

/*
 * The decision: AF_HYPERV only if the socket opened and getsockname() gave a 36-byte address
 * (since 4.11 family 43 is AF_SMC, and since 4.16 AF_SMC takes protocol 1 too: its address is a
 * sockaddr_in6, 28 bytes). Returns 1 for AF_HYPERV; msg gets the one-line report either way.
 */
int hyperv_probe_decide(const struct hyperv_probe_result *r, char *msg, size_t size);

/* Makes the calls on this kernel (and closes the socket). */
void hyperv_probe_run(struct hyperv_probe_result *r);

#endif
