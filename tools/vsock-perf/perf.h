/*
 * perf.h: what vsock-perf's files share: the options, the role a mode plays on a connection,
 * the report that prints as text or JSON, and the error and timing helpers.
 */
#ifndef VSOCK_PERF_H
#define VSOCK_PERF_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define CHUNK_MAX (16u << 20)

/* Exit status when the kernel lacks what was asked for (MSG_ZEROCOPY on vsock): a skip. */
#define EXIT_UNSUPPORTED 4

enum mode { MODE_RECV, MODE_SEND, MODE_ECHO, MODE_CONNRATE, MODE_LATENCY };

struct options {
	enum mode mode;
	unsigned long long cid;		/* the connecting side */
	unsigned int port;
	unsigned long long bytes;	/* send */
	size_t chunk;			/* bytes per read()/write(): the buffer size */
	unsigned long long count;	/* connrate, latency; echo: 0 serves until the timeout */
	size_t msg_size;		/* latency: bytes per round trip */
	unsigned long long vsk_size;	/* SO_VM_SOCKETS_BUFFER_SIZE; 0 leaves the default */
	unsigned int rcvlowat;		/* SO_RCVLOWAT; 0 leaves the default */
	int poll_before_read;		/* receivers: poll() for POLLIN before each read() */
	int zerocopy;			/* send: MSG_ZEROCOPY */
	int json;			/* report lines as JSON objects */
	const char *bridge;		/* connect through the hybrid bridge's Unix socket */
	const char *bridge_listen;	/* listen on <bridge_listen>_<port> */
	unsigned int timeout_s;
	int background;			/* listeners: return once listening */
	int have_cid, have_port, have_bytes, have_count, have_size;
};

/* Whether this run's mode opens its connection by connecting (else it listens and accepts). */
int connects(const struct options *o);

/* options.c */
void parse_options(int argc, char **argv, struct options *o);

/* report.c: the mode's name for messages, what the program is doing (for the timeout). */
extern const char *mode_name;
extern const char *volatile doing;
extern char listen_path[108];

void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void fail_status(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
const char *errno_text(int err);
double now_s(void);
void install_signals(unsigned int timeout_s);

/* One report line: "vsock-perf: MODE k=v ..." or, with --json, {"mode": MODE, "k": v, ...}. */
#define REPORT_FIELDS_MAX 16
struct report {
	int count;
	struct {
		const char *key;
		int is_text;
		char value[64];
	} field[REPORT_FIELDS_MAX];
};
void report_u64(struct report *r, const char *key, unsigned long long value);
void report_f(struct report *r, const char *key, const char *format, double value);
void report_text(struct report *r, const char *key, const char *value);
void report_format(const struct report *r, const char *mode, int json, char *line, size_t size);
void report_print(const struct report *r, const struct options *o);

/* conn.c */
int open_connection(const struct options *o);
int start_listening(const struct options *o);
int accept_one(int listener, const struct options *o);
const char *peer_name(const struct options *o);
void done_listening(void);
void write_all(int fd, const char *buf, size_t len, const struct options *o,
	       unsigned long long sent);
ssize_t read_some(int fd, char *buf, size_t len, const struct options *o);

/* stream.c, zerocopy.c, connrate.c, latency.c: the modes */
int run_recv(const struct options *o, char *buf);
int run_send(const struct options *o, char *buf);
unsigned long long send_zerocopy(int fd, const char *buf, const struct options *o,
				 unsigned long long *copied);
int run_echo(const struct options *o);
int run_connrate(const struct options *o);
int run_latency(const struct options *o, char *buf);

/* stats.c: nearest-rank percentile of sorted values (p in 0..100); 0 when n is 0. */
void sort_u64(uint64_t *values, size_t n);
uint64_t percentile(const uint64_t *sorted, size_t n, unsigned int p);

#endif
