/*
 * fx_load.c: a fixture file → struct fx_fixture: read, parse as strict JSON (errors by line and
 * column), then the object form to fx_json_fixture.c and the array form to fx_legacy.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "fx_json.h"

static void line_col(const char *text, size_t offset, int *line, int *col)
{
	*line = 1;
	*col = 1;
	for (size_t i = 0; i < offset && text[i]; i++) {
		if (text[i] == '\n') {
			(*line)++;
			*col = 1;
		} else {
			(*col)++;
		}
	}
}

/* The file's text, at most FX_FILE_MAX bytes, NUL-terminated. */
static char *read_text(const char *file, size_t *len, char *err, size_t err_size)
{
	FILE *f = fopen(file, "re");
	char *text;

	if (!f) {
		snprintf(err, err_size, "cannot open: %s", strerror(errno));
		return NULL;
	}
	text = malloc(FX_FILE_MAX + 1);
	if (!text) {
		fclose(f);
		snprintf(err, err_size, "out of memory");
		return NULL;
	}
	*len = fread(text, 1, FX_FILE_MAX + 1, f);
	if (ferror(f) || *len > FX_FILE_MAX) {
		snprintf(err, err_size, ferror(f) ? "cannot read" : "larger than %u bytes", FX_FILE_MAX);
		free(text);
		fclose(f);
		return NULL;
	}
	fclose(f);
	text[*len] = '\0';
	return text;
}

void fx_file_stem(const char *file, char *stem, size_t size)
{
	const char *base = strrchr(file, '/');
	char *dot;

	snprintf(stem, size, "%s", base ? base + 1 : file);
	dot = strrchr(stem, '.');
	if (dot && dot != stem)
		*dot = '\0';
}

int fx_load(const char *file, struct fx_fixture *fx, struct fx_arena *arena, char *err,
	    size_t err_size)
{
	struct fx_loader l = { fx, arena, err, err_size };
	struct json_tokener *tok;
	json_object *root;
	char stem[FX_NAME_MAX * 2];
	size_t len, end;
	char *text;
	int rc, line, col;

	memset(fx, 0, sizeof(*fx));
	fx_file_stem(file, stem, sizeof(stem));
	text = read_text(file, &len, err, err_size);
	if (!text)
		return -1;
	tok = json_tokener_new_ex(64);
	if (!tok) {
		free(text);
		snprintf(err, err_size, "out of memory");
		return -1;
	}
	/* Strict: no comments, no trailing commas, no bare words. */
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	root = json_tokener_parse_ex(tok, text, (int)len);
	end = json_tokener_get_parse_end(tok);
	if (!root) {
		enum json_tokener_error jerr = json_tokener_get_error(tok);

		line_col(text, end, &line, &col);
		snprintf(err, err_size, "line %d column %d: %s", line, col,
			 jerr == json_tokener_continue ? "unexpected end of file" :
			 json_tokener_error_desc(jerr));
		json_tokener_free(tok);
		free(text);
		return -1;
	}
	json_tokener_free(tok);
	while (end < len && strchr(" \t\r\n", text[end]))
		end++;
	if (end < len) {
		line_col(text, end, &line, &col);
		snprintf(err, err_size, "line %d column %d: text after the JSON value", line, col);
		json_object_put(root);
		free(text);
		return -1;
	}
	free(text);
	if (json_object_is_type(root, json_type_array))
		rc = fx_legacy_convert(root, stem, fx, arena, err, err_size);
	else if (json_object_is_type(root, json_type_object))
		rc = fx_parse_fixture(&l, root, stem);
	else {
		snprintf(err, err_size, "$: an object (format vsockcheck-fixture/1) or an array (QEMU's format) is due");
		rc = -1;
	}
	json_object_put(root);
	return rc;
}
