/*
 * fx_json.h: the format-1 fixture parsers' shared parts (fx_json_*.c, fx_load.c), internal to the
 * loader: every key, type and range is checked where it is read, each error naming its $.path.
 * Each call returns 0 (or the object), or -1 (NULL) with "$.path: message" in err.
 */
#ifndef FX_JSON_H
#define FX_JSON_H

#include <json-c/json.h>

#include "fx_eval.h"

#define FAIL(...) do { snprintf(err, err_size, __VA_ARGS__); return -1; } while (0)

/* One load: the fixture being filled in, the arena it lives in, and where errors go. */
struct fx_loader {
	struct fx_fixture *fx;
	struct fx_arena *arena;
	char *err;
	size_t err_size;
};

/* fx_json_util.c: checked accessors. */
/* 1 when key is in the NULL-ended list. */
int fx_in_list(const char *key, const char *const *list);
int fx_check_keys(json_object *o, const char *const *allowed, const char *path, char *err,
		  size_t err_size);
int fx_want_type(json_object *j, json_type type, const char *what, const char *path, char *err,
		 size_t err_size);
int fx_get_range(json_object *j, uint64_t lo, uint64_t hi, const char *path, uint64_t *out,
		 char *err, size_t err_size);
int fx_copy_string(json_object *j, char *out, size_t size, const char *path, char *err,
		   size_t err_size);
int fx_get_name(json_object *j, char *out, const char *path, char *err, size_t err_size);
/* A connection's name → its index in fx->conns. */
int fx_get_conn(const struct fx_fixture *fx, json_object *j, const char *path, int *out,
		char *err, size_t err_size);

/* The parsers, from the whole fixture down. */
int fx_parse_fixture(struct fx_loader *l, json_object *root, const char *stem);
int fx_parse_step(struct fx_loader *l, json_object *o, int index, struct fx_step *st);
int fx_parse_packet(struct fx_loader *l, json_object *o, int sending, const char *path,
		    struct fx_packet_spec *p);
int fx_parse_agent(struct fx_loader *l, json_object *o, const char *path, struct fx_step *st);
struct fx_result *fx_parse_result(struct fx_loader *l, json_object *j, const char *path);
/* fx_json_hv.c: target hv_sock. kind: FX_STEP_SEND, FX_STEP_EXPECT or FX_STEP_EXPECT_NONE. */
int fx_parse_hv_packet(struct fx_loader *l, json_object *o, int kind, const char *path,
		       struct fx_packet_spec *p, struct fx_result **result);
int fx_parse_hv_step(struct fx_loader *l, json_object *o, const char *path, struct fx_step *st);
int fx_parse_hv_initiator(struct fx_loader *l, json_object *o, const char *path, struct fx_conn *c);

#endif
