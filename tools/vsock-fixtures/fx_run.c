/*
 * fx_run.c: fx_run_files(): each fixture in turn from a clean state: load (a file that does not
 * load fails alone), SKIP for another target or an older kernel, the steps, then the clean-up
 * every fixture gets (agent reset, engine end, kernel log check), and its KTAP line.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fx_run.h"

uint64_t fx_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static json_object *simple_request(const char *what)
{
	json_object *req = json_object_new_object();

	json_object_object_add(req, "do", json_object_new_string(what));
	return req;
}

/* The kernel under test, as the agent's hello reports it. 0, or -1 with why. */
static int hello(struct fx_run *r, char *why, size_t why_size)
{
	json_object *reply = NULL, *k;
	int rc = fx_agent_plain(r, simple_request("hello"), 10000, &reply, why, why_size);

	if (rc != 1)
		return -1;
	if (!json_object_object_get_ex(reply, "kernel", &k) || !json_object_is_type(k, json_type_string) ||
	    fx_kver_parse(json_object_get_string(k), &r->kernel)) {
		snprintf(why, why_size, "the agent's hello has no kernel version");
		json_object_put(reply);
		return -1;
	}
	snprintf(r->kernel_text, sizeof(r->kernel_text), "%d.%d.%d", r->kernel.major, r->kernel.minor,
		 r->kernel.patch);
	json_object_put(reply);
	return 0;
}

static int64_t kmsg_mark(struct fx_run *r)
{
	json_object *reply = NULL, *t;
	char why[FX_MSG_MAX];
	int64_t taint = -1;

	if (fx_agent_plain(r, simple_request("kmsg_mark"), 5000, &reply, why, sizeof(why)) != 1)
		return fx_fail(r, "agent kmsg_mark: %s", why);
	if (json_object_object_get_ex(reply, "taint", &t))
		taint = json_object_get_int64(t);
	json_object_put(reply);
	return taint;
}

/* After the steps, pass or not: agent reset, engine end, then the kernel's log and taint. */
static void clean_up(struct fx_run *r, int64_t taint_before)
{
	json_object *reply = NULL, *alarms, *t;
	char why[FX_MSG_MAX];

	r->step = NULL;
	if (fx_agent_plain(r, simple_request("reset"), 10000, &reply, why, sizeof(why)) != 1)
		fx_fail(r, "agent reset: %s", why);
	json_object_put(reply);
	reply = NULL;
	r->engine->ops->end(r->engine->ctx);
	if (fx_agent_plain(r, simple_request("kmsg"), 5000, &reply, why, sizeof(why)) != 1) {
		fx_fail(r, "agent kmsg: %s", why);
		return;
	}
	if (json_object_object_get_ex(reply, "alarms", &alarms) &&
	    json_object_is_type(alarms, json_type_array) && json_object_array_length(alarms) > 0) {
		size_t n = json_object_array_length(alarms);

		/* Alarms fail even a fixture that failed already: they go in its diagnostics. */
		if (!r->failed)
			fx_fail(r, "the kernel logged %zu alarm line(s) during the fixture", n);
		for (size_t i = 0; i < n && r->n_diag < 8; i++)
			snprintf(r->diag[r->n_diag++], FX_MSG_MAX, "kernel: %s",
				 json_object_get_string(json_object_array_get_idx(alarms, i)));
	}
	if (taint_before >= 0 && json_object_object_get_ex(reply, "taint", &t) &&
	    json_object_get_int64(t) != taint_before) {
		if (!r->failed)
			fx_fail(r, "the kernel's taint changed from %" PRId64 " to %" PRId64, taint_before,
				json_object_get_int64(t));
		else if (r->n_diag < 8)
			snprintf(r->diag[r->n_diag++], FX_MSG_MAX, "kernel taint changed from %" PRId64 " to %" PRId64,
				 taint_before, json_object_get_int64(t));
	}
	json_object_put(reply);
}

static void run_one(struct fx_run *r)
{
	const struct fx_fixture *fx = r->fx;
	char why[FX_MSG_MAX] = "";
	int64_t taint;
	int rc;

	/* "both" means the two virtio engines. */
	if (strcmp(fx->target, r->engine->target) &&
	    (strcmp(fx->target, "both") || !strcmp(r->engine->target, FX_TARGET_HV))) {
		fx_skip(r, "for %s only", fx->target);
		return;
	}
	if (fx->has_min && vsc_kver_cmp(&r->kernel, &fx->min) < 0) {
		fx_skip(r, "needs kernel %s, running %s", fx->min_text, r->kernel_text);
		return;
	}
	taint = kmsg_mark(r);
	if (r->failed)
		return;
	rc = r->engine->ops->begin(r->engine->ctx, &fx->needs, why, sizeof(why));
	if (rc > 0) {
		fx_skip(r, "%s", why);
		return;
	}
	if (rc < 0) {
		fx_fail(r, "the engine could not begin: %s", why);
		return;
	}
	r->deadline = fx_now_ms() + fx->timeout_ms;
	if (fx->hv) {
		if (fx_hv_run_steps(r) == 0)
			fx_hv_drain_unexpected(r);
	} else if (fx_run_steps(r) == 0) {
		fx_drain_unexpected(r);
	}
	clean_up(r, taint);
}

