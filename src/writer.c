/*
 * writer.c - the load run's writer thread: a bounded ring of ended queries,
 * drained in batches of whatever is waiting (up to the batch size), each
 * batch inserted in one transaction (store_query_insert_batch) and then
 * scored. See writer.h and docs/load.md.
 */
#include "writer.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "score.h"
#include "util.h"

struct slot {
	struct query_record *q;
	const struct item *it;
};

struct writer {
	struct store *st;
	char *run_id;
	struct writer_hooks h;
	int depth, batch;
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t nonempty, nonfull;
	struct slot *ring;          /* depth slots; head is the oldest */
	size_t head, n;
	int closing;                /* writer_finish: store what is queued, then end */
	int failed;                 /* a batch failed: nothing more is stored */
	char err[IPW_ERRLEN];
	struct writer_stats stats;  /* under mu */
};

/* Inserts and scores one batch; 0, or -1 (w->err) when the store failed. */
static int write_batch(struct writer *w, struct slot *b, size_t k, long long stored_before)
{
	const struct query_record **qs = xcalloc(k + 1, sizeof(*qs));
	int rc = -1;

	for (size_t i = 0; i < k; i++)
		qs[i] = b[i].q;
	if (store_query_insert_batch(w->st, w->run_id, qs, k, w->err, sizeof(w->err)) < 0)
		goto out;
	for (size_t i = 0; i < k; i++)
		if (b[i].it && score_query(w->st, w->run_id, b[i].q, b[i].it, w->err, sizeof(w->err)) < 0)
			goto out;
	if (w->h.after_batch && w->h.after_batch(w->h.arg, w->st, w->err, sizeof(w->err)) < 0)
		goto out;
	if (w->h.stored)
		for (size_t i = 0; i < k; i++)
			w->h.stored(w->h.arg, b[i].q, stored_before + (long long)i + 1);
	rc = 0;
out:
	free(qs);
	return rc;
}

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	struct slot *b = xcalloc((size_t)w->batch, sizeof(*b));

	pthread_mutex_lock(&w->mu);
	for (;;) {
		size_t k;
		long long before;
		int ok;
		while (!w->n && !w->closing)
			pthread_cond_wait(&w->nonempty, &w->mu);
		if (!w->n)
			break;
		/* everything waiting, up to a batch: one commit for all of it */
		k = w->n < (size_t)w->batch ? w->n : (size_t)w->batch;
		for (size_t i = 0; i < k; i++)
			b[i] = w->ring[(w->head + i) % (size_t)w->depth];
		w->head = (w->head + k) % (size_t)w->depth;
		w->n -= k;
		pthread_cond_broadcast(&w->nonfull);
		if (w->failed)
			continue;   /* after a failure nothing more is stored; the queue only drains */
		before = w->stats.stored;
		pthread_mutex_unlock(&w->mu);
		ok = write_batch(w, b, k, before) == 0;
		pthread_mutex_lock(&w->mu);
		if (ok) {
			w->stats.stored += (long long)k;
			w->stats.batches++;
			if ((long long)k > w->stats.max_batch)
				w->stats.max_batch = (long long)k;
		} else {
			w->failed = 1;
			pthread_cond_broadcast(&w->nonfull);
		}
	}
	pthread_mutex_unlock(&w->mu);
	free(b);
	return NULL;
}

int writer_start(struct writer **out, struct store *st, const char *run_id, int depth, int batch,
		 const struct writer_hooks *h, char *err, size_t errlen)
{
	struct writer *w;

	*out = NULL;
	if (depth < 1 || batch < 1)
		return err_set(err, errlen, "the writer's queue depth and batch must be >= 1 (got %d and %d)", depth,
			       batch);
	w = xcalloc(1, sizeof(*w));
	w->st = st;
	w->run_id = xstrdup(run_id);
	if (h)
		w->h = *h;
	w->depth = depth;
	w->batch = batch;
	w->ring = xcalloc((size_t)depth, sizeof(*w->ring));
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->nonempty, NULL);
	pthread_cond_init(&w->nonfull, NULL);
	if (pthread_create(&w->th, NULL, writer_main, w) != 0) {
		pthread_cond_destroy(&w->nonfull);
		pthread_cond_destroy(&w->nonempty);
		pthread_mutex_destroy(&w->mu);
		free(w->ring);
		free(w->run_id);
		free(w);
		return err_set(err, errlen, "could not start the store's writer thread");
	}
	*out = w;
	return 0;
}

int writer_put(struct writer *w, struct query_record *q, const struct item *it)
{
	int rc = -1;

	pthread_mutex_lock(&w->mu);
	if (w->n == (size_t)w->depth && !w->failed) {
		int64_t t0 = clock_now_ns();
		w->stats.stalls++;
		while (w->n == (size_t)w->depth && !w->failed)
			pthread_cond_wait(&w->nonfull, &w->mu);
		w->stats.stall_s += (double)(clock_now_ns() - t0) / 1e9;
	}
	if (!w->failed) {
		w->ring[(w->head + w->n) % (size_t)w->depth] = (struct slot){q, it};
		w->n++;
		w->stats.queued++;
		pthread_cond_signal(&w->nonempty);
		rc = 0;
	}
	pthread_mutex_unlock(&w->mu);
	return rc;
}

long long writer_stalls(struct writer *w)
{
	long long v;
	pthread_mutex_lock(&w->mu);
	v = w->stats.stalls;
	pthread_mutex_unlock(&w->mu);
	return v;
}

long long writer_stored(struct writer *w)
{
	long long v;
	pthread_mutex_lock(&w->mu);
	v = w->stats.stored;
	pthread_mutex_unlock(&w->mu);
	return v;
}

int writer_finish(struct writer *w, struct writer_stats *stats, char *err, size_t errlen)
{
	int rc = 0;

	pthread_mutex_lock(&w->mu);
	w->closing = 1;
	pthread_cond_signal(&w->nonempty);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->th, NULL);
	if (stats)
		*stats = w->stats;
	if (w->failed)
		rc = err_set(err, errlen, "%s", w->err);
	pthread_cond_destroy(&w->nonfull);
	pthread_cond_destroy(&w->nonempty);
	pthread_mutex_destroy(&w->mu);
	free(w->ring);
	free(w->run_id);
	free(w);
	return rc;
}
