/*
 * mcq.c - the multiple-choice grader: finds the option letter an answer
 * commits to (\boxed, "answer is", a final line, bare mentions, the option's
 * own text), with a precedence between forms and "final one wins" within a
 * form, and compares it with the reference letter. See docs/scoring.md.
 */
#include "grade.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util.h"

#define MAX_OPTIONS 26
#define DEFAULT_OPTIONS 10 /* MMLU-Pro and SuperGPQA: A-J */

/* Evidence strength: a higher tier beats any lower one. */
enum tier {
	TIER_MENTION = 1,   /* "(C)", "C)" at line start, "Option C", "... C." at line end */
	TIER_FINAL_LINE,    /* the last line is just an option: "C", "C.", "(C) text", "Option C" */
	TIER_STATEMENT,     /* \boxed{C}, "the answer is C", "Answer: C", "I choose C" */
};

struct cand {
	enum tier tier;
	size_t pos;
	int opt;
	const char *how;
};

struct mcq {
	const char *text;           /* cleaned answer text */
	int nopt;
	const char *const *choices; /* may be NULL */
	char **norm_choices;        /* normalised option texts (NULL entries when absent) */
	size_t max_choice;          /* length of the longest option text */
	struct cand *c;
	size_t n, cap;
};

static void add(struct mcq *m, enum tier t, size_t pos, int opt, const char *how)
{
	if (opt < 0)
		return;
	if (m->n == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 16;
		m->c = xrealloc(m->c, m->cap * sizeof(*m->c));
	}
	m->c[m->n++] = (struct cand){ t, pos, opt, how };
}

static int is_word(char c)
{
	return isalnum((unsigned char)c) || c == '_' || ((unsigned char)c & 0x80);
}

static int letter_opt(const struct mcq *m, char c, int allow_lower)
{
	if (c >= 'A' && c < 'A' + m->nopt)
		return c - 'A';
	if (allow_lower && c >= 'a' && c < 'a' + m->nopt)
		return c - 'a';
	return -1;
}

/*
 * Matches phrase at p, case-insensitively; a space in phrase matches a run of
 * spaces or tabs. The match must end at a word boundary. Returns its length or 0.
 */
static size_t match_phrase(const char *p, const char *phrase)
{
	const char *q = p;

	for (; *phrase; phrase++) {
		if (*phrase == ' ') {
			if (*q != ' ' && *q != '\t')
				return 0;
			while (*q == ' ' || *q == '\t')
				q++;
			continue;
		}
		if (tolower((unsigned char)*q) != tolower((unsigned char)*phrase))
			return 0;
		q++;
	}
	if (isalpha((unsigned char)q[-1]) && is_word(*q))
		return 0;
	return (size_t)(q - p);
}

static const char *skip_blank(const char *p, int newlines)
{
	while (*p == ' ' || *p == '\t' || (newlines && (*p == '\n' || *p == '\r')))
		p++;
	return p;
}

/* Option index that is the option's own text, or -1. s need not be normalised. */
static int text_opt(const struct mcq *m, const char *s, size_t n)
{
	char *tmp, *norm;
	int r = -1;

	/* Much longer than every option text: cannot normalise to one (and keeps this linear). */
	if (!m->norm_choices || n == 0 || n > 4 * m->max_choice + 64)
		return -1;
	tmp = xmalloc(n + 1);
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	norm = grade_normalise(tmp);
	for (int i = 0; i < m->nopt && *norm; i++)
		if (m->norm_choices[i] && *m->norm_choices[i] && !strcmp(norm, m->norm_choices[i])) {
			r = i;
			break;
		}
	free(norm);
	free(tmp);
	return r;
}

/* Words after which a bare "A" or "I" still reads as an option, not as English. */
static int connective_follows(const char *p)
{
	static const char *const words[] = {
		"because", "since", "as", "is", "was", "seems", "appears", "fits", "matches",
		"and", "with", "which", "here", "best", "correctly", "accurately",
	};
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (match_phrase(p, words[i]))
			return 1;
	return 0;
}

