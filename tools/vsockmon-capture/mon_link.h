/* mon_link.h: the vsockmon network device, created and brought up through rtnetlink (libnl-route-3). */
#ifndef VSOCKMON_MON_LINK_H
#define VSOCKMON_MON_LINK_H

#include <stddef.h>

struct mon_link;

/* Creates the link `name` of type "vsockmon", brings it up and returns it (ifindex in
 * *ifindex); NULL with a message in err (naming the step) when it cannot. *unsupported is set
 * when the kernel has no vsockmon link type (CONFIG_VSOCKMON off, or vsockmon.ko not loaded). */
struct mon_link *mon_link_create(const char *name, int *ifindex, int *unsupported, char *err,
				 size_t err_len);

/* Deletes the link and frees it; 0, or -1 with a message in err. */
int mon_link_destroy(struct mon_link *link, char *err, size_t err_len);

#endif
