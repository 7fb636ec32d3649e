/* ioctl.c: ioctls: the /dev/vsock device's, and a socket's queue sizes (SIOCINQ, SIOCOUTQ). */
#include <fcntl.h>
#include <linux/sockios.h>
#include <poll.h>
#include <string.h>
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

#define QUEUE_BYTES 64

/*
 * Where the running kernel lacks the ioctl, check that it says so the way it should, then skip:
 * the queue sizes themselves cannot be checked there.
 */
static void require_queue_ioctl(int fd, unsigned long request, const char *name, const char *key)
{
	int expected = vsc_expected_errno(key), value;

	if (!expected)
		return;
	ASSERT_ERRNO(ioctl(fd, request, &value), expected);
	vsc_skip("%s on AF_VSOCK is not in this kernel (it answers %s, as expected)", name,
		 vsc_errname(expected));
}

static int queue_size(int fd, unsigned long request)
{
	int value = -1;

	SAFE(ioctl(fd, request, &value));
	return value;
}

/* SIOCOUTQ counts bytes the transport has not handed on yet; it drains without our help. */
static int outq_after_settling(int fd)
{
	int i, unsent = queue_size(fd, SIOCOUTQ);

	for (i = 0; unsent != 0 && i < VSC_SETTLE_MS / 10; i++) {
		vsc_poll(fd, 0, 10);
		unsent = queue_size(fd, SIOCOUTQ);
	}
	return unsent;
}

static void unsent_server(const struct vsc_env *env, int type)
{
	unsigned char buf[QUEUE_BYTES], expected[QUEUE_BYTES];
	int listener, fd = vsc_accept_peer(type, env, &listener);

	vsc_wait("sent");
	vsc_recv_all(fd, buf, sizeof(buf));
	vsc_fill_pattern(expected, sizeof(expected), 0);
	EXPECT_TRUE(memcmp(buf, expected, sizeof(buf)) == 0);
	vsc_signal("received");
	vsc_wait("done");
	SAFE(close(fd));
	SAFE(close(listener));
}

static void unsent_client(const struct vsc_env *env, int type)
{
	unsigned char buf[QUEUE_BYTES];
	int fd = vsc_connect_peer(type, env);

	require_queue_ioctl(fd, SIOCOUTQ, "SIOCOUTQ", "socket_ioctl_siocoutq");
	EXPECT_EQ(queue_size(fd, SIOCOUTQ), 0);
	vsc_fill_pattern(buf, sizeof(buf), 0);
	vsc_send_all(fd, buf, sizeof(buf));
	vsc_signal("sent");
	vsc_wait("received");
	/* The peer holds every byte, so none can still be waiting on our side. */
	EXPECT_EQ(outq_after_settling(fd), 0);
	vsc_signal("done");
	SAFE(close(fd));
}

static void unsent_stream_server(const struct vsc_env *env)
{
	unsent_server(env, SOCK_STREAM);
}

static void unsent_stream_client(const struct vsc_env *env)
{
	unsent_client(env, SOCK_STREAM);
}
VSC_CASE(ioctl_siocoutq_stream, .sock_type = SOCK_STREAM,
	 .summary = "SIOCOUTQ is 0 before sending and falls back to 0 once the peer has the bytes",
	 .server = unsent_stream_server, .client = unsent_stream_client,
	 .tags = VSC_TAGS("vsock_test 24", "vsock: add support for SIOCOUTQ ioctl"));

static void unsent_seqpacket_server(const struct vsc_env *env)
{
	unsent_server(env, SOCK_SEQPACKET);
}

static void unsent_seqpacket_client(const struct vsc_env *env)
{
	unsent_client(env, SOCK_SEQPACKET);
}
VSC_CASE(ioctl_siocoutq_seqpacket, .sock_type = SOCK_SEQPACKET,
	 .summary = "SIOCOUTQ on SOCK_SEQPACKET is 0 before and after a message reaches the peer",
	 .server = unsent_seqpacket_server, .client = unsent_seqpacket_client,
	 .needs = VSC_NEED_SEQPACKET,
	 .tags = VSC_TAGS("vsock_test 25", "vsock: add support for SIOCOUTQ ioctl"));

static void unread_server(const struct vsc_env *env, int type)
{
	unsigned char buf[QUEUE_BYTES];
	int listener, fd = vsc_accept_peer(type, env, &listener);

	vsc_wait("ready");
	vsc_fill_pattern(buf, sizeof(buf), 0);
	vsc_send_all(fd, buf, sizeof(buf));
	vsc_signal("sent");
	vsc_wait("done");
	SAFE(close(fd));
	SAFE(close(listener));
}

static void unread_client(const struct vsc_env *env, int type)
{
	unsigned char buf[QUEUE_BYTES], expected[QUEUE_BYTES];
	int fd = vsc_connect_peer(type, env);

	require_queue_ioctl(fd, SIOCINQ, "SIOCINQ", "socket_ioctl_siocinq");
	EXPECT_EQ(queue_size(fd, SIOCINQ), 0);
	vsc_signal("ready");
	vsc_wait("sent");
	/* One send of QUEUE_BYTES is one packet: once readable, all of it is queued. */
	ASSERT_TRUE(vsc_poll(fd, POLLIN, VSC_SETTLE_MS) & POLLIN);
	EXPECT_EQ(queue_size(fd, SIOCINQ), QUEUE_BYTES);
	vsc_fill_pattern(expected, sizeof(expected), 0);
	if (type == SOCK_STREAM) {
		/* A partial read leaves the rest counted. */
		vsc_recv_all(fd, buf, QUEUE_BYTES / 2);
		EXPECT_EQ(queue_size(fd, SIOCINQ), QUEUE_BYTES / 2);
		vsc_recv_all(fd, buf + QUEUE_BYTES / 2, QUEUE_BYTES / 2);
	} else {
		EXPECT_EQ(SAFE(recv(fd, buf, sizeof(buf), 0)), QUEUE_BYTES);
	}
	EXPECT_TRUE(memcmp(buf, expected, sizeof(buf)) == 0);
	EXPECT_EQ(queue_size(fd, SIOCINQ), 0);
	vsc_signal("done");
	SAFE(close(fd));
}

static void unread_stream_server(const struct vsc_env *env)
{
	unread_server(env, SOCK_STREAM);
}

static void unread_stream_client(const struct vsc_env *env)
{
	unread_client(env, SOCK_STREAM);
}
VSC_CASE(ioctl_siocinq_stream, .sock_type = SOCK_STREAM,
	 .summary = "SIOCINQ counts the bytes queued: 0, 64, 32 after a partial read, then 0",
	 .server = unread_stream_server, .client = unread_stream_client,
	 .tags = VSC_TAGS("vsock_test 34", "vsock: Add support for SIOCINQ ioctl"));

static void unread_seqpacket_server(const struct vsc_env *env)
{
	unread_server(env, SOCK_SEQPACKET);
}

static void unread_seqpacket_client(const struct vsc_env *env)
{
	unread_client(env, SOCK_SEQPACKET);
}
VSC_CASE(ioctl_siocinq_seqpacket, .sock_type = SOCK_SEQPACKET,
	 .summary = "SIOCINQ on SOCK_SEQPACKET counts a queued message, then 0 once it is read",
	 .server = unread_seqpacket_server, .client = unread_seqpacket_client,
	 .needs = VSC_NEED_SEQPACKET,
	 .tags = VSC_TAGS("vsock_test 35", "vsock: Add support for SIOCINQ ioctl"));
