/*
 * vmbus_sim_attach.c: the hvsock topology's set-up itself: the kernel's packaged hv_sock.ko runs on
 * vmbus_sim (testcases/kmod/vmbus_sim) and is the guest-to-host transport, so a connect to CID 2
 * reaches the simulated host as a TL connect request.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#include "vsc.h"
#include "hvp.h"
#include "vmbus_sim_uapi.h"

#define TL_CONNECT_WAIT_MS 5000

/* A module the runner shipped must be loaded; if not, fail with insmod's own message. */
static void require_module(const char *name)
{
	char why[512];

	if (vsc_module_state(name) == VSC_MODULE_LOADED)
		return;
	if (!vsc_insmod_failure(name, why, sizeof(why)))
		snprintf(why, sizeof(why), "insmod reported no error");
	vsc_fatal_at(__FILE__, __LINE__, "module %s is not loaded: %s", name, why);
}

/*
 * The kernel's taint letters for one module (/sys/module/NAME/taint), e.g. "OE"; "" if unreadable.
 * F means it was loaded without its modversions: the runner does that only when hv_sock.ko's CRCs
 * differ from vmbus_sim's, which is a failure of the attachment (its note names each symbol).
 */
static void module_taint(const char *name, char *out, size_t size)
{
	char path[96];
	FILE *f;

	snprintf(path, sizeof(path), "/sys/module/%s/taint", name);
	out[0] = '\0';
	f = fopen(path, "re");
	if (f && !fgets(out, (int)size, f))
		out[0] = '\0';
	if (f)
		fclose(f);
	out[strcspn(out, "\n")] = '\0';
}

/* The service GUID of vsock port `port` (hvp's mapping). */
static struct vsim_guid port_guid(unsigned int port)
{
	struct vsim_guid g;

	hvp_port_guid(port, &g);
	return g;
}

static void attached(const struct vsc_env *env)
{
	struct vsim_listen listen_req = { .service = port_guid(env->port) };
	struct sockaddr_vm addr = { .svm_family = AF_VSOCK, .svm_cid = env->peer_cid,
				    .svm_port = env->port };
	struct vsim_info info;
	struct vsim_event ev;
	struct pollfd pfd;
	char taint[16];
	int dev, fd, rc;

	vsc_step_at(__FILE__, __LINE__, "vmbus_sim and hv_sock in /proc/modules");
	require_module("vmbus_sim");
	require_module("hv_sock");
	module_taint("hv_sock", taint, sizeof(taint));
	if (strchr(taint, 'F'))
		vsc_fail_at(__FILE__, __LINE__, "hv_sock was force-loaded (taint %s): its modversions CRCs differ "
			    "from vmbus_sim's (the run's notes and hv_modules.txt name the symbols)", taint);

	vsc_step_at(__FILE__, __LINE__, "VSIM_IOC_INFO on " VSIM_DEVICE);
	dev = SAFE(open(VSIM_DEVICE, O_RDWR | O_CLOEXEC));
	SAFE(ioctl(dev, VSIM_IOC_INFO, &info));
	EXPECT_EQ(info.abi, VSIM_ABI);
	if (info.attach != VSIM_ATTACH_EXPORTS && info.attach != VSIM_ATTACH_LIVEPATCH)
		vsc_fail_at(__FILE__, __LINE__, "VSIM_IOC_INFO attach is %u, neither exports (1) nor livepatch (2)",
			    info.attach);
	/* hv_sock's module_init registered its hv_driver through our __vmbus_driver_register. */
	ASSERT_EQ(info.driver_registered, 1);

	vsc_step_at(__FILE__, __LINE__, "a connect to CID 2 reaches vmbus_sim as a TL connect request");
	SAFE(ioctl(dev, VSIM_IOC_LISTEN, &listen_req));
	fd = SAFE(socket(AF_VSOCK, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
	rc = connect(fd, (struct sockaddr *)&addr, sizeof(addr));
	if (rc == 0 || errno != EINPROGRESS)
		vsc_fatal_at(__FILE__, __LINE__, "non-blocking connect to CID %u port %u: %s, not EINPROGRESS "
			     "(no guest-to-host transport, or not hv_sock)", env->peer_cid, env->port,
			     rc == 0 ? "success" : vsc_errname(errno));
	pfd = (struct pollfd){ .fd = dev, .events = POLLIN };
	rc = SAFE(poll(&pfd, 1, TL_CONNECT_WAIT_MS));
	if (rc == 0)
		vsc_fatal_at(__FILE__, __LINE__, "no event on %s within %d ms of the connect", VSIM_DEVICE,
			     TL_CONNECT_WAIT_MS);
	ASSERT_EQ(SAFE(read(dev, &ev, sizeof(ev))), (ssize_t)sizeof(ev));
	ASSERT_EQ(ev.type, VSIM_EV_TL_CONNECT);
	EXPECT_TRUE(memcmp(&ev.b, &listen_req.service, sizeof(ev.b)) == 0);
	close(fd);
	close(dev);
}

VSC_CASE(vmbus_sim_attached, .sock_type = SOCK_STREAM,
	 .summary = "the packaged hv_sock.ko runs on vmbus_sim: both loaded (hv_sock with matching modversions), "
		    "hv_sock's driver registered, and a connect to CID 2 reaches the simulated host as a TL connect request",
	 .needs = VSC_NEED_HVSOCK, .run = attached);

#define SELFTEST "/usr/bin/vmbus-sim-selftest"

/*
 * vmbus_sim's own end-to-end checks (testcases/kmod/vmbus_sim/selftest/): flow control both ways,
 * malformed host packets, a session's close rescinding its channels, rescinds under a writing
 * guest, rmmod refused while hv_sock is registered, no channel left at the end. Each "not ok"
 * line of its TAP is a failure here.
 */
static void selftest(const struct vsc_env *env)
{
	char line[512];
	int passed = 0, failed = 0, status, code;
	FILE *out;

	(void)env;
	if (access(SELFTEST, X_OK) != 0)
		vsc_skip("%s is not in this image (topology hvsock ships it)", SELFTEST);
	out = popen(SELFTEST " 2>&1", "r");
	ASSERT_TRUE(out != NULL);
	while (fgets(line, sizeof(line), out)) {
		line[strcspn(line, "\n")] = '\0';
		if (!strncmp(line, "not ok ", 7)) {
			vsc_fail_at(__FILE__, __LINE__, "%s: %s", SELFTEST, line);
			failed++;
		} else if (!strncmp(line, "ok ", 3)) {
			passed++;
		}
	}
	status = pclose(out);
	ASSERT_TRUE(status != -1);
	code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	EXPECT_EQ(code, failed ? 1 : 0);
	/* A selftest that found no /dev/vmbus_sim says "1..0 # SKIP": here that is a failure. */
	EXPECT_TRUE(passed > 0);
	vsc_diag("%s: %d checks passed, %d failed", SELFTEST, passed, failed);
}

VSC_CASE(vmbus_sim_selftest, .sock_type = SOCK_STREAM, .timeout_s = 120,
	 .summary = "vmbus_sim's own end-to-end checks with the packaged hv_sock.ko all pass",
	 .needs = VSC_NEED_HVSOCK, .run = selftest);
