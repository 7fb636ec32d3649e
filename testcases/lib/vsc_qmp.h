/*
 * vsc_qmp.h: a small QMP client for the cases that plug and unplug an L2 guest's devices
 * through its QEMU's monitor socket (one JSON object per line each way).
 */
#ifndef VSC_QMP_H
#define VSC_QMP_H

struct vsc_qmp;

/* Connects, reads the greeting and leaves capabilities negotiation; failures end the role. */
struct vsc_qmp *vsc_qmp_open_at(const char *file, int line, const char *path);
#define vsc_qmp_open(path) vsc_qmp_open_at(__FILE__, __LINE__, path)

/*
 * Sends one command (a JSON object, without the newline) and waits for its answer, bounded by
 * VSC_SETTLE_MS. An "error" answer, or none, ends the role with QEMU's description.
 */
void vsc_qmp_execute_at(const char *file, int line, struct vsc_qmp *q, const char *command);
#define vsc_qmp_execute(q, command) vsc_qmp_execute_at(__FILE__, __LINE__, q, command)

/*
 * Waits up to timeout_ms for the event `name` whose data has "device": `device` (events seen
 * since the connection opened count too). Returns 0 when it came, -1 when the time ran out.
 */
int vsc_qmp_wait_event_at(const char *file, int line, struct vsc_qmp *q, const char *name,
			  const char *device, int timeout_ms);
#define vsc_qmp_wait_event(q, name, device, timeout_ms) \
	vsc_qmp_wait_event_at(__FILE__, __LINE__, q, name, device, timeout_ms)

void vsc_qmp_close(struct vsc_qmp *q);

/* The string value of `key` in a one-line JSON object, into out; 0 when found (for tests). */
int vsc_qmp_json_string(const char *json, const char *key, char *out, unsigned long out_size);

#endif
