/* expectations.c: the one table of behaviour that differs between kernel versions. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vsc_internal.h"

struct expectation {
	const char *behaviour;
	const char *from_kver;	/* the row holds from this version until the next row */
	int err;		/* 0: the call succeeds */
	const char *evidence;	/* where the value comes from */
};

/* Rows of one behaviour are in ascending version order; behaviours in alphabetical order. */
static const struct expectation table[] = {
	{ "bind_foreign_cid", "4.0", EADDRNOTAVAIL,
	  "__vsock_bind() rejects a CID that is neither local nor VMADDR_CID_ANY" },
	{ "connect_no_listener", "4.0", ECONNRESET,
	  "virtio_transport_reset_no_sock() answers the REQUEST with RST; seen on 5.10, 6.1, 6.12, 7.2" },
	{ "dev_vsock_unknown_ioctl", "4.0", EINVAL, "vsock_dev_do_ioctl() default case before 5.11" },
	{ "dev_vsock_unknown_ioctl", "5.11", ENOTTY,
	  "vsock: fix the error return when an invalid ioctl command is used (-ENOIOCTLCMD)" },
	{ "dgram_without_transport", "5.5", ENODEV,
	  "vsock_create() assigns the datagram transport at once; without vmci there is none" },
	{ "seqpacket_on_old_kernel", "4.0", ESOCKTNOSUPPORT,
	  "vsock_create() before 5.14 knows only STREAM and DGRAM" },
	{ "socket_ioctl_siocinq", "4.0", EOPNOTSUPP,
	  "vsock_stream_ops.ioctl is sock_no_ioctl before 6.12" },
	{ "socket_ioctl_siocinq", "6.12", ENOTTY,
	  "vsock_do_ioctl() answers -ENOIOCTLCMD, which sock_do_ioctl() turns into ENOTTY" },
	{ "socket_ioctl_siocinq", "6.17", 0, "vsock: Add support for SIOCINQ ioctl" },
	{ "socket_ioctl_siocoutq", "4.0", EOPNOTSUPP,
	  "vsock_stream_ops.ioctl is sock_no_ioctl before 6.12" },
	{ "socket_ioctl_siocoutq", "6.12", 0,
	  "vsock: add support for SIOCOUTQ ioctl (net-next for 6.12)" },
};

int vsc_expected_errno(const char *behaviour)
{
	const struct expectation *found = NULL;
	size_t i;

	for (i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (strcmp(table[i].behaviour, behaviour) == 0 &&
		    vsc_kernel_at_least(table[i].from_kver))
			found = &table[i];
	if (!found) {
		char why[VSC_TEXT_MAX];

		snprintf(why, sizeof(why), "no expectation for \"%s\" on kernel %s", behaviour,
			 vsc_kernel_release());
		vsc_out("# [%s] %s", vsc_self.label, why);
		vsc_role_exit(VSC_BROKEN, why);
	}
	return found->err;
}
