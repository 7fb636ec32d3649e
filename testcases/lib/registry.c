/* registry.c: the table of declared cases, and the catalogue `--list` prints. */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "vsc_internal.h"

/* The linker defines these around the vsc_cases section that VSC_CASE fills. */
extern const struct vsc_case __start_vsc_cases[];
extern const struct vsc_case __stop_vsc_cases[];

const struct vsc_case *vsc_cases_begin(void)
{
	return __start_vsc_cases;
}

const struct vsc_case *vsc_cases_end(void)
{
	return __stop_vsc_cases;
}

const char *vsc_roles_text(const struct vsc_case *c)
{
	return c->run ? "one" : "server+client";
}

const char *vsc_type_text(int sock_type)
{
	switch (sock_type) {
	case SOCK_STREAM:
		return "stream";
	case SOCK_SEQPACKET:
		return "seqpacket";
	case SOCK_DGRAM:
		return "dgram";
	default:
		return "-";
	}
}

static void append_item(char *out, size_t size, const char *item)
{
	size_t used = strlen(out);

	snprintf(out + used, size - used, "%s%s", used ? "," : "", item);
}

static void needs_text(const struct vsc_case *c, char *out, size_t size)
{
	char kver[32];

	out[0] = '\0';
	if (c->min_kver) {
		snprintf(kver, sizeof(kver), ">=%s", c->min_kver);
		append_item(out, size, kver);
	}
	if (c->needs & VSC_NEED_SEQPACKET)
		append_item(out, size, "seqpacket");
	if (c->needs & VSC_NEED_DEV_VSOCK)
		append_item(out, size, "/dev/vsock");
	if (c->needs & VSC_NEED_KMEMLEAK)
		append_item(out, size, "kmemleak");
	if (c->needs & VSC_NEED_SEND_CREDIT)
		append_item(out, size, "send-credit");
	if (c->needs & VSC_NEED_NESTED)
		append_item(out, size, "nested");
	if (c->needs & VSC_NEED_HVSOCK)
		append_item(out, size, "hvsock");
	if (!out[0])
		append_item(out, size, "-");
}

/* One line, tab-separated: name, type, roles, needs, timeout, summary, tags (" | "). */
void vsc_list_case(const struct vsc_case *c)
{
	char needs[128], tags[1024] = "";
	const char *const *t;
	size_t used = 0;

	needs_text(c, needs, sizeof(needs));
	for (t = c->tags; t && *t && used < sizeof(tags); t++)
		used += (size_t)snprintf(tags + used, sizeof(tags) - used, "%s%s", used ? " | " : "",
					 *t);
	printf("%s\t%s\t%s\t%s\t%u\t%s\t%s\n", c->name, vsc_type_text(c->sock_type),
	       vsc_roles_text(c), needs, c->timeout_s ? c->timeout_s : VSC_DEFAULT_TIMEOUT_S,
	       c->summary ? c->summary : "", tags);
}
