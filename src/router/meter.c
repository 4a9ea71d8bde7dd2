/*
 * router/meter.c - measured energy of the router's local-tier attempts: one
 * telemetry session (the measurement session of `ipw profile`), a window per
 * attempt at a tier the config marks "measured", and the concurrent
 * attribution rule (src/attribution.c) applied to each window once it is
 * attributable (docs/router.md, "Measured energy"). The loop thread only
 * stamps windows (constant time, under a mutex); a worker thread waits for
 * telemetry to cover a window's end and for every window overlapping it to
 * end, then attributes it; the loop collects the results on its 100 ms tick.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "attribution.h"
#include "clock.h"
#include "router/meter.h"
#include "timeline.h"
#include "util.h"

struct meter_win {
	struct meter_win *next;             /* the meter's list, in send order */
	struct meter_win *end_next;         /* the queue of ended windows waiting for attribution */
	int64_t t_send, t_first, t_end;
	double prompt_tokens;               /* NAN: unknown */
	int ok;                             /* the attempt answered (only ok windows are ever active) */
	int ended, done, released;
	struct meter_result res;
};

struct router_meter {
	struct measure m;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t worker;
	int worker_started, stop;
	struct meter_win *head, *tail;      /* every window still needed, in send order */
	struct meter_win *eq_head, *eq_tail; /* ended, not yet attributed, in end order */
	char sources[256];
};

static void result_init(struct meter_result *r, int n)
{
	r->gross = xcalloc((size_t)n + 1, sizeof(double));
	r->dyn = xcalloc((size_t)n + 1, sizeof(double));
	for (int s = 0; s < n; s++)
		r->gross[s] = r->dyn[s] = NAN;
	r->accel_j = r->accel_dyn_j = r->host_j = r->host_dyn_j = NAN;
	r->status = METER_PENDING;
}

/* ---- attribution of one window (worker thread, no meter lock held) ---- */

struct src_job {
	const struct attr_req *ar;
	size_t n, self;
	int64_t t0, t1;
	double j, share_s;
	int ok;
};

static int tl_energy(void *arg, int64_t t, double *e)
{
	return timeline_energy_at(arg, t, e);
}

static int attribute_one(void *arg, const struct timeline *tl)
{
	struct src_job *j = arg;
	double *rj = xcalloc(j->n + 1, sizeof(double)), *rs = xcalloc(j->n + 1, sizeof(double));
	struct attr_out ao = {.req_j = rj, .req_s = rs};
	char err[IPW_ERRLEN];
	j->ok = attribute_concurrent(j->ar, j->n, j->t0, j->t1, 0, tl_energy, (void *)tl, &ao, err, sizeof(err)) == 0;
	j->j = rj[j->self];
	j->share_s = rs[j->self];
	free(rj);
	free(rs);
	return 0;
}

static void attribute_window(struct router_meter *mt, struct meter_win *w, struct attr_req *ar, size_t n, size_t self)
{
	struct telemetry *tel = mt->m.tel;
	int ns = mt->m.nsrcs, covered;
	struct meter_result *r = &w->res;
	covered = measure_wait(&mt->m, w->t_end, MEASURE_COVER_TIMEOUT_NS) == 0;
	for (int s = 0; s < ns && covered; s++) {
		struct src_job j = {.ar = ar, .n = n, .self = self, .t0 = w->t_send, .t1 = w->t_end};
		telemetry_with_timeline(tel, s, attribute_one, &j);
		if (!j.ok)
			continue;
		r->gross[s] = j.j;
		r->dyn[s] = isnan(mt->m.idle_w[s]) ? NAN : j.j - mt->m.idle_w[s] * j.share_s;
	}
	r->accel_j = telemetry_scope_sum(tel, SCOPE_ACCELERATOR, r->gross, 1, NULL);
	r->host_j = telemetry_scope_sum(tel, SCOPE_HOST, r->gross, 1, NULL);
	r->accel_dyn_j = isnan(r->accel_j) ? NAN : telemetry_scope_sum(tel, SCOPE_ACCELERATOR, r->dyn, 1, NULL);
	r->host_dyn_j = isnan(r->host_j) ? NAN : telemetry_scope_sum(tel, SCOPE_HOST, r->dyn, 1, NULL);
	r->status = covered && !isnan(r->accel_j) ? METER_MEASURED : METER_NOT_COVERED;
}

