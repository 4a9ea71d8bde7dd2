/*
 * dataset.c - loads evaluation items from native JSONL, from the released
 * harness's schema (detected per file) or from the built-in set embedded by
 * dataset_builtin.S; shuffles (splitmix64 + Fisher-Yates), limits, and
 * builds the user message for an item. Formats: docs/datasets.md.
 */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "adapters.h"
#include "dataset.h"
#include "grade.h"
#include "refsuite.h"
#include "rng.h"
#include "util.h"

/* The built-in set (data/builtin.jsonl), embedded by src/dataset_builtin.S. */
extern const char ipw_builtin_dataset[];
extern const char ipw_builtin_dataset_end[];

#define MAX_CHOICES 26

static const char *const task_names[] = {
	[TASK_MCQ] = "mcq",
	[TASK_NUMERIC] = "numeric",
	[TASK_EXACT] = "exact",
	[TASK_REGEX] = "regex",
	[TASK_JUDGE_REFERENCE] = "judge_reference",
	[TASK_JUDGE_PAIRWISE] = "judge_pairwise",
	[TASK_NONE] = "none",
};

#define NTASKS ((int)(sizeof(task_names) / sizeof(task_names[0])))

const char *task_name(enum task t)
{
	return (int)t >= 0 && (int)t < NTASKS ? task_names[t] : "unknown";
}

int task_parse(const char *s, enum task *out)
{
	for (int i = 0; s && i < NTASKS; i++)
		if (!strcmp(s, task_names[i])) {
			*out = (enum task)i;
			return 0;
		}
	return -1;
}

static void item_release(struct item *it)
{
	free(it->id);
	free(it->problem);
	free(it->answer);
	free(it->subject);
	for (int i = 0; i < it->nchoices; i++)
		free(it->choices[i]);
	free(it->choices);
	free(it->reference_response);
	free(it->metadata);
	memset(it, 0, sizeof(*it));
}

void dataset_release(struct dataset *ds)
{
	if (!ds)
		return;
	for (size_t i = 0; i < ds->n; i++)
		item_release(&ds->items[i]);
	free(ds->items);
	free(ds->path);
	free(ds->format);
	memset(ds, 0, sizeof(*ds));
}

static const char *json_type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "an array";
	case JSON_STRING: return "a string";
	case JSON_INTEGER: return "an integer";
	case JSON_REAL: return "a number";
	case JSON_TRUE:
	case JSON_FALSE: return "a boolean";
	case JSON_NULL: return "null";
	}
	return "a value";
}

/* Where an error is: "FILE:LINE". */
struct loc {
	const char *file;
	int line;
};

/* A string field (or, when numbers_ok, a number written as text). NULL *out if absent and optional. */
static int get_text(const json_t *o, const char *key, int required, int numbers_ok, const char *hint,
		    char **out, struct loc at, char *err, size_t errlen)
{
	const json_t *v = json_object_get(o, key);

	*out = NULL;
	if (!v || json_is_null(v)) {
		if (required)
			return err_set(err, errlen, "%s:%d: missing field '%s' (%s)", at.file, at.line, key, hint);
		return 0;
	}
	if (json_is_string(v)) {
		*out = xstrdup(json_string_value(v));
	} else if (numbers_ok && json_is_integer(v)) {
		*out = xasprintf("%lld", (long long)json_integer_value(v));
	} else if (numbers_ok && json_is_real(v)) {
		*out = xasprintf("%.17g", json_real_value(v));
	} else {
		return err_set(err, errlen, "%s:%d: field '%s' must be %s, not %s (%s)", at.file, at.line, key,
			       numbers_ok ? "a string or a number" : "a string", json_type_name(v), hint);
	}
	return 0;
}

static int only_space(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isspace((unsigned char)s[i]))
			return 0;
	return 1;
}

static char *trim_dup(const char *s, size_t n)
{
	while (n && isspace((unsigned char)*s))
		s++, n--;
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	char *r = xmalloc(n + 1);
	memcpy(r, s, n);
	r[n] = 0;
	return r;
}

