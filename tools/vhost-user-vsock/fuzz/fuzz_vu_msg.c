/*
 * fuzz_vu_msg.c: libFuzzer target: the input is a byte stream of vhost-user messages (header
 * and payload, no descriptors) that vu_msg_read() parses from a socket and vu_device_handle()
 * serves, on a fresh device per input, as the backend's connection loop does.
 */
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vu_device.h"

/* The whole input sits in the socket before it is read: stay well under its buffer. */
#define INPUT_MAX 65536

static void write_all(int fd, const uint8_t *data, size_t size)
{
	while (size) {
		ssize_t n = write(fd, data, size);

		if (n <= 0)
			abort();	/* the harness itself failed, not the code under test */
		data += n;
		size -= (size_t)n;
	}
}

/* Replies pile up in QEMU's end of the socket: drop them so it never fills. */
static void drain(int fd)
{
	char sink[4096];

	while (recv(fd, sink, sizeof(sink), MSG_DONTWAIT) > 0)
		;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vu_device dev;
	struct vu_msg msg;
	char error[256];
	int sv[2];

	if (size > INPUT_MAX)
		return 0;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	write_all(sv[0], data, size);
	shutdown(sv[0], SHUT_WR);
	vu_device_init(&dev, 3, 0);
	/* Like the connection loop: the first malformed or refused message ends the connection. */
	while (vu_msg_read(sv[1], &msg, error, sizeof(error)) == 1) {
		int ret = vu_device_handle(&dev, sv[1], &msg, error, sizeof(error));

		drain(sv[0]);
		if (ret < 0)
			break;
	}
	vu_device_reset(&dev);
	close(sv[0]);
	close(sv[1]);
	return 0;
}
