/* kmod.c: the test module vsc_probe (testcases/kmod/, run --kmod): it loads, and its view of the vsock tables. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "vsc.h"
#include "vsc_sock.h"

#define PROBE "vsc_probe"
#define PROBE_DIR "/proc/vsockcheck"
/* Where guest_init.sh keeps the modules it was given. */
#define SHIPPED_KO "/lib/modules/vsockcheck/" PROBE ".ko"

/* The line of `path` that starts with `prefix`, without its newline; 0 if there is none. */
static int find_line(const char *path, const char *prefix, char *line, size_t size)
{
	FILE *f = fopen(path, "re");
	int found = 0;

	if (!f)
		return 0;
	while (!found && fgets(line, (int)size, f)) {
		if (strncmp(line, prefix, strlen(prefix)) == 0) {
			line[strcspn(line, "\n")] = '\0';
			found = 1;
		}
	}
	fclose(f);
	return found;
}

/*
 * Without the module a case SKIPs, unless the runner shipped it (--kmod): then it should have
 * loaded, and the case fails with insmod's own message.
 */
static void need_probe(void)
{
	char why[256];

	if (access(PROBE_DIR "/info", F_OK) == 0)
		return;
	if (access(SHIPPED_KO, F_OK) != 0)
		vsc_skip(PROBE " not loaded: run with --kmod");
	if (!vsc_insmod_failure(PROBE, why, sizeof(why)))
		snprintf(why, sizeof(why), "insmod reported no error, yet %s/info is missing", PROBE_DIR);
	vsc_fatal_at(__FILE__, __LINE__, "%s was shipped in the image but is not loaded: %s", SHIPPED_KO, why);
}

/* Writes `question` to one of the probe's files and returns its one-line answer in `answer`. */
static void ask_at(const char *file, int line, const char *name, const char *question, char *answer,
		   size_t size)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", PROBE_DIR, name);
	vsc_step_at(file, line, path);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		vsc_fatal_at(file, line, "open(%s) failed: %s", path, vsc_errname(errno));
	if (write(fd, question, strlen(question)) != (ssize_t)strlen(question))
		vsc_fatal_at(file, line, "write(%s, \"%s\") failed: %s", path, question, vsc_errname(errno));
	n = read(fd, answer, size - 1);
	if (n < 0)
		vsc_fatal_at(file, line, "read(%s) failed: %s", path, vsc_errname(errno));
	close(fd);
	answer[n] = '\0';
	answer[strcspn(answer, "\n")] = '\0';
}
#define ask(name, question, answer) ask_at(__FILE__, __LINE__, name, question, answer, sizeof(answer))

/* The answer must be exactly `expected`. */
#define EXPECT_ANSWER(name, question, expected)                                                   \
	do {                                                                                     \
		char answer_[32];                                                                \
		ask(name, question, answer_);                                                    \
		if (strcmp(answer_, expected) != 0)                                              \
			vsc_fail_at(__FILE__, __LINE__, "%s \"%s\" answered \"%s\", expected \"%s\"", \
				    name, question, answer_, expected);                          \
	} while (0)

static void address_words(char *out, size_t size, struct sockaddr_vm local, struct sockaddr_vm remote)
{
	snprintf(out, size, "%u %u %u %u", local.svm_cid, local.svm_port, remote.svm_cid, remote.svm_port);
}

static void loaded(const struct vsc_env *env)
{
	char line[256];

	(void)env;
	need_probe();
	EXPECT_TRUE(find_line("/proc/modules", PROBE " ", line, sizeof(line)));
	ASSERT_TRUE(find_line(PROBE_DIR "/info", "release ", line, sizeof(line)));
	if (strcmp(line + strlen("release "), vsc_kernel_release()) != 0)
		vsc_fail_at(__FILE__, __LINE__, "%s was built for %s, but this kernel is %s", PROBE,
			    line + strlen("release "), vsc_kernel_release());
}
VSC_CASE(kmod_probe_loaded,
	 .summary = "the test module vsc_probe is loaded, in /proc/modules, and built for the running release",
	 .run = loaded);

static void bound(const struct vsc_env *env)
{
	int fd = SAFE(socket(AF_VSOCK, SOCK_STREAM, 0));
	char question[32], other[32];

	need_probe();
	snprintf(question, sizeof(question), "%u %u", VMADDR_CID_ANY, env->port);
	snprintf(other, sizeof(other), "%u %u", VMADDR_CID_ANY, env->port + 1);
	EXPECT_ANSWER("bound", question, "not bound");
	SAFE(vsc_bind(fd, VMADDR_CID_ANY, env->port));
	EXPECT_ANSWER("bound", question, "bound");
	EXPECT_ANSWER("bound", other, "not bound");
	/* A socket that never connected has no transport: close() unhashes it before returning. */
	SAFE(close(fd));
	EXPECT_ANSWER("bound", question, "not bound");
}
VSC_CASE(kmod_bound_table, .sock_type = SOCK_STREAM,
	 .summary = "bind puts the socket in the kernel's bound table (asked through vsc_probe); close takes it out",
	 .run = bound);

static void connected(const struct vsc_env *env)
{
	int listener, client, accepted;
	char question[64];

	need_probe();
	listener = vsc_listen(SOCK_STREAM, env->port, 1);
	client = vsc_connect_to(SOCK_STREAM, VMADDR_CID_LOCAL, env->port);
	accepted = SAFE(accept(listener, NULL, NULL));
	address_words(question, sizeof(question), vsc_sockname(client), vsc_peername(client));
	EXPECT_ANSWER("connected", question, "connected");
	address_words(question, sizeof(question), vsc_sockname(accepted), vsc_peername(accepted));
	EXPECT_ANSWER("connected", question, "connected");
	/* The server's port with a peer port no socket is connected from: the listener is only bound. */
	address_words(question, sizeof(question), vsc_sockname(listener),
		      vsc_addr(VMADDR_CID_LOCAL, vsc_sockname(client).svm_port + 1));
	EXPECT_ANSWER("connected", question, "not connected");
	SAFE(close(accepted));
	SAFE(close(client));
	SAFE(close(listener));
}
VSC_CASE(kmod_connected_table, .sock_type = SOCK_STREAM,
	 .summary = "both ends of a loopback connection are in the kernel's connected table (asked through vsc_probe)",
	 .run = connected);
