/*
 * refsuite.h - the built-in procedural task suite `ref`: item i of the suite
 * for a seed, generated deterministically (splitmix64 + xoshiro256**), in six
 * task families at five levels of difficulty. The same code makes the
 * reference models' training data (tools/refgen.c). See docs/reference-models.md.
 */
#ifndef IPW_REFSUITE_H
#define IPW_REFSUITE_H

#include <stddef.h>
#include <stdint.h>

#include "dataset.h"

#define REFSUITE_VERSION 1
#define REFSUITE_EVAL_SEED 20261202ULL /* `--dataset ref`; the trainer's seeds are 1..999 */
#define REFSUITE_DEFAULT_N 600         /* `ref` alone = `ref:600` */
#define REFSUITE_MAX_N 100000
#define REFSUITE_NFAMILIES 6
#define REFSUITE_NLEVELS 5
#define REFSUITE_NCHOICES 4

/* One generated item; plain storage, nothing to free. */
struct refitem {
	char id[48];            /* "ref-<seed>-<i>" */
	char problem[768];
	char answer[64];        /* number, text, or a letter for mcq */
	const char *family;     /* static: one of refsuite_families */
	enum task task;         /* TASK_NUMERIC, TASK_EXACT or TASK_MCQ */
	int level;              /* 1-5 */
	int nchoices;           /* REFSUITE_NCHOICES for mcq, else 0 */
	char choices[REFSUITE_NCHOICES][16];
};

/* The family names, in item order (item i is family i % 6, level (i / 6) % 5 + 1). */
extern const char *const refsuite_families[REFSUITE_NFAMILIES];

/* Fills out with item i of the suite for seed. */
void refsuite_item(uint64_t seed, uint64_t i, struct refitem *out);

/*
 * The user message for an item, exactly as item_prompt() builds it, written
 * into buf (NUL-terminated). Returns its length, or -1 when len is too small.
 */
int refsuite_prompt(const struct refitem *it, char *buf, size_t len);

/*
 * Writes an item as one native-format JSON line (with a newline) into buf.
 * Returns its length, or -1 when len is too small.
 */
int refsuite_jsonl(const struct refitem *it, char *buf, size_t len);

/*
 * Recognises a suite name: "ref" (REFSUITE_DEFAULT_N items) or "ref:N"
 * (1 <= N <= REFSUITE_MAX_N). Returns 1 and sets *n (when n is not NULL)
 * for a suite name, 0 for anything else (a path), -1 with err set for a
 * malformed "ref:..." spec.
 */
int refsuite_spec(const char *spec, size_t *n, char *err, size_t errlen);

/*
 * Loads the suite named by spec (see refsuite_spec) for REFSUITE_EVAL_SEED
 * into ds: path = spec, format "ref", sha256 = SHA-256 of the JSONL that
 * `refgen --seed 20261202 --n N` prints. The caller releases ds with
 * dataset_release(). Returns 0 or -1 (err set).
 */
int refsuite_load(struct dataset *ds, const char *spec, char *err, size_t errlen);

#endif