/* Reads "choices" (array of strings) into it. */
static int get_choices(const json_t *v, const char *key, struct item *it, struct loc at, char *err, size_t errlen)
{
	size_t n = json_array_size(v);

	if (!json_is_array(v))
		return err_set(err, errlen, "%s:%d: field '%s' must be an array of strings, not %s "
			       "(list the options in letter order)", at.file, at.line, key, json_type_name(v));
	if (n < 2 || n > MAX_CHOICES)
		return err_set(err, errlen, "%s:%d: field '%s' has %zu entries (an mcq item needs 2 to %d options)",
			       at.file, at.line, key, n, MAX_CHOICES);
	it->choices = xcalloc(n, sizeof(*it->choices));
	for (size_t i = 0; i < n; i++) {
		const json_t *c = json_array_get(v, i);
		if (!json_is_string(c))
			return err_set(err, errlen, "%s:%d: field '%s' must hold strings, but entry %zu is %s "
				       "(write each option as a string)", at.file, at.line, key, i + 1,
				       json_type_name(c));
		it->choices[i] = xstrdup(json_string_value(c));
		it->nchoices = (int)i + 1;
	}
	return 0;
}

/*
 * Normalises an mcq answer to one upper-case letter within the choices:
 * accepts "b", "B", "(B)", "B)", "B." and, failing those, the exact text of
 * one choice.
 */
static int check_mcq_answer(struct item *it, struct loc at, char *err, size_t errlen)
{
	char *a = trim_dup(it->answer, strlen(it->answer));
	size_t n = strlen(a);
	char letter = 0;
	int rc = -1;

	if (n == 1 && isalpha((unsigned char)a[0]))
		letter = a[0];
	else if (n == 3 && a[0] == '(' && a[2] == ')' && isalpha((unsigned char)a[1]))
		letter = a[1];
	else if (n == 2 && (a[1] == ')' || a[1] == '.') && isalpha((unsigned char)a[0]))
		letter = a[0];
	else
		for (int i = 0; i < it->nchoices; i++)
			if (!strcmp(a, it->choices[i]))
				letter = (char)('A' + i);
	if (!letter) {
		err_set(err, errlen, "%s:%d: mcq answer '%s' is not a choice letter (give the letter of the "
			"correct option, A to %c)", at.file, at.line, it->answer, 'A' + it->nchoices - 1);
		goto out;
	}
	letter = (char)toupper((unsigned char)letter);
	if (letter - 'A' >= it->nchoices) {
		err_set(err, errlen, "%s:%d: mcq answer '%c' is beyond the %d choices (use a letter from A to %c)",
			at.file, at.line, letter, it->nchoices, 'A' + it->nchoices - 1);
		goto out;
	}
	free(it->answer);
	it->answer = xasprintf("%c", letter);
	rc = 0;
out:
	free(a);
	return rc;
}

/* Checks what each task needs once the fields are read. */
static int check_item(struct item *it, struct loc at, char *err, size_t errlen)
{
	if (!*it->problem)
		return err_set(err, errlen, "%s:%d: field 'problem' is empty (write the question)", at.file, at.line);
	if (it->task == TASK_MCQ) {
		if (!it->nchoices)
			return err_set(err, errlen, "%s:%d: task 'mcq' needs 'choices' (an array of 2 to %d option "
				       "strings, in letter order)", at.file, at.line, MAX_CHOICES);
		return check_mcq_answer(it, at, err, errlen);
	}
	if (it->task == TASK_REGEX) {
		char msg[160];
		if (grade_regex_check(it->answer, 0, msg, sizeof(msg)) < 0)
			return err_set(err, errlen, "%s:%d: regex answer '%.60s' does not compile: %s (write a "
				       "PCRE2 pattern of at most %d bytes, docs/scoring.md)", at.file, at.line,
				       it->answer, msg, GRADE_PATTERN_MAX);
	}
	if (it->task == TASK_JUDGE_PAIRWISE && !it->reference_response) {
		if (!*it->answer)
			return err_set(err, errlen, "%s:%d: task 'judge_pairwise' needs 'reference_response' "
				       "(the answer the model is compared against)", at.file, at.line);
		it->reference_response = xstrdup(it->answer);
	}
	if (it->task != TASK_JUDGE_PAIRWISE && !*it->answer)
		return err_set(err, errlen, "%s:%d: field 'answer' is empty (give the reference answer)",
			       at.file, at.line);
	return 0;
}

