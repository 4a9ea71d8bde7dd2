/*
 * table.c - the table writer of table.h: one set of cells per row, written
 * as aligned text, a JSON array, JSON lines or CSV.
 */
#include "table.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "jsonout.h"
#include "util.h"

static const char *const names[] = {"text", "json", "csv", "jsonl"};
static const enum out_format fmts[] = {OUT_TEXT, OUT_JSON, OUT_CSV, OUT_JSONL};

int out_format_parse(const char *s)
{
	for (size_t i = 0; i < 4; i++)
		if (s && !strcmp(s, names[i]))
			return (int)fmts[i];
	return -1;
}

const char *out_format_name(enum out_format f)
{
	for (size_t i = 0; i < 4; i++)
		if (fmts[i] == f)
			return names[i];
	return "?";
}

void table_init(struct table *t, enum out_format fmt, const struct tcol *cols, size_t ncols, FILE *f)
{
	memset(t, 0, sizeof(*t));
	t->fmt = fmt;
	t->cols = cols;
	t->ncols = ncols;
	t->f = f;
	if (fmt == OUT_JSON)
		t->arr = json_array();
	if (fmt == OUT_CSV)
		t->csv = xcalloc(ncols, sizeof(char *));
}

void table_release(struct table *t)
{
	for (size_t i = 0; t->cells && i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	if (t->csv)
		for (size_t i = 0; i < t->ncols; i++)
			free(t->csv[i]);
	free(t->csv);
	json_decref(t->arr);
	json_decref(t->row);
	memset(t, 0, sizeof(*t));
}

/* Stores one cell: text (NULL = not measured) and its JSON value (stolen). */
static void put(struct table *t, const char *text, json_t *jv)
{
	const struct tcol *c;
	if (t->col >= t->ncols) {
		json_decref(jv);
		return;
	}
	c = &t->cols[t->col];
	if (t->fmt == OUT_TEXT) {
		if (t->col == 0 && t->nrows == t->cap) {
			t->cap = t->cap ? t->cap * 2 : 16;
			t->cells = xrealloc(t->cells, t->cap * t->ncols * sizeof(char *));
		}
		t->cells[t->nrows * t->ncols + t->col] = xstrdup(text ? text : "-");
		json_decref(jv);
	} else if (t->fmt == OUT_CSV) {
		free(t->csv[t->col]);
		t->csv[t->col] = text ? xstrdup(text) : NULL;
		json_decref(jv);
	} else {
		if (!t->row)
			t->row = json_object();
		if (c->where & TCOL_JSON)
			json_object_set_new(t->row, c->name, jv);
		else
			json_decref(jv);
	}
	t->col++;
}

void table_strn(struct table *t, const char *s, size_t len)
{
	char *clean, *text;
	size_t n, k = 0;
	json_t *jv;

	if (!s) {
		put(t, NULL, json_null());
		return;
	}
	/* nothing printed holds a secret (util.h) */
	clean = secret_scrub(s, len, &n);
	if (clean)
		s = clean;
	else
		n = len;
	jv = json_stringn(s, n);
	if (!jv)
		jv = json_stringn_nocheck(s, n);
	if (!memchr(s, 0, n)) {
		put(t, s, jv);
		free(clean);
		return;
	}
	/* text and CSV have no NUL: written as the two characters \0 (JSON keeps \u0000) */
	text = xmalloc(2 * n + 1);
	for (size_t i = 0; i < n; i++) {
		if (s[i]) {
			text[k++] = s[i];
		} else {
			text[k++] = '\\';
			text[k++] = '0';
		}
	}
	text[k] = 0;
	put(t, text, jv);
	free(text);
	free(clean);
}

void table_str(struct table *t, const char *s)
{
	table_strn(t, s, s ? strlen(s) : 0);
}

void table_int(struct table *t, long long v)
{
	char b[32];
	snprintf(b, sizeof(b), "%lld", v);
	put(t, b, json_integer(v));
}

void table_real(struct table *t, double v)
{
	char b[64];
	const struct tcol *c = t->col < t->ncols ? &t->cols[t->col] : NULL;
	if (!isfinite(v)) {
		put(t, NULL, json_null());
		return;
	}
	if (t->fmt == OUT_CSV) {
		snprintf(b, sizeof(b), "%.15g", v);
		if (strtod(b, NULL) != v)
			snprintf(b, sizeof(b), "%.17g", v);
	} else
		snprintf(b, sizeof(b), c && c->fmt ? c->fmt : "%.4g", v);
	put(t, b, json_real(v));
}

void table_null(struct table *t)
{
	put(t, NULL, json_null());
}

void table_count(struct table *t, long long v)
{
	if (v < 0)
		table_null(t);
	else
		table_int(t, v);
}

void table_cell(struct table *t, const char *text, json_t *v)
{
	put(t, text, v ? v : json_null());
}

static void csv_field(FILE *f, int first, const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (!first)
		fputc(',', f);
	if (!n)
		return;
	if (!strpbrk(s, ",\"\r\n") && s[0] != ' ' && s[n - 1] != ' ') {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

static void csv_header(struct table *t)
{
	int first = 1;
	for (size_t i = 0; i < t->ncols; i++)
		if (t->cols[i].where & TCOL_CSV) {
			csv_field(t->f, first, t->cols[i].name);
			first = 0;
		}
	fputc('\n', t->f);
}

void table_end_row(struct table *t)
{
	while (t->col < t->ncols)
		table_null(t);
	if (t->fmt == OUT_TEXT) {
		t->nrows++;
	} else if (t->fmt == OUT_CSV) {
		int first = 1;
		if (!t->nrows)
			csv_header(t);
		for (size_t i = 0; i < t->ncols; i++)
			if (t->cols[i].where & TCOL_CSV) {
				csv_field(t->f, first, t->csv[i]);
				first = 0;
			}
		fputc('\n', t->f);
		t->nrows++;
	} else if (t->fmt == OUT_JSONL) {
		json_dumpf(t->row, t->f, JSON_COMPACT | JSON_REAL_PRECISION(10));
		fputc('\n', t->f);
		json_decref(t->row);
		t->nrows++;
	} else {
		json_array_append_new(t->arr, t->row);
		t->nrows++;
	}
	t->row = NULL;
	t->col = 0;
}

static void title_of(const struct tcol *c, char *out, size_t n)
{
	size_t i;
	if (c->title) {
		snprintf(out, n, "%s", c->title);
		return;
	}
	for (i = 0; c->name[i] && i + 1 < n; i++)
		out[i] = (char)toupper((unsigned char)c->name[i]);
	out[i] = 0;
}

static void write_text(struct table *t)
{
	size_t *w = xcalloc(t->ncols, sizeof(size_t));
	char title[64];
	for (size_t c = 0; c < t->ncols; c++) {
		title_of(&t->cols[c], title, sizeof(title));
		w[c] = strlen(title);
		for (size_t r = 0; r < t->nrows; r++)
			if (strlen(t->cells[r * t->ncols + c]) > w[c])
				w[c] = strlen(t->cells[r * t->ncols + c]);
	}
	size_t last = 0;
	for (size_t c = 0; c < t->ncols; c++)
		if (t->cols[c].where & TCOL_TEXT)
			last = c;
	for (long r = -1; r < (long)t->nrows; r++) {
		int first = 1;
		for (size_t c = 0; c < t->ncols; c++) {
			const char *s;
			int right = (t->cols[c].type != TCOL_STR && !(t->cols[c].where & TCOL_LEFT)) ||
				    (t->cols[c].where & TCOL_RIGHT);
			if (!(t->cols[c].where & TCOL_TEXT))
				continue;
			if (r < 0) {
				title_of(&t->cols[c], title, sizeof(title));
				s = title;
			} else
				s = t->cells[(size_t)r * t->ncols + c];
			if (c == last && !right) /* no trailing blanks */
				fprintf(t->f, "%s%s", first ? "" : " ", s);
			else
				fprintf(t->f, "%s%*s", first ? "" : " ", right ? (int)w[c] : -(int)w[c], s);
			first = 0;
		}
		fputc('\n', t->f);
	}
	free(w);
}

long table_finish(struct table *t)
{
	if (t->fmt == OUT_TEXT && t->nrows)
		write_text(t);
	else if (t->fmt == OUT_JSON) {
		json_dumpf(t->arr, t->f, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
		fputc('\n', t->f);
	} else if (t->fmt == OUT_CSV && !t->nrows)
		csv_header(t);
	return fflush(t->f) || ferror(t->f) ? -1 : (long)t->nrows;
}
