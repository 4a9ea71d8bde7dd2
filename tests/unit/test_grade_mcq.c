/*
 * test_grade_mcq.c - the multiple-choice grader against the golden answer
 * texts in tests/data/golden/mcq.jsonl (every failing case is reported with
 * its note), plus the registry and reasons that the golden file cannot show.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grade.h"
#include "helper_golden.h"
#include "util.h"

Test(grade_mcq, golden)
{
	int n = run_golden("mcq.jsonl", &grader_mcq);
	cr_assert_geq(n, 80, "only %d mcq golden cases read", n);
}

static struct grade_result grade(const char *text, const char *ref, int nchoices)
{
	struct grade_input in = { .answer = text, .reference = ref, .nchoices = nchoices };
	struct grade_result r;
	grader_mcq.grade(&in, &r);
	return r;
}

Test(grade_mcq, reason_names_conflict_and_final_choice)
{
	struct grade_result r = grade("The answer is A. No, the answer is C.", "C", 4);
	cr_assert_eq(r.correct, 1);
	cr_assert_str_eq(r.extracted, "C");
	cr_assert(strstr(r.reason, "several options (A,C), chose final: C"), "reason: %s", r.reason);
}

Test(grade_mcq, reason_when_nothing_found)
{
	struct grade_result r = grade("I have no idea.", "B", 4);
	cr_assert_eq(r.correct, 0);
	cr_assert_str_eq(r.reason, "no option found");
	cr_assert_str_eq(r.extracted, "");
}

Test(grade_mcq, reason_for_unterminated_thinking)
{
	struct grade_result r = grade("<think>The answer is B, surely", "B", 4);
	cr_assert_eq(r.correct, 0);
	cr_assert_str_eq(r.reason, "no answer after thinking");
}

Test(grade_mcq, unscored_reference_says_why)
{
	struct grade_result r = grade("Answer: B", "Q", 4);
	cr_assert_eq(r.correct, -1);
	cr_assert(strstr(r.reason, "not one of the 4 option letters"), "reason: %s", r.reason);
}

Test(grade_mcq, registry_finds_graders_by_name_and_task)
{
	cr_assert_eq(grader_find("mcq"), &grader_mcq);
	cr_assert_eq(grader_find("numeric"), &grader_numeric);
	cr_assert_eq(grader_find("exact"), &grader_exact);
	cr_assert_eq(grader_find("regex"), &grader_regex);
	cr_assert_null(grader_find("judge"));
	cr_assert_eq(grader_for_task(TASK_MCQ), &grader_mcq);
	cr_assert_eq(grader_for_task(TASK_NUMERIC), &grader_numeric);
	cr_assert_null(grader_for_task(TASK_JUDGE_PAIRWISE));
}

Test(grade_mcq, grade_item_uses_item_choices)
{
	char *choices[] = { "Paris", "London", "Berlin", "Madrid", NULL };
	struct item it = { .answer = "C", .task = TASK_MCQ, .choices = choices, .nchoices = 4 };
	struct grade_result r;
	cr_assert_eq(grade_item(&it, "The answer is Berlin.", NULL, &r), 0);
	cr_assert_eq(r.correct, 1, "%s", r.reason);
	it.task = TASK_JUDGE_REFERENCE;
	cr_assert_eq(grade_item(&it, "x", NULL, &r), -1);
	cr_assert_eq(r.correct, -1);
}
