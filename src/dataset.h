/*
 * dataset.h - evaluation items: the native JSONL format, the released
 * harness's schema, and the built-in set compiled into the binary.
 * See docs/datasets.md.
 */
#ifndef IPW_DATASET_H
#define IPW_DATASET_H

#include <stddef.h>

enum task {
	TASK_MCQ,
	TASK_NUMERIC,
	TASK_EXACT,
	TASK_REGEX,
	TASK_JUDGE_REFERENCE,
	TASK_JUDGE_PAIRWISE,
};

/* One item. All strings are owned by the item; absent optional ones are NULL. */
struct item {
	char *id;                 /* unique within the dataset */
	char *problem;            /* the question as written */
	char *answer;             /* reference answer (letter for mcq) */
	char *subject;            /* subject / domain, "" when none */
	enum task task;
	char **choices;           /* mcq options, in letter order (A, B, ...), or NULL */
	int nchoices;
	char *reference_response; /* judge_pairwise reference, or NULL */
	char *metadata;           /* JSON text, or NULL */
	int line;                 /* 1-based line in its file (0 for built-in) */
};

struct dataset {
	char *path;          /* file path, or "builtin" */
	char *format;        /* "native", "harness", ... */
	char sha256[65];     /* hash of the file's bytes */
	struct item *items;
	size_t n;
};

/*
 * Loads a dataset (path NULL or "builtin" = the built-in set). A malformed
 * line, a missing field, an unknown task or a duplicate id fails with
 * "FILE:LINE: what is wrong" in err. Returns 0 or -1.
 */
int dataset_load(struct dataset *ds, const char *path, char *err, size_t errlen);
/*
 * Loads a dataset in a given format: NULL or "auto" detects it from the first
 * line (harness schema, an adapter's keys, else native); "native",
 * "harness" or an adapter name ("mmlu_pro", "supergpqa", "natural_reasoning",
 * "wildchat", src/adapters.h) forces one. ds->format records which was used.
 */
int dataset_load_format(struct dataset *ds, const char *path, const char *format, char *err, size_t errlen);
/*
 * As dataset_load_format for len bytes at data (they need no terminating
 * NUL and are not kept); name stands for the file in errors and ds->path.
 */
int dataset_load_mem(struct dataset *ds, const char *name, const char *data, size_t len, const char *format,
		     char *err, size_t errlen);
/* Longest line a dataset may hold (bytes, without the newline): 16 MiB. */
#define DATASET_LINE_MAX (16 << 20)
/* 0 when name is a format dataset_load_format accepts, else -1. */
int dataset_format_valid(const char *name);
#define DATASET_FORMATS "auto, native, harness, mmlu_pro, supergpqa, natural_reasoning, wildchat"
void dataset_release(struct dataset *ds);
/* Deterministic Fisher-Yates shuffle seeded by seed. */
void dataset_shuffle(struct dataset *ds, unsigned long long seed);
/* Keeps the first n items. */
void dataset_limit(struct dataset *ds, size_t n);

const char *task_name(enum task t);
int task_parse(const char *s, enum task *out);
/* The user message sent to the model for an item (mcq lists the options as "A) ..."); caller frees. */
char *item_prompt(const struct item *it);

#endif
