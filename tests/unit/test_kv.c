/*
 * test_kv.c - src/kv.c, the one reader of key/value files: JSON objects and
 * text lines, numbers with count suffixes, and errors naming file and line.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kv.h"

static char dir[64];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/ipw-kv-XXXXXX");
	cr_assert(mkdtemp(dir));
}

static void teardown(void)
{
	char cmd[96];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(kv, .init = setup, .fini = teardown);

static const char *file(const char *name, const char *text)
{
	static char path[128];
	FILE *f;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	cr_assert(f = fopen(path, "w"));
	fputs(text, f);
	fclose(f);
	return path;
}

static const struct kv_spec pair = {2, {"input", "output"}, 1, 0, 0, "price", "KEY INPUT OUTPUT", "{\"input\": X, \"output\": Y}"};
static const struct kv_spec count = {1, {NULL, NULL}, 1, 0, 0, "parameters", "KEY PARAMETERS", "a count like 8B"};
static const struct kv_spec weight = {1, {NULL, NULL}, 0, 1, 1, "weight", "subject,weight", "a number >= 0"};

Test(kv, json_objects_arrays_and_strings)
{
	struct kv_table t;
	char err[256];
	const char *p = file("p.json", "{\"a\": {\"input\": 1, \"output\": 2.5}, \"b\": [0, \"3M\"]}");

	cr_assert_eq(kv_read(p, &pair, &t, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(t.n, 2);
	cr_assert_str_eq(t.e[0].key, "a");
	cr_assert_float_eq(t.e[0].v[1], 2.5, 0);
	cr_assert_float_eq(kv_find(&t, "b")->v[1], 3e6, 0);
	cr_assert_null(kv_find(&t, "c"));
	cr_assert_null(kv_find(&t, NULL));
	kv_table_release(&t);
	p = file("c.json", "{\"m\": \"8B\", \"n\": 2e9}");
	cr_assert_eq(kv_read(p, &count, &t, err, sizeof(err)), 0, "%s", err);
	cr_assert_float_eq(t.e[0].v[0], 8e9, 0);
	cr_assert(isnan(t.e[0].v[1]));
	kv_table_release(&t);
}

Test(kv, text_lines_with_comments_and_blank_lines)
{
	struct kv_table t;
	char err[256];
	const char *p = file("c.txt", "# parameters\n\nm1 1B  # one billion\nm2,120M\r\nm1 5\n");

	cr_assert_eq(kv_read(p, &count, &t, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(t.n, 3);
	cr_assert_float_eq(kv_find(&t, "m1")->v[0], 1e9, 0); /* the first one counts */
	cr_assert_eq(kv_find(&t, "m1")->line, 3);
	cr_assert_float_eq(kv_find(&t, "m2")->v[0], 120e6, 0);
	kv_table_release(&t);
	/* weights: the key is what precedes the last TAB or comma, spaces and all */
	p = file("w.txt", "  # subject, weight\nus history,0.25\nbio\t0.75 \n");
	cr_assert_eq(kv_read(p, &weight, &t, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(t.n, 2);
	cr_assert_float_eq(kv_find(&t, "us history")->v[0], 0.25, 0);
	cr_assert_float_eq(kv_find(&t, "bio")->v[0], 0.75, 0);
	kv_table_release(&t);
	p = file("e.txt", "");
	cr_assert_eq(kv_read(p, &weight, &t, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(t.n, 0);
	kv_table_release(&t);
}

Test(kv, errors_name_file_and_line)
{
	struct kv_table t;
	char err[256], want[192];
	const char *p = file("bad.txt", "a 1 2\n\nb 1\n");

	cr_assert_lt(kv_read(p, &pair, &t, err, sizeof(err)), 0);
	snprintf(want, sizeof(want), "%s:3: expected 'KEY INPUT OUTPUT'", p);
	cr_assert_str_eq(err, want);
	cr_assert_eq(t.n, 0);
	p = file("neg.txt", "x,1\ny,-1\n");
	cr_assert_lt(kv_read(p, &weight, &t, err, sizeof(err)), 0);
	snprintf(want, sizeof(want), "%s:2: '-1' is not a number >= 0", p);
	cr_assert(!strncmp(err, want, strlen(want)), "%s", err);
	p = file("dup.txt", "x,1\nx,2\n");
	cr_assert_lt(kv_read(p, &weight, &t, err, sizeof(err)), 0);
	cr_assert(strstr(err, ":2: 'x' is given twice"), "%s", err);
	p = file("suffix.txt", "x,8B\n");
	cr_assert_lt(kv_read(p, &weight, &t, err, sizeof(err)), 0);  /* weights take no suffix */
	p = file("bad.json", "{\"a\": {\"input\": 1}}");
	cr_assert_lt(kv_read(p, &pair, &t, err, sizeof(err)), 0);
	cr_assert(strstr(err, "the price of 'a' must be {\"input\""), "%s", err);
	p = file("broken.json", "{\"a\": 1,\n");
	cr_assert_lt(kv_read(p, &count, &t, err, sizeof(err)), 0);
	cr_assert(strstr(err, "not valid JSON"), "%s", err);
	p = file("arr.json", "[1, 2]");
	cr_assert_lt(kv_read(p, &count, &t, err, sizeof(err)), 0);
	cr_assert(strstr(err, "expected a JSON object"), "%s", err);
	cr_assert_lt(kv_read("/nonexistent/x", &count, &t, err, sizeof(err)), 0);
	cr_assert(strstr(err, "/nonexistent/x"), "%s", err);
}

Test(kv, from_memory)
{
	struct kv_table t;
	char err[256];
	const char text[] = "a 1\nb 2B\nc 3";

	/* the length bounds the text: "c 3" is cut to "c" */
	cr_assert_lt(kv_read_mem("mem", text, sizeof(text) - 2, &count, &t, err, sizeof(err)), 0);
	cr_assert_str_eq(err, "mem:3: expected 'KEY PARAMETERS'");
	cr_assert_eq(kv_read_mem("mem", text, sizeof(text) - 1, &count, &t, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(t.n, 3);
	cr_assert_float_eq(kv_find(&t, "b")->v[0], 2e9, 0);
	kv_table_release(&t);
}