/* Skips LaTeX wrappers and math delimiters before a letter: \text{, \textbf{, \mathrm{, $. */
static const char *skip_latex(const char *p)
{
	for (;;) {
		if (*p == '$') {
			p++;
		} else if (*p == '\\' && isalpha((unsigned char)p[1])) {
			const char *q = p + 1;
			while (isalpha((unsigned char)*q))
				q++;
			if (*q != '{')
				return p;
			p = q + 1;
		} else {
			return p;
		}
	}
}

/* A lower-case letter at p is an option only before punctuation, the end or the end of its line. */
static int lower_letter_ends(const char *p)
{
	char f = p[1];
	if (f == '\0' || f == '\n' || f == '\r' || (f && strchr(".,;:!?)]}", f) && !isalpha((unsigned char)p[2])))
		return 1;
	return (f == ' ' || f == '\t') && *skip_blank(p + 1, 0) == '\n';
}

/* Whether an upper-case letter at p stands alone: not in a word, a contraction or an English "A"/"I". */
static int upper_letter_alone(const char *p)
{
	char f = p[1];
	if (is_word(f) || (f == '\'' && isalpha((unsigned char)p[2])))
		return 0; /* part of a word, or a contraction: "I'd", "L'..." */
	if (f == ' ' || f == '\t') {
		const char *n = skip_blank(p + 1, 0);
		if (isalpha((unsigned char)*n) && (*p == 'A' || *p == 'I') && !connective_follows(n))
			return 0; /* "A cat ...", "I think ..." */
	}
	return 1;
}

/*
 * Reads an option letter at p as written after an answer cue: "(C)", "[C]",
 * "C", "c" (lower case only before punctuation or the end), "\text{C}".
 * Returns the option or -1.
 */
static int letter_at(const struct mcq *m, const char *p)
{
	int bracket = 0, opt;
	p = skip_latex(p);
	if (*p == '(' || *p == '[') {
		bracket = 1;
		p++;
	}
	opt = letter_opt(m, *p, 1);
	if (opt < 0)
		return -1;
	if (bracket)
		return (p[1] == ')' || p[1] == ']') ? opt : -1;
	if (islower((unsigned char)*p))
		return lower_letter_ends(p) ? opt : -1;
	return upper_letter_alone(p) ? opt : -1;
}

/* Cues after which a separator ("is", ":", ...) leads to the chosen option. */
static const char *const statement_cues[] = {
	"final answer", "answer", "correct option", "correct choice", "correct letter",
	"correct response", "right option", "right choice", "best option", "best choice",
	"final option", "final choice",
};
static const char *const separators[] = {
	":", "=", "is:", "is", "would be", "should be", "will be", "must be", "seems to be",
	"appears to be", "-",
};
/* Words allowed between the separator and the letter. */
static const char *const fillers[] = {
	"therefore", "thus", "clearly", "likely", "most", "probably", "definitely",
	"indeed", "then", "so", "option", "choice", "letter", "the", "answer", ":",
};
/* Cues that take the option directly. */
static const char *const choose_cues[] = {
	"i choose", "i select", "i pick", "i'll choose", "i'll select", "i'll pick",
	"i'll go with", "i will go with", "i would choose", "i would go with", "i'd choose",
	"i'd go with", "we choose", "we select", "my choice is", "my answer is",
};

static const char *skip_fillers(const char *p)
{
	for (int k = 0; k < 4; k++) {
		size_t len = 0;
		p = skip_blank(p, 1);
		for (size_t i = 0; i < sizeof(fillers) / sizeof(fillers[0]) && !len; i++)
			len = match_phrase(p, fillers[i]);
		if (!len)
			break;
		p += len;
	}
	return skip_blank(p, 1);
}

