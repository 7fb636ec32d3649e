/* ioctl.c: the /dev/vsock character device. */
#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "vsc.h"
#include "vsc_sock.h"

/* Whether a transport owns `cid`: binding to a CID succeeds only if a registered transport has it. */
static int transport_owns(unsigned int cid, unsigned int port)
{
	int fd = SAFE(socket(AF_VSOCK, SOCK_STREAM, 0));
	int owned = vsc_bind(fd, cid, port) == 0;

	SAFE(close(fd));
	return owned;
}

static void local_cid(const struct vsc_env *env)
{
	int fd = SAFE(open("/dev/vsock", O_RDONLY));
	unsigned int cid = 0;

	unsigned int expected = env->device_cid;

	/* The guest device's CID first; without one, the host transport's, then loopback's. */
	if (expected == VMADDR_CID_ANY && transport_owns(VMADDR_CID_HOST, env->port))
		expected = VMADDR_CID_HOST;
	if (expected == VMADDR_CID_ANY && transport_owns(VMADDR_CID_LOCAL, env->port))
		expected = VMADDR_CID_LOCAL;
	SAFE(ioctl(fd, IOCTL_VM_SOCKETS_GET_LOCAL_CID, &cid));
	EXPECT_EQ(cid, expected);
	SAFE(close(fd));
}
VSC_CASE(dev_vsock_local_cid,
	 .summary = "IOCTL_VM_SOCKETS_GET_LOCAL_CID gives the device's CID, else the host's or loopback's",
	 .run = local_cid, .needs = VSC_NEED_DEV_VSOCK,
	 .tags = VSC_TAGS("vsock: Fix IOCTL_VM_SOCKETS_GET_LOCAL_CID to check also `transport_local`"));

static void unknown_ioctl(const struct vsc_env *env)
{
	int fd = SAFE(open("/dev/vsock", O_RDONLY));
	unsigned int value = 0;

	(void)env;
	EXPECT_ERRNO(ioctl(fd, _IO(7, 0xba), &value), vsc_expected_errno("dev_vsock_unknown_ioctl"));
	SAFE(close(fd));
}
VSC_CASE(dev_vsock_unknown_ioctl, .summary = "an unknown ioctl on /dev/vsock fails (EINVAL before 5.11, ENOTTY since)",
	 .run = unknown_ioctl, .needs = VSC_NEED_DEV_VSOCK);
