/* sockopt.c: AF_VSOCK socket options: buffer sizes, connect timeout, SO_RCVLOWAT. */
#include <poll.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "vsc.h"
#include "vsc_sock.h"

/* include/net/af_vsock.h and af_vsock.c defaults. */
#define DEFAULT_BUFFER_SIZE (256u * 1024)
#define DEFAULT_BUFFER_MIN 128u
#define DEFAULT_BUFFER_MAX (256u * 1024)

static uint64_t get_u64(int fd, int name)
{
	uint64_t value = 0;
	socklen_t len = sizeof(value);

	SAFE(getsockopt(fd, AF_VSOCK, name, &value, &len));
	EXPECT_EQ(len, sizeof(value));
	return value;
}

static void set_u64(int fd, int name, uint64_t value)
{
	SAFE(setsockopt(fd, AF_VSOCK, name, &value, sizeof(value)));
}

static void buffer_defaults(const struct vsc_env *env)
{
	int fd = SAFE(socket(AF_VSOCK, SOCK_STREAM, 0));

	(void)env;
	EXPECT_EQ(get_u64(fd, SO_VM_SOCKETS_BUFFER_SIZE), DEFAULT_BUFFER_SIZE);
	EXPECT_EQ(get_u64(fd, SO_VM_SOCKETS_BUFFER_MIN_SIZE), DEFAULT_BUFFER_MIN);
	EXPECT_EQ(get_u64(fd, SO_VM_SOCKETS_BUFFER_MAX_SIZE), DEFAULT_BUFFER_MAX);
	SAFE(close(fd));
}
VSC_CASE(sockopt_buffer_defaults, .sock_type = SOCK_STREAM,
	 .summary = "buffer size, minimum and maximum start at 256 KiB, 128 B and 256 KiB",
	 .run = buffer_defaults);

static void buffer_clamped(const struct vsc_env *env)
{
	int fd = SAFE(socket(AF_VSOCK, SOCK_STREAM, 0));

	(void)env;
	/* Above the maximum, and below the minimum: the size is clamped. */
	set_u64(fd, SO_VM_SOCKETS_BUFFER_SIZE, 1u << 20);
	EXPECT_EQ(get_u64(fd, SO_VM_SOCKETS_BUFFER_SIZE), DEFAULT_BUFFER_MAX);
	set_u64(fd, SO_VM_SOCKETS_BUFFER_SIZE, 16);
	EXPECT_EQ(get_u64(fd, SO_VM_SOCKETS_BUFFER_SIZE), DEFAULT_BUFFER_MIN);
	/* A raised maximum lets the size grow; a raised minimum pulls it up at once. */
	set_u64(fd, SO_VM_SOCKETS_BUFFER_MAX_SIZE, 2u << 20);
	set_u64(fd, SO_VM_SOCKETS_BUFFER_SIZE, 1u << 20);
	EXPECT_EQ(get_u64(fd, SO_VM_SOCKETS_BUFFER_SIZE), 1u << 20);
	set_u64(fd, SO_VM_SOCKETS_BUFFER_MIN_SIZE, 1536u << 10);
	EXPECT_EQ(get_u64(fd, SO_VM_SOCKETS_BUFFER_SIZE), 1536u << 10);
	/* A lowered maximum pulls it down. */
	set_u64(fd, SO_VM_SOCKETS_BUFFER_MIN_SIZE, 4096);
	set_u64(fd, SO_VM_SOCKETS_BUFFER_MAX_SIZE, 64u << 10);
	EXPECT_EQ(get_u64(fd, SO_VM_SOCKETS_BUFFER_SIZE), 64u << 10);
	SAFE(close(fd));
}
VSC_CASE(sockopt_buffer_clamped, .sock_type = SOCK_STREAM,
	 .summary = "SO_VM_SOCKETS_BUFFER_SIZE is clamped between the _MIN_SIZE and _MAX_SIZE set",
	 .run = buffer_clamped);

static void short_optlen(const struct vsc_env *env)
{
	int fd = SAFE(socket(AF_VSOCK, SOCK_STREAM, 0));
	uint32_t small = 4096;
	socklen_t len = sizeof(small);

	(void)env;
	EXPECT_ERRNO(setsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_BUFFER_SIZE, &small, sizeof(small)),
		     EINVAL);
	EXPECT_ERRNO(getsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_BUFFER_SIZE, &small, &len), EINVAL);
	EXPECT_ERRNO(setsockopt(fd, AF_VSOCK, 99, &small, sizeof(small)), ENOPROTOOPT);
	EXPECT_EQ(get_u64(fd, SO_VM_SOCKETS_BUFFER_SIZE), DEFAULT_BUFFER_SIZE);
	SAFE(close(fd));
}
VSC_CASE(sockopt_short_optlen, .sock_type = SOCK_STREAM,
	 .summary = "a 4-byte value for a 64-bit option gives EINVAL; an unknown option ENOPROTOOPT",
	 .run = short_optlen);

static struct timeval get_timeout(int fd)
{
	struct timeval tv = { 0, 0 };
	socklen_t len = sizeof(tv);

