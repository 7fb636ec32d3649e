/* unit_vsockcat.c: vsockcat's parts that need no AF_VSOCK, on the build machine: the AF_HYPERV
 * decision on fabricated results, HyperKit paths and connect line over Unix sockets, the relay. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hyperv_probe.h"
#include "vsc.h"
#include "vsockcat.h"

static void hyperv_decision(const struct vsc_env *env)
{
	static const struct {
		struct hyperv_probe_result r;
		int present;
		const char *msg;
	} rows[] = {
		/* No family 43 at all (no smc module): socket() fails. */
		{ { EAFNOSUPPORT, 0, 0 }, 0,
		  "family 43 is not AF_HYPERV (AF_SMC or absent): socket: EAFNOSUPPORT" },
		/* AF_SMC before 4.16: protocol 1 is unknown. */
		{ { EPROTONOSUPPORT, 0, 0 }, 0,
		  "family 43 is not AF_HYPERV (AF_SMC or absent): socket: EPROTONOSUPPORT" },
		{ { 0, EOPNOTSUPP, 0 }, 0,
		  "family 43 is not AF_HYPERV (AF_SMC or absent): getsockname: EOPNOTSUPP" },
		/* AF_SMC's SMCPROTO_SMC6 (4.16+): getsockname gives a sockaddr_in6. */
		{ { 0, 0, 28 }, 0,
		  "family 43 is not AF_HYPERV (AF_SMC or absent): getsockname gave a 28-byte address, not 36" },
		{ { 0, 0, 37 }, 0,
		  "family 43 is not AF_HYPERV (AF_SMC or absent): getsockname gave a 37-byte address, not 36" },
		{ { 0, 0, 36 }, 1, "AF_HYPERV present" },
	};
	char msg[256];
	size_t i;
	int present;

	(void)env;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		present = hyperv_probe_decide(&rows[i].r, msg, sizeof(msg));
		if (present != rows[i].present || strcmp(msg, rows[i].msg) != 0)
			vsc_fail_at(__FILE__, __LINE__, "row %zu: %d \"%s\", want %d \"%s\"", i, present,
				    msg, rows[i].present, rows[i].msg);
	}
}
VSC_CASE(vsockcat_hyperv_decision,
	 .summary = "family 43 counts as AF_HYPERV only if it opens and names itself in 36 bytes",
	 .run = hyperv_decision);

static struct vsock_uri uri_of(const char *text)
{
	struct vsock_uri uri;
	char err[256];

	if (vsock_uri_parse(text, &uri, err, sizeof(err)))
		vsc_fatal_at(__FILE__, __LINE__, "%s", err);
	return uri;
}

static void hyperkit_paths(const struct vsc_env *env)
{
	struct vsock_uri uri = uri_of("hyperkit://:80/var/run/state");
	char path[300], text[300], err[256];

	(void)env;
	ASSERT_EQ(vsockcat_hyperkit_connect_path(&uri, path, sizeof(path)), 0);
	EXPECT_TRUE(strcmp(path, "/var/run/state/connect") == 0);
	ASSERT_EQ(vsockcat_hyperkit_listen_path(&uri, path, sizeof(path)), 0);
	EXPECT_TRUE(strcmp(path, "/var/run/state/00000002.00000050") == 0);
	uri = uri_of("hyperkit://3:4294967295/s");
	ASSERT_EQ(vsockcat_hyperkit_listen_path(&uri, path, sizeof(path)), 0);
	EXPECT_TRUE(strcmp(path, "/s/00000003.ffffffff") == 0);
	/* 100 characters of directory leave no room in sun_path (108) for the socket's name. */
	snprintf(text, sizeof(text), "hyperkit://:80/%0100d", 0);
	uri = uri_of(text);
	EXPECT_EQ(vsockcat_hyperkit_listen_path(&uri, path, sizeof(path)), -1);
	EXPECT_EQ(vsockcat_open(&uri, text, 1, 0, err, sizeof(err)), VSOCKCAT_BAD_ADDRESS);
	EXPECT_TRUE(strstr(err, "too long for a Unix socket path") != NULL);
}
VSC_CASE(vsockcat_hyperkit_paths,
	 .summary = "HyperKit's connect socket and listener name (CID.PORT in hex); overlong dirs refused",
	 .run = hyperkit_paths);

/* Refusals that come before any socket: none of these may reach socket(AF_VSOCK). */
static void refused_addresses(const struct vsc_env *env)
{
	static const char *const connects[] = {
		"vsock://:80",
		"hvsock://parent/3049197c-9a4e-4fbf-9367-97f792f16994",
		"hvsock://children/00000050-facb-11e6-bd58-64006a7986d3",
		"hvsock://wildcard/00000050-facb-11e6-bd58-64006a7986d3",
	};
	struct vsock_uri uri;
	char err[256];
	size_t i;

	(void)env;
	for (i = 0; i < sizeof(connects) / sizeof(connects[0]); i++) {
		uri = uri_of(connects[i]);
		err[0] = '\0';
		if (vsockcat_open(&uri, connects[i], 0, 0, err, sizeof(err)) != VSOCKCAT_BAD_ADDRESS ||
		    strncmp(err, connects[i], strlen(connects[i])) != 0)
			vsc_fail_at(__FILE__, __LINE__, "%s: \"%s\"", connects[i], err);
	}
}
VSC_CASE(vsockcat_refused_addresses,
	 .summary = "vsock://:PORT without -l and hvsock:// a guest cannot reach are refused up front",
	 .run = refused_addresses);

