/*
 * test_adapters.c - the dataset adapters on fixtures written in the public
 * schemas (tests/data/adapters/): detection by the first line's keys, each
 * field mapped to the native item, --format forcing one, and errors that name
 * the file and line.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "adapters.h"
#include "dataset.h"
#include "util.h"

static char *fixture(const char *name)
{
	const char *t = getenv("IPW_TESTS");
	return xasprintf("%s/data/adapters/%s", t ? t : "tests", name);
}

static void load_ok(struct dataset *ds, const char *name, const char *format)
{
	char err[IPW_ERRLEN] = "", *p = fixture(name);
	int rc = dataset_load_format(ds, p, format, err, sizeof(err));
	free(p);
	cr_assert_eq(rc, 0, "%s: %s", name, err);
}

Test(adapters, mmlu_pro_detected_and_mapped)
{
	struct dataset ds;
	load_ok(&ds, "mmlu_pro.jsonl", NULL);
	cr_assert_str_eq(ds.format, "mmlu_pro");
	cr_assert_eq(ds.n, 3);
	cr_assert_str_eq(ds.items[0].id, "70");
	cr_assert_eq(ds.items[0].task, TASK_MCQ);
	cr_assert_eq(ds.items[0].nchoices, 10);
	cr_assert_str_eq(ds.items[0].choices[9], "Ozone");
	cr_assert_str_eq(ds.items[0].answer, "D");
	cr_assert_str_eq(ds.items[0].subject, "other");
	cr_assert_str_eq(ds.items[1].answer, "B");
	cr_assert_str_eq(ds.items[1].subject, "math");
	cr_assert_eq(ds.items[2].nchoices, 4, "MMLU-Pro items may have fewer than 10 options");
	cr_assert_not_null(strstr(ds.items[0].metadata, "\"source\":\"mmlu_pro\""));
	cr_assert_not_null(strstr(ds.items[0].metadata, "ori_mmlu-miscellaneous"));
	/* the prompt lists the options up to J */
	char *prompt = item_prompt(&ds.items[0]);
	cr_assert_not_null(strstr(prompt, "J) Ozone"));
	cr_assert_not_null(strstr(prompt, "one of A to J"));
	free(prompt);
	dataset_release(&ds);
}

Test(adapters, supergpqa_letter_or_option_text)
{
	struct dataset ds;
	load_ok(&ds, "supergpqa.jsonl", NULL);
	cr_assert_str_eq(ds.format, "supergpqa");
	cr_assert_eq(ds.n, 2);
	cr_assert_str_eq(ds.items[0].id, "0a1b2c3d4e5f");
	cr_assert_eq(ds.items[0].task, TASK_MCQ);
	cr_assert_eq(ds.items[0].nchoices, 6);
	cr_assert_str_eq(ds.items[0].answer, "B");
	cr_assert_str_eq(ds.items[0].subject, "Science");
	cr_assert_not_null(strstr(ds.items[0].metadata, "\"subfield\":\"Electrodynamics\""));
	cr_assert_not_null(strstr(ds.items[0].metadata, "\"field\":\"Physics\""));
	/* an empty answer_letter falls back to the option text in 'answer' */
	cr_assert_str_eq(ds.items[1].answer, "B");
	cr_assert_str_eq(ds.items[1].subject, "Law");
	dataset_release(&ds);
}

Test(adapters, natural_reasoning_to_judge_reference)
{
	struct dataset ds;
	load_ok(&ds, "natural_reasoning.jsonl", NULL);
	cr_assert_str_eq(ds.format, "natural_reasoning");
	cr_assert_eq(ds.n, 2);
	cr_assert_str_eq(ds.items[0].id, "1", "no id in the schema: the line number");
	cr_assert_str_eq(ds.items[1].id, "2");
	cr_assert_eq(ds.items[0].task, TASK_JUDGE_REFERENCE);
	cr_assert_str_eq(ds.items[0].answer, "2 seconds");
	cr_assert_not_null(strstr(ds.items[0].problem, "thrown straight up"));
	cr_assert_str_eq(ds.items[0].subject, "");
	dataset_release(&ds);
}

