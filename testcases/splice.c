/* splice.c: file data into and out of a vsock with sendfile() and splice() through a pipe. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <unistd.h>

#include "vsc.h"
#include "vsc_sock.h"

#define FILE_BYTES (1u << 20)
#define CHUNK (64u << 10)

/* A FILE_BYTES pattern file on the guest's tmpfs /tmp, already unlinked; returns its CRC-32. */
static int pattern_file(uint32_t *crc)
{
	char path[] = "/tmp/vsockcheck-splice-XXXXXX";
	char *buf = malloc(CHUNK);
	int fd = SAFE(mkstemp(path));
	uint32_t off;

	ASSERT_TRUE(buf != NULL);
	SAFE(unlink(path));
	*crc = 0;
	for (off = 0; off < FILE_BYTES; off += CHUNK) {
		vsc_fill_pattern(buf, CHUNK, off);
		*crc = vsc_crc32(*crc, buf, CHUNK);
		ASSERT_EQ(SAFE(write(fd, buf, CHUNK)), CHUNK);
	}
	free(buf);
	return fd;
}

/* Reads the whole stream to EOF and compares it with the sender's count and CRC-32. */
static void receive_and_compare(int fd)
{
	char *buf = malloc(CHUNK);
	uint64_t got = 0;
	uint32_t crc = 0;

	ASSERT_TRUE(buf != NULL);
	for (;;) {
		ssize_t n = SAFE(recv(fd, buf, CHUNK, 0));

		if (n == 0)
			break;
		crc = vsc_crc32(crc, buf, (size_t)n);
		got += (uint64_t)n;
	}
	EXPECT_EQ(got, FILE_BYTES);
	EXPECT_EQ(crc, vsc_recv_value("crc32 sent"));
	free(buf);
}

static void receiving_server(const struct vsc_env *env)
{
	int listener, fd = vsc_accept_peer(SOCK_STREAM, env, &listener);

	receive_and_compare(fd);
	SAFE(close(fd));
	SAFE(close(listener));
}

static void sendfile_client(const struct vsc_env *env)
{
	int fd = vsc_connect_peer(SOCK_STREAM, env);
	uint32_t crc;
	int file = pattern_file(&crc);
	off_t offset = 0;

	/* Short counts are allowed (the peer's credit runs out); the offset says how far it got. */
	while (offset < (off_t)FILE_BYTES) {
		ssize_t n = SAFE(sendfile(fd, file, &offset, FILE_BYTES - (size_t)offset));

		ASSERT_TRUE(n > 0);
	}
	EXPECT_EQ(offset, FILE_BYTES);
	SAFE(shutdown(fd, SHUT_WR));
	vsc_send_value("crc32 sent", crc);
	SAFE(close(file));
	SAFE(close(fd));
}
VSC_CASE(splice_sendfile_to_vsock, .sock_type = SOCK_STREAM,
	 .summary = "sendfile() of a 1 MiB tmpfs file into a vsock delivers every byte in order",
	 .server = receiving_server, .client = sendfile_client);

static void splice_client(const struct vsc_env *env)
{
	int fd = vsc_connect_peer(SOCK_STREAM, env);
	uint32_t crc;
	int file = pattern_file(&crc), pipefd[2];
	loff_t offset = 0;

	SAFE(pipe(pipefd));
	while (offset < (loff_t)FILE_BYTES) {
		ssize_t in = SAFE(splice(file, &offset, pipefd[1], NULL, CHUNK, SPLICE_F_MOVE));

		ASSERT_TRUE(in > 0);
		while (in > 0) {
			ssize_t out = SAFE(splice(pipefd[0], NULL, fd, NULL, (size_t)in,
						  SPLICE_F_MOVE));

			ASSERT_TRUE(out > 0);
			in -= out;
		}
	}
	SAFE(shutdown(fd, SHUT_WR));
	vsc_send_value("crc32 sent", crc);
	SAFE(close(pipefd[0]));
	SAFE(close(pipefd[1]));
	SAFE(close(file));
	SAFE(close(fd));
}
VSC_CASE(splice_pipe_to_vsock, .sock_type = SOCK_STREAM,
	 .summary = "splice() file -> pipe -> vsock of 1 MiB delivers every byte in order",
	 .server = receiving_server, .client = splice_client);

static void splice_out_server(const struct vsc_env *env)
{
	int listener, fd = vsc_accept_peer(SOCK_STREAM, env, &listener), pipefd[2];
	char *buf = malloc(CHUNK);
	uint64_t got = 0;
	uint32_t crc = 0;

	ASSERT_TRUE(buf != NULL);
	SAFE(pipe(pipefd));
	for (;;) {
		ssize_t in = SAFE(splice(fd, NULL, pipefd[1], NULL, CHUNK, SPLICE_F_MOVE));

		if (in == 0)
			break;
		while (in > 0) {
			ssize_t n = SAFE(read(pipefd[0], buf, (size_t)in));

			ASSERT_TRUE(n > 0);
			crc = vsc_crc32(crc, buf, (size_t)n);
			got += (uint64_t)n;
			in -= n;
		}
	}
	EXPECT_EQ(got, FILE_BYTES);
	EXPECT_EQ(crc, vsc_recv_value("crc32 sent"));
	free(buf);
	SAFE(close(pipefd[0]));
	SAFE(close(pipefd[1]));
	SAFE(close(fd));
	SAFE(close(listener));
}
VSC_CASE(splice_vsock_to_pipe, .sock_type = SOCK_STREAM,
	 .summary = "splice() vsock -> pipe reads 1 MiB sent with sendfile() intact, and 0 at EOF",
	 .server = splice_out_server, .client = sendfile_client);
