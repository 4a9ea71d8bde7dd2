/*
 * test_table.c - the table writer (src/table.c): one row emitter gives
 * aligned text, a JSON array, JSON lines and RFC 4180 CSV; not measured reads
 * "-", null and empty; text-only and data-only columns; --format names.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "table.h"

static const struct tcol cols[] = {
	{"id", NULL, NULL, TCOL_INT, NULL, TCOL_BOTH | TCOL_LEFT},
	{"name", NULL, NULL, TCOL_STR, NULL, TCOL_BOTH},
	{"energy_j", "ENERGY", "J", TCOL_REAL, "%.1f", TCOL_BOTH},
	{"note", NULL, NULL, TCOL_STR, NULL, TCOL_DATA},
};

static char *emit(enum out_format fmt)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	struct table t;
	table_init(&t, fmt, cols, 4, f);
	table_int(&t, 1);
	table_str(&t, "alpha");
	table_real(&t, 150.75);
	table_str(&t, "a, \"quoted\" note");
	table_end_row(&t);
	table_int(&t, 22);
	table_str(&t, "b");
	table_real(&t, NAN);
	table_end_row(&t); /* note left out: null */
	cr_assert_eq(table_finish(&t), 2);
	table_release(&t);
	fclose(f);
	return out;
}

Test(table, text_is_aligned_with_dashes_for_unmeasured)
{
	char *s = emit(OUT_TEXT);
	cr_assert_str_eq(s, "ID NAME  ENERGY\n"
			    "1  alpha  150.8\n"
			    "22 b          -\n");
	free(s);
}

Test(table, json_array_and_lines_with_null)
{
	char *s = emit(OUT_JSON);
	json_t *j = json_loads(s, 0, NULL);
	cr_assert(json_is_array(j) && json_array_size(j) == 2, "%s", s);
	cr_assert_float_eq(json_real_value(json_object_get(json_array_get(j, 0), "energy_j")), 150.75, 1e-12);
	cr_assert(json_is_null(json_object_get(json_array_get(j, 1), "energy_j")));
	cr_assert(json_is_null(json_object_get(json_array_get(j, 1), "note")));
	cr_assert_eq(json_integer_value(json_object_get(json_array_get(j, 1), "id")), 22);
	json_decref(j);
	free(s);
	s = emit(OUT_JSONL);
	cr_assert_eq(strchr(strchr(s, '\n') + 1, '\n')[1], 0, "two lines: %s", s);
	free(s);
}

Test(table, csv_quotes_and_leaves_unmeasured_empty)
{
	char *s = emit(OUT_CSV);
	cr_assert_str_eq(s, "id,name,energy_j,note\n"
			    "1,alpha,150.75,\"a, \"\"quoted\"\" note\"\n"
			    "22,b,,\n");
	free(s);
}

Test(table, format_names)
{
	cr_assert_eq(out_format_parse("csv"), OUT_CSV);
	cr_assert_eq(out_format_parse("jsonl"), OUT_JSONL);
	cr_assert_eq(out_format_parse("xml"), -1);
	cr_assert_str_eq(out_format_name(OUT_JSON), "json");
}
