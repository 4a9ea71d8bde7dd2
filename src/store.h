/*
 * store.h - the run store: runs, their sources, every finished query with its
 * energies and attempts, telemetry samples and scores. One ops struct per
 * back-end (src/store/sqlite.c, src/store/postgres.c), chosen by the URI's scheme
 * from the registry in store.c, which also holds the back-end-independent
 * checks. Schema, durability, adding a back-end: docs/store.md.
 */
#ifndef IPW_STORE_H
#define IPW_STORE_H

#include <stddef.h>

#include "record.h"

/* Returned (besides -1) when a run, or another looked-up thing, does not exist. */
#define STORE_ENOTFOUND (-2)
/* Returned when an item of a run is already recorded (the UNIQUE(run_id, item_id) rule). */
#define STORE_EDUPLICATE (-3)
/* Returned when a run's lease is held by someone else (store_lease_acquire), or changed under a put. */
#define STORE_EBUSY (-4)

/* store_open flags */
#define STORE_CREATE 1    /* create the store if it does not exist (profile) */
#define STORE_READONLY 2  /* read commands: never write, never change the journal mode or migrate */

/* One telemetry sample of one source; NAN where not measured. */
struct store_sample {
	int source_idx;
	double t_s;               /* seconds since the run's start (monotonic clock) */
	double energy_j;          /* the cumulative counter as read, J (raw; NAN: no counter read) */
	double power_w;
	double temp_c;
	double mem_used_bytes;
};

/* One score of one item (the scoring step adds these; the latest per item wins). */
struct store_score {
	const char *item_id;
	const char *grader;
	const char *settings_json;
	int correct;              /* 1, 0, or -1 = could not be scored (stored as NULL) */
	const char *reason;
	double scored_at;         /* wall clock, Unix seconds */
};

/* One cached judge call (the judgements table), keyed by prompt hash and judge model. */
struct store_judgement {
	const char *prompt_sha256; /* SHA-256 of the full judge prompt, 64 hex digits */
	const char *judge_model;
	const char *verdict;       /* the parsed verdict ("TRUE", "A>B", ...) */
	const char *raw_text;      /* the judge's full reply */
	double created_at;         /* wall clock, Unix seconds (<= 0 or NAN: now) */
};

/*
 * One recorded query of a run as the analyses read it, with the latest score
 * of its item. Strings are valid until the next store_items_next call.
 */
struct store_item {
	const char *item_id;
	const char *subject;      /* "" when the item has none */
	int ok;                   /* 1: status ok; 0: the request failed */
	int correct;              /* latest score: 1, 0, or -1 = unscored or not scored yet */
	double accel_j, accel_dyn_j;  /* J, gross and dynamic accelerator energy; NAN unmeasured */
	double e2e_s, ttft_s;     /* s; NAN unmeasured */
	double t_send_s, t_end_s; /* run seconds */
	long long prompt_tokens, completion_tokens, reasoning_tokens; /* -1 unknown */
	double logprob_sum;       /* nats over logprob_tokens answer tokens; NAN none returned */
	long long logprob_tokens; /* -1 unknown */
};

/*
 * The lease on a run (docs/store.md "Leases"): who is sending its items. One
 * row per run at most; owner is "host:pid". Times are wall clock, Unix s.
 */
struct store_lease {
	char *owner;
	char *host;
	long long pid;
	double acquired_at, heartbeat_at;
};
/* Frees the strings of a lease read from the store (the struct itself is the caller's). */
void store_lease_clear(struct store_lease *l);

struct store;
struct store_study_ops;

/* A read cursor over one run's items (store_items_open). */
struct store_cursor {
	struct store *s;
	void *impl;               /* the back-end's statement */
	unsigned fields;          /* STORE_ITEM_*: what the caller reads (store_items_open_fields) */
};

/*
 * The store_item fields an items cursor must fill besides item_id, ok and
 * correct (always read): a back-end may skip the others (SQLite does: each
 * column read costs time per row), leaving them "" / NAN / -1.
 */
enum {
	STORE_ITEM_SUBJECT = 1,   /* subject */
	STORE_ITEM_ENERGY = 2,    /* accel_j, accel_dyn_j */
	STORE_ITEM_LATENCY = 4,   /* e2e_s, ttft_s */
	STORE_ITEM_TOKENS = 8,    /* prompt_tokens, completion_tokens, reasoning_tokens */
	STORE_ITEM_WINDOW = 16,   /* t_send_s, t_end_s */
	STORE_ITEM_LOGPROBS = 32, /* logprob_sum, logprob_tokens */
	STORE_ITEM_ALL = 63
};

