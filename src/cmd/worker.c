/*
 * cmd/worker.c - 'ipw worker': one host's share of a study. Claims batches of
 * a config's items from the store's queue under a lease a heartbeat thread
 * renews, runs and measures each through the runner (runner_opts.queue) and
 * records it only while the lease is still its own; stops when the config
 * (or every config) is done. Takes every 'ipw profile' option for this host
 * (--url, telemetry, --idle-seconds, ...) on top of the config's recorded
 * options. docs/fleet.md.
 */
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../clock.h"
#include "../dataset.h"
#include "../optable.h"
#include "../profile_opts.h"
#include "../runner.h"
#include "../score.h"
#include "../store.h"
#include "../study.h"
#include "../util.h"
#include "cmd.h"

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

/* The profile options first (their offsets are valid here), then the worker's own. */
struct worker_args {
	struct profile_args pa;
	const char *study, *config, *worker_id;
	double lease_s, poll_s;
	int batch, commit_every;
};

#define W(f) offsetof(struct worker_args, f)
#define OPEN (OPT_BOUNDED | OPT_MIN_OPEN)
static const struct opt_def worker_own[] = {
	{"study", 0, OPT_STRING, W(study), "NAME", "the study to work on (required)", "worker", 0, 0, 0, NULL, NULL,
	 NULL},
	{"config", 0, OPT_STRING, W(config), "NAME", "work on this config only (default: each unfinished one in "
	 "name order)", NULL, 0, 0, 0, NULL, NULL, NULL},
	{"lease", 0, OPT_DOUBLE, W(lease_s), "S", "how long a claim holds its items without a heartbeat; a dead "
	 "worker's items are\nclaimed again after it (default 60)", NULL, 0, 1e9, OPEN, NULL, "seconds > 0", NULL},
	{"batch", 0, OPT_INT, W(batch), "N", "items per claim (default: the study's)", NULL, 1, 1e6, OPT_BOUNDED,
	 NULL, "1..1000000", NULL},
	{"poll", 0, OPT_DOUBLE, W(poll_s), "S", "wait between claims while other workers hold the rest (default: "
	 "lease/4, at most 1)", NULL, 0, 1e9, OPEN, NULL, "seconds > 0", NULL},
	{"commit-every", 0, OPT_INT, W(commit_every), "N", "record finished items in transactions of at most N "
	 "(default: a claim's batch; at most\n10000); 1: each item as soon as it ends (its energy after)", NULL, 1, 1e6,
	 OPT_BOUNDED, NULL, "1..1000000", NULL},
	{"worker-id", 0, OPT_STRING, W(worker_id), "ID", "how status names this worker (default HOST:PID)", NULL, 0,
	 0, 0, NULL, NULL, NULL},
};
#define NOWN (sizeof(worker_own) / sizeof(worker_own[0]))

/* profile_opts[] followed by worker_own[]: one table, one parse. Owned by the caller. */
static struct opt_def *worker_table(size_t *n)
{
	struct opt_def *t = xcalloc(profile_nopts + NOWN, sizeof(*t));
	memcpy(t, profile_opts, profile_nopts * sizeof(*t));
	memcpy(t + profile_nopts, worker_own, sizeof(worker_own));
	*n = profile_nopts + NOWN;
	return t;
}

static void usage(FILE *f)
{
	size_t n;
	struct opt_def *t = worker_table(&n);
	fprintf(f, "usage: ipw worker --study NAME --store postgresql://... [--config NAME] [--lease S] [--url URL]\n"
		"                  [profile options...]\n"
		"Claims a study's items in batches (SELECT ... FOR UPDATE SKIP LOCKED) under a lease a heartbeat\n"
		"renews, runs and measures each as ipw profile does, and records it only while the lease is still\n"
		"this worker's, so each item of each config is recorded once. One run per config and worker, in\n"
		"the study's group. The queue needs a PostgreSQL store (docs/fleet.md).\n\n");
	opt_usage(f, worker_own, NOWN);
	fprintf(f, "\nEvery 'ipw profile' option applies to this host's runs (ipw profile --help); the config's\n"
		"recorded options come first, the command line's override them.\n");
	free(t);
}

