/*
 * grade.c - the grader registry and the text helpers every grader uses:
 * stripping thinking sections, the final line, the last \boxed{} and the
 * normalised form used by exact matching. See docs/scoring.md.
 */
#include "grade.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util.h"

const struct grader *const graders[] = {
	&grader_mcq,
	&grader_numeric,
	&grader_exact,
	&grader_regex,
	NULL,
};

void grade_settings_init(struct grade_settings *s)
{
	s->rel_tol = GRADE_REL_TOL;
	s->abs_tol = GRADE_ABS_TOL;
	s->pattern = NULL;
	s->regex_icase = 0;
}

const struct grader *grader_find(const char *name)
{
	for (size_t i = 0; name && graders[i]; i++)
		if (!strcmp(graders[i]->name, name))
			return graders[i];
	return NULL;
}

const struct grader *grader_for_task(enum task t)
{
	switch (t) {
	case TASK_MCQ:
		return &grader_mcq;
	case TASK_NUMERIC:
		return &grader_numeric;
	case TASK_EXACT:
		return &grader_exact;
	case TASK_REGEX:
		return &grader_regex;
	default:
		return NULL;
	}
}

int grade_item(const struct item *it, const char *answer,
	       const struct grade_settings *s, struct grade_result *out)
{
	const struct grader *g = grader_for_task(it->task);
	struct grade_input in;

	if (!g) {
		grade_set(out, -1, "", "task needs an LLM judge, not an offline grader");
		return -1;
	}
	in.answer = answer;
	in.reference = it->answer;
	in.nchoices = it->nchoices;
	in.choices = (const char *const *)it->choices;
	in.settings = s;
	return g->grade(&in, out);
}

void grade_set(struct grade_result *out, int correct, const char *extracted,
	       const char *fmt, ...)
{
	va_list ap;

	out->correct = correct;
	snprintf(out->extracted, sizeof(out->extracted), "%s", extracted ? extracted : "");
	va_start(ap, fmt);
	vsnprintf(out->reason, sizeof(out->reason), fmt, ap);
	va_end(ap);
}

/* ---- thinking sections ---- */

enum tag_kind { TAG_OPEN, TAG_CLOSE };

/* Finds the next thinking tag at or after p; sets *kind and *len. */
static const char *find_tag(const char *p, enum tag_kind *kind, size_t *len)
{
	static const struct {
		const char *s;
		enum tag_kind k;
	} tags[] = {
		{ "<think>", TAG_OPEN },
		{ "<thinking>", TAG_OPEN },
		{ "</think>", TAG_CLOSE },
		{ "</thinking>", TAG_CLOSE },
	};

	for (; (p = strchr(p, '<')); p++) {
		for (size_t i = 0; i < sizeof(tags) / sizeof(tags[0]); i++) {
			size_t n = strlen(tags[i].s);
			if (!strncasecmp(p, tags[i].s, n)) {
				*kind = tags[i].k;
				*len = n;
				return p;
			}
		}
	}
	return NULL;
}

#define HARMONY_FINAL "<|channel|>final<|message|>"

/*
 * Raw harmony-format output (GPT-OSS without a server-side parser): only the
 * final channel is the answer. Returns a copy of it, "" when there is only
 * analysis, or NULL when the text is not in that format.
 */
static char *harmony_final(const char *text)
{
	const char *f = NULL, *e;

	for (const char *p = text; (p = strstr(p, HARMONY_FINAL)); p++)
		f = p;
	if (!f)
		return strstr(text, "<|channel|>") ? xstrdup("") : NULL;
	f += strlen(HARMONY_FINAL);
	e = strstr(f, "<|");
	if (!e)
		e = f + strlen(f);
	char *r = xmalloc((size_t)(e - f) + 1);
	memcpy(r, f, (size_t)(e - f));
	r[e - f] = '\0';
	return r;
}

char *grade_strip_thinking(const char *text, int *had_thinking)
{
	struct buf b;
	const char *p = text ? text : "";
	const char *t;
	enum tag_kind kind;
	size_t len;
	int had = 0;
	char *harmony = harmony_final(p);

	if (harmony) {
		p = harmony;
		had = 1;
	}
	buf_init(&b, 0);
	/* A closing tag before any opening one: the opening tag was in the prompt. */
	t = find_tag(p, &kind, &len);
	if (t && kind == TAG_CLOSE) {
		p = t + len;
		had = 1;
	}
	while ((t = find_tag(p, &kind, &len))) {
		buf_append(&b, p, (size_t)(t - p));
		had = 1;
		p = t + len;
		if (kind == TAG_CLOSE) /* stray closing tag: drop the tag only */
			continue;
		/* Skip to the matching close; nested opening tags are part of the thought. */
		for (;;) {
			t = find_tag(p, &kind, &len);
			if (!t) {
				p = p + strlen(p); /* unterminated: the rest is thinking */
				break;
			}
			p = t + len;
			if (kind == TAG_CLOSE)
				break;
		}
	}
	buf_appends(&b, p);
	if (had_thinking)
		*had_thinking = had;
	char *r = buf_detach(&b);
	buf_release(&b); /* buf_detach leaves a fresh buffer behind */
	free(harmony);
	return r;
}

/* ---- lines, boxes, normalising ---- */

static int is_blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isspace((unsigned char)s[i]))
			return 0;
	return 1;
}

