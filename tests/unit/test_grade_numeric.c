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
#include "util.h"

/* Runs every case of a golden file through grader g; returns the number of cases. */
static int run_golden(const char *name, const struct grader *g)
{
	const char *dir = getenv("IPW_TESTS");
	char path[1024], *data = NULL, err[IPW_ERRLEN];
	size_t len;
	int n = 0, line = 0;

	snprintf(path, sizeof(path), "%s/data/golden/%s", dir ? dir : "tests", name);
	cr_assert_eq(read_file(path, &data, &len, err, sizeof(err)), 0, "%s", err);
	for (char *p = data, *nl; p && *p; p = nl ? nl + 1 : NULL) {
		json_error_t jerr;
		json_t *o, *ch;
		struct grade_settings s;
		struct grade_input in = { 0 };
		struct grade_result r;
		const char *choices[32];

		nl = strchr(p, '\n');
		if (nl)
			*nl = '\0';
		line++;
		if (!*p)
			continue;
		o = json_loads(p, 0, &jerr);
		cr_assert(o, "%s:%d: bad JSON: %s", name, line, jerr.text);
		grade_settings_init(&s);
		if (json_is_number(json_object_get(o, "rel_tol")))
			s.rel_tol = json_number_value(json_object_get(o, "rel_tol"));
		if (json_is_number(json_object_get(o, "abs_tol")))
			s.abs_tol = json_number_value(json_object_get(o, "abs_tol"));
		in.answer = json_string_value(json_object_get(o, "text"));
		in.reference = json_string_value(json_object_get(o, "reference"));
		in.nchoices = (int)json_integer_value(json_object_get(o, "nchoices"));
		in.settings = &s;
		ch = json_object_get(o, "choices");
		if (json_is_array(ch)) {
			size_t i;
			for (i = 0; i < json_array_size(ch) && i < 31; i++)
				choices[i] = json_string_value(json_array_get(ch, i));
			choices[i] = NULL;
			in.choices = choices;
		}
		int expect = (int)json_integer_value(json_object_get(o, "expect"));
		int rc = g->grade(&in, &r);
		cr_expect_eq(r.correct, expect, "%s:%d: %s: expected %d, got %d (%s)", name, line,
			     json_string_value(json_object_get(o, "note")), expect, r.correct, r.reason);
		cr_expect_eq(rc, r.correct < 0 ? -1 : 0, "%s:%d: return code %d for correct=%d",
			     name, line, rc, r.correct);
		cr_expect(r.reason[0], "%s:%d: empty reason", name, line);
		json_decref(o);
		n++;
	}
	free(data);
	return n;
}

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
