/*
 * helper_golden.c - runs a golden file of answer texts (tests/data/golden/)
 * through a grader and reports every case that does not give its expected
 * result, with its line and note. Shared by the grader tests.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grade.h"
#include "helper_golden.h"
#include "util.h"

/* Runs every case of a golden file through grader g; returns the number of cases. */
int run_golden(const char *name, const struct grader *g)
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

