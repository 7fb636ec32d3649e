/*
 * fx_value.c: header fields, integers ("0x" strings too), references, payloads and matchers:
 * how they are read from JSON (strictly, naming the $.path) and evaluated against a packet.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "fx_eval.h"
#include "vsc_hex.h"

const struct fx_field_info fx_fields[FX_N_FIELDS] = {
	[FX_SRC_CID] = { "src_cid", 0, 8 },	[FX_DST_CID] = { "dst_cid", 8, 8 },
	[FX_SRC_PORT] = { "src_port", 16, 4 },	[FX_DST_PORT] = { "dst_port", 20, 4 },
	[FX_LEN] = { "len", 24, 4 },		[FX_TYPE] = { "type", 28, 2 },
	[FX_OP] = { "op", 30, 2 },		[FX_FLAGS] = { "flags", 32, 4 },
	[FX_BUF_ALLOC] = { "buf_alloc", 36, 4 },	[FX_FWD_CNT] = { "fwd_cnt", 40, 4 },
};

static const char *const op_names[] = { "INVALID", "REQUEST", "RESPONSE", "RST", "SHUTDOWN",
					"RW", "CREDIT_UPDATE", "CREDIT_REQUEST" };

void fx_hdr_decode(const uint8_t *bytes, struct fx_hdr *hdr)
{
	for (int i = 0; i < FX_N_FIELDS; i++) {
		uint64_t v = 0;

		for (unsigned int b = 0; b < fx_fields[i].width; b++)
			v |= (uint64_t)bytes[fx_fields[i].offset + b] << (8 * b);
		hdr->f[i] = v;
	}
}

void fx_hdr_encode(const struct fx_hdr *hdr, uint8_t *bytes)
{
	for (int i = 0; i < FX_N_FIELDS; i++)
		for (unsigned int b = 0; b < fx_fields[i].width; b++)
			bytes[fx_fields[i].offset + b] = (uint8_t)(hdr->f[i] >> (8 * b));
}

const char *fx_op_name(uint64_t op)
{
	return op < sizeof(op_names) / sizeof(op_names[0]) ? op_names[op] : NULL;
}

void fx_field_describe(int field, uint64_t value, char *out, size_t size)
{
	const char *name = NULL;

	if (field == FX_OP)
		name = fx_op_name(value);
	else if (field == FX_TYPE)
		name = value == FX_TYPE_STREAM ? "stream" : value == FX_TYPE_SEQPACKET ? "seqpacket" : NULL;
	if (name)
		snprintf(out, size, "%s (%" PRIu64 ")", name, value);
	else
		snprintf(out, size, "%" PRIu64, value);
}

void fx_hdr_describe(const struct fx_hdr *h, size_t payload_len, char *out, size_t size)
{
	char op[32], type[32];

	fx_field_describe(FX_OP, h->f[FX_OP], op, sizeof(op));
	fx_field_describe(FX_TYPE, h->f[FX_TYPE], type, sizeof(type));
	snprintf(out, size, "%s %" PRIu64 ":%" PRIu64 " -> %" PRIu64 ":%" PRIu64 " len %" PRIu64
		 " type %s flags %#" PRIx64 " buf_alloc %" PRIu64 " fwd_cnt %" PRIu64 " (%zu payload bytes)",
		 op, h->f[FX_SRC_CID], h->f[FX_SRC_PORT], h->f[FX_DST_CID], h->f[FX_DST_PORT],
		 h->f[FX_LEN], type, h->f[FX_FLAGS], h->f[FX_BUF_ALLOC], h->f[FX_FWD_CNT], payload_len);
}

/* testcases/lib's parse, refusing what follows the patch number ("6.1.x", "6.1.192-1"). */
int fx_kver_parse(const char *text, struct vsc_kver *out)
{
	int n = 0, m = 0;

	if (vsc_kver_parse(text, out) || sscanf(text, "%*d.%*d%n", &n) < 0 || n == 0)
		return -1;
	if (text[n] == '.' && (sscanf(text + n + 1, "%*d%n", &m) < 0 || m == 0 ||
			       text[n + 1 + m] != '\0'))
		return -1;
	if (text[n] != '.' && text[n] != '\0')
		return -1;
	return out->major < 0 || out->minor < 0 || out->patch < 0 ? -1 : 0;
}