static const char *known_bug(const struct fx_run *r)
{
	for (int i = 0; i < r->fx->n_bugs; i++) {
		const struct fx_known_bug *b = &r->fx->bugs[i];

		if (vsc_kver_cmp(&b->from, &r->kernel) <= 0 && vsc_kver_cmp(&r->kernel, &b->until) < 0 &&
		    (!b->target || !strcmp(b->target, r->engine->target)))
			return b->fix;
	}
	return NULL;
}

int fx_run_files(struct fx_engine *engine, const struct fx_run_options *options,
		 char *const *files, int n_files)
{
	struct fx_run *r = calloc(1, sizeof(*r));
	struct fx_fixture *fx = calloc(1, sizeof(*fx));
	struct fx_packet *pkt = malloc(sizeof(*pkt));
	uint8_t *tx = malloc(FX_PACKET_MAX);
	struct fx_hv_in *hv_in = malloc(sizeof(*hv_in));
	struct fx_agent *agent = fx_agent_new(options->agent_in, options->agent_out);
	char hello_err[FX_MSG_MAX] = "", directive[FX_MSG_MAX + 16];
	int status = 0, have_kernel;

	if (!r || !fx || !pkt || !tx || !hv_in || !agent) {
		fprintf(stderr, "vsock-fixtures: out of memory\n");
		exit(2);
	}
	fprintf(options->ktap, "KTAP version 1\n");
	r->engine = engine;
	r->options = options;
	r->agent = agent;
	r->fx = fx;
	snprintf(r->kernel_text, sizeof(r->kernel_text), "unknown");
	have_kernel = hello(r, hello_err, sizeof(hello_err)) == 0;
	/* Before the plan: a "# " line after it would be read as fixture 1's diagnostics. */
	if (have_kernel)
		fx_ktap_diag(options->ktap, "kernel under test: %s (%s)", r->kernel_text, engine->target);
	fprintf(options->ktap, "1..%d\n", n_files);
	fflush(options->ktap);
	for (int i = 0; i < n_files; i++) {
		struct fx_arena arena = { 0 };
		struct vsc_kver kernel = r->kernel;
		char err[FX_MSG_MAX], stem[FX_NAME_MAX * 2];
		const char *bug;
		int ok;

		memset(r, 0, sizeof(*r));
		r->engine = engine;
		r->options = options;
		r->agent = agent;
		r->fx = fx;
		r->file = files[i];
		r->kernel = kernel;
		snprintf(r->kernel_text, sizeof(r->kernel_text), "%d.%d.%d", kernel.major, kernel.minor,
			 kernel.patch);
		r->pkt = pkt;
		r->tx = tx;
		r->hv_in = hv_in;
		r->cur_conn = -1;
		r->ev = (struct fx_eval){ .target = engine->target, .kernel = kernel,
					  .resolve = fx_resolve, .credit = fx_credit_check, .ctx = r,
					  .pending = r->pending, .max_pending = 8 };
		if (fx_load(files[i], fx, &arena, err, sizeof(err))) {
			fx_file_stem(files[i], stem, sizeof(stem));
			fx_ktap_diag(options->ktap, "%s: %s", files[i], err);
			fprintf(options->ktap, "not ok %d %s%s\n", i + 1, options->prefix ? options->prefix : "",
				stem);
			fflush(options->ktap);
			fx_arena_free(&arena);
			status = 1;
			continue;
		}
		if (!have_kernel)
			fx_fail(r, "agent hello: %s", hello_err);
		else
			run_one(r);
		fx_agent_forget(agent);
		bug = r->failed ? known_bug(r) : NULL;
		ok = !r->failed || bug;
		if (r->skipped)
			snprintf(directive, sizeof(directive), "SKIP %s", r->reason);
		else if (bug)
			snprintf(directive, sizeof(directive), "XFAIL %s", bug);
		fx_trace_end(r, r->skipped ? "skip" : bug ? "xfail" : r->failed ? "fail" : "pass",
			     r->failed || r->skipped ? r->reason : "");
		fx_ktap_result(r, i + 1, fx->name, ok, r->skipped || bug ? directive : NULL);
		status |= !ok;
		fx_arena_free(&arena);
	}
	fx_agent_free(agent);
	free(tx);
	free(hv_in);
	free(pkt);
	free(fx);
	free(r);
	return status;
}
