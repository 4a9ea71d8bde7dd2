/*
 * refsuite.c - the procedural `ref` suite (see refsuite.h): arithmetic,
 * comparison, counting, string, facts (mcq) and word problems at levels 1-5,
 * each item a pure function of (seed, index). Uses only libc, rng.c and util.c
 * so tools/refgen.c can build it with plain gcc for the trainer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "refsuite.h"
#include "rng.h"
#include "util.h"

const char *const refsuite_families[REFSUITE_NFAMILIES] = {
	"arithmetic", "comparison", "counting", "string", "facts", "word_problems",
};

static const char *const names[] = {
	"Ana", "Ben", "Cara", "Dan", "Eva", "Finn", "Gus", "Hana",
	"Ivy", "Jon", "Kim", "Leo", "Mia", "Ned", "Omar", "Pia",
};
static const char *const objects[] = { "kite", "cup", "hat", "ball", "box", "car", "bag", "pen" };
static const char *const colors[] = { "red", "blue", "green", "yellow", "black", "white", "pink", "gray" };
static const char *const goods[] = { "apples", "pears", "coins", "books", "cards", "eggs", "shells", "stamps" };

#define NELEM(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* Uniform integer in [lo, hi]. */
static long pick(struct rng *r, long lo, long hi)
{
	return lo + (long)rng_below(r, (uint64_t)(hi - lo + 1));
}

static void set_answer_long(struct refitem *it, long v)
{
	snprintf(it->answer, sizeof(it->answer), "%ld", v);
}

static void gen_arithmetic(struct rng *r, struct refitem *it)
{
	long a, b;
	int sub = (int)pick(r, 0, 1);

	switch (it->level) {
	case 1:
		a = pick(r, 0, 9), b = pick(r, 0, 9), sub = 0;
		break;
	case 2:
		a = pick(r, 10, 99), b = pick(r, 10, 99);
		break;
	case 3:
		a = pick(r, 100, 999), b = pick(r, 100, 999);
		break;
	case 4:
		a = pick(r, 10, 99), b = pick(r, 2, 9);
		snprintf(it->problem, sizeof(it->problem), "What is %ld * %ld?", a, b);
		set_answer_long(it, a * b);
		return;
	default:
		a = pick(r, 100, 999), b = pick(r, 2, 9);
		snprintf(it->problem, sizeof(it->problem), "What is %ld * %ld?", a, b);
		set_answer_long(it, a * b);
		return;
	}
	if (sub && a < b) {
		long t = a;
		a = b, b = t;
	}
	snprintf(it->problem, sizeof(it->problem), "What is %ld %c %ld?", a, sub ? '-' : '+', b);
	set_answer_long(it, sub ? a - b : a + b);
}

static void gen_comparison(struct rng *r, struct refitem *it)
{
	static const int count[] = { 2, 2, 3, 4, 5 };
	static const long lo[] = { 0, 10, 100, 1000, 10000 };
	static const long hi[] = { 9, 99, 999, 9999, 99999 };
	int n = count[it->level - 1], larger = (int)pick(r, 0, 1);
	long v[5] = {0}, best;
	size_t len;

	/* Levels 4 and 5 share the leading digits, so the first digit does not decide. */
	long base = it->level >= 4 ? pick(r, lo[it->level - 1] / 100, hi[it->level - 1] / 100) * 100 : 0;
	for (int i = 0; i < n; i++) {
		int dup;
		do {
			v[i] = it->level >= 4 ? base + pick(r, 0, 99) : pick(r, lo[it->level - 1], hi[it->level - 1]);
			dup = 0;
			for (int j = 0; j < i; j++)
				dup |= v[j] == v[i];
		} while (dup);
	}
	best = v[0];
	for (int i = 1; i < n; i++)
		if (larger ? v[i] > best : v[i] < best)
			best = v[i];
	if (n == 2)
		len = (size_t)snprintf(it->problem, sizeof(it->problem), "Which is %s, %ld or %ld?",
				       larger ? "larger" : "smaller", v[0], v[1]);
	else {
		len = (size_t)snprintf(it->problem, sizeof(it->problem), "Which is the %s of",
				       larger ? "largest" : "smallest");
		for (int i = 0; i < n; i++)
			len += (size_t)snprintf(it->problem + len, sizeof(it->problem) - len, "%s %ld",
						i == 0 ? "" : i == n - 1 ? " and" : ",", v[i]);
		snprintf(it->problem + len, sizeof(it->problem) - len, "?");
	}
	set_answer_long(it, best);
}

