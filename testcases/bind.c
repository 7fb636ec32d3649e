/* bind.c: binding stream sockets: chosen ports, VMADDR_PORT_ANY, foreign CIDs and conflicts. */
#include <unistd.h>

#include "vsc.h"
#include "vsc_sock.h"

/* A CID no transport in any of our topologies owns. */
#define FOREIGN_CID 0x7fff1234u

static void port_any(const struct vsc_env *env)
{
	int fd = SAFE(socket(AF_VSOCK, SOCK_STREAM, 0));
	struct sockaddr_vm name;

	(void)env;
	SAFE(vsc_bind(fd, VMADDR_CID_ANY, VMADDR_PORT_ANY));
	name = vsc_sockname(fd);
	EXPECT_EQ(name.svm_cid, VMADDR_CID_ANY);
	EXPECT_TRUE(name.svm_port != VMADDR_PORT_ANY);
	/* Automatic ports come from above the reserved range (LAST_RESERVED_PORT, 1023). */
	EXPECT_TRUE(name.svm_port > 1023);
	SAFE(close(fd));
}
VSC_CASE(bind_port_any, .sock_type = SOCK_STREAM,
	 .summary = "bind to VMADDR_PORT_ANY assigns a real port above 1023 that getsockname shows",
	 .run = port_any);

static void port_given(const struct vsc_env *env)
{
	int fd = SAFE(socket(AF_VSOCK, SOCK_STREAM, 0));
	struct sockaddr_vm name;

	SAFE(vsc_bind(fd, VMADDR_CID_ANY, env->port));
	name = vsc_sockname(fd);
	EXPECT_EQ(name.svm_cid, VMADDR_CID_ANY);
	EXPECT_EQ(name.svm_port, env->port);
	SAFE(close(fd));
}
VSC_CASE(bind_port, .sock_type = SOCK_STREAM,
	 .summary = "bind to a given port; getsockname shows it", .run = port_given);

static void local_cid(const struct vsc_env *env)
{
	int fd = SAFE(socket(AF_VSOCK, SOCK_STREAM, 0));

	SAFE(vsc_bind(fd, env->local_cid, env->port));
	EXPECT_EQ(vsc_sockname(fd).svm_cid, env->local_cid);
	SAFE(close(fd));
}
VSC_CASE(bind_local_cid, .sock_type = SOCK_STREAM,
	 .summary = "bind to this kernel's own CID is allowed", .run = local_cid);

static void foreign_cid(const struct vsc_env *env)
{
	int fd = SAFE(socket(AF_VSOCK, SOCK_STREAM, 0));

	EXPECT_ERRNO(vsc_bind(fd, FOREIGN_CID, env->port), vsc_expected_errno("bind_foreign_cid"));
	SAFE(close(fd));
}
VSC_CASE(bind_foreign_cid, .sock_type = SOCK_STREAM,
	 .summary = "bind to a CID that is not local fails with EADDRNOTAVAIL", .run = foreign_cid);

static void twice(const struct vsc_env *env)
{
	int fd = SAFE(socket(AF_VSOCK, SOCK_STREAM, 0));

	SAFE(vsc_bind(fd, VMADDR_CID_ANY, env->port));
	EXPECT_ERRNO(vsc_bind(fd, VMADDR_CID_ANY, env->port + 1), EINVAL);
	EXPECT_EQ(vsc_sockname(fd).svm_port, env->port);
	SAFE(close(fd));
}
VSC_CASE(bind_twice, .sock_type = SOCK_STREAM,
	 .summary = "a second bind on a bound socket fails with EINVAL and keeps the first port",
	 .run = twice);

static void in_use(const struct vsc_env *env)
{
	int first = SAFE(socket(AF_VSOCK, SOCK_STREAM, 0));
	int second = SAFE(socket(AF_VSOCK, SOCK_STREAM, 0));

	SAFE(vsc_bind(first, VMADDR_CID_ANY, env->port));
	EXPECT_ERRNO(vsc_bind(second, VMADDR_CID_ANY, env->port), EADDRINUSE);
	SAFE(close(first));
	/* Once the owner is gone the port is free again at once: vsock has no TIME_WAIT. */
	SAFE(vsc_bind(second, VMADDR_CID_ANY, env->port));
	SAFE(close(second));
}
VSC_CASE(bind_port_in_use, .sock_type = SOCK_STREAM,
	 .summary = "bind to a port in use fails with EADDRINUSE; free again after close",
	 .run = in_use);

static void bad_address(const struct vsc_env *env)
{
	int fd = SAFE(socket(AF_VSOCK, SOCK_STREAM, 0));
	struct sockaddr_vm addr = vsc_addr(VMADDR_CID_ANY, env->port);
	struct sockaddr_vm wrong_family = addr;

	/* vsock_bind() turns every malformed address into EINVAL. */
	wrong_family.svm_family = AF_UNIX;
	EXPECT_ERRNO(bind(fd, (struct sockaddr *)&wrong_family, sizeof(wrong_family)), EINVAL);
	EXPECT_ERRNO(bind(fd, (struct sockaddr *)&addr, sizeof(addr) - 1), EINVAL);
	SAFE(bind(fd, (struct sockaddr *)&addr, sizeof(addr)));
	SAFE(close(fd));
}
VSC_CASE(bind_bad_address, .sock_type = SOCK_STREAM,
	 .summary = "bind with a wrong family or a short address fails with EINVAL",
	 .run = bad_address);
