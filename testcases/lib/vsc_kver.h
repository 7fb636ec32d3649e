/* vsc_kver.h: kernel versions as "6.1.192", parsed and ordered; shared by the test library and
 * the fixture runner (which must not link the harness, hence a file of its own). */
#ifndef VSC_KVER_H
#define VSC_KVER_H

struct vsc_kver {
	int major, minor, patch;
};
int vsc_kver_parse(const char *text, struct vsc_kver *out);	/* 0 on success */
int vsc_kver_cmp(const struct vsc_kver *a, const struct vsc_kver *b);

#endif
