/*
 * grade.h - answer graders: one interface, one const instance per grader
 * (mcq, numeric, exact, regex), a registry to pick one by name or task, and
 * the text helpers they share (thinking sections, final line, normalising).
 * Pure functions: no network, no store. See docs/scoring.md.
 */
#ifndef IPW_GRADE_H
#define IPW_GRADE_H

#include <stddef.h>

#include "dataset.h"

#define GRADE_REL_TOL 1e-6
#define GRADE_ABS_TOL 1e-9
#define GRADE_REASON_LEN 256
#define GRADE_BOX_MAX 4096 /* longest \boxed{} content looked at */
#define GRADE_PATTERN_MAX 4096 /* longest regex pattern accepted, in bytes */

/* Grader settings. grade_settings_init() fills the defaults. */
struct grade_settings {
	double rel_tol;      /* numeric: relative tolerance (default 1e-6) */
	double abs_tol;      /* numeric: absolute tolerance (default 1e-9) */
	const char *pattern; /* regex: PCRE2 pattern (docs/scoring.md); NULL = use the reference */
	int regex_icase;     /* regex: 1 = case-insensitive */
};

void grade_settings_init(struct grade_settings *s);

/* What a grader sees. Nothing here is owned by the grader. */
struct grade_input {
	const char *answer;            /* the model's answer text (may hold thinking sections) */
	const char *reference;         /* reference answer (a letter for mcq) */
	int nchoices;                  /* mcq: number of options; <= 0 = unknown (A-J assumed) */
	const char *const *choices;    /* mcq: option texts in letter order (nchoices of them;
					  NULL-terminated when nchoices <= 0), or NULL */
	const struct grade_settings *settings; /* NULL = defaults */
};

/* What a grader says. */
struct grade_result {
	int correct;                    /* 1 correct, 0 wrong, -1 unscored */
	char reason[GRADE_REASON_LEN];  /* why, e.g. "several options, chose final: C" */
	char extracted[128];            /* the answer as extracted ("C", "12.5"), "" when none */
};

/*
 * A grader fills out from in. Returns 0 when it scored the answer
 * (out->correct 0 or 1), -1 when it cannot (out->correct -1: bad reference,
 * bad pattern); out->reason says why in every case.
 */
struct grader {
	const char *name;
	int (*grade)(const struct grade_input *in, struct grade_result *out);
};

extern const struct grader grader_mcq;
extern const struct grader grader_numeric;
extern const struct grader grader_exact;
extern const struct grader grader_regex;

/*
 * Checks that pattern compiles as the regex grader compiles it (PCRE2, at
 * most GRADE_PATTERN_MAX bytes). Returns 0, or -1 with PCRE2's message (or
 * the size limit) in err.
 */
int grade_regex_check(const char *pattern, int icase, char *err, size_t errlen);

/* The registry, NULL-terminated. */
extern const struct grader *const graders[];

/* The grader named name, or NULL. */
const struct grader *grader_find(const char *name);
/* The grader for a task, or NULL for the judge tasks (they need a model). */
const struct grader *grader_for_task(enum task t);

/*
 * Grades answer against item it with the task's grader. Returns as
 * grader->grade does; an item whose task has no offline grader is
 * unscored (-1) with the reason set.
 */
int grade_item(const struct item *it, const char *answer,
	       const struct grade_settings *s, struct grade_result *out);

/* ---- text helpers shared by the graders ---- */

/*
 * Removes thinking sections: <think>...</think> and <thinking>...</thinking>
 * (tags case-insensitive), an unterminated opening tag (everything after it is
 * thinking), text before a closing tag that has no opening tag (chat
 * templates that put <think> in the prompt), and in raw harmony output
 * (<|channel|>analysis ... <|channel|>final<|message|>) all but the final
 * channel. Returns a newly allocated string
 * (caller frees). *had_thinking is set to 1 when anything was removed.
 */
char *grade_strip_thinking(const char *text, int *had_thinking);

/* Copy of the last non-empty line, trimmed (caller frees); "" when none. */
char *grade_final_line(const char *text);

/*
 * Normalised copy for comparisons (caller frees): strips a leading
 * "Answer:" / "Final answer:" / "The answer is", markdown bold and
 * backticks, surrounding quotes, trailing punctuation; ASCII case-fold;
 * whitespace collapsed and trimmed.
 */
char *grade_normalise(const char *text);

/*
 * Content of the last \boxed{...} (or \fbox{...}) in text, braces balanced
 * (caller frees), or NULL when there is none.
 */
char *grade_last_boxed(const char *text);

/* Sets out's fields; reason is printf-formatted. */
void grade_set(struct grade_result *out, int correct, const char *extracted,
	       const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#endif
