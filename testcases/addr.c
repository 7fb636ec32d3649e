/* addr.c: malformed addresses given to bind, connect and getsockname fail cleanly, never crash. */
#include <string.h>
#include <unistd.h>

#include "vsc.h"
#include "vsc_sock.h"

/* A flag bit no kernel defines (VMADDR_FLAG_TO_HOST is 0x01). */
#define UNKNOWN_SVM_FLAG 0x80

/* The call must succeed when `expected` is 0, else fail with that errno. */
#define EXPECT_RESULT(call, expected)                 \
	do {                                          \
		if (expected)                         \
			EXPECT_ERRNO(call, expected); \
		else                                  \
			SAFE(call);                   \
	} while (0)

static void null_address(const struct vsc_env *env)
{
	int fd = SAFE(socket(AF_VSOCK, SOCK_STREAM, 0));
	struct sockaddr_vm addr = vsc_addr(VMADDR_CID_ANY, env->port);

	/* The socket layer copies the address in first: a NULL pointer with a length faults. */
	EXPECT_ERRNO(bind(fd, NULL, sizeof(addr)), EFAULT);
	EXPECT_ERRNO(connect(fd, NULL, sizeof(addr)), EFAULT);
	/* With length 0 nothing is copied and vsock_addr_cast() finds the address too short. */
	EXPECT_ERRNO(bind(fd, NULL, 0), EINVAL);
	EXPECT_ERRNO(connect(fd, NULL, 0), EINVAL);
	/* Lengths the socket layer refuses before vsock sees them. */
	EXPECT_ERRNO(bind(fd, (struct sockaddr *)&addr, -1), EINVAL);
	EXPECT_ERRNO(bind(fd, (struct sockaddr *)&addr, sizeof(struct sockaddr_storage) + 1),
		     EINVAL);
	/* None of it left the socket half bound. */
	SAFE(bind(fd, (struct sockaddr *)&addr, sizeof(addr)));
	EXPECT_EQ(vsc_sockname(fd).svm_port, env->port);
	SAFE(close(fd));
}
VSC_CASE(addr_null_or_bad_length, .sock_type = SOCK_STREAM,
	 .summary = "bind/connect: NULL address EFAULT; length 0, negative or too long EINVAL",
	 .run = null_address);

static void long_length(const struct vsc_env *env)
{
	struct sockaddr_storage storage;
	struct sockaddr_vm addr = vsc_addr(VMADDR_CID_ANY, env->port);
	int fd = SAFE(socket(AF_VSOCK, SOCK_STREAM, 0));

	/* vsock_addr_cast() refuses only lengths below sizeof(struct sockaddr_vm). */
	memset(&storage, 0, sizeof(storage));
	memcpy(&storage, &addr, sizeof(addr));
	SAFE(bind(fd, (struct sockaddr *)&storage, sizeof(storage)));
	EXPECT_EQ(vsc_sockname(fd).svm_port, env->port);
	SAFE(close(fd));
}
VSC_CASE(addr_bind_long_length, .sock_type = SOCK_STREAM,
	 .summary = "bind accepts an address longer than struct sockaddr_vm (a sockaddr_storage)",
	 .run = long_length);

static void svm_flags(const struct vsc_env *env)
{
	int fd = SAFE(socket(AF_VSOCK, SOCK_STREAM, 0));
	struct sockaddr_vm addr = vsc_addr(VMADDR_CID_ANY, env->port);

	addr.svm_flags = UNKNOWN_SVM_FLAG;
	EXPECT_RESULT(bind(fd, (struct sockaddr *)&addr, sizeof(addr)),
		      vsc_expected_errno("addr_unknown_svm_flag"));
	SAFE(close(fd));
}
VSC_CASE(addr_unknown_svm_flag, .sock_type = SOCK_STREAM,
	 .summary = "bind with an undefined svm_flags bit: EINVAL from 5.11, ignored by 5.10",
	 .run = svm_flags);

static void svm_zero(const struct vsc_env *env)
{
	int fd = SAFE(socket(AF_VSOCK, SOCK_STREAM, 0));
	struct sockaddr_vm addr = vsc_addr(VMADDR_CID_ANY, env->port);

	addr.svm_zero[0] = 1;
	EXPECT_RESULT(bind(fd, (struct sockaddr *)&addr, sizeof(addr)),
		      vsc_expected_errno("addr_nonzero_svm_zero"));
	SAFE(close(fd));
}
VSC_CASE(addr_nonzero_svm_zero, .sock_type = SOCK_STREAM,
	 .summary = "bind with svm_zero[0] set: EINVAL on 5.10, ignored from 5.11",
	 .run = svm_zero);