int fx_name_ok(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len >= FX_NAME_MAX || name[0] < 'a' || name[0] > 'z')
		return 0;
	for (size_t i = 1; i < len; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
		      name[i] == '_'))
			return 0;
	return 1;
}

#define FAIL(...) do { snprintf(err, err_size, __VA_ARGS__); return NULL; } while (0)

static uint64_t width_max(unsigned int width)
{
	return width >= 8 ? UINT64_MAX : (1ull << (8 * width)) - 1;
}

/*
 * A JSON integer or a "0x..." string within `width` bytes. json-c reads 2^64 and beyond as
 * UINT64_MAX without a word, so that one value cannot be told from an overflow; every other
 * bad number (negative, fractional, too wide) is refused here.
 */
static int parse_int(json_object *j, unsigned int width, const char *path, uint64_t *out,
		     char *err, size_t err_size)
{
	uint64_t v;

	if (json_object_is_type(j, json_type_int)) {
		if (json_object_get_int64(j) < 0) {
			snprintf(err, err_size, "%s: %s is negative", path, json_object_to_json_string(j));
			return -1;
		}
		v = json_object_get_uint64(j);
	} else if (json_object_is_type(j, json_type_string) &&
		   strncmp(json_object_get_string(j), "0x", 2) == 0) {
		const char *s = json_object_get_string(j) + 2;
		size_t len = strlen(s);

		if (len == 0 || len > 16 || len != (size_t)json_object_get_string_len(j) - 2 ||
		    strspn(s, "0123456789abcdefABCDEF") != len) {
			snprintf(err, err_size, "%s: \"0x%s\" is not a hexadecimal integer of up to 16 digits",
				 path, s);
			return -1;
		}
		v = strtoull(s, NULL, 16);
	} else {
		snprintf(err, err_size, "%s: %s is not an integer (a JSON number or a \"0x...\" string)",
			 path, json_object_to_json_string(j));
		return -1;
	}
	if (v > width_max(width)) {
		snprintf(err, err_size, "%s: %" PRIu64 " is wider than %u bytes (at most %#" PRIx64 ")",
			 path, v, width, width_max(width));
		return -1;
	}
	*out = v;
	return 0;
}

int fx_int_parse(void *json, unsigned int width, const char *path, uint64_t *out, char *err,
		 size_t err_size)
{
	return parse_int(json, width, path, out, err, err_size);
}

static const char *const flag_names[] = { "RCV", "SEND", "EOM", "EOR" };
static const uint64_t flag_bits[] = { 1, 2, 1, 2 };

/* Names that stand for numbers in one field: ops, types, flag lists. */
static int parse_named(json_object *j, int field, uint64_t *out)
{
	const char *s;

	if (field == FX_FLAGS && json_object_is_type(j, json_type_array)) {
		uint64_t bits = 0;
		size_t n = json_object_array_length(j);

		for (size_t i = 0; i < n; i++) {
			json_object *e = json_object_array_get_idx(j, i);
			size_t k;

			if (!json_object_is_type(e, json_type_string))
				return -1;
			for (k = 0; k < 4 && strcmp(json_object_get_string(e), flag_names[k]); k++)
				;
			if (k == 4)
				return -1;
			bits |= flag_bits[k];
		}
		*out = bits;
		return 0;
	}
	if (!json_object_is_type(j, json_type_string))
		return 1;
	s = json_object_get_string(j);
	if (field == FX_OP) {
		for (uint64_t k = 0; k < sizeof(op_names) / sizeof(op_names[0]); k++)
			if (strcmp(s, op_names[k]) == 0) {
				*out = k;
				return 0;
			}
	} else if (field == FX_TYPE) {
		if (strcmp(s, "stream") == 0 || strcmp(s, "seqpacket") == 0) {
			*out = strcmp(s, "stream") == 0 ? FX_TYPE_STREAM : FX_TYPE_SEQPACKET;
			return 0;
		}
	}
	return 1;
}

