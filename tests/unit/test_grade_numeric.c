/*
 * test_grade_numeric.c - the numeric grader against the golden answer texts
 * in tests/data/golden/numeric.jsonl (every failing case is reported with
 * its note), plus tolerance defaults and reasons.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grade.h"
#include "helper_golden.h"
#include "util.h"

Test(grade_numeric, golden)
{
	int n = run_golden("numeric.jsonl", &grader_numeric);
	cr_assert_geq(n, 60, "only %d numeric golden cases read", n);
}

static struct grade_result grade(const char *text, const char *ref, const struct grade_settings *s)
{
	struct grade_input in = { .answer = text, .reference = ref, .settings = s };
	struct grade_result r;
	grader_numeric.grade(&in, &r);
	return r;
}

Test(grade_numeric, default_tolerances_are_documented_values)
{
	struct grade_settings s;
	grade_settings_init(&s);
	cr_assert_eq(s.rel_tol, 1e-6);
	cr_assert_eq(s.abs_tol, 1e-9);
	cr_assert_null(s.pattern);
}

Test(grade_numeric, null_settings_mean_defaults)
{
	/* 1000.0005 is within rel 1e-6 of 1000 (tol 1e-3); 1000.01 is not. */
	cr_assert_eq(grade("1000.0005", "1000", NULL).correct, 1);
	cr_assert_eq(grade("1000.01", "1000", NULL).correct, 0);
}

Test(grade_numeric, reason_shows_both_numbers_as_written)
{
	struct grade_result r = grade("The answer is 12.5", "12.50", NULL);
	cr_assert_eq(r.correct, 1);
	cr_assert_str_eq(r.extracted, "12.5");
	cr_assert(strstr(r.reason, "number 12.5 (answer statement) vs reference 12.50: equal within tol"),
		  "reason: %s", r.reason);
	r = grade("so 13", "12.50", NULL);
	cr_assert_eq(r.correct, 0);
	cr_assert(strstr(r.reason, "differ by 0.5"), "reason: %s", r.reason);
}

Test(grade_numeric, no_number_reason)
{
	struct grade_result r = grade("no idea", "3", NULL);
	cr_assert_eq(r.correct, 0);
	cr_assert_str_eq(r.reason, "no number found");
}