/* ---- the worker's state ---- */

/* Items per batched commit at most, whatever --commit-every says. */
#define MAX_COMMIT 10000

/* A finished item held for the next batched commit: the query, its score. */
struct kept {
	struct query_record q;
	struct store_score sc;
	int scored;
	char *settings, *reason;
};

struct worker {
	struct worker_args *a;
	struct study study;
	const struct study_config *cfg;
	struct study_lease lease;
	char host[256];
	char *hardware;              /* from the run's hardware description, at its first record */
	double clock_offset_s;
	int batch;
	long long recorded, lost;
	struct kept *kept;           /* --commit-every > 1: finished items not yet committed */
	size_t nkept, capkept;
	int commit_every;
	/* the heartbeat */
	pthread_t hb;
	int hb_on;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int hb_stop;
	struct store hb_store;
	char hb_err[IPW_ERRLEN];
};

static void sleep_s(double s)
{
	struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
	while (!stop_flag && nanosleep(&ts, &ts) < 0)
		;
}

/* Renews the lease every lease/3 s on its own connection until told to stop. */
static void *heartbeat(void *arg)
{
	struct worker *w = arg;
	double every = w->lease.lease_s / 3;
	pthread_mutex_lock(&w->mu);
	while (!w->hb_stop) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += (time_t)every;
		until.tv_nsec += (long)((every - (double)(time_t)every) * 1e9);
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&w->cv, &w->mu, &until);
		if (w->hb_stop)
			break;
		pthread_mutex_unlock(&w->mu);
		if (study_renew(&w->hb_store, w->study.id, &w->lease, w->hb_err, sizeof(w->hb_err)) < 0)
			fprintf(stderr, "ipw worker: warning: the heartbeat could not renew the lease: %s\n", w->hb_err);
		pthread_mutex_lock(&w->mu);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

static int heartbeat_start(struct worker *w, const char *store, char *err, size_t errlen)
{
	if (store_open(&w->hb_store, store, 0, err, errlen) < 0)
		return -1;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	if (pthread_create(&w->hb, NULL, heartbeat, w)) {
		store_close(&w->hb_store);
		return err_set(err, errlen, "cannot start the heartbeat thread");
	}
	w->hb_on = 1;
	return 0;
}

static void heartbeat_stop(struct worker *w)
{
	if (!w->hb_on)
		return;
	pthread_mutex_lock(&w->mu);
	w->hb_stop = 1;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->hb, NULL);
	store_close(&w->hb_store);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	w->hb_on = 0;
}

/* ---- the runner's queue ---- */

static int q_next(void *arg, char ***ids, size_t *n, char *err, size_t errlen);
static int q_record(void *arg, struct store *st, const char *run_id, const struct query_record *q, char *err,
		    size_t errlen);
static int q_keep(void *arg, struct query_record *q, const struct item *it, char *err, size_t errlen);
static int q_flush(void *arg, struct store *st, const char *run_id, char *err, size_t errlen);

/* The queue claims on a connection of its own (st); results land on the runner's. */
struct qctx {
	struct worker *w;
	struct store *st;
};

/* Claims the next batch; waits while others hold the config's last items; none left: *n = 0. */
static int q_next(void *arg, char ***ids, size_t *n, char *err, size_t errlen)
{
	struct qctx *c = arg;
	struct worker *w = c->w;
	long long left = 0;
	double poll = w->a->poll_s > 0 ? w->a->poll_s : fmin(w->lease.lease_s / 4, 1.0);
	*ids = NULL;
	*n = 0;
	for (;;) {
		if (stop_flag)
			return 0;
		if (study_claim(c->st, w->study.id, w->cfg->name, &w->lease, w->batch, ids, n, &left, err,
				errlen) < 0)
			return -1;
		if (*n || !left)
			return 0;
		free_list(*ids);
		*ids = NULL;
		sleep_s(poll);
	}
}