/* n random upper-case letters from the first k of the alphabet. */
static void letters(struct rng *r, char *out, int n, int k)
{
	for (int i = 0; i < n; i++)
		out[i] = (char)('A' + pick(r, 0, k - 1));
	out[n] = 0;
}

static void gen_counting(struct rng *r, struct refitem *it)
{
	static const int lo[] = { 3, 5, 8, 11, 15 };
	static const int hi[] = { 4, 7, 10, 14, 20 };
	char s[32], c;
	int n = (int)pick(r, lo[it->level - 1], hi[it->level - 1]), k = 0;

	letters(r, s, n, 4);
	c = s[pick(r, 0, n - 1)];
	for (int i = 0; i < n; i++)
		k += s[i] == c;
	snprintf(it->problem, sizeof(it->problem), "How many times does the letter %c appear in %s?", c, s);
	set_answer_long(it, k);
}

static void gen_string(struct rng *r, struct refitem *it)
{
	static const int lo[] = { 3, 3, 4, 6, 8 };
	static const int hi[] = { 5, 3, 5, 7, 9 };
	char s[16];
	int n = (int)pick(r, lo[it->level - 1], hi[it->level - 1]);

	letters(r, s, n, 26);
	if (it->level == 1) {
		int last = (int)pick(r, 0, 1);
		snprintf(it->problem, sizeof(it->problem), "What is the %s letter of %s?", last ? "last" : "first", s);
		snprintf(it->answer, sizeof(it->answer), "%c", last ? s[n - 1] : s[0]);
		return;
	}
	snprintf(it->problem, sizeof(it->problem), "Write %s backwards.", s);
	for (int i = 0; i < n; i++)
		it->answer[i] = s[n - 1 - i];
	it->answer[n] = 0;
}

static void shuffle_ints(struct rng *r, int *v, int n)
{
	for (int i = n - 1; i > 0; i--) {
		int j = (int)rng_below(r, (uint64_t)i + 1), t = v[i];
		v[i] = v[j], v[j] = t;
	}
}

static void gen_facts(struct rng *r, struct refitem *it)
{
	static const int nfacts[] = { 1, 2, 3, 5, 7 };
	int n = nfacts[it->level - 1], who[7], what[7], col[7], opts[REFSUITE_NCHOICES];
	int name_ids[NELEM(names)], q;
	size_t len;

	for (int i = 0; i < NELEM(names); i++)
		name_ids[i] = i;
	shuffle_ints(r, name_ids, NELEM(names));
	for (int i = 0; i < n; i++) {
		who[i] = name_ids[i];
		what[i] = (int)pick(r, 0, NELEM(objects) - 1);
		col[i] = (int)pick(r, 0, NELEM(colors) - 1);
	}
	q = (int)pick(r, 0, n - 1);
	len = (size_t)snprintf(it->problem, sizeof(it->problem), "Facts:");
	for (int i = 0; i < n; i++)
		len += (size_t)snprintf(it->problem + len, sizeof(it->problem) - len, " %s has a %s %s.",
					names[who[i]], colors[col[i]], objects[what[i]]);
	snprintf(it->problem + len, sizeof(it->problem) - len, "\nQuestion: What color is %s's %s?",
		 names[who[q]], objects[what[q]]);
	/* Options: the right color and three others, placed in random order. */
	{
		int pool[NELEM(colors)], k = 0;
		for (int c = 0; c < NELEM(colors); c++)
			if (c != col[q])
				pool[k++] = c;
		shuffle_ints(r, pool, k);
		opts[0] = col[q];
		for (int i = 1; i < REFSUITE_NCHOICES; i++)
			opts[i] = pool[i - 1];
		shuffle_ints(r, opts, REFSUITE_NCHOICES);
	}
	it->nchoices = REFSUITE_NCHOICES;
	for (int i = 0; i < REFSUITE_NCHOICES; i++) {
		snprintf(it->choices[i], sizeof(it->choices[i]), "%s", colors[opts[i]]);
		if (opts[i] == col[q])
			snprintf(it->answer, sizeof(it->answer), "%c", 'A' + i);
	}
}

