/*
 * split.c: split mode, one role of each case per program, the two programs agreeing over a
 * control channel (a virtio-serial port, a Unix socket, or an inherited descriptor).
 *
 * The control protocol. A byte stream of lines, each ending in '\n', at most LINE_MAX bytes.
 * The first word says the kind; text fields never hold '\n' or '\t' (they are replaced by
 * spaces before sending). Both sides speak the same protocol; "solo" is the side given --solo.
 *
 *   HELLO vsockcheck-split 2 <server|client> <solo|peer> <planned> <kernel>
 *       Each side, once, first. The sides must differ and exactly one must be solo; if not,
 *       every case reports ERROR with the reason. <kernel> is the version that decides this
 *       side's expectations ("6.1.192"); a side with no kernel under test (the host program)
 *       adopts the other side's.
 *   CASE <number> <name> run | CASE <number> <name> skip <reason> | CASE <number> <name> idle
 *       Each side, before each case: whether its role can run here (min_kver and needs,
 *       evaluated locally). "idle": this side has no role (a one-process case on the side
 *       without --solo). A different name is an ERROR naming both, and ends the session.
 *       A skip on either side skips the case on both ("client side: <reason>"); nothing more
 *       is sent for it. Otherwise both start the case's deadline now.
 *   P <line>
 *       During a case: one line the local role wrote on its peer channel (vsc_signal,
 *       vsc_send_value...), for the other side's role. The "P " prefix keeps role payload
 *       apart from the parents' own messages.
 *   ROLE <verdict>\t<where>\t<reason>
 *       Each side, once its local role has ended (at once when it has none), after every P
 *       line of that role. <where> lists " [role] in <step>" for a role stopped while running
 *       (its deadline, or the other side's failure). On receipt the relay to the local role is
 *       shut, as a peer's exit would close it; a failure or a skip stops the local role at once.
 *   CHECKED <verdict>\t<reason>
 *       The side without --solo, after both ROLEs: its kernel log and taint findings.
 *   VERDICT <verdict>\t<reason>
 *       The solo side, after CHECKED: the case's verdict, which both sides print.
 *   DONE
 *       Each side after its last case. A CASE where DONE was expected (or the reverse) means
 *       the case lists differ.
 *
 * <verdict> is one of pass skip xfail error timeout fail. The solo side decides the verdict
 * (the worse of both sides, the cause's side named; known bugs judged on its kernel).
 * End of file or an unreadable line from the other side ends the session: the current case
 * is an ERROR ("the peer side went away during <case>") and every later case reports ERROR
 * at once. Every wait is bounded: the case's own deadline plus GRACE_S.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define PROTOCOL "vsockcheck-split 2"
#define LINE_MAX 4096
/*
 * How long a side waits for the other beyond the case's own deadline: time for the other side
 * to stop its role and check its kernel. Shorter than the runner's own grace per case
 * (guest_session.CASE_GRACE_S, 20 s), so the harness's verdict comes first.
 */
#define GRACE_S 15
/* The two programs may start a guest boot apart. */
#define START_S 120

static const char *const verdict_words[] = {
	[V_PASS] = "pass", [V_SKIP] = "skip", [V_XFAIL] = "xfail",
	[V_ERROR] = "error", [V_TIMEOUT] = "timeout", [V_FAIL] = "fail",
};

struct vsc_split {
	int control_fd;
	const char *side, *other_side;
	int solo;
	int adopts_kernel;		/* no kernel under test here: judge by the other side's */
	char in[LINE_MAX + 1];		/* bytes read from control, not yet a whole line */
	size_t in_used;
	char pending[LINE_MAX + 1];	/* one parent message waiting for whoever expects it */
	int has_pending;
	char broken[VSC_TEXT_MAX];	/* set: the session is over; each case reports ERROR */

