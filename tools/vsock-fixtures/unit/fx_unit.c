/*
 * fx-unit: the fixture runner against a fake kernel (unit_wire.c, unit_agent.c): connection
 * defaults, each matcher, by_kernel / by_target, the invariants, expect/expect_none timing,
 * parse errors naming the $.path, QEMU's legacy files, SKIP / XFAIL, kernel alarms.
 * Prints KTAP (one line per test); make check runs it. Opens no vsock socket.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fx_model.h"
#include "unit_fake.h"

#define TESTS 85

static char tmpdir[64];
static int test_number, failures;

/* What one fx_run_files() printed. */
struct outcome {
	int status;
	char *ktap, *trace;
	size_t ktap_len, trace_len;
};

static void outcome_free(struct outcome *o)
{
	free(o->ktap);
	free(o->trace);
}

/* The hv_sock engine's stand-in for target "hv_sock" (its TL request set by the test). */
static struct fake_hv fake_hv;

static struct outcome run_files(const struct fake_config *cfg, const char *target, char **files,
				int n)
{
	struct outcome o = { 0 };
	struct fake f;
	struct fx_engine engine = { .target = target, .engine_cid = 2, .kernel_cid = 3,
				    .ops = &fake_wire_ops, .ctx = &f };

	if (!strcmp(target, "hv_sock")) {
		engine.ops = &fake_hv_wire_ops;
		engine.hv = &fake_hv_ops;
		engine.ctx = &fake_hv;
	}
	struct fx_run_options options = { .prefix = "" };
	int to_agent, from_agent;
	struct fake_agent *agent;
	FILE *ktap, *trace;

	fake_init(&f, cfg);
	if (!(agent = fake_agent_start(&f, &to_agent, &from_agent))) {
		perror("fx-unit: fake agent");
		exit(2);
	}
	ktap = open_memstream(&o.ktap, &o.ktap_len);
	trace = open_memstream(&o.trace, &o.trace_len);
	options.agent_in = from_agent;
	options.agent_out = to_agent;
	options.ktap = ktap;
	options.trace = trace;
	o.status = fx_run_files(&engine, &options, files, n);
	fclose(ktap);
	fclose(trace);
	close(to_agent);
	fake_agent_stop(agent);
	close(from_agent);
	fake_free(&f);
	return o;
}

static char *write_file(const char *name, const char *text)
{
	static char paths[8][160];
	static int next;
	char *path = paths[next++ % 8];
	FILE *fp;

	snprintf(path, 160, "%s/%s.json", tmpdir, name);
	fp = fopen(path, "w");
	if (!fp || fputs(text, fp) < 0 || fclose(fp)) {
		perror(path);
		exit(2);
	}
	return path;
}

/* A format-1 fixture named `name` from its connections, extra top-level keys and steps. */
static char *fixture(const char *name, const char *top, const char *steps)
{
	static char text[8192];

	snprintf(text, sizeof(text),
		 "{\"format\": \"vsockcheck-fixture/1\", \"name\": \"%s\", \"description\": \"unit\","
		 " \"target\": \"both\"%s%s, \"steps\": [%s]}", name, top[0] ? ", " : "", top, steps);
	return write_file(name, text);
}

static void report(const char *title, int ok, const struct outcome *o, const char *why)
{
	test_number++;
	if (!ok) {
		failures++;
		printf("# %s: %s\n", title, why);
		if (o) {
			char *copy = strdup(o->ktap ? o->ktap : ""), *line, *save = NULL;

			for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
				printf("#   | %s\n", line);
			free(copy);
		}
	}
	printf("%s %d %s\n", ok ? "ok" : "not ok", test_number, title);
	fflush(stdout);
}

/* Runs one fixture file; the KTAP must hold every `want` text (NULL-terminated) and not `unwanted`. */
static void expect_run(const char *title, const struct fake_config *cfg, const char *target,
		       char *file, const char *unwanted, ...)
{
	struct outcome o = run_files(cfg, target, &file, 1);
	const char *want;
	char why[512] = "";
	va_list ap;

	va_start(ap, unwanted);
	while ((want = va_arg(ap, const char *)))
		if (!strstr(o.ktap, want) && !strstr(o.trace, want) && !why[0])
			snprintf(why, sizeof(why), "no \"%s\" in the output", want);
	va_end(ap);
	if (!why[0] && unwanted && strstr(o.ktap, unwanted))
		snprintf(why, sizeof(why), "\"%s\" in the output", unwanted);
	report(title, !why[0], &o, why);
	outcome_free(&o);
}

static const struct fake_config plain = { 0 };

#define LISTENS "\"connections\": {\"c\": {\"engine_port\": 5001, \"kernel_port\": 1234, " \
	"\"setup\": \"kernel_listens\"}}"

static void test_defaults(void)
{
	expect_run("setup kernel_listens and the defaults of send and expect", &plain, "vhost_vsock",
		   fixture("listens", LISTENS,
			   "{\"send\": {\"conn\": \"c\", \"op\": \"RW\", \"payload\": {\"byte\": 65, \"len\": 5}}},"
			   "{\"agent\": {\"do\": \"recv\", \"sock\": \"c\", \"len\": 5, \"result\": {\"value\": 5, \"data\": \"AAAAA\"}}},"
			   "{\"expect\": {\"conn\": \"c\", \"op\": \"CREDIT_UPDATE\", \"fwd_cnt\": 5}},"
			   "{\"send\": {\"conn\": \"c\", \"op\": \"CREDIT_REQUEST\"}},"
			   "{\"expect\": {\"conn\": \"c\", \"op\": \"CREDIT_UPDATE\"}},"
			   "{\"expect_none\": {}, \"for_ms\": 50}"),
		   "not ok", "ok 1 listens", "\"event\":\"end\",\"result\":\"pass\"", NULL);
	expect_run("kernel_buf_alloc is what consistent buf_alloc expects first", &plain, "vhost_vsock",
		   fixture("bufalloc", "\"connections\": {\"c\": {\"engine_port\": 5001, \"kernel_port\": 1234,"
			   " \"kernel_buf_alloc\": 4096, \"setup\": \"kernel_listens\"}}",
			   "{\"expect_none\": {}, \"for_ms\": 10}"),
		   NULL, "not ok 1 bufalloc", "setup c expect: buf_alloc: got 262144, want consistent credit: 4096", NULL);
	expect_run("setup kernel_connects: $c.port from the agent, traced by name", &plain, "virtio_transport",
		   fixture("connects", "\"connections\": {\"c\": {\"engine_port\": 7000, \"setup\": \"kernel_connects\"}}",
			   "{\"agent\": {\"do\": \"send\", \"sock\": \"c\", \"data\": \"AB\", \"result\": {\"value\": 2}}},"
			   "{\"expect\": {\"conn\": \"c\", \"op\": \"RW\", \"payload\": \"AB\", \"len\": 2}}"),
		   "not ok", "ok 1 connects", "\"src_port\":\"$c.port\"", "\"dst_port\":7000", NULL);
	expect_run("an RST sent without conn takes its ports from the step", &plain, "both",
		   fixture("noconn", "", "{\"send\": {\"op\": \"REQUEST\", \"src_port\": 9, \"dst_port\": 9}},"
			   "{\"expect\": {\"op\": \"RST\", \"src_port\": 9, \"dst_port\": 9, \"src_cid\": \"$kernel_cid\"}}"),
		   "not ok", "ok 1 noconn", NULL);
}

