/* vsc.h: everything a vsockcheck test file uses: the case declaration, checks, the peer channel. */
#ifndef VSC_H
#define VSC_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <linux/vm_sockets.h>

/* Where a role runs and whom it talks to. The topology fills it; tests never assume CID values. */
struct vsc_env {
	unsigned int peer_cid;	/* CID that reaches the other role's kernel */
	unsigned int local_cid;	/* this role's own CID, as the other role sees it */
	unsigned int device_cid;	/* CID of this kernel's guest-to-host device, or VMADDR_CID_ANY */
	unsigned int silent_cid;	/* a CID nobody answers (our device drops what it cannot
					 * route), or VMADDR_CID_ANY where the topology has none */
	unsigned int port;	/* first of VSC_PORTS_PER_CASE ports reserved for this case */
	/* The nested topology (VSC_NEED_NESTED); level 0 everywhere else. */
	unsigned int level;	/* 0: not nested; 1: a guest of L0 hosting L2 guests through
				 * vhost_vsock; 2: an L2 guest of L1 */
	unsigned int l2_cid;	/* the L2 guest that runs the other role, or VMADDR_CID_ANY */
	unsigned int sibling_cid;	/* a second L2 guest, or VMADDR_CID_ANY (none) */
	unsigned int ident_port;	/* where the identity services listen (vsc_ident.h) */
	const char *l2_qmp;	/* L1: the QMP socket of the L2 guest's QEMU, or NULL */
	const char *sibling_qmp;	/* L1: the QMP socket of the sibling's QEMU, or NULL */
};

#define VSC_PORTS_PER_CASE 8

/* Run-time needs; a case whose need is missing reports SKIP with the probe's reason. */
enum vsc_need {
	VSC_NEED_SEQPACKET = 1 << 0,	/* AF_VSOCK accepts SOCK_SEQPACKET */
	VSC_NEED_DEV_VSOCK = 1 << 1,	/* /dev/vsock can be opened */
	VSC_NEED_KMEMLEAK = 1 << 2,	/* kmemleak's control file (debugfs) can be used */
	/*
	 * A sender's send() stops exactly when its receiver's credit is used up: true when both
	 * ends are AF_VSOCK, not through the g2h bridge, where the device keeps draining (or
	 * filling) the host end's Unix socket.
	 */
	VSC_NEED_SEND_CREDIT = 1 << 3,
	VSC_NEED_NESTED = 1 << 4,	/* --level 1 or 2: an L1 guest hosting an L2 guest */
	VSC_NEED_HVSOCK = 1 << 5,	/* --hvsock: hv_sock on vmbus_sim, the host through hvp */
};

struct vsc_case {
	const char *name;
	const char *summary;			/* one line: the behaviour checked */
	int sock_type;				/* SOCK_STREAM, SOCK_SEQPACKET, SOCK_DGRAM or 0 */
	void (*run)(const struct vsc_env *env);		/* a one-process case ... */
	void (*server)(const struct vsc_env *env);	/* ... or a server and a client */
	void (*client)(const struct vsc_env *env);
	unsigned int needs;			/* enum vsc_need bits */
	const char *min_kver;			/* "5.14": older kernels SKIP */
	const char *const *tags;		/* fix commit titles, CVE ids; NULL-terminated */
	unsigned int timeout_s;			/* 0 means VSC_DEFAULT_TIMEOUT_S */
	/*
	 * Key of a row in expectations.c's known-bug table: on the kernels that row names, a
	 * failure is reported XFAIL with the missing fix, not hidden and not counted as new.
	 */
	const char *known_bug;
};

#define VSC_DEFAULT_TIMEOUT_S 10

/*
 * How long a case waits, with a bounded poll(), for a state change the kernel is about to make
 * and cannot announce (a peer's SHUTDOWN landing, a credit update): long enough under TCG.
 */
#define VSC_SETTLE_MS 5000

#define VSC_TAGS(...) ((const char *const[]){ __VA_ARGS__, NULL })

/* Declares a case; the linker gathers every declaration into one table (section vsc_cases). */
#define VSC_CASE(id, ...)                                                          \
	static const struct vsc_case vsc_case_##id                                 \
		__attribute__((used, section("vsc_cases"), aligned(sizeof(void *)))) = \
		{ .name = #id, __VA_ARGS__ }

/*
 * Checks. ASSERT_* ends the role at once; EXPECT_* records the failure and goes on.
 * Every report names file:line, the expression, and errno by name.
 */
void vsc_step_at(const char *file, int line, const char *what);
/* Records a failure at file:line and goes on, or (fatal) ends the role there. */
void vsc_fail_at(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void vsc_fatal_at(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4), noreturn));
/* Each returns non-zero when the check failed (the failure is recorded either way). */
int vsc_check_eq_at(const char *file, int line, const char *a_text, const char *b_text,
		    long long a, long long b);