/* After a cue and separator at p: a letter, or the rest of the line as an option's text. */
static void statement_at(struct mcq *m, const char *cue, const char *p)
{
	size_t pos = (size_t)(cue - m->text);
	const char *e;
	int opt;

	p = skip_fillers(p);
	opt = letter_at(m, p);
	if (opt >= 0) {
		add(m, TIER_STATEMENT, pos, opt, "answer statement");
		return;
	}
	/* The rest of the line, as far as an option text could reach. */
	for (e = p; *e && *e != '\n' && (size_t)(e - p) <= 4 * m->max_choice + 64; e++)
		;
	add(m, TIER_STATEMENT, pos, text_opt(m, p, (size_t)(e - p)), "answer statement (option text)");
}

/* What may follow an option to make it a statement: "C is the correct answer". */
static const char *const verdicts[] = {
	"is the correct answer", "is the right answer", "is the best answer", "is the answer",
	"is the final answer", "is the correct option", "is the correct choice",
	"is the best option", "is the best choice", "is the most likely answer",
	"is the most appropriate answer", "is correct", "is right", "would be the answer",
	"would be the correct answer",
};

/* "C is the correct answer", "(C) is correct": an option at p followed by a verdict. */
static void verdict_at(struct mcq *m, const char *p)
{
	int bracket = *p == '(' || *p == '[';
	const char *q = p + bracket;
	int opt = letter_opt(m, *q, bracket);

	if (opt < 0)
		return;
	q++;
	if (bracket && *q++ != (*p == '(' ? ')' : ']'))
		return;
	if (is_word(*q) || (*q != ' ' && *q != '\t'))
		return;
	q = skip_blank(q, 0);
	for (size_t i = 0; i < sizeof(verdicts) / sizeof(verdicts[0]); i++)
		if (match_phrase(q, verdicts[i])) {
			add(m, TIER_STATEMENT, (size_t)(p - m->text), opt, "answer statement");
			return;
		}
}

static void find_statements(struct mcq *m)
{
	const char *t = m->text;

	for (const char *p = t; *p; p++) {
		if (p > t && is_word(p[-1]))
			continue;
		verdict_at(m, p);
		for (size_t i = 0; i < sizeof(statement_cues) / sizeof(statement_cues[0]); i++) {
			size_t len = match_phrase(p, statement_cues[i]);
			if (!len)
				continue;
			const char *q = p + len;
			/* "answer choice is", "answer option:" */
			size_t extra = match_phrase(skip_blank(q, 0), "choice");
			if (!extra)
				extra = match_phrase(skip_blank(q, 0), "option");
			if (extra)
				q = skip_blank(q, 0) + extra;
			q = skip_blank(q, 0);
			size_t slen = 0;
			for (size_t s = 0; s < sizeof(separators) / sizeof(separators[0]) && !slen; s++)
				slen = match_phrase(q, separators[s]);
			if (slen)
				statement_at(m, p, q + slen);
			else if (i == 0) /* "Final Answer\n\nC" */
				statement_at(m, p, q);
			break;
		}
		for (size_t i = 0; i < sizeof(choose_cues) / sizeof(choose_cues[0]); i++) {
			size_t len = match_phrase(p, choose_cues[i]);
			if (len) {
				statement_at(m, p, p + len);
				break;
			}
		}
	}
}