	/* The current case, or NULL before the first and after the last. */
	const char *case_name;
	int cases_begun;
	int two_roles;
	double deadline;		/* for the other side's ROLE */
	int relay_fd;			/* the harness's end of the local role's peer channel */
	char relay[LINE_MAX + 1];
	size_t relay_used;
	int remote_done, remote_failed;
	enum verdict remote_verdict;
	char remote_where[2 * VSC_TEXT_MAX], remote_reason[2 * VSC_TEXT_MAX];
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * A virtio-serial port reports POLLHUP while nothing is connected at its host end, and a read
 * then returns end of file. A guest whose peer connects once per pass (an L2 guest, whose QEMU
 * does not hold it back) waits here for the other end instead of taking it for a peer gone.
 */
static int wait_host_end(int fd, const char *path, char *error, size_t error_size)
{
	double deadline = now_s() + START_S;
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };

	for (;;) {
		if (poll(&pfd, 1, 100) < 0 && errno != EINTR) {
			snprintf(error, error_size, "--control %s: poll: %s", path, vsc_errname(errno));
			return -1;
		}
		if (!(pfd.revents & POLLHUP))
			return 0;
		if (now_s() > deadline) {
			snprintf(error, error_size, "--control %s: nothing connected at the port's host "
				 "end within %d s", path, START_S);
			return -1;
		}
		/* POLLHUP makes poll return at once: pace the retries. */
		usleep(100 * 1000);
	}
}

int vsc_split_open_control(const char *path, char *error, size_t error_size)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct stat st;
	int fd;

	if (stat(path, &st) != 0) {
		snprintf(error, error_size, "--control %s: %s", path, vsc_errname(errno));
		return -1;
	}
	if (S_ISCHR(st.st_mode)) {
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0) {
			snprintf(error, error_size, "--control %s: open: %s", path, vsc_errname(errno));
			return -1;
		}
		if (wait_host_end(fd, path, error, error_size) != 0) {
			close(fd);
			return -1;
		}
		return fd;
	}
	if (!S_ISSOCK(st.st_mode) || strlen(path) >= sizeof(addr.sun_path)) {
		snprintf(error, error_size, "--control %s: neither a character device nor a Unix "
			 "socket (of a path shorter than %zu bytes)", path, sizeof(addr.sun_path));
		return -1;
	}
	strcpy(addr.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
		snprintf(error, error_size, "--control %s: connect: %s", path, vsc_errname(errno));
		close(fd);
		return -1;
	}
	if (fd < 0)
		snprintf(error, error_size, "--control %s: socket: %s", path, vsc_errname(errno));
	return fd;
}

struct vsc_split *vsc_split_new(int control_fd, const char *side, int solo)
{
	struct vsc_split *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->control_fd = control_fd;
	s->side = strcmp(side, "server") ? "client" : "server";
	s->other_side = strcmp(side, "server") ? "server" : "client";
	s->solo = solo;
	s->relay_fd = -1;
	return s;
}

void vsc_split_adopt_peer_kernel(struct vsc_split *s)
{
	s->adopts_kernel = 1;
}

const char *vsc_split_side(const struct vsc_split *s)
{
	return s->side;
}

int vsc_split_solo(const struct vsc_split *s)
{
	return s->solo;
}

int vsc_split_control_fd(const struct vsc_split *s)
{
	return s->control_fd;
}

