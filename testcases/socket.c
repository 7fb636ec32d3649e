/* socket.c: creating AF_VSOCK sockets: which types and protocols the kernel accepts. */
#include <unistd.h>

#include "vsc.h"

static void create_stream(const struct vsc_env *env)
{
	(void)env;
	SAFE(close(SAFE(socket(AF_VSOCK, SOCK_STREAM, 0))));
	/* vsock_create() also takes its own family number as the protocol. */
	SAFE(close(SAFE(socket(AF_VSOCK, SOCK_STREAM, PF_VSOCK))));
	SAFE(close(SAFE(socket(AF_VSOCK, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0))));
}
VSC_CASE(socket_stream, .sock_type = SOCK_STREAM,
	 .summary = "SOCK_STREAM is created with protocol 0 or PF_VSOCK and with type flags",
	 .run = create_stream);

static void create_seqpacket(const struct vsc_env *env)
{
	(void)env;
	SAFE(close(SAFE(socket(AF_VSOCK, SOCK_SEQPACKET, 0))));
}
VSC_CASE(socket_seqpacket, .sock_type = SOCK_SEQPACKET,
	 .summary = "SOCK_SEQPACKET is created on kernels that have it", .run = create_seqpacket,
	 .needs = VSC_NEED_SEQPACKET);

static void seqpacket_absent(const struct vsc_env *env)
{
	(void)env;
	if (vsc_kernel_at_least("5.14"))
		vsc_skip("kernel %s has SOCK_SEQPACKET", vsc_kernel_release());
	EXPECT_ERRNO(socket(AF_VSOCK, SOCK_SEQPACKET, 0), vsc_expected_errno("seqpacket_on_old_kernel"));
}
VSC_CASE(socket_seqpacket_before_5_14, .sock_type = SOCK_SEQPACKET,
	 .summary = "kernels before 5.14 refuse SOCK_SEQPACKET with ESOCKTNOSUPPORT",
	 .run = seqpacket_absent);

static void create_bad_type(const struct vsc_env *env)
{
	(void)env;
	EXPECT_ERRNO(socket(AF_VSOCK, SOCK_RAW, 0), ESOCKTNOSUPPORT);
	EXPECT_ERRNO(socket(AF_VSOCK, SOCK_RDM, 0), ESOCKTNOSUPPORT);
}
VSC_CASE(socket_bad_type, .summary = "SOCK_RAW and SOCK_RDM are refused with ESOCKTNOSUPPORT",
	 .run = create_bad_type);

static void create_bad_protocol(const struct vsc_env *env)
{
	(void)env;
	EXPECT_ERRNO(socket(AF_VSOCK, SOCK_STREAM, 1), EPROTONOSUPPORT);
	EXPECT_ERRNO(socket(AF_VSOCK, SOCK_STREAM, PF_VSOCK + 1), EPROTONOSUPPORT);
}
VSC_CASE(socket_bad_protocol, .sock_type = SOCK_STREAM,
	 .summary = "a protocol other than 0 or PF_VSOCK is refused with EPROTONOSUPPORT",
	 .run = create_bad_protocol);

static void create_dgram(const struct vsc_env *env)
{
	(void)env;
	/* A datagram socket needs a datagram transport at creation; only vmci has one. */
	EXPECT_ERRNO(socket(AF_VSOCK, SOCK_DGRAM, 0), vsc_expected_errno("dgram_without_transport"));
}
VSC_CASE(socket_dgram_without_transport, .sock_type = SOCK_DGRAM,
	 .summary = "SOCK_DGRAM fails at creation when no transport carries datagrams",
	 .run = create_dgram);
