/*
 * perf_tool.c: the vsock-perf tool in the guest over vsock_loopback: throughput with either side
 * sending, buffer and socket sizes, MSG_ZEROCOPY, latency; its figures are checked for sense
 * (the bytes both ends count agree, rates are positive, percentiles ordered) and its --json lines
 * for being flat JSON objects.
 */
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vsc.h"

#define VSOCK_PERF "/usr/bin/vsock-perf"
/* vsock-perf's status when the kernel lacks what was asked (MSG_ZEROCOPY on vsock). */
#define PERF_UNSUPPORTED 4
/* How long a tool may take under TCG before it counts as stuck. */
#define TOOL_MS 40000
#define STREAM_BYTES (4u << 20)
#define ROUND_TRIPS 200
#define MESSAGE_BYTES 64

/* One vsock-perf process: its stdout and stderr read back whole once it ends. */
struct tool {
	pid_t pid;
	int out, err;
	char text[2048];	/* what it printed on stdout */
	char errors[512];	/* on stderr */
	int status;
};

static void require_tool(void)
{
	if (access(VSOCK_PERF, X_OK) != 0)
		vsc_skip("%s is not in this image (the runner ships it from build/bin)", VSOCK_PERF);
	if (vsc_module_state("vsock_loopback") == VSC_MODULE_ABSENT)
		vsc_skip("vsock_loopback is not loaded: no CID 1 to talk to");
}

static void tool_start(struct tool *t, char *const argv[])
{
	int out[2], err[2];
	pid_t parent = getpid();

	SAFE(pipe(out));
	SAFE(pipe(err));
	memset(t, 0, sizeof(*t));
	t->pid = SAFE(fork());
	if (t->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);	/* a case that stops early takes it along */
		if (getppid() != parent)
			_exit(127);
		dup2(out[1], STDOUT_FILENO);
		dup2(err[1], STDERR_FILENO);
		close(out[0]);
		close(err[0]);
		execv(argv[0], argv);
		_exit(127);
	}
	close(out[1]);
	close(err[1]);
	t->out = out[0];
	t->err = err[0];
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads fd into text (NUL-terminated) until EOF or until `until` appears; 0 on time out. */
static int read_text(int fd, char *text, size_t size, const char *until)
{
	long long deadline = now_ms() + TOOL_MS;
	size_t len = strlen(text);
	ssize_t n;

	while (!until || !strstr(text, until)) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		long long left = deadline - now_ms();

		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			return 0;
		n = read(fd, text + len, size - len - 1);
		if (n <= 0)
			return !until;
		len += (size_t)n;
		text[len] = '\0';
	}
	return 1;
}

/* The listener's first line says it listens; anything else ends the case with its stderr. */
static void tool_wait_listening(struct tool *t)
{
	if (!read_text(t->out, t->text, sizeof(t->text), "listening")) {
		read_text(t->err, t->errors, sizeof(t->errors), NULL);
		vsc_fatal_at(__FILE__, __LINE__, "vsock-perf did not say it listens in %d ms; stdout \"%s\", stderr \"%s\"",
			     TOOL_MS, t->text, t->errors);
	}
}