static void test_matchers(void)
{
	expect_run("matchers: range, one_of, any, capture and $capture", &plain, "vhost_vsock",
		   fixture("matchers", "\"connections\": {\"c\": {\"engine_port\": 5001, \"kernel_port\": 1234}}",
			   "{\"agent\": {\"do\": \"listen\", \"sock\": \"srv\", \"port\": 1234}},"
			   "{\"send\": {\"conn\": \"c\", \"op\": \"REQUEST\"}},"
			   "{\"expect\": {\"op\": \"RESPONSE\", \"buf_alloc\": {\"range\": [1, \"0x50000\"]},"
			   " \"fwd_cnt\": {\"one_of\": [0, 1]}, \"flags\": \"any\", \"src_port\": {\"capture\": \"kp\"}}},"
			   "{\"send\": {\"conn\": \"c\", \"op\": \"CREDIT_REQUEST\", \"dst_port\": \"$kp\"}},"
			   "{\"expect\": {\"conn\": \"c\", \"op\": \"CREDIT_UPDATE\", \"src_port\": \"$srv.port\"}}"),
		   "not ok", "ok 1 matchers", NULL);
	expect_run("one_of names what it wanted", &plain, "vhost_vsock",
		   fixture("oneof", LISTENS, "{\"send\": {\"conn\": \"c\", \"op\": \"CREDIT_REQUEST\"}},"
			   "{\"expect\": {\"conn\": \"c\", \"op\": \"CREDIT_UPDATE\", \"fwd_cnt\": {\"one_of\": [7, 8]}}}"),
		   NULL, "# ", "step 1 expect: no matching packet within 2000 ms; an ignored packet differed: fwd_cnt: got 0, want one of [7, 8]", "not ok 1 oneof",
		   "last packets", "kernel -> CREDIT_UPDATE (6)", NULL);
	expect_run("range names its bounds", &plain, "vhost_vsock",
		   fixture("range", LISTENS, "{\"send\": {\"conn\": \"c\", \"op\": \"CREDIT_REQUEST\"}},"
			   "{\"expect\": {\"conn\": \"c\", \"op\": \"CREDIT_UPDATE\", \"buf_alloc\": {\"range\": [1, 2]}}}"),
		   NULL, "an ignored packet differed: buf_alloc: got 262144, want in [1, 2]", NULL);
	expect_run("op mismatch: got vs want by name", &plain, "vhost_vsock",
		   fixture("opname", "", "{\"send\": {\"op\": \"REQUEST\", \"src_port\": 9, \"dst_port\": 9}},"
			   "{\"expect\": {\"op\": \"RESPONSE\"}}"),
		   NULL, "step 1 expect: op: got RST (3), want RESPONSE (2)", NULL);
}

static void test_by_kernel(void)
{
	const char *steps = "{\"send\": {\"conn\": \"c\", \"op\": \"CREDIT_REQUEST\"}},"
		"{\"expect\": {\"conn\": \"c\", \"op\": \"CREDIT_UPDATE\", \"buf_alloc\": {\"by_kernel\": "
		"[{\"from\": \"5.10\", \"is\": 1}, {\"from\": \"6.1.100\", \"is\": 262144}]},"
		" \"len\": {\"by_target\": {\"virtio_transport\": 0, \"vhost_vsock\": 9}}}}";
	struct fake_config old = { .kernel = "5.10.262" }, older = { .kernel = "4.19.0" };

	expect_run("by_kernel: the row from 6.1.100 holds on 6.1.192", &plain, "virtio_transport",
		   fixture("bykernel", LISTENS, steps), "not ok", "ok 1 bykernel", NULL);
	expect_run("by_kernel: the row from 5.10 holds on 5.10.262", &old, "virtio_transport",
		   fixture("bykernel", LISTENS, steps), NULL, "buf_alloc: got 262144, want 1", NULL);
	expect_run("by_kernel: no row before the first", &older, "virtio_transport",
		   fixture("bykernel", LISTENS, steps), NULL, "no by_kernel row holds for kernel 4.19.0", NULL);
	expect_run("by_target picks the engine's row", &plain, "vhost_vsock",
		   fixture("bykernel", LISTENS, steps), NULL, "len: got 0, want 9", NULL);
}

static void test_layout(void)
{
	expect_run("a layout shorter than the packet cuts it there", &plain, "both",
		   fixture("cut", "\"connections\": {\"c\": {\"engine_port\": 5001, \"kernel_port\": 1234}}",
			   "{\"agent\": {\"do\": \"listen\", \"sock\": \"srv\", \"port\": 1234}},"
			   "{\"send\": {\"conn\": \"c\", \"op\": \"REQUEST\", \"layout\": [20]}},"
			   "{\"expect_none\": {}, \"for_ms\": 50},"
			   "{\"send\": {\"conn\": \"c\", \"op\": \"REQUEST\"}},"
			   "{\"expect\": {\"conn\": \"c\", \"op\": \"RESPONSE\"}}"),
		   "not ok", "ok 1 cut", NULL);
	expect_run("a layout longer than the packet fails", &plain, "both",
		   fixture("long", "", "{\"send\": {\"op\": \"REQUEST\", \"src_port\": 9, \"dst_port\": 9,"
			   " \"layout\": [44, 4]}}"),
		   NULL, "not ok 1 long", "layout: the descriptor sizes add up to 48, the packet has 44 bytes", NULL);
}

