/* hvp_internal.h: what the hvp files share and the API does not show. */
#ifndef HVP_INTERNAL_H
#define HVP_INTERNAL_H

#include <time.h>

#include "hvp.h"

/* Records "<what>: <strerror(err)>" in s->error and returns -err. */
int hvp_fail(struct hvp_session *s, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int hvp_ioctl(struct hvp_session *s, unsigned long req, void *arg, const char *name, uint32_t chan);
int hvp_drain_events(struct hvp_session *s);
void hvp_deadline(struct timespec *deadline, int timeout_ms);
long hvp_ms_left(const struct timespec *deadline);

#endif
