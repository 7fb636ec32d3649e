/* module.c: whether a kernel module is loaded, built in, or absent in the running kernel. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "vsc_internal.h"

/* The runner's list of built-in modules (one name a line), beside the .ko files it ships. */
#define RUNNER_BUILTIN_LIST "lib/modules/vsockcheck/builtin"

/* '-' and '_' are the same in a module name (the kernel's own rule). */
static int same_name(const char *a, const char *b)
{
	for (; *a && *b; a++, b++) {
		char x = *a == '-' ? '_' : *a, y = *b == '-' ? '_' : *b;

		if (x != y)
			return 0;
	}
	return *a == *b;
}

/*
 * A line of either list names the module: "vsock_loopback" (the runner's) or
 * "kernel/net/vmw_vsock/vsock_loopback.ko" (modules.builtin, a path without the .ko's
 * compression suffix).
 */
static int line_names(char *line, const char *name)
{
	char *base = strrchr(line, '/'), *dot;

	line[strcspn(line, "\r\n")] = '\0';
	base = base ? base + 1 : line;
	dot = strstr(base, ".ko");
	if (dot)
		*dot = '\0';
	return same_name(base, name);
}

static int listed_in(const char *path, const char *name)
{
	char line[512];
	int found = 0;
	FILE *f = fopen(path, "re");

	if (!f)
		return 0;
	while (!found && fgets(line, sizeof(line), f))
		found = line_names(line, name);
	fclose(f);
	return found;
}

enum vsc_module_state vsc_module_state_at(const char *root, const char *release, const char *name)
{
	char path[512];

	/* Only a module loaded from a file has initstate; a built-in one with parameters has
	 * a /sys/module directory too, without it. */
	snprintf(path, sizeof(path), "%s/sys/module/%s/initstate", root, name);
	if (access(path, F_OK) == 0)
		return VSC_MODULE_LOADED;
	snprintf(path, sizeof(path), "%s/sys/module/%s", root, name);
	if (access(path, F_OK) == 0)
		return VSC_MODULE_BUILTIN;
	/* A built-in module without parameters leaves no trace in /sys/module: the lists say. */
	snprintf(path, sizeof(path), "%s/" RUNNER_BUILTIN_LIST, root);
	if (listed_in(path, name))
		return VSC_MODULE_BUILTIN;
	snprintf(path, sizeof(path), "%s/lib/modules/%s/modules.builtin", root, release);
	if (listed_in(path, name))
		return VSC_MODULE_BUILTIN;
	return VSC_MODULE_ABSENT;
}

enum vsc_module_state vsc_module_state(const char *name)
{
	return vsc_module_state_at("", vsc_kernel_release(), name);
}

int vsc_insmod_failure(const char *name, char *out, size_t size)
{
	char prefix[80];
	FILE *f = fopen("/run/vsockcheck/insmod-failed", "re");
	int found = 0;

	if (!f)
		return 0;
	snprintf(prefix, sizeof(prefix), "%s.ko:", name);
	while (!found && fgets(out, (int)size, f)) {
		if (strncmp(out, prefix, strlen(prefix)) == 0) {
			out[strcspn(out, "\n")] = '\0';
			found = 1;
		}
	}
	fclose(f);
	if (!found && size)
		out[0] = '\0';
	return found;
}
