/*
 * score.h - scoring recorded queries: offline graders as each query is
 * recorded during 'ipw profile' (score_query), the whole run afterwards with
 * any grader and the judges, resumably (score_run). A run's numbers come
 * from src/aggregate.c. See docs/scoring.md.
 */
#ifndef IPW_SCORE_H
#define IPW_SCORE_H

#include <stddef.h>

#include "dataset.h"
#include "grade.h"
#include "judge.h"
#include "metrics.h"
#include "record.h"
#include "store.h"

/*
 * Scores one just-recorded query with its item's offline grader and the
 * default settings, and stores the score. Failed queries and items whose
 * task needs a judge are left alone (0, nothing written). Returns 0, or -1
 * with err when the store fails.
 */
int score_query(struct store *st, const char *run_id, const struct query_record *q, const struct item *it,
		char *err, size_t errlen);

/*
 * The score row score_query would store for q, without storing it: 1 with
 * *sc filled (its strings point into q, *res, *settings and the grader
 * table; the caller frees *settings), or 0 when q is not scored as it is
 * recorded (*settings NULL).
 */
int score_row(const struct query_record *q, const struct item *it, struct store_score *sc,
	      struct grade_result *res, char **settings);

struct score_opts {
	const char *grader;            /* NULL = each item's task grader; else this one for every item */
	struct grade_settings gs;      /* numeric tolerances (grade_settings_init defaults) */
	struct judge *judge;           /* NULL = items needing a judge are left unscored (counted) */
	enum pairwise_rule rule;       /* judge_pairwise: either (default) or both */
	const char *reference_run;     /* run id whose answers are the pairwise references, or NULL */
	int rescore;                   /* 1 = score again items already scored with the same settings */
	const struct dataset *ds;      /* the run's items (choices, reference responses), or NULL */
	/* called after each query the run holds (may be NULL) */
	void (*progress)(void *arg, long done, long total);
	void *arg;
};

void score_opts_init(struct score_opts *o);

struct score_report {
	long queries;          /* queries in the run */
	long scored;           /* score rows written with 1/0 */
	long correct;          /* of those, correct */
	long unscored;         /* score rows written with -1 (reason recorded) */
	long already;          /* skipped: the latest score has the same grader and settings */
	long failed;           /* skipped: failed queries are not scored */
	long need_judge;       /* skipped: the grader needs a judge and none was given */
	long no_item;          /* scored from the stored record: the item was not in the dataset */
	long ungraded;         /* skipped: the item has no reference answer (task none, the random dataset) */
};

/*
 * Scores every ok query of run_id (an id) with o's grader and settings,
 * appending one score row per query (grader and settings_json recorded) and
 * skipping queries whose latest score already has the same grader and
 * settings and is 1/0, unless o->rescore. Returns 0; -1 with err when the
 * store fails or the judge cannot be reached (what was scored stays).
 */
int score_run(struct store *st, const char *run_id, const struct score_opts *o, struct score_report *rep,
	      char *err, size_t errlen);

/*
 * The settings JSON recorded with a score by grader (compact, sorted keys;
 * caller frees): numeric tolerances, judge model, prompt version, pairwise
 * rule and reference source.
 */
char *score_settings_json(const char *grader, const struct score_opts *o);

#endif
