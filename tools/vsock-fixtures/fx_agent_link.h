/* fx_agent_link.h: requests to the fixture agent and its replies, matched by id. */
#ifndef FX_AGENT_LINK_H
#define FX_AGENT_LINK_H

#include <stdint.h>

#include <json-c/json.h>

struct fx_agent;

struct fx_agent *fx_agent_new(int in, int out);	/* in: replies, out: requests */
void fx_agent_free(struct fx_agent *a);
/* Why the link is unusable (the agent died, wrote garbage), or NULL. */
const char *fx_agent_broken(const struct fx_agent *a);
/* Sends `req` (taken; "id" is added): its id, or -1 with why. */
long fx_agent_send(struct fx_agent *a, json_object *req, char *why, size_t why_size);
/* The reply to `id` by deadline_ms: 1 with *reply (the caller puts it), 0 at the deadline, -1. */
int fx_agent_wait(struct fx_agent *a, long id, uint64_t deadline_ms, json_object **reply,
		  char *why, size_t why_size);
/* Drops replies kept for calls nobody awaits any more (after a fixture). */
void fx_agent_forget(struct fx_agent *a);

#endif
