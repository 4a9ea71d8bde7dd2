/*
 * regex.c - the regex grader: a pattern (from the settings, else the
 * reference) must match the final answer: the last \boxed{} content, else the
 * final line without a leading "Answer:" or markdown bold. Patterns are
 * compiled with PCRE2 under size, match, depth and heap limits so that a
 * hostile pattern costs bounded time and memory. See docs/scoring.md.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "grade.h"

#include <ctype.h>
#include <pcre2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util.h"

#define MATCH_LIMIT 1000000u    /* backtracking steps per match */
#define DEPTH_LIMIT 10000u      /* nested backtracking frames */
#define HEAP_LIMIT_KIB 16384u   /* 16 MiB of match frames */

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

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/*
 * Compiles pattern the way the grader uses it: no UTF (bytes, as the C
 * locale's regcomp did), '.' matches a newline and '$' only the very end
 * (as POSIX ERE without REG_NEWLINE). Caller frees *out with pcre2_code_free.
 */
static int compile(const char *pattern, int icase, pcre2_code **out, char *err, size_t errlen)
{
	uint32_t opts = PCRE2_DOTALL | PCRE2_DOLLAR_ENDONLY | PCRE2_NEVER_UTF | PCRE2_NEVER_UCP |
			(icase ? PCRE2_CASELESS : 0);
	size_t len = strlen(pattern);
	pcre2_compile_context *cc = NULL;
	PCRE2_SIZE off = 0;
	int e = 0, rc = -1;

	*out = NULL;
	if (len > GRADE_PATTERN_MAX) {
		fail(err, errlen, "is %zu bytes, over the %d-byte limit", len, GRADE_PATTERN_MAX);
		goto out;
	}
	cc = pcre2_compile_context_create(NULL);
	if (!cc) {
		fail(err, errlen, "out of memory");
		goto out;
	}
	pcre2_set_max_pattern_length(cc, GRADE_PATTERN_MAX);
	pcre2_set_parens_nest_limit(cc, 64);
	*out = pcre2_compile((PCRE2_SPTR)pattern, len, opts, &e, &off, cc);
	if (!*out) {
		PCRE2_UCHAR msg[120];
		if (pcre2_get_error_message(e, msg, sizeof(msg)) < 0)
			snprintf((char *)msg, sizeof(msg), "error %d", e);
		fail(err, errlen, "%s at offset %zu", (char *)msg, (size_t)off);
		goto out;
	}
	rc = 0;
out:
	pcre2_compile_context_free(cc);
	return rc;
}

int grade_regex_check(const char *pattern, int icase, char *err, size_t errlen)
{
	pcre2_code *re = NULL;
	int rc = compile(pattern, icase, &re, err, errlen);

	pcre2_code_free(re);
	return rc;
}

/* 1 match, 0 no match, -1 the match gave up (limit hit) with the reason in err. */
static int match(const pcre2_code *re, const char *s, char *err, size_t errlen)
{
	pcre2_match_context *mc = pcre2_match_context_create(NULL);
	pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
	int rc = -1, e;

	if (!mc || !md) {
		fail(err, errlen, "out of memory");
		goto out;
	}
	pcre2_set_match_limit(mc, MATCH_LIMIT);
	pcre2_set_depth_limit(mc, DEPTH_LIMIT);
	pcre2_set_heap_limit(mc, HEAP_LIMIT_KIB);
	e = pcre2_match(re, (PCRE2_SPTR)s, strlen(s), 0, 0, md, mc);
	if (e >= 0) {
		rc = 1;
	} else if (e == PCRE2_ERROR_NOMATCH) {
		rc = 0;
	} else {
		PCRE2_UCHAR msg[120];
		if (pcre2_get_error_message(e, msg, sizeof(msg)) < 0)
			snprintf((char *)msg, sizeof(msg), "error %d", e);
		fail(err, errlen, "%s", (char *)msg);
	}
out:
	pcre2_match_data_free(md);
	pcre2_match_context_free(mc);
	return rc;
}

static int regex_grade(const struct grade_input *in, struct grade_result *out)
{
	const char *pattern = in->settings && in->settings->pattern ? in->settings->pattern : in->reference;
	int icase = in->settings && in->settings->regex_icase, rc = -1, had_thinking = 0, m;
	char *text = NULL, *fin = NULL;
	pcre2_code *re = NULL;
	char msg[160];

	if (!pattern || !*pattern) {
		grade_set(out, -1, "", "no pattern: set one or give the reference as a pattern");
		goto out;
	}
	if (compile(pattern, icase, &re, msg, sizeof(msg)) < 0) {
		grade_set(out, -1, "", "pattern '%.60s' does not compile: %s", pattern, msg);
		goto out;
	}
	text = grade_strip_thinking(in->answer, &had_thinking);
	fin = final_answer(text);
	if (!*fin) {
		rc = 0;
		grade_set(out, 0, "", had_thinking ? "no answer after thinking" : "empty answer");
	} else if ((m = match(re, fin, msg, sizeof(msg))) < 0) {
		grade_set(out, -1, fin, "pattern '%.60s' gave up matching: %s", pattern, msg);
	} else {
		rc = 0;
		grade_set(out, m, fin, "final answer '%.60s' %s /%.60s/", fin,
			  m ? "matches" : "does not match", pattern);
	}
out:
	pcre2_code_free(re);
	free(fin);
	free(text);
	return rc;
}

const struct grader grader_regex = {
	.name = "regex",
	.grade = regex_grade,
};