/* The accelerators of the run's hardware description: "MODEL xN, ..." (caller frees). */
static char *accelerators(const char *hardware_json)
{
	json_t *hw = hardware_json ? json_loads(hardware_json, 0, NULL) : NULL;
	json_t *src = json_object_get(hw, "sources"), *v;
	struct buf b;
	const char *last = NULL;
	char *out;
	int count = 0;
	size_t i;
	buf_init(&b, 0);
	json_array_foreach(src, i, v) {
		const char *scope = json_string_value(json_object_get(v, "scope"));
		const char *model = json_string_value(json_object_get(v, "model"));
		if (!scope || strcmp(scope, "accelerator"))
			continue;
		model = model && *model ? model : "unknown";
		if (last && !strcmp(last, model)) {
			count++;
			continue;
		}
		if (last)
			buf_appendf(&b, "%s%s x%d", b.len ? ", " : "", last, count);
		last = model;
		count = 1;
	}
	if (last)
		buf_appendf(&b, "%s%s x%d", b.len ? ", " : "", last, count);
	json_decref(hw);
	out = buf_detach(&b);
	buf_release(&b);   /* buf_detach leaves a fresh buffer */
	return out;
}

/* The run's accelerators, read once (the row of each committed item records them). */
static int load_hardware(struct worker *w, struct store *st, const char *run_id, char *err, size_t errlen)
{
	struct run_record r;
	if (w->hardware)
		return 0;
	memset(&r, 0, sizeof(r));
	if (store_run_get(st, run_id, &r, err, errlen) < 0) {
		run_record_release(&r);
		return -1;
	}
	w->hardware = accelerators(r.hardware_json);
	run_record_release(&r);
	return 0;
}

static void set_where(const struct worker *w, struct study_where *where)
{
	where->host = w->host;
	where->hardware = w->hardware;
	where->clock_offset_s = w->clock_offset_s;
}

static int q_record(void *arg, struct store *st, const char *run_id, const struct query_record *q, char *err,
		    size_t errlen)
{
	struct qctx *c = arg;
	struct worker *w = c->w;
	struct study_where where;
	int rc;
	if (load_hardware(w, st, run_id, err, errlen) < 0)
		return -1;
	set_where(w, &where);
	rc = study_commit(st, w->study.id, w->cfg->name, &w->lease, &where, run_id, q, err, errlen);
	if (rc == STUDY_ELOST) {
		fprintf(stderr, "ipw worker: %s\n", err);
		w->lost++;
		return 1;
	}
	if (rc == 0)
		w->recorded++;
	return rc < 0 ? -1 : 0;
}

static void kept_release(struct worker *w)
{
	for (size_t i = 0; i < w->nkept; i++) {
		query_record_release(&w->kept[i].q);
		free(w->kept[i].settings);
		free(w->kept[i].reason);
	}
	w->nkept = 0;
}

/* Takes a finished query (with its energy) and its score for the next batched commit; 1: commit now. */
static int q_keep(void *arg, struct query_record *q, const struct item *it, char *err, size_t errlen)
{
	struct qctx *c = arg;
	struct worker *w = c->w;
	struct grade_result res;
	struct kept *k;
	(void)err;
	(void)errlen;
	if (w->nkept == w->capkept) {
		w->capkept = w->capkept ? 2 * w->capkept : 64;
		w->kept = xrealloc(w->kept, w->capkept * sizeof(*w->kept));
	}
	k = &w->kept[w->nkept++];
	memset(k, 0, sizeof(*k));
	k->q = *q;                    /* moved: the runner's copy is left empty */
	memset(q, 0, sizeof(*q));
	k->scored = score_row(&k->q, it, &k->sc, &res, &k->settings);
	if (k->scored) {
		k->reason = xstrdup(res.reason);
		k->sc.reason = k->reason; /* every pointer of sc now outlives res */
	}
	/* a commit names its items in one statement: at most MAX_COMMIT of them (PostgreSQL's parameter limit) */
	return w->nkept >= (size_t)w->commit_every || w->nkept >= MAX_COMMIT;
}

