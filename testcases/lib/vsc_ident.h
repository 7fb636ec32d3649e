/*
 * vsc_ident.h: the identity service of the nested topology (CONTRACTS5.md). A listener on
 * VMADDR_CID_ANY:port answers each connection with the line "vsockcheck-ident NAME\n", then
 * echoes every byte back until EOF; a case learns from it whose kernel a CID reached.
 */
#ifndef VSC_IDENT_H
#define VSC_IDENT_H

#include <stddef.h>

#define VSC_IDENT_PREFIX "vsockcheck-ident "
#define VSC_IDENT_NAME_MAX 32

/* Non-zero unless `name` is 1 to VSC_IDENT_NAME_MAX letters, digits, '-', '_' or '.'. */
int vsc_ident_name_invalid(const char *name);

/*
 * `vsockcheck-tests --ident NAME`: serves forever, one forked child per connection. Returns
 * (an exit status) only when the listener cannot be set up or accept() fails for good; every
 * error goes to stderr, nothing to stdout.
 */
int vsc_ident_serve(const char *name, unsigned int port);

/* The server's half of one connection, for a case that plays the service itself. */
int vsc_ident_greet(int fd, const char *name);	/* 0, or -1 with errno */

/*
 * The client's half: reads the greeting on fd (bounded by VSC_SETTLE_MS) and checks that it
 * names `expected`. A missing or malformed line ends the role; another name is a recorded
 * failure (returns non-zero).
 */
int vsc_ident_expect_at(const char *file, int line, int fd, const char *expected);
#define vsc_ident_expect(fd, expected) vsc_ident_expect_at(__FILE__, __LINE__, fd, expected)

#endif
