/*
 * adapters.c - one reader per public evaluation set's JSONL export, mapping a
 * line to a native item: MMLU-Pro and SuperGPQA to mcq (options A..),
 * NaturalReasoning to judge_reference, WildChat's first user turn to
 * judge_pairwise. Export recipes: docs/datasets.md.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters.h"
#include "util.h"

#define MAX_CHOICES 26

static const char *str(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static int has_key(const json_t *o, const char *key)
{
	return json_object_get(o, key) != NULL;
}

/* The item id: the string or integer in key, else the line number. */
static char *id_of(const json_t *o, const char *key, int line)
{
	const json_t *v = key ? json_object_get(o, key) : NULL;
	if (json_is_string(v) && *json_string_value(v))
		return xstrdup(json_string_value(v));
	if (json_is_integer(v))
		return xasprintf("%lld", (long long)json_integer_value(v));
	return xasprintf("%d", line);
}

/* A required non-empty string field. */
static int need_text(const json_t *o, const char *key, const char *fmt_name, char **out, const char *file,
		     int line, char *err, size_t errlen)
{
	const char *s = str(o, key);
	if (!s || !*s)
		return err_set(err, errlen, "%s:%d: %s line without a non-empty string '%s' (is this a %s export? "
			       "see docs/datasets.md, or pass --format)", file, line, fmt_name, key, fmt_name);
	*out = xstrdup(s);
	return 0;
}

static int get_options(const json_t *o, const char *key, struct item *it, const char *file, int line,
		       char *err, size_t errlen)
{
	const json_t *v = json_object_get(o, key);
	size_t n = json_array_size(v);

	if (!json_is_array(v) || n < 2 || n > MAX_CHOICES)
		return err_set(err, errlen, "%s:%d: '%s' must be an array of 2 to %d option strings", file, line,
			       key, MAX_CHOICES);
	it->choices = xcalloc(n, sizeof(*it->choices));
	for (size_t i = 0; i < n; i++) {
		const json_t *c = json_array_get(v, i);
		if (json_is_string(c))
			it->choices[i] = xstrdup(json_string_value(c));
		else if (json_is_number(c))
			it->choices[i] = xasprintf("%.17g", json_number_value(c));
		else
			return err_set(err, errlen, "%s:%d: option %zu of '%s' is not a string", file, line, i + 1, key);
		it->nchoices = (int)i + 1;
	}
	return 0;
}

/*
 * Sets it->answer to the letter of the correct option from a letter field,
 * an index field or (last resort) an option's text field. 0 or -1 (err).
 */
static int set_letter(const json_t *o, const char *letter_key, const char *index_key, const char *text_key,
		      struct item *it, const char *file, int line, char *err, size_t errlen)
{
	const char *l = letter_key ? str(o, letter_key) : NULL;
	const json_t *ix = index_key ? json_object_get(o, index_key) : NULL;
	const char *t = text_key ? str(o, text_key) : NULL;
	int k = -1;

	if (l) {
		while (*l == ' ' || *l == '(')
			l++;
		if (isalpha((unsigned char)l[0]) && (!l[1] || l[1] == ')' || l[1] == '.' || l[1] == ' '))
			k = toupper((unsigned char)l[0]) - 'A';
	}
	if (k < 0 && json_is_integer(ix))
		k = (int)json_integer_value(ix);
	if (k < 0 && t)
		for (int i = 0; i < it->nchoices; i++)
			if (!strcmp(t, it->choices[i]))
				k = i;
	if (k < 0 || k >= it->nchoices)
		return err_set(err, errlen, "%s:%d: the correct option (%s%s%s) is missing or not one of the %d "
			       "options A to %c", file, line, letter_key ? letter_key : "",
			       letter_key && index_key ? ", " : "", index_key ? index_key : "", it->nchoices,
			       'A' + it->nchoices - 1);
	it->answer = xasprintf("%c", 'A' + k);
	return 0;
}

/* Compact JSON metadata {"source": name, key: value for each present key}. */
static char *meta(const json_t *o, const char *source, const char *const *keys)
{
	json_t *m = json_object();
	char *s;
	json_object_set_new(m, "source", json_string(source));
	for (; keys && *keys; keys++) {
		json_t *v = json_object_get(o, *keys);
		if (v && !json_is_null(v))
			json_object_set(m, *keys, v);
	}
	s = json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(m);
	return s;
}

/* ---- MMLU-Pro: question_id, question, options, answer ("C"), answer_index, category, src ---- */

static int mmlu_detect(const json_t *o)
{
	return has_key(o, "question") && json_is_array(json_object_get(o, "options")) && has_key(o, "category") &&
	       (has_key(o, "answer") || has_key(o, "answer_index")) && !has_key(o, "answer_letter");
}

static int mmlu_parse(const json_t *o, struct item *it, const char *file, int line, char *err, size_t errlen)
{
	static const char *const keys[] = {"src", "question_id", NULL};
	const char *cat = str(o, "category");

	it->id = id_of(o, "question_id", line);
	it->task = TASK_MCQ;
	it->subject = xstrdup(cat ? cat : "");
	it->metadata = meta(o, "mmlu_pro", keys);
	if (need_text(o, "question", "MMLU-Pro", &it->problem, file, line, err, errlen) < 0 ||
	    get_options(o, "options", it, file, line, err, errlen) < 0 ||
	    set_letter(o, "answer", "answer_index", NULL, it, file, line, err, errlen) < 0)
		return -1;
	return 0;
}