/* Commits the kept items in one transaction; the ones whose lease was lost are dropped and said. */
static int q_flush(void *arg, struct store *st, const char *run_id, char *err, size_t errlen)
{
	struct qctx *c = arg;
	struct worker *w = c->w;
	struct study_where where;
	struct study_result *res;
	int rc;
	if (!w->nkept)
		return 0;
	if (load_hardware(w, st, run_id, err, errlen) < 0) {
		kept_release(w);
		return -1;
	}
	set_where(w, &where);
	res = xcalloc(w->nkept, sizeof(*res));
	for (size_t i = 0; i < w->nkept; i++) {
		res[i].q = &w->kept[i].q;
		res[i].score = w->kept[i].scored ? &w->kept[i].sc : NULL;
	}
	rc = study_commit_batch(st, w->study.id, w->cfg->name, &w->lease, &where, run_id, res, w->nkept, err,
				errlen);
	for (size_t i = 0; rc == 0 && i < w->nkept; i++) {
		if (res[i].status == 0) {
			w->recorded++;
			continue;
		}
		fprintf(stderr, "ipw worker: item '%s' of config '%s' is no longer ours (the lease expired and "
			"another worker took it): dropped\n", w->kept[i].q.item_id, w->cfg->name);
		w->lost++;
	}
	free(res);
	kept_release(w);
	return rc < 0 ? -1 : 0;
}

static void on_message(void *arg, enum runner_level lv, const char *text)
{
	char *clean = secret_scrub(text, strlen(text), NULL);
	(void)arg;
	fprintf(stderr, "ipw worker: %s%s\n", lv == RUNNER_WARN ? "warning: " : "", clean ? clean : text);
	free(clean);
}

/* argv for the second parse: argv[0], the config's recorded options, then the command line's. */
static char **config_argv(const struct study_config *cfg, const char *model, int argc, char **argv, int *nout)
{
	json_t *opts = json_loads(cfg->options_json ? cfg->options_json : "[]", 0, NULL), *v;
	size_t i, n = 0;
	char **out = xcalloc((size_t)argc + json_array_size(opts) + 4, sizeof(char *));
	out[n++] = xstrdup(argv[0]);
	if (model && *model) {
		out[n++] = xstrdup("--model");
		out[n++] = xstrdup(model);
	}
	json_array_foreach(opts, i, v)
		if (json_is_string(v))
			out[n++] = xstrdup(json_string_value(v));
	for (int k = 1; k < argc; k++)
		out[n++] = xstrdup(argv[k]);
	json_decref(opts);
	*nout = (int)n;
	return out;
}

/* Checks the dataset a worker reads is the one the study was made from. */
static int check_dataset(const struct study *st, const struct runner_opts *o, char *err, size_t errlen)
{
	struct dataset ds;
	int rc = dataset_load_format(&ds, o->dataset, o->dataset_format, err, errlen);
	if (rc == 0 && strcmp(ds.sha256, st->dataset_sha256 ? st->dataset_sha256 : ""))
		rc = err_set(err, errlen, "the dataset %s (sha256 %.12s...) is not the study's (%s, sha256 %.12s...): "
			     "give this host's copy of the study's dataset with --dataset", ds.path, ds.sha256,
			     st->dataset_path, st->dataset_sha256);
	if (rc == 0)
		dataset_release(&ds);
	return rc;
}