static char *dup_trimmed(const char *s, size_t n)
{
	while (n && isspace((unsigned char)*s)) {
		s++;
		n--;
	}
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	char *r = xmalloc(n + 1);
	memcpy(r, s, n);
	r[n] = '\0';
	return r;
}

char *grade_final_line(const char *text)
{
	const char *end, *start;

	if (!text)
		return xstrdup("");
	end = text + strlen(text);
	while (end > text) {
		start = end;
		while (start > text && start[-1] != '\n')
			start--;
		if (!is_blank(start, (size_t)(end - start)))
			return dup_trimmed(start, (size_t)(end - start));
		end = start > text ? start - 1 : text;
	}
	return xstrdup("");
}

/* Content of a balanced {...} starting at *p == '{'; NULL if unbalanced. */
static char *braced(const char *p)
{
	int depth = 0;
	const char *q;

	/* A box that does not close within GRADE_BOX_MAX bytes holds no answer; the cap
	   also keeps many unclosed boxes from making this quadratic. */
	for (q = p; *q && q - p < GRADE_BOX_MAX; q++) {
		if (*q == '{')
			depth++;
		else if (*q == '}' && --depth == 0)
			return dup_trimmed(p + 1, (size_t)(q - p - 1));
	}
	return NULL;
}

char *grade_last_boxed(const char *text)
{
	const char *pos[64];
	size_t n = 0;
	char *r = NULL;

	if (!text)
		return NULL;
	/* Remember the last 64 boxes (a ring), then take the last well-formed one. */
	for (const char *p = text; (p = strchr(p, '\\')); p++) {
		if (strncmp(p, "\\boxed", 6) && strncmp(p, "\\fbox", 5))
			continue;
		pos[n++ % 64] = p;
	}
	for (size_t k = 0; k < n && k < 64 && !r; k++) {
		const char *b = pos[(n - 1 - k) % 64];
		const char *q = b + (b[1] == 'b' ? 6 : 5);
		while (*q == ' ')
			q++;
		if (*q == '{')
			r = braced(q);
	}
	return r;
}

/* Drops Markdown bold markers ("**", "__") and code ticks in place; returns the new length. */
static size_t drop_markdown(char *s)
{
	size_t n = 0;
	for (const char *p = s; *p; p++) {
		if ((p[0] == '*' && p[1] == '*') || (p[0] == '_' && p[1] == '_')) {
			p++;
			continue;
		}
		if (*p == '`')
			continue;
		s[n++] = *p;
	}
	s[n] = '\0';
	return n;
}

/* Peels one answer prefix ("the answer is", ...) off the window [*lo, hi); 1 when it did. */
static int peel_prefix(const char *s, size_t *lo, size_t hi)
{
	static const char *const prefixes[] = {
		"the final answer is", "final answer is", "the answer is", "answer is",
		"final answer:", "answer:", "final answer",
	};
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		size_t k = strlen(prefixes[i]);
		if (hi - *lo >= k && !strncasecmp(s + *lo, prefixes[i], k)) {
			*lo += k;
			return 1;
		}
	}
	return 0;
}

/* Peels one pair of matching quotes off the window [*lo, *hi); 1 when it did. */
static int peel_quotes(const char *s, size_t *lo, size_t *hi)
{
	static const char *const quotes[][2] = {
		{ "\"", "\"" }, { "'", "'" }, { "\xe2\x80\x9c", "\xe2\x80\x9d" },
		{ "\xe2\x80\x98", "\xe2\x80\x99" }, { "\xc2\xab", "\xc2\xbb" },
	};
	for (size_t i = 0; i < sizeof(quotes) / sizeof(quotes[0]); i++) {
		size_t a = strlen(quotes[i][0]), b = strlen(quotes[i][1]);
		if (*hi - *lo >= a + b && !memcmp(s + *lo, quotes[i][0], a) && !memcmp(s + *hi - b, quotes[i][1], b)) {
			*lo += a;
			*hi -= b;
			return 1;
		}
	}
	return 0;
}

/* Peels, on the window [*lo, *hi): spaces, one answer prefix, trailing punctuation, quotes. */
static void peel(const char *s, size_t *lo, size_t *hi)
{
	int changed, prefixed = 0;
	do {
		changed = 0;
		while (*lo < *hi && isspace((unsigned char)s[*lo]))
			(*lo)++;
		while (*hi > *lo && isspace((unsigned char)s[*hi - 1]))
			(*hi)--;
		if (!prefixed && peel_prefix(s, lo, *hi))
			prefixed = changed = 1;
		while (*hi > *lo && strchr(".,;:!?", s[*hi - 1])) {
			(*hi)--;
			changed = 1;
		}
		while (*hi > *lo && isspace((unsigned char)s[*hi - 1]))
			(*hi)--;
		if (peel_quotes(s, lo, hi))
			changed = 1;
	} while (changed);
}

char *grade_normalise(const char *text)
{
	char *s = xstrdup(text ? text : "");
	size_t lo = 0, hi = drop_markdown(s), w = 0;

	peel(s, &lo, &hi);
	/* Case-fold ASCII and collapse whitespace runs to one space. */
	for (size_t i = lo; i < hi; i++) {
		unsigned char c = (unsigned char)s[i];
		if (isspace(c)) {
			if (w && s[w - 1] != ' ')
				s[w++] = ' ';
			continue;
		}
		s[w++] = (char)tolower(c);
	}
	while (w && s[w - 1] == ' ')
		w--;
	s[w] = '\0';
	return s;
}
