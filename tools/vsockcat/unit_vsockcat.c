/* unit_vsockcat.c: vsockcat's parts that need no AF_VSOCK, on the build machine: the AF_HYPERV
 * decision on fabricated results, HyperKit paths and connect line over Unix sockets, the relay. */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
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
	struct vsockcat_listener l;

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
	EXPECT_EQ(vsockcat_listen(&uri, text, 0, &l, err, sizeof(err)), VSOCKCAT_BAD_ADDRESS);
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
		if (vsockcat_connect(&uri, connects[i], 0, err, sizeof(err)) != VSOCKCAT_BAD_ADDRESS ||
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
	fd = vsockcat_connect(&uri, text, 0, err, sizeof(err));	/* the backlog takes it */
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
	fd = vsockcat_connect(&uri, text, 0, err, sizeof(err));
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

/* A relay in a child process; its exit status, and its error line on err_fd. */
struct relay_child {
	pid_t pid;
	int err_fd;
};

#define RELAY_FAILED 100	/* the child's exit status when vsockcat_relay failed */

/*
 * Runs the relay between sock and in/out (or, with cmd, a CMD as -e starts it) in a child,
 * which first closes the test's ends (`theirs`, -1 terminated). Every descriptor here is close
 * on exec, so CMD holds none of the test's ends open. The child exits RELAY_FAILED when the
 * relay failed, else CMD's status (0 without one).
 */
static struct relay_child relay_start(int sock, int in, int out, const char *cmd, const int *theirs)
{
	struct relay_child c;
	int errp[2];

	SAFE(pipe2(errp, O_CLOEXEC));
	c.pid = SAFE(fork());
	if (c.pid == 0) {
		struct vsockcat_ends ends = { .sock = sock, .in = in, .out = out, .in_name = "stdin",
					      .out_name = "stdout" };
		char err[512];
		int pid = 0, status = 0;

		signal(SIGPIPE, SIG_IGN);	/* as vsockcat's main */
		for (; *theirs >= 0; theirs++)
			close(*theirs);
		close(errp[0]);
		if (cmd) {
			pid = vsockcat_cmd_start(cmd, &ends.out, &ends.in, err, sizeof(err));
			if (pid < 0)
				_exit(RELAY_FAILED + 1);
			ends.in_name = "CMD's stdout";
			ends.out_name = "CMD's stdin";
			ends.out_is_cmd = 1;
		}
		if (vsockcat_relay(&ends, err, sizeof(err))) {
			(void)!write(errp[1], err, strlen(err));
			status = RELAY_FAILED;
		}
		close(sock);
		if (pid && !status)
			status = vsockcat_cmd_wait(pid);
		_exit(status);
	}
	close(errp[1]);
	c.err_fd = errp[0];
	return c;
}

/* Waits for the child: its exit status must be `want`; its error line goes to `err`. */
static void relay_finish_at(int line, struct relay_child *c, int want, char *err, size_t size)
{
	size_t len;
	int status;

	read_all(c->err_fd, err, size - 1, &len);
	err[len] = '\0';
	close(c->err_fd);
	SAFE(waitpid(c->pid, &status, 0));
	if (!WIFEXITED(status) || WEXITSTATUS(status) != want)
		vsc_fail_at(__FILE__, line, "relay child ended with status 0x%x, want exit %d; "
			    "its error: \"%s\"", status, want, err);
}
#define relay_finish(c, want, err) relay_finish_at(__LINE__, c, want, err, sizeof(err))

/*
 * stdin and stdout as pipes, the connection one end of a socketpair: what stdin carries arrives
 * whole and then EOF (shutdown), what the socket carries reaches stdout and then EOF (stdout
 * closed while stdin is still open), and the child ends 0 once both ended.
 */
static void relay_both_ways(const struct vsc_env *env)
{
	static char to_socket[100000], to_stdout[70000], got[120000];
	int in[2], out[2], sv[2];
	struct relay_child c;
	char err[512];
	size_t i, len;

	(void)env;
	for (i = 0; i < sizeof(to_socket); i++)
		to_socket[i] = (char)(i * 7 + 1);
	for (i = 0; i < sizeof(to_stdout); i++)
		to_stdout[i] = (char)(i * 13 + 5);
	SAFE(pipe2(in, O_CLOEXEC));
	SAFE(pipe2(out, O_CLOEXEC));
	SAFE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	c = relay_start(sv[0], in[0], out[1], NULL, (int[]){ in[1], out[0], sv[1], -1 });
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
	relay_finish(&c, 0, err);
	close(out[0]);
	close(sv[1]);
}
VSC_CASE(vsockcat_relay_both_ways,
	 .summary = "the relay copies both ways byte-exact and passes each EOF on by itself",
	 .run = relay_both_ways);

/*
 * A stdout left non-blocking (shared with a shell that set O_NONBLOCK) and read slowly: writes
 * end in EAGAIN and partial counts; all bytes must still arrive, in order, then EOF.
 */
static void relay_nonblocking_stdout(const struct vsc_env *env)
{
	static char sent[1 << 20], got[(1 << 20) + 1];
	int in[2], out[2], sv[2];
	struct relay_child c;
	char err[512];
	size_t i, len = 0;
	pid_t writer;
	ssize_t n;

	(void)env;
	for (i = 0; i < sizeof(sent); i++)
		sent[i] = (char)(i * 11 + (i >> 12));
	SAFE(pipe2(in, O_CLOEXEC));
	SAFE(pipe2(out, O_CLOEXEC));
	SAFE(fcntl(out[1], F_SETFL, O_NONBLOCK));
	SAFE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	c = relay_start(sv[0], in[0], out[1], NULL, (int[]){ in[1], out[0], sv[1], -1 });
	close(in[0]);
	close(out[1]);
	close(sv[0]);
	close(in[1]);	/* stdin ends at once: the peer gets EOF first */
	/* More than the socket holds: the peer writes while we read. */
	writer = SAFE(fork());
	if (writer == 0)
		_exit(write(sv[1], sent, sizeof(sent)) != (ssize_t)sizeof(sent) ||
		      shutdown(sv[1], SHUT_WR) < 0);
	/* Small reads keep the pipe nearly full, so the relay meets EAGAIN again and again. */
	while ((n = read(out[0], got + len, len + 1000 < sizeof(got) ? 1000 : sizeof(got) - len)) > 0)
		len += (size_t)n;
	EXPECT_EQ(len, sizeof(sent));
	EXPECT_TRUE(len == sizeof(sent) && memcmp(got, sent, sizeof(sent)) == 0);
	read_all(sv[1], got, sizeof(got), &len);
	EXPECT_EQ(len, 0);
	relay_finish(&c, 0, err);
	EXPECT_EQ(vsockcat_cmd_wait(writer), 0);
	close(out[0]);
	close(sv[1]);
}
VSC_CASE(vsockcat_relay_nonblocking_stdout,
	 .summary = "a non-blocking, slowly read stdout (EAGAIN, partial writes) loses and reorders nothing",
	 .run = relay_nonblocking_stdout);

/* The peer closes with our bytes unread: a Unix socket's reset, which must be said, not EOF. */
static void relay_reset(const struct vsc_env *env)
{
	int in[2], out[2], sv[2];
	struct relay_child c;
	struct pollfd p;
	char err[512];

	(void)env;
	SAFE(pipe2(in, O_CLOEXEC));
	SAFE(pipe2(out, O_CLOEXEC));
	SAFE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	c = relay_start(sv[0], in[0], out[1], NULL, (int[]){ in[1], out[0], sv[1], -1 });
	close(in[0]);
	close(out[1]);
	close(sv[0]);
	ASSERT_EQ(write(in[1], "unread", 6), 6);
	p = (struct pollfd){ .fd = sv[1], .events = POLLIN };
	ASSERT_EQ(poll(&p, 1, 10000), 1);
	close(sv[1]);
	relay_finish(&c, RELAY_FAILED, err);
	if (!strstr(err, "read from the connection: ECONNRESET"))
		vsc_fail_at(__FILE__, __LINE__, "error \"%s\" does not name the reset", err);
	close(in[1]);
	close(out[0]);
}
VSC_CASE(vsockcat_relay_reset,
	 .summary = "a peer's reset ends the relay with \"read from the connection: ECONNRESET\"",
	 .run = relay_reset);

/*
 * -e cat with a megabyte each way at once, more than the socket's and both pipes' buffers
 * hold: a relay that blocked on one side would deadlock with cat. The peer's EOF reaches cat,
 * cat's EOF reaches the peer, and cat's status is the relay child's.
 */
static void relay_cmd(const struct vsc_env *env)
{
	static char sent[1 << 20], got[(1 << 20) + 1];
	struct relay_child c;
	char err[512];
	size_t i, len;
	pid_t writer;
	int sv[2];

	(void)env;
	for (i = 0; i < sizeof(sent); i++)
		sent[i] = (char)(i * 5 + (i >> 10));
	SAFE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	c = relay_start(sv[0], -1, -1, "cat", (int[]){ sv[1], -1 });
	close(sv[0]);
	writer = SAFE(fork());
	if (writer == 0)
		_exit(write(sv[1], sent, sizeof(sent)) != (ssize_t)sizeof(sent) ||
		      shutdown(sv[1], SHUT_WR) < 0);
	read_all(sv[1], got, sizeof(got), &len);
	EXPECT_EQ(len, sizeof(sent));
	EXPECT_TRUE(len == sizeof(sent) && memcmp(got, sent, sizeof(sent)) == 0);
	relay_finish(&c, 0, err);
	EXPECT_EQ(vsockcat_cmd_wait(writer), 0);
	close(sv[1]);
}
VSC_CASE(vsockcat_relay_cmd,
	 .summary = "-e cat echoes a megabyte sent at once byte-exact (no deadlock), EOF both ways",
	 .run = relay_cmd);

/* CMD's exit status is vsockcat's, and one that reads nothing still ends the connection. */
static void relay_cmd_status(const struct vsc_env *env)
{
	static const struct {
		const char *cmd;
		int status;
	} rows[] = { { "echo hi; exit 3", 3 }, { "echo hi; kill -TERM $$", 128 + SIGTERM } };
	struct relay_child c;
	char err[512], got[16];
	size_t i, len;
	int sv[2];

	(void)env;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		SAFE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
		vsc_step_at(__FILE__, __LINE__, rows[i].cmd);
		c = relay_start(sv[0], -1, -1, rows[i].cmd, (int[]){ sv[1], -1 });
		close(sv[0]);
		/*
		 * The peer keeps its write side open: CMD's end alone must end the relay. (It
		 * sends nothing: bytes nobody read make the close a reset, as with nc -e.)
		 */
		read_all(sv[1], got, sizeof(got) - 1, &len);
		got[len] = '\0';
		EXPECT_TRUE(strcmp(got, "hi\n") == 0);
		relay_finish(&c, rows[i].status, err);
		close(sv[1]);
	}
}
VSC_CASE(vsockcat_relay_cmd_status,
	 .summary = "-e: CMD's exit status (128 + signal) is vsockcat's; a CMD that reads nothing still ends",
	 .run = relay_cmd_status);