static void set_broken(struct vsc_split *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void set_broken(struct vsc_split *s, const char *fmt, ...)
{
	va_list ap;

	if (s->broken[0])
		return;
	va_start(ap, fmt);
	vsnprintf(s->broken, sizeof(s->broken), fmt, ap);
	va_end(ap);
	vsc_out("# split: %s", s->broken);
	s->remote_failed = 1;
}

static void went_away(struct vsc_split *s, const char *how)
{
	const char *when = s->case_name	 ? "during "
			   : s->cases_begun ? "after the last case"
					    : "before the first case";

	set_broken(s, "the peer side went away %s%s (%s)", when, s->case_name ? s->case_name : "",
		   how);
}

/* Text fields travel inside one line, tab-separated: neither may occur in them. */
static void flatten(char *text)
{
	for (; *text; text++)
		if (*text == '\n' || *text == '\t' || *text == '\r')
			*text = ' ';
}

static void send_message(struct vsc_split *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void send_message(struct vsc_split *s, const char *fmt, ...)
{
	char line[LINE_MAX + 1];
	size_t done = 0, len;
	va_list ap;
	int n;

	if (s->broken[0])
		return;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	len = n < 0 ? 0 : (size_t)n < sizeof(line) - 2 ? (size_t)n : sizeof(line) - 2;
	line[len++] = '\n';
	while (done < len) {
		struct pollfd pfd = { .fd = s->control_fd, .events = POLLOUT };
		ssize_t w;

		/*
		 * A virtio-serial port whose host end is gone blocks writes forever but reports
		 * POLLHUP: a peer that died must end the session, not hang it.
		 */
		int ready = poll(&pfd, 1, GRACE_S * 1000);

		if (ready < 0 && errno == EINTR)
			continue;
		if (ready <= 0 || !(pfd.revents & POLLOUT)) {
			char stalled[64];

			snprintf(stalled, sizeof(stalled), "the channel took nothing for %d s", GRACE_S);
			went_away(s, ready == 0 ? stalled
				  : ready < 0 ? vsc_errname(errno)
				  : pfd.revents & POLLHUP ? "its end is disconnected (POLLHUP)"
							   : "the channel reports an error");
			return;
		}
		w = write(s->control_fd, line + done, len - done);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			went_away(s, w < 0 ? vsc_errname(errno) : "write returned 0");
			return;
		}
		done += (size_t)w;
	}
}

static enum verdict parse_verdict(const char *word, size_t len, int *ok)
{
	size_t i;

	for (i = 0; i < sizeof(verdict_words) / sizeof(verdict_words[0]); i++)
		if (strlen(verdict_words[i]) == len && strncmp(word, verdict_words[i], len) == 0) {
			*ok = 1;
			return (enum verdict)i;
		}
	*ok = 0;
	return V_ERROR;
}

/* "<verdict>\t<field>[\t<field>]": splits in place; returns 0 if malformed. */
static int parse_fields(char *text, enum verdict *v, char **a, char **b)
{
	char *tab = strchr(text, '\t');
	int ok;

	if (!tab)
		return 0;
	*v = parse_verdict(text, (size_t)(tab - text), &ok);
	*a = tab + 1;
	if (b) {
		tab = strchr(*a, '\t');
		if (!tab)
			return 0;
		*tab = '\0';
		*b = tab + 1;
	}
	return ok;
}

static void relay_close(struct vsc_split *s)
{
	if (s->relay_fd >= 0)
		close(s->relay_fd);
	s->relay_fd = -1;
	s->relay_used = 0;
}

/* A line for the local role: written whole; a role that ended just loses it. */
static void relay_to_role(struct vsc_split *s, const char *payload)
{
	char line[LINE_MAX + 2];
	int len = snprintf(line, sizeof(line), "%s\n", payload);

	if (s->relay_fd >= 0 && send(s->relay_fd, line, (size_t)len, MSG_NOSIGNAL) != len)
		shutdown(s->relay_fd, SHUT_WR);
}

static void take_role(struct vsc_split *s, char *text)
{
	char *where, *reason;

	if (s->remote_done || !parse_fields(text, &s->remote_verdict, &where, &reason)) {
		set_broken(s, "the %s side sent a bad ROLE message: \"%.200s\"", s->other_side, text);
		return;
	}
	s->remote_done = 1;
	snprintf(s->remote_where, sizeof(s->remote_where), "%s", where);
	snprintf(s->remote_reason, sizeof(s->remote_reason), "%s", reason);
	if (s->remote_verdict >= V_ERROR || s->remote_verdict == V_SKIP) {
		/*
		 * The harness notes where the local role is and stops it: keep it where it is. A skip
		 * ends the case too: the local role would wait for a peer that is not coming.
		 */
		s->remote_failed = 1;
		if (reason[0])
			vsc_out("# %s side: %s", s->other_side, reason);
	} else if (s->relay_fd >= 0) {
		/* As the other role's exit would: the local role reading its peer channel sees EOF. */
		shutdown(s->relay_fd, SHUT_WR);
	}
}

/* Routes one line from the other side. */
static void dispatch(struct vsc_split *s, char *line)
{
	if (strncmp(line, "P ", 2) == 0) {
		relay_to_role(s, line + 2);
	} else if (strncmp(line, "ROLE ", 5) == 0) {
		take_role(s, line + 5);
	} else if (s->has_pending) {
		set_broken(s, "the %s side sent \"%.200s\" before \"%.200s\" was taken",
			   s->other_side, line, s->pending);
	} else {
		snprintf(s->pending, sizeof(s->pending), "%s", line);
		s->has_pending = 1;
	}
}

/*
 * Dispatches the whole lines read so far, in order, up to the first parent message that waits
 * for its taker (later lines stay buffered behind it).
 */
static void dispatch_buffered(struct vsc_split *s)
{
	char *nl;

	while (!s->broken[0] && !s->has_pending && (nl = memchr(s->in, '\n', s->in_used))) {
		size_t len = (size_t)(nl - s->in) + 1;
		char line[LINE_MAX + 1];

		memcpy(line, s->in, len - 1);
		line[len - 1] = '\0';
		memmove(s->in, s->in + len, s->in_used - len);
		s->in_used -= len;
		dispatch(s, line);
	}
	if (s->in_used == LINE_MAX && !memchr(s->in, '\n', s->in_used))
		set_broken(s, "the %s side sent a line longer than %d bytes", s->other_side,
			   LINE_MAX);
}

/* Reads what control holds (one read) and dispatches what it can; 0 at EOF or error. */
static int read_control(struct vsc_split *s)
{
	ssize_t n;

	dispatch_buffered(s);
	if (s->in_used == LINE_MAX)
		return !s->broken[0];	/* full of lines behind a pending message */
	n = read(s->control_fd, s->in + s->in_used, LINE_MAX - s->in_used);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 1;
	if (n <= 0) {
		went_away(s, n < 0 ? vsc_errname(errno) : "end of file");
		return 0;
	}
	s->in_used += (size_t)n;
	dispatch_buffered(s);
	return !s->broken[0];
}

/* Waits for control to be readable; 0 when the deadline passed. */
static int control_ready(struct vsc_split *s, double deadline)
{
	struct pollfd pfd = { .fd = s->control_fd, .events = POLLIN };
	double left = deadline - now_s();

	if (left <= 0)
		return 0;
	return poll(&pfd, 1, (int)(left * 1000) + 1) > 0;
}

/*
 * The next parent message (not P, not ROLE), copied to `line`; 0 when the session broke or
 * `what` did not come by the deadline (then the session is broken too: the two sides are out
 * of step).
 */
static int next_message(struct vsc_split *s, int wait_s, const char *what, char *line,
			size_t size)
{
	double deadline = now_s() + wait_s;

	dispatch_buffered(s);
	while (!s->broken[0] && !s->has_pending) {
		if (!control_ready(s, deadline)) {
			set_broken(s, "the %s side sent no %s within %d s", s->other_side, what,
				   wait_s);
			break;
		}
		read_control(s);
	}
	if (s->broken[0])
		return 0;
	snprintf(line, size, "%s", s->pending);
	s->has_pending = 0;
	return 1;
}

void vsc_split_hello(struct vsc_split *s, int planned)
{
	char line[LINE_MAX + 1], side[16], solo[16], kernel[64];
	int other_planned;

	send_message(s, "HELLO %s %s %s %d %s", PROTOCOL, s->side, s->solo ? "solo" : "peer",
		     planned, vsc_kernel_version_short());
	if (!next_message(s, START_S, "HELLO", line, sizeof(line)))
		return;
	if (strncmp(line, "HELLO " PROTOCOL " ", strlen("HELLO " PROTOCOL " ")) != 0 ||
	    sscanf(line + strlen("HELLO " PROTOCOL " "), "%15s %15s %d %63s", side, solo,
		   &other_planned, kernel) != 4)
		set_broken(s, "the other side does not speak %s: it sent \"%.200s\"", PROTOCOL, line);
	else if (strcmp(side, s->other_side) != 0)
		set_broken(s, "both sides are %s sides", s->side);
	else if ((strcmp(solo, "solo") == 0) == s->solo)
		set_broken(s, "%s side has --solo: exactly one side must have it",
			   s->solo ? "each" : "neither");
	else if (s->adopts_kernel && vsc_kernel_adopt_version(kernel) != 0)
		set_broken(s, "the %s side's kernel version \"%s\" is not a version", s->other_side,
			   kernel);
	else if (other_planned != planned)
		vsc_out("# split: this side plans %d cases, the %s side %d", planned, s->other_side,
			other_planned);
	if (s->adopts_kernel && !s->broken[0])
		vsc_out("# split: expectations follow the %s side's kernel, %s", s->other_side,
			vsc_kernel_version_short());
}

static void error_result(struct vsc_split *s, struct case_result *r)
{
	r->verdict = V_ERROR;
	snprintf(r->reason, sizeof(r->reason), "%s", s->broken);
}

/* One side's answer to CASE; returns 0 if it is none of run/skip/idle. */
static int parse_state(char *text, const char **state, const char **reason)
{
	*reason = "";
	if (strcmp(text, "run") == 0 || strcmp(text, "idle") == 0) {
		*state = text;
		return 1;
	}
	if (strncmp(text, "skip ", 5) == 0) {
		text[4] = '\0';
		*state = text;
		*reason = text + 5;
		return 1;
	}
	return 0;
}

int vsc_split_agree(struct vsc_split *s, const struct vsc_case *c, int number, int has_role,
		    const char *local_skip, struct case_result *r)
{
	char line[LINE_MAX + 1], name[256], skip_text[VSC_TEXT_MAX] = "", text[LINE_MAX + 32];
	const char *state[2], *reason[2];	/* [0] this side, [1] the other */
	const char *server_state, *server_reason, *client_state, *client_reason;
	int other_number, pos = 0;

	s->case_name = c->name;
	s->cases_begun = 1;
	s->two_roles = !c->run;
	s->remote_done = s->remote_failed = 0;
	s->remote_where[0] = s->remote_reason[0] = '\0';
	if (local_skip) {
		snprintf(skip_text, sizeof(skip_text), "%s", local_skip);
		flatten(skip_text);
	}
	state[0] = !has_role ? "idle" : local_skip ? "skip" : "run";
	reason[0] = skip_text;
	send_message(s, "CASE %d %s %s%s%s", number, c->name, state[0], local_skip ? " " : "",
		     skip_text);
	if (!next_message(s, GRACE_S, "CASE", line, sizeof(line))) {
		error_result(s, r);
		return 0;
	}
	if (strcmp(line, "DONE") == 0) {
		set_broken(s, "case lists differ: the %s side has no case %d (%s)", s->other_side,
			   number, c->name);
	} else if (sscanf(line, "CASE %d %255s %n", &other_number, name, &pos) != 2 || !pos ||
		   !parse_state(line + pos, &state[1], &reason[1])) {
		set_broken(s, "the %s side sent \"%.200s\" where a CASE was due", s->other_side, line);
	} else if (other_number != number || strcmp(name, c->name) != 0) {
		set_broken(s, "case lists differ: case %d is %s on the %s side, %s %d on the %s side",
			   number, c->name, s->side, name, other_number, s->other_side);
	} else if (s->two_roles && (!strcmp(state[0], "idle") || !strcmp(state[1], "idle"))) {
		set_broken(s, "the two sides disagree on the roles of %s", c->name);
	}
	if (s->broken[0]) {
		error_result(s, r);
		return 0;
	}
	server_state = state[strcmp(s->side, "server") != 0];
	server_reason = reason[strcmp(s->side, "server") != 0];
	client_state = state[strcmp(s->side, "client") != 0];
	client_reason = reason[strcmp(s->side, "client") != 0];
	if (!s->two_roles) {
		/* A one-process case is the solo side's alone: its skip reads as in loopback. */
		const char *solo_reason = s->solo ? reason[0] : reason[1];

		if (strcmp(s->solo ? state[0] : state[1], "skip") == 0) {
			vsc_raise_verdict(r, V_SKIP, solo_reason);
			return 0;
		}
	} else if (strcmp(server_state, "skip") == 0 || strcmp(client_state, "skip") == 0) {
		int server = strcmp(server_state, "skip") == 0;

		snprintf(text, sizeof(text), "%s side: %s", server ? "server" : "client",
			 server ? server_reason : client_reason);
		vsc_raise_verdict(r, V_SKIP, text);
		return 0;
	}
	s->deadline = now_s() + (c->timeout_s ? c->timeout_s : VSC_DEFAULT_TIMEOUT_S) + GRACE_S;
	return 1;
}

void vsc_split_relay(struct vsc_split *s, int fd)
{
	relay_close(s);
	s->relay_fd = fd;
	/* Read without blocking: the harness also drains it after the role has gone. */
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	/*
	 * The other role may have written before this one started: its lines came in the same
	 * read as its side's CASE and wait, undispatched, for this relay (poll cannot see them).
	 */
	dispatch_buffered(s);
}

/*
 * Forwards every whole line the local role has written: 1 when it read some, -1 when nothing
 * is there now, 0 at the role's EOF.
 */
static int relay_from_role(struct vsc_split *s)
{
	char *nl;
	ssize_t n;

	if (s->relay_fd < 0)
		return 0;
	n = read(s->relay_fd, s->relay + s->relay_used, LINE_MAX - s->relay_used);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return -1;
	if (n <= 0)
		return 0;
	s->relay_used += (size_t)n;
	while ((nl = memchr(s->relay, '\n', s->relay_used)) ||
	       s->relay_used == LINE_MAX) {
		size_t len = nl ? (size_t)(nl - s->relay) : s->relay_used;

		send_message(s, "P %.*s", (int)len, s->relay);
		len += nl != NULL;
		memmove(s->relay, s->relay + len, s->relay_used - len);
		s->relay_used -= len;
	}
	return 1;
}

int vsc_split_poll_fds(struct vsc_split *s, struct pollfd *pfds)
{
	int n = 0;

	if (s->broken[0])
		return 0;
	pfds[n++] = (struct pollfd){ .fd = s->control_fd, .events = POLLIN };
	if (s->relay_fd >= 0)
		pfds[n++] = (struct pollfd){ .fd = s->relay_fd, .events = POLLIN };
	return n;
}

void vsc_split_service(struct vsc_split *s, const struct pollfd *pfds, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		if (!pfds[i].revents)
			continue;
		if (pfds[i].fd == s->control_fd && read_control(s) && s->has_pending)
			set_broken(s, "the %s side sent \"%.200s\" while the case ran",
				   s->other_side, s->pending);
		else if (pfds[i].fd == s->relay_fd && relay_from_role(s) == 0)
			relay_close(s);
	}
}

