/*
 * test_study.c - src/study.c: --config specs (name, labels, then profile
 * options kept verbatim), lease tokens, and the clear error of a store
 * without the study queue (SQLite). The queue itself is tested against a
 * real PostgreSQL server in tests/cli/fleet_faults.sh.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "store.h"
#include "study.h"
#include "util.h"

Test(study, config_labels_then_options)
{
	struct study_config c;
	char err[256];
	cr_assert_eq(study_config_parse("q8 model=qwen3:8b server=vllm accelerator=H100 --max-tokens 32 --ignore-eos",
					&c, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(c.name, "q8");
	cr_assert_str_eq(c.model, "qwen3:8b");
	cr_assert_str_eq(c.server, "vllm");
	cr_assert_str_eq(c.accelerator, "H100");
	cr_assert_str_eq(c.options_json, "[\"--max-tokens\",\"32\",\"--ignore-eos\"]");
	study_config_release(&c);
}

Test(study, config_name_only_and_labels_after_options_are_options)
{
	struct study_config c;
	char err[256];
	cr_assert_eq(study_config_parse("  base  ", &c, err, sizeof(err)), 0);
	cr_assert_str_eq(c.name, "base");
	cr_assert_null(c.model);
	cr_assert_str_eq(c.options_json, "[]");
	study_config_release(&c);
	/* once options start, a word like model=x is an option's value, not a label */
	cr_assert_eq(study_config_parse("b --system model=x", &c, err, sizeof(err)), 0);
	cr_assert_null(c.model);
	cr_assert_str_eq(c.options_json, "[\"--system\",\"model=x\"]");
	study_config_release(&c);
}

Test(study, config_without_a_name_is_refused)
{
	struct study_config c;
	char err[256] = "";
	cr_assert_eq(study_config_parse("--max-tokens 3", &c, err, sizeof(err)), -1);
	cr_assert(strstr(err, "starts with the config's name"), "%s", err);
	cr_assert_eq(study_config_parse("model=m", &c, err, sizeof(err)), -1);
	cr_assert_eq(study_config_parse("   ", &c, err, sizeof(err)), -1);
	cr_assert(strstr(err, "no config name"), "%s", err);
}

Test(study, lease_tokens_are_32_hex_digits_and_differ)
{
	struct study_lease a, b;
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	study_lease_token(&a);
	study_lease_token(&b);
	cr_assert_eq(strlen(a.token), 32);
	cr_assert_eq(strspn(a.token, "0123456789abcdef"), 32);
	cr_assert_str_neq(a.token, b.token);
}

Test(study, sqlite_says_the_queue_needs_postgresql)
{
	char path[] = "/tmp/ipw-study-XXXXXX", db[64], err[512] = "";
	struct store s;
	struct study st;
	cr_assert(mkdtemp(path));
	snprintf(db, sizeof(db), "%s/s.db", path);
	cr_assert_eq(store_open(&s, db, STORE_CREATE, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(study_get(&s, "x", &st, err, sizeof(err)), -1);
	cr_assert(strstr(err, "needs a PostgreSQL store"), "%s", err);
	store_close(&s);
	unlink(db);
	rmdir(path);
}