static int parse_native(const json_t *o, struct item *it, struct loc at, char *err, size_t errlen)
{
	const json_t *v;
	char *task = NULL;
	int rc = -1;

	v = json_object_get(o, "id");
	if (!v || json_is_null(v)) {
		err_set(err, errlen, "%s:%d: missing field 'id' (every item needs a unique id: a string or an "
			"integer)", at.file, at.line);
		goto out;
	}
	if (json_is_string(v) && *json_string_value(v)) {
		it->id = xstrdup(json_string_value(v));
	} else if (json_is_integer(v)) {
		it->id = xasprintf("%lld", (long long)json_integer_value(v));
	} else {
		err_set(err, errlen, "%s:%d: field 'id' must be a non-empty string or an integer, not %s",
			at.file, at.line, json_is_string(v) ? "an empty string" : json_type_name(v));
		goto out;
	}
	if (get_text(o, "problem", 1, 0, "the question to ask", &it->problem, at, err, errlen) < 0 ||
	    get_text(o, "answer", 1, 1, "the reference answer; a letter for mcq", &it->answer, at, err,
		     errlen) < 0 ||
	    get_text(o, "subject", 0, 0, "a subject or domain name", &it->subject, at, err, errlen) < 0 ||
	    get_text(o, "task", 1, 0, "one of mcq, numeric, exact, regex, judge_reference, judge_pairwise",
		     &task, at, err, errlen) < 0 ||
	    get_text(o, "reference_response", 0, 0, "the response judge_pairwise compares against",
		     &it->reference_response, at, err, errlen) < 0)
		goto out;
	if (!it->subject)
		it->subject = xstrdup("");
	if (task_parse(task, &it->task) < 0) {
		err_set(err, errlen, "%s:%d: unknown task '%s' (use one of mcq, numeric, exact, regex, "
			"judge_reference, judge_pairwise)", at.file, at.line, task);
		goto out;
	}
	if ((v = json_object_get(o, "choices")) && !json_is_null(v) &&
	    get_choices(v, "choices", it, at, err, errlen) < 0)
		goto out;
	if ((v = json_object_get(o, "metadata")) && !json_is_null(v))
		it->metadata = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	rc = check_item(it, at, err, errlen);
out:
	free(task);
	return rc;
}

/* Case-insensitive substring test. */
static int has(const char *s, const char *needle)
{
	return s && strcasestr(s, needle) != NULL;
}

/*
 * The option letter that starts a line of len bytes ("A) ...", "B. ...",
 * "C: ...", "(D) ..."), with *text set just after it; 0 when the line is none.
 */
static char option_letter(const char *line, size_t len, const char **text)
{
	const char *q = line, *end = line + len;
	char letter = 0;
	while (q < end && (*q == ' ' || *q == '\t'))
		q++;
	if (q + 2 < end && *q == '(' && isupper((unsigned char)q[1]) && q[2] == ')')
		letter = q[1], q += 3;
	else if (q + 1 < end && isupper((unsigned char)q[0]) && (q[1] == ')' || q[1] == '.' || q[1] == ':'))
		letter = q[0], q += 2;
	if (!letter || (q != end && *q != ' ' && *q != '\t'))
		return 0;
	*text = q;
	return letter;
}

static void free_opts(char **opts, int n)
{
	for (int i = 0; i < n; i++)
		free(opts[i]);
}

/*
 * Finds options written in a problem ("A) ...", "B. ...", "(C) ..." on their
 * own lines, consecutive letters from A). On success sets the choices and
 * returns the length of the stem (the text before the options); -1 if none.
 */
static long parse_options(const char *p, struct item *it)
{
	const char *line = p, *block = NULL;
	char **opts = NULL;
	int n = 0;
	long stem = -1;

	while (*line) {
		const char *end = strchr(line, '\n'), *q = NULL;
		size_t len = end ? (size_t)(end - line) : strlen(line);
		char letter = option_letter(line, len, &q);

		if (letter) {
			if (letter == 'A') {
				free_opts(opts, n);
				n = 0;
				block = line;
			}
			if (block && letter == 'A' + n && n < MAX_CHOICES) {
				opts = xrealloc(opts, (size_t)(n + 1) * sizeof(*opts));
				opts[n++] = trim_dup(q, (size_t)(line + len - q));
			}
		} else if (!only_space(line, len) && block && n >= 2) {
			break;     /* text after the options, e.g. an instruction */
		} else if (!only_space(line, len) && n < 2) {
			free_opts(opts, n);
			n = 0;
			block = NULL;
		}
		line = end ? end + 1 : line + len;
	}
	if (block && n >= 2) {
		it->choices = opts;
		it->nchoices = n;
		stem = (long)(block - p);
	} else {
		free_opts(opts, n);
		free(opts);
	}
	return stem;
}