/*
 * The operations a back-end implements; run ids are the store's decimal
 * strings. A back-end is one file in src/store/ defining one const struct
 * store_backend, plus its line in store_backends[] (store.c). Every op is
 * required; tests/unit/helper_store_conformance.c says what each must do.
 */
struct store_backend {
	const char *name;              /* "sqlite": in messages and lists */
	const char *const *schemes;    /* the URI schemes it serves, lower case, NULL-terminated */
	int plain_path;                /* 1: it also serves a URI without a scheme (a file path) */
	/*
	 * Opens the store uri names (as the user wrote it, scheme included).
	 * s->path holds uri on entry; a back-end may replace it (free, then a
	 * new xstrdup'ed string) with the form its messages should show (the
	 * file path; a URI without its password). On failure it releases what
	 * it allocated, except s->path, which store_open frees.
	 */
	int (*open)(struct store *s, const char *uri, int flags, char *err, size_t errlen);
	void (*close)(struct store *s);
	int (*run_create)(struct store *s, struct run_record *r, char *err, size_t errlen);
	int (*run_set_sources)(struct store *s, const char *run_id, const struct run_source *src, int n,
			       char *err, size_t errlen);
	int (*run_update)(struct store *s, const struct run_record *r, char *err, size_t errlen);
	int (*run_get)(struct store *s, const char *ref, struct run_record *out, char *err, size_t errlen);
	int (*runs_list)(struct store *s, int (*cb)(const struct run_record *r, void *ctx), void *ctx,
			 char *err, size_t errlen);
	int (*query_insert)(struct store *s, const char *run_id, const struct query_record *q,
			    char *err, size_t errlen);
	int (*query_energy_set)(struct store *s, const char *run_id, const struct query_record *q,
				char *err, size_t errlen);
	int (*queries_iter)(struct store *s, const char *run_id,
			    int (*cb)(const struct query_record *q, void *ctx), void *ctx,
			    char *err, size_t errlen);
	int (*items_done)(struct store *s, const char *run_id, char ***ids, size_t *n,
			  char *err, size_t errlen);
	int (*samples_append)(struct store *s, const char *run_id, const struct store_sample *v, size_t n,
			      char *err, size_t errlen);
	int (*score_add)(struct store *s, const char *run_id, const struct store_score *sc,
			 char *err, size_t errlen);
	int (*scores_latest)(struct store *s, const char *run_id,
			     int (*cb)(const char *item_id, int correct, void *ctx), void *ctx,
			     char *err, size_t errlen);
	/* added by the scoring issue */
	int (*score_rows_latest)(struct store *s, const char *run_id,
				 int (*cb)(const struct store_score *sc, void *ctx), void *ctx,
				 char *err, size_t errlen);
	int (*judgement_get)(struct store *s, const char *prompt_sha256, const char *judge_model,
			     char **verdict, char **raw_text, char *err, size_t errlen);
	int (*judgement_put)(struct store *s, const struct store_judgement *j, char *err, size_t errlen);
	int (*items_open)(struct store *s, const char *run_id, struct store_cursor *c, char *err, size_t errlen);
	int (*items_next)(struct store_cursor *c, struct store_item *it, char *err, size_t errlen);
	void (*items_close)(struct store_cursor *c);
	int (*samples_iter)(struct store *s, const char *run_id,
			    int (*cb)(const struct store_sample *v, void *ctx), void *ctx,
			    char *err, size_t errlen);
	/* added by the resume lane: items sent again, the rows they superseded */
	int (*query_resend)(struct store *s, const char *run_id, const struct query_record *q,
			    char *err, size_t errlen);
	int (*superseded_iter)(struct store *s, const char *run_id,
			       int (*cb)(const struct query_record *q, void *ctx), void *ctx,
			       char *err, size_t errlen);
	/*
	 * The run's lease: get (STORE_ENOTFOUND when none); put writes l as the
	 * lease, only if the row is as expected (expect NULL: no row; else its
	 * owner and heartbeat_at), else STORE_EBUSY (nothing written); renew sets
	 * heartbeat_at if owner holds it, else STORE_ENOTFOUND; release deletes it
	 * if owner holds it (0 either way)
	 */
	int (*lease_get)(struct store *s, const char *run_id, struct store_lease *out, char *err, size_t errlen);
	int (*lease_put)(struct store *s, const char *run_id, const struct store_lease *l,
			 const struct store_lease *expect, char *err, size_t errlen);
	int (*lease_renew)(struct store *s, const char *run_id, const char *owner, double now,
			   char *err, size_t errlen);
	int (*lease_release)(struct store *s, const char *run_id, const char *owner, char *err, size_t errlen);
	/* optional (the fleet issue): the study queue (src/study.h); NULL when not served */
	const struct store_study_ops *study;
	/* optional (ipw merge): a run inserted with r->id as given; STORE_EDUPLICATE if the id is taken */
	int (*run_create_id)(struct store *s, const struct run_record *r, char *err, size_t errlen);
	/* optional (ipw merge): every score row of a run in insertion order */
	int (*scores_iter)(struct store *s, const char *run_id,
			   int (*cb)(const struct store_score *sc, void *ctx), void *ctx, char *err, size_t errlen);
	/*
	 * optional (group commit, the load generator's writer thread): n queries
	 * of one run inserted, or their energy set, in one transaction: all of
	 * them or none. NULL: store.c runs query_insert / query_energy_set n times
	 */
	int (*query_insert_batch)(struct store *s, const char *run_id, const struct query_record *const *qs,
				  size_t n, char *err, size_t errlen);
	int (*query_energy_set_batch)(struct store *s, const char *run_id,
				      const struct query_record *const *qs, size_t n, char *err, size_t errlen);
};