	SAFE(getsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_CONNECT_TIMEOUT, &tv, &len));
	EXPECT_EQ(len, sizeof(tv));
	return tv;
}

static int set_timeout(int fd, time_t sec, suseconds_t usec)
{
	struct timeval tv = { sec, usec };

	return setsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_CONNECT_TIMEOUT, &tv, sizeof(tv));
}

static void connect_timeout(const struct vsc_env *env)
{
	int fd = SAFE(socket(AF_VSOCK, SOCK_STREAM, 0));
	struct timeval tv;

	(void)env;
	tv = get_timeout(fd);
	EXPECT_EQ(tv.tv_sec, 2);
	EXPECT_EQ(tv.tv_usec, 0);
	SAFE(set_timeout(fd, 1, 500000));
	tv = get_timeout(fd);
	EXPECT_EQ(tv.tv_sec, 1);
	EXPECT_EQ(tv.tv_usec, 500000);
	/* Zero means "the default", not "do not wait". */
	SAFE(set_timeout(fd, 0, 0));
	EXPECT_EQ(get_timeout(fd).tv_sec, 2);
	EXPECT_ERRNO(set_timeout(fd, 1, 1000000), ERANGE);
	EXPECT_ERRNO(set_timeout(fd, -1, 0), ERANGE);
	EXPECT_EQ(get_timeout(fd).tv_sec, 2);
	SAFE(close(fd));
}
VSC_CASE(sockopt_connect_timeout, .sock_type = SOCK_STREAM,
	 .summary = "SO_VM_SOCKETS_CONNECT_TIMEOUT defaults to 2 s, round-trips, 0 resets, bad values ERANGE",
	 .run = connect_timeout);

#define LOWAT 128

static void lowat_server(const struct vsc_env *env)
{
	int listener, fd = vsc_accept_peer(SOCK_STREAM, env, &listener);
	int lowat = LOWAT;
	char buf[LOWAT];

	SAFE(setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &lowat, sizeof(lowat)));
	vsc_signal("lowat set");
	vsc_wait("sent one short");
	/* One byte short of the mark: poll must not report POLLIN in its window. */
	EXPECT_EQ(vsc_poll(fd, POLLIN, 500) & POLLIN, 0);
	vsc_signal("checked");
	EXPECT_TRUE(vsc_poll(fd, POLLIN, 5000) & POLLIN);
	EXPECT_EQ(SAFE(recv(fd, buf, sizeof(buf), MSG_DONTWAIT)), LOWAT);
	vsc_signal("done");
	SAFE(close(fd));
	SAFE(close(listener));
}

static void lowat_client(const struct vsc_env *env)
{
	int fd = vsc_connect_peer(SOCK_STREAM, env);
	char buf[LOWAT] = { 0 };

	vsc_wait("lowat set");
	vsc_send_all(fd, buf, LOWAT - 1);
	vsc_signal("sent one short");
	vsc_wait("checked");
	vsc_send_all(fd, buf, 1);
	vsc_wait("done");
	SAFE(close(fd));
}
VSC_CASE(sockopt_rcvlowat_poll, .sock_type = SOCK_STREAM,
	 .summary = "with SO_RCVLOWAT N, poll reports POLLIN only once N bytes are queued",
	 .server = lowat_server, .client = lowat_client, .min_kver = "6.1",
	 .tags = VSC_TAGS("vsock_test 10",
			  "vsock: pass sock_rcvlowat to notify_poll_in as target",
			  "virtio/vsock: use 'target' in notify_poll_in callback"));

static void getsockopt_lengths(const struct vsc_env *env)
{
	int fd = SAFE(socket(AF_VSOCK, SOCK_STREAM, 0));
	unsigned char big[32];
	struct timeval tv;
	uint64_t value;
	socklen_t len;
	size_t i;

	(void)env;
	/* A longer buffer gets the 8 bytes and optlen 8; the rest is left alone. */
	memset(big, 0xa5, sizeof(big));
	len = sizeof(big);
	SAFE(getsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_BUFFER_SIZE, big, &len));
	EXPECT_EQ(len, sizeof(uint64_t));
	memcpy(&value, big, sizeof(value));
	EXPECT_EQ(value, DEFAULT_BUFFER_SIZE);
	for (i = sizeof(uint64_t); i < sizeof(big); i++)
		EXPECT_EQ(big[i], 0xa5);
	/* The timeout is a struct timeval: one byte short is refused, not truncated. */
	len = sizeof(tv) - 1;
	EXPECT_ERRNO(getsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_CONNECT_TIMEOUT, &tv, &len), EINVAL);
	len = sizeof(value);
	EXPECT_ERRNO(getsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_BUFFER_SIZE, NULL, &len), EFAULT);
	EXPECT_ERRNO(getsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_BUFFER_SIZE, &value, NULL), EFAULT);
	EXPECT_ERRNO(getsockopt(fd, AF_VSOCK, 99, &value, &len), ENOPROTOOPT);
	SAFE(close(fd));
}
VSC_CASE(sockopt_getsockopt_lengths, .sock_type = SOCK_STREAM,
	 .summary = "getsockopt: long buffer gets optlen 8, short timeval EINVAL, NULL EFAULT",
	 .run = getsockopt_lengths);