/* Words that name a task in a harness record's method (first match wins), then in its dataset name. */
struct task_word {
	const char *word;
	enum task task;
};
static const struct task_word method_words[] = {
	{"pairwise", TASK_JUDGE_PAIRWISE}, {"arena", TASK_JUDGE_PAIRWISE}, {"wildchat", TASK_JUDGE_PAIRWISE},
	{"mcq", TASK_MCQ}, {"choice", TASK_MCQ}, {"letter", TASK_MCQ},
	{"judge", TASK_JUDGE_REFERENCE}, {"llm", TASK_JUDGE_REFERENCE}, {"reference", TASK_JUDGE_REFERENCE},
	{"natural", TASK_JUDGE_REFERENCE},
	{"numeric", TASK_NUMERIC}, {"number", TASK_NUMERIC}, {"math", TASK_NUMERIC},
	{"regex", TASK_REGEX},
	{"exact", TASK_EXACT}, {"match", TASK_EXACT},
	{NULL, TASK_EXACT},
};
static const struct task_word name_words[] = {
	{"wildchat", TASK_JUDGE_PAIRWISE},
	{"mmlu", TASK_MCQ}, {"gpqa", TASK_MCQ},
	{"natural", TASK_JUDGE_REFERENCE}, {"reasoning", TASK_JUDGE_REFERENCE},
	{NULL, TASK_EXACT},
};

/* The task of the first word of words in s; 0, or -1 when s has none. */
static int task_from_words(const char *s, const struct task_word *words, enum task *task)
{
	for (const struct task_word *w = words; w->word; w++)
		if (has(s, w->word)) {
			*task = w->task;
			return 0;
		}
	return -1;
}

/* The task of a harness record: docs/datasets.md, "The released harness's schema". */
static enum task harness_task(const char *method, const char *name, const char *answer, int has_options)
{
	enum task task;
	if (task_from_words(method, method_words, &task) == 0 || task_from_words(name, name_words, &task) == 0)
		return task;
	if (has_options && answer && strlen(answer) == 1 && isupper((unsigned char)answer[0]))
		return TASK_MCQ;
	return TASK_JUDGE_REFERENCE;
}