/* Runs one config of the study on this host until it is done (or the worker stops). */
static int work_config(struct worker *w, struct store *qs, int argc, char **argv, char *err, size_t errlen)
{
	struct worker_args a2;
	struct runner_queue qu;
	struct qctx qc = {w, qs};
	struct runner_hooks h;
	struct runner_report rep;
	struct opt_def *table;
	size_t ntable;
	int n2 = 0, first = 0, rc;
	char **argv2 = config_argv(w->cfg, w->cfg->model, argc, argv, &n2);
	char *name = NULL, *group = NULL;

	memset(&a2, 0, sizeof(a2));
	profile_args_init(&a2.pa);
	table = worker_table(&ntable);
	rc = opt_parse(table, ntable, &a2, n2, argv2, &first, NULL, err, errlen);
	free(table);
	if (rc != OPT_PARSED) {
		char why[IPW_ERRLEN];
		snprintf(why, sizeof(why), "%s", err);
		rc = err_set(err, errlen, "the options of config '%s' with this command line: %s", w->cfg->name, why);
		goto out;
	}
	if (!a2.pa.o.dataset) {
		a2.pa.o.dataset = w->study.dataset_path;
		a2.pa.o.dataset_format = w->study.dataset_format;
	}
	a2.pa.o.limit = w->study.n_items; /* the study queued its dataset's first n_items */
	a2.pa.o.shuffle = 0;
	if ((rc = check_dataset(&w->study, &a2.pa.o, err, errlen)) < 0)
		goto out;
	name = xasprintf("%s/%s@%s", w->study.name, w->cfg->name, w->lease.owner);
	group = xasprintf("study:%s", w->study.name);
	a2.pa.o.name = name;
	a2.pa.o.group = group;
	a2.pa.o.stop = &stop_flag;
	memset(&qu, 0, sizeof(qu));
	qu.arg = &qc;
	qu.next = q_next;
	qu.record = q_record;
	w->commit_every = a2.commit_every > 0 ? a2.commit_every : w->batch;
	if (w->commit_every > 1) {
		qu.keep = q_keep;
		qu.flush = q_flush;
	}
	a2.pa.o.queue = &qu;
	memset(&h, 0, sizeof(h));
	h.message = on_message;
	fprintf(stderr, "ipw worker %s: study %s, config %s (model %s, server %s, accelerator %s)\n", w->lease.owner,
		w->study.name, w->cfg->name, w->cfg->model ? w->cfg->model : "-", w->cfg->server ? w->cfg->server : "-",
		w->cfg->accelerator ? w->cfg->accelerator : "-");
	rc = runner_run(&a2.pa.o, &h, &rep, err, errlen);
	kept_release(w);              /* left by a failed commit: nothing of it was stored */
	if (study_release_lease(qs, w->study.id, &w->lease, w->hb_err, sizeof(w->hb_err)) < 0)
		fprintf(stderr, "ipw worker: warning: could not give back the unfinished items: %s (they are "
			"claimed again when the lease expires)\n", w->hb_err);
	if (rep.run_id[0])
		printf("worker %s: config %s: %lld items recorded in run %s (%lld failed), %lld dropped (lease "
		       "lost)\n", w->lease.owner, w->cfg->name, w->recorded, rep.run_id, rep.failed, w->lost);
	free(w->hardware);
	w->hardware = NULL;
	w->recorded = w->lost = 0;
out:
	free(name);
	free(group);
	for (int i = 0; i < n2; i++)
		free(argv2[i]);
	free(argv2);
	return rc;
}

/* Whether config c of the study has items left (done by no one). */
static int config_left(struct store *st, struct worker *w, const char *c, long long *left, char *err,
		       size_t errlen)
{
	struct study_lease none;
	char **ids = NULL;
	size_t n = 0;
	int rc;
	memset(&none, 0, sizeof(none));
	/* a claim of 0 items claims nothing and counts what is left */
	rc = study_claim(st, w->study.id, c, &none, 0, &ids, &n, left, err, errlen);
	free_list(ids);
	return rc;
}

