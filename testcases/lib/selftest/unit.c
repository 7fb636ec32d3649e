/* unit.c: the test library's pure functions, checked on the build machine (no vsock used). */
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kmemleak.h"
#include "vsc.h"
#include "vsc_ident.h"
#include "vsc_internal.h"
#include "vsc_qmp.h"
#include "vsc_sock.h"

static void kver_order(const struct vsc_env *env)
{
	struct vsc_kver a, b;

	(void)env;
	ASSERT_EQ(vsc_kver_parse("6.1.0-56-cloud-amd64", &a), 0);
	EXPECT_EQ(a.major, 6);
	EXPECT_EQ(a.minor, 1);
	EXPECT_EQ(a.patch, 0);
	ASSERT_EQ(vsc_kver_parse("5.14", &b), 0);
	EXPECT_EQ(vsc_kver_cmp(&a, &b), 1);
	EXPECT_EQ(vsc_kver_cmp(&b, &a), -1);
	ASSERT_EQ(vsc_kver_parse("5.10.262", &b), 0);
	EXPECT_EQ(b.patch, 262);
	EXPECT_EQ(vsc_kver_parse("linux", &a), -1);
	EXPECT_EQ(vsc_kver_parse("7", &a), -1);
}
VSC_CASE(lib_kver_order, .summary = "kernel versions parse from uname -r and order numerically",
	 .run = kver_order);

static void errname(const struct vsc_env *env)
{
	(void)env;
	EXPECT_TRUE(strcmp(vsc_errname(ECONNRESET), "ECONNRESET") == 0);
	EXPECT_TRUE(strcmp(vsc_errname(EAGAIN), "EAGAIN") == 0);
	EXPECT_TRUE(strcmp(vsc_errname(EADDRNOTAVAIL), "EADDRNOTAVAIL") == 0);
	EXPECT_TRUE(strcmp(vsc_errname(524), "ENOTSUPP") == 0);
	EXPECT_TRUE(strcmp(vsc_errname(4242), "errno 4242") == 0);
	EXPECT_TRUE(strcmp(vsc_errname(-1), "errno -1") == 0);
}
VSC_CASE(lib_errname, .summary = "errno values print by name, unknown ones by number", .run = errname);

static void kmsg_alarm(const struct vsc_env *env)
{
	char msg[VSC_TEXT_MAX];
	const char *hit;

	(void)env;
	hit = vsc_kmsg_record_alarm("4,812,5123456,-;WARNING: CPU: 0 PID: 1 at net/vmw_vsock/af_vsock.c:1\n",
				    msg, sizeof(msg));
	ASSERT_TRUE(hit != NULL);
	EXPECT_TRUE(strcmp(hit, "WARNING: CPU: 0 PID: 1 at net/vmw_vsock/af_vsock.c:1") == 0);
	EXPECT_TRUE(vsc_kmsg_record_alarm("1,5,6,-;BUG: KASAN: use-after-free in vsock_bind", msg,
					  sizeof(msg)) != NULL);
	EXPECT_TRUE(vsc_kmsg_record_alarm("0,9,10,c;general protection fault", msg, sizeof(msg)));
	/* Facility 1 (user): anyone can write it, so it is not the kernel's word. */
	EXPECT_TRUE(vsc_kmsg_record_alarm("12,13,14,-;WARNING: written by a user", msg,
					  sizeof(msg)) == NULL);
	EXPECT_TRUE(vsc_kmsg_record_alarm("6,15,16,-;NET: Registered PF_VSOCK protocol family",
					  msg, sizeof(msg)) == NULL);
	EXPECT_TRUE(vsc_kmsg_record_alarm("garbage without a separator", msg, sizeof(msg)) == NULL);
	EXPECT_TRUE(vsc_kmsg_record_alarm("x,1,2,-;WARNING: bad prefix", msg, sizeof(msg)) == NULL);
}
VSC_CASE(lib_kmsg_alarm, .summary = "kernel-facility alarm lines are recognised, others are not",
	 .run = kmsg_alarm);

static void taint_letters(const struct vsc_env *env)
{
	char text[32];

	(void)env;
	vsc_taint_describe((1UL << 9) | (1UL << 12), text, sizeof(text));
	EXPECT_TRUE(strcmp(text, "WO") == 0);
	vsc_taint_describe(0, text, sizeof(text));
	EXPECT_TRUE(strcmp(text, "") == 0);
}
VSC_CASE(lib_taint_letters, .summary = "taint bits print as the kernel's letters", .run = taint_letters);

