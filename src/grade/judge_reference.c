/*
 * grade/judge_reference.c - the reference judge (NaturalReasoning style): an
 * LLM judge reads the question, the reference answer and the model's answer
 * and says whether the answer is factually correct and complete, ending its
 * reply with "VERDICT: TRUE" or "VERDICT: FALSE".
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "judge.h"
#include "util.h"

const char judge_reference_system[] =
	"You grade answers to questions. You will see a question, a reference answer that is known to be "
	"correct, and a response to grade. Decide whether the response is factually correct and complete "
	"when measured against the reference answer: it must arrive at the same final result or conclusion "
	"as the reference, must not contradict it, and must not contain a factual error that changes the "
	"answer. Wording, formatting, order, and extra explanation that is correct do not matter, and a "
	"numerical result may be written in any equivalent form. A response that omits the key result, "
	"offers several different final answers, or is only partly correct is not correct.\n"
	"Give a short justification first. Then end your reply with a line that is exactly\n"
	"VERDICT: TRUE\n"
	"if the response is correct and complete, or exactly\n"
	"VERDICT: FALSE\n"
	"otherwise.";

char *judge_reference_prompt(const char *question, const char *reference, const char *answer)
{
	return xasprintf("### Question\n%s\n\n### Reference answer\n%s\n\n### Response to grade\n%s\n"
			 "### End of response\n\n"
			 "Is the response factually correct and complete given the reference answer? "
			 "End with 'VERDICT: TRUE' or 'VERDICT: FALSE'.",
			 question ? question : "", reference ? reference : "", answer ? answer : "");
}

/* Skips markdown decoration and separators between "VERDICT" and its value. */
static const char *skip_decor(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '*' || *p == '_' || *p == ':' || *p == '[' || *p == '(' ||
	       *p == '`' || *p == '"' || *p == '\'' || *p == '=')
		p++;
	return p;
}

/* 1 for TRUE/CORRECT/YES, 0 for FALSE/INCORRECT/NO at p (a whole word), -1 otherwise. */
static int truth_word(const char *p)
{
	static const struct { const char *w; int v; } words[] = {
		{"true", 1}, {"correct", 1}, {"yes", 1}, {"false", 0}, {"incorrect", 0}, {"no", 0},
	};
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		size_t n = strlen(words[i].w);
		if (!strncasecmp(p, words[i].w, n) && !isalnum((unsigned char)p[n]))
			return words[i].v;
	}
	return -1;
}

int judge_reference_parse(const char *reply, char *verdict, size_t n)
{
	char *text = grade_strip_thinking(reply ? reply : "", NULL), *line = NULL;
	const char *p, *last = NULL;
	int v = -1, rc = -1;

	for (p = text; (p = strcasestr(p, "verdict")); p += 7)
		last = p;
	if (last) {
		v = truth_word(skip_decor(last + 7));
		if (v < 0) {
			snprintf(verdict, n, "judge reply's last VERDICT is neither TRUE nor FALSE: '%.40s'", last);
			goto out;
		}
	} else {
		/* no VERDICT label: accept a final line that is just TRUE or FALSE */
		line = grade_final_line(text);
		const char *q = skip_decor(line);
		size_t k;
		v = truth_word(q);
		for (k = strcspn(q, " \t*_.!)]`\"'"); v >= 0 && q[k]; k++)
			if (!strchr(" \t*_.!)]`\"'", q[k]))
				v = -1;
		if (v < 0) {
			snprintf(verdict, n, "judge reply has no 'VERDICT: TRUE|FALSE' line: '%.60s'", text);
			goto out;
		}
	}
	snprintf(verdict, n, "%s", v ? "TRUE" : "FALSE");
	rc = 0;
out:
	free(text);
	free(line);
	return rc;
}

int judge_reference_grade(struct judge *j, const char *question, const char *reference, const char *answer,
			  struct grade_result *out, char *err, size_t errlen)
{
	char *ans = grade_strip_thinking(answer ? answer : "", NULL), *user = NULL;
	char verdict[256], e[IPW_ERRLEN];
	int cached = 0, rc = 0, k;

	if (!reference || !*reference) {
		grade_set(out, -1, "", "no reference answer to judge against");
		goto out;
	}
	if (!*ans) {
		grade_set(out, 0, "", "empty answer (not sent to the judge)");
		goto out;
	}
	user = judge_reference_prompt(question, reference, ans);
	k = judge_ask(j, judge_reference_system, user, judge_reference_parse, verdict, sizeof(verdict), &cached,
		      e, sizeof(e));
	if (k == 0) {
		int ok = !strcmp(verdict, "TRUE");
		grade_set(out, ok, verdict, "judge %s: VERDICT %s%s", j->model, verdict, cached ? " (cached)" : "");
	} else {
		grade_set(out, -1, "", "%s", e);
		if (k != JUDGE_UNPARSED && k != JUDGE_EREQUEST) {
			err_set(err, errlen, "%s", e);
			rc = k;  /* unreachable endpoint or broken cache: stop scoring */
		}
	}
out:
	free(ans);
	free(user);
	return rc;
}
