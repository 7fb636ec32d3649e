/* fx_agent_proc.h: an engine's vsock-fixture-agent child, with a pipe each way (engines 2, 3). */
#ifndef FX_AGENT_PROC_H
#define FX_AGENT_PROC_H

#include <sys/types.h>

/*
 * Starts `agent` with its stdin and stdout on pipes: *replies is read from, *requests written to.
 * `me` names the engine in messages. The pid, or -1 (said on stderr). Start it before opening a
 * device: a child forked later would hold the device's fd.
 */
pid_t fx_agent_start(const char *me, const char *agent, int *replies, int *requests);
/* Closing its stdin ends the agent; a status other than 0 is reported, not fatal. */
void fx_agent_stop(const char *me, pid_t pid, int replies, int requests);

#endif