static void crc_and_pattern(const struct vsc_env *env)
{
	unsigned char a[1024], b[1024];

	(void)env;
	EXPECT_EQ(vsc_crc32(0, "123456789", 9), 0xcbf43926u);
	/* Checksumming in pieces gives the same value as in one go. */
	vsc_fill_pattern(a, sizeof(a), 0);
	EXPECT_EQ(vsc_crc32(vsc_crc32(0, a, 100), a + 100, sizeof(a) - 100), vsc_crc32(0, a, sizeof(a)));
	/* The pattern depends on the offset, and a byte shift changes it. */
	vsc_fill_pattern(b, sizeof(b), 1);
	EXPECT_TRUE(memcmp(a + 1, b, sizeof(b) - 1) == 0);
	EXPECT_TRUE(memcmp(a, b, sizeof(b)) != 0);
	vsc_fill_pattern(b, sizeof(b), 256);
	EXPECT_TRUE(memcmp(a, b, sizeof(b)) != 0);
}
VSC_CASE(lib_crc_and_pattern, .summary = "CRC-32 matches the standard check value; the pattern is positional",
	 .run = crc_and_pattern);

static void addr_layout(const struct vsc_env *env)
{
	struct sockaddr_vm a = vsc_addr(VMADDR_CID_HOST, 1234);

	(void)env;
	EXPECT_EQ(a.svm_family, AF_VSOCK);
	EXPECT_EQ(a.svm_cid, VMADDR_CID_HOST);
	EXPECT_EQ(a.svm_port, 1234);
	EXPECT_EQ(a.svm_reserved1, 0);
	EXPECT_EQ(a.svm_zero[0], 0);
}
VSC_CASE(lib_addr_layout, .summary = "vsc_addr fills a zeroed sockaddr_vm", .run = addr_layout);

static void known_bug_lookup(const struct vsc_env *env)
{
	int unknown = 0;

	(void)env;
	/* This row names kernels before 6.1; the build machine's kernel is newer. */
	if (!vsc_kernel_at_least("6.1"))
		vsc_skip("the build machine's kernel %s predates the row's fix", vsc_kernel_release());
	EXPECT_TRUE(vsc_known_bug("port_reuse_after_shutdown", &unknown) == NULL);
	EXPECT_EQ(unknown, 0);
	EXPECT_TRUE(vsc_known_bug("no_such_bug", &unknown) == NULL);
	EXPECT_EQ(unknown, 1);
}
VSC_CASE(lib_known_bug_lookup, .summary = "known-bug rows apply only inside their version range",
	 .run = known_bug_lookup);

/* Two records as 6.12 prints them: one from vsock code, one from elsewhere. */
static const char kmemleak_report_6_12[] =
	"unreferenced object 0xffff888004a1c000 (size 1280):\n"
	"  comm \"kworker/0:1\", pid 10, jiffies 4294893000\n"
	"  hex dump (first 32 bytes):\n"
	"    00 00 00 00 00 00 00 00 76 73 6f 63 6b 00 00 00  ........vsock...\n"
	"  backtrace (crc 5c2a9b1e):\n"
	"    kmem_cache_alloc_noprof+0x2c1/0x330\n"
	"    sk_prot_alloc+0x32/0x100\n"
	"    sk_alloc+0x30/0x2f0\n"
	"    __vsock_create.constprop.0+0x35/0x280 [vsock]\n"
	"    virtio_transport_recv_pkt+0x6a1/0xbf0 [vmw_vsock_virtio_transport_common]\n"
	"unreferenced object 0xffff888004b2d000 (size 64):\n"
	"  comm \"swapper/0\", pid 1, jiffies 4294892000\n"
	"  hex dump (first 32 bytes):\n"
	"    76 73 6f 63 6b 00 00 00 00 00 00 00 00 00 00 00  vsock...........\n"
	"  backtrace (crc 1):\n"
	"    __kmalloc_noprof+0x1c2/0x3a0\n"
	"    acpi_os_allocate+0x1a/0x30\n";

/* The older layout, with raw addresses before each frame. */
static const char kmemleak_report_5_10[] =
	"unreferenced object 0xffff88800a5b6e00 (size 232):\n"
	"  comm \"client\", pid 250, jiffies 4294901234 (age 6.112s)\n"
	"  hex dump (first 32 bytes):\n"
	"    00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00  ................\n"
	"  backtrace:\n"
	"    [<00000000c0ffee00>] __alloc_skb+0x55/0x1e0\n"
	"    [<00000000c0ffee01>] virtio_transport_alloc_skb+0x3e/0x1a0 [vmw_vsock_virtio_transport_common]\n";