static void connect_bad_server(const struct vsc_env *env)
{
	int listener, fd = vsc_accept_peer(SOCK_STREAM, env, &listener);
	char byte;

	vsc_recv_all(fd, &byte, 1);
	EXPECT_EQ(byte, 'k');
	SAFE(close(fd));
	SAFE(close(listener));
}

static void connect_bad_client(const struct vsc_env *env)
{
	int fd = SAFE(socket(AF_VSOCK, SOCK_STREAM, 0));
	struct sockaddr_vm addr = vsc_addr(env->peer_cid, env->port);
	struct sockaddr_vm wrong_family = addr;
	struct sockaddr_vm unknown_flag = addr;

	vsc_wait("listening");
	/* vsock_connect() turns every address vsock_addr_cast() refuses into EINVAL. */
	wrong_family.svm_family = AF_UNIX;
	EXPECT_ERRNO(connect(fd, (struct sockaddr *)&wrong_family, sizeof(wrong_family)), EINVAL);
	EXPECT_ERRNO(connect(fd, (struct sockaddr *)&addr, sizeof(addr) - 1), EINVAL);
	unknown_flag.svm_flags = UNKNOWN_SVM_FLAG;
	if (vsc_expected_errno("addr_unknown_svm_flag"))
		EXPECT_ERRNO(connect(fd, (struct sockaddr *)&unknown_flag, sizeof(unknown_flag)),
			     EINVAL);
	/* The refused attempts left the socket unconnected and usable. */
	SAFE(connect(fd, (struct sockaddr *)&addr, sizeof(addr)));
	vsc_send_all(fd, "k", 1);
	SAFE(close(fd));
}
VSC_CASE(addr_connect_bad_address, .sock_type = SOCK_STREAM,
	 .summary = "connect: wrong family, short length, bad flag give EINVAL; then it works",
	 .server = connect_bad_server, .client = connect_bad_client);

static void unspec_server(const struct vsc_env *env)
{
	int listener, fd = vsc_accept_peer(SOCK_STREAM, env, &listener);
	char buf[5];

	vsc_recv_all(fd, buf, sizeof(buf));
	EXPECT_TRUE(memcmp(buf, "still", 5) == 0);
	SAFE(close(fd));
	SAFE(close(listener));
}

static void unspec_client(const struct vsc_env *env)
{
	int fd = vsc_connect_peer(SOCK_STREAM, env);
	struct sockaddr_vm unspec = vsc_addr(env->peer_cid, env->port);

	/* Unlike AF_INET, AF_UNSPEC does not disconnect a vsock: the state check comes first. */
	unspec.svm_family = AF_UNSPEC;
	EXPECT_ERRNO(connect(fd, (struct sockaddr *)&unspec, sizeof(unspec)), EISCONN);
	EXPECT_EQ(vsc_peername(fd).svm_port, env->port);
	vsc_send_all(fd, "still", 5);
	SAFE(close(fd));
}
VSC_CASE(addr_connect_unspec_connected, .sock_type = SOCK_STREAM,
	 .summary = "connect(AF_UNSPEC) on a connected socket: EISCONN, still connected",
	 .server = unspec_server, .client = unspec_client);

static void short_name(const struct vsc_env *env)
{
	int fd = SAFE(socket(AF_VSOCK, SOCK_STREAM, 0));
	unsigned char buf[sizeof(struct sockaddr_vm)];
	struct sockaddr_vm full;
	socklen_t len = 4;
	size_t i;

	SAFE(vsc_bind(fd, VMADDR_CID_ANY, env->port));
	full = vsc_sockname(fd);
	memset(buf, 0xa5, sizeof(buf));
	/* A short buffer gets a truncated copy and the full length back, as for every family. */
	SAFE(getsockname(fd, (struct sockaddr *)buf, &len));
	EXPECT_EQ(len, sizeof(struct sockaddr_vm));
	EXPECT_TRUE(memcmp(buf, &full, 4) == 0);
	for (i = 4; i < sizeof(buf); i++)
		EXPECT_EQ(buf[i], 0xa5);
	len = sizeof(full);
	EXPECT_ERRNO(getsockname(fd, NULL, &len), EFAULT);
	EXPECT_ERRNO(getsockname(fd, (struct sockaddr *)buf, NULL), EFAULT);
	SAFE(close(fd));
}
VSC_CASE(addr_getsockname_short_buffer, .sock_type = SOCK_STREAM,
	 .summary = "getsockname: a short buffer is truncated, the full length reported",
	 .run = short_name);