static const char *obj_str(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static int parse_harness(const json_t *o, struct item *it, struct loc at, char *err, size_t errlen)
{
	const json_t *v, *meta_v, *config, *opts = NULL;
	json_t *meta = NULL;
	json_error_t jerr;
	int rc = -1;
	long stem;

	v = json_object_get(o, "id");
	if (json_is_string(v) && *json_string_value(v))
		it->id = xstrdup(json_string_value(v));
	else if (json_is_integer(v))
		it->id = xasprintf("%lld", (long long)json_integer_value(v));
	else
		it->id = xasprintf("%d", at.line);
	if (get_text(o, "problem", 1, 0, "the question to ask", &it->problem, at, err, errlen) < 0 ||
	    get_text(o, "answer", 1, 1, "the reference answer", &it->answer, at, err, errlen) < 0 ||
	    get_text(o, "subject", 0, 0, "a subject or domain name", &it->subject, at, err, errlen) < 0)
		goto out;
	if (!it->subject)
		it->subject = xstrdup("");
	meta_v = json_object_get(o, "dataset_metadata");
	if (json_is_string(meta_v)) {
		meta = json_loads(json_string_value(meta_v), JSON_DECODE_ANY, &jerr);
		if (!meta) {
			err_set(err, errlen, "%s:%d: field 'dataset_metadata' does not hold valid JSON: %s "
				"(it must be a JSON object written as a string)", at.file, at.line, jerr.text);
			goto out;
		}
		it->metadata = xstrdup(json_string_value(meta_v));
	} else if (json_is_object(meta_v)) {
		meta = json_incref((json_t *)meta_v);
		it->metadata = json_dumps(meta, JSON_COMPACT);
	} else if (meta_v && !json_is_null(meta_v)) {
		err_set(err, errlen, "%s:%d: field 'dataset_metadata' must be a JSON string, not %s",
			at.file, at.line, json_type_name(meta_v));
		goto out;
	}
	config = json_object_get(meta, "config");
	if (json_is_object(meta))
		opts = json_object_get(meta, "choices") ? json_object_get(meta, "choices")
							: json_object_get(meta, "options");
	if (json_is_array(opts) && json_array_size(opts) > 0) {
		if (get_choices(opts, "dataset_metadata.choices", it, at, err, errlen) < 0)
			goto out;
		stem = -1;
	} else {
		stem = parse_options(it->problem, it);
	}
	it->task = harness_task(obj_str(config, "verification_method"), obj_str(config, "dataset_name"),
				it->answer, it->nchoices > 0);
	if (it->task == TASK_MCQ && stem >= 0) {
		/* The options are listed again by item_prompt: keep the stem only. */
		char *s = trim_dup(it->problem, (size_t)stem);
		free(it->problem);
		it->problem = s;
	}
	if (it->task == TASK_MCQ && !it->nchoices) {
		err_set(err, errlen, "%s:%d: multiple-choice item without options: none in dataset_metadata and "
			"no 'A) ...' lines in the problem (add the options)", at.file, at.line);
		goto out;
	}
	rc = check_item(it, at, err, errlen);
out:
	json_decref(meta);
	return rc;
}

struct id_line {
	const char *id;
	int line;
};

static int cmp_id_line(const void *a, const void *b)
{
	const struct id_line *x = a, *y = b;
	int c = strcmp(x->id, y->id);
	return c ? c : (x->line > y->line) - (x->line < y->line);
}

/* Fails on the first line (in file order) whose id an earlier line already has. */
static int check_duplicates(const struct dataset *ds, const char *file, char *err, size_t errlen)
{
	struct id_line *v = xcalloc(ds->n ? ds->n : 1, sizeof(*v));
	size_t bad = 0;
	int rc = 0;

	for (size_t i = 0; i < ds->n; i++)
		v[i].id = ds->items[i].id, v[i].line = ds->items[i].line;
	qsort(v, ds->n, sizeof(*v), cmp_id_line);
	for (size_t i = 1; i < ds->n; i++)
		if (!strcmp(v[i].id, v[i - 1].id) && (!bad || v[i].line < v[bad].line))
			bad = i;
	if (bad) {
		size_t first = bad;
		while (first > 0 && !strcmp(v[first - 1].id, v[bad].id))
			first--;
		rc = err_set(err, errlen, "%s:%d: duplicate id '%s' (line %d has it too; ids must be unique)",
			     file, v[bad].line, v[bad].id, v[first].line);
	}
	free(v);
	return rc;
}

/* Parses the JSONL bytes of a dataset into ds. */
static int parse_jsonl(struct dataset *ds, const char *file, const char *data, size_t len,
		       const char *format, char *err, size_t errlen)
{
	size_t pos = 0, cap = 0;
	int lineno = 0, rc = -1, harness = -1;
	const struct adapter *ad = NULL;
	json_t *o = NULL;
	json_error_t jerr;

	if (len >= 3 && !memcmp(data, "\xEF\xBB\xBF", 3))
		pos = 3;     /* a UTF-8 byte-order mark */
	while (pos < len) {
		const char *line = data + pos, *nl = memchr(line, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - line) : len - pos;
		struct loc at = {file, ++lineno};
		struct item *it;

		pos += n + (nl ? 1 : 0);
		if (n > DATASET_LINE_MAX) {
			err_set(err, errlen, "%s:%d: line is longer than %d MiB (one item per line; is this a "
				"JSONL dataset?)", file, lineno, DATASET_LINE_MAX >> 20);
			goto out;
		}
		if (only_space(line, n))
			continue;
		o = json_loadb(line, n, JSON_REJECT_DUPLICATES, &jerr);
		if (!o) {
			err_set(err, errlen, "%s:%d: invalid JSON: %s (each line must be one JSON object)",
				file, lineno, jerr.text);
			goto out;
		}
		if (!json_is_object(o)) {
			err_set(err, errlen, "%s:%d: the line is %s, not a JSON object (write one object per line)",
				file, lineno, json_type_name(o));
			goto out;
		}
		if (harness < 0) {
			if (format && strcmp(format, "auto")) {
				harness = !strcmp(format, "harness");
				ad = adapter_find(format);
			} else {
				harness = json_object_get(o, "dataset_metadata") != NULL;
				ad = harness ? NULL : adapter_detect(o);
			}
			ds->format = xstrdup(ad ? ad->name : harness ? "harness" : "native");
		}
		if (ds->n == cap) {
			cap = cap ? 2 * cap : 64;
			ds->items = xrealloc(ds->items, cap * sizeof(*ds->items));
		}
		it = &ds->items[ds->n];
		memset(it, 0, sizeof(*it));
		it->line = lineno;
		if ((ad ? ad->parse(o, it, file, lineno, err, errlen)
			: harness ? parse_harness(o, it, at, err, errlen) : parse_native(o, it, at, err, errlen)) < 0) {
			item_release(it);
			goto out;
		}
		ds->n++;
		json_decref(o);
		o = NULL;
	}
	if (ds->n == 0) {
		err_set(err, errlen, "%s: no items (the file holds no JSON lines; write one item per line)", file);
		goto out;
	}
	rc = check_duplicates(ds, file, err, errlen);
out:
	json_decref(o);
	return rc;
}

int dataset_format_valid(const char *name)
{
	return name && (!strcmp(name, "auto") || !strcmp(name, "native") || !strcmp(name, "harness") ||
			adapter_find(name)) ? 0 : -1;
}

int dataset_load(struct dataset *ds, const char *path, char *err, size_t errlen)
{
	return dataset_load_format(ds, path, NULL, err, errlen);
}

/*
 * Reads path in chunks, stopping with "FILE:LINE: line is longer than ..."
 * as soon as a line passes DATASET_LINE_MAX, so that /dev/zero or a binary
 * file fails at once instead of exhausting memory. The bytes are kept (the
 * dataset's hash covers them). Caller frees *out.
 */
static int read_stream(const char *path, char **out, size_t *len, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	struct buf b;
	char chunk[65536];
	size_t n, line_start = 0;
	int lineno = 1, rc = -1;

	if (!f)
		return err_set(err, errlen, "cannot open %s: %s", path, strerror(errno));
	buf_init(&b, 0);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		size_t base = b.len;
		buf_append(&b, chunk, n);
		for (const char *p = chunk, *e = chunk + n; (p = memchr(p, '\n', (size_t)(e - p))); p++) {
			line_start = base + (size_t)(p - chunk) + 1;
			lineno++;
		}
		if (b.len - line_start > DATASET_LINE_MAX) {
			err_set(err, errlen, "%s:%d: line is longer than %d MiB (one item per line; is this a "
				"JSONL dataset?)", path, lineno, DATASET_LINE_MAX >> 20);
			goto out;
		}
	}
	if (ferror(f)) {
		err_set(err, errlen, "cannot read %s: %s", path, strerror(errno));
		goto out;
	}
	*out = b.data;
	*len = b.len;
	b.data = NULL;
	rc = 0;
out:
	fclose(f);
	buf_release(&b);
	return rc;
}