static void kmemleak_report(const struct vsc_env *env)
{
	const char *const *vsock = VSC_KMEMLEAK_VSOCK_SYMBOLS;
	char first[VSC_TEXT_MAX];

	(void)env;
	/* The "vsock" in the second record's hex dump is data, not a backtrace frame. */
	EXPECT_EQ(vsc_kmemleak_count(kmemleak_report_6_12, 0, vsock, first, sizeof(first)), 1);
	EXPECT_TRUE(strcmp(first, "unreferenced object 0xffff888004a1c000 (size 1280): comm "
			   "\"kworker/0:1\", allocated by kmem_cache_alloc_noprof < sk_prot_alloc < "
			   "sk_alloc < __vsock_create.constprop.0") == 0);
	EXPECT_EQ(vsc_kmemleak_count(kmemleak_report_5_10, 0, vsock, first, sizeof(first)), 1);
	EXPECT_TRUE(strcmp(first, "unreferenced object 0xffff88800a5b6e00 (size 232): comm "
			   "\"client\", allocated by __alloc_skb < virtio_transport_alloc_skb") == 0);
	/* Objects allocated before the case began are an earlier case's. */
	EXPECT_EQ(vsc_kmemleak_count(kmemleak_report_6_12, 4294893000ull, vsock, first,
				     sizeof(first)), 1);
	EXPECT_EQ(vsc_kmemleak_count(kmemleak_report_6_12, 4294893001ull, vsock, first,
				     sizeof(first)), 0);
	EXPECT_EQ(vsc_kmemleak_count("", 0, vsock, first, sizeof(first)), 0);
	EXPECT_TRUE(first[0] == '\0');
}
VSC_CASE(lib_kmemleak_report, .summary = "kmemleak records are counted by the frames of their backtrace",
	 .run = kmemleak_report);

static void need_nested(const struct vsc_env *env)
{
	static const struct vsc_case nested = { .name = "nested_probe", .needs = VSC_NEED_NESTED };
	const char *why;

	(void)env;
	vsc_set_nested_level(0);
	why = vsc_unmet_need(&nested);
	ASSERT_TRUE(why != NULL);
	EXPECT_TRUE(strcmp(why, "needs the nested topology (an L1 guest hosting an L2 guest)") == 0);
	vsc_set_nested_level(1);
	EXPECT_TRUE(vsc_unmet_need(&nested) == NULL);
	vsc_set_nested_level(2);
	EXPECT_TRUE(vsc_unmet_need(&nested) == NULL);
	vsc_set_nested_level(0);
}
VSC_CASE(lib_need_nested, .summary = "the nested need is met at levels 1 and 2 only, with the reason at 0",
	 .run = need_nested);