extern const struct store_backend store_sqlite;
extern const struct store_backend store_postgres;

struct store {
	const struct store_backend *ops;
	char *path;               /* the store as messages name it (a file path; never a password) */
	void *impl;               /* the back-end's state */
};

/*
 * The back-end that serves uri, chosen by its scheme (the letters before the
 * first ':', when they form a URI scheme: a letter, then letters, digits,
 * '+', '-' or '.'; compared without case); a URI without a scheme goes to the
 * back-end that serves plain paths (SQLite). NULL with the reason in err for
 * an unknown scheme (the message lists the known ones). A file path holding
 * ':' before any '/' is written ./NAME. The returned struct is static.
 */
const struct store_backend *store_backend_for(const char *uri, char *err, size_t errlen);
/* The i-th registered back-end (0, 1, ...), NULL past the last. */
const struct store_backend *store_backend_at(size_t i);

/*
 * uri as a message may show it: a URI with an authority (SCHEME://...)
 * without its password (USER:PASSWORD@ becomes USER@, password=...
 * parameters are dropped); anything else as given. Caller frees.
 */
char *store_uri_shown(const char *uri);

/*
 * Opens a store. uri is a file path or sqlite:PATH or file:PATH (SQLite), or
 * postgresql://... / postgres://... (a PostgreSQL database, the URI handed
 * to libpq; docs/store.md); NULL means $IPW_STORE when set and non-empty,
 * else ./ipw.db.
 * STORE_READONLY opens without ever writing (read commands). Without
 * STORE_CREATE a missing store is an error (read commands never create an
 * empty store). The schema is created or migrated as needed (not with
 * STORE_READONLY). Returns 0, or -1 with the reason in err; s is then empty
 * (store_close on it does nothing).
 */
int store_open(struct store *s, const char *uri, int flags, char *err, size_t errlen);
void store_close(struct store *s);

/*
 * Inserts a new run (and its sources, if any) and sets r->id to the id the
 * store assigned (increasing, never reused). Runs are never overwritten or
 * deleted; names need not be unique. Refuses a run whose text fields contain
 * the value of IPW_API_KEY or OPENAI_API_KEY.
 */
int store_run_create(struct store *s, struct run_record *r, char *err, size_t errlen);
/* Replaces the run's sources (idx, identity, idle baselines). */
int store_run_set_sources(struct store *s, const char *run_id, const struct run_source *src, int n,
			  char *err, size_t errlen);
/*
 * Updates the mutable fields of run r->id: status, server_model, n_items and
 * hardware_json, summary_json and server_log (NULL / -1 keep the stored value), ended_at and idle_seconds
 * (always written; NAN stores NULL), and, for each of r->sources, the idle
 * baselines of the source with that idx. Other fields are fixed at creation.
 */
