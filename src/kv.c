/*
 * kv.c - key/value files (kv.h): JSON objects through jansson, text lines by
 * hand so every error can name its line.
 */
#include "kv.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "util.h"

void kv_table_release(struct kv_table *t)
{
	for (size_t i = 0; t->e && i < t->n; i++)
		free(t->e[i].key);
	free(t->e);
	t->e = NULL;
	t->n = 0;
}

const struct kv_entry *kv_find(const struct kv_table *t, const char *key)
{
	for (size_t i = 0; key && i < t->n; i++)
		if (!strcmp(t->e[i].key, key))
			return &t->e[i];
	return NULL;
}

int kv_number(const struct kv_spec *spec, const char *s, double *out)
{
	char *end;
	double v;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s)
		return -1;
	if (spec->counts && *end) {
		const char *suf = strchr("kKmMbBtT", *end);
		static const double mult[] = {1e3, 1e3, 1e6, 1e6, 1e9, 1e9, 1e12, 1e12};
		if (suf) {
			v *= mult[suf - "kKmMbBtT"];
			end++;
		}
	}
	while (isspace((unsigned char)*end))
		end++;
	if (*end || !isfinite(v) || v < 0)
		return -1;
	*out = v;
	return 0;
}

static int add(struct kv_table *t, const struct kv_spec *spec, const char *key, const double *v, int line,
	       const char *path, char *err, size_t errlen)
{
	if (spec->unique && kv_find(t, key)) {
		if (line)
			return err_set(err, errlen, "%s:%d: '%s' is given twice", path, line, key);
		return err_set(err, errlen, "%s: '%s' is given twice", path, key);
	}
	t->e = xrealloc(t->e, (t->n + 1) * sizeof(*t->e));
	t->e[t->n].key = xstrdup(key);
	for (int j = 0; j < KV_MAXVAL; j++)
		t->e[t->n].v[j] = j < spec->nval ? v[j] : NAN;
	t->e[t->n].line = line;
	t->n++;
	return 0;
}

static int json_num(const struct kv_spec *spec, json_t *v, double *out)
{
	if (json_is_number(v)) {
		*out = json_number_value(v);
		return isfinite(*out) && *out >= 0 ? 0 : -1;
	}
	if (spec->counts && json_is_string(v))
		return kv_number(spec, json_string_value(v), out);
	return -1;
}

/* The numbers of one JSON value: a number, or for nval == 2 an object with names[] or a 2-array. */
static int json_values(const struct kv_spec *spec, json_t *v, double *out)
{
	if (spec->nval == 1)
		return json_num(spec, v, &out[0]);
	if (json_is_object(v))
		return json_num(spec, json_object_get(v, spec->names[0]), &out[0]) ||
		       json_num(spec, json_object_get(v, spec->names[1]), &out[1]) ? -1 : 0;
	if (json_is_array(v) && json_array_size(v) == 2)
		return json_num(spec, json_array_get(v, 0), &out[0]) ||
		       json_num(spec, json_array_get(v, 1), &out[1]) ? -1 : 0;
	return -1;
}

static int read_json(const char *path, const char *text, const struct kv_spec *spec, struct kv_table *t,
		     char *err, size_t errlen)
{
	json_error_t je;
	json_t *root = json_loads(text, 0, &je), *v;
	const char *key;
	int rc = 0;

	if (!root)
		return err_set(err, errlen, "%s:%d: not valid JSON: %s", path, je.line, je.text);
	if (!json_is_object(root))
		rc = err_set(err, errlen, "%s: expected a JSON object {\"key\": %s}", path, spec->json_form);
	json_object_foreach(root, key, v) {
		double val[KV_MAXVAL] = {NAN, NAN};
		if (rc < 0)
			break;
		if (json_values(spec, v, val) < 0)
			rc = err_set(err, errlen, "%s: the %s of '%s' must be %s", path, spec->what, key, spec->json_form);
		else
			rc = add(t, spec, key, val, 0, path, err, errlen);
	}
	json_decref(root);
	return rc;
}

