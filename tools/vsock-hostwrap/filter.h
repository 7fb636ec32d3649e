/* filter.h: the seccomp filter that sends the program's vsock calls to hostwrap. */
#ifndef HW_FILTER_H
#define HW_FILTER_H

/*
 * Installs the filter on the calling process (after PR_SET_NO_NEW_PRIVS): the listener fd
 * (close-on-exec), or -1 with the reason printed.
 */
int filter_install(void);

#endif
