/*
 * test_dataset.c - dataset loading: the native format (valid file, and each
 * malformed case with its exact "FILE:LINE: ..." message), the released
 * harness's schema, the built-in set and its hash, shuffle, limit, prompts.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dataset.h"
#include "util.h"

/* Pinned output of random:in=8,out=1,n=2,seed=1 (change only with a note: it changes old runs' hashes). */
#define RANDOM_SEED1_ITEM0 "people our after some people his was than"
#define RANDOM_SEED1_SHA "89f84330ddec57aec01d34b77737934ff76a3b4178d4b1c1166175a695286fcc"

extern const char ipw_builtin_dataset[];
extern const char ipw_builtin_dataset_end[];

static char dir[64];

static void setup(void)
{
	strcpy(dir, "/tmp/ipw-test-ds-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
	char cmd[160];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
}

TestSuite(dataset, .init = setup, .fini = teardown);

/* Writes text to a new file in the test folder; returns its path (static buffer). */
static const char *write_tmp(const char *name, const char *text)
{
	static char path[160];
	FILE *f;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

static const char *fixture(const char *name)
{
	static char path[512];
	const char *t = getenv("IPW_TESTS");
	snprintf(path, sizeof(path), "%s/data/datasets/%s", t ? t : "tests", name);
	return path;
}

static const struct item *find(const struct dataset *ds, const char *id)
{
	for (size_t i = 0; i < ds->n; i++)
		if (!strcmp(ds->items[i].id, id))
			return &ds->items[i];
	cr_assert_fail("no item '%s'", id);
	return NULL;
}

Test(dataset, native_valid_file)
{
	struct dataset ds;
	char err[IPW_ERRLEN], *data, sha[65];
	size_t len;
	const struct item *it;

	cr_assert_eq(dataset_load(&ds, fixture("native_valid.jsonl"), err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(ds.format, "native");
	cr_assert_eq(ds.n, 6);
	cr_assert_eq(read_file(fixture("native_valid.jsonl"), &data, &len, err, sizeof(err)), 0);
	sha256_hex(data, len, sha);
	free(data);
	cr_assert_str_eq(ds.sha256, sha);

	it = find(&ds, "sci-1");
	cr_assert_eq(it->task, TASK_MCQ);
	cr_assert_str_eq(it->answer, "B", "a lower-case letter is normalised");
	cr_assert_eq(it->nchoices, 3);
	cr_assert_str_eq(it->choices[1], "Mercury");
	cr_assert_str_eq(it->subject, "astronomy");
	cr_assert_str_eq(it->metadata, "{\"source\":\"written for ipw\",\"level\":1}");
	cr_assert_eq(it->line, 1);
	it = find(&ds, "7");
	cr_assert_eq(it->task, TASK_NUMERIC);
	cr_assert_str_eq(it->answer, "42", "a numeric answer becomes text");
	cr_assert_eq(it->line, 3, "blank lines still count");
	cr_assert_null(it->choices);
	cr_assert_null(it->metadata);
	it = find(&ds, "chem-1");
	cr_assert_str_eq(it->subject, "", "no subject is \"\"");
	cr_assert_eq(find(&ds, "re-1")->task, TASK_REGEX);
	cr_assert_eq(find(&ds, "nr-1")->task, TASK_JUDGE_REFERENCE);
	it = find(&ds, "wc-1");
	cr_assert_eq(it->task, TASK_JUDGE_PAIRWISE);
	cr_assert_str_eq(it->reference_response, "Hello! How can I help you today?");
	cr_assert_eq(it->line, 8);
	dataset_release(&ds);
}

struct bad_case {
	const char *what;
	const char *line;       /* written as line 2, after a valid line 1 */
	const char *message;    /* after "FILE:" */
	int prefix;             /* message is only a prefix (library wording follows) */
};

#define OK_LINE "{\"id\": \"ok\", \"problem\": \"p\", \"answer\": \"a\", \"task\": \"exact\"}\n"

static const struct bad_case bad_cases[] = {
	{"missing id", "{\"problem\": \"p\", \"answer\": \"a\", \"task\": \"exact\"}",
	 "2: missing field 'id' (every item needs a unique id: a string or an integer)", 0},
	{"id of the wrong type", "{\"id\": [1], \"problem\": \"p\", \"answer\": \"a\", \"task\": \"exact\"}",
	 "2: field 'id' must be a non-empty string or an integer, not an array", 0},
	{"missing problem", "{\"id\": 2, \"answer\": \"a\", \"task\": \"exact\"}",
	 "2: missing field 'problem' (the question to ask)", 0},
	{"problem of the wrong type", "{\"id\": 2, \"problem\": 5, \"answer\": \"a\", \"task\": \"exact\"}",
	 "2: field 'problem' must be a string, not an integer (the question to ask)", 0},
	{"missing answer", "{\"id\": 2, \"problem\": \"p\", \"task\": \"exact\"}",
	 "2: missing field 'answer' (the reference answer; a letter for mcq)", 0},
	{"subject of the wrong type", "{\"id\": 2, \"problem\": \"p\", \"answer\": \"a\", \"subject\": 3, \"task\": \"exact\"}",
	 "2: field 'subject' must be a string, not an integer (a subject or domain name)", 0},
	{"missing task", "{\"id\": 2, \"problem\": \"p\", \"answer\": \"a\"}",
	 "2: missing field 'task' (one of mcq, numeric, exact, regex, judge_reference, judge_pairwise)", 0},
	{"unknown task", "{\"id\": 2, \"problem\": \"p\", \"answer\": \"a\", \"task\": \"essay\"}",
	 "2: unknown task 'essay' (use one of mcq, numeric, exact, regex, judge_reference, judge_pairwise)", 0},
	{"mcq without choices", "{\"id\": 2, \"problem\": \"p\", \"answer\": \"A\", \"task\": \"mcq\"}",
	 "2: task 'mcq' needs 'choices' (an array of 2 to 26 option strings, in letter order)", 0},
	{"mcq answer beyond the choices",
	 "{\"id\": 2, \"problem\": \"p\", \"choices\": [\"w\", \"x\", \"y\", \"z\"], \"answer\": \"E\", \"task\": \"mcq\"}",
	 "2: mcq answer 'E' is beyond the 4 choices (use a letter from A to D)", 0},
	{"mcq answer not a letter",
	 "{\"id\": 2, \"problem\": \"p\", \"choices\": [\"x\", \"y\", \"z\"], \"answer\": \"Paris\", \"task\": \"mcq\"}",
	 "2: mcq answer 'Paris' is not a choice letter (give the letter of the correct option, A to C)", 0},
	{"choices not strings",
	 "{\"id\": 2, \"problem\": \"p\", \"choices\": [\"x\", 2], \"answer\": \"A\", \"task\": \"mcq\"}",
	 "2: field 'choices' must hold strings, but entry 2 is an integer (write each option as a string)", 0},
	{"one choice only", "{\"id\": 2, \"problem\": \"p\", \"choices\": [\"x\"], \"answer\": \"A\", \"task\": \"mcq\"}",
	 "2: field 'choices' has 1 entries (an mcq item needs 2 to 26 options)", 0},
	{"empty problem", "{\"id\": 2, \"problem\": \"\", \"answer\": \"a\", \"task\": \"exact\"}",
	 "2: field 'problem' is empty (write the question)", 0},
	{"pairwise without a reference", "{\"id\": 2, \"problem\": \"p\", \"answer\": \"\", \"task\": \"judge_pairwise\"}",
	 "2: task 'judge_pairwise' needs 'reference_response' (the answer the model is compared against)", 0},
	{"regex that does not compile", "{\"id\": 2, \"problem\": \"p\", \"answer\": \"(ab\", \"task\": \"regex\"}",
	 "2: regex answer '(ab' does not compile: ", 1},
	{"invalid JSON", "{\"id\": 2, \"problem\": ",
	 "2: invalid JSON: ", 1},
	{"a key twice", "{\"id\": 2, \"id\": 3, \"problem\": \"p\", \"answer\": \"a\", \"task\": \"exact\"}",
	 "2: invalid JSON: ", 1},
	{"not an object", "[1, 2]",
	 "2: the line is an array, not a JSON object (write one object per line)", 0},
	{"duplicate id", "{\"id\": \"ok\", \"problem\": \"q\", \"answer\": \"b\", \"task\": \"exact\"}",
	 "2: duplicate id 'ok' (line 1 has it too; ids must be unique)", 0},
};

Test(dataset, malformed_lines_name_file_and_line)
{
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *c = &bad_cases[i];
		char text[1024], want[1024], err[IPW_ERRLEN], path[200];
		struct dataset ds;

		snprintf(text, sizeof(text), OK_LINE "%s\n", c->line);
		snprintf(path, sizeof(path), "%s", write_tmp("bad.jsonl", text));
		snprintf(want, sizeof(want), "%s:%s", path, c->message);
		err[0] = 0;
		cr_expect_eq(dataset_load(&ds, path, err, sizeof(err)), -1, "%s: accepted", c->what);
		if (c->prefix)
			cr_expect(!strncmp(err, want, strlen(want)) &&
				  (strstr(c->what, "JSON") ? strstr(err, "(each line must be one JSON object)") != NULL : 1),
				  "%s:\n  got  %s\n  want %s...", c->what, err, want);
		else
			cr_expect_str_eq(err, want, "%s", c->what);
		cr_expect_eq(ds.n, 0, "%s: a failed load leaves no items", c->what);
	}
}

Test(dataset, duplicate_reported_at_its_second_line_and_empty_file)
{
	char err[IPW_ERRLEN], want[300];
	struct dataset ds;
	const char *p = write_tmp("dup.jsonl", OK_LINE "\n"
				   "{\"id\": \"x\", \"problem\": \"p\", \"answer\": \"a\", \"task\": \"exact\"}\n"
				   "{\"id\": \"x\", \"problem\": \"p\", \"answer\": \"a\", \"task\": \"exact\"}\n"
				   "{\"id\": \"ok\", \"problem\": \"p\", \"answer\": \"a\", \"task\": \"exact\"}\n");
	cr_assert_eq(dataset_load(&ds, p, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s:4: duplicate id 'x' (line 3 has it too; ids must be unique)", p);
	cr_assert_str_eq(err, want);

	p = write_tmp("empty.jsonl", "\n  \n");
	cr_assert_eq(dataset_load(&ds, p, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: no items (the file holds no JSON lines; write one item per line)", p);
	cr_assert_str_eq(err, want);

	snprintf(want, sizeof(want), "%s/none.jsonl", dir);
	cr_assert_eq(dataset_load(&ds, want, err, sizeof(err)), -1);
	cr_assert(strstr(err, "none.jsonl"), "a missing file is named: %s", err);
}

Test(dataset, harness_schema)
{
	struct dataset ds;
	char err[IPW_ERRLEN];
	const struct item *it;

	cr_assert_eq(dataset_load(&ds, fixture("harness_sample.jsonl"), err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(ds.format, "harness");
	cr_assert_eq(ds.n, 4);
	it = &ds.items[0];
	cr_assert_str_eq(it->id, "1", "no id: the line number");
	cr_assert_eq(it->task, TASK_MCQ);
	cr_assert_eq(it->nchoices, 4);
	cr_assert_str_eq(it->choices[0], "4");
	cr_assert_str_eq(it->choices[2], "7");
	cr_assert_str_eq(it->problem, "Which of these is a prime number?", "options cut from the problem");
	cr_assert_str_eq(it->answer, "C");
	cr_assert_str_eq(it->subject, "math");
	cr_assert(strstr(it->metadata, "mmlu-pro"));
	it = &ds.items[1];
	cr_assert_str_eq(it->id, "nr-17");
	cr_assert_eq(it->task, TASK_JUDGE_REFERENCE);
	it = &ds.items[2];
	cr_assert_str_eq(it->id, "3");
	cr_assert_eq(it->task, TASK_JUDGE_PAIRWISE);
	cr_assert_str_eq(it->reference_response, "Crisp leaves drift and fall / ...");
	it = &ds.items[3];
	cr_assert_eq(it->task, TASK_MCQ, "dataset name supergpqa without a method: mcq");
	cr_assert_eq(it->nchoices, 3);
	cr_assert_str_eq(it->choices[1], "Carbon dioxide");
	cr_assert_str_eq(it->problem, "Which gas do plants absorb?");
	dataset_release(&ds);
}

Test(dataset, harness_mcq_without_options_is_an_error)
{
	char err[IPW_ERRLEN], want[400];
	struct dataset ds;
	const char *p = write_tmp("h.jsonl",
		"{\"problem\": \"p\", \"answer\": \"x\", \"dataset_metadata\": \"{}\"}\n"
		"{\"problem\": \"Pick one\", \"answer\": \"A\", \"dataset_metadata\": "
		"\"{\\\"config\\\": {\\\"dataset_name\\\": \\\"mmlu-pro\\\"}}\"}\n");
	cr_assert_eq(dataset_load(&ds, p, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s:2: multiple-choice item without options: none in dataset_metadata and "
		 "no 'A) ...' lines in the problem (add the options)", p);
	cr_assert_str_eq(err, want);
	p = write_tmp("h2.jsonl", "{\"problem\": \"p\", \"answer\": \"x\", \"dataset_metadata\": \"{oops\"}\n");
	cr_assert_eq(dataset_load(&ds, p, err, sizeof(err)), -1);
	cr_assert(strstr(err, ":1: field 'dataset_metadata' does not hold valid JSON"), "%s", err);
}

Test(dataset, builtin_loads_and_hashes)
{
	struct dataset a, b;
	char err[IPW_ERRLEN], sha[65];

	cr_assert_eq(dataset_load(&a, NULL, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(dataset_load(&b, "builtin", err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(a.path, "builtin");
	cr_assert_str_eq(a.format, "native");
	cr_assert_geq(a.n, 5);
	cr_assert_eq(a.n, b.n);
	sha256_hex(ipw_builtin_dataset, (size_t)(ipw_builtin_dataset_end - ipw_builtin_dataset), sha);
	cr_assert_str_eq(a.sha256, sha);
	cr_assert_eq(strlen(a.sha256), 64);
	/* the binary embeds the current data/builtin.jsonl (the Makefile rebuilds it) */
	char path[512], *data;
	size_t len;
	const char *t = getenv("IPW_TESTS");
	snprintf(path, sizeof(path), "%s/../data/builtin.jsonl", t ? t : "tests");
	cr_assert_eq(read_file(path, &data, &len, err, sizeof(err)), 0, "%s", err);
	sha256_hex(data, len, sha);
	free(data);
	cr_assert_str_eq(a.sha256, sha, "the embedded set differs from %s", path);
	for (size_t i = 0; i < a.n; i++) {
		cr_assert_eq(a.items[i].line, 0, "built-in items have no file line");
		char *p = item_prompt(&a.items[i]);
		cr_assert(strlen(p) >= strlen(a.items[i].problem));
		free(p);
	}
	dataset_release(&a);
	dataset_release(&b);
}

static void load_numbered(struct dataset *ds, int n)
{
	struct buf b;
	char err[IPW_ERRLEN];
	buf_init(&b, 0);
	for (int i = 0; i < n; i++)
		buf_appendf(&b, "{\"id\": %d, \"problem\": \"p%d\", \"answer\": \"%d\", \"task\": \"numeric\"}\n", i, i, i);
	cr_assert_eq(dataset_load(ds, write_tmp("n.jsonl", b.data), err, sizeof(err)), 0, "%s", err);
	buf_release(&b);
}

static void ids_of(const struct dataset *ds, char *out, size_t n)
{
	out[0] = 0;
	for (size_t i = 0; i < ds->n; i++)
		snprintf(out + strlen(out), n - strlen(out), "%s%s", i ? "," : "", ds->items[i].id);
}

Test(dataset, shuffle_is_deterministic_and_a_permutation)
{
	struct dataset a, b;
	char ia[512], ib[512];
	int seen[100] = {0};

	load_numbered(&a, 100);
	load_numbered(&b, 100);
	dataset_shuffle(&a, 42);
	dataset_shuffle(&b, 42);
	ids_of(&a, ia, sizeof(ia));
	ids_of(&b, ib, sizeof(ib));
	cr_assert_str_eq(ia, ib, "same seed, same order");
	for (size_t i = 0; i < a.n; i++)
		seen[atoi(a.items[i].id)]++;
	for (int i = 0; i < 100; i++)
		cr_assert_eq(seen[i], 1, "item %d seen %d times", i, seen[i]);
	dataset_release(&b);
	load_numbered(&b, 100);
	dataset_shuffle(&b, 43);
	ids_of(&b, ib, sizeof(ib));
	cr_assert_str_neq(ia, ib, "another seed, another order");
	dataset_release(&a);
	dataset_release(&b);

	/* pinned: the documented generator (splitmix64, Fisher-Yates from the end) */
	load_numbered(&a, 10);
	dataset_shuffle(&a, 1);
	ids_of(&a, ia, sizeof(ia));
	cr_assert_str_eq(ia, "9,0,1,4,8,2,3,7,6,5");
	dataset_release(&a);
}

Test(dataset, limit_keeps_the_first_n)
{
	struct dataset a;
	char ia[512];

	load_numbered(&a, 10);
	dataset_limit(&a, 20);
	cr_assert_eq(a.n, 10);
	dataset_limit(&a, 3);
	cr_assert_eq(a.n, 3);
	ids_of(&a, ia, sizeof(ia));
	cr_assert_str_eq(ia, "0,1,2");
	dataset_release(&a);
}

Test(dataset, prompts)
{
	char *choices[] = {"Oxygen", "Nitrogen", "Argon"};
	struct item it = {.id = "x", .problem = "Which gas?", .answer = "B", .subject = "", .task = TASK_MCQ,
			  .choices = choices, .nchoices = 3};
	char *p = item_prompt(&it);

	cr_assert_str_eq(p, "Which gas?\n\nA) Oxygen\nB) Nitrogen\nC) Argon\n\n"
			 "Choose the correct option. End your response with a last line of the form "
			 "'Answer: <letter>', where <letter> is one of A to C.");
	free(p);
	it.task = TASK_NUMERIC;
	p = item_prompt(&it);
	cr_assert_str_eq(p, "Which gas?\n\nGive the final answer as a number on the last line as 'Answer: <number>'.");
	free(p);
	it.task = TASK_EXACT;
	p = item_prompt(&it);
	cr_assert(strstr(p, "'Answer: <answer>'"));
	free(p);
	it.task = TASK_JUDGE_REFERENCE;
	p = item_prompt(&it);
	cr_assert_str_eq(p, "Which gas?", "judge tasks send the problem as is");
	free(p);
	enum task t;
	cr_assert_eq(task_parse("judge_pairwise", &t), 0);
	cr_assert_eq(t, TASK_JUDGE_PAIRWISE);
	cr_assert_eq(task_parse("essay", &t), -1);
	cr_assert_str_eq(task_name(TASK_REGEX), "regex");
}

/* A line past DATASET_LINE_MAX is an error naming file and line, from memory and from a file. */
Test(dataset, line_cap)
{
	size_t n = (size_t)DATASET_LINE_MAX + 1;
	char *big = malloc(n + 80), err[256];
	const char *first = "{\"id\": 1, \"problem\": \"p\", \"answer\": \"x\", \"task\": \"exact\"}\n";
	struct dataset ds;
	strcpy(big, first);
	memset(big + strlen(first), ' ', n);
	big[strlen(first) + n] = '\0';
	cr_assert_eq(dataset_load_mem(&ds, "mem.jsonl", big, strlen(big), NULL, err, sizeof(err)), -1);
	cr_assert_str_eq(err, "mem.jsonl:2: line is longer than 16 MiB (one item per line; is this a JSONL dataset?)");
	const char *path = write_tmp("long.jsonl", big);
	cr_assert_eq(dataset_load(&ds, path, err, sizeof(err)), -1);
	cr_assert(strstr(err, "long.jsonl:2: line is longer than 16 MiB"), "err: %s", err);
	big[strlen(first) + n - 1] = '\0';   /* exactly the cap: only blanks, so "no items" past line 1 */
	cr_assert_eq(dataset_load_mem(&ds, "mem.jsonl", big, strlen(big), NULL, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(ds.n, 1);
	dataset_release(&ds);
	free(big);
}

/* Each word of a harness record's verification_method, then of its dataset_name, picks the task. */
Test(dataset, harness_task_words)
{
	static const struct {
		const char *method, *name;
		enum task task;
	} cases[] = {
		{"pairwise", "", TASK_JUDGE_PAIRWISE}, {"Arena-hard", "", TASK_JUDGE_PAIRWISE},
		{"wildchat", "", TASK_JUDGE_PAIRWISE}, {"mcq", "", TASK_MCQ}, {"multiple choice", "", TASK_MCQ},
		{"letter", "", TASK_MCQ}, {"llm judge", "", TASK_JUDGE_REFERENCE}, {"reference", "", TASK_JUDGE_REFERENCE},
		{"natural", "", TASK_JUDGE_REFERENCE}, {"numeric", "", TASK_NUMERIC}, {"number", "", TASK_NUMERIC},
		{"math", "", TASK_NUMERIC}, {"regex", "", TASK_REGEX}, {"exact", "", TASK_EXACT},
		{"string match", "", TASK_EXACT}, {"pairwise mcq", "", TASK_JUDGE_PAIRWISE},
		{"", "WildChat-1M", TASK_JUDGE_PAIRWISE}, {"", "mmlu-pro", TASK_MCQ}, {"", "GPQA", TASK_MCQ},
		{"", "natural_reasoning", TASK_JUDGE_REFERENCE}, {"", "reasoning", TASK_JUDGE_REFERENCE},
		{"other", "mmlu", TASK_MCQ}, {"", "", TASK_MCQ},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct dataset ds;
		char err[IPW_ERRLEN], line[512];
		int n = snprintf(line, sizeof(line),
				 "{\"problem\": \"Q?\\nA) x\\nB) y\", \"answer\": \"A\", \"dataset_metadata\": "
				 "\"{\\\"config\\\": {\\\"verification_method\\\": \\\"%s\\\", "
				 "\\\"dataset_name\\\": \\\"%s\\\"}}\"}\n",
				 cases[i].method, cases[i].name);
		cr_assert_eq(dataset_load_mem(&ds, "t", line, (size_t)n, "harness", err, sizeof(err)), 0, "%zu: %s",
			     i, err);
		cr_assert_eq(ds.items[0].task, cases[i].task, "method '%s', name '%s': task %d", cases[i].method,
			     cases[i].name, (int)ds.items[0].task);
		dataset_release(&ds);
	}
}

/* ---- the random dataset (random:in=I,out=O[,n=N][,seed=S]) ---- */

static int in_vocabulary(const char *w, size_t len)
{
	for (size_t i = 0; i < dataset_random_nwords(); i++)
		if (strlen(dataset_random_word(i)) == len && !strncmp(dataset_random_word(i), w, len))
			return 1;
	return 0;
}

/* Counts the words of s (single spaces between them), checking each is in the vocabulary. */
static long count_words(const char *s)
{
	long n = 0;
	while (*s) {
		const char *e = strchr(s, ' ');
		size_t len = e ? (size_t)(e - s) : strlen(s);
		cr_assert(len > 0, "two spaces in a row");
		cr_assert(in_vocabulary(s, len), "'%.*s' is not a vocabulary word", (int)len, s);
		n++;
		s += len + (e ? 1 : 0);
	}
	return n;
}

Test(dataset, random_items_have_exactly_in_words_and_ask_for_out_tokens)
{
	struct dataset ds;
	char err[IPW_ERRLEN];

	cr_assert_eq(dataset_load(&ds, "random:in=512,out=128,n=7,seed=3", err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(ds.n, 7);
	cr_assert_str_eq(ds.format, "random");
	cr_assert_str_eq(ds.path, "random:in=512,out=128,n=7,seed=3");
	cr_assert_eq(ds.max_tokens, 128);
	cr_assert_eq(ds.ignore_eos, 1);
	for (size_t i = 0; i < ds.n; i++) {
		const struct item *it = &ds.items[i];
		char id[32], *prompt = item_prompt(it);
		snprintf(id, sizeof(id), "random-%zu", i);
		cr_assert_str_eq(it->id, id);
		cr_assert_eq(count_words(it->problem), 512, "item %zu", i);
		cr_assert_eq(it->task, TASK_NONE);
		cr_assert_str_eq(task_name(it->task), "none");
		cr_assert_null(it->answer, "ungraded: no reference answer");
		cr_assert_str_eq(it->subject, "random");
		cr_assert_str_eq(prompt, it->problem, "the prompt is the words alone");
		free(prompt);
	}
	cr_assert_str_neq(ds.items[0].problem, ds.items[1].problem);
	dataset_release(&ds);
}

Test(dataset, random_is_deterministic_for_a_seed)
{
	struct dataset a, b, c, d;
	char err[IPW_ERRLEN];

	cr_assert_eq(dataset_load(&a, "random:in=30,out=5,seed=9", err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(dataset_load(&b, "random:seed=9,out=5,in=30", err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(dataset_load(&c, "random:in=30,out=5,seed=10", err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(dataset_load(&d, "random:in=30,out=6,seed=9", err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(a.n, DATASET_RANDOM_N, "n defaults to %d", DATASET_RANDOM_N);
	for (size_t i = 0; i < a.n; i++)
		cr_assert_str_eq(a.items[i].problem, b.items[i].problem, "item %zu", i);
	cr_assert_str_eq(a.sha256, b.sha256, "same items, same hash (the order of the parts does not matter)");
	cr_assert_str_neq(a.items[0].problem, c.items[0].problem, "another seed, other words");
	cr_assert_str_neq(a.sha256, c.sha256);
	cr_assert_str_eq(a.items[0].problem, d.items[0].problem, "out= does not change the words");
	cr_assert_str_neq(a.sha256, d.sha256, "but is part of the dataset's identity");
	dataset_release(&a);
	dataset_release(&b);
	dataset_release(&c);
	dataset_release(&d);
}

/* The words of a seed are fixed across versions: a stored run's hash must still match on resume. */
Test(dataset, random_words_of_seed_1_are_pinned)
{
	struct dataset ds;
	char err[IPW_ERRLEN];

	cr_assert_eq(dataset_load(&ds, "random:in=8,out=1,n=2,seed=1", err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(ds.items[0].problem, RANDOM_SEED1_ITEM0);
	cr_assert_str_eq(ds.sha256, RANDOM_SEED1_SHA);
	dataset_release(&ds);
}

Test(dataset, random_spec_errors_say_what_to_give)
{
	static const struct {
		const char *spec, *want;
	} cases[] = {
		{"random", "give the input and output lengths: random:in=I,out=O"},
		{"random:in=5", "give the input and output lengths"},
		{"random:in=0,out=5", "in=0 is out of range (1 to 1000000)"},
		{"random:in=5,out=-1", "out=-1 is not a whole number"},
		{"random:in=5,out=2x", "out=2x is not a whole number"},
		{"random:in=5,out=2,in=3", "in= given twice"},
		{"random:in=5,out=2,len=3", "unknown part 'len=3'"},
		{"random:in=5,out=2,", "a trailing comma"},
		{"random:in=1000000,out=2,n=1000", "over the 50000000 words"},
		{"random:in=5,out=2,n=", "n= needs a number"},
	};
	struct dataset ds;
	char err[IPW_ERRLEN];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = 0;
		cr_assert_eq(dataset_load(&ds, cases[i].spec, err, sizeof(err)), -1, "%s loaded", cases[i].spec);
		cr_assert(strstr(err, cases[i].want), "%s: %s", cases[i].spec, err);
	}
	/* a file named like the dataset but not a spec is a path */
	cr_assert_eq(dataset_random_spec("randomness.jsonl", NULL, NULL, NULL, NULL, err, sizeof(err)), 0);
}
