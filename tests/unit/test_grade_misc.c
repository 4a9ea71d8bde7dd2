/*
 * test_grade_misc.c - the shared text helpers (thinking sections, final line,
 * boxes, normalising) and the exact and regex graders.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "grade.h"

static char *strip(const char *s, int *had)
{
	return grade_strip_thinking(s, had);
}

Test(grade_text, strip_thinking_forms)
{
	struct {
		const char *in, *out;
		int had;
	} cases[] = {
		{ "<think>x</think>answer", "answer", 1 },
		{ "<thinking>x</thinking> answer", " answer", 1 },
		{ "<THINK>x</Think>answer", "answer", 1 },
		{ "before <think>x</think> after", "before  after", 1 },
		{ "<think>a</think>b<think>c</think>d", "bd", 1 },
		{ "<think>unterminated", "", 1 },
		{ "ok <think>unterminated", "ok ", 1 },
		{ "prompt-side open tag</think>answer", "answer", 1 },
		{ "<think>a<think>b</think>c", "c", 1 },
		{ "no tags at all", "no tags at all", 0 },
		{ "<|channel|>analysis<|message|>think B<|end|><|start|>assistant<|channel|>final"
		  "<|message|>Answer: C<|return|>", "Answer: C", 1 },
		{ "<|channel|>analysis<|message|>still thinking", "", 1 },
		{ "", "", 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int had = -1;
		char *s = strip(cases[i].in, &had);
		cr_expect_str_eq(s, cases[i].out, "case %zu: '%s' -> '%s'", i, cases[i].in, s);
		cr_expect_eq(had, cases[i].had, "case %zu: had_thinking %d", i, had);
		free(s);
	}
	char *s = strip(NULL, NULL);
	cr_assert_str_eq(s, "");
	free(s);
}

Test(grade_text, final_line)
{
	char *s = grade_final_line("first\n  second  \n\n \n");
	cr_assert_str_eq(s, "second");
	free(s);
	s = grade_final_line("\n\n");
	cr_assert_str_eq(s, "");
	free(s);
	s = grade_final_line("only");
	cr_assert_str_eq(s, "only");
	free(s);
}

Test(grade_text, last_boxed_balances_braces)
{
	char *s = grade_last_boxed("a \\boxed{1} b \\boxed{\\frac{3}{4}} c");
	cr_assert_str_eq(s, "\\frac{3}{4}");
	free(s);
	s = grade_last_boxed("\\boxed{ok} then \\boxed{broken");
	cr_assert_str_eq(s, "ok", "an unbalanced last box falls back to the previous one");
	free(s);
	cr_assert_null(grade_last_boxed("nothing boxed"));
	s = grade_last_boxed("\\fbox{F}");
	cr_assert_str_eq(s, "F");
	free(s);
}

Test(grade_text, normalise)
{
	struct {
		const char *in, *out;
	} cases[] = {
		{ "  Paris  ", "paris" },
		{ "Answer: Paris.", "paris" },
		{ "The answer is **Paris**!", "paris" },
		{ "\"New   York\"", "new york" },
		{ "\xe2\x80\x9cQuoted\xe2\x80\x9d", "quoted" },
		{ "Final answer: `x = 3`", "x = 3" },
		{ "'It''s'", "it''s" },
		{ "", "" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *s = grade_normalise(cases[i].in);
		cr_expect_str_eq(s, cases[i].out, "case %zu: '%s' -> '%s'", i, cases[i].in, s);
		free(s);
	}
}

static struct grade_result run(const struct grader *g, const char *text, const char *ref,
			       const struct grade_settings *s)
{
	struct grade_input in = { .answer = text, .reference = ref, .settings = s };
	struct grade_result r;
	int rc = g->grade(&in, &r);
	cr_assert_eq(rc, r.correct < 0 ? -1 : 0, "return code %d for correct %d", rc, r.correct);
	return r;
}

Test(grade_exact, matches_after_normalising)
{
	cr_assert_eq(run(&grader_exact, "  **PARIS**. ", "Paris", NULL).correct, 1);
	cr_assert_eq(run(&grader_exact, "Answer: \"New  York\"", "new york", NULL).correct, 1);
	cr_assert_eq(run(&grader_exact, "<think>Lyon?</think>Paris", "Paris", NULL).correct, 1);
	cr_assert_eq(run(&grader_exact, "Paris is big", "Paris", NULL).correct, 0);
}

Test(grade_exact, final_line_or_box_may_carry_the_answer)
{
	struct grade_result r = run(&grader_exact, "The capital is discussed.\n\nParis.", "paris", NULL);
	cr_assert_eq(r.correct, 1);
	cr_assert(strstr(r.reason, "final line equals reference"), "reason: %s", r.reason);
	r = run(&grader_exact, "So it is \\boxed{Paris} then.", "Paris", NULL);
	cr_assert_eq(r.correct, 1);
	cr_assert(strstr(r.reason, "boxed answer equals reference"), "reason: %s", r.reason);
	r = run(&grader_exact, "The capital is discussed.\n\nLyon.", "paris", NULL);
	cr_assert_eq(r.correct, 0);
	cr_assert(strstr(r.reason, "'lyon' vs reference 'paris'"), "reason: %s", r.reason);
}

Test(grade_exact, empty_cases)
{
	cr_assert_eq(run(&grader_exact, "Paris", "  ", NULL).correct, -1);
	struct grade_result r = run(&grader_exact, "<think>Paris", "Paris", NULL);
	cr_assert_eq(r.correct, 0);
	cr_assert_str_eq(r.reason, "no answer after thinking");
}

Test(grade_regex, reference_as_pattern_on_final_answer)
{
	cr_assert_eq(run(&grader_regex, "Some reasoning.\nAnswer: 42 apples", "^42( apples)?$", NULL).correct, 1);
	cr_assert_eq(run(&grader_regex, "42 is tempting.\nAnswer: 41", "^42", NULL).correct, 0,
		     "only the final answer is matched, not the reasoning");
	cr_assert_eq(run(&grader_regex, "so \\boxed{x^2+1}", "^x\\^2\\+1$", NULL).correct, 1);
	cr_assert_eq(run(&grader_regex, "**Answer:** Paris", "^Paris$", NULL).correct, 1);
}

Test(grade_regex, settings_pattern_and_case)
{
	struct grade_settings s;
	grade_settings_init(&s);
	s.pattern = "^paris$";
	cr_assert_eq(run(&grader_regex, "Paris", "ignored", &s).correct, 0);
	s.regex_icase = 1;
	cr_assert_eq(run(&grader_regex, "Paris", "ignored", &s).correct, 1);
}

Test(grade_regex, bad_pattern_is_unscored_with_reason)
{
	struct grade_result r = run(&grader_regex, "x", "(unclosed", NULL);
	cr_assert_eq(r.correct, -1);
	cr_assert(strstr(r.reason, "does not compile"), "reason: %s", r.reason);
	r = run(&grader_regex, "<think>only thinking", "x", NULL);
	cr_assert_eq(r.correct, 0);
	cr_assert_str_eq(r.reason, "no answer after thinking");
}

/* glibc regcomp took 728 MB for "a" and 20 '+' (over 1.5 GiB for 24); PCRE2 rejects it at once. */
Test(grade_regex, stacked_quantifiers_are_a_clear_error)
{
	for (int n = 20; n <= 24; n += 4) {
		char pat[32];
		pat[0] = 'a';
		memset(pat + 1, '+', (size_t)n);
		pat[n + 1] = '\0';
		struct grade_result r = run(&grader_regex, "aaa", pat, NULL);
		cr_assert_eq(r.correct, -1, "%d '+': %s", n, r.reason);
		cr_assert(strstr(r.reason, "does not compile"), "reason: %s", r.reason);
		char err[160];
		cr_assert_eq(grade_regex_check(pat, 0, err, sizeof(err)), -1);
	}
	cr_assert_eq(run(&grader_regex, "aaa", "^a++$", NULL).correct, 1, "one possessive '+' is fine");
}