int vsc_check_errno_at(const char *file, int line, const char *call_text, long ret, int err,
		       int expected_err);
void vsc_stop(void) __attribute__((noreturn));	/* end the role now; its failure is recorded */
void vsc_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void vsc_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *vsc_errname(int err);

#define VSC_CHECK_TRUE(fatal, cond)                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			vsc_fail_at(__FILE__, __LINE__, "%s is false", #cond); \
			if (fatal)                                             \
				vsc_stop();                                    \
		}                                                              \
	} while (0)
#define ASSERT_TRUE(cond) VSC_CHECK_TRUE(1, cond)
#define EXPECT_TRUE(cond) VSC_CHECK_TRUE(0, cond)

#define VSC_CHECK_EQ(fatal, a, b)                                                            \
	do {                                                                                 \
		if (vsc_check_eq_at(__FILE__, __LINE__, #a, #b, (long long)(a), (long long)(b)) && \
		    (fatal))                                                                 \
			vsc_stop();                                                          \
	} while (0)
#define ASSERT_EQ(a, b) VSC_CHECK_EQ(1, a, b)
#define EXPECT_EQ(a, b) VSC_CHECK_EQ(0, a, b)

/* The call must fail (-1) with errno `err`. */
#define VSC_CHECK_ERRNO(fatal, call, err)                                                \
	do {                                                                             \
		vsc_step_at(__FILE__, __LINE__, #call);                                  \
		long vsc_ret_ = (long)(call);                                            \
		int vsc_err_ = errno;                                                    \
		if (vsc_check_errno_at(__FILE__, __LINE__, #call, vsc_ret_, vsc_err_, err) && \
		    (fatal))                                                             \
			vsc_stop();                                                      \
	} while (0)
#define ASSERT_ERRNO(call, err) VSC_CHECK_ERRNO(1, call, err)
#define EXPECT_ERRNO(call, err) VSC_CHECK_ERRNO(0, call, err)

/* The call must succeed (not return -1); its value is returned. */
#define SAFE(call)                                                                   \
	({                                                                           \
		vsc_step_at(__FILE__, __LINE__, #call);                              \
		long vsc_ret_ = (long)(call);                                        \
		if (vsc_ret_ < 0)                                                    \
			vsc_fatal_at(__FILE__, __LINE__, "%s failed: %s", #call,     \
				     vsc_errname(errno));                            \
		vsc_ret_;                                                            \
	})

/*
 * The peer channel between the server and the client of a case: barriers and values.
 * If the peer ends early, waiting ends this role quietly: the peer's own result explains why.
 */
void vsc_signal_at(const char *file, int line, const char *barrier);
void vsc_wait_at(const char *file, int line, const char *barrier);
void vsc_send_value_at(const char *file, int line, const char *key, uint64_t value);
uint64_t vsc_recv_value_at(const char *file, int line, const char *key);
#define vsc_signal(barrier) vsc_signal_at(__FILE__, __LINE__, barrier)
#define vsc_wait(barrier) vsc_wait_at(__FILE__, __LINE__, barrier)
#define vsc_send_value(key, value) vsc_send_value_at(__FILE__, __LINE__, key, value)
#define vsc_recv_value(key) vsc_recv_value_at(__FILE__, __LINE__, key)

/* Versions that brought a feature several case files depend on (min_kver values). */
#define VSC_KVER_VSOCK_ZEROCOPY "6.7"	/* "vsock: enable setting SO_ZEROCOPY" */

/* The running kernel. */
int vsc_kernel_at_least(const char *min_kver);	/* "5.14" */
const char *vsc_kernel_release(void);		/* uname -r */
const char *vsc_kernel_version_text(void);	/* "6.1.192 (6.1.0-56-cloud-amd64)" */

/* A kernel module in the running kernel (the name with '_' or '-'). */
enum vsc_module_state {
	VSC_MODULE_ABSENT,	/* neither loaded nor built in */
	VSC_MODULE_LOADED,	/* loaded from a file: it can be unloaded */
	VSC_MODULE_BUILTIN,	/* part of the kernel image: always there, never unloaded */
};
enum vsc_module_state vsc_module_state(const char *name);
/*
 * insmod's message for a module the runner shipped and guest_init.sh failed to load ("NAME.ko:
 * ..." in /run/vsockcheck/insmod-failed): 1 with the line in out, 0 when it reported none.
 */
int vsc_insmod_failure(const char *name, char *out, size_t size);

/* Expectations that differ between kernel versions, looked up in expectations.c's one table. */
int vsc_expected_errno(const char *behaviour);

#endif
