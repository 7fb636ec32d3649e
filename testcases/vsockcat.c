/* vsockcat.c: the vsockcat tool in the guest: vsock:// and hvsock:// over vsock_loopback, hyperkit://
 * against a fake HyperKit state directory, the AF_HYPERV probe, and (topology hvsock) hvsock://parent
 * over the real hv_sock against hvsock-peer playing the Hyper-V host. */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vsc.h"

#define VSOCKCAT "/usr/bin/vsockcat"
#define HVSOCK_PEER "/usr/bin/hvsock-peer"
/* A few KB each way, in sizes that are no multiple of any buffer. */
#define A_TO_B_BYTES 6007
#define B_TO_A_BYTES 4099
/* How long an exchange may take under TCG before it counts as stuck. */
#define EXCHANGE_MS 20000
/* vsock_uri's service GUID template, Data1 = port (hyperv_transport.c's srv_id_template). */
#define SERVICE_GUID_FMT "%08x-facb-11e6-bd58-64006a7986d3"

/* A vsockcat process: its stdin to write, its stdout and stderr to read. */
struct cat {
	const char *name;	/* the program's file name, for messages */
	pid_t pid;
	int in, out, err;
};

/*
 * One end of an exchange: where its bytes go in and come out. A socket is both (its write side
 * ends with shutdown(SHUT_WR)); a vsockcat process writes to its stdin and reads its stdout.
 */
struct end {
	const char *name;
	struct cat *cat;	/* a vsockcat's end: closing its stdin is closing the write side */
	int wfd, rfd;
	const char *send;
	size_t send_len, sent;
	char got[8192];
	size_t got_len;
	int eof;
};

static void require_vsockcat(void)
{
	if (access(VSOCKCAT, X_OK) != 0)
		vsc_skip("%s is not in this image (the runner ships it from build/bin)", VSOCKCAT);
}

static void pipe_or_die(int fds[2])
{
	SAFE(pipe2(fds, O_CLOEXEC));
}

/* Starts vsockcat with args; every descriptor but its three pipes is closed on exec. */
static struct cat cat_start(char *const argv[])
{
	int in[2], out[2], err[2];
	pid_t parent = getpid();
	struct cat c;

