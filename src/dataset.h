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
	TASK_NONE,            /* ungraded: no reference answer (the random dataset); never scored */
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
	/* what the dataset asks of every request (the random dataset): 0 = nothing */
	long long max_tokens;  /* > 0: send max_tokens = this */
	int ignore_eos;        /* 1: ask the server to generate all of them (--ignore-eos) */
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
/*
 * The random dataset, like `vllm bench serve --dataset-name random`:
 * "random:in=I,out=O[,n=N][,seed=S]" (docs/datasets.md). N items (default
 * DATASET_RANDOM_N), each a prompt of I words drawn from a fixed vocabulary
 * of common English words (about one token each in common BPE tokenizers; the
 * server's count is what each query records), from seed S (default 0), every
 * request asking for exactly O output tokens (max_tokens = O, ignore_eos).
 * Ungraded (task none). Returns 1 and fills the values for such a spec (any
 * pointer may be NULL), 0 for anything else (a path), -1 with err for a
 * malformed "random..." spec.
 */
#define DATASET_RANDOM_N 100
#define DATASET_RANDOM_MAX 1000000
#define DATASET_RANDOM_MAX_WORDS 50000000 /* in x n: about 300 MB of prompts */
int dataset_random_spec(const char *spec, long long *in, long long *out, long long *n,
			unsigned long long *seed, char *err, size_t errlen);
/* The random vocabulary: its size, and word i (static). */
size_t dataset_random_nwords(void);
const char *dataset_random_word(size_t i);

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
