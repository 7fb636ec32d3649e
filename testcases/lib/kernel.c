/* kernel.c: the running kernel's version and the run-time probes behind a case's needs. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "kmemleak.h"
#include "vsc_internal.h"

const char *vsc_kernel_release(void)
{
	static struct utsname uts;

	if (!uts.release[0] && uname(&uts) != 0)
		snprintf(uts.release, sizeof(uts.release), "unknown");
	return uts.release;
}

/*
 * The version that decides expectations. Debian's uname -r hides the stable release
 * ("6.1.0-56-cloud-amd64" is 6.1.192), and fixes arrive in stable releases, so the
 * package version in /proc/version wins when there is one.
 */
static struct vsc_kver version;
static int known;

static struct vsc_kver running_version(void)
{
	struct vsc_kver packaged;
	char line[512];
	const char *debian;
	FILE *f;

	if (known)
		return version;
	known = 1;
	if (vsc_kver_parse(vsc_kernel_release(), &version) != 0)
		version = (struct vsc_kver){ 0, 0, 0 };
	f = fopen("/proc/version", "re");
	if (!f)
		return version;
	if (fgets(line, sizeof(line), f) && (debian = strstr(line, " Debian ")) &&
	    vsc_kver_parse(debian + strlen(" Debian "), &packaged) == 0)
		version = packaged;
	fclose(f);
	return version;
}

int vsc_kernel_adopt_version(const char *text)
{
	struct vsc_kver adopted;

	if (vsc_kver_parse(text, &adopted) != 0)
		return -1;
	version = adopted;
	known = 1;
	return 0;
}

const char *vsc_kernel_version_short(void)
{
	static char text[64];
	struct vsc_kver v = running_version();

	snprintf(text, sizeof(text), "%d.%d.%d", v.major, v.minor, v.patch);
	return text;
}

const char *vsc_kernel_version_text(void)
{
	static char text[128];
	struct vsc_kver v = running_version();

	if (!text[0])
		snprintf(text, sizeof(text), "%d.%d.%d (%s)", v.major, v.minor, v.patch,
			 vsc_kernel_release());
	return text;
}

int vsc_kernel_at_least(const char *min_kver)
{
	struct vsc_kver running = running_version(), wanted;

	if (vsc_kver_parse(min_kver, &wanted) != 0)
		return 0;
	return vsc_kver_cmp(&running, &wanted) >= 0;
}

static const char *probe_seqpacket(void)
{
	static char reason[VSC_TEXT_MAX];
	int fd = socket(AF_VSOCK, SOCK_SEQPACKET, 0);

	if (fd >= 0) {
		close(fd);
		return NULL;
	}
	snprintf(reason, sizeof(reason), "socket(AF_VSOCK, SOCK_SEQPACKET) fails with %s (added in 5.14)",
		 vsc_errname(errno));
	return reason;
}

static const char *probe_dev_vsock(void)
{
	static char reason[VSC_TEXT_MAX];
	int fd = open("/dev/vsock", O_RDONLY);

	if (fd >= 0) {
		close(fd);
		return NULL;
	}
	snprintf(reason, sizeof(reason), "/dev/vsock cannot be opened: %s", vsc_errname(errno));
	return reason;
}

static unsigned int nested_level;

void vsc_set_nested_level(unsigned int level)
{
	nested_level = level;
}

const char *vsc_nested_unmet(void)
{
	return nested_level ? NULL : "needs the nested topology (an L1 guest hosting an L2 guest)";
}

static int hvsock_topology;

void vsc_set_hvsock(int on)
{
	hvsock_topology = on;
}

const char *vsc_hvsock_unmet(void)
{
	return hvsock_topology ? NULL : "needs --topology hvsock";
}

const char *vsc_unmet_need(const struct vsc_case *c)
{
	static char reason[VSC_TEXT_MAX];
	const char *why;

	if (c->min_kver && !vsc_kernel_at_least(c->min_kver)) {
		snprintf(reason, sizeof(reason), "needs kernel %s, running %s", c->min_kver,
			 vsc_kernel_version_text());
		return reason;
	}
	if ((c->needs & VSC_NEED_SEQPACKET) && (why = probe_seqpacket()))
		return why;
	if ((c->needs & VSC_NEED_DEV_VSOCK) && (why = probe_dev_vsock()))
		return why;
	if ((c->needs & VSC_NEED_KMEMLEAK) && (why = vsc_kmemleak_unavailable()))
		return why;
	if ((c->needs & VSC_NEED_NESTED) && (why = vsc_nested_unmet()))
		return why;
	if ((c->needs & VSC_NEED_HVSOCK) && (why = vsc_hvsock_unmet()))
		return why;
	return NULL;
}