static struct fx_value *new_value(struct fx_arena *arena, enum fx_vkind kind)
{
	struct fx_value *v = fx_alloc(arena, sizeof(*v));

	v->kind = kind;
	return v;
}

/* "$kernel_cid", "$engine_cid", "$sock.port", "$capture". */
static int ref_ok(const char *s)
{
	char name[FX_NAME_MAX];
	const char *dot;

	if (s[0] != '$' || strlen(s + 1) >= FX_NAME_MAX)
		return 0;
	snprintf(name, sizeof(name), "%s", s + 1);
	dot = strchr(name, '.');
	if (dot) {
		if (strcmp(dot, ".port") != 0)
			return 0;
		name[dot - name] = '\0';
	}
	return fx_name_ok(name);
}

static struct fx_value *parse_rows(json_object *j, int field, unsigned int width, enum fx_vctx ctx,
				   const char *path, struct fx_arena *arena, char *err, size_t err_size)
{
	json_object *rows;
	struct fx_value *v;
	char sub[FX_PATH_MAX];
	size_t n;

	json_object_object_get_ex(j, "by_kernel", &rows);
	if (!json_object_is_type(rows, json_type_array) || (n = json_object_array_length(rows)) == 0 ||
	    n > FX_ROWS_MAX)
		FAIL("%s.by_kernel: an array of 1 to %d {\"from\", \"is\"} rows is due", path, FX_ROWS_MAX);
	v = new_value(arena, FX_V_BY_KERNEL);
	v->n_items = (int)n;
	v->items = fx_alloc(arena, n * sizeof(*v->items));
	v->versions = fx_alloc(arena, n * sizeof(*v->versions));
	for (size_t i = 0; i < n; i++) {
		json_object *row = json_object_array_get_idx(rows, i), *from = NULL, *is = NULL;

		snprintf(sub, sizeof(sub), "%s.by_kernel[%zu]", path, i);
		if (!json_object_is_type(row, json_type_object))
			FAIL("%s: an object {\"from\", \"is\"} is due", sub);
		json_object_object_foreach(row, key, val) {
			if (strcmp(key, "from") == 0)
				from = val;
			else if (strcmp(key, "is") == 0)
				is = val;
			else if (strcmp(key, "evidence") != 0 || !json_object_is_type(val, json_type_string))
				FAIL("%s: unknown key \"%s\"", sub, key);
		}
		if (!from || !is)
			FAIL("%s: \"from\" and \"is\" are due", sub);
		if (!json_object_is_type(from, json_type_string) ||
		    fx_kver_parse(json_object_get_string(from), &v->versions[i]) != 0)
			FAIL("%s.from: a version such as \"6.1\" or \"6.1.192\" is due", sub);
		if (i > 0 && vsc_kver_cmp(&v->versions[i - 1], &v->versions[i]) >= 0)
			FAIL("%s.from: rows must be in rising version order", sub);
		snprintf(sub + strlen(sub), sizeof(sub) - strlen(sub), ".is");
		v->items[i] = fx_value_parse(is, field, width, ctx, sub, arena, err, err_size);
		if (!v->items[i])
			return NULL;
	}
	return v;
}

static struct fx_value *parse_targets(json_object *j, int field, unsigned int width,
				      enum fx_vctx ctx, const char *path, struct fx_arena *arena,
				      char *err, size_t err_size)
{
	static const char *const names[2] = { "virtio_transport", "vhost_vsock" };
	json_object *t;
	struct fx_value *v = new_value(arena, FX_V_BY_TARGET);
	char sub[FX_PATH_MAX];

	json_object_object_get_ex(j, "by_target", &t);
	if (!json_object_is_type(t, json_type_object))
		FAIL("%s.by_target: an object {\"virtio_transport\", \"vhost_vsock\"} is due", path);
	json_object_object_foreach(t, key, val) {
		(void)val;
		if (strcmp(key, names[0]) && strcmp(key, names[1]))
			FAIL("%s.by_target: unknown key \"%s\"", path, key);
	}
	v->n_items = 2;
	v->items = fx_alloc(arena, 2 * sizeof(*v->items));
	for (int i = 0; i < 2; i++) {
		json_object *e;

		snprintf(sub, sizeof(sub), "%s.by_target.%s", path, names[i]);
		if (!json_object_object_get_ex(t, names[i], &e))
			FAIL("%s: missing", sub);
		v->items[i] = fx_value_parse(e, field, width, ctx, sub, arena, err, err_size);
		if (!v->items[i])
			return NULL;
	}
	return v;
}