int vsc_split_remote_failed(const struct vsc_split *s)
{
	return s->remote_failed;
}

/* "server side: <reason>" for a two-role case; the reason as it is for a one-process one. */
static void raise_side(struct vsc_split *s, struct case_result *r, const char *side,
		       enum verdict v, const char *reason, const char *timeout_text)
{
	char text[2 * VSC_TEXT_MAX + 32];

	if (v == V_TIMEOUT)
		snprintf(text, sizeof(text), "%s", timeout_text);
	else if (s->two_roles && reason[0])
		snprintf(text, sizeof(text), "%s side: %s", side, reason);
	else
		snprintf(text, sizeof(text), "%s", reason);
	vsc_raise_verdict(r, v, text);
}

void vsc_split_roles_done(struct vsc_split *s, const struct vsc_case *c, unsigned int timeout_s,
			  const char *where, struct case_result *r)
{
	char local_where[2 * VSC_TEXT_MAX], local_reason[2 * VSC_TEXT_MAX];
	char timeout_text[5 * VSC_TEXT_MAX];
	struct case_result local = *r;
	const char *server_where, *client_where;

	(void)c;
	/* Every line the role wrote before it ended goes out before its ROLE. */
	while (relay_from_role(s) > 0)
		;
	relay_close(s);
	snprintf(local_where, sizeof(local_where), "%s", where);
	snprintf(local_reason, sizeof(local_reason), "%s", local.reason);
	flatten(local_where);
	flatten(local_reason);
	send_message(s, "ROLE %s\t%s\t%s", verdict_words[local.verdict], local_where, local_reason);
	dispatch_buffered(s);
	while (!s->broken[0] && !s->remote_done) {
		if (s->has_pending) {
			set_broken(s, "the %s side sent \"%.200s\" where its ROLE was due",
				   s->other_side, s->pending);
			break;
		}
		if (!control_ready(s, s->deadline)) {
			set_broken(s, "the %s side did not report the end of its role in %s within "
				   "%u s", s->other_side, s->case_name, timeout_s + GRACE_S);
			break;
		}
		read_control(s);
	}
	if (s->broken[0]) {
		error_result(s, r);
		return;
	}
	if (!s->solo)
		return;
	/* The worse of the two sides, the server side's first as in loopback's role order. */
	server_where = strcmp(s->side, "server") ? s->remote_where : local_where;
	client_where = strcmp(s->side, "server") ? local_where : s->remote_where;
	snprintf(timeout_text, sizeof(timeout_text), "after %u s:%s%s", timeout_s, server_where,
		 client_where);
	*r = (struct case_result){ V_PASS, "" };
	if (strcmp(s->side, "server") == 0) {
		raise_side(s, r, "server", local.verdict, local_reason, timeout_text);
		raise_side(s, r, "client", s->remote_verdict, s->remote_reason, timeout_text);
	} else {
		raise_side(s, r, "server", s->remote_verdict, s->remote_reason, timeout_text);
		raise_side(s, r, "client", local.verdict, local_reason, timeout_text);
	}
	/* As for two local roles (judge_skip): a skip on one side ends the case for both. */
	if (local.verdict == V_SKIP || s->remote_verdict == V_SKIP) {
		int local_skipped = local.verdict == V_SKIP;

		*r = (struct case_result){ V_SKIP, "" };
		raise_side(s, r, local_skipped ? s->side : s->other_side, V_SKIP,
			   local_skipped ? local_reason : s->remote_reason, timeout_text);
	}
}