static void test_invariants(void)
{
	struct fake_config rst = { .rst_on_rst = 1 }, back = { .fwd_backwards = 1 },
			   credit = { .rw_beyond_credit = 1 }, cid = { .upper_cid = 1 };

	expect_run("invariant: an RST answered by an RST", &rst, "both",
		   fixture("rstrst", "", "{\"send\": {\"op\": \"RST\", \"src_port\": 9, \"dst_port\": 9}},"
			   "{\"expect_none\": {\"op\": \"REQUEST\"}, \"for_ms\": 100}"),
		   NULL, "not ok 1 rstrst", "invariant: the kernel answered the engine's RST with an RST", NULL);
	expect_run("an RST after an agent close is no answer to the engine's RST", &plain, "both",
		   fixture("rstclose", LISTENS,
			   "{\"send\": {\"conn\": \"c\", \"op\": \"RST\"}},"
			   "{\"agent\": {\"do\": \"close\", \"sock\": \"c\"}},"
			   "{\"expect\": {\"conn\": \"c\", \"op\": \"RST\", \"buf_alloc\": \"any\", \"fwd_cnt\": \"any\"}}"),
		   "not ok", "ok 1 rstclose", NULL);
	expect_run("KTAP: the kernel under test comes before the plan", &plain, "both",
		   fixture("plan", "", "{\"expect_none\": {}, \"for_ms\": 10}"), "not ok",
		   "KTAP version 1\n# kernel under test: 6.1.192 (both)\n1..1\nok 1 plan\n", NULL);
	expect_run("invariant: fwd_cnt backwards", &back, "both",
		   fixture("fwdback", LISTENS,
			   "{\"send\": {\"conn\": \"c\", \"op\": \"RW\", \"payload\": \"AAAAA\"}},"
			   "{\"agent\": {\"do\": \"recv\", \"sock\": \"c\", \"len\": 5}},"
			   "{\"send\": {\"conn\": \"c\", \"op\": \"CREDIT_REQUEST\"}},"
			   "{\"expect\": {\"conn\": \"c\", \"op\": \"CREDIT_UPDATE\", \"fwd_cnt\": \"any\"}}"),
		   NULL, "after the steps: invariant: fwd_cnt went backwards on c (5 before)", NULL);
	expect_run("invariant: RW beyond the advertised credit", &credit, "both",
		   fixture("credit", "\"connections\": {\"c\": {\"engine_port\": 5001, \"kernel_port\": 1234,"
			   " \"engine_buf_alloc\": 4, \"setup\": \"kernel_listens\"}}",
			   "{\"agent\": {\"do\": \"send\", \"sock\": \"c\", \"data\": \"ABCDEFGH\"}},"
			   "{\"expect\": {\"conn\": \"c\", \"op\": \"RW\"}}"),
		   NULL, "invariant: RW beyond the credit the engine advertised (c; the kernel has sent 8 bytes, the engine allowed up to 4)",
		   NULL);
	expect_run("RW within the advertised credit passes", &plain, "both",
		   fixture("credit", "\"connections\": {\"c\": {\"engine_port\": 5001, \"kernel_port\": 1234,"
			   " \"engine_buf_alloc\": 4, \"setup\": \"kernel_listens\"}}",
			   "{\"agent\": {\"do\": \"send\", \"sock\": \"c\", \"data\": \"ABCDEFGH\", \"result\": {\"value\": 4}}},"
			   "{\"expect\": {\"conn\": \"c\", \"op\": \"RW\", \"payload\": \"ABCD\"}}"),
		   "not ok", "ok 1 credit", NULL);
	expect_run("a buf_alloc of 2^32-1 is a window, not a wrapped u32", &plain, "both",
		   fixture("credit", "\"connections\": {\"c\": {\"engine_port\": 5001, \"kernel_port\": 1234,"
			   " \"engine_buf_alloc\": \"0xffffffff\", \"setup\": \"kernel_listens\"}}",
			   "{\"agent\": {\"do\": \"send\", \"sock\": \"c\", \"data\": \"ABCDEFGH\", \"result\": {\"value\": 8}}},"
			   "{\"expect\": {\"conn\": \"c\", \"op\": \"RW\", \"payload\": \"ABCDEFGH\"}}"),
		   "not ok", "ok 1 credit", NULL);
	expect_run("invariant: upper CID bits", &cid, "both",
		   fixture("cid", "", "{\"send\": {\"op\": \"REQUEST\", \"src_port\": 9, \"dst_port\": 9}},"
			   "{\"expect\": {\"op\": \"RST\"}}"),
		   NULL, "invariant: upper 32 bits of a CID set", NULL);
}

static void test_timing(void)
{
	struct fake_config slow = { .delay_ms = 300 }, late = { .delay_ms = 100 }, extra = { .extra_packet = 1 };

	expect_run("expect: nothing within within_ms", &slow, "both",
		   fixture("slow", "", "{\"send\": {\"op\": \"REQUEST\", \"src_port\": 9, \"dst_port\": 9}},"
			   "{\"expect\": {\"op\": \"RST\"}, \"within_ms\": 100}"),
		   NULL, "step 1 expect: no matching packet within 100 ms", NULL);
	expect_run("expect: a packet before not_before_ms", &plain, "both",
		   fixture("early", "", "{\"send\": {\"op\": \"REQUEST\", \"src_port\": 9, \"dst_port\": 9}},"
			   "{\"expect\": {\"op\": \"RST\"}, \"not_before_ms\": 200}"),
		   NULL, "not before 200 ms", NULL);
	expect_run("expect: a late packet within within_ms passes", &slow, "both",
		   fixture("late", "", "{\"send\": {\"op\": \"REQUEST\", \"src_port\": 9, \"dst_port\": 9}},"
			   "{\"expect\": {\"op\": \"RST\"}, \"within_ms\": 1000, \"not_before_ms\": 200}"),
		   "not ok", "ok 1 late", NULL);
	expect_run("expect_none: a packet inside for_ms", &late, "both",
		   fixture("none", "", "{\"send\": {\"op\": \"REQUEST\", \"src_port\": 9, \"dst_port\": 9}},"
			   "{\"expect_none\": {}, \"for_ms\": 400}"),
		   NULL, "step 1 expect_none: a packet where none was due: RST (3)", NULL);
	expect_run("expect_none: the packet after for_ms is still seen at the end", &slow, "both",
		   fixture("none2", "", "{\"send\": {\"op\": \"REQUEST\", \"src_port\": 9, \"dst_port\": 9}},"
			   "{\"expect_none\": {}, \"for_ms\": 50}, {\"expect\": {\"op\": \"RST\"}, \"within_ms\": 1000}"),
		   "not ok", "ok 1 none2", NULL);
	expect_run("expect_none on a connection: any packet on it, whatever its flags", &extra, "both",
		   fixture("noneconn", LISTENS, "{\"expect_none\": {\"conn\": \"c\"}, \"for_ms\": 50}"),
		   NULL, "step 0 expect_none: a packet where none was due: SHUTDOWN (4)", NULL);
	expect_run("a packet nobody expected fails the fixture at its end", &extra, "both",
		   fixture("unexpected", LISTENS, "{\"agent\": {\"do\": \"diag\", \"sock\": \"c\","
			   " \"result\": {\"diag\": {\"state\": \"ESTABLISHED\"}}}}"),
		   NULL, "after the steps: a packet nobody expected: SHUTDOWN (4)", NULL);
}