static int worker_setup(struct worker *w, struct store *st, char *err, size_t errlen)
{
	double before, server, after;
	if (study_supported(st, err, errlen) < 0 || study_get(st, w->a->study, &w->study, err, errlen) < 0)
		return -1;
	gethostname(w->host, sizeof(w->host) - 1);
	if (w->a->worker_id)
		snprintf(w->lease.owner, sizeof(w->lease.owner), "%s", w->a->worker_id);
	else
		snprintf(w->lease.owner, sizeof(w->lease.owner), "%s:%d", w->host, (int)getpid());
	study_lease_token(&w->lease);
	w->lease.lease_s = w->a->lease_s;
	w->batch = w->a->batch > 0 ? w->a->batch : w->study.batch;
	/* the server's clock read between two of ours: the offset to within half the round trip */
	before = clock_wall_s();
	if (study_server_clock(st, &server, err, errlen) < 0)
		return -1;
	after = clock_wall_s();
	w->clock_offset_s = server - (before + after) / 2;
	return 0;
}

int cmd_worker(int argc, char **argv)
{
	struct worker_args a;
	struct worker w;
	struct store st;
	struct opt_def *table;
	size_t ntable;
	char err[IPW_ERRLEN] = "";
	int rc, first = 0, status = 0, opened = 0;

	memset(&a, 0, sizeof(a));
	memset(&w, 0, sizeof(w));
	profile_args_init(&a.pa);
	a.lease_s = 60;
	table = worker_table(&ntable);
	rc = opt_parse(table, ntable, &a, argc, argv, &first, NULL, err, sizeof(err));
	free(table);
	if (rc == OPT_HELP) {
		usage(stdout);
		return 0;
	}
	if (rc == OPT_PARSED && first < argc)
		rc = err_set(err, sizeof(err), "unexpected argument '%s'", argv[first]);
	if (rc == OPT_PARSED && !a.study)
		rc = err_set(err, sizeof(err), "--study NAME is required");
	if (rc != OPT_PARSED) {
		fprintf(stderr, "ipw worker: %s (ipw worker --help lists the options)\n", err);
		return EXIT_USAGE;
	}
	w.a = &a;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	signal(SIGPIPE, SIG_IGN);
	if (store_open(&st, a.pa.o.store, 0, err, sizeof(err)) < 0 || (opened = 1, worker_setup(&w, &st, err,
												 sizeof(err)) < 0)) {
		fprintf(stderr, "ipw worker: %s\n", err);
		status = EXIT_INPUT;
		goto out;
	}
	if (heartbeat_start(&w, a.pa.o.store, err, sizeof(err)) < 0) {
		fprintf(stderr, "ipw worker: %s\n", err);
		status = EXIT_ENV;
		goto out;
	}
	for (int i = 0; i < w.study.nconfigs && !stop_flag && !status; i++) {
		long long left = 0;
		w.cfg = &w.study.configs[i];
		if (a.config && strcmp(a.config, w.cfg->name))
			continue;
		if (config_left(&st, &w, w.cfg->name, &left, err, sizeof(err)) < 0) {
			fprintf(stderr, "ipw worker: %s\n", err);
			status = EXIT_INPUT;
			break;
		}
		if (!left)
			continue;
		if (work_config(&w, &st, argc, argv, err, sizeof(err)) < 0) {
			fprintf(stderr, "ipw worker: %s\n", err);
			status = EXIT_INPUT;
		}
	}
	if (a.config && !status) {
		int found = 0;
		for (int i = 0; i < w.study.nconfigs; i++)
			found |= !strcmp(a.config, w.study.configs[i].name);
		if (!found) {
			fprintf(stderr, "ipw worker: study %s has no config '%s' (ipw study status %s lists them)\n",
				w.study.name, a.config, w.study.name);
			status = EXIT_USAGE;
		}
	}
	if (!status && stop_flag)
		status = EXIT_INTERRUPTED;
out:
	heartbeat_stop(&w);
	kept_release(&w);
	free(w.kept);
	study_release(&w.study);
	if (opened)
		store_close(&st);
	return status;
}