Test(adapters, wildchat_first_user_turn)
{
	struct dataset ds;
	load_ok(&ds, "wildchat.jsonl", NULL);
	cr_assert_str_eq(ds.format, "wildchat");
	cr_assert_eq(ds.n, 2);
	cr_assert_str_eq(ds.items[0].id, "c0ffee01");
	cr_assert_eq(ds.items[0].task, TASK_JUDGE_PAIRWISE);
	cr_assert_str_eq(ds.items[0].problem, "Write a haiku about autumn leaves.");
	cr_assert_not_null(ds.items[0].reference_response);
	cr_assert_not_null(strstr(ds.items[0].reference_response, "Crimson leaves"));
	/* an empty system turn is passed over; no assistant turn: no reference (use --reference-run) */
	cr_assert_str_eq(ds.items[1].problem, "How do I reverse a list in Python?");
	cr_assert_null(ds.items[1].reference_response);
	cr_assert_not_null(strstr(ds.items[1].metadata, "gpt-4-0314"));
	dataset_release(&ds);
}

Test(adapters, format_forces_and_names_are_checked)
{
	struct dataset ds;
	char err[IPW_ERRLEN] = "", *p = fixture("mmlu_pro.jsonl");

	/* forcing native on an MMLU-Pro file fails on its first line, naming it */
	cr_assert_eq(dataset_load_format(&ds, p, "native", err, sizeof(err)), -1);
	cr_assert_not_null(strstr(err, "mmlu_pro.jsonl:1: missing field 'id'"), "%s", err);
	cr_assert_eq(dataset_load_format(&ds, p, "csv", err, sizeof(err)), -1);
	cr_assert_not_null(strstr(err, "unknown dataset format 'csv'"), "%s", err);
	cr_assert_eq(dataset_format_valid("MMLU-Pro"), 0);
	cr_assert_eq(dataset_format_valid("auto"), 0);
	cr_assert_eq(dataset_format_valid("wildchat"), 0);
	cr_assert_eq(dataset_format_valid("gsm8k"), -1);
	cr_assert_eq(dataset_load_format(&ds, p, "mmlu-pro", err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(ds.format, "mmlu_pro");
	dataset_release(&ds);
	/* WildChat forced onto a NaturalReasoning file: no conversation */
	free(p);
	p = fixture("natural_reasoning.jsonl");
	cr_assert_eq(dataset_load_format(&ds, p, "wildchat", err, sizeof(err)), -1);
	cr_assert_not_null(strstr(err, "natural_reasoning.jsonl:1: WildChat 'conversation' has no user turn"), "%s", err);
	free(p);
}

Test(adapters, bad_answer_names_line)
{
	struct dataset ds;
	char err[IPW_ERRLEN] = "", *p = fixture("mmlu_pro_bad.jsonl");
	cr_assert_eq(dataset_load_format(&ds, p, NULL, err, sizeof(err)), -1);
	cr_assert_not_null(strstr(err, "mmlu_pro_bad.jsonl:1: the correct option"), "%s", err);
	cr_assert_not_null(strstr(err, "options A to C"), "%s", err);
	free(p);
}

Test(adapters, detection_leaves_native_and_harness_alone)
{
	json_t *native = json_loads("{\"id\":1,\"problem\":\"q\",\"question\":\"x\",\"options\":[],\"answer\":\"A\"}", 0, NULL);
	json_t *harness = json_loads("{\"problem\":\"q\",\"answer\":\"A\",\"dataset_metadata\":\"{}\"}", 0, NULL);
	json_t *nr = json_loads("{\"question\":\"q\",\"reference_answer\":\"r\"}", 0, NULL);
	json_t *empty_ref = json_loads("{\"question\":\"q\",\"reference_answer\":\"\"}", 0, NULL);
	struct item it;
	char err[IPW_ERRLEN];

	cr_assert_null(adapter_detect(native));
	cr_assert_null(adapter_detect(harness));
	cr_assert_eq(adapter_detect(nr), &adapter_natural_reasoning);
	memset(&it, 0, sizeof(it));
	cr_assert_eq(adapter_natural_reasoning.parse(empty_ref, &it, "f.jsonl", 7, err, sizeof(err)), -1);
	cr_assert_not_null(strstr(err, "f.jsonl:7: empty 'reference_answer'"), "%s", err);
	free(it.id);
	free(it.subject);
	free(it.metadata);
	free(it.problem);
	json_decref(native);
	json_decref(harness);
	json_decref(nr);
	json_decref(empty_ref);
}