static void gen_word(struct rng *r, struct refitem *it)
{
	const char *who = names[pick(r, 0, NELEM(names) - 1)], *other, *g = goods[pick(r, 0, NELEM(goods) - 1)];
	long a, b, c;

	do
		other = names[pick(r, 0, NELEM(names) - 1)];
	while (other == who);
	switch (it->level) {
	case 1:
		a = pick(r, 1, 9), b = pick(r, 1, 9);
		snprintf(it->problem, sizeof(it->problem), "%s has %ld %s. %s gets %ld more. How many %s does %s "
			 "have now?", who, a, g, who, b, g, who);
		set_answer_long(it, a + b);
		break;
	case 2:
		a = pick(r, 20, 99), b = pick(r, 10, a);
		snprintf(it->problem, sizeof(it->problem), "%s has %ld %s. %s gives %ld to %s. How many %s does %s "
			 "have now?", who, a, g, who, b, other, g, who);
		set_answer_long(it, a - b);
		break;
	case 3:
		a = pick(r, 10, 60), b = pick(r, 10, 39), c = pick(r, 1, a + b);
		snprintf(it->problem, sizeof(it->problem), "%s has %ld %s. %s gets %ld more and then gives %ld to %s. "
			 "How many %s does %s have now?", who, a, g, who, b, c, other, g, who);
		set_answer_long(it, a + b - c);
		break;
	case 4:
		a = pick(r, 2, 9), b = pick(r, 2, 12);
		snprintf(it->problem, sizeof(it->problem), "%s buys %ld bags with %ld %s in each bag. How many %s "
			 "does %s have?", who, a, b, g, g, who);
		set_answer_long(it, a * b);
		break;
	default:
		a = pick(r, 10, 99), b = pick(r, 2, 9), c = pick(r, 2, 9);
		snprintf(it->problem, sizeof(it->problem), "%s has %ld %s and buys %ld bags with %ld %s in each bag. "
			 "How many %s does %s have now?", who, a, g, b, c, g, g, who);
		set_answer_long(it, a + b * c);
		break;
	}
}

void refsuite_item(uint64_t seed, uint64_t i, struct refitem *out)
{
	uint64_t k = seed ^ (i * 0xd1b54a32d192ed03ULL);
	struct rng r;
	int fam = (int)(i % REFSUITE_NFAMILIES);

	memset(out, 0, sizeof(*out));
	rng_seed(&r, splitmix64(&k) ^ seed);
	snprintf(out->id, sizeof(out->id), "ref-%llu-%llu", (unsigned long long)seed, (unsigned long long)i);
	out->family = refsuite_families[fam];
	out->level = (int)((i / REFSUITE_NFAMILIES) % REFSUITE_NLEVELS) + 1;
	out->task = fam == 3 ? TASK_EXACT : fam == 4 ? TASK_MCQ : TASK_NUMERIC;
	switch (fam) {
	case 0: gen_arithmetic(&r, out); break;
	case 1: gen_comparison(&r, out); break;
	case 2: gen_counting(&r, out); break;
	case 3: gen_string(&r, out); break;
	case 4: gen_facts(&r, out); break;
	default: gen_word(&r, out); break;
	}
}

/* Appends printf output at *pos in buf; -1 once it no longer fits. */
static int put(char *buf, size_t len, size_t *pos, int ok, const char *s)
{
	size_t n = strlen(s);

	if (ok < 0 || *pos + n + 1 > len)
		return -1;
	memcpy(buf + *pos, s, n + 1);
	*pos += n;
	return 0;
}

int refsuite_prompt(const struct refitem *it, char *buf, size_t len)
{
	char line[128];
	size_t pos = 0;
	int ok = len ? 0 : -1;

	if (len)
		buf[0] = 0;
	ok = put(buf, len, &pos, ok, it->problem);
	switch (it->task) {
	case TASK_MCQ:
		ok = put(buf, len, &pos, ok, "\n\n");
		for (int i = 0; i < it->nchoices; i++) {
			snprintf(line, sizeof(line), "%c) %s\n", 'A' + i, it->choices[i]);
			ok = put(buf, len, &pos, ok, line);
		}
		snprintf(line, sizeof(line), "\nChoose the correct option. End your response with a last line of "
			 "the form 'Answer: <letter>', where <letter> is one of A to %c.", 'A' + it->nchoices - 1);
		ok = put(buf, len, &pos, ok, line);
		break;
	case TASK_NUMERIC:
		ok = put(buf, len, &pos, ok, "\n\nGive the final answer as a number on the last line as "
			 "'Answer: <number>'.");
		break;
	default:
		ok = put(buf, len, &pos, ok, "\n\nGive the final answer on the last line as 'Answer: <answer>'.");
		break;
	}
	return ok < 0 ? -1 : (int)pos;
}

static const char *task_text(enum task t)
{
	return t == TASK_MCQ ? "mcq" : t == TASK_EXACT ? "exact" : "numeric";
}