/* Waits for the tool; its output is in t->text, its exit status (128 + signal) in t->status. */
static void tool_finish(struct tool *t)
{
	int status;

	if (!read_text(t->out, t->text, sizeof(t->text), NULL)) {
		kill(t->pid, SIGKILL);
		vsc_fail_at(__FILE__, __LINE__, "vsock-perf still runs after %d ms; killed", TOOL_MS);
	}
	read_text(t->err, t->errors, sizeof(t->errors), NULL);
	close(t->out);
	close(t->err);
	SAFE(waitpid(t->pid, &status, 0));
	t->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void expect_success_at(const char *file, int line, const struct tool *t, const char *who)
{
	if (t->status != 0)
		vsc_fatal_at(file, line, "%s exited %d; stderr \"%s\"", who, t->status, t->errors);
}
#define expect_success(t, who) expect_success_at(__FILE__, __LINE__, t, who)

static const char *skip_space(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* A JSON string without escapes (vsock-perf writes none): its end, or NULL. */
static const char *json_string(const char *p, const char **start, size_t *len)
{
	const char *end;

	if (*p != '"')
		return NULL;
	end = strchr(p + 1, '"');
	if (!end || memchr(p + 1, '\\', (size_t)(end - p - 1)))
		return NULL;
	*start = p + 1;
	*len = (size_t)(end - p - 1);
	return end + 1;
}

/*
 * Checks that `line` is one flat JSON object of string and number values and finds `key`:
 * 1 and *value set when key holds a number, 0 when the line parses but key is not a number
 * there, -1 when the line is not such an object.
 */
static int json_number(const char *line, const char *key, double *value)
{
	const char *p = skip_space(line), *name, *text;
	size_t name_len, text_len;
	int found = 0;
	double number;
	char *end;

	if (*p++ != '{')
		return -1;
	for (;;) {
		p = json_string(skip_space(p), &name, &name_len);
		if (!p)
			return -1;
		p = skip_space(p);
		if (*p++ != ':')
			return -1;
		p = skip_space(p);
		if (*p == '"') {
			p = json_string(p, &text, &text_len);
			if (!p)
				return -1;
		} else {
			number = strtod(p, &end);
			if (end == p)
				return -1;
			p = end;
			if (name_len == strlen(key) && !memcmp(name, key, name_len)) {
				*value = number;
				found = 1;
			}
		}
		p = skip_space(p);
		if (*p == '}')
			break;
		if (*p++ != ',')
			return -1;
	}
	p = skip_space(p + 1);
	return *p == '\0' || *p == '\n' ? found : -1;
}

/* The last line of a tool's output (its report). */
static const char *last_line(char *text)
{
	size_t len = strlen(text);
	char *start;

	while (len && text[len - 1] == '\n')
		text[--len] = '\0';
	start = strrchr(text, '\n');
	return start ? start + 1 : text;
}

static double json_field_at(const char *file, int line, const char *report, const char *key)
{
	double value = 0;
	int found = json_number(report, key, &value);

	if (found < 0)
		vsc_fatal_at(file, line, "not a flat JSON object: \"%s\"", report);
	if (!found)
		vsc_fatal_at(file, line, "no number \"%s\" in \"%s\"", key, report);
	return value;
}
#define json_field(report, key) json_field_at(__FILE__, __LINE__, report, key)

/* "vsock-perf: MODE k=v ...": the number after " key=". */
static double text_field_at(const char *file, int line, const char *report, const char *key)
{
	char word[64];
	const char *at;
	char *end;
	double value;

	snprintf(word, sizeof(word), " %s=", key);
	at = strstr(report, word);
	if (!at)
		vsc_fatal_at(file, line, "no %s= in \"%s\"", key, report);
	value = strtod(at + strlen(word), &end);
	if (end == at + strlen(word))
		vsc_fatal_at(file, line, "%s= is no number in \"%s\"", key, report);
	return value;
}
#define text_field(report, key) text_field_at(__FILE__, __LINE__, report, key)

/* A listener and a connector of the same mode; both must end with status 0. */
static void run_pair(struct tool *listener, char *const listen_argv[], struct tool *connector,
		     char *const connect_argv[])
{
	tool_start(listener, listen_argv);
	tool_wait_listening(listener);
	tool_start(connector, connect_argv);
	tool_finish(connector);
	tool_finish(listener);
	expect_success(connector, "the connecting vsock-perf");
	expect_success(listener, "the listening vsock-perf");
}

static void stream_json(const struct vsc_env *env)
{
	char port[16], bytes[16];
	char *recv_argv[] = { VSOCK_PERF, "recv", "--port", port, "--chunk", "32K", "--vsk-size",
			      "512K", "--json", "--timeout", "60", NULL };
	char *send_argv[] = { VSOCK_PERF, "send", "--cid", "1", "--port", port, "--bytes", bytes,
			      "--chunk", "32K", "--vsk-size", "512K", "--json", "--timeout", "60", NULL };
	struct tool receiver, sender;
	const char *got, *sent;

	require_tool();
	snprintf(port, sizeof(port), "%u", env->port);
	snprintf(bytes, sizeof(bytes), "%u", STREAM_BYTES);
	run_pair(&receiver, recv_argv, &sender, send_argv);
	got = last_line(receiver.text);
	sent = last_line(sender.text);
	vsc_diag("%s", got);
	EXPECT_EQ((long long)json_field(got, "bytes"), STREAM_BYTES);
	EXPECT_EQ((long long)json_field(sent, "bytes"), STREAM_BYTES);
	EXPECT_EQ((long long)json_field(got, "chunk"), 32 << 10);
	EXPECT_TRUE(json_field(got, "mib_per_s") > 0);
	EXPECT_TRUE(json_field(sent, "seconds") > 0);
	/* A reader of 32K reads cannot have needed fewer than bytes / 32K of them. */
	EXPECT_TRUE(json_field(got, "calls") >= STREAM_BYTES / (32 << 10));
}
VSC_CASE(perf_tool_stream_json, .sock_type = SOCK_STREAM, .timeout_s = 120,
	 .summary = "vsock-perf recv (listening) and send --cid 1 with --chunk and --vsk-size: both count the bytes sent, --json lines parse",
	 .run = stream_json);

static void stream_listener_sends(const struct vsc_env *env)
{
	char port[16], bytes[16];
	char *send_argv[] = { VSOCK_PERF, "send", "--port", port, "--bytes", bytes, "--chunk",
			      "100000", "--timeout", "60", NULL };
	char *recv_argv[] = { VSOCK_PERF, "recv", "--cid", "1", "--port", port, "--poll",
			      "--rcvlowat", "4096", "--timeout", "60", NULL };
	struct tool sender, receiver;
	const char *got, *sent;

	require_tool();
	snprintf(port, sizeof(port), "%u", env->port);
	/* Not a multiple of the chunk or of SO_RCVLOWAT: the last read is short. */
	snprintf(bytes, sizeof(bytes), "%u", STREAM_BYTES + 1234);
	run_pair(&sender, send_argv, &receiver, recv_argv);
	got = last_line(receiver.text);
	sent = last_line(sender.text);
	vsc_diag("%s", got);
	EXPECT_TRUE(!strncmp(got, "vsock-perf: recv ", 17));
	EXPECT_EQ((long long)text_field(got, "bytes"), STREAM_BYTES + 1234);
	EXPECT_EQ((long long)text_field(sent, "bytes"), STREAM_BYTES + 1234);
	EXPECT_TRUE(text_field(got, "mib_per_s") > 0);
}
VSC_CASE(perf_tool_stream_listener_sends, .sock_type = SOCK_STREAM, .timeout_s = 120,
	 .summary = "vsock-perf send listening and recv --cid 1 --poll --rcvlowat: the other direction counts the same bytes",
	 .run = stream_listener_sends);

static void zerocopy(const struct vsc_env *env)
{
	char port[16], bytes[16];
	char *recv_argv[] = { VSOCK_PERF, "recv", "--port", port, "--timeout", "60", NULL };
	char *send_argv[] = { VSOCK_PERF, "send", "--cid", "1", "--port", port, "--bytes", bytes,
			      "--chunk", "128K", "--zerocopy", "--timeout", "60", NULL };
	struct tool receiver, sender;
	const char *sent;

	require_tool();
	snprintf(port, sizeof(port), "%u", env->port);
	snprintf(bytes, sizeof(bytes), "%u", STREAM_BYTES);
	tool_start(&receiver, recv_argv);
	tool_wait_listening(&receiver);
	tool_start(&sender, send_argv);
	tool_finish(&sender);
	if (sender.status == PERF_UNSUPPORTED) {
		kill(receiver.pid, SIGTERM);
		tool_finish(&receiver);
		vsc_skip("%s", sender.errors);
	}
	tool_finish(&receiver);
	expect_success(&sender, "vsock-perf send --zerocopy");
	expect_success(&receiver, "vsock-perf recv");
	sent = last_line(sender.text);
	vsc_diag("%s", sent);
	EXPECT_EQ((long long)text_field(last_line(receiver.text), "bytes"), STREAM_BYTES);
	EXPECT_EQ((long long)text_field(sent, "bytes"), STREAM_BYTES);
	EXPECT_EQ((long long)text_field(sent, "zerocopy"), 1);
	/* Every send is reported once, zerocopied or copied. */
	EXPECT_TRUE(text_field(sent, "copied_sends") <= STREAM_BYTES / (128 << 10));
}
VSC_CASE(perf_tool_zerocopy, .sock_type = SOCK_STREAM, .timeout_s = 120,
	 .summary = "vsock-perf send --zerocopy (MSG_ZEROCOPY, Linux 6.7+) delivers every byte and collects every completion; SKIP where vsock lacks it",
	 .run = zerocopy);

static void latency(const struct vsc_env *env)
{
	char port[16], count[16], size[16];
	char *echo_argv[] = { VSOCK_PERF, "latency", "--port", port, "--json", "--timeout", "60", NULL };
	char *time_argv[] = { VSOCK_PERF, "latency", "--cid", "1", "--port", port, "--count", count,
			      "--size", size, "--json", "--timeout", "60", NULL };
	static const char *const order[] = { "min_us", "p50_us", "p90_us", "p99_us", "max_us" };
	struct tool echo, timer;
	const char *trips;
	double previous = 0, value;
	unsigned int i;

	require_tool();
	snprintf(port, sizeof(port), "%u", env->port);
	snprintf(count, sizeof(count), "%u", ROUND_TRIPS);
	snprintf(size, sizeof(size), "%u", MESSAGE_BYTES);
	run_pair(&echo, echo_argv, &timer, time_argv);
	trips = last_line(timer.text);
	vsc_diag("%s", trips);
	EXPECT_EQ((long long)json_field(trips, "count"), ROUND_TRIPS);
	EXPECT_EQ((long long)json_field(last_line(echo.text), "echoed_bytes"),
		  ROUND_TRIPS * MESSAGE_BYTES);
	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		value = json_field(trips, order[i]);
		if (value < previous || value <= 0)
			vsc_fail_at(__FILE__, __LINE__, "%s %.1f is out of order (or not positive) after %.1f: \"%s\"",
				    order[i], value, previous, trips);
		previous = value;
	}
	value = json_field(trips, "mean_us");
	EXPECT_TRUE(value >= json_field(trips, "min_us") && value <= json_field(trips, "max_us"));
}
VSC_CASE(perf_tool_latency, .sock_type = SOCK_STREAM, .timeout_s = 120,
	 .summary = "vsock-perf latency: 200 round trips of 64 bytes echoed whole; min <= p50 <= p90 <= p99 <= max, JSON parses",
	 .run = latency);