const struct adapter adapter_mmlu_pro = {"mmlu_pro", mmlu_detect, mmlu_parse};

/* ---- SuperGPQA: uuid, question, options, answer (text), answer_letter, discipline, field, subfield ---- */

static int sgpqa_detect(const json_t *o)
{
	return has_key(o, "question") && json_is_array(json_object_get(o, "options")) && has_key(o, "answer_letter");
}

static int sgpqa_parse(const json_t *o, struct item *it, const char *file, int line, char *err, size_t errlen)
{
	static const char *const keys[] = {"discipline", "field", "subfield", "difficulty", "is_calculation", NULL};
	const char *d = str(o, "discipline");

	it->id = id_of(o, "uuid", line);
	it->task = TASK_MCQ;
	it->subject = xstrdup(d ? d : "");
	it->metadata = meta(o, "supergpqa", keys);
	if (need_text(o, "question", "SuperGPQA", &it->problem, file, line, err, errlen) < 0 ||
	    get_options(o, "options", it, file, line, err, errlen) < 0 ||
	    set_letter(o, "answer_letter", NULL, "answer", it, file, line, err, errlen) < 0)
		return -1;
	return 0;
}

const struct adapter adapter_supergpqa = {"supergpqa", sgpqa_detect, sgpqa_parse};

/* ---- NaturalReasoning: question, reference_answer, responses ---- */

static int nr_detect(const json_t *o)
{
	return has_key(o, "question") && has_key(o, "reference_answer");
}

static int nr_parse(const json_t *o, struct item *it, const char *file, int line, char *err, size_t errlen)
{
	const char *ref = str(o, "reference_answer");

	it->id = id_of(o, has_key(o, "id") ? "id" : "question_id", line);
	it->task = TASK_JUDGE_REFERENCE;
	it->subject = xstrdup("");
	it->metadata = meta(o, "natural_reasoning", NULL);
	if (need_text(o, "question", "NaturalReasoning", &it->problem, file, line, err, errlen) < 0)
		return -1;
	if (!ref || !*ref)
		return err_set(err, errlen, "%s:%d: empty 'reference_answer' (a NaturalReasoning question without "
			       "a reference cannot be judged; leave such rows out when exporting, see "
			       "docs/datasets.md)", file, line);
	it->answer = xstrdup(ref);
	return 0;
}

const struct adapter adapter_natural_reasoning = {"natural_reasoning", nr_detect, nr_parse};

/* ---- WildChat: conversation_hash, model, conversation [{role, content}, ...], language, turn ---- */

static int wc_detect(const json_t *o)
{
	return json_is_array(json_object_get(o, "conversation"));
}

static int wc_parse(const json_t *o, struct item *it, const char *file, int line, char *err, size_t errlen)
{
	static const char *const keys[] = {"model", "language", "turn", NULL};
	const json_t *conv = json_object_get(o, "conversation"), *m;
	size_t i, user = (size_t)-1;

	it->id = id_of(o, "conversation_hash", line);
	it->task = TASK_JUDGE_PAIRWISE;
	it->subject = xstrdup("");
	it->answer = xstrdup("");
	it->metadata = meta(o, "wildchat", keys);
	json_array_foreach(conv, i, m) {
		const char *role = str(m, "role"), *text = str(m, "content");
		if (user == (size_t)-1 && role && !strcmp(role, "user") && text && *text) {
			user = i;
			it->problem = xstrdup(text);
		} else if (user != (size_t)-1 && role && !strcmp(role, "assistant") && text && *text) {
			it->reference_response = xstrdup(text);  /* the conversation's own reply */
			break;
		}
	}
	if (!it->problem)
		return err_set(err, errlen, "%s:%d: WildChat 'conversation' has no user turn with text (each line "
			       "needs a conversation starting with a user message)", file, line);
	return 0;
}

const struct adapter adapter_wildchat = {"wildchat", wc_detect, wc_parse};

/* SuperGPQA before MMLU-Pro: both have question + options; answer_letter tells them apart. */
const struct adapter *const adapters[] = {
	&adapter_supergpqa, &adapter_mmlu_pro, &adapter_natural_reasoning, &adapter_wildchat, NULL,
};

const struct adapter *adapter_find(const char *name)
{
	char n[32];
	size_t k;

	if (!name || strlen(name) >= sizeof(n))
		return NULL;
	for (k = 0; name[k]; k++)
		n[k] = name[k] == '-' ? '_' : (char)tolower((unsigned char)name[k]);
	n[k] = 0;
	for (int i = 0; adapters[i]; i++)
		if (!strcmp(n, adapters[i]->name))
			return adapters[i];
	if (!strcmp(n, "mmlupro"))
		return &adapter_mmlu_pro;
	if (!strcmp(n, "naturalreasoning"))
		return &adapter_natural_reasoning;
	return NULL;
}

const struct adapter *adapter_detect(const json_t *first)
{
	if (has_key(first, "problem") || has_key(first, "dataset_metadata"))
		return NULL;    /* native or the released harness's schema */
	for (int i = 0; adapters[i]; i++)
		if (adapters[i]->detect(first))
			return adapters[i];
	return NULL;
}