/* Writes root/rel (creating its directories), holding text; NULL text: a directory. */
static void fake_file(const char *root, const char *rel, const char *text)
{
	char path[512], *slash;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	for (slash = strchr(path + strlen(root) + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		mkdir(path, 0755);
		*slash = '/';
	}
	if (!text) {
		mkdir(path, 0755);
		return;
	}
	f = fopen(path, "we");
	ASSERT_TRUE(f != NULL);
	fputs(text, f);
	fclose(f);
}

static void module_states(const struct vsc_env *env)
{
	char root[] = "/tmp/vsc-module-state-XXXXXX", cmd[128];

	(void)env;
	ASSERT_TRUE(mkdtemp(root) != NULL);
	fake_file(root, "sys/module/vsock/initstate", "live\n");
	fake_file(root, "sys/module/vsock_diag", NULL);		/* built in, with parameters */
	fake_file(root, "lib/modules/vsockcheck/builtin", "vsock_loopback\nvhost_vsock\n");
	fake_file(root, "lib/modules/6.12.0/modules.builtin",
		  "kernel/net/vmw_vsock/vmw_vsock_virtio_transport.ko\nkernel/drivers/vhost/vhost-net.ko\n");
	EXPECT_EQ(vsc_module_state_at(root, "6.12.0", "vsock"), VSC_MODULE_LOADED);
	EXPECT_EQ(vsc_module_state_at(root, "6.12.0", "vsock_diag"), VSC_MODULE_BUILTIN);
	EXPECT_EQ(vsc_module_state_at(root, "6.12.0", "vsock_loopback"), VSC_MODULE_BUILTIN);
	EXPECT_EQ(vsc_module_state_at(root, "6.12.0", "vsock-loopback"), VSC_MODULE_BUILTIN);
	EXPECT_EQ(vsc_module_state_at(root, "6.12.0", "vmw_vsock_virtio_transport"), VSC_MODULE_BUILTIN);
	EXPECT_EQ(vsc_module_state_at(root, "6.12.0", "vhost_net"), VSC_MODULE_BUILTIN);
	/* a prefix of a listed name is not that name */
	EXPECT_EQ(vsc_module_state_at(root, "6.12.0", "vhost"), VSC_MODULE_ABSENT);
	EXPECT_EQ(vsc_module_state_at(root, "6.12.0", "hv_sock"), VSC_MODULE_ABSENT);
	/* modules.builtin of another release does not count */
	EXPECT_EQ(vsc_module_state_at(root, "6.1.0", "vmw_vsock_virtio_transport"), VSC_MODULE_ABSENT);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	EXPECT_EQ(system(cmd), 0);
}
VSC_CASE(lib_module_states, .summary = "a module is loaded (initstate), built in (/sys/module or a list) or absent",
	 .run = module_states);

static void ident_names(const struct vsc_env *env)
{
	(void)env;
	EXPECT_EQ(vsc_ident_name_invalid("L0"), 0);
	EXPECT_EQ(vsc_ident_name_invalid("L2b"), 0);
	EXPECT_EQ(vsc_ident_name_invalid("guest-a_1.x"), 0);
	EXPECT_EQ(vsc_ident_name_invalid("abcdefghijabcdefghijabcdefghij12"), 0);
	/* The name ends a line of the protocol: no spaces, no newline, not empty, not too long. */
	EXPECT_EQ(vsc_ident_name_invalid(""), 1);
	EXPECT_EQ(vsc_ident_name_invalid("L 2"), 1);
	EXPECT_EQ(vsc_ident_name_invalid("L2\n"), 1);
	EXPECT_EQ(vsc_ident_name_invalid("abcdefghijabcdefghijabcdefghij123"), 1);
}
VSC_CASE(lib_ident_names, .summary = "identity names are short words that cannot break the greeting line",
	 .run = ident_names);

/* A scripted QEMU monitor: answers each command line with the next reply (one or more lines). */
static void fake_qmp(int listener, const char *const *replies)
{
	static const char greeting[] = "{\"QMP\": {\"version\": {}, \"capabilities\": [\"oob\"]}}\r\n";
	char c;
	int fd = accept(listener, NULL, NULL);

	if (fd < 0 || write(fd, greeting, strlen(greeting)) != (ssize_t)strlen(greeting))
		_exit(1);
	for (; *replies; replies++) {
		do
			if (read(fd, &c, 1) != 1)
				_exit(1);
		while (c != '\n');
		if (write(fd, *replies, strlen(*replies)) != (ssize_t)strlen(*replies))
			_exit(1);
	}
	while (read(fd, &c, 1) == 1)
		;
	_exit(0);
}

static void qmp_client(const struct vsc_env *env)
{
	static const char *const replies[] = {
		"{\"return\": {}}\r\n",
		/* The backend child goes first (no "device"), the answer may come before the event. */
		"{\"timestamp\": {\"seconds\": 1, \"microseconds\": 2}, \"event\": \"DEVICE_DELETED\", "
		"\"data\": {\"path\": \"/machine/peripheral/vsc_l2_vsock/virtio-backend\"}}\r\n"
		"{\"return\": {}}\r\n"
		"{\"timestamp\": {\"seconds\": 1, \"microseconds\": 9}, \"event\": \"DEVICE_DELETED\", "
		"\"data\": {\"device\": \"vsc_l2_vsock\", \"path\": \"/machine/peripheral/vsc_l2_vsock\"}}\r\n",
		NULL,
	};
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	char desc[64];
	struct vsc_qmp *q;
	int listener, status;
	pid_t pid;

	(void)env;
	snprintf(addr.sun_path, sizeof(addr.sun_path), "/tmp/vsc-lib-unit-qmp-%d.sock", (int)getpid());
	listener = SAFE(socket(AF_UNIX, SOCK_STREAM, 0));
	SAFE(bind(listener, (struct sockaddr *)&addr, sizeof(addr)));
	SAFE(listen(listener, 1));
	pid = SAFE(fork());
	if (pid == 0)
		fake_qmp(listener, replies);
	q = vsc_qmp_open(addr.sun_path);
	unlink(addr.sun_path);
	vsc_qmp_execute(q, "{\"execute\": \"device_del\", \"arguments\": {\"id\": \"vsc_l2_vsock\"}}");
	EXPECT_EQ(vsc_qmp_wait_event(q, "DEVICE_DELETED", "vsc_l2_vsock", VSC_SETTLE_MS), 0);
	EXPECT_EQ(vsc_qmp_wait_event(q, "DEVICE_DELETED", "vsc_other", 50), -1);
	vsc_qmp_close(q);
	SAFE(waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	SAFE(close(listener));
	/* Values are read with their escapes undone; a key inside a string value is no key. */
	EXPECT_EQ(vsc_qmp_json_string("{\"error\": {\"class\": \"GenericError\", \"desc\": \"a \\\"b\\\"\"}}",
				      "desc", desc, sizeof(desc)), 0);
	EXPECT_TRUE(strcmp(desc, "a \"b\"") == 0);
	EXPECT_EQ(vsc_qmp_json_string("{\"desc\": \"\\\"device\\\": x\"}", "device", desc, sizeof(desc)), -1);
}
VSC_CASE(lib_qmp_client, .summary = "the QMP client negotiates, executes, and finds an event by device id",
	 .run = qmp_client);