static struct fx_value *parse_matcher_object(json_object *j, int field, unsigned int width,
					     const char *path, struct fx_arena *arena, char *err,
					     size_t err_size)
{
	struct fx_value *v;
	json_object *e;
	char sub[FX_PATH_MAX];

	if (json_object_object_length(j) != 1)
		FAIL("%s: a matcher object has exactly one key (range, one_of, credit, capture, by_kernel, by_target)",
		     path);
	if (json_object_object_get_ex(j, "range", &e)) {
		v = new_value(arena, FX_V_RANGE);
		snprintf(sub, sizeof(sub), "%s.range", path);
		if (!json_object_is_type(e, json_type_array) || json_object_array_length(e) != 2)
			FAIL("%s: [lo, hi] is due", sub);
		snprintf(sub, sizeof(sub), "%s.range[0]", path);
		if (parse_int(json_object_array_get_idx(e, 0), width, sub, &v->lo, err, err_size))
			return NULL;
		snprintf(sub, sizeof(sub), "%s.range[1]", path);
		if (parse_int(json_object_array_get_idx(e, 1), width, sub, &v->hi, err, err_size))
			return NULL;
		if (v->lo > v->hi)
			FAIL("%s.range: lo %" PRIu64 " is above hi %" PRIu64, path, v->lo, v->hi);
		return v;
	}
	if (json_object_object_get_ex(j, "one_of", &e)) {
		size_t n;

		if (!json_object_is_type(e, json_type_array) || (n = json_object_array_length(e)) == 0 ||
		    n > FX_ONE_OF_MAX)
			FAIL("%s.one_of: an array of 1 to %d matchers is due", path, FX_ONE_OF_MAX);
		v = new_value(arena, FX_V_ONE_OF);
		v->n_items = (int)n;
		v->items = fx_alloc(arena, n * sizeof(*v->items));
		for (size_t i = 0; i < n; i++) {
			snprintf(sub, sizeof(sub), "%s.one_of[%zu]", path, i);
			v->items[i] = fx_value_parse(json_object_array_get_idx(e, i), field, width,
						     FX_VC_MATCH, sub, arena, err, err_size);
			if (!v->items[i])
				return NULL;
		}
		return v;
	}
	if (json_object_object_get_ex(j, "credit", &e)) {
		if (field != FX_BUF_ALLOC && field != FX_FWD_CNT)
			FAIL("%s.credit: only buf_alloc and fwd_cnt have a credit matcher", path);
		if (!json_object_is_type(e, json_type_string) ||
		    strcmp(json_object_get_string(e), "consistent"))
			FAIL("%s.credit: \"consistent\" is due", path);
		return new_value(arena, FX_V_CREDIT);
	}
	if (json_object_object_get_ex(j, "capture", &e)) {
		if (!json_object_is_type(e, json_type_string) || !fx_name_ok(json_object_get_string(e)) ||
		    !strcmp(json_object_get_string(e), "kernel_cid") ||
		    !strcmp(json_object_get_string(e), "engine_cid"))
			FAIL("%s.capture: a name such as \"peer_port\" is due", path);
		v = new_value(arena, FX_V_CAPTURE);
		snprintf(v->name, sizeof(v->name), "%s", json_object_get_string(e));
		return v;
	}
	FAIL("%s: not a matcher", path);
}

