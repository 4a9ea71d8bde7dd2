/*
 * regex.c - the regex grader: a POSIX extended pattern (from the settings,
 * else the reference) must match the final answer: the last \boxed{}
 * content, else the final line without a leading "Answer:" or markdown bold.
 * See docs/scoring.md.
 */
#include "grade.h"

#include <ctype.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util.h"

/* The final answer: last box, else the final line with its "Answer:" lead and bold removed. */
static char *final_answer(const char *text)
{
	static const char *const leads[] = {
		"the final answer is", "final answer is", "the answer is", "answer is",
		"final answer:", "answer:",
	};
	char *s = grade_last_boxed(text);
	size_t n = 0;

	if (s)
		return s;
	s = grade_final_line(text);
	for (const char *p = s; *p; p++) {
		if ((p[0] == '*' && p[1] == '*') || (p[0] == '_' && p[1] == '_')) {
			p++;
			continue;
		}
		s[n++] = *p;
	}
	s[n] = '\0';
	for (size_t i = 0; i < sizeof(leads) / sizeof(leads[0]); i++) {
		size_t k = strlen(leads[i]);
		if (!strncasecmp(s, leads[i], k)) {
			const char *r = s + k;
			while (isspace((unsigned char)*r))
				r++;
			memmove(s, r, strlen(r) + 1);
			break;
		}
	}
	return s;
}

static int regex_grade(const struct grade_input *in, struct grade_result *out)
{
	const char *pattern = in->settings && in->settings->pattern ? in->settings->pattern : in->reference;
	int flags = REG_EXTENDED | REG_NOSUB, rc = -1, had_thinking = 0, compiled = 0, e;
	char *text = NULL, *fin = NULL;
	char msg[128];
	regex_t re;

	if (!pattern || !*pattern) {
		grade_set(out, -1, "", "no pattern: set one or give the reference as a pattern");
		goto out;
	}
	if (in->settings && in->settings->regex_icase)
		flags |= REG_ICASE;
	if ((e = regcomp(&re, pattern, flags))) {
		regerror(e, &re, msg, sizeof(msg));
		grade_set(out, -1, "", "pattern '%.60s' does not compile: %s", pattern, msg);
		goto out;
	}
	compiled = 1;
	rc = 0;
	text = grade_strip_thinking(in->answer, &had_thinking);
	fin = final_answer(text);
	if (!*fin)
		grade_set(out, 0, "", had_thinking ? "no answer after thinking" : "empty answer");
	else if (regexec(&re, fin, 0, NULL, 0) == 0)
		grade_set(out, 1, fin, "final answer '%.60s' matches /%.60s/", fin, pattern);
	else
		grade_set(out, 0, fin, "final answer '%.60s' does not match /%.60s/", fin, pattern);
out:
	if (compiled)
		regfree(&re);
	free(fin);
	free(text);
	return rc;
}

const struct grader grader_regex = {
	.name = "regex",
	.grade = regex_grade,
};
