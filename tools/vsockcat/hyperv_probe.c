/* hyperv_probe.c: the LinuxKit-era AF_HYPERV probe, as linuxkit/virtsock's hvsock.Supported(). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "hyperv_probe.h"
#include "vsc.h"	/* vsc_errname */

#define NOT_HYPERV "family 43 is not AF_HYPERV (AF_SMC or absent): "

int hyperv_probe_decide(const struct hyperv_probe_result *r, char *msg, size_t size)
{
	if (r->socket_errno) {
		snprintf(msg, size, NOT_HYPERV "socket: %s", vsc_errname(r->socket_errno));
		return 0;
	}
	if (r->getsockname_errno) {
		snprintf(msg, size, NOT_HYPERV "getsockname: %s", vsc_errname(r->getsockname_errno));
		return 0;
	}
	if (r->name_len != LEGACY_SOCKADDR_HV_SIZE) {
		snprintf(msg, size, NOT_HYPERV "getsockname gave a %u-byte address, not %d",
			 (unsigned int)r->name_len, LEGACY_SOCKADDR_HV_SIZE);
		return 0;
	}
	snprintf(msg, size, "AF_HYPERV present");
	return 1;
}

void hyperv_probe_run(struct hyperv_probe_result *r)
{
	/* Room for more than a sockaddr_hv, so a longer address shows as longer. */
	struct sockaddr_storage name;
	socklen_t len = sizeof(name);
	int fd;

	memset(r, 0, sizeof(*r));
	fd = socket(LEGACY_AF_HYPERV, SOCK_STREAM, LEGACY_HV_PROTOCOL_RAW);
	if (fd < 0) {
		r->socket_errno = errno;
		return;
	}
	/* Unbound, as virtsock asks: the legacy family fills in a wildcard sockaddr_hv. */
	if (getsockname(fd, (struct sockaddr *)&name, &len) < 0)
		r->getsockname_errno = errno;
	else
		r->name_len = len;
	close(fd);
}