struct fx_value *fx_value_parse(void *json, int field, unsigned int width, enum fx_vctx ctx,
				const char *path, struct fx_arena *arena, char *err, size_t err_size)
{
	json_object *j = json;
	struct fx_value *v;
	uint64_t n;

	if (field >= 0)
		width = fx_fields[field].width;
	if (json_object_is_type(j, json_type_object)) {
		if (json_object_object_get_ex(j, "by_kernel", NULL) && json_object_object_length(j) == 1)
			return parse_rows(j, field, width, ctx, path, arena, err, err_size);
		if (json_object_object_get_ex(j, "by_target", NULL) && json_object_object_length(j) == 1)
			return parse_targets(j, field, width, ctx, path, arena, err, err_size);
		if (ctx == FX_VC_MATCH) {
			json_object_object_foreach(j, key, val) {
				(void)val;
				if (strcmp(key, "range") && strcmp(key, "one_of") && strcmp(key, "credit") &&
				    strcmp(key, "capture"))
					FAIL("%s: unknown matcher key \"%s\"", path, key);
			}
			return parse_matcher_object(j, field, width, path, arena, err, err_size);
		}
		FAIL("%s: an integer, a \"$reference\", by_kernel or by_target is due here", path);
	}
	if (field >= 0) {
		int named = parse_named(j, field, &n);

		if (named == 0) {
			v = new_value(arena, FX_V_INT);
			v->n = n;
			return v;
		}
		if (named < 0)
			FAIL("%s: flags names are RCV, SEND (SHUTDOWN) and EOM, EOR (SEQPACKET RW)", path);
	}
	if (json_object_is_type(j, json_type_string)) {
		const char *s = json_object_get_string(j);

		if (ctx == FX_VC_MATCH && strcmp(s, "any") == 0)
			return new_value(arena, FX_V_ANY);
		if (s[0] == '$') {
			if (!ref_ok(s))
				FAIL("%s: \"%s\" is not a reference ($kernel_cid, $engine_cid, $sock.port, $capture)",
				     path, s);
			v = new_value(arena, FX_V_REF);
			snprintf(v->name, sizeof(v->name), "%s", s + 1);
			return v;
		}
		if (strncmp(s, "0x", 2) != 0) {
			if (field == FX_OP)
				FAIL("%s: unknown op \"%s\"", path, s);
			if (field == FX_TYPE)
				FAIL("%s: unknown type \"%s\" (stream, seqpacket or a number)", path, s);
			FAIL("%s: \"%s\" is not an integer, a \"0x...\" string or a \"$reference\"", path, s);
		}
	}
	v = new_value(arena, FX_V_INT);
	if (parse_int(j, width, path, &v->n, err, err_size))
		return NULL;
	return v;
}