int store_run_update(struct store *s, const struct run_record *r, char *err, size_t errlen);
/*
 * Reads a run (with its sources) into out, which the caller releases with
 * run_record_release. ref is an id, "last"/"latest" (the newest run), or a
 * name that only one run has. STORE_ENOTFOUND with a message if none matches
 * or the name is ambiguous.
 */
int store_run_get(struct store *s, const char *ref, struct run_record *out, char *err, size_t errlen);
/* Calls cb for every run, oldest first; a non-zero return from cb stops and is returned. */
int store_runs_list(struct store *s, int (*cb)(const struct run_record *r, void *ctx), void *ctx,
		    char *err, size_t errlen);

/*
 * Records one finished query (ok or failed) with its energies and attempts in
 * one transaction, committed before returning. STORE_EDUPLICATE if the item is
 * already recorded for the run (nothing is written then).
 */
int store_query_insert(struct store *s, const char *run_id, const struct query_record *q,
		       char *err, size_t errlen);
/* Calls cb for every query of the run in seq order (the record is valid during the call only). */
/*
 * Sets the energy of a query already inserted (the one of run_id with
 * q->item_id): the energy columns (accel_j ... mem_max_bytes) and its
 * per-source rows, in one transaction. For a query stored as soon as it ended,
 * before telemetry covered its window (docs/store.md). STORE_ENOTFOUND when
 * the run has no such query.
 */
/*
 * n queries of one run in one transaction where the back-end has a batch
 * operation (all or none), else one at a time (a failure then leaves the
 * queries before it stored)
 */
int store_query_insert_batch(struct store *s, const char *run_id, const struct query_record *const *qs,
			     size_t n, char *err, size_t errlen);
int store_query_energy_set_batch(struct store *s, const char *run_id, const struct query_record *const *qs,
				 size_t n, char *err, size_t errlen);
int store_query_energy_set(struct store *s, const char *run_id, const struct query_record *q,
			   char *err, size_t errlen);
int store_queries_iter(struct store *s, const char *run_id,
		       int (*cb)(const struct query_record *q, void *ctx), void *ctx,
		       char *err, size_t errlen);
/*
 * The item ids already recorded for a run (for --resume), each once (its
 * latest query); the caller frees with free_list.
 */
int store_items_done(struct store *s, const char *run_id, char ***ids, size_t *n,
		     char *err, size_t errlen);

/*
 * Sending an item again (--resume, docs/store.md "Items sent again"): records
 * q as the new latest query of an item the run has already recorded. In one
 * transaction the recorded row is marked superseded (kept, with its energies
 * and attempts; superseded_at is set once) and q is inserted, so every reader
 * above sees one query per item, the latest, and nothing measured is lost.
 * STORE_ENOTFOUND when the run has no query for q->item_id (nothing is
 * written then).
 */
int store_query_resend(struct store *s, const char *run_id, const struct query_record *q,
		       char *err, size_t errlen);
/* Calls cb for every superseded query of the run, in seq order, then oldest first. */
int store_superseded_iter(struct store *s, const char *run_id,
			  int (*cb)(const struct query_record *q, void *ctx), void *ctx,
			  char *err, size_t errlen);
/*
 * 1 when a recorded query failed for a transport reason, the ones --resume
 * sends again: its final attempt could not reach the server (connect, reset,
 * timeout) or got HTTP 429 or 5xx. Any other failure (400, 404, a bad
 * stream) and every ok query stay as recorded.
 */
int store_query_failed_in_transport(const struct query_record *q);
/*
 * The item ids of the run whose latest query failed for a transport reason
 * (store_query_failed_in_transport), sorted by strcmp; free with free_list
 * (*ids is NULL when there are none).
 */
int store_items_to_resend(struct store *s, const char *run_id, char ***ids, size_t *n,
			  char *err, size_t errlen);
/* Appends n samples in one transaction. */
int store_samples_append(struct store *s, const char *run_id, const struct store_sample *v, size_t n,
			 char *err, size_t errlen);

/* Adds one score row (scores are appended, never replaced). */
int store_score_add(struct store *s, const char *run_id, const struct store_score *sc,
		    char *err, size_t errlen);
