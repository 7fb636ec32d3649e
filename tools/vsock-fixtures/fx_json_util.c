/* fx_json_util.c: the checked JSON accessors the fixture parsers share (fx_json.h). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "fx_json.h"

int fx_in_list(const char *key, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(key, *list) == 0)
			return 1;
	return 0;
}

int fx_check_keys(json_object *o, const char *const *allowed, const char *path, char *err,
		  size_t err_size)
{
	json_object_object_foreach(o, key, val) {
		(void)val;
		if (!fx_in_list(key, allowed))
			FAIL("%s: unknown key \"%s\"", path, key);
	}
	return 0;
}

int fx_want_type(json_object *j, json_type type, const char *what, const char *path, char *err,
		 size_t err_size)
{
	if (!json_object_is_type(j, type))
		FAIL("%s: %s is due", path, what);
	return 0;
}

/* An integer in [lo, hi]. */
int fx_get_range(json_object *j, uint64_t lo, uint64_t hi, const char *path, uint64_t *out,
		 char *err, size_t err_size)
{
	if (fx_int_parse(j, 8, path, out, err, err_size))
		return -1;
	if (*out < lo || *out > hi)
		FAIL("%s: %" PRIu64 " is outside [%" PRIu64 ", %" PRIu64 "]", path, *out, lo, hi);
	return 0;
}

int fx_copy_string(json_object *j, char *out, size_t size, const char *path, char *err,
		   size_t err_size)
{
	if (fx_want_type(j, json_type_string, "a string", path, err, err_size))
		return -1;
	if ((size_t)json_object_get_string_len(j) >= size)
		FAIL("%s: longer than %zu characters", path, size - 1);
	memcpy(out, json_object_get_string(j), (size_t)json_object_get_string_len(j) + 1);
	return 0;
}

int fx_get_name(json_object *j, char *out, const char *path, char *err, size_t err_size)
{
	if (fx_copy_string(j, out, FX_NAME_MAX, path, err, err_size))
		return -1;
	if (!fx_name_ok(out))
		FAIL("%s: \"%s\" is not a name (lower case letters, digits, _)", path, out);
	return 0;
}

int fx_get_conn(const struct fx_fixture *fx, json_object *j, const char *path, int *out,
		char *err, size_t err_size)
{
	if (fx_want_type(j, json_type_string, "a connection name", path, err, err_size))
		return -1;
	for (int i = 0; i < fx->n_conns; i++)
		if (strcmp(fx->conns[i].name, json_object_get_string(j)) == 0) {
			*out = i;
			return 0;
		}
	FAIL("%s: no connection \"%s\"", path, json_object_get_string(j));
}