/* One piece: appends to buf (capacity max) or fails naming path. */
static int payload_piece(json_object *j, uint8_t *buf, size_t *len, size_t max, const char *path,
			 char *err, size_t err_size)
{
	if (json_object_is_type(j, json_type_string)) {
		size_t n = (size_t)json_object_get_string_len(j);

		if (n > max - *len) {
			snprintf(err, err_size, "%s: the payload is longer than %zu bytes", path, max);
			return -1;
		}
		memcpy(buf + *len, json_object_get_string(j), n);
		*len += n;
		return 0;
	}
	if (json_object_is_type(j, json_type_object)) {
		json_object *hex = NULL, *byte = NULL, *n = NULL;
		char sub[FX_PATH_MAX];

		json_object_object_foreach(j, key, val) {
			if (strcmp(key, "hex") == 0)
				hex = val;
			else if (strcmp(key, "byte") == 0)
				byte = val;
			else if (strcmp(key, "len") == 0)
				n = val;
			else {
				snprintf(err, err_size, "%s: unknown key \"%s\" (a piece is {\"hex\"} or {\"byte\", \"len\"})",
					 path, key);
				return -1;
			}
		}
		if (hex && !byte && !n) {
			const char *s = json_object_get_string(hex);
			size_t sl = json_object_is_type(hex, json_type_string) ?
				(size_t)json_object_get_string_len(hex) : 1;

			if (sl % 2) {
				snprintf(err, err_size, "%s.hex: an even number of hex digits is due", path);
				return -1;
			}
			if (sl / 2 > max - *len) {
				snprintf(err, err_size, "%s: the payload is longer than %zu bytes", path, max);
				return -1;
			}
			for (size_t i = 0; i < sl; i += 2) {
				int hi = vsc_hex_digit(s[i]), lo = vsc_hex_digit(s[i + 1]);

				if (hi < 0 || lo < 0) {
					snprintf(err, err_size, "%s.hex: \"%c%c\" at %zu is not hexadecimal",
						 path, s[i], s[i + 1], i);
					return -1;
				}
				buf[(*len)++] = (uint8_t)(hi << 4 | lo);
			}
			return 0;
		}
		if (byte && n && !hex) {
			uint64_t b, count;

			snprintf(sub, sizeof(sub), "%s.byte", path);
			if (parse_int(byte, 1, sub, &b, err, err_size))
				return -1;
			snprintf(sub, sizeof(sub), "%s.len", path);
			if (parse_int(n, 4, sub, &count, err, err_size))
				return -1;
			if (count > max - *len) {
				snprintf(err, err_size, "%s: the payload is longer than %zu bytes", path, max);
				return -1;
			}
			memset(buf + *len, (int)b, count);
			*len += count;
			return 0;
		}
	}
	snprintf(err, err_size, "%s: a payload is \"text\", {\"hex\": \"..\"}, {\"byte\": B, \"len\": N} or an array of these",
		 path);
	return -1;
}

struct fx_payload *fx_payload_parse(void *json, size_t max, const char *path,
				    struct fx_arena *arena, char *err, size_t err_size)
{
	json_object *j = json;
	struct fx_payload *p = fx_alloc(arena, sizeof(*p));
	uint8_t *buf = malloc(max ? max : 1);
	char sub[FX_PATH_MAX];
	int rc = 0;

	if (!buf) {
		snprintf(err, err_size, "%s: out of memory", path);
		return NULL;
	}
	if (json_object_is_type(j, json_type_array)) {
		size_t n = json_object_array_length(j);

		if (n == 0) {
			snprintf(err, err_size, "%s: an empty array (write \"\" for no bytes)", path);
			rc = -1;
		}
		for (size_t i = 0; i < n && rc == 0; i++) {
			snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
			rc = payload_piece(json_object_array_get_idx(j, i), buf, &p->len, max, sub,
					   err, err_size);
		}
	} else {
		rc = payload_piece(j, buf, &p->len, max, path, err, err_size);
	}
	if (rc == 0) {
		p->bytes = fx_alloc(arena, p->len ? p->len : 1);
		memcpy(p->bytes, buf, p->len);
	}
	free(buf);
	return rc == 0 ? p : NULL;
}

/* ---- evaluation ---- */

const struct fx_value *fx_value_select(const struct fx_value *v, const struct fx_eval *ev,
				       char *why, size_t why_size)
{
	while (v && (v->kind == FX_V_BY_KERNEL || v->kind == FX_V_BY_TARGET)) {
		if (v->kind == FX_V_BY_TARGET) {
			v = v->items[strcmp(ev->target, "vhost_vsock") == 0 ? 1 : 0];
			continue;
		}
		const struct fx_value *row = NULL;

		for (int i = 0; i < v->n_items; i++)
			if (vsc_kver_cmp(&v->versions[i], &ev->kernel) <= 0)
				row = v->items[i];
		if (!row) {
			snprintf(why, why_size, "no by_kernel row holds for kernel %d.%d.%d (the first is from %d.%d.%d)",
				 ev->kernel.major, ev->kernel.minor, ev->kernel.patch,
				 v->versions[0].major, v->versions[0].minor, v->versions[0].patch);
			return NULL;
		}
		v = row;
	}
	return v;
}