/* Removes $, \text{..}-style wrappers, brackets and a trailing dot around a box's content. */
static void unwrap(char *s)
{
	size_t n;
	int changed = 1;

	while (changed) {
		changed = 0;
		n = strlen(s);
		while (n && (isspace((unsigned char)s[n - 1]) || s[n - 1] == '.' || s[n - 1] == '$'))
			s[--n] = '\0';
		size_t i = 0;
		while (isspace((unsigned char)s[i]) || s[i] == '$')
			i++;
		if (i) {
			memmove(s, s + i, n - i + 1);
			n -= i;
			changed = 1;
		}
		if (s[0] == '\\' && isalpha((unsigned char)s[1])) {
			size_t k = 1;
			while (isalpha((unsigned char)s[k]))
				k++;
			if (s[k] == '{' && n && s[n - 1] == '}') {
				s[n - 1] = '\0';
				memmove(s, s + k + 1, n - k - 1);
				changed = 1;
				continue;
			}
		}
		if (n >= 2 && ((s[0] == '(' && s[n - 1] == ')') || (s[0] == '[' && s[n - 1] == ']') ||
			       (s[0] == '{' && s[n - 1] == '}'))) {
			s[n - 1] = '\0';
			memmove(s, s + 1, n - 1);
			changed = 1;
		}
	}
}

static void find_boxes(struct mcq *m)
{
	static const char *const names[] = { "\\boxed", "\\fbox" };

	for (size_t k = 0; k < 2; k++) {
		for (const char *p = m->text; (p = strstr(p, names[k])); p++) {
			const char *q = skip_blank(p + strlen(names[k]), 0);
			char *in;
			int opt = -1;

			if (*q != '{')
				continue;
			/* The content of this box alone: cut the text after its closing brace. */
			int depth = 0;
			const char *e = q;
			for (; *e && e - q < GRADE_BOX_MAX; e++) {
				if (*e == '{')
					depth++;
				else if (*e == '}' && --depth == 0)
					break;
			}
			if (*e != '}')
				continue;
			in = xmalloc((size_t)(e - q));
			memcpy(in, q + 1, (size_t)(e - q - 1));
			in[e - q - 1] = '\0';
			unwrap(in);
			if (in[0] && !in[1])
				opt = letter_opt(m, in[0], 1);
			else if (in[0] && in[1] && strchr(").:", in[1]) && (!in[2] || in[2] == ' '))
				opt = letter_opt(m, in[0], 1); /* "C) text", "C. text" */
			if (opt < 0)
				opt = text_opt(m, in, strlen(in));
			add(m, TIER_STATEMENT, (size_t)(p - m->text), opt, "boxed");
			free(in);
		}
	}
}

/* Skips list bullets, quote markers and headings at a line start. */
static const char *skip_line_lead(const char *p)
{
	for (;;) {
		p = skip_blank(p, 0);
		if ((*p == '-' || *p == '>' || *p == '#' || *p == '+') && (p[1] == ' ' || p[1] == '#'))
			p++;
		else if (*p == '#')
			p++;
		else
			return p;
	}
}

/*
 * An option that a line opens with: "C) ...", "(C) ...", "C. ...", "C: ...",
 * "Option C", "Choice C". Lower case only in the "(c)" and "c)" forms.
 */
static int line_lead_opt(const struct mcq *m, const char *p)
{
	size_t len;
	int opt;

	if (p[0] == '(' && p[1] && p[2] == ')' && (opt = letter_opt(m, p[1], 1)) >= 0)
		return opt;
	if ((opt = letter_opt(m, p[0], 1)) >= 0 && p[1] == ')' && !is_word(p[2]))
		return opt;
	if ((opt = letter_opt(m, p[0], 0)) >= 0 && (p[1] == '.' || p[1] == ':') &&
	    (p[2] == '\0' || isspace((unsigned char)p[2])))
		return opt;
	if ((len = match_phrase(p, "option")) || (len = match_phrase(p, "choice")))
		return letter_at(m, skip_blank(p + len, 0));
	return -1;
}

