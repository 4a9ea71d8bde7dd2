/*
 * profile_opts.h - the options of 'ipw profile' as one table (optable.h):
 * parsing, usage, the printed configuration, the run's recorded configuration
 * JSON and restoring it on --resume all come from profile_opts[].
 */
#ifndef IPW_PROFILE_OPTS_H
#define IPW_PROFILE_OPTS_H

#include "optable.h"
#include "runner.h"

/* What 'ipw profile' parses into: the runner's options first, then the command's own. */
struct profile_args {
	struct runner_opts o;      /* must stay first: recorded entries' offsets are runner_opts offsets */
	int quiet;                 /* --quiet */
	const char *sweep;         /* --sweep KEY=V1,V2 */
	int repeat;                /* --repeat N: N identical runs in one group (0: not given) */
};

extern const struct opt_def profile_opts[];
extern const size_t profile_nopts;

/* runner_opts_init plus the command's defaults (store ./ipw.db). */
void profile_args_init(struct profile_args *a);

/* Whether o describes a load run (load loop rather than one query at a time). */
int profile_is_load(const struct runner_opts *o);

/*
 * The run's recorded configuration: every OPT_RECORD option of o, with the
 * resolved url, api name and model in place of o's. A newly allocated
 * compact JSON string the caller frees.
 */
char *profile_config_json(const struct runner_opts *o, const char *url, const char *api, const char *model);

/*
 * Restores into o every recorded option found in cfg (a run's config_json);
 * strings are copied into keep, which must outlive o's use. *summary (owned
 * by keep) lists the restored options as "key=value ..." taken from o after
 * restoring. Fails (-1, err) on invalid JSON or a value of the wrong type. A
 * load run's options are restored too (its resume sends the requests with no
 * stored query, docs/load.md).
 */
int profile_config_restore(struct runner_opts *o, const char *cfg, struct opt_keep *keep,
			   const char **summary, char *err, size_t errlen);

#endif