/* Loads bytes already in memory (the built-in set, or a test's). */
static int load_bytes(struct dataset *ds, const char *name, const char *bytes, size_t len,
		      const char *format, char *err, size_t errlen)
{
	ds->path = xstrdup(name);
	sha256_hex(bytes, len, ds->sha256);
	return parse_jsonl(ds, ds->path, bytes, len, format, err, errlen);
}

/* ---- the random dataset ---- */

/*
 * Common English words, most of them one token (with the space before them)
 * in the byte-level BPE vocabularies of GPT-2, Llama 3 and Qwen. Fixed: the
 * same seed must give the same prompts in every ipw version (changing the
 * list changes every random run's dataset hash).
 */
static const char *const random_words[] = {
	"the", "of", "and", "to", "in", "is", "that", "for", "it", "as", "was", "with", "be", "by", "on",
	"not", "he", "this", "are", "or", "his", "from", "at", "which", "but", "have", "an", "had", "they",
	"you", "were", "their", "one", "all", "we", "can", "her", "has", "there", "been", "if", "more",
	"when", "will", "would", "who", "so", "no", "she", "other", "its", "may", "these", "what", "them",
	"than", "some", "him", "time", "into", "only", "do", "out", "up", "about", "also", "two", "then",
	"first", "could", "any", "my", "now", "new", "like", "our", "over", "such", "me", "man", "even",
	"most", "made", "after", "many", "before", "must", "through", "back", "years", "where", "much",
	"your", "way", "well", "down", "should", "because", "each", "just", "those", "people", "how",
	"too", "little", "state", "good", "very", "make", "world", "still", "own", "see", "men", "work",
	"long", "get", "here", "between", "both", "life", "being", "under", "never", "day", "same",
	"another", "know", "while", "last", "might", "us", "great", "old", "year", "off", "come", "since",
	"against", "go", "came", "right", "used", "take", "three",
};

size_t dataset_random_nwords(void)
{
	return sizeof(random_words) / sizeof(random_words[0]);
}

const char *dataset_random_word(size_t i)
{
	return i < dataset_random_nwords() ? random_words[i] : NULL;
}

