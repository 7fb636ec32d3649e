/* kver.c: kernel versions, major.minor[.patch] with patch 0 when absent. */
#include <stdio.h>

#include "vsc_kver.h"

int vsc_kver_parse(const char *text, struct vsc_kver *out)
{
	int n = 0;

	out->major = out->minor = out->patch = 0;
	if (sscanf(text, "%d.%d%n", &out->major, &out->minor, &n) < 2 || n == 0)
		return -1;
	if (text[n] == '.')
		sscanf(text + n + 1, "%d", &out->patch);
	return 0;
}

int vsc_kver_cmp(const struct vsc_kver *a, const struct vsc_kver *b)
{
	if (a->major != b->major)
		return a->major < b->major ? -1 : 1;
	if (a->minor != b->minor)
		return a->minor < b->minor ? -1 : 1;
	if (a->patch != b->patch)
		return a->patch < b->patch ? -1 : 1;
	return 0;
}