static void test_ignore(void)
{
	const char *steps = "{\"send\": {\"conn\": \"c\", \"op\": \"RW\", \"payload\": \"AAA\"}},"
		"{\"agent\": {\"do\": \"recv\", \"sock\": \"c\", \"len\": 3}},"
		"{\"expect_none\": {}, \"for_ms\": 50}";

	expect_run("ignore defaults to CREDIT_UPDATE", &plain, "both",
		   fixture("ignored", LISTENS, steps), "not ok", "ok 1 ignored", NULL);
	expect_run("\"ignore\": [] makes every packet count", &plain, "both",
		   fixture("ignored", LISTENS ", \"ignore\": []", steps), NULL,
		   "expect_none: a packet where none was due: CREDIT_UPDATE", NULL);
	expect_run("expect_none naming op CREDIT_UPDATE is not ignored", &plain, "both",
		   fixture("ignored", LISTENS,
			   "{\"send\": {\"conn\": \"c\", \"op\": \"RW\", \"payload\": \"AAA\"}},"
			   "{\"agent\": {\"do\": \"recv\", \"sock\": \"c\", \"len\": 3}},"
			   "{\"expect_none\": {\"op\": \"CREDIT_UPDATE\"}, \"for_ms\": 50}"),
		   NULL, "a packet where none was due: CREDIT_UPDATE", NULL);
}

static void test_agent(void)
{
	expect_run("agent results: errno, so_error, diag, await", &plain, "both",
		   fixture("agent", "\"connections\": {\"c\": {\"engine_port\": 7000, \"kernel_port\": \"$cl.port\"}}",
			   "{\"agent\": {\"do\": \"connect\", \"sock\": \"cl\", \"cid\": \"$engine_cid\", \"port\": 7000, \"wait\": false}},"
			   "{\"expect\": {\"conn\": \"c\", \"op\": \"REQUEST\"}},"
			   "{\"send\": {\"conn\": \"c\", \"op\": \"RESPONSE\"}},"
			   "{\"await\": \"cl\", \"result\": 0},"
			   "{\"agent\": {\"do\": \"poll\", \"sock\": \"cl\", \"events\": [\"POLLOUT\"], \"result\": {\"so_error\": 0, \"revents\": 4}}},"
			   "{\"agent\": {\"do\": \"accept\", \"sock\": \"nope\", \"as\": \"x\", \"result\": {\"errno\": \"EAGAIN\"}}},"
			   "{\"agent\": {\"do\": \"diag\", \"sock\": \"cl\", \"result\": {\"diag\": {\"state\": \"ESTABLISHED\", \"shutdown\": 0}}}}"),
		   "not ok", "ok 1 agent", NULL);
	expect_run("agent: an unexpected errno names both", &plain, "both",
		   fixture("agenterr", "", "{\"agent\": {\"do\": \"accept\", \"sock\": \"nope\", \"as\": \"x\"}}"),
		   NULL, "step 0 agent: accept: errno: got EAGAIN, want success", NULL);
	expect_run("await without a pending call", &plain, "both",
		   fixture("awaitnone", "", "{\"await\": \"zz\"}"),
		   NULL, "step 0 await: no call with \"wait\": false on socket zz to await", NULL);
}

/* The trace line of `event` at `step` must hold `want`. */
static void expect_trace(const char *title, const struct fake_config *cfg, char *file,
			 const char *const *wants)
{
	struct outcome o = run_files(cfg, "both", &file, 1);
	char why[512] = "";

	if (!strstr(o.ktap, "\nok 1 "))
		snprintf(why, sizeof(why), "the fixture did not pass");
	for (; *wants && !why[0]; wants += 2) {
		const char *line = strstr(o.trace, wants[0]), *end;

		end = line ? strchr(line, '\n') : NULL;
		if (!line || !end || !memmem(line, (size_t)(end - line), wants[1], strlen(wants[1])))
			snprintf(why, sizeof(why), "no trace line %s...%s", wants[0], wants[1]);
	}
	if (why[0])
		printf("# trace:\n%s", o.trace);
	report(title, !why[0], &o, why);
	outcome_free(&o);
}

static void test_engine_and_trace(void)
{
	static const char *const manual[] = {
		"\"step\":2,\"event\":\"tx\"", "\"op\":\"CREDIT_UPDATE\",\"flags\":0,\"buf_alloc\":65536,\"fwd_cnt\":0}",
		"\"step\":4,\"event\":\"tx\"", "\"fwd_cnt\":3}",
		"\"step\":0,\"event\":\"agent\"", "\"do\":\"send\",\"ret\":3,\"errno\":null",
		"\"step\":1,\"event\":\"rx\"", "\"src_cid\":\"$kernel_cid\",\"dst_cid\":\"$engine_cid\",\"src_port\":\"$c_l.port\",\"dst_port\":5001",
		"\"event\":\"end\"", "\"result\":\"pass\",\"reason\":\"\"",
		NULL };
	static const char *const eph[] = {
		"\"step\":1,\"event\":\"rx\"", "\"src_port\":\"$eph1\",\"dst_port\":7000,",
		"\"step\":2,\"event\":\"tx\"", "\"src_port\":7000,\"dst_port\":\"$eph1\",",
		"\"step\":3,\"event\":\"agent\"", "\"do\":\"connect\",\"ret\":0",
		NULL };

	expect_trace("engine consume (manual) sets the fwd_cnt sends take; the trace's fields", &plain,
		     fixture("manual", "\"connections\": {\"c\": {\"engine_port\": 5001, \"kernel_port\": 1234,"
			     " \"setup\": \"kernel_listens\", \"engine_consume\": \"manual\"}}",
			     "{\"agent\": {\"do\": \"send\", \"sock\": \"c\", \"data\": \"ABC\"}},"
			     "{\"expect\": {\"conn\": \"c\", \"op\": \"RW\", \"payload\": \"ABC\"}},"
			     "{\"send\": {\"conn\": \"c\", \"op\": \"CREDIT_UPDATE\"}},"
			     "{\"engine\": {\"do\": \"consume\", \"conn\": \"c\", \"bytes\": 3}},"
			     "{\"send\": {\"conn\": \"c\", \"op\": \"CREDIT_UPDATE\"}}"), manual);
	expect_trace("a port neither the fixture nor an agent socket names is $eph1", &plain,
		     fixture("eph", "", "{\"agent\": {\"do\": \"connect\", \"sock\": \"cl\", \"cid\": \"$engine_cid\", \"port\": 7000, \"wait\": false}},"
			     "{\"expect\": {\"op\": \"REQUEST\", \"src_port\": {\"capture\": \"p\"}}},"
			     "{\"send\": {\"op\": \"RESPONSE\", \"src_port\": 7000, \"dst_port\": \"$p\"}},"
			     "{\"await\": \"cl\"}"), eph);
	expect_run("engine consume beyond what came in fails", &plain, "both",
		   fixture("overconsume", "\"connections\": {\"c\": {\"engine_port\": 5001, \"kernel_port\": 1234,"
			   " \"setup\": \"kernel_listens\", \"engine_consume\": \"manual\"}}",
			   "{\"engine\": {\"do\": \"consume\", \"conn\": \"c\", \"bytes\": 1}}"),
		   NULL, "step 0 engine: consume 1 bytes: only 0 received and not consumed", NULL);
	expect_run("an engine act's result: errno names both", &plain, "both",
		   fixture("actresult", "", "{\"engine\": {\"do\": \"transport_reset\", \"result\": {\"errno\": \"EINVAL\"}}}"),
		   NULL, "step 0 engine: transport_reset: got success, want EINVAL", NULL);
	expect_run("results by_kernel and by_target", &plain, "vhost_vsock",
		   fixture("resultrows", "", "{\"agent\": {\"do\": \"accept\", \"sock\": \"n\", \"as\": \"x\","
			   " \"result\": {\"by_kernel\": [{\"from\": \"5.10\", \"is\": 0}, {\"from\": \"6.1\","
			   " \"is\": {\"by_target\": {\"virtio_transport\": 0, \"vhost_vsock\": {\"errno\": \"EAGAIN\"}}}}]}}}"),
		   "not ok", "ok 1 resultrows", NULL);
	expect_run("a failing setsockopt-free credit: buf_alloc after setsockopt", &plain, "both",
		   fixture("bufsize", LISTENS ", \"ignore\": []",
			   "{\"agent\": {\"do\": \"setsockopt\", \"sock\": \"c\", \"opt\": \"SO_VM_SOCKETS_BUFFER_SIZE\", \"value\": 8192}},"
			   "{\"expect\": {\"conn\": \"c\", \"op\": \"CREDIT_UPDATE\", \"buf_alloc\": {\"credit\": \"consistent\"}}},"
			   "{\"send\": {\"conn\": \"c\", \"op\": \"CREDIT_REQUEST\"}},"
			   "{\"expect\": {\"conn\": \"c\", \"op\": \"CREDIT_UPDATE\", \"buf_alloc\": 8192}}"),
		   "not ok", "ok 1 bufsize", NULL);
}

