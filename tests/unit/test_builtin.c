/*
 * test_builtin.c - the pieces around the built-in engine's two ways in: the
 * UTF-8 boundary and sanitising helpers both API paths deliver text through,
 * and the energy method of a run (estimated when a source is the cputime
 * back-end) with the check that keeps measured and estimated runs apart.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "engine/engine.h"
#include "estimate.h"
#include "record.h"
#include "util.h"

Test(builtin, utf8_complete_holds_back_a_partial_character)
{
	cr_assert_eq(engine_utf8_complete("abc", 3), 3);
	cr_assert_eq(engine_utf8_complete("a\xC3", 2), 1);          /* é cut after its lead byte */
	cr_assert_eq(engine_utf8_complete("a\xC3\xA9", 3), 3);
	cr_assert_eq(engine_utf8_complete("\xF0\x9F\x98", 3), 0);   /* an emoji's first three bytes */
	cr_assert_eq(engine_utf8_complete("\xF0\x9F\x98\x80", 4), 4);
	cr_assert_eq(engine_utf8_complete("a\x80", 2), 2);          /* a stray continuation byte: whole */
	cr_assert_eq(engine_utf8_complete("", 0), 0);
}

Test(builtin, utf8_sanitize_replaces_invalid_bytes)
{
	char out[64];
	size_t n;

	n = engine_utf8_sanitize("ok \xC3\xA9", 5, out);
	cr_assert_eq(n, 5);
	cr_assert(!memcmp(out, "ok \xC3\xA9", 5));
	n = engine_utf8_sanitize("a\xFF" "b", 3, out);
	cr_assert_eq(n, 5);
	cr_assert(!memcmp(out, "a\xEF\xBF\xBD" "b", 5));
	n = engine_utf8_sanitize("\xC0\xAF", 2, out);                /* overlong: two replacements */
	cr_assert_eq(n, 6);
	n = engine_utf8_sanitize("\xED\xA0\x80", 3, out);            /* a surrogate */
	cr_assert_eq(n, 9);
}

static void source(struct run_source *s, const char *backend)
{
	memset(s, 0, sizeof *s);
	s->backend = (char *)backend;
}

Test(builtin, estimated_runs_are_told_apart_and_not_mixed)
{
	struct run_source meas, est;
	struct run_record runs[2];
	char err[IPW_ERRLEN] = "";

	source(&meas, "nvidia");
	source(&est, "cputime");
	memset(runs, 0, sizeof runs);
	runs[0].id = "1";
	runs[0].sources = &meas;
	runs[0].nsources = 1;
	runs[1].id = "2";
	runs[1].sources = &est;
	runs[1].nsources = 1;
	cr_assert_str_eq(run_energy_method(&runs[0]), "measured");
	cr_assert_str_eq(run_energy_method(&runs[1]), "estimated");
	cr_assert_eq(runs_check_estimated(runs, 1, 0, err, sizeof err), 0);
	cr_assert_eq(runs_check_estimated(runs + 1, 1, 0, err, sizeof err), 0);
	cr_assert_eq(runs_check_estimated(runs, 2, 0, err, sizeof err), -1);
	cr_assert(strstr(err, "--allow-estimated"), "%s", err);
	cr_assert(strstr(err, "run 2 has estimated energy"), "%s", err);
	cr_assert_eq(runs_check_estimated(runs, 2, 1, err, sizeof err), 0);
}