/*
 * The head of the end queue is attributable when every window sent before its
 * end has ended: then the windows overlapping it are final. Snapshot them
 * (under the lock) into ar; *self gets the head's index. 0 when not yet.
 */
static int snapshot(struct router_meter *mt, struct meter_win *w, struct attr_req **ar, size_t *n, size_t *self)
{
	size_t k = 0, cap = 0;
	*ar = NULL;
	for (struct meter_win *v = mt->head; v && v->t_send < w->t_end; v = v->next)
		if (!v->ended)
			return 0;
	for (struct meter_win *v = mt->head; v && v->t_send < w->t_end; v = v->next) {
		if (v->t_end <= w->t_send || !v->ok)
			continue;
		if (k == cap) {
			cap = cap ? 2 * cap : 16;
			*ar = xrealloc(*ar, cap * sizeof(**ar));
		}
		(*ar)[k] = (struct attr_req){.t_send = v->t_send, .t_first = v->t_first, .t_end = v->t_end,
					    .prompt_tokens = v->prompt_tokens};
		if (v == w)
			*self = k;
		k++;
	}
	*n = k;
	return 1;
}

/* Frees windows no attribution can need any more (lock held). */
static void prune(struct router_meter *mt)
{
	int64_t lim = INT64_MAX;
	for (struct meter_win *v = mt->head; v; v = v->next)
		if (!v->done) {
			lim = v->t_send;
			break;
		}
	while (mt->head && mt->head->done && mt->head->released && mt->head->t_end <= lim) {
		struct meter_win *v = mt->head;
		mt->head = v->next;
		if (!mt->head)
			mt->tail = NULL;
		free(v->res.gross);
		free(v->res.dyn);
		free(v);
	}
}

static void *worker(void *arg)
{
	struct router_meter *mt = arg;
	pthread_mutex_lock(&mt->mu);
	for (;;) {
		struct meter_win *w = mt->eq_head;
		struct attr_req *ar = NULL;
		size_t n = 0, self = 0;
		if (!w) {
			if (mt->stop)
				break;
			pthread_cond_wait(&mt->cv, &mt->mu);
			continue;
		}
		if (w->ok && !snapshot(mt, w, &ar, &n, &self)) {
			if (mt->stop)
				break; /* an overlapping window never ends: left pending */
			pthread_cond_wait(&mt->cv, &mt->mu);
			continue;
		}
		mt->eq_head = w->end_next;
		if (!mt->eq_head)
			mt->eq_tail = NULL;
		if (w->ok) {
			pthread_mutex_unlock(&mt->mu);
			attribute_window(mt, w, ar, n, self);
			free(ar);
			pthread_mutex_lock(&mt->mu);
		} else {
			w->res.status = METER_NOT_ATTRIBUTED;
		}
		w->done = 1;
		prune(mt);
	}
	pthread_mutex_unlock(&mt->mu);
	return NULL;
}

/* ---- the loop's side ---- */

int router_meter_open(struct router_meter **out, const struct measure_opts *o, double idle_s, char *err, size_t errlen)
{
	struct router_meter *mt = xcalloc(1, sizeof(*mt));
	struct measure_idle info;
	sigset_t block, old;
	size_t used = 0;
	int rc;
	*out = NULL;
	if (measure_open(&mt->m, o, err, errlen) < 0) {
		free(mt);
		return -1;
	}
	if (!mt->m.nsrcs || !measure_naccel(&mt->m)) {
		measure_close(&mt->m);
		free(mt);
		return err_set(err, errlen, "telemetry found no accelerator to measure (ipw devices lists what is present)");
	}
	for (int s = 0; s < mt->m.nsrcs && used + 1 < sizeof(mt->sources); s++)
		used += (size_t)snprintf(mt->sources + used, sizeof(mt->sources) - used, "%s%s", s ? "," : "",
					 telemetry_source(mt->m.tel, s)->name);
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	rc = measure_start(&mt->m, NULL, NULL, err, errlen);
	pthread_mutex_init(&mt->mu, NULL);
	pthread_cond_init(&mt->cv, NULL);
	if (rc == 0 && pthread_create(&mt->worker, NULL, worker, mt) == 0)
		mt->worker_started = 1;
	else if (rc == 0)
		rc = err_set(err, errlen, "cannot start the energy attribution thread");
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc < 0) {
		router_meter_close(mt);
		return -1;
	}
	measure_idle(&mt->m, idle_s, NULL, mt->m.idle_w, &info);
	*out = mt;
	return 0;
}