static void test_outcomes(void)
{
	struct fake_config alarm = { .alarm = "WARNING: CPU: 0 PID: 1 at net/vmw_vsock/af_vsock.c:1" },
			   noseq = { .no_seqpacket = 1 };
	const char *failing = "{\"send\": {\"op\": \"REQUEST\", \"src_port\": 9, \"dst_port\": 9}},"
		"{\"expect\": {\"op\": \"RESPONSE\"}}";

	expect_run("kernels.min: SKIP on an older kernel", &plain, "both",
		   fixture("min", "\"kernels\": {\"min\": \"6.2\"}", failing),
		   NULL, "ok 1 min # SKIP needs kernel 6.2, running 6.1.192", NULL);
	expect_run("known_bugs: a failure in the range is XFAIL", &plain, "both",
		   fixture("xfail", "\"kernels\": {\"known_bugs\": [{\"from\": \"6.1\", \"until\": \"6.1.200\","
			   " \"fix\": \"vsock: a fix\"}]}", failing),
		   "not ok", "ok 1 xfail # XFAIL vsock: a fix", "\"result\":\"xfail\"", NULL);
	expect_run("known_bugs: out of the range the failure stays", &plain, "both",
		   fixture("xfail", "\"kernels\": {\"known_bugs\": [{\"from\": \"6.1.193\", \"until\": \"6.2\","
			   " \"fix\": \"vsock: a fix\"}]}", failing),
		   NULL, "not ok 1 xfail", NULL);
	expect_run("another target's fixture SKIPs", &plain, "vhost_vsock",
		   write_file("other", "{\"format\": \"vsockcheck-fixture/1\", \"name\": \"other\","
			      " \"description\": \"u\", \"target\": \"virtio_transport\", \"steps\": [{\"await\": \"x\"}]}"),
		   NULL, "ok 1 other # SKIP for virtio_transport only", NULL);
	expect_run("device.seqpacket the engine lacks SKIPs", &noseq, "both",
		   fixture("seq", "\"device\": {\"seqpacket\": true}", failing),
		   NULL, "ok 1 seq # SKIP the fake device has no SEQPACKET", NULL);
	expect_run("a kernel alarm fails a passing fixture", &alarm, "both",
		   fixture("alarm", "", "{\"expect_none\": {}, \"for_ms\": 10}"),
		   NULL, "not ok 1 alarm", "kernel: WARNING: CPU: 0", NULL);
	expect_run("an engine act it lacks SKIPs", &plain, "both",
		   fixture("act", "", "{\"engine\": {\"do\": \"device_stop\"}}"),
		   NULL, "ok 1 act # SKIP the fake wire has no device_stop", NULL);
}

/* A broken file fails alone, naming the $.path; the next one runs. */
static void parse_error(const char *title, const char *name, const char *text, const char *message)
{
	char *files[2] = { write_file(name, text), NULL };
	char want[512];
	struct outcome o;
	int ok;

	files[1] = fixture("after", "", "{\"expect_none\": {}, \"for_ms\": 1}");
	o = run_files(&plain, "both", files, 2);
	snprintf(want, sizeof(want), "# %s: %s", files[0], message);
	ok = strstr(o.ktap, want) != NULL;
	snprintf(want, sizeof(want), "\nnot ok 1 %s\n", name);
	ok = ok && strstr(o.ktap, want) && strstr(o.ktap, "ok 2 after") && !strstr(o.ktap, "not ok 2");
	report(title, ok, &o, "want the message, not ok 1 and ok 2");
	outcome_free(&o);
}

#define HEAD "{\"format\": \"vsockcheck-fixture/1\", \"name\": \"bad\", \"description\": \"u\", \"target\": \"both\", "

