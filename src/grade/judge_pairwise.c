/*
 * grade/judge_pairwise.c - the pairwise judge (WildChat style): an LLM judge
 * compares the model's answer with a reference response and gives one of the
 * Arena-Hard verdicts [[A>>B]] [[A>B]] [[A=B]] [[B>A]] [[B>>A]]. Each item is
 * judged twice with the positions swapped; a win or a tie counts as correct,
 * and the rule (either / both) combines the two games.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "judge.h"
#include "util.h"

const char judge_pairwise_system[] =
	"You are an impartial judge of two AI assistants' answers to the same user prompt. Read the prompt, "
	"work out for yourself what a good answer would contain, then assess each assistant's answer for "
	"correctness, helpfulness, relevance, completeness and concision, pointing out mistakes, inaccurate "
	"statements and missing information that matters. The order in which the answers are shown, their "
	"length and the assistants' labels must not influence you.\n"
	"After your assessment, give exactly one final verdict label from this list:\n"
	"[[A>>B]]  assistant A is much better\n"
	"[[A>B]]   assistant A is better\n"
	"[[A=B]]   they are about equally good\n"
	"[[B>A]]   assistant B is better\n"
	"[[B>>A]]  assistant B is much better\n"
	"End your reply with a line such as: Final verdict: [[A=B]]";

static const char *const verdicts[] = {"A>>B", "A>B", "A=B", "B>A", "B>>A"};
#define NVERDICTS (int)(sizeof(verdicts) / sizeof(verdicts[0]))

int pairwise_rule_parse(const char *s, enum pairwise_rule *r)
{
	if (s && !strcmp(s, "either"))
		*r = PAIRWISE_EITHER;
	else if (s && !strcmp(s, "both"))
		*r = PAIRWISE_BOTH;
	else
		return -1;
	return 0;
}

const char *pairwise_rule_name(enum pairwise_rule r)
{
	return r == PAIRWISE_BOTH ? "both" : "either";
}

char *judge_pairwise_prompt(const char *question, const char *answer_a, const char *answer_b)
{
	return xasprintf("### User prompt\n%s\n\n### Answer of assistant A\n%s\n### End of answer A\n\n"
			 "### Answer of assistant B\n%s\n### End of answer B\n\n"
			 "Compare the two answers and end with one verdict label: [[A>>B]], [[A>B]], [[A=B]], "
			 "[[B>A]] or [[B>>A]].",
			 question ? question : "", answer_a ? answer_a : "", answer_b ? answer_b : "");
}

/* The index in verdicts[] of the label inside "[[...]]" (spaces ignored), or -1. */
static int label_index(const char *p, size_t n)
{
	char t[16];
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (p[i] != ' ' && p[i] != '\t') {
			if (k + 1 >= sizeof(t))
				return -1;
			t[k++] = p[i];
		}
	t[k] = 0;
	for (int i = 0; i < NVERDICTS; i++)
		if (!strcmp(t, verdicts[i]))
			return i;
	return -1;
}

int judge_pairwise_parse(const char *reply, char *verdict, size_t n)
{
	char *text = grade_strip_thinking(reply ? reply : "", NULL);
	const char *p = text, *open, *close;
	int found = -1, rc = -1;

	while ((open = strstr(p, "[[")) && (close = strstr(open + 2, "]]"))) {
		int i = label_index(open + 2, (size_t)(close - open - 2));
		if (i >= 0) {
			if (found >= 0 && found != i) {
				snprintf(verdict, n, "judge reply gives conflicting verdicts [[%s]] and [[%s]]",
					 verdicts[found], verdicts[i]);
				goto out;
			}
			found = i;
		}
		p = close + 2;
	}
	if (found < 0) {
		snprintf(verdict, n, "judge reply has no verdict label like [[A>B]]: '%.60s'", text);
		goto out;
	}
	snprintf(verdict, n, "%s", verdicts[found]);
	rc = 0;
out:
	free(text);
	return rc;
}

/*
 * One game. ref_first: the reference is assistant A. Sets *win (1 = the
 * answer wins or ties) and the verdict; returns judge_ask's result.
 */
static int game(struct judge *j, const char *question, const char *reference, const char *answer,
		int ref_first, int *win, char *verdict, size_t vlen, int *cached, char *e, size_t elen)
{
	char *user = ref_first ? judge_pairwise_prompt(question, reference, answer)
			       : judge_pairwise_prompt(question, answer, reference);
	int k = judge_ask(j, judge_pairwise_system, user, judge_pairwise_parse, verdict, vlen, cached, e, elen);

	if (k == 0) {
		/* the reference wins only with A>>B / A>B when it is A, B>A / B>>A when it is B */
		int ref_wins = ref_first ? (!strcmp(verdict, "A>>B") || !strcmp(verdict, "A>B"))
					 : (!strcmp(verdict, "B>A") || !strcmp(verdict, "B>>A"));
		*win = !ref_wins;
	}
	free(user);
	return k;
}

static const char *outcome(int win, const char *verdict)
{
	return !win ? "loss" : !strcmp(verdict, "A=B") ? "tie" : "win";
}

int judge_pairwise_grade(struct judge *j, const char *question, const char *reference, const char *answer,
			 enum pairwise_rule rule, struct grade_result *out, char *err, size_t errlen)
{
	char *ans = grade_strip_thinking(answer ? answer : "", NULL);
	char v1[200], v2[200], e[IPW_ERRLEN];
	int w1 = 0, w2 = 0, c1 = 0, c2 = 0, k, rc = 0, ok;

	if (!reference || !*reference) {
		grade_set(out, -1, "", "no reference response to compare with");
		goto out;
	}
	if (!*ans) {
		grade_set(out, 0, "", "empty answer (not sent to the judge)");
		goto out;
	}
	k = game(j, question, reference, ans, 1, &w1, v1, sizeof(v1), &c1, e, sizeof(e));
	if (k == 0)
		k = game(j, question, reference, ans, 0, &w2, v2, sizeof(v2), &c2, e, sizeof(e));
	if (k != 0) {
		grade_set(out, -1, "", "%s", e);
		if (k != JUDGE_UNPARSED && k != JUDGE_EREQUEST) {
			err_set(err, errlen, "%s", e);
			rc = k;
		}
		goto out;
	}
	ok = rule == PAIRWISE_BOTH ? (w1 && w2) : (w1 || w2);
	grade_set(out, ok, v1, "reference as A: [[%s]] %s; answer as A: [[%s]] %s; rule %s: %s%s", v1,
		  outcome(w1, v1), v2, outcome(w2, v2), pairwise_rule_name(rule), ok ? "correct" : "wrong",
		  c1 && c2 ? " (cached)" : "");
out:
	free(ans);
	return rc;
}