/* One "key=value" of a random spec into *v (a count in [lo, DATASET_RANDOM_MAX], or any seed). */
static int random_value(const char *spec, const char *key, const char *val, size_t vlen, long long lo,
			unsigned long long *v, char *err, size_t errlen)
{
	char buf[32], *end;
	if (!vlen || vlen >= sizeof(buf))
		return err_set(err, errlen, "dataset '%s': %s= needs a number", spec, key);
	memcpy(buf, val, vlen);
	buf[vlen] = 0;
	errno = 0;
	*v = strtoull(buf, &end, 10);
	if (errno || *end || buf[0] == '-' || buf[0] == '+')
		return err_set(err, errlen, "dataset '%s': %s=%s is not a whole number", spec, key, buf);
	if (lo >= 0 && (*v < (unsigned long long)lo || *v > DATASET_RANDOM_MAX))
		return err_set(err, errlen, "dataset '%s': %s=%s is out of range (%lld to %d)", spec, key, buf, lo,
			       DATASET_RANDOM_MAX);
	return 0;
}

int dataset_random_spec(const char *spec, long long *in, long long *out, long long *n,
			unsigned long long *seed, char *err, size_t errlen)
{
	unsigned long long v[4] = {0, 0, DATASET_RANDOM_N, 0};
	int have[4] = {0, 0, 0, 0};
	static const char *const keys[4] = {"in", "out", "n", "seed"};
	const char *p;

	if (!spec || strncmp(spec, "random", 6) || (spec[6] && spec[6] != ':'))
		return 0;
	p = spec[6] ? spec + 7 : "";
	while (*p) {
		const char *comma = strchr(p, ','), *eq;
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		int k;
		eq = memchr(p, '=', len);
		for (k = 0; k < 4; k++)
			if (eq && (size_t)(eq - p) == strlen(keys[k]) && !strncmp(p, keys[k], strlen(keys[k])))
				break;
		if (k == 4)
			return err_set(err, errlen, "dataset '%s': unknown part '%.*s' (random:in=I,out=O[,n=N][,seed=S])",
				       spec, (int)len, p);
		if (have[k]++)
			return err_set(err, errlen, "dataset '%s': %s= given twice", spec, keys[k]);
		if (random_value(spec, keys[k], eq + 1, len - (size_t)(eq + 1 - p), k == 3 ? -1 : 1, &v[k], err,
				 errlen) < 0)
			return -1;
		p += len + (comma ? 1 : 0);
		if (comma && !*p)
			return err_set(err, errlen, "dataset '%s': a trailing comma", spec);
	}
	if (!have[0] || !have[1])
		return err_set(err, errlen, "dataset '%s': give the input and output lengths: random:in=I,out=O "
			       "(optional n=N items, default %d, and seed=S, default 0)", spec, DATASET_RANDOM_N);
	if (v[0] * v[2] > DATASET_RANDOM_MAX_WORDS)
		return err_set(err, errlen, "dataset '%s': %llu items of %llu words is over the %d words a random "
			       "dataset may hold (lower n= or in=)", spec, v[2], v[0], DATASET_RANDOM_MAX_WORDS);
	if (in)
		*in = (long long)v[0];
	if (out)
		*out = (long long)v[1];
	if (n)
		*n = (long long)v[2];
	if (seed)
		*seed = v[3];
	return 1;
}

/*
 * Generates the random dataset of spec: item i is "random-i", I words drawn
 * uniformly from the vocabulary by xoshiro256** seeded with S (one stream
 * for the whole set, items in order), subject "random", task none. The hash
 * is of the canonical spec and every prompt, so a resume regenerates and
 * checks the same items.
 */
static int random_load(struct dataset *ds, const char *spec, char *err, size_t errlen)
{
	long long in, out, n;
	unsigned long long seed;
	struct rng g;
	struct buf all, one;
	size_t nw = dataset_random_nwords();

	if (dataset_random_spec(spec, &in, &out, &n, &seed, err, errlen) < 0)
		return -1;
	rng_seed(&g, seed);
	buf_init(&all, 0);
	buf_appendf(&all, "random:in=%lld,out=%lld,n=%lld,seed=%llu\n", in, out, n, seed);
	ds->path = xstrdup(spec);
	ds->format = xstrdup("random");
	ds->items = xcalloc((size_t)n + 1, sizeof(*ds->items));
	ds->n = (size_t)n;
	ds->max_tokens = out;
	ds->ignore_eos = 1;
	for (long long i = 0; i < n; i++) {
		struct item *it = &ds->items[i];
		buf_init(&one, 0);
		for (long long w = 0; w < in; w++)
			buf_appendf(&one, "%s%s", w ? " " : "", random_words[rng_below(&g, nw)]);
		buf_appends(&all, one.data);
		buf_appends(&all, "\n");
		it->id = xasprintf("random-%lld", i);
		it->problem = buf_detach(&one);
		buf_release(&one);
		it->subject = xstrdup("random");
		it->task = TASK_NONE;
		it->metadata = xasprintf("{\"in_words\":%lld,\"out_tokens\":%lld,\"seed\":%llu}", in, out, seed);
	}
	sha256_hex(all.data, all.len, ds->sha256);
	buf_release(&all);
	return 0;
}