/* The final line of the cleaned text, when it is an option and nothing else. */
static void find_final_line(struct mcq *m)
{
	const char *t = m->text, *end = t + strlen(t), *s;
	char *line;
	int opt;

	while (end > t && isspace((unsigned char)end[-1]))
		end--;
	s = end;
	while (s > t && s[-1] != '\n')
		s--;
	if (s == end)
		return;
	size_t pos = (size_t)(s - t);
	s = skip_line_lead(s);
	if (s >= end)
		return;
	line = xmalloc((size_t)(end - s) + 1);
	memcpy(line, s, (size_t)(end - s));
	line[end - s] = '\0';
	unwrap(line);
	if (line[0] && !line[1] && (opt = letter_opt(m, line[0], 1)) >= 0)
		add(m, TIER_FINAL_LINE, pos, opt, "final line");
	else if ((opt = line_lead_opt(m, s)) >= 0)
		add(m, TIER_FINAL_LINE, pos, opt, "final line");
	else
		add(m, TIER_FINAL_LINE, pos, text_opt(m, s, (size_t)(end - s)), "final line (option text)");
	free(line);
}

/* "not C.": a negation is no commitment. */
static int preceded_by_not(const char *t, const char *p)
{
	const char *q = p;
	while (q > t && (q[-1] == ' ' || q[-1] == '\t'))
		q--;
	return q - t >= 3 && !strncasecmp(q - 3, "not", 3) && (q - t == 3 || !is_word(q[-4]));
}

/* Bare mentions anywhere: weakest evidence, used only when nothing else is found. */
static void find_mentions(struct mcq *m)
{
	const char *t = m->text;
	int opt;

	for (const char *p = t; *p; p++) {
		size_t pos = (size_t)(p - t);
		if (p == t || p[-1] == '\n') {
			const char *s = skip_line_lead(p);
			const char *e = strchr(s, '\n');
			if (!e)
				e = s + strlen(s);
			if ((opt = line_lead_opt(m, s)) >= 0)
				add(m, TIER_MENTION, pos, opt, "mention");
			else
				add(m, TIER_MENTION, pos, text_opt(m, s, (size_t)(e - s)), "mention (option text)");
		}
		if (p > t && is_word(p[-1]))
			continue;
		if (*p == '(' && p[1] && p[2] == ')' && (opt = letter_opt(m, p[1], 0)) >= 0)
			add(m, TIER_MENTION, pos, opt, "mention");
		size_t len = match_phrase(p, "option");
		if (!len)
			len = match_phrase(p, "choice");
		if (len && p > t && p[-1] != '\n') /* line starts were handled above */
			add(m, TIER_MENTION, pos, letter_at(m, skip_blank(p + len, 0)), "mention");
		/* "... so it is C." at a line's end */
		if (p > t && p[-1] == ' ' && (opt = letter_opt(m, p[0], 0)) >= 0 && p[1] == '.' &&
		    (p[2] == '\0' || p[2] == '\n' || p[2] == '\r') && !preceded_by_not(t, p))
			add(m, TIER_MENTION, pos, opt, "mention");
	}
}

/* Parses the reference: a letter ("C", "(c)", "C.") or an option's text. */
static int reference_opt(const struct mcq *m, const char *ref)
{
	char *s = grade_normalise(ref);
	int opt = -1;

	unwrap(s);
	if (s[0] && !s[1])
		opt = letter_opt(m, (char)toupper((unsigned char)s[0]), 0);
	free(s);
	if (opt < 0)
		opt = text_opt(m, ref, strlen(ref));
	return opt;
}

static int option_count(const struct grade_input *in)
{
	int n = in->nchoices;

	if (n > MAX_OPTIONS)
		n = MAX_OPTIONS;
	if (n <= 0) {
		/* Unknown: A-J, stretched to the reference letter when it lies beyond. */
		n = DEFAULT_OPTIONS;
		const char *r = in->reference ? in->reference : "";
		while (*r && !isalpha((unsigned char)*r))
			r++;
		char c = (char)toupper((unsigned char)*r);
		if (c >= 'A' && c <= 'Z' && !is_word(r[1]) && c - 'A' + 1 > n)
			n = c - 'A' + 1;
	}
	return n;
}