static void test_parse_errors(void)
{
	parse_error("unknown op", "bad", HEAD "\"steps\": [{\"expect_none\": {}, \"for_ms\": 1},"
		    " {\"send\": {\"op\": \"RSTX\"}}]}", "$.steps[1].send.op: unknown op \"RSTX\"");
	parse_error("unknown key", "bad", HEAD "\"steps\": [{\"expect\": {\"op\": \"RST\"}, \"whitin_ms\": 5}]}",
		    "$.steps[0]: unknown key \"whitin_ms\" in a step of kind expect");
	parse_error("value wider than its field", "bad", HEAD "\"steps\": [{\"expect\": {\"fwd_cnt\": 4294967296}}]}",
		    "$.steps[0].expect.fwd_cnt: 4294967296 is wider than 4 bytes (at most 0xffffffff)");
	parse_error("a fraction where an integer is due", "bad", HEAD "\"steps\": [{\"expect\": {\"len\": 1.5}}]}",
		    "$.steps[0].expect.len: 1.5 is not an integer (a JSON number or a \"0x...\" string)");
	parse_error("a negative integer", "bad", HEAD "\"steps\": [{\"send\": {\"op\": \"RW\", \"buf_alloc\": -1}}]}",
		    "$.steps[0].send.buf_alloc: -1 is negative");
	parse_error("a bad 0x string", "bad", HEAD "\"steps\": [{\"send\": {\"op\": \"0x1g\"}}]}",
		    "$.steps[0].send.op: \"0x1g\" is not a hexadecimal integer of up to 16 digits");
	parse_error("name differs from the stem", "bad", "{\"format\": \"vsockcheck-fixture/1\", \"name\": \"good\","
		    " \"description\": \"u\", \"target\": \"both\", \"steps\": [{\"await\": \"x\"}]}",
		    "$.name: \"good\" differs from the file's stem \"bad\"");
	parse_error("two kind keys", "bad", HEAD "\"steps\": [{\"send\": {\"op\": 1}, \"expect\": {}}]}",
		    "$.steps[0]: \"send\" and \"expect\" in one step (one kind key per step)");
	parse_error("unknown connection", "bad", HEAD "\"steps\": [{\"send\": {\"conn\": \"d\", \"op\": 1}}]}",
		    "$.steps[0].send.conn: no connection \"d\"");
	parse_error("unknown top-level key", "bad", HEAD "\"features\": [], \"steps\": [{\"await\": \"x\"}]}",
		    "$: unknown key \"features\"");
	parse_error("agent flags spelled as the spike did", "bad", HEAD "\"steps\": [{\"agent\": {\"do\": \"recv\","
		    " \"sock\": \"a\", \"len\": 1, \"msg_flags\": [\"MSG_PEEK\"]}}]}",
		    "$.steps[0].agent: unknown key \"msg_flags\" for recv (MSG_* names go in \"flags\")");
	parse_error("a JSON syntax error gives line and column", "bad", "{\n  \"format\": \"vsockcheck-fixture/1\",\n  \"name\" 1\n}",
		    "line 3 column 10: ");
	parse_error("a payload piece with an unknown key", "bad", HEAD "\"steps\": [{\"send\": {\"op\": \"RW\","
		    " \"src_port\": 1, \"dst_port\": 1, \"payload\": [\"a\", {\"bytes\": 1}]}}]}",
		    "$.steps[0].send.payload[1]: unknown key \"bytes\" (a piece is {\"hex\"} or {\"byte\", \"len\"})");
	parse_error("a payload over the packet size", "bad", HEAD "\"steps\": [{\"send\": {\"op\": \"RW\","
		    " \"src_port\": 1, \"dst_port\": 1, \"payload\": {\"byte\": 1, \"len\": 16777216}}}]}",
		    "$.steps[0].send.payload: the payload is longer than 69632 bytes");
	parse_error("a version with text after it", "bad", HEAD "\"kernels\": {\"min\": \"6.1.x\"}, \"steps\": [{\"await\": \"x\"}]}",
		    "$.kernels.min: a version such as \"5.14\" is due");
	parse_error("by_kernel rows out of order", "bad", HEAD "\"steps\": [{\"expect\": {\"len\": {\"by_kernel\":"
		    " [{\"from\": \"6.1\", \"is\": 1}, {\"from\": \"5.10\", \"is\": 2}]}}}]}",
		    "$.steps[0].expect.len.by_kernel[1].from: rows must be in rising version order");
}

static void test_legacy(void)
{
	char *files[2] = { "testcases/fixtures/qemu-legacy/client-connection.json",
			   "testcases/fixtures/qemu-legacy/rst-no-listener.json" };
	struct outcome o = run_files(&plain, "vhost_vsock", files, 2);
	struct fx_fixture *fx = calloc(1, sizeof(*fx));
	struct fx_arena arena = { 0 };
	char err[512] = "";
	int ok;

	ok = strstr(o.ktap, "ok 1 qemu_client_connection\n") && strstr(o.ktap, "ok 2 qemu_rst_no_listener\n") &&
	     !strstr(o.ktap, "not ok");
	report("QEMU's two files run as they are on the fake vhost_vsock", ok, &o, "want both ok");
	outcome_free(&o);
	o = run_files(&plain, "virtio_transport", files, 1);
	report("QEMU's files are for vhost_vsock only", strstr(o.ktap, "# SKIP for vhost_vsock only") != NULL,
	       &o, "want SKIP");
	outcome_free(&o);
	ok = fx_load(files[0], fx, &arena, err, sizeof(err)) == 0 && fx->legacy &&
	     !strcmp(fx->name, "qemu_client_connection") && !strcmp(fx->target, "vhost_vsock") &&
	     fx->needs.rx_buffers == 8 && fx->needs.rx_buffer_size == 4140 && fx->n_steps == 4 &&
	     fx->steps[0].kind == FX_STEP_AGENT && fx->steps[0].agent.what == FX_DO_CONNECT &&
	     fx->steps[0].agent.nonblock && !strcmp(fx->steps[0].result->errno_name, "EINPROGRESS") &&
	     fx->steps[1].kind == FX_STEP_EXPECT && fx->steps[1].pkt.given == (1u << FX_N_FIELDS) - 1 &&
	     fx->steps[1].pkt.field[FX_SRC_PORT]->kind == FX_V_REF &&
	     !strcmp(fx->steps[1].pkt.field[FX_SRC_PORT]->name, "client.port") &&
	     fx->steps[1].pkt.field[FX_OP]->n == FX_OP_REQUEST &&
	     fx->steps[2].kind == FX_STEP_SEND && fx->steps[3].agent.what == FX_DO_POLL &&
	     !strcmp(fx->steps[3].agent.events[0], "POLLOUT") && !strcmp(fx->steps[3].result->so_error, "0");
	report("the legacy conversion follows the README's table", ok, NULL, err[0] ? err : "a field differs");
	fx_arena_free(&arena);
	free(fx);
	/* A legacy file with a command the old format lacks fails alone. */
	parse_error("legacy: an unknown command", "qemu_bad", "[{\"op\": \"sock-listen\", \"sock_id\": \"a\"}]",
		    "$[0].op: unknown command \"sock-listen\"");
}

static void test_examples(void)
{
	static const char *const names[] = { "handshake_listen", "connect_rst", "credit_update" };

	for (unsigned int i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char path[128], title[160];
		char *file = path;

		snprintf(path, sizeof(path), "tools/vsock-fixtures/unit/%s.json", names[i]);
		snprintf(title, sizeof(title), "example %s passes on the fake kernel", names[i]);
		expect_run(title, &plain, "virtio_transport", file, "not ok", "ok 1 ", NULL);
	}
}