int dataset_load_format(struct dataset *ds, const char *path, const char *format, char *err, size_t errlen)
{
	char *data = NULL;
	size_t len = 0;
	int rc = -1;

	memset(ds, 0, sizeof(*ds));
	if ((rc = refsuite_spec(path, NULL, err, errlen)) != 0)
		return rc < 0 ? -1 : refsuite_load(ds, path, err, errlen);   /* the built-in suite `ref` */
	if ((rc = dataset_random_spec(path, NULL, NULL, NULL, NULL, err, errlen)) != 0) {
		if (rc > 0 && (rc = random_load(ds, path, err, errlen)) < 0)
			dataset_release(ds);
		return rc < 0 ? -1 : 0;
	}
	rc = -1;
	if (format && dataset_format_valid(format) < 0)
		return err_set(err, errlen, "unknown dataset format '%s' (use %s)", format, DATASET_FORMATS);
	if (!path || !strcmp(path, "builtin")) {
		if (load_bytes(ds, "builtin", ipw_builtin_dataset,
			       (size_t)(ipw_builtin_dataset_end - ipw_builtin_dataset), format, err, errlen) < 0)
			goto out;
		/* Built-in items carry no file line (dataset.h); errors above still named one. */
		for (size_t i = 0; i < ds->n; i++)
			ds->items[i].line = 0;
	} else {
		if (read_stream(path, &data, &len, err, errlen) < 0 ||
		    load_bytes(ds, path, data, len, format, err, errlen) < 0)
			goto out;
	}
	rc = 0;
out:
	free(data);
	if (rc < 0)
		dataset_release(ds);
	return rc;
}

int dataset_load_mem(struct dataset *ds, const char *name, const char *data, size_t len, const char *format,
		     char *err, size_t errlen)
{
	int rc = -1;

	memset(ds, 0, sizeof(*ds));
	if (format && dataset_format_valid(format) < 0)
		return err_set(err, errlen, "unknown dataset format '%s' (use %s)", format, DATASET_FORMATS);
	if (load_bytes(ds, name ? name : "memory", data, len, format, err, errlen) < 0)
		goto out;
	rc = 0;
out:
	if (rc < 0)
		dataset_release(ds);
	return rc;
}

void dataset_shuffle(struct dataset *ds, unsigned long long seed)
{
	uint64_t state = seed;

	for (size_t i = ds->n; i > 1; i--) {
		/* j uniform in [0, i) by multiply-shift (no modulo; bias below 2^-50 for any real n) */
		size_t j = (size_t)(((unsigned __int128)splitmix64(&state) * i) >> 64);
		struct item t = ds->items[i - 1];
		ds->items[i - 1] = ds->items[j];
		ds->items[j] = t;
	}
}

void dataset_limit(struct dataset *ds, size_t n)
{
	if (n >= ds->n)
		return;
	for (size_t i = n; i < ds->n; i++)
		item_release(&ds->items[i]);
	ds->n = n;
}

char *item_prompt(const struct item *it)
{
	struct buf b;

	buf_init(&b, 0);
	buf_appends(&b, it->problem);
	switch (it->task) {
	case TASK_MCQ:
		buf_appends(&b, "\n\n");
		for (int i = 0; i < it->nchoices; i++)
			buf_appendf(&b, "%c) %s\n", 'A' + i, it->choices[i]);
		buf_appendf(&b, "\nChoose the correct option. End your response with a last line of the form "
			    "'Answer: <letter>', where <letter> is one of A to %c.", 'A' + it->nchoices - 1);
		break;
	case TASK_NUMERIC:
		buf_appends(&b, "\n\nGive the final answer as a number on the last line as 'Answer: <number>'.");
		break;
	case TASK_EXACT:
	case TASK_REGEX:
		buf_appends(&b, "\n\nGive the final answer on the last line as 'Answer: <answer>'.");
		break;
	case TASK_JUDGE_REFERENCE:
	case TASK_JUDGE_PAIRWISE:
	case TASK_NONE:
		break;
	}
	char *s = buf_detach(&b);
	buf_release(&b);  /* buf_detach leaves a fresh, empty buffer */
	return s;
}