struct measure *router_meter_measure(struct router_meter *mt)
{
	return &mt->m;
}

const char *router_meter_sources(const struct router_meter *mt)
{
	return mt->sources;
}

struct meter_win *router_meter_begin(struct router_meter *mt)
{
	struct meter_win *w = xcalloc(1, sizeof(*w));
	result_init(&w->res, mt->m.nsrcs);
	w->prompt_tokens = NAN;
	pthread_mutex_lock(&mt->mu);
	w->t_send = clock_now_ns();
	if (mt->tail)
		mt->tail->next = w;
	else
		mt->head = w;
	mt->tail = w;
	pthread_mutex_unlock(&mt->mu);
	return w;
}

void router_meter_first(struct router_meter *mt, struct meter_win *w)
{
	pthread_mutex_lock(&mt->mu);
	if (!w->t_first)
		w->t_first = clock_now_ns();
	pthread_mutex_unlock(&mt->mu);
}

void router_meter_end(struct router_meter *mt, struct meter_win *w, int ok, long long prompt_tokens)
{
	pthread_mutex_lock(&mt->mu);
	if (!w->ended) {
		w->t_end = clock_now_ns();
		if (w->t_end <= w->t_send)
			w->t_end = w->t_send + 1;
		w->ok = ok;
		w->prompt_tokens = prompt_tokens > 0 ? (double)prompt_tokens : NAN;
		w->ended = 1;
		if (mt->eq_tail)
			mt->eq_tail->end_next = w;
		else
			mt->eq_head = w;
		mt->eq_tail = w;
		pthread_cond_signal(&mt->cv);
	}
	pthread_mutex_unlock(&mt->mu);
}

int router_meter_result(struct router_meter *mt, struct meter_win *w, struct meter_result *out)
{
	int done;
	pthread_mutex_lock(&mt->mu);
	done = w->done;
	if (done) {
		*out = w->res;
		out->t_send_ns = w->t_send;
		out->t_first_ns = w->t_first;
		out->t_end_ns = w->t_end;
	}
	pthread_mutex_unlock(&mt->mu);
	return done;
}

void router_meter_release(struct router_meter *mt, struct meter_win *w)
{
	pthread_mutex_lock(&mt->mu);
	w->released = 1;
	prune(mt);
	pthread_mutex_unlock(&mt->mu);
}

void router_meter_close(struct router_meter *mt)
{
	if (!mt)
		return;
	if (mt->worker_started) {
		pthread_mutex_lock(&mt->mu);
		mt->stop = 1;
		pthread_cond_signal(&mt->cv);
		pthread_mutex_unlock(&mt->mu);
		pthread_join(mt->worker, NULL);
	}
	measure_stop(&mt->m);
	while (mt->head) {
		struct meter_win *v = mt->head;
		mt->head = v->next;
		free(v->res.gross);
		free(v->res.dyn);
		free(v);
	}
	pthread_mutex_destroy(&mt->mu);
	pthread_cond_destroy(&mt->cv);
	measure_close(&mt->m);
	free(mt);
}

/* Lets the worker finish what it can (windows already ended), then stop. */
void router_meter_drain(struct router_meter *mt)
{
	pthread_mutex_lock(&mt->mu);
	mt->stop = 1;
	pthread_cond_signal(&mt->cv);
	pthread_mutex_unlock(&mt->mu);
	if (mt->worker_started) {
		pthread_join(mt->worker, NULL);
		mt->worker_started = 0;
	}
}