Test(grade_regex, pattern_size_limit)
{
	char *pat = malloc(GRADE_PATTERN_MAX + 2);
	memset(pat, 'a', GRADE_PATTERN_MAX + 1);
	pat[GRADE_PATTERN_MAX + 1] = '\0';
	struct grade_result r = run(&grader_regex, "a", pat, NULL);
	cr_assert_eq(r.correct, -1);
	cr_assert(strstr(r.reason, "over the 4096-byte limit"), "reason: %s", r.reason);
	pat[GRADE_PATTERN_MAX] = '\0';
	cr_assert_eq(run(&grader_regex, "a", pat, NULL).correct, 0, "4096 bytes compile");
	free(pat);
}

Test(grade_regex, backtracking_is_bounded)
{
	char ans[64];
	memset(ans, 'a', 40);
	strcpy(ans + 40, "!");
	struct grade_result r = run(&grader_regex, ans, "^(a|a)*$", NULL);
	cr_assert_eq(r.correct, -1, "reason: %s", r.reason);
	cr_assert(strstr(r.reason, "gave up matching"), "reason: %s", r.reason);
}

Test(grade_regex, posix_semantics_kept)
{
	cr_assert_eq(run(&grader_regex, "\\boxed{a\nb}", "^a.b$", NULL).correct, 1, "'.' matches a newline");
	cr_assert_eq(run(&grader_regex, "Answer: x7", "^[[:alpha:]][[:digit:]]$", NULL).correct, 1);
}