/* Appends s as a JSON string (quotes included). */
static int put_json(char *buf, size_t len, size_t *pos, int ok, const char *s)
{
	char e[8];

	ok = put(buf, len, pos, ok, "\"");
	for (; *s && ok >= 0; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			snprintf(e, sizeof(e), "\\%c", c);
		else if (c == '\n')
			snprintf(e, sizeof(e), "\\n");
		else if (c < 0x20)
			snprintf(e, sizeof(e), "\\u%04x", c);
		else
			e[0] = (char)c, e[1] = 0;
		ok = put(buf, len, pos, ok, e);
	}
	return put(buf, len, pos, ok, "\"");
}

int refsuite_jsonl(const struct refitem *it, char *buf, size_t len)
{
	char num[64];
	size_t pos = 0;
	int ok = len ? 0 : -1;

	ok = put(buf, len, &pos, ok, "{\"id\": ");
	ok = put_json(buf, len, &pos, ok, it->id);
	ok = put(buf, len, &pos, ok, ", \"problem\": ");
	ok = put_json(buf, len, &pos, ok, it->problem);
	ok = put(buf, len, &pos, ok, ", \"answer\": ");
	ok = put_json(buf, len, &pos, ok, it->answer);
	ok = put(buf, len, &pos, ok, ", \"subject\": ");
	ok = put_json(buf, len, &pos, ok, it->family);
	ok = put(buf, len, &pos, ok, ", \"task\": ");
	ok = put_json(buf, len, &pos, ok, task_text(it->task));
	if (it->nchoices) {
		ok = put(buf, len, &pos, ok, ", \"choices\": [");
		for (int i = 0; i < it->nchoices; i++) {
			ok = put(buf, len, &pos, ok, i ? ", " : "");
			ok = put_json(buf, len, &pos, ok, it->choices[i]);
		}
		ok = put(buf, len, &pos, ok, "]");
	}
	snprintf(num, sizeof(num), ", \"metadata\": {\"level\": %d, \"suite\": \"ref\", \"version\": %d}}\n",
		 it->level, REFSUITE_VERSION);
	ok = put(buf, len, &pos, ok, num);
	return ok < 0 ? -1 : (int)pos;
}

int refsuite_spec(const char *spec, size_t *n, char *err, size_t errlen)
{
	char *end;
	unsigned long long v;

	if (!spec || strncmp(spec, "ref", 3) || (spec[3] && spec[3] != ':'))
		return 0;
	if (!spec[3]) {
		if (n)
			*n = REFSUITE_DEFAULT_N;
		return 1;
	}
	v = strtoull(spec + 4, &end, 10);
	if (spec[4] < '0' || spec[4] > '9' || *end || v < 1 || v > REFSUITE_MAX_N)
		return err_set(err, errlen, "bad suite '%s' (write ref or ref:N with N from 1 to %d)", spec,
			       REFSUITE_MAX_N);
	if (n)
		*n = (size_t)v;
	return 1;
}

static void fill_item(struct item *dst, const struct refitem *src)
{
	dst->id = xstrdup(src->id);
	dst->problem = xstrdup(src->problem);
	dst->answer = xstrdup(src->answer);
	dst->subject = xstrdup(src->family);
	dst->task = src->task;
	if (src->nchoices) {
		dst->choices = xcalloc((size_t)src->nchoices, sizeof(*dst->choices));
		for (int c = 0; c < src->nchoices; c++)
			dst->choices[c] = xstrdup(src->choices[c]);
		dst->nchoices = src->nchoices;
	}
	dst->metadata = xasprintf("{\"level\":%d,\"suite\":\"ref\",\"version\":%d}", src->level,
				  REFSUITE_VERSION);
}

int refsuite_load(struct dataset *ds, const char *spec, char *err, size_t errlen)
{
	struct buf text;
	struct refitem it;
	char line[2048];
	size_t n = 0;
	int rc = refsuite_spec(spec, &n, err, errlen);

	memset(ds, 0, sizeof(*ds));
	if (rc <= 0)
		return rc < 0 ? -1 : err_set(err, errlen, "'%s' is not a suite name (use ref or ref:N)", spec);
	buf_init(&text, 0);
	ds->path = xstrdup(spec);
	ds->format = xstrdup("ref");
	ds->items = xcalloc(n, sizeof(*ds->items));
	for (size_t i = 0; i < n; i++) {
		refsuite_item(REFSUITE_EVAL_SEED, i, &it);
		fill_item(&ds->items[i], &it);
		ds->n++;
		if (refsuite_jsonl(&it, line, sizeof(line)) > 0)
			buf_appends(&text, line);
	}
	sha256_hex(text.data ? text.data : "", text.len, ds->sha256);
	buf_release(&text);
	return 0;
}
