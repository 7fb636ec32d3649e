/* fx_eval.h: evaluating values and matchers while a fixture runs (fx_value.c). */
#ifndef FX_EVAL_H
#define FX_EVAL_H

#include "fx_model.h"

struct fx_capture {
	char name[FX_NAME_MAX];
	uint64_t value;
};

/* What a value may depend on; the interpreter (fx_steps.c) fills it in. */
struct fx_eval {
	const char *target;			/* "virtio_transport" or "vhost_vsock" */
	struct fx_kver kernel;
	/* $name: 0 with *out; -1 with why (unknown name, the agent has no port for it...). */
	int (*resolve)(void *ctx, const char *name, uint64_t *out, char *why, size_t why_size);
	/* {"credit": "consistent"} on `field` (buf_alloc or fwd_cnt): 1 holds, 0 not (why). */
	int (*credit)(void *ctx, int field, uint64_t got, char *why, size_t why_size);
	void *ctx;
	/* Captures of the packet being matched, kept by the caller only if it all matches. */
	struct fx_capture *pending;
	int n_pending, max_pending;
};

/* by_kernel / by_target: the row that applies here, or NULL with why. */
const struct fx_value *fx_value_select(const struct fx_value *v, const struct fx_eval *ev,
				       char *why, size_t why_size);
/* A send field or agent argument: an integer after references. 0, or -1 with why. */
int fx_value_get(const struct fx_value *v, const struct fx_eval *ev, uint64_t *out, char *why,
		 size_t why_size);
/* 1 when `got` matches; 0 when not ("want ..." in why); -1 when it cannot be evaluated. */
int fx_value_match(const struct fx_value *v, struct fx_eval *ev, int field, uint64_t got,
		   char *why, size_t why_size);
/* The value as the fixture wrote it, for "want" texts: "RESPONSE (2)", "any", "[1, 5]". */
void fx_value_describe(const struct fx_value *v, int field, char *out, size_t size);
/* An integer of `width` bytes: a JSON number or a "0x..." string (json_object *). */
int fx_int_parse(void *json, unsigned int width, const char *path, uint64_t *out, char *err,
		 size_t err_size);
/* "RESPONSE (2)" for op/type, a number otherwise. */
void fx_field_describe(int field, uint64_t value, char *out, size_t size);

#endif
