/* vu_proto.c: framing of vhost-user messages: header, payload, SCM_RIGHTS descriptors. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vu_proto.h"

static const char *const request_names[VU_REQUEST_MAX] = {
	[VU_GET_FEATURES] = "GET_FEATURES",
	[VU_SET_FEATURES] = "SET_FEATURES",
	[VU_SET_OWNER] = "SET_OWNER",
	[VU_RESET_OWNER] = "RESET_OWNER",
	[VU_SET_MEM_TABLE] = "SET_MEM_TABLE",
	[VU_SET_LOG_BASE] = "SET_LOG_BASE",
	[VU_SET_LOG_FD] = "SET_LOG_FD",
	[VU_SET_VRING_NUM] = "SET_VRING_NUM",
	[VU_SET_VRING_ADDR] = "SET_VRING_ADDR",
	[VU_SET_VRING_BASE] = "SET_VRING_BASE",
	[VU_GET_VRING_BASE] = "GET_VRING_BASE",
	[VU_SET_VRING_KICK] = "SET_VRING_KICK",
	[VU_SET_VRING_CALL] = "SET_VRING_CALL",
	[VU_SET_VRING_ERR] = "SET_VRING_ERR",
	[VU_GET_PROTOCOL_FEATURES] = "GET_PROTOCOL_FEATURES",
	[VU_SET_PROTOCOL_FEATURES] = "SET_PROTOCOL_FEATURES",
	[VU_GET_QUEUE_NUM] = "GET_QUEUE_NUM",
	[VU_SET_VRING_ENABLE] = "SET_VRING_ENABLE",
	[VU_GET_CONFIG] = "GET_CONFIG",
	[VU_SET_CONFIG] = "SET_CONFIG",
};

const char *vu_request_name(uint32_t request)
{
	if (request < VU_REQUEST_MAX && request_names[request])
		return request_names[request];
	return "UNKNOWN";
}

void vu_msg_close_fds(struct vu_msg *msg)
{
	int i;

	for (i = 0; i < msg->nfds; i++)
		if (msg->fds[i] >= 0) {
			close(msg->fds[i]);
			msg->fds[i] = -1;
		}
	msg->nfds = 0;
}

/* Reads exactly len bytes (the stream may split a message); 0 at a clean EOF before any byte. */
static ssize_t read_full(int sock, void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = read(sock, (char *)buf + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -1 : (ssize_t)done;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

int vu_msg_read(int sock, struct vu_msg *msg, char *error, size_t error_size)
{
	char control[CMSG_SPACE(sizeof(int) * VU_MAX_FDS)];
	struct iovec iov = { &msg->hdr, sizeof(msg->hdr) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
			     .msg_controllen = sizeof(control) };
	struct cmsghdr *cmsg;
	ssize_t n;

	memset(msg, 0, sizeof(*msg));
	/* The descriptors travel with the first bytes of the message: the header. */
	do
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n == 0)
		return 0;
	if (n < 0) {
		snprintf(error, error_size, "recvmsg failed: %s", strerror(errno));
		return -1;
	}
	for (cmsg = CMSG_FIRSTHDR(&mh); cmsg; cmsg = CMSG_NXTHDR(&mh, cmsg)) {
		if (cmsg->cmsg_level == SOL_SOCKET && cmsg->cmsg_type == SCM_RIGHTS) {
			size_t count = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);

			if (count > VU_MAX_FDS)
				count = VU_MAX_FDS;
			memcpy(msg->fds, CMSG_DATA(cmsg), count * sizeof(int));
			msg->nfds = (int)count;
		}
	}
	if (mh.msg_flags & MSG_CTRUNC) {
		vu_msg_close_fds(msg);
		snprintf(error, error_size, "more descriptors than the %d a message may carry",
			 VU_MAX_FDS);
		return -1;
	}
	if ((size_t)n < sizeof(msg->hdr) &&
	    read_full(sock, (char *)&msg->hdr + n, sizeof(msg->hdr) - (size_t)n) !=
		    (ssize_t)(sizeof(msg->hdr) - (size_t)n)) {
		vu_msg_close_fds(msg);
		snprintf(error, error_size, "connection closed inside a message header");
		return -1;
	}
	if ((msg->hdr.flags & 0x3u) != VU_FLAG_VERSION || msg->hdr.size > sizeof(msg->payload)) {
		snprintf(error, error_size, "%s: bad header (flags 0x%x, size %u)",
			 vu_request_name(msg->hdr.request), msg->hdr.flags, msg->hdr.size);
		vu_msg_close_fds(msg);
		return -1;
	}
	if (msg->hdr.size &&
	    read_full(sock, &msg->payload, msg->hdr.size) != (ssize_t)msg->hdr.size) {
		vu_msg_close_fds(msg);
		snprintf(error, error_size, "%s: connection closed inside the payload",
			 vu_request_name(msg->hdr.request));
		return -1;
	}
	return 1;
}

int vu_msg_reply(int sock, uint32_t request, const void *payload, uint32_t size)
{
	struct vu_header hdr = { request, VU_FLAG_VERSION | VU_FLAG_REPLY, size };
	struct iovec iov[2] = { { &hdr, sizeof(hdr) }, { (void *)payload, size } };
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = size ? 2 : 1 };
	ssize_t n;

	do
		n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)(sizeof(hdr) + size)) {
		if (n >= 0)
			errno = EIO;
		return -1;
	}
	return 0;
}
