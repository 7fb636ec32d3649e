/* harness.h: the case runner that main.c drives. */
#ifndef VSC_HARNESS_H
#define VSC_HARNESS_H

#include "vsc_internal.h"

struct harness {
	struct vsc_role_state *states;	/* shared with the role processes */
	struct vsc_kmsg *kmsg;		/* NULL: the kernel log is not checked */
};

int vsc_harness_init(struct harness *h, int check_kernel_log);
int vsc_run_case(struct harness *h, const struct vsc_case *c, int number,
		 const struct vsc_env *env);

#endif