/*
 * Broken input never crashes the loader: every example and legacy file, mutated a few hundred
 * times (bytes replaced by JSON's own characters, cut, repeated), loads or fails with a message.
 * make check runs this under ASan and UBSan.
 */
static void test_mutations(void)
{
	static const char *const files[] = { "tools/vsock-fixtures/unit/handshake_listen.json",
		"tools/vsock-fixtures/unit/connect_rst.json", "tools/vsock-fixtures/unit/credit_update.json",
		"testcases/fixtures/qemu-legacy/client-connection.json",
		"testcases/fixtures/qemu-legacy/rst-no-listener.json" };
	static const char alphabet[] = "{}[]\",:-.0123456789eE \\$xabcdefnrtul_\n";
	uint32_t seed = 0x2545f491;
	int loaded = 0, refused = 0, silent = 0;
	char why[256] = "";

	for (unsigned int k = 0; k < sizeof(files) / sizeof(files[0]); k++) {
		FILE *fp = fopen(files[k], "r");
		static char orig[8192], text[16384];
		size_t len = fp ? fread(orig, 1, sizeof(orig) - 1, fp) : 0;

		if (fp)
			fclose(fp);
		if (!len) {
			snprintf(why, sizeof(why), "cannot read %s", files[k]);
			break;
		}
		for (int round = 0; round < 300; round++) {
			struct fx_fixture *fx = calloc(1, sizeof(*fx));
			struct fx_arena arena = { 0 };
			char err[512] = "", name[64];
			size_t n = len;

			memcpy(text, orig, len);
			for (int m = 0; m < 1 + round % 4; m++) {
				size_t at;

				seed ^= seed << 13, seed ^= seed >> 17, seed ^= seed << 5;
				at = seed % n;
				switch (seed >> 29) {
				case 0:		/* cut */
					n = at;
					break;
				case 1:		/* repeat a chunk */
					if (n + 64 < sizeof(text)) {
						memmove(text + at + 32, text + at, n - at);
						n += 32;
					}
					break;
				default:	/* replace a byte */
					text[at] = alphabet[(seed >> 8) % (sizeof(alphabet) - 1)];
				}
				if (n == 0)
					n = 1;
			}
			text[n] = '\0';
			snprintf(name, sizeof(name), "mutant%d", k);
			if (fx_load(write_file(name, text), fx, &arena, err, sizeof(err)) == 0)
				loaded++;
			else if (err[0])
				refused++;
			else
				silent++;
			fx_arena_free(&arena);
			free(fx);
		}
	}
	if (!why[0] && silent)
		snprintf(why, sizeof(why), "%d mutants refused without a message", silent);
	printf("# mutations: %d loaded, %d refused with a message\n", loaded, refused);
	report("mutated files load or fail with a message, never crash", !why[0], NULL, why);
}

/*
 * The real agent (build/bin/vsock-fixture-agent) with the fake wire, for a fixture whose steps
 * make no socket call: only hello, kmsg_mark, reset and kmsg run, which open no AF_VSOCK socket
 * (this machine's vsock is not ours to touch). It proves the agent and the runner agree.
 */
static void test_real_agent(void)
{
	char *file = fixture("realagent", "", "{\"expect_none\": {}, \"for_ms\": 10}");
	struct fx_run_options options = { .prefix = "real/" };
	struct fx_engine engine = { .target = "virtio_transport", .engine_cid = 2, .kernel_cid = 3,
				    .ops = &fake_wire_ops };
	int to_agent[2], from_agent[2], status, ok;
	struct outcome o = { 0 };
	struct fake f;
	pid_t pid;
	FILE *ktap;

	if (access("build/bin/vsock-fixture-agent", X_OK) != 0) {
		report("the real agent answers hello, kmsg_mark, reset and kmsg", 0, NULL,
		       "build/bin/vsock-fixture-agent is missing");
		return;
	}
	fake_init(&f, &plain);
	engine.ctx = &f;
	if (pipe(to_agent) || pipe(from_agent) || (pid = fork()) < 0) {
		perror("fx-unit: agent");
		exit(2);
	}
	if (pid == 0) {
		dup2(to_agent[0], 0);
		dup2(from_agent[1], 1);
		close(to_agent[1]);
		close(from_agent[0]);
		execl("build/bin/vsock-fixture-agent", "vsock-fixture-agent", (char *)NULL);
		_exit(127);
	}
	close(to_agent[0]);
	close(from_agent[1]);
	ktap = open_memstream(&o.ktap, &o.ktap_len);
	options.agent_in = from_agent[0];
	options.agent_out = to_agent[1];
	options.ktap = ktap;
	o.status = fx_run_files(&engine, &options, &file, 1);
	fclose(ktap);
	close(to_agent[1]);
	close(from_agent[0]);
	waitpid(pid, &status, 0);
	ok = o.status == 0 && strstr(o.ktap, "# kernel under test: ") && strstr(o.ktap, "\nok 1 real/realagent\n") &&
	     WIFEXITED(status) && WEXITSTATUS(status) == 0;
	report("the real agent answers hello, kmsg_mark, reset and kmsg", ok, &o,
	       "want ok 1 and the agent's clean exit");
	outcome_free(&o);
	fake_free(&f);
}

/* An agent that is gone: each fixture fails with the reason, the run goes on, no SIGPIPE. */
static void test_dead_agent(void)
{
	char *files[2] = { fixture("dead1", "", "{\"await\": \"x\"}"), NULL };
	struct fx_run_options options = { .prefix = "" };
	struct fx_engine engine = { .target = "both", .engine_cid = 2, .kernel_cid = 3,
				    .ops = &fake_wire_ops };
	int req[2], rep[2], ok;
	struct outcome o = { 0 };
	struct fake f;
	FILE *ktap;

	files[1] = fixture("dead2", "", "{\"await\": \"x\"}");
	fake_init(&f, &plain);
	engine.ctx = &f;
	if (pipe(req) || pipe(rep)) {
		perror("fx-unit: pipe");
		exit(2);
	}
	close(req[0]);		/* nobody reads the requests */
	close(rep[1]);		/* nobody will reply */
	ktap = open_memstream(&o.ktap, &o.ktap_len);
	options.agent_in = rep[0];
	options.agent_out = req[1];
	options.ktap = ktap;
	o.status = fx_run_files(&engine, &options, files, 2);
	fclose(ktap);
	close(req[1]);
	close(rep[0]);
	ok = o.status == 1 && strstr(o.ktap, "not ok 1 dead1") && strstr(o.ktap, "not ok 2 dead2") &&
	     strstr(o.ktap, "agent hello: ");
	report("a gone agent fails each fixture with the reason, and the run goes on", ok, &o,
	       "want both not ok with the agent's reason");
	outcome_free(&o);
	fake_free(&f);
}

#define HV_HEAD "{\"format\": \"vsockcheck-fixture/1\", \"name\": \"bad\", \"description\": \"u\", " \
	"\"target\": \"hv_sock\", "