static char state_dir[64];

static void make_state_dir(void)
{
	snprintf(state_dir, sizeof(state_dir), "/tmp/vsockcheck-hyperkit-XXXXXX");
	if (!mkdtemp(state_dir))
		vsc_fatal_at(__FILE__, __LINE__, "mkdtemp: %s", vsc_errname(errno));
}

static int unix_listen(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd = SAFE(socket(AF_UNIX, SOCK_STREAM, 0));

	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	SAFE(bind(fd, (struct sockaddr *)&addr, sizeof(addr)));
	SAFE(listen(fd, 1));
	return fd;
}

/* HyperKit's side of a connect: the line "CID.PORT\n" arrives first on DIR/connect. */
static void hyperkit_connect_line(const struct vsc_env *env)
{
	char path[128], text[160], err[256], line[64];
	struct vsock_uri uri;
	int listener, fd, conn;
	ssize_t n;

	(void)env;
	make_state_dir();
	snprintf(path, sizeof(path), "%s/connect", state_dir);
	listener = unix_listen(path);
	snprintf(text, sizeof(text), "hyperkit://:1234%s", state_dir);
	uri = uri_of(text);
	fd = vsockcat_open(&uri, text, 0, 0, err, sizeof(err));	/* the backlog takes it */
	if (fd < 0)
		vsc_fatal_at(__FILE__, __LINE__, "%s", err);
	conn = SAFE(accept(listener, NULL, NULL));
	n = SAFE(read(conn, line, sizeof(line) - 1));
	line[n] = '\0';
	EXPECT_TRUE(strcmp(line, "00000003.000004d2\n") == 0);
	close(fd);
	close(conn);
	close(listener);
	unlink(path);
	/* No HyperKit there any more: the error names the connect socket. */
	fd = vsockcat_open(&uri, text, 0, 0, err, sizeof(err));
	EXPECT_EQ(fd, -1);
	EXPECT_TRUE(strstr(err, "connect /tmp/vsockcheck-hyperkit-") && strstr(err, "ENOENT"));
	rmdir(state_dir);
}
VSC_CASE(vsockcat_hyperkit_connect_line,
	 .summary = "hyperkit:// connects to DIR/connect and writes \"00000003.PORT\\n\" first",
	 .run = hyperkit_connect_line);

static void read_all(int fd, char *buf, size_t size, size_t *len)
{
	ssize_t n;

	*len = 0;
	while ((n = read(fd, buf + *len, size - *len)) > 0)
		*len += (size_t)n;
	if (n < 0)
		vsc_fatal_at(__FILE__, __LINE__, "read: %s", vsc_errname(errno));
}

/*
 * The relay in a child with pipes for stdin and stdout and one end of a socketpair: what stdin
 * carries arrives whole and then EOF (shutdown), what the socket carries reaches stdout and then
 * EOF (stdout closed while stdin is still open), and the child exits 0 once both ended.
 */
static void relay_both_ways(const struct vsc_env *env)
{
	static char to_socket[100000], to_stdout[70000], got[120000];
	int in[2], out[2], sv[2], status;
	size_t i, len;
	pid_t pid;

	(void)env;
	for (i = 0; i < sizeof(to_socket); i++)
		to_socket[i] = (char)(i * 7 + 1);
	for (i = 0; i < sizeof(to_stdout); i++)
		to_stdout[i] = (char)(i * 13 + 5);
	SAFE(pipe(in));
	SAFE(pipe(out));
	SAFE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	pid = SAFE(fork());
	if (pid == 0) {
		char err[256];

		dup2(in[0], STDIN_FILENO);
		dup2(out[1], STDOUT_FILENO);
		close(in[0]);
		close(in[1]);
		close(out[0]);
		close(out[1]);
		close(sv[1]);
		if (vsockcat_relay(sv[0], err, sizeof(err))) {
			fprintf(stderr, "relay: %s\n", err);
			_exit(1);
		}
		_exit(0);
	}
	close(in[0]);
	close(out[1]);
	close(sv[0]);
	/* The peer's data and its EOF first: stdout must end though stdin is still open. */
	ASSERT_EQ(write(sv[1], to_stdout, sizeof(to_stdout)), (ssize_t)sizeof(to_stdout));
	SAFE(shutdown(sv[1], SHUT_WR));
	read_all(out[0], got, sizeof(got), &len);
	EXPECT_EQ(len, sizeof(to_stdout));
	EXPECT_TRUE(memcmp(got, to_stdout, sizeof(to_stdout)) == 0);
	/* Then stdin's data and EOF: the peer sees all of it, then its EOF. */
	ASSERT_EQ(write(in[1], to_socket, sizeof(to_socket)), (ssize_t)sizeof(to_socket));
	close(in[1]);
	read_all(sv[1], got, sizeof(got), &len);
	EXPECT_EQ(len, sizeof(to_socket));
	EXPECT_TRUE(memcmp(got, to_socket, sizeof(to_socket)) == 0);
	SAFE(waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(out[0]);
	close(sv[1]);
}
VSC_CASE(vsockcat_relay_both_ways,
	 .summary = "the relay copies both ways byte-exact and passes each EOF on by itself",
	 .run = relay_both_ways);