/* The options' normalised texts. With a count, exactly that many texts; without one, up to a NULL entry. */
static void load_choices(struct mcq *m, const struct grade_input *in)
{
	m->choices = in->choices;
	if (!in->choices)
		return;
	m->norm_choices = xcalloc((size_t)m->nopt, sizeof(char *));
	for (int i = 0; i < m->nopt && (in->nchoices > 0 || in->choices[i]); i++)
		if (in->choices[i]) {
			m->norm_choices[i] = grade_normalise(in->choices[i]);
			if (strlen(in->choices[i]) > m->max_choice)
				m->max_choice = strlen(in->choices[i]);
		}
}

/* Markdown emphasis and code ticks carry no meaning here: a copy without them. */
static char *drop_emphasis(const char *s)
{
	char *clean = xmalloc(strlen(s) + 1);
	size_t n = 0;
	for (const char *p = s; *p; p++)
		if (*p != '*' && *p != '`')
			clean[n++] = *p;
	clean[n] = '\0';
	return clean;
}

/* The strongest tier present; within it, the last in the text. Grades it against ref. */
static void choose(const struct mcq *m, int ref, struct grade_result *out)
{
	enum tier best = TIER_MENTION;
	const struct cand *fin = NULL;
	int seen[MAX_OPTIONS] = { 0 }, distinct = 0;
	char list[2 * MAX_OPTIONS + 1] = "", letter[2] = { 0, 0 };

	for (size_t i = 0; i < m->n; i++)
		if (m->c[i].tier > best)
			best = m->c[i].tier;
	for (size_t i = 0; i < m->n; i++) {
		if (m->c[i].tier != best)
			continue;
		if (!fin || m->c[i].pos >= fin->pos)
			fin = &m->c[i];
		if (!seen[m->c[i].opt]++)
			distinct++;
	}
	for (int i = 0, k = 0; i < m->nopt; i++)
		if (seen[i]) {
			if (k)
				list[k++] = ',';
			list[k++] = (char)('A' + i);
			list[k] = '\0';
		}
	letter[0] = (char)('A' + fin->opt);
	if (distinct > 1)
		grade_set(out, fin->opt == ref, letter,
			  "several options (%s), chose final: %c (%s); reference %c",
			  list, letter[0], fin->how, 'A' + ref);
	else
		grade_set(out, fin->opt == ref, letter, "%s: %c; reference %c",
			  fin->how, letter[0], 'A' + ref);
}

static int mcq_grade(const struct grade_input *in, struct grade_result *out)
{
	struct mcq m = { 0 };
	char *stripped = NULL, *clean = NULL;
	int had_thinking = 0, ref, rc = 0;

	m.nopt = option_count(in);
	load_choices(&m, in);
	ref = in->reference ? reference_opt(&m, in->reference) : -1;
	if (ref < 0) {
		grade_set(out, -1, "", "reference '%.60s' is not one of the %d option letters (A-%c)",
			  in->reference ? in->reference : "(none)", m.nopt, 'A' + m.nopt - 1);
		rc = -1;
		goto out;
	}

	stripped = grade_strip_thinking(in->answer, &had_thinking);
	clean = drop_emphasis(stripped);
	m.text = clean;
	if (!*skip_blank(clean, 1)) {
		grade_set(out, 0, "", had_thinking ? "no answer after thinking" : "empty answer");
		goto out;
	}
	find_boxes(&m);
	find_statements(&m);
	find_final_line(&m);
	find_mentions(&m);
	if (m.n == 0)
		grade_set(out, 0, "", "no option found");
	else
		choose(&m, ref, out);
out:
	if (m.norm_choices) {
		for (int i = 0; i < m.nopt; i++)
			free(m.norm_choices[i]);
		free(m.norm_choices);
	}
	free(m.c);
	free(clean);
	free(stripped);
	return rc;
}

const struct grader grader_mcq = {
	.name = "mcq",
	.grade = mcq_grade,
};