	pipe_or_die(in);
	pipe_or_die(out);
	pipe_or_die(err);
	c.pid = SAFE(fork());
	if (c.pid == 0) {
		/* A case that ends early (a failed check) takes its vsockcat along. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		dup2(in[0], STDIN_FILENO);
		dup2(out[1], STDOUT_FILENO);
		dup2(err[1], STDERR_FILENO);
		execv(argv[0], argv);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	close(err[1]);
	c.name = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
	c.in = in[1];
	c.out = out[0];
	c.err = err[0];
	return c;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads c's stderr until a line containing `word` (vsockcat -v and hvsock-peer listen say
 * "listening on ..."). */
static void cat_wait_line(struct cat *c, const char *word)
{
	long long deadline = now_ms() + EXCHANGE_MS;
	char text[1024];
	size_t len = 0;
	ssize_t n;

	text[0] = '\0';
	while (!strstr(text, word)) {
		struct pollfd p = { .fd = c->err, .events = POLLIN };
		long long left = deadline - now_ms();

		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			vsc_fatal_at(__FILE__, __LINE__, "%s did not say '%s' in %d ms; its "
				     "stderr: \"%s\"", c->name, word, EXCHANGE_MS, text);
		n = read(c->err, text + len, sizeof(text) - len - 1);
		if (n <= 0)
			vsc_fatal_at(__FILE__, __LINE__, "%s ended before saying '%s'; its "
				     "stderr: \"%s\"", c->name, word, text);
		len += (size_t)n;
		text[len] = '\0';
	}
}

/*
 * Waits for c to exit and checks its exit status (128 + signal if killed) is `want`; on a
 * mismatch its stderr (the tool's one-line error) is the diagnostic. stderr_text (or NULL):
 * gets that stderr.
 */
static void cat_finish_at(const char *file, int line, struct cat *c, int want, char *stderr_text,
			  size_t size)
{
	char text[1024];
	size_t len = 0;
	ssize_t n;
	int status, got;

	if (c->in >= 0)
		close(c->in);
	close(c->out);
	while (len < sizeof(text) - 1 &&
	       (n = read(c->err, text + len, sizeof(text) - 1 - len)) > 0)
		len += (size_t)n;
	text[len] = '\0';
	close(c->err);
	SAFE(waitpid(c->pid, &status, 0));
	got = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	if (got != want)
		vsc_fail_at(file, line, "%s exited %d, want %d; its stderr: \"%s\"", c->name, got,
			    want, text);
	if (stderr_text)
		snprintf(stderr_text, size, "%s", text);
}
#define cat_finish(c, want) cat_finish_at(__FILE__, __LINE__, c, want, NULL, 0)
#define cat_finish_stderr(c, want, text) \
	cat_finish_at(__FILE__, __LINE__, c, want, text, sizeof(text))

static void fill(char *buf, size_t len, unsigned int seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = (char)(seed + i * 31 + (i >> 8));
}

static void end_close_write(struct end *e)
{
	if (e->cat) {
		close(e->cat->in);
		e->cat->in = -1;
	} else {
		SAFE(shutdown(e->wfd, SHUT_WR));
	}
	e->wfd = -1;
}

/*
 * Every end sends what it holds at once and reads until EOF (a writer that waited for its
 * reader could deadlock with a peer doing the same). An end without wfd sends nothing and keeps
 * its write side open; one without rfd reads nothing.
 */
static void pump(struct end **ends, int count)
{
	long long deadline = now_ms() + EXCHANGE_MS;
	int i, all_done = 0;

	/* A vsockcat that died shows as EPIPE with a message, not as this role killed by SIGPIPE. */
	signal(SIGPIPE, SIG_IGN);
	for (i = 0; i < count; i++) {
		if (ends[i]->wfd >= 0)
			SAFE(fcntl(ends[i]->wfd, F_SETFL, fcntl(ends[i]->wfd, F_GETFL) | O_NONBLOCK));
		if (ends[i]->rfd < 0)
			ends[i]->eof = 1;
	}
	while (!all_done) {
		struct pollfd p[4];
		long long left = deadline - now_ms();

		for (i = 0; i < count; i++) {
			p[i] = (struct pollfd){ .fd = ends[i]->wfd, .events = POLLOUT };
			p[2 + i] = (struct pollfd){ .fd = ends[i]->eof ? -1 : ends[i]->rfd,
						    .events = POLLIN };
		}
		for (; i < 2; i++)
			p[i] = p[2 + i] = (struct pollfd){ .fd = -1 };
		if (left <= 0 || poll(p, 4, (int)left) <= 0) {
			for (i = 0; i < count; i++)
				vsc_diag("%s sent %zu/%zu got %zu%s", ends[i]->name, ends[i]->sent,
					 ends[i]->send_len, ends[i]->got_len,
					 ends[i]->eof ? " and EOF" : "");
			vsc_fatal_at(__FILE__, __LINE__, "stuck after %d ms", EXCHANGE_MS);
		}
		all_done = 1;
		for (i = 0; i < count; i++) {
			struct end *e = ends[i];
			ssize_t n;

			if (e->wfd >= 0 && p[i].revents) {
				n = write(e->wfd, e->send + e->sent, e->send_len - e->sent);
				if (n < 0 && errno != EAGAIN)
					vsc_fatal_at(__FILE__, __LINE__, "%s: write: %s", e->name,
						     vsc_errname(errno));
				if (n > 0)
					e->sent += (size_t)n;
				if (e->sent == e->send_len)
					end_close_write(e);
			}
			if (p[2 + i].revents) {
				n = read(e->rfd, e->got + e->got_len, sizeof(e->got) - e->got_len);
				if (n < 0 && errno != EAGAIN)
					vsc_fatal_at(__FILE__, __LINE__, "%s: read: %s", e->name,
						     vsc_errname(errno));
				if (n == 0 && e->got_len == sizeof(e->got))
					vsc_fatal_at(__FILE__, __LINE__, "%s got more than %zu bytes",
						     e->name, sizeof(e->got));
				if (n == 0)
					e->eof = 1;
				if (n > 0)
					e->got_len += (size_t)n;
			}
			/* Done: every end has read its EOF and sent (and closed) all it had. */
			all_done &= e->eof && e->wfd < 0;
		}
	}
}

/* e must have got exactly want, then EOF. */
static void expect_got_at(int line, const struct end *e, const char *want, size_t len)
{
	if (e->got_len != len || memcmp(e->got, want, len) != 0)
		vsc_fail_at(__FILE__, line, "%s got %zu bytes \"%.*s\"..., want %zu \"%.*s\"...",
			    e->name, e->got_len, (int)(e->got_len < 40 ? e->got_len : 40), e->got,
			    len, (int)(len < 40 ? len : 40), want);
}
#define expect_got(e, want, len) expect_got_at(__LINE__, e, want, len)

/* Both ends at once; then each must have got the other's bytes exactly. */
static void exchange(struct end *a, struct end *b)
{
	struct end *ends[2] = { a, b };

	pump(ends, 2);
	expect_got(b, a->send, a->send_len);
	expect_got(a, b->send, b->send_len);
}

static void end_of_cat(struct end *e, const char *name, struct cat *c, const char *send,
		       size_t len)
{
	*e = (struct end){ .name = name, .cat = c, .wfd = c->in, .rfd = c->out, .send = send,
			   .send_len = len };
}

/* Only c's stdout is read; its stdin stays open. */
static void end_reader(struct end *e, const char *name, struct cat *c)
{
	*e = (struct end){ .name = name, .wfd = -1, .rfd = c->out };
}

/* Only c's stdin is written, then closed. */
static void end_writer(struct end *e, const char *name, struct cat *c, const char *send,
		       size_t len)
{
	*e = (struct end){ .name = name, .cat = c, .wfd = c->in, .rfd = -1, .send = send,
			   .send_len = len };
}

static void end_of_socket(struct end *e, const char *name, int fd, const char *send, size_t len)
{
	*e = (struct end){ .name = name, .wfd = fd, .rfd = fd, .send = send, .send_len = len };
}

static void require_loopback(void)
{
	if (vsc_module_state("vsock_loopback") == VSC_MODULE_ABSENT)
		vsc_skip("vsock_loopback is not loaded: no CID 1 to talk to");
}

/* Two vsockcats, a listener and a connector, joined over vsock_loopback. */
static void two_cats(char *listen_uri, char *connect_uri)
{
	static char a_send[A_TO_B_BYTES], b_send[B_TO_A_BYTES];
	char *listen_argv[] = { VSOCKCAT, "-l", "-v", listen_uri, NULL };
	char *connect_argv[] = { VSOCKCAT, connect_uri, NULL };
	struct cat listener, connector;
	struct end a, b;

	require_vsockcat();
	require_loopback();
	fill(a_send, sizeof(a_send), 1);
	fill(b_send, sizeof(b_send), 2);
	vsc_step_at(__FILE__, __LINE__, listen_uri);
	listener = cat_start(listen_argv);
	cat_wait_line(&listener, "listening on");
	vsc_step_at(__FILE__, __LINE__, connect_uri);
	connector = cat_start(connect_argv);
	end_of_cat(&a, "connector", &connector, a_send, sizeof(a_send));
	end_of_cat(&b, "listener", &listener, b_send, sizeof(b_send));
	exchange(&a, &b);
	/* Each got EOF on its stdout, and each ends by itself with status 0 once both ways ended. */
	cat_finish(&connector, 0);
	cat_finish(&listener, 0);
}

static void vsock_loopback(const struct vsc_env *env)
{
	char listen_uri[64], connect_uri[64];

	snprintf(listen_uri, sizeof(listen_uri), "vsock://:%u", env->port);
	snprintf(connect_uri, sizeof(connect_uri), "vsock://1:%u", env->port);
	two_cats(listen_uri, connect_uri);
}
VSC_CASE(vsockcat_vsock_loopback, .sock_type = SOCK_STREAM, .timeout_s = 60,
	 .summary = "vsockcat -l vsock://:P and vsockcat vsock://1:P echo a few KB each way byte-exact, EOF both ways",
	 .run = vsock_loopback);

static void hvsock_loopback(const struct vsc_env *env)
{
	char listen_uri[96], connect_uri[96];

	snprintf(listen_uri, sizeof(listen_uri), "hvsock://wildcard/" SERVICE_GUID_FMT, env->port);
	snprintf(connect_uri, sizeof(connect_uri), "hvsock://loopback/" SERVICE_GUID_FMT, env->port);
	two_cats(listen_uri, connect_uri);
}
VSC_CASE(vsockcat_hvsock_loopback, .sock_type = SOCK_STREAM, .timeout_s = 60,
	 .summary = "hvsock:// in a Linux guest is AF_VSOCK: loopback is CID 1, the service GUID's Data1 the port",
	 .run = hvsock_loopback);

/* Lowercase text in lines, and what `tr a-z A-Z; echo after-eof` makes of it. */
#define EXEC_TEXT_BYTES 5003
static const char AFTER_EOF[] = "after-eof\n";

static void fill_text(char *lower, char *upper, size_t len)
{
	static const char letters[] = "the quick brown fox jumps over a lazy dog\n";
	size_t i;

	for (i = 0; i < len; i++) {
		lower[i] = letters[i % (sizeof(letters) - 1)];
		upper[i] = lower[i] >= 'a' && lower[i] <= 'z' ? (char)(lower[i] - 'a' + 'A') : lower[i];
	}
}

/*
 * vsockcat -l -e 'tr a-z A-Z; echo after-eof' on listen_uri, and a client started by
 * client_argv that sends text, half-closes and reads to EOF: it must get the text in upper case
 * (CMD ran on the connection), then the line CMD wrote after its stdin's EOF (the client's
 * half-close reached CMD and the way back stayed open), then EOF; both exit 0.
 */
static void exec_listen(char *listen_uri, char *const client_argv[])
{
	static char lower[EXEC_TEXT_BYTES], want[EXEC_TEXT_BYTES + sizeof(AFTER_EOF)];
	char *listen_argv[] = { VSOCKCAT, "-l", "-v", "-e", "tr a-z A-Z; echo after-eof",
				listen_uri, NULL };
	struct cat listener, client;
	struct end *ends[1], e;

	fill_text(lower, want, sizeof(lower));
	memcpy(want + sizeof(lower), AFTER_EOF, strlen(AFTER_EOF));
	vsc_step_at(__FILE__, __LINE__, listen_uri);
	listener = cat_start(listen_argv);
	cat_wait_line(&listener, "listening on");
	client = cat_start(client_argv);
	end_of_cat(&e, client.name, &client, lower, sizeof(lower));
	ends[0] = &e;
	pump(ends, 1);
	expect_got(&e, want, sizeof(lower) + strlen(AFTER_EOF));
	cat_finish(&client, 0);
	cat_finish(&listener, 0);
}

static void exec_listen_loopback(const struct vsc_env *env)
{
	char listen_uri[64], connect_uri[64];
	char *client_argv[] = { VSOCKCAT, connect_uri, NULL };

	require_vsockcat();
	require_loopback();
	snprintf(listen_uri, sizeof(listen_uri), "vsock://:%u", env->port);
	snprintf(connect_uri, sizeof(connect_uri), "vsock://1:%u", env->port);
	exec_listen(listen_uri, client_argv);
}
VSC_CASE(vsockcat_exec_listen, .sock_type = SOCK_STREAM, .timeout_s = 60,
	 .summary = "vsockcat -l -e 'tr a-z A-Z; echo after-eof': CMD serves the connection, gets the client's EOF, its later output still arrives",
	 .run = exec_listen_loopback);

/*
 * The other way round: vsockcat -e CMD connects, and CMD closes its stdout first: the listener
 * must see EOF on its stdout while its stdin is still open, then what it sends after that must
 * still reach CMD (wc -c counts it), and CMD's exit status (the count) is the connector's.
 */
#define AFTER_CLOSE_BYTES 200	/* an exit status: below 256 */

static void exec_connect(const struct vsc_env *env)
{
	static char after[AFTER_CLOSE_BYTES];
	char listen_uri[64], connect_uri[64];
	char *listen_argv[] = { VSOCKCAT, "-l", "-v", listen_uri, NULL };
	char *connect_argv[] = { VSOCKCAT, "-e", "echo hi; exec >&-; exit $(wc -c)", connect_uri,
				 NULL };
	struct cat listener, connector;
	struct end *ends[1], e;

	require_vsockcat();
	require_loopback();
	fill(after, sizeof(after), 7);
	snprintf(listen_uri, sizeof(listen_uri), "vsock://:%u", env->port);
	snprintf(connect_uri, sizeof(connect_uri), "vsock://1:%u", env->port);
	listener = cat_start(listen_argv);
	cat_wait_line(&listener, "listening on");
	connector = cat_start(connect_argv);
	vsc_step_at(__FILE__, __LINE__, "CMD's stdout closed: EOF at the listener, its stdin open");
	end_reader(&e, "listener", &listener);
	ends[0] = &e;
	pump(ends, 1);
	expect_got(&e, "hi\n", 3);
	vsc_step_at(__FILE__, __LINE__, "the listener sends after that EOF, then its own");
	end_writer(&e, "listener", &listener, after, sizeof(after));
	pump(ends, 1);
	cat_finish(&listener, 0);
	cat_finish(&connector, AFTER_CLOSE_BYTES);
}
VSC_CASE(vsockcat_exec_connect, .sock_type = SOCK_STREAM, .timeout_s = 60,
	 .summary = "vsockcat -e CMD: CMD closing its stdout is the peer's EOF, the peer's later bytes still reach CMD, CMD's status is vsockcat's",
	 .run = exec_connect);

/*
 * Half-close in order, not at once: the connector's stdin ends first and the listener reads
 * everything and EOF while its own stdin is still open; only then does the listener send, and
 * the connector, whose write side is long shut, must still get all of it and EOF.
 */
static void half_close(const struct vsc_env *env)
{
	static char a_send[A_TO_B_BYTES], b_send[B_TO_A_BYTES];
	char listen_uri[64], connect_uri[64];
	char *listen_argv[] = { VSOCKCAT, "-l", "-v", listen_uri, NULL };
	char *connect_argv[] = { VSOCKCAT, connect_uri, NULL };
	struct cat listener, connector;
	struct end *ends[2], a, b;

	require_vsockcat();
	require_loopback();
	fill(a_send, sizeof(a_send), 8);
	fill(b_send, sizeof(b_send), 9);
	snprintf(listen_uri, sizeof(listen_uri), "vsock://:%u", env->port);
	snprintf(connect_uri, sizeof(connect_uri), "vsock://1:%u", env->port);
	listener = cat_start(listen_argv);
	cat_wait_line(&listener, "listening on");
	connector = cat_start(connect_argv);
	vsc_step_at(__FILE__, __LINE__, "connector -> listener, connector's stdin ends");
	end_writer(&a, "connector", &connector, a_send, sizeof(a_send));
	end_reader(&b, "listener", &listener);
	ends[0] = &a;
	ends[1] = &b;
	pump(ends, 2);
	expect_got(&b, a_send, sizeof(a_send));
	vsc_step_at(__FILE__, __LINE__, "listener -> connector after the connector's EOF");
	end_reader(&a, "connector", &connector);
	end_writer(&b, "listener", &listener, b_send, sizeof(b_send));
	pump(ends, 2);
	expect_got(&a, b_send, sizeof(b_send));
	cat_finish(&connector, 0);
	cat_finish(&listener, 0);
}
VSC_CASE(vsockcat_half_close, .sock_type = SOCK_STREAM, .timeout_s = 60,
	 .summary = "vsockcat half-closes: one side's EOF comes first, the other still sends everything after it",
	 .run = half_close);

/* Nobody listens: exit 1 and one line naming the call, the URI and the errno. */
static void refused(const struct vsc_env *env)
{
	char uri[64], want[96], text[1024];
	char *argv[] = { VSOCKCAT, uri, NULL };
	struct cat cat;
	size_t n;

	require_vsockcat();
	require_loopback();
	snprintf(uri, sizeof(uri), "vsock://1:%u", env->port);
	cat = cat_start(argv);
	cat_finish_stderr(&cat, 1, text);
	vsc_diag("vsockcat %s: %s", uri, text);
	n = (size_t)snprintf(want, sizeof(want), "vsockcat: connect %s: E", uri);
	if (strncmp(text, want, n) != 0 || !strstr(text, " (") || !strchr(text, '\n') ||
	    strchr(text, '\n')[1] != '\0')
		vsc_fail_at(__FILE__, __LINE__, "want one line \"%sERRNO (why)\"", want);
}
VSC_CASE(vsockcat_refused, .sock_type = SOCK_STREAM, .timeout_s = 30,
	 .summary = "vsockcat to a port nobody listens on: exit 1, one line naming connect, the URI and the errno",
	 .run = refused);

/* A fake HyperKit state directory: a fresh directory under /tmp. */
static void state_dir(char *dir, size_t size)
{
	snprintf(dir, size, "/tmp/vsockcat-hyperkit-XXXXXX");
	if (!mkdtemp(dir))
		vsc_fatal_at(__FILE__, __LINE__, "mkdtemp(%s): %s", dir, vsc_errname(errno));
}

static void unix_address(struct sockaddr_un *addr, const char *dir, const char *leaf)
{
	memset(addr, 0, sizeof(*addr));
	addr->sun_family = AF_UNIX;
	snprintf(addr->sun_path, sizeof(addr->sun_path), "%s/%s", dir, leaf);
}

/* HyperKit's side: it listens on DIR/connect and reads "CID.PORT\n" before the data. */
static void hyperkit_connect(const struct vsc_env *env)
{
	static char a_send[A_TO_B_BYTES], b_send[B_TO_A_BYTES];
	char dir[64], uri[128], want[32], line[32];
	char *argv[] = { VSOCKCAT, uri, NULL };
	struct sockaddr_un addr;
	int listener, conn;
	struct cat cat;
	struct end a, b;
	size_t len = 0;

	require_vsockcat();
	fill(a_send, sizeof(a_send), 3);
	fill(b_send, sizeof(b_send), 4);
	state_dir(dir, sizeof(dir));
	unix_address(&addr, dir, "connect");
	listener = SAFE(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
	SAFE(bind(listener, (struct sockaddr *)&addr, sizeof(addr)));
	SAFE(listen(listener, 1));
	snprintf(uri, sizeof(uri), "hyperkit://:%u%s", env->port, dir);
	cat = cat_start(argv);
	conn = SAFE(accept4(listener, NULL, NULL, SOCK_CLOEXEC));
	/* The line, byte by byte: what follows it is the connection's data. */
	snprintf(want, sizeof(want), "00000003.%08x\n", env->port);
	while (len < sizeof(line) - 1 && (len == 0 || line[len - 1] != '\n')) {
		ASSERT_EQ(read(conn, line + len, 1), 1);
		len++;
	}
	line[len] = '\0';
	if (strcmp(line, want) != 0)
		vsc_fail_at(__FILE__, __LINE__, "HyperKit got \"%s\", want \"%s\"", line, want);
	end_of_cat(&a, "vsockcat", &cat, a_send, sizeof(a_send));
	end_of_socket(&b, "hyperkit", conn, b_send, sizeof(b_send));
	exchange(&a, &b);
	cat_finish(&cat, 0);
	close(conn);
	close(listener);
	unlink(addr.sun_path);
	rmdir(dir);
}
VSC_CASE(vsockcat_hyperkit_connect, .timeout_s = 60,
	 .summary = "vsockcat hyperkit://:P/DIR connects to DIR/connect, sends 00000003.PORT, then relays both ways",
	 .run = hyperkit_connect);

/* A guest's connection through HyperKit reaches a host listener at DIR/00000002.PORT. */
static void hyperkit_listen(const struct vsc_env *env)
{
	static char a_send[A_TO_B_BYTES], b_send[B_TO_A_BYTES];
	char dir[64], uri[128], leaf[32];
	char *argv[] = { VSOCKCAT, "-l", "-v", uri, NULL };
	struct sockaddr_un addr;
	struct stat st;
	struct cat cat;
	struct end a, b;
	int fd;

	require_vsockcat();
	fill(a_send, sizeof(a_send), 5);
	fill(b_send, sizeof(b_send), 6);
	state_dir(dir, sizeof(dir));
	snprintf(uri, sizeof(uri), "hyperkit://:%u%s", env->port, dir);
	snprintf(leaf, sizeof(leaf), "00000002.%08x", env->port);
	unix_address(&addr, dir, leaf);
	cat = cat_start(argv);
	cat_wait_line(&cat, "listening on");
	fd = SAFE(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
	SAFE(connect(fd, (struct sockaddr *)&addr, sizeof(addr)));
	end_of_cat(&a, "vsockcat", &cat, a_send, sizeof(a_send));
	end_of_socket(&b, "guest", fd, b_send, sizeof(b_send));
	exchange(&a, &b);
	cat_finish(&cat, 0);
	/* A one-shot listener removes its socket file. */
	EXPECT_ERRNO(stat(addr.sun_path, &st), ENOENT);
	close(fd);
	rmdir(dir);
}
VSC_CASE(vsockcat_hyperkit_listen, .timeout_s = 60,
	 .summary = "vsockcat -l hyperkit://:P/DIR listens on DIR/00000002.PORT and relays both ways",
	 .run = hyperkit_listen);

/*
 * LinuxKit's 4.9 kernels had AF_HYPERV as family 43; since 4.11 that number is AF_SMC, which
 * (from 4.16) even takes protocol 1. The probe must tell them apart by the address length.
 */
static void probe_hyperv(const struct vsc_env *env)
{
	char *argv[] = { VSOCKCAT, "--probe-hyperv", NULL };
	static const char not_hyperv[] = "family 43 is not AF_HYPERV (AF_SMC or absent): ";
	char out[512];
	struct cat cat;
	size_t len = 0;
	ssize_t n;

	(void)env;
	require_vsockcat();
	if (!vsc_kernel_at_least("4.11"))
		vsc_skip("before 4.11 family 43 may be LinuxKit's AF_HYPERV patch");
	cat = cat_start(argv);
	close(cat.in);
	cat.in = -1;
	while (len < sizeof(out) - 1 && (n = read(cat.out, out + len, sizeof(out) - 1 - len)) > 0)
		len += (size_t)n;
	out[len] = '\0';
	vsc_diag("vsockcat --probe-hyperv: %s", out);
	if (strncmp(out, not_hyperv, strlen(not_hyperv)) != 0 || !strchr(out, '\n') ||
	    strchr(out, '\n') != out + len - 1)
		vsc_fail_at(__FILE__, __LINE__, "want one line starting \"%s\"", not_hyperv);
	cat_finish(&cat, 1);
}
VSC_CASE(vsockcat_probe_hyperv, .timeout_s = 30,
	 .summary = "vsockcat --probe-hyperv: family 43 on this kernel is not LinuxKit's AF_HYPERV (exit 1)",
	 .run = probe_hyperv);

/*
 * Topology hvsock: vsockcat's hvsock:// reaches the Hyper-V host through the real hv_sock, with
 * hvsock-peer (the host-peer tool, on /dev/vmbus_sim) as the host application.
 */
static void require_hvsock_peer(void)
{
	require_vsockcat();
	if (access(HVSOCK_PEER, X_OK) != 0)
		vsc_skip("%s is not in this image (topology hvsock ships it)", HVSOCK_PEER);
}

/* Guest connects to the host's service: what it sends is what the host prints, FIN both ways. */
static void hvsock_parent_connect(const struct vsc_env *env)
{
	static char send[A_TO_B_BYTES];
	char port[16], uri[96];
	char *peer_argv[] = { HVSOCK_PEER, "listen", port, NULL };
	char *cat_argv[] = { VSOCKCAT, uri, NULL };
	struct cat peer, cat;
	struct end a, b;

	require_hvsock_peer();
	fill(send, sizeof(send), 3);
	snprintf(port, sizeof(port), "%u", env->port);
	snprintf(uri, sizeof(uri), "hvsock://parent/" SERVICE_GUID_FMT, env->port);
	peer = cat_start(peer_argv);
	cat_wait_line(&peer, "listening on");
	vsc_step_at(__FILE__, __LINE__, uri);
	cat = cat_start(cat_argv);
	end_of_cat(&a, "vsockcat", &cat, send, sizeof(send));
	end_of_cat(&b, "hvsock-peer", &peer, "", 0);	/* listen sends nothing back */
	exchange(&a, &b);
	cat_finish(&cat, 0);
	cat_finish(&peer, 0);
}
VSC_CASE(vsockcat_hvsock_parent_connect, .sock_type = SOCK_STREAM, .timeout_s = 60,
	 .summary = "vsockcat hvsock://parent/<service> over hv_sock to hvsock-peer listen: bytes exact, FIN both ways, exit 0",
	 .run = hvsock_parent_connect, .needs = VSC_NEED_HVSOCK);

/* The host connects to a vsockcat listening on a service: data both ways, FIN both ways. */
static void hvsock_parent_listen(const struct vsc_env *env)
{
	static char a_send[A_TO_B_BYTES], b_send[B_TO_A_BYTES];
	char port[16], uri[96];
	char *cat_argv[] = { VSOCKCAT, "-l", "-v", uri, NULL };
	char *peer_argv[] = { HVSOCK_PEER, "connect", port, NULL };
	struct cat cat, peer;
	struct end a, b;

	require_hvsock_peer();
	fill(a_send, sizeof(a_send), 4);
	fill(b_send, sizeof(b_send), 5);
	snprintf(port, sizeof(port), "%u", env->port);
	snprintf(uri, sizeof(uri), "hvsock://parent/" SERVICE_GUID_FMT, env->port);
	vsc_step_at(__FILE__, __LINE__, uri);
	cat = cat_start(cat_argv);
	cat_wait_line(&cat, "listening on");
	peer = cat_start(peer_argv);
	end_of_cat(&a, "vsockcat", &cat, a_send, sizeof(a_send));
	end_of_cat(&b, "hvsock-peer", &peer, b_send, sizeof(b_send));
	exchange(&a, &b);
	cat_finish(&cat, 0);
	cat_finish(&peer, 0);
}
VSC_CASE(vsockcat_hvsock_parent_listen, .sock_type = SOCK_STREAM, .timeout_s = 60,
	 .summary = "vsockcat -l hvsock://parent/<service> accepts hvsock-peer connect over hv_sock: bytes exact both ways, exit 0",
	 .run = hvsock_parent_listen, .needs = VSC_NEED_HVSOCK);

/* The host connects to vsockcat -l -e CMD on a service: CMD serves hvsock-peer, EOF both ways. */
static void hvsock_exec(const struct vsc_env *env)
{
	char port[16], uri[96];
	char *peer_argv[] = { HVSOCK_PEER, "connect", port, NULL };

	require_hvsock_peer();
	snprintf(port, sizeof(port), "%u", env->port);
	snprintf(uri, sizeof(uri), "hvsock://parent/" SERVICE_GUID_FMT, env->port);
	exec_listen(uri, peer_argv);
}
VSC_CASE(vsockcat_hvsock_exec, .sock_type = SOCK_STREAM, .timeout_s = 60,
	 .summary = "vsockcat -l -e 'tr a-z A-Z; echo after-eof' hvsock://parent/<service> serves hvsock-peer connect over hv_sock",
	 .run = hvsock_exec, .needs = VSC_NEED_HVSOCK);