void vsc_split_verdict(struct vsc_split *s, const struct case_result *kernel,
		       struct case_result *r)
{
	char line[LINE_MAX + 1], text[2 * VSC_TEXT_MAX + 32];
	enum verdict v;
	char *reason;

	if (s->broken[0]) {
		error_result(s, r);
		return;
	}
	if (!s->solo) {
		snprintf(text, sizeof(text), "%s", kernel->reason);
		flatten(text);
		send_message(s, "CHECKED %s\t%s", verdict_words[kernel->verdict], text);
		if (!next_message(s, GRACE_S, "VERDICT", line, sizeof(line)) ||
		    strncmp(line, "VERDICT ", 8) != 0 || !parse_fields(line + 8, &v, &reason, NULL))
			set_broken(s, "the %s side sent \"%.200s\" where the VERDICT was due",
				   s->other_side, line);
		if (s->broken[0]) {
			error_result(s, r);
			return;
		}
		r->verdict = v;
		snprintf(r->reason, sizeof(r->reason), "%s", reason);
		return;
	}
	vsc_raise_verdict(r, kernel->verdict, kernel->reason);
	if (!next_message(s, GRACE_S, "CHECKED", line, sizeof(line)) ||
	    strncmp(line, "CHECKED ", 8) != 0 || !parse_fields(line + 8, &v, &reason, NULL))
		set_broken(s, "the %s side sent \"%.200s\" where its kernel findings were due",
			   s->other_side, line);
	if (s->broken[0]) {
		error_result(s, r);
		return;
	}
	if (v != V_PASS) {
		vsc_out("# kernel (%s side): %s", s->other_side, reason);
		snprintf(text, sizeof(text), "%s side: %s", s->other_side, reason);
		vsc_raise_verdict(r, v, text);
	}
	snprintf(text, sizeof(text), "%s", r->reason);
	flatten(text);
	send_message(s, "VERDICT %s\t%s", verdict_words[r->verdict], text);
	if (s->broken[0])
		error_result(s, r);
}

int vsc_split_end(struct vsc_split *s)
{
	char line[LINE_MAX + 1];

	s->case_name = NULL;
	if (s->broken[0])
		return 1;
	send_message(s, "DONE");
	if (!next_message(s, GRACE_S, "DONE", line, sizeof(line)))
		return 1;
	if (strcmp(line, "DONE") != 0) {
		vsc_out("# split: case lists differ: the %s side goes on with \"%.200s\"",
			s->other_side, line);
		return 1;
	}
	return 0;
}
