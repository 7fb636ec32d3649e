/* harness.h: the case runner that main.c drives, and what it shares with split.c. */
#ifndef VSC_HARNESS_H
#define VSC_HARNESS_H

#include <poll.h>

#include "vsc_internal.h"

/* In rising order of gravity: a case's verdict only ever rises. */
enum verdict { V_PASS, V_SKIP, V_XFAIL, V_ERROR, V_TIMEOUT, V_FAIL };

struct case_result {
	enum verdict verdict;
	char reason[2 * VSC_TEXT_MAX];
};

/* Raises r to v (with reason) if v is graver; an equal verdict keeps the first reason. */
void vsc_raise_verdict(struct case_result *r, enum verdict v, const char *reason);

struct vsc_split;

struct harness {
	struct vsc_role_state *states;	/* shared with the role processes */
	struct vsc_kmsg *kmsg;		/* NULL: the kernel log is not checked */
	int signal_fd;			/* SIGCHLD, kept blocked, read through this */
	struct vsc_split *split;	/* NULL: both roles run here (loopback) */
	/* NULL when the case can run here, else why not; vsc_unmet_need unless the program says. */
	const char *(*unmet_need)(const struct vsc_case *c);
};

int vsc_harness_init(struct harness *h, int check_kernel_log);
int vsc_run_case(struct harness *h, const struct vsc_case *c, int number,
		 const struct vsc_env *env);

/*
 * Split mode (split.c): this program runs one role of each server+client case and a harness
 * parent on the other side of `control` runs the other. See split.c for the protocol.
 */
int vsc_split_open_control(const char *path, char *error, size_t error_size);
struct vsc_split *vsc_split_new(int control_fd, const char *side, int solo);
/* For a side with no kernel under test: expectations follow the version the other side sends. */
void vsc_split_adopt_peer_kernel(struct vsc_split *s);
void vsc_split_hello(struct vsc_split *s, int planned);
const char *vsc_split_side(const struct vsc_split *s);
int vsc_split_solo(const struct vsc_split *s);
int vsc_split_control_fd(const struct vsc_split *s);
/* Before a case: 1 to run it, 0 when r holds its verdict (skip on a side, or error). */
int vsc_split_agree(struct vsc_split *s, const struct vsc_case *c, int number, int has_role,
		    const char *local_skip, struct case_result *r);
/* The harness's end of the local role's peer channel; the split relays its lines. */
void vsc_split_relay(struct vsc_split *s, int fd);
int vsc_split_poll_fds(struct vsc_split *s, struct pollfd *pfds);	/* fills up to 2 */
void vsc_split_service(struct vsc_split *s, const struct pollfd *pfds, int n);
/* The other side reported its role failed (or went away): stop the local role now. */
int vsc_split_remote_failed(const struct vsc_split *s);
/*
 * After the local role ended: report it (r; `where` lists local roles stopped while running)
 * and learn the other side's; on the --solo side r becomes the verdict of both roles.
 */
void vsc_split_roles_done(struct vsc_split *s, const struct vsc_case *c, unsigned int timeout_s,
			  const char *where, struct case_result *r);
/* Joins this side's kernel findings; on return r is the verdict both sides print. */
void vsc_split_verdict(struct vsc_split *s, const struct case_result *kernel,
		       struct case_result *r);
/* After the last case; 1 when the other side's case list goes on (the lists differ). */
int vsc_split_end(struct vsc_split *s);

#endif
