/*
 * writer.h - the load run's writer thread: queries handed over as their
 * requests end wait in a bounded queue and are inserted (and scored) in
 * batches, one transaction each (group commit), so no store commit runs on
 * the load loop's thread. Durability bound and ownership: docs/load.md.
 */
#ifndef IPW_WRITER_H
#define IPW_WRITER_H

#include <stddef.h>

#include "dataset.h"
#include "record.h"
#include "store.h"

/* Ended queries the queue holds before writer_put blocks (--writer-queue's default). */
#define WRITER_DEPTH_DEFAULT 256
/* The most queries one transaction inserts. */
#define WRITER_BATCH_DEFAULT 64

struct writer;

struct writer_hooks {
	/*
	 * On the writer thread, for each query once the batch holding it has
	 * committed (and its score is stored); nstored counts the queries stored
	 * so far, this one included. May be NULL.
	 */
	void (*stored)(void *arg, const struct query_record *q, long long nstored);
	/* On the writer thread after each batch (e.g. flushing telemetry samples); 0, or -1 (err). May be NULL. */
	int (*after_batch)(void *arg, struct store *st, char *err, size_t errlen);
	void *arg;
};

/* What a writer did, for the run's log. */
struct writer_stats {
	long long queued;          /* queries handed over */
	long long stored;          /* queries committed */
	long long batches;         /* transactions */
	long long max_batch;       /* the largest batch */
	long long stalls;          /* writer_put calls that waited for room in a full queue */
	double stall_s;            /* the time they waited, seconds (monotonic clock) */
};

/*
 * Starts the writer thread for run_id of st. From here until writer_finish
 * returns, the writer owns st: no other thread may use that connection.
 * depth >= 1 queries wait in the queue at most; batch >= 1 go in one
 * transaction at most. h may be NULL. Returns 0 (*out set), or -1 (err).
 */
int writer_start(struct writer **out, struct store *st, const char *run_id, int depth, int batch,
		 const struct writer_hooks *h, char *err, size_t errlen);

/*
 * Hands q over to be inserted, and scored against it (NULL: not scored). q
 * stays the caller's but must not be touched until writer_finish returns.
 * Never drops a query: when the queue is full it waits for room (a stall,
 * counted in the stats). Returns 0, or -1 once the writer has failed (q is
 * then not stored; writer_finish says why).
 */
int writer_put(struct writer *w, struct query_record *q, const struct item *it);

/* Stalls so far (any thread may ask). */
long long writer_stalls(struct writer *w);

/* Queries committed so far (any thread may ask). */
long long writer_stored(struct writer *w);

/*
 * Stores everything still queued, stops the thread and frees w; the store
 * is the caller's again. stats may be NULL. Returns 0, or -1 (err) when a
 * batch failed: the batches before it are stored, nothing after it is.
 */
int writer_finish(struct writer *w, struct writer_stats *stats, char *err, size_t errlen);

#endif
