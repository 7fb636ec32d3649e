/* vsc_internal.h: what the library's own files share; tests include vsc.h only. */
#ifndef VSC_INTERNAL_H
#define VSC_INTERNAL_H

#include <stddef.h>
#include <sys/types.h>

#include "vsc.h"
#include "vsc_kver.h"

enum vsc_outcome {
	VSC_UNSET = 0,		/* the role never reported: it crashed or was killed */
	VSC_PASS,
	VSC_FAIL,		/* the kernel did the wrong thing */
	VSC_SKIP,		/* not applicable here; reason says why */
	VSC_BROKEN,		/* the test itself could not run */
	VSC_PEER_GONE,		/* stopped because the other role ended first */
};

#define VSC_TEXT_MAX 512

/* One role's state, in memory shared with the harness so it survives the role's crash. */
struct vsc_role_state {
	int outcome;
	int failures;
	char reason[VSC_TEXT_MAX];	/* first failure, skip or broken reason */
	char step[VSC_TEXT_MAX];	/* file:line and call of the last step begun */
};

/* The role the current process plays; set by the harness before it calls the case. */
struct vsc_role {
	const char *label;		/* "server", "client" or "test": prefixes diagnostics */
	struct vsc_role_state *state;
	int control_fd;			/* peer channel, -1 for one-process cases */
};

extern struct vsc_role vsc_self;

/* End the current role with an outcome; flushes nothing, since every line is written whole. */
void vsc_role_exit(int outcome, const char *reason) __attribute__((noreturn));

/* KTAP output: every line leaves in one write() so lines from several processes never mix. */
void vsc_out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The case table the linker builds from every VSC_CASE. */
const struct vsc_case *vsc_cases_begin(void);
const struct vsc_case *vsc_cases_end(void);
const char *vsc_roles_text(const struct vsc_case *c);
const char *vsc_type_text(int sock_type);
void vsc_list_case(const struct vsc_case *c);

/* Returns NULL when the case's needs are met, else the reason to skip (static storage). */
const char *vsc_unmet_need(const struct vsc_case *c);
/* The --level of this run (main.c sets it): VSC_NEED_NESTED is met when it is not 0. */
void vsc_set_nested_level(unsigned int level);
/* NULL when this run is nested, else why a VSC_NEED_NESTED case skips. */
const char *vsc_nested_unmet(void);
/* --hvsock (main.c sets it): VSC_NEED_HVSOCK is met only then. */
void vsc_set_hvsock(int on);
/* NULL in the hvsock topology, else why a VSC_NEED_HVSOCK case skips. */
const char *vsc_hvsock_unmet(void);

/* vsc_module_state() with /sys and /lib under root ("" for the real ones), for the unit test. */
enum vsc_module_state vsc_module_state_at(const char *root, const char *release, const char *name);

/* The version that decides expectations, as "6.1.192". */
const char *vsc_kernel_version_short(void);
/*
 * Makes `text` ("6.1.192") the version that decides expectations: the host program of a split
 * run judges errnos and known bugs by the guest kernel under test, not by the build machine's.
 */
int vsc_kernel_adopt_version(const char *text);

/* Kernel health around a case: new alarming log lines and new taint bits. */
struct vsc_kmsg;
struct vsc_kmsg *vsc_kmsg_open(void);		/* NULL when /dev/kmsg cannot be read */
void vsc_kmsg_mark(struct vsc_kmsg *k);		/* forget what is logged so far */
/* Appends up to `max` alarming lines logged since the mark; returns their count. */
int vsc_kmsg_alarms(struct vsc_kmsg *k, char lines[][VSC_TEXT_MAX], int max);
/* The message text of a /dev/kmsg record if it is an alarm from the kernel, else NULL. */
const char *vsc_kmsg_record_alarm(const char *record, char *msg, size_t msg_size);
unsigned long vsc_taint_read(void);
void vsc_taint_describe(unsigned long bits, char *out, size_t out_size);

/*
 * For a case's known_bug key: the XFAIL reason when the running kernel has that bug, NULL when
 * it does not, and *unknown set when no row has the key (a broken declaration).
 */
const char *vsc_known_bug(const char *key, int *unknown);

/* Peer channel set-up by the harness. */
void vsc_control_attach(int fd);

#endif