/* Calls cb with the latest score of every scored item of the run (correct: 1, 0 or -1). */
int store_scores_latest(struct store *s, const char *run_id,
			int (*cb)(const char *item_id, int correct, void *ctx), void *ctx,
			char *err, size_t errlen);

/*
 * Calls cb with the latest score row of every scored item of the run, in
 * item id order (grader, settings and reason included; the record is valid
 * during the call only). A non-zero return from cb stops and is returned.
 */
int store_score_rows_latest(struct store *s, const char *run_id,
			    int (*cb)(const struct store_score *sc, void *ctx), void *ctx,
			    char *err, size_t errlen);

/*
 * Looks up the cached judgement for (prompt_sha256, judge_model). 0 with
 * *verdict and *raw_text newly allocated (caller frees; either may be NULL
 * if stored so), STORE_ENOTFOUND if none is cached, -1 on a store error.
 */
int store_judgement_get(struct store *s, const char *prompt_sha256, const char *judge_model,
			char **verdict, char **raw_text, char *err, size_t errlen);
/*
 * Caches a judgement. A key already cached keeps its first judgement (the
 * cache is never overwritten). Refuses text holding the value of
 * IPW_JUDGE_API_KEY, IPW_API_KEY or OPENAI_API_KEY.
 */
int store_judgement_put(struct store *s, const struct store_judgement *j, char *err, size_t errlen);

/*
 * Opens a cursor over the run's recorded queries in item_id order (byte
 * order, as strcmp compares), each with its item's latest score. Several
 * cursors may be open on one store at once (to merge runs by item id);
 * memory per cursor does not depend on the run's size. STORE_ENOTFOUND if
 * the run does not exist. Close with store_items_close.
 */
int store_items_open(struct store *s, const char *run_id, struct store_cursor *c, char *err, size_t errlen);
/* store_items_open reading only the fields in fields (STORE_ITEM_*) besides item_id, ok and correct. */
int store_items_open_fields(struct store *s, const char *run_id, unsigned fields, struct store_cursor *c,
			    char *err, size_t errlen);
/* Reads the next item into *it: 1, 0 at the end, or -1 (err set). */
int store_items_next(struct store_cursor *c, struct store_item *it, char *err, size_t errlen);
void store_items_close(struct store_cursor *c);
/* Calls cb for every telemetry sample of the run, ordered by source, then time. */
int store_samples_iter(struct store *s, const char *run_id,
		       int (*cb)(const struct store_sample *v, void *ctx), void *ctx,
		       char *err, size_t errlen);

/*
 * Leases: one sender per run. store_lease_acquire takes the lease on run_id
 * for host:pid at wall time now, atomically (a conditional write, retried
 * when another writer got in between):
 *   0              acquired (no lease, or host:pid held it already);
 *   1              acquired by taking over a stale lease: its holder's process
 *                  is not running on this host, or its heartbeat is older
 *                  than stale_s; *prev (if not NULL) is the lease taken over
 *                  and err says why, for a note;
 *   STORE_EBUSY    refused: a live holder; err names it and how old its
 *                  heartbeat is;
 *   < 0            a store error (STORE_ENOTFOUND: no such run).
 */
int store_lease_acquire(struct store *s, const char *run_id, const char *host, long long pid, double now,
			double stale_s, struct store_lease *prev, char *err, size_t errlen);
/* Reads the run's lease: 0, or STORE_ENOTFOUND when nobody holds it. */
int store_lease_get(struct store *s, const char *run_id, struct store_lease *out, char *err, size_t errlen);
/* Renews owner's lease (heartbeat_at = now): 0, or STORE_ENOTFOUND when owner no longer holds it. */
int store_lease_renew(struct store *s, const char *run_id, const char *owner, double now, char *err, size_t errlen);
/* Releases owner's lease (nothing when another holds it). */
int store_lease_release(struct store *s, const char *run_id, const char *owner, char *err, size_t errlen);

/*
 * ipw merge: inserts run r (and its sources) with the id r->id as given (the
 * id sequence then continues after it); STORE_EDUPLICATE if the id is taken.
 */
int store_run_create_id(struct store *s, const struct run_record *r, char *err, size_t errlen);
/* Calls cb for every score row of the run (every grading, not only the latest), oldest first. */
int store_scores_iter(struct store *s, const char *run_id,
		      int (*cb)(const struct store_score *sc, void *ctx), void *ctx, char *err, size_t errlen);

#endif