int fx_value_get(const struct fx_value *v, const struct fx_eval *ev, uint64_t *out, char *why,
		 size_t why_size)
{
	v = fx_value_select(v, ev, why, why_size);
	if (!v)
		return -1;
	if (v->kind == FX_V_INT) {
		*out = v->n;
		return 0;
	}
	if (v->kind == FX_V_REF)
		return ev->resolve(ev->ctx, v->name, out, why, why_size);
	snprintf(why, why_size, "a matcher where a value is due");
	return -1;
}

void fx_value_describe(const struct fx_value *v, int field, char *out, size_t size)
{
	char a[64];
	size_t used;

	switch (v->kind) {
	case FX_V_INT:
		fx_field_describe(field, v->n, out, size);
		return;
	case FX_V_REF:
		snprintf(out, size, "$%s", v->name);
		return;
	case FX_V_ANY:
		snprintf(out, size, "any");
		return;
	case FX_V_RANGE:
		snprintf(out, size, "in [%" PRIu64 ", %" PRIu64 "]", v->lo, v->hi);
		return;
	case FX_V_CREDIT:
		snprintf(out, size, "consistent credit");
		return;
	case FX_V_CAPTURE:
		snprintf(out, size, "capture %s", v->name);
		return;
	case FX_V_ONE_OF:
		used = (size_t)snprintf(out, size, "one of [");
		for (int i = 0; i < v->n_items && used < size; i++) {
			fx_value_describe(v->items[i], field, a, sizeof(a));
			used += (size_t)snprintf(out + used, size - used, "%s%s", i ? ", " : "", a);
		}
		if (used < size)
			snprintf(out + used, size - used, "]");
		return;
	case FX_V_BY_KERNEL:
	case FX_V_BY_TARGET:
		snprintf(out, size, "%s", v->kind == FX_V_BY_KERNEL ? "by_kernel" : "by_target");
		return;
	}
}

int fx_value_match(const struct fx_value *v, struct fx_eval *ev, int field, uint64_t got,
		   char *why, size_t why_size)
{
	char want[256];
	uint64_t n;
	int rc;

	v = fx_value_select(v, ev, why, why_size);
	if (!v)
		return -1;
	switch (v->kind) {
	case FX_V_ANY:
		return 1;
	case FX_V_INT:
	case FX_V_REF:
		if (fx_value_get(v, ev, &n, why, why_size))
			return -1;
		if (n == got)
			return 1;
		fx_field_describe(field, n, want, sizeof(want));
		if (v->kind == FX_V_REF)
			snprintf(why, why_size, "want $%s = %s", v->name, want);
		else
			snprintf(why, why_size, "want %s", want);
		return 0;
	case FX_V_RANGE:
		if (got >= v->lo && got <= v->hi)
			return 1;
		snprintf(why, why_size, "want in [%" PRIu64 ", %" PRIu64 "]", v->lo, v->hi);
		return 0;
	case FX_V_ONE_OF:
		for (int i = 0; i < v->n_items; i++) {
			rc = fx_value_match(v->items[i], ev, field, got, why, why_size);
			if (rc != 0)
				return rc;
		}
		fx_value_describe(v, field, want, sizeof(want));
		snprintf(why, why_size, "want %s", want);
		return 0;
	case FX_V_CREDIT:
		return ev->credit(ev->ctx, field, got, why, why_size);
	case FX_V_CAPTURE:
		for (int i = 0; i < ev->n_pending; i++)
			if (strcmp(ev->pending[i].name, v->name) == 0) {
				if (ev->pending[i].value == got)
					return 1;
				snprintf(why, why_size, "want %" PRIu64 " as captured in this packet",
					 ev->pending[i].value);
				return 0;
			}
		if (ev->n_pending >= ev->max_pending) {
			snprintf(why, why_size, "more than %d captures in one packet", ev->max_pending);
			return -1;
		}
		snprintf(ev->pending[ev->n_pending].name, FX_NAME_MAX, "%s", v->name);
		ev->pending[ev->n_pending++].value = got;
		return 1;
	case FX_V_BY_KERNEL:
	case FX_V_BY_TARGET:
		break;
	}
	snprintf(why, why_size, "internal: unselected by_kernel");
	return -1;
}