/* Splits a text line into fields; returns their number (nval + 2 at most: more is an error anyway). */
static int fields(const struct kv_spec *spec, char *l, char **f)
{
	char *save = NULL, *sep;
	int nf = 0;

	if (spec->key_blanks) {
		if (!(sep = strrchr(l, '\t')) && !(sep = strrchr(l, ',')))
			return 1;
		*sep = 0;
		f[0] = l;
		f[1] = sep + 1;
		return 2;
	}
	for (char *tk = strtok_r(l, " \t,", &save); tk && nf < KV_MAXVAL + 2; tk = strtok_r(NULL, " \t,", &save))
		f[nf++] = tk;
	return nf;
}

static int read_line(const char *path, int line, char *l, const struct kv_spec *spec, struct kv_table *t,
		     char *err, size_t errlen)
{
	char *f[KV_MAXVAL + 2];
	double val[KV_MAXVAL] = {NAN, NAN};
	int nf;

	l[strcspn(l, "\r")] = 0;
	if (!spec->key_blanks)
		l[strcspn(l, "#")] = 0;
	while (isspace((unsigned char)*l))
		l++;
	if (!*l || *l == '#')
		return 0;
	nf = fields(spec, l, f);
	if (nf != spec->nval + 1)
		return err_set(err, errlen, "%s:%d: expected '%s'", path, line, spec->line_form);
	for (int j = 0; j < spec->nval; j++)
		if (kv_number(spec, f[j + 1], &val[j]) < 0)
			return err_set(err, errlen, "%s:%d: '%s' is not %s (expected '%s')", path, line, f[j + 1],
				       spec->json_form, spec->line_form);
	return add(t, spec, f[0], val, line, path, err, errlen);
}

static int read_text(const char *path, char *text, const struct kv_spec *spec, struct kv_table *t, char *err,
		     size_t errlen)
{
	int line = 0;
	/* strtok_r would merge empty lines and lose line numbers: walk by hand */
	for (char *l = text; l && *l;) {
		char *nl = strchr(l, '\n');
		if (nl)
			*nl = 0;
		line++;
		if (read_line(path, line, l, spec, t, err, errlen) < 0)
			return -1;
		l = nl ? nl + 1 : NULL;
	}
	return 0;
}

/* Parses text (NUL-terminated, modified) read from path. */
static int parse(const char *path, char *text, const struct kv_spec *spec, struct kv_table *t, char *err,
		 size_t errlen)
{
	const char *p;
	int rc;

	t->e = NULL;
	t->n = 0;
	if (spec->nval < 1 || spec->nval > KV_MAXVAL)
		return err_set(err, errlen, "%s: 1 to %d values per key (got %d)", path, KV_MAXVAL, spec->nval);
	for (p = text; isspace((unsigned char)*p); p++)
		;
	if (*p == '{' || *p == '[')
		rc = read_json(path, text, spec, t, err, errlen);
	else
		rc = read_text(path, text, spec, t, err, errlen);
	if (rc < 0)
		kv_table_release(t);
	return rc;
}

int kv_read_mem(const char *name, const char *text, size_t len, const struct kv_spec *spec, struct kv_table *t,
		char *err, size_t errlen)
{
	char *copy = xmalloc(len + 1);
	int rc;
	memcpy(copy, text, len);
	copy[len] = 0;
	rc = parse(name, copy, spec, t, err, errlen);
	free(copy);
	return rc;
}

int kv_read(const char *path, const struct kv_spec *spec, struct kv_table *t, char *err, size_t errlen)
{
	char *text = NULL;
	size_t len;
	int rc;

	t->e = NULL;
	t->n = 0;
	if (read_file(path, &text, &len, err, errlen) < 0)
		return -1;
	rc = parse(path, text, spec, t, err, errlen);
	free(text);
	return rc;
}
