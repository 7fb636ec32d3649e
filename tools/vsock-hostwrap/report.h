/* report.h: hostwrap's settings and its messages on stderr (its own errors, --verbose notes). */
#ifndef HW_REPORT_H
#define HW_REPORT_H

#include <sys/un.h>

/* Exit status for hostwrap's own errors (as env(1) and timeout(1) use 125). */
#define HW_OWN_ERROR 125

struct hw_config {
	struct sockaddr_un bridge;	/* the device's hybrid bridge UDS */
	unsigned int guest_cid;		/* the only CID the bridge reaches */
	int verbose;
};

extern struct hw_config hw_config;

/* One line "vsock-hostwrap: ..." on stderr; hw_own_error also makes the run end with 125. */
void hw_own_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void hw_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Only with --verbose. */
void hw_verbose(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int hw_had_own_error(void);

#endif