#define HV_CONN "\"connections\": {\"c\": {\"engine_port\": 7001, \"kernel_port\": 6001, " \
	"\"initiator\": \"engine\"}}"

/* A hv_sock fixture named `name` with connection c (host-initiated) and these steps. */
static char *hv_fixture(const char *name, const char *steps)
{
	static char text[8192];

	snprintf(text, sizeof(text), "{\"format\": \"vsockcheck-fixture/1\", \"name\": \"%s\","
		 " \"description\": \"unit\", \"target\": \"hv_sock\", " HV_CONN ", \"steps\": [%s]}",
		 name, steps);
	return write_file(name, text);
}

static void test_hv(void)
{
	parse_error("hv_sock: a virtio header field in a hv packet", "bad", HV_HEAD HV_CONN
		    ", \"steps\": [{\"send\": {\"conn\": \"c\", \"op\": \"RW\"}}]}",
		    "$.steps[0].send: unknown key \"op\"");
	parse_error("hv_sock: raw bytes are whole 8-byte units", "bad", HV_HEAD HV_CONN
		    ", \"steps\": [{\"send\": {\"conn\": \"c\", \"raw\": {\"hex\": \"0600\"}}}]}",
		    "$.steps[0].send.raw: 2 bytes; a packet is a multiple of 8 bytes, at least 8");
	parse_error("hv_sock: no engine step", "bad", HV_HEAD HV_CONN
		    ", \"steps\": [{\"engine\": {\"do\": \"device_stop\"}}]}",
		    "$.steps[0]: no kind key (send, expect, expect_none, agent, await, expect_tl_connect");
	parse_error("hv_sock: a connection needs its initiator", "bad", HV_HEAD
		    "\"connections\": {\"c\": {\"engine_port\": 1, \"kernel_port\": 2}}, \"steps\": [{\"await\": \"x\"}]}",
		    "$.connections.c.initiator: missing");
	parse_error("hv_sock: no device object", "bad", HV_HEAD "\"device\": {}, \"steps\": [{\"await\": \"x\"}]}",
		    "$: unknown key \"device\"");
	parse_error("hv_sock: by_target has no row for it", "bad", HV_HEAD HV_CONN
		    ", \"steps\": [{\"expect\": {\"data_size\": {\"by_target\": {\"virtio_transport\": 1, \"vhost_vsock\": 2}}}}]}",
		    "$.steps[0].expect: by_target has no row for target hv_sock");
	expect_run("hv_sock: offer, send, the echo matched field by field, rescind, guest_closed", &plain,
		   "hv_sock", hv_fixture("hvecho",
			   "{\"offer\": {\"conn\": \"c\"}},"
			   "{\"send\": {\"conn\": \"c\", \"payload\": \"hello\"}},"
			   "{\"expect\": {\"conn\": \"c\", \"type\": 6, \"offset8\": 2, \"len8\": 4, \"data_size\": 5, \"payload\": \"hello\"}},"
			   "{\"send_fin\": {\"conn\": \"c\"}}, {\"expect_fin\": {\"conn\": \"c\"}},"
			   "{\"rescind\": {\"conn\": \"c\"}},"
			   "{\"expect_event\": {\"conn\": \"c\", \"event\": \"guest_closed\"}}"),
		   "not ok", "ok 1 hvecho", "\"event\":\"rx\"", "\"data_size\":5", NULL);
	expect_run("hv_sock: a field that differs is named with both values", &plain, "hv_sock",
		   hv_fixture("hvfield", "{\"offer\": {\"conn\": \"c\"}},"
			      "{\"send\": {\"conn\": \"c\", \"payload\": \"hello\", \"trans_id\": 9}},"
			      "{\"expect\": {\"conn\": \"c\", \"payload\": \"hello\", \"trans_id\": 8}}"),
		   NULL, "not ok 1 hvfield", "step 2 expect: trans_id: got 9, want 8", NULL);
	expect_run("hv_sock: a packet shorter than the pipe header fails by its missing field", &plain, "hv_sock",
		   hv_fixture("hvshort", "{\"offer\": {\"conn\": \"c\"}},"
			      "{\"send\": {\"conn\": \"c\", \"raw\": {\"hex\": \"0600020002000000\"}}},"
			      "{\"expect\": {\"conn\": \"c\"}}"),
		   NULL, "not ok 1 hvshort", "pkt_type: the packet has 8 bytes, none at offset 16", NULL);
	fake_hv.tl_guest_port = 1234;
	fake_hv.tl_host_port = 5001;
	expect_run("hv_sock: the TL connect request's GUIDs as ports; the answer offers them back", &plain,
		   "hv_sock", hv_fixture("hvtl", "{\"expect_tl_connect\": {\"conn\": \"c\", \"kernel_port\": 1234,"
			      " \"engine_port\": {\"capture\": \"hs\"}}},"
			      "{\"expect_none\": {}, \"for_ms\": 1}"),
		   "not ok", "ok 1 hvtl", NULL);
	expect_run("hv_sock: an event where a packet is due", &plain, "hv_sock",
		   hv_fixture("hvevent", "{\"expect\": {\"conn\": \"c\"}}"),
		   NULL, "not ok 1 hvevent", "step 0 expect: got event tl_connect", NULL);
	fake_hv.tl_guest_port = 0;
}

int main(int argc, char **argv)
{
	char cmd[96];

	/* make check passes --no-kernel-log to every C unit program: nothing to do with it here. */
	(void)argc;
	(void)argv;
	/* The example and legacy files are named from the project's root: build/bin/../.. */
	if (access("testcases/fixtures", F_OK) != 0) {
		char exe[4096];
		ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

		if (n > 0) {
			exe[n] = '\0';
			for (int up = 0; up < 3 && strrchr(exe, '/'); up++)
				*strrchr(exe, '/') = '\0';
			if (chdir(exe) != 0)
				perror(exe);
		}
	}
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/fx-unit-XXXXXX");
	if (!mkdtemp(tmpdir)) {
		perror("fx-unit: mkdtemp");
		return 2;
	}
	printf("KTAP version 1\n1..%d\n", TESTS);
	test_defaults();
	test_matchers();
	test_by_kernel();
	test_layout();
	test_invariants();
	test_timing();
	test_ignore();
	test_agent();
	test_outcomes();
	test_engine_and_trace();
	test_parse_errors();
	test_legacy();
	test_examples();
	test_mutations();
	test_real_agent();
	test_dead_agent();
	test_hv();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "fx-unit: could not remove %s\n", tmpdir);
	if (test_number != TESTS)
		report("the plan counts every test", 0, NULL, "TESTS differs from the tests run");
	printf("# %d of %d failed\n", failures, test_number);
	return failures ? 1 : 0;
}
