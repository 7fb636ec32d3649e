/* stress.h: sock-stress, virtsock's sock_stress echo test in C: options, addresses, both roles. */
#ifndef SOCK_STRESS_H
#define SOCK_STRESS_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <sys/socket.h>

/* sock_stress's defaults: port 0x5653 for a bare "vsock", service 3049197C-FACB-... for "hvsock". */
#define STRESS_VSOCK_PORT 0x5653u
#define STRESS_HVSOCK_SERVICE "3049197c-facb-11e6-bd58-64006a7986d3"

/* Exit statuses: 0 every connection echoed exactly; 1 a connection failed or time ran out. */
#define STRESS_EXIT_FAILED 1
#define STRESS_EXIT_USAGE 2

struct stress_options {
	const char *url;		/* -c or -s as given */
	int server;			/* -s */
	long connections;		/* -i; a server stops after this many if count_given */
	int count_given;
	long parallel;			/* -p */
	long min_len, max_len;		/* -L, -l: bytes sent on one connection */
	long min_chunk, max_chunk;	/* -B, -b: the size of one write or read */
	long wait_s;			/* -w: sleep between a client's connections */
	int exit_on_error;		/* -e */
	long verbose;			/* -v */
	long time_limit_s;		/* -t: the whole run; 0 is none */
};

/* Parses argv; 0, or -1 with err naming the option and why (usage already printed for --help: 1). */
int stress_parse_options(int argc, char **argv, struct stress_options *o, char *err, size_t err_size);
void stress_usage(FILE *out);

/* An address of -c/-s: what socket() and connect()/bind() take, and its text for messages. */
struct stress_addr {
	int family;			/* AF_VSOCK or AF_UNIX */
	struct sockaddr_storage sa;
	socklen_t sa_len;
	char text[160];			/* as written, with a bare scheme's default filled in */
};

/* Parses url for a client (listening 0) or a server; 0, or -1 with err naming url and why. */
int stress_parse_addr(const char *url, int listening, struct stress_addr *a, char *err, size_t err_size);

/* A connected stream, or -1 with err ("connect vsock://1:80: ECONNRESET (...)"). */
int stress_connect(const struct stress_addr *a, char *err, size_t err_size);
/* A listening socket, or -1 with err. A Unix listener replaces a stale socket file, as sock_stress. */
int stress_listen(const struct stress_addr *a, char *err, size_t err_size);

/* Monotonic milliseconds, and the run's deadline (0: none) for both roles. */
long long stress_now_ms(void);

/* The roles: the exit status. */
int stress_client(const struct stress_options *o, const struct stress_addr *a);
int stress_server(const struct stress_options *o, const struct stress_addr *a);

/* One line on stderr, prefixed "sock-stress: ", serialised between threads. */
void stress_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
