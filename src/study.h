/*
 * study.h - a study: one dataset measured under several configurations
 * (model x server x accelerator labels with the profile options a worker
 * needs) by many workers on many hosts. The store holds the work queue: one
 * row per (study, config, item); a worker claims a batch of rows under a lease
 * that a heartbeat renews, and a result lands only while the lease is still
 * its own, so every item of every config is recorded once (docs/fleet.md).
 * The queue is served by back-ends with study ops (PostgreSQL; SQLite says it
 * cannot). Never prints.
 */
#ifndef IPW_STUDY_H
#define IPW_STUDY_H

#include <stddef.h>

#include "record.h"
#include "store.h"

/* Returned by study_commit when the lease is no longer ours (another worker reclaimed the item). */
#define STUDY_ELOST (-4)

/* One configuration of a study: labels and the profile options (a JSON array of argv strings). */
struct study_config {
	char *name;
	char *model, *server, *accelerator; /* labels (model also becomes --model unless options name one) */
	char *options_json;                 /* e.g. ["--max-tokens","32"]; "[]" for none */
};

struct study {
	char *id;                 /* assigned by the store */
	char *name;
	char *dataset_path, *dataset_sha256, *dataset_format;
	long long n_items;
	int batch;                /* items per claim */
	double created_at;        /* wall clock, Unix seconds */
	struct study_config *configs;
	int nconfigs;
};

void study_release(struct study *st);

/* A worker's lease on the rows it claims. */
struct study_lease {
	char owner[300];          /* "host:pid" (or --worker-id): who holds the rows, for status */
	char token[40];           /* this claim's random token: the commit checks it is still the rows' */
	double lease_s;           /* how long a claim or renewal holds the rows (the store's clock) */
};

/* What the row of a committed item records about where it ran. */
struct study_where {
	const char *host;
	const char *hardware;     /* the accelerators' models ("fake-gpu x1"), or "" */
	double clock_offset_s;    /* the store server's wall clock minus this host's, s (NAN unknown) */
};

/* One row of study_status: a config's items on one host (host "" = not yet done). */
struct study_status_row {
	const char *config;
	const char *host;         /* "" for the items no one has finished */
	long long done, leased, pending; /* pending = not done and not under a live lease */
	long long claims;         /* claims of these rows so far (> items: some were reclaimed) */
	double clock_offset_s;    /* mean recorded offset of the host's rows (NAN when none) */
};

/* One finished item for study_commit_batch: the query, its score (NULL: none) and what became of it. */
struct study_result {
	const struct query_record *q;
	const struct store_score *score;
	int status;               /* set by the commit: 0 recorded (now or by an earlier try), STUDY_ELOST */
};

/* The study ops a back-end implements (store_backend.study; NULL: no study queue). */
struct store_study_ops {
	int (*create)(struct store *s, struct study *st, char *const *item_ids, size_t n, char *err,
		      size_t errlen);
	int (*get)(struct store *s, const char *name, struct study *out, char *err, size_t errlen);
	int (*claim)(struct store *s, const char *study_id, const char *config, const struct study_lease *l,
		     int max, char ***ids, size_t *n, long long *left, char *err, size_t errlen);
	int (*renew)(struct store *s, const char *study_id, const struct study_lease *l, char *err, size_t errlen);
	int (*release)(struct store *s, const char *study_id, const struct study_lease *l, char *err,
		       size_t errlen);
	int (*commit)(struct store *s, const char *study_id, const char *config, const struct study_lease *l,
		      const struct study_where *w, const char *run_id, const struct query_record *q,
		      char *err, size_t errlen);
	/* optional (NULL: commit one at a time) */
	int (*commit_batch)(struct store *s, const char *study_id, const char *config, const struct study_lease *l,
			    const struct study_where *w, const char *run_id, struct study_result *res,
			    size_t n, char *err, size_t errlen);
	int (*status)(struct store *s, const char *study_id,
		      int (*cb)(const struct study_status_row *r, void *ctx), void *ctx, char *err, size_t errlen);
	int (*server_clock)(struct store *s, double *wall_s, char *err, size_t errlen);
};

/*
 * Whether the store serves studies: 0, or -1 with "the study queue needs a
 * PostgreSQL store" and what to do in err.
 */
int study_supported(struct store *s, char *err, size_t errlen);

/*
 * Creates study st (name unique in the store) with one queue row per item
 * and config; sets st->id. STORE_EDUPLICATE if the name is taken.
 */
int study_create(struct store *s, struct study *st, char *const *item_ids, size_t n, char *err, size_t errlen);
/* Reads the study named name into out (study_release); STORE_ENOTFOUND if none. */
int study_get(struct store *s, const char *name, struct study *out, char *err, size_t errlen);
/*
 * Claims at most max unfinished items of config whose lease is free or has
 * expired, under lease l (the store's clock), skipping rows another
 * transaction holds locked: *ids (free_list) in plan order, *n of them.
 * When none is claimed, *left is the number of the config's items not done
 * yet (held by others), so 0 claimed with *left > 0 means "others hold the
 * rest: wait"; otherwise *left is at least *n (not counted).
 */
int study_claim(struct store *s, const char *study_id, const char *config, const struct study_lease *l, int max,
		char ***ids, size_t *n, long long *left, char *err, size_t errlen);
/* Extends the lease of every unfinished row l holds by l->lease_s from now (the heartbeat). */
int study_renew(struct store *s, const char *study_id, const struct study_lease *l, char *err, size_t errlen);
/* Gives back the unfinished rows l holds (their lease ends now), for a worker that stops. */
int study_release_lease(struct store *s, const char *study_id, const struct study_lease *l, char *err,
			size_t errlen);
/*
 * Records q, one item of config, into run_id and marks its queue row done
 * with w, in one transaction, only if the row is still held by l (its token):
 * 0, STUDY_ELOST (nothing written: another worker holds or finished it), or
 * -1. Committing the same q again under the same lease returns 0 (a retry
 * after a lost connection).
 */
int study_commit(struct store *s, const char *study_id, const char *config, const struct study_lease *l,
		 const struct study_where *w, const char *run_id, const struct query_record *q,
		 char *err, size_t errlen);
/*
 * study_commit for n items in one transaction: every item whose row l still
 * holds is recorded (its query, its score) and marked done with w; the
 * others are left alone (res[i].status STUDY_ELOST). 0 with every status
 * set, or -1 (nothing recorded). A back-end without the batch op commits the
 * items one at a time (each its own transaction).
 */
int study_commit_batch(struct store *s, const char *study_id, const char *config, const struct study_lease *l,
		       const struct study_where *w, const char *run_id, struct study_result *res, size_t n,
		       char *err, size_t errlen);
/* Calls cb for each (config, host) of the study, ordered by config then host. */
int study_status(struct store *s, const char *study_id,
		 int (*cb)(const struct study_status_row *r, void *ctx), void *ctx, char *err, size_t errlen);
/* The store server's wall clock (Unix seconds), for the clock offset. */
int study_server_clock(struct store *s, double *wall_s, char *err, size_t errlen);

/*
 * Parses a --config spec: "NAME [model=M] [server=S] [accelerator=A] [PROFILE
 * OPTIONS...]" split at spaces (no quoting: an option value holding a space
 * is written --opt=value... not supported). 0, or -1 with err.
 */
int study_config_parse(const char *spec, struct study_config *out, char *err, size_t errlen);
void study_config_release(struct study_config *c);

/* A new random lease token (32 hex digits) into l->token. */
void study_lease_token(struct study_lease *l);

#endif
