/*
 * telemetry.c - the back-end registry, source selection (--devices and each
 * back-end's visible-devices variables), one sampler thread per back-end, the
 * accessors of the opaque session, and window queries over the per-source
 * energy timelines.
 */
#include "telemetry_backend.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"

const struct telemetry_backend *const telemetry_backends[] = {
	&telemetry_nvidia, &telemetry_amd, &telemetry_rapl, &telemetry_apple, &telemetry_cputime, &telemetry_fake, NULL,
};

char *telemetry_sysfs_path(const char *path)
{
	const char *root = getenv("IPW_SYSFS_ROOT");
	if (!root || !*root)
		return xstrdup(path);
	return xasprintf("%s%s", root, path);
}

void source_copy_str(char *dst, size_t n, const char *src)
{
	size_t len = strnlen(src, n - 1);
	memcpy(dst, src, len);
	dst[len] = 0;
}

void source_add_note(struct source_info *s, const char *text)
{
	size_t n = strlen(s->notes);
	snprintf(s->notes + n, sizeof(s->notes) - n, "%s%s", n ? "; " : "", text);
}

void sample_stamp(struct sample *s, int64_t t0, int64_t t1)
{
	s->t_ns = t0 + (t1 - t0) / 2;
	s->read_ns = t1 - t0;
}

const char *source_kind_name(enum source_kind k)
{
	static const char *const names[] = {"gpu", "cpu-package", "cpu-core", "dram", "psys",
					    "soc-cpu", "soc-gpu", "soc-ane", "other"};
	return (unsigned)k <= SOURCE_OTHER ? names[k] : "?";
}

const char *source_scope_name(enum source_scope s)
{
	return s == SCOPE_ACCELERATOR ? "accelerator" : s == SCOPE_HOST ? "host" : "none";
}

const char *power_kind_name(enum power_kind k)
{
	static const char *const names[] = {"none", "instant", "average", "interval"};
	return (unsigned)k <= POWER_INTERVAL ? names[k] : "?";
}

static int name_in_list(const char *name, const char *list)
{
	int n, found = 0;
	char **items = split_list(list, ',', &n);
	for (int i = 0; i < n; i++)
		if (!strcmp(items[i], name))
			found = 1;
	free_list(items);
	return found;
}

static int is_uint(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return 0;
	return 1;
}

/* Does a --devices token name this source (index, UUID or its prefix, PCI bus id)? */
static int token_matches(const char *tok, const struct source_info *s, int ordinal)
{
	size_t n = strlen(tok);
	if (is_uint(tok))
		return atoi(tok) == ordinal;
	if (s->uuid[0] && !strncasecmp(s->uuid, tok, n))
		return 1;
	if (s->pci_bus_id[0]) {
		size_t m = strlen(s->pci_bus_id);
		/* "1B:00.0" matches "00000000:1B:00.0" */
		if (n <= m && !strcasecmp(s->pci_bus_id + m - n, tok))
			return 1;
	}
	return 0;
}

static int cmp_pci(const void *a, const void *b)
{
	const struct source_info *x = *(struct source_info *const *)a;
	const struct source_info *y = *(struct source_info *const *)b;
	return strcasecmp(x->pci_bus_id, y->pci_bus_id);
}

/* The GPU sources of one back-end, in PCI bus order (caller frees); *mixed: not all one model. */
static struct source_info **backend_gpus(struct backend_instance *in, int *ng, int *mixed)
{
	struct source_info **gpus = NULL;
	*ng = *mixed = 0;
	if (!in->present)
		return NULL;
	for (int i = 0; i < in->nsources; i++)
		if (in->sources[i].kind == SOURCE_GPU) {
			gpus = xrealloc(gpus, (size_t)(*ng + 1) * sizeof(*gpus));
			gpus[(*ng)++] = &in->sources[i];
		}
	if (*ng)
		qsort(gpus, (size_t)*ng, sizeof(*gpus), cmp_pci);
	for (int i = 1; i < *ng; i++)
		if (strcmp(gpus[i]->model, gpus[0]->model))
			*mixed = 1;
	return gpus;
}

/* Marks the GPUs one token names; 1 if it named any. */
static int select_token(struct source_info **gpus, int ng, const char *tok)
{
	int hit = 0;
	for (int i = 0; i < ng; i++)
		if (token_matches(tok, gpus[i], i)) {
			gpus[i]->selected = 1;
			hit = 1;
		}
	return hit;
}

/*
 * Marks the GPU sources of one back-end selected by a device list. Integer
 * tokens in a visible-devices variable are the runtime's ordinals: CUDA orders
 * devices fastest first unless CUDA_DEVICE_ORDER=PCI_BUS_ID, NVML by PCI bus
 * id. We map ordinals in PCI bus order, which is what CUDA does when the GPUs
 * are alike, and warn when they are not (docs/telemetry.md, "Which GPUs").
 * hits (--devices, which spans back-ends): set for each token that matched;
 * the caller warns about tokens no back-end matched. Returns the GPUs it has.
 */
static int select_gpus(struct backend_instance *in, const char *list, int from_env, int *hits, char *warn,
		       size_t warnlen)
{
	int ng, n, mixed;
	struct source_info **gpus = backend_gpus(in, &ng, &mixed);
	const char *order = in->ops->device_order_env;
	char **toks;
	if (!ng)
		goto out;
	toks = split_list(list, ',', &n);
	for (int i = 0; i < ng; i++)
		gpus[i]->selected = 0;
	for (int k = 0; k < n; k++) {
		int hit;
		if (from_env && (!strcmp(toks[k], "-1") || !strcasecmp(toks[k], "none")))
			break; /* CUDA stops at the first invalid entry */
		hit = select_token(gpus, ng, toks[k]);
		if (hits && hit)
			hits[k] = 1;
		if (!hits && !hit && !warn[0])
			snprintf(warn, warnlen, "device '%s' matches no %s GPU (have %d)", toks[k], in->ops->name, ng);
		if (from_env && is_uint(toks[k]) && mixed && !warn[0] && !(order && getenv(order)))
			snprintf(warn, warnlen,
				 "GPUs of different models with numeric *_VISIBLE_DEVICES: mapped in PCI bus "
				 "order; %s%s%suse UUIDs to be sure", order ? "set " : "", order ? order : "",
				 order ? "=PCI_BUS_ID or " : "");
	}
	free_list(toks);
out:
	free(gpus);
	return ng;
}

/* The first of a back-end's visible-devices variables that is set, or NULL. */
static const char *visible_devices(const struct telemetry_backend *ops)
{
	for (const char *const *v = ops->visible_devices_env; v && *v; v++) {
		const char *val = getenv(*v);
		if (val)
			return val;
	}
	return NULL;
}

/* --devices: one list across every back-end's GPUs; a token no GPU matches is an error. */
static void select_devices(struct telemetry *t, const char *devices, char *warn, size_t warnlen)
{
	int n, ng = 0;
	char **toks = split_list(devices, ',', &n);
	int *hits = xcalloc((size_t)(n ? n : 1), sizeof(int));
	for (int b = 0; b < t->ninsts; b++)
		ng += select_gpus(&t->insts[b], devices, 0, hits, warn, warnlen);
	for (int k = 0; k < n && ng; k++)
		if (!hits[k] && !warn[0])
			snprintf(warn, warnlen, "device '%s' matches no GPU (have %d)", toks[k], ng);
	free(hits);
	free_list(toks);
}

/* Probes every back-end the selection asks for. */
static void probe_all(struct telemetry *t, const struct telemetry_opts *opts, const struct telemetry_select *sel)
{
	for (int b = 0; b < t->ninsts; b++) {
		struct backend_instance *in = &t->insts[b];
		in->ops = telemetry_backends[b];
		if (sel && sel->backends && !name_in_list(in->ops->name, sel->backends)) {
			snprintf(in->reason, sizeof(in->reason), "not requested (--backends %s)", sel->backends);
			continue;
		}
		if (in->ops->probe(in, opts, in->reason, sizeof(in->reason)) == 0) {
			in->present = 1;
			in->reason[0] = 0;
		} else {
			in->present = 0;
			in->sources = NULL;
			in->nsources = 0;
		}
	}
}

/* Selection: everything present (host sources only with sel->host), then narrowed to the devices. */
static int select_sources(struct telemetry *t, const struct telemetry_select *sel, char *err, size_t errlen)
{
	char warn[IPW_ERRLEN] = "";
	for (int b = 0; b < t->ninsts; b++)
		for (int i = 0; i < t->insts[b].nsources; i++) {
			struct source_info *s = &t->insts[b].sources[i];
			s->selected = s->scope != SCOPE_HOST || !sel || sel->host;
		}
	if (sel && sel->devices) {
		select_devices(t, sel->devices, warn, sizeof(warn));
		if (warn[0])
			return err_set(err, errlen, "--devices %s: %s", sel->devices, warn);
		return 0;
	}
	for (int b = 0; b < t->ninsts; b++) {
		const char *env = visible_devices(t->insts[b].ops);
		if (env)
			select_gpus(&t->insts[b], env, 1, NULL, warn, sizeof(warn));
	}
	if (warn[0])
		snprintf(t->last_error, sizeof(t->last_error), "%s", warn);
	return 0;
}

/* One state (timeline) per selected source. */
static void build_states(struct telemetry *t)
{
	for (int b = 0; b < t->ninsts; b++)
		for (int i = 0; i < t->insts[b].nsources; i++)
			if (t->insts[b].sources[i].selected)
				t->nsrcs++;
	t->srcs = xcalloc((size_t)(t->nsrcs ? t->nsrcs : 1), sizeof(*t->srcs));
	t->nsrcs = 0;
	for (int b = 0; b < t->ninsts; b++)
		for (int i = 0; i < t->insts[b].nsources; i++) {
			struct source_info *s = &t->insts[b].sources[i];
			struct source_state *st;
			enum timeline_mode mode = TL_NONE;
			if (!s->selected)
				continue;
			st = &t->srcs[t->nsrcs++];
			st->info = s;
			st->inst = &t->insts[b];
			if (s->caps & CAP_ENERGY)
				mode = TL_COUNTER;
			else if ((s->caps & CAP_POWER) && s->power_kind == POWER_INSTANT)
				mode = TL_POWER;
			timeline_init(&st->tl, mode, s->energy_wrap_j, s->counter_update_s);
			timeline_set_shape(&st->tl, s->shape_with_power && mode == TL_COUNTER);
			if (isfinite(s->power_lag_s) && s->power_lag_s > 0)
				timeline_set_power_lag(&st->tl, (int64_t)(s->power_lag_s * 1e9));
		}
}

int telemetry_init(struct telemetry *t, const struct telemetry_opts *opts,
		   const struct telemetry_select *sel, char *err, size_t errlen)
{
	int nb = 0;
	memset(t, 0, sizeof(*t));
	pthread_mutex_init(&t->lock, NULL);
	pthread_cond_init(&t->cond, NULL);
	while (telemetry_backends[nb])
		nb++;
	t->insts = xcalloc((size_t)nb, sizeof(*t->insts));
	t->ninsts = nb;
	t->interval_ms = opts ? opts->interval_ms : 0;
	probe_all(t, opts, sel);
	if (select_sources(t, sel, err, errlen) < 0) {
		telemetry_release(t);
		return -1;
	}
	build_states(t);
	return 0;
}

int telemetry_open(struct telemetry **out, const struct telemetry_opts *opts,
		   const struct telemetry_select *sel, char *err, size_t errlen)
{
	struct telemetry *t = xmalloc(sizeof(*t));
	*out = NULL;
	if (telemetry_init(t, opts, sel, err, errlen) < 0) {
		free(t);
		return -1;
	}
	*out = t;
	return 0;
}

void telemetry_close(struct telemetry *t)
{
	if (!t)
		return;
	telemetry_release(t);
	free(t);
}

struct sampler_arg {
	struct telemetry *t;
	struct backend_instance *inst;
};

static void *sampler_main(void *p)
{
	struct sampler_arg *a = p;
	struct telemetry *t = a->t;
	struct backend_instance *in = a->inst;
	struct sample *out = xcalloc((size_t)in->nsources, sizeof(*out));
	int interval_ms = t->interval_ms > 0 ? t->interval_ms : in->ops->default_interval_ms;
	if (in->ops->self_paced)
		interval_ms = 0; /* read() waits for the device's own next sample */
	int64_t next = clock_now_ns();
	char err[IPW_ERRLEN];
	while (!__atomic_load_n(&t->stopping, __ATOMIC_ACQUIRE)) {
		int rc;
		memset(out, 0, (size_t)in->nsources * sizeof(*out));
		err[0] = 0;
		rc = in->ops->read(in, out, err, sizeof(err));
		if (__atomic_load_n(&t->stopping, __ATOMIC_ACQUIRE))
			break;
		pthread_mutex_lock(&t->lock);
		if (rc < 0) {
			t->sampler_errors++;
			snprintf(t->last_error, sizeof(t->last_error), "%s: %.400s", in->ops->name, err);
		}
		for (int s = 0; s < t->nsrcs; s++) {
			struct source_state *st = &t->srcs[s];
			struct sample *sm;
			if (st->inst != in)
				continue;
			sm = &out[st->info - in->sources];
			if (!sm->valid)
				continue;
			timeline_add(&st->tl, sm);
			st->last = *sm;
			st->nsamples++;
			if (t->sink)
				t->sink(t->sink_arg, s, sm);
		}
		pthread_cond_broadcast(&t->cond);
		pthread_mutex_unlock(&t->lock);
		if (interval_ms > 0) {
			int64_t now = clock_now_ns();
			next += (int64_t)interval_ms * NS_PER_MS;
			if (next < now) /* fell behind (a slow read): skip, don't burst */
				next = now;
			clock_sleep_until_ns(next);
		}
	}
	{
		/* what sampling cost, for ipw monitor's report (this thread only: not the caller's work) */
		struct timespec cpu;
		if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu) == 0) {
			pthread_mutex_lock(&t->lock);
			t->sampler_cpu_ns += (int64_t)cpu.tv_sec * NS_PER_S + cpu.tv_nsec;
			pthread_mutex_unlock(&t->lock);
		}
	}
	free(out);
	free(a);
	return NULL;
}

int telemetry_start(struct telemetry *t, sample_sink_fn sink, void *arg, char *err, size_t errlen)
{
	t->sink = sink;
	t->sink_arg = arg;
	t->stopping = 0;
	t->t_start_ns = clock_now_ns();
	t->threads = xcalloc((size_t)t->ninsts, sizeof(*t->threads));
	for (int b = 0; b < t->ninsts; b++) {
		struct backend_instance *in = &t->insts[b];
		int any = 0;
		struct sampler_arg *a;
		if (!in->present)
			continue;
		for (int i = 0; i < in->nsources; i++)
			any |= in->sources[i].selected;
		if (!any)
			continue;
		a = xmalloc(sizeof(*a));
		a->t = t;
		a->inst = in;
		if (pthread_create(&t->threads[t->nthreads], NULL, sampler_main, a)) {
			free(a);
			telemetry_stop(t);
			return err_set(err, errlen, "cannot start sampler thread: %s", strerror(errno));
		}
		t->nthreads++;
	}
	return 0;
}

void telemetry_stop(struct telemetry *t)
{
	__atomic_store_n(&t->stopping, 1, __ATOMIC_RELEASE); /* the samplers read it without the lock */
	for (int b = 0; b < t->ninsts; b++)
		if (t->insts[b].present && t->insts[b].ops->interrupt)
			t->insts[b].ops->interrupt(&t->insts[b]);
	for (int i = 0; i < t->nthreads; i++)
		pthread_join(t->threads[i], NULL);
	t->nthreads = 0;
	free(t->threads);
	t->threads = NULL;
}

void telemetry_release(struct telemetry *t)
{
	if (t->threads)
		telemetry_stop(t);
	for (int s = 0; s < t->nsrcs; s++)
		timeline_release(&t->srcs[s].tl);
	free(t->srcs);
	for (int b = 0; b < t->ninsts; b++)
		if (t->insts[b].present && t->insts[b].ops->release)
			t->insts[b].ops->release(&t->insts[b]);
	free(t->insts);
	pthread_mutex_destroy(&t->lock);
	pthread_cond_destroy(&t->cond);
	memset(t, 0, sizeof(*t));
}

static int covered_locked(struct telemetry *t, int64_t t_ns)
{
	for (int s = 0; s < t->nsrcs; s++) {
		int64_t b;
		if (t->srcs[s].tl.mode == TL_NONE)
			continue;
		if (timeline_settled(&t->srcs[s].tl, &b) < 0 || b < t_ns)
			return 0;
	}
	return 1;
}

int telemetry_wait_covered(struct telemetry *t, int64_t t_ns, int64_t timeout_ns)
{
	int64_t deadline = clock_now_ns() + timeout_ns;
	int ok;
	pthread_mutex_lock(&t->lock);
	while (!(ok = covered_locked(t, t_ns)) && !__atomic_load_n(&t->stopping, __ATOMIC_ACQUIRE) && t->nthreads) {
		struct timespec ts;
		int64_t now = clock_now_ns(), wake;
		if (now >= deadline)
			break;
		/* the condvar uses CLOCK_REALTIME; wake at most every 20 ms and re-check */
		wake = now + 20 * NS_PER_MS < deadline ? 20 * NS_PER_MS : deadline - now;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += (ts.tv_nsec + wake) / NS_PER_S;
		ts.tv_nsec = (ts.tv_nsec + wake) % NS_PER_S;
		pthread_cond_timedwait(&t->cond, &t->lock, &ts);
	}
	if (!ok)
		ok = covered_locked(t, t_ns);
	pthread_mutex_unlock(&t->lock);
	return ok ? 0 : -1;
}

void telemetry_window(struct telemetry *t, int64_t t0, int64_t t1, double *out_j)
{
	pthread_mutex_lock(&t->lock);
	for (int s = 0; s < t->nsrcs; s++)
		if (timeline_energy(&t->srcs[s].tl, t0, t1, &out_j[s]) < 0)
			out_j[s] = NAN;
	pthread_mutex_unlock(&t->lock);
}

void telemetry_mean_power(struct telemetry *t, int64_t t0, int64_t t1, double *out_w)
{
	telemetry_window(t, t0, t1, out_w);
	for (int s = 0; s < t->nsrcs; s++)
		out_w[s] = t1 > t0 ? out_w[s] / ((double)(t1 - t0) / 1e9) : NAN;
}

static double nanmax(double a, double b)
{
	if (isnan(a))
		return b;
	if (isnan(b))
		return a;
	return a > b ? a : b;
}

void telemetry_window_summary(struct telemetry *t, int64_t t0, int64_t t1, struct window_energy *w)
{
	double *e = xcalloc((size_t)(t->nsrcs ? t->nsrcs : 1), sizeof(double));
	double dur = (double)(t1 - t0) / 1e9, mem = NAN;
	int accel_bad = 0, host_bad = 0;
	memset(w, 0, sizeof(*w));
	w->accel_peak_w = w->temp_max_c = w->mem_max_bytes = NAN;
	telemetry_window(t, t0, t1, e);
	pthread_mutex_lock(&t->lock);
	for (int s = 0; s < t->nsrcs; s++) {
		struct source_state *st = &t->srcs[s];
		if (st->info->scope == SCOPE_ACCELERATOR) {
			w->accel_n++;
			if (isnan(e[s]))
				accel_bad = 1;
			else
				w->accel_j += e[s];
			if (st->info->power_kind == POWER_INSTANT || st->info->power_kind == POWER_INTERVAL)
				w->accel_peak_w = nanmax(w->accel_peak_w,
					timeline_field_max(&st->tl, t0, t1, SAMPLE_POWER));
			w->temp_max_c = nanmax(w->temp_max_c, timeline_field_max(&st->tl, t0, t1, SAMPLE_TEMP));
			{
				double m = timeline_field_max(&st->tl, t0, t1, SAMPLE_MEM_USED);
				if (!isnan(m))
					mem = isnan(mem) ? m : mem + m;
			}
		} else if (st->info->scope == SCOPE_HOST) {
			w->host_n++;
			if (isnan(e[s]))
				host_bad = 1;
			else
				w->host_j += e[s];
		}
	}
	pthread_mutex_unlock(&t->lock);
	w->mem_max_bytes = mem;
	if (!w->accel_n || accel_bad)
		w->accel_j = NAN;
	if (!w->host_n || host_bad)
		w->host_j = NAN;
	if (isnan(w->accel_j) && isnan(w->host_j))
		w->total_j = NAN;
	else
		w->total_j = (isnan(w->accel_j) ? 0 : w->accel_j) + (isnan(w->host_j) ? 0 : w->host_j);
	w->accel_mean_w = dur > 0 ? w->accel_j / dur : NAN;
	free(e);
}

/* ---- accessors ---- */

int telemetry_nsources(const struct telemetry *t)
{
	return t->nsrcs;
}

const struct source_info *telemetry_source(const struct telemetry *t, int s)
{
	return s >= 0 && s < t->nsrcs ? t->srcs[s].info : NULL;
}

int telemetry_nbackends(const struct telemetry *t)
{
	return t->ninsts;
}

const char *telemetry_backend_name(const struct telemetry *t, int b)
{
	return t->insts[b].ops->name;
}

int telemetry_backend_present(const struct telemetry *t, int b)
{
	return t->insts[b].present;
}

const char *telemetry_backend_reason(const struct telemetry *t, int b)
{
	return t->insts[b].reason;
}

const char *telemetry_backend_description(const struct telemetry *t, int b)
{
	return t->insts[b].ops->description;
}

const struct source_info *telemetry_backend_sources(const struct telemetry *t, int b, int *n)
{
	*n = t->insts[b].nsources;
	return t->insts[b].sources;
}

void telemetry_last_error(struct telemetry *t, char *out, size_t n)
{
	pthread_mutex_lock(&t->lock);
	snprintf(out, n, "%s", t->last_error);
	pthread_mutex_unlock(&t->lock);
}

uint64_t telemetry_sampler_errors(struct telemetry *t)
{
	uint64_t n;
	pthread_mutex_lock(&t->lock);
	n = t->sampler_errors;
	pthread_mutex_unlock(&t->lock);
	return n;
}

double telemetry_sampler_cpu_s(struct telemetry *t)
{
	int64_t ns;
	pthread_mutex_lock(&t->lock);
	ns = t->sampler_cpu_ns;
	pthread_mutex_unlock(&t->lock);
	return (double)ns / 1e9;
}

int64_t telemetry_started_ns(const struct telemetry *t)
{
	return t->t_start_ns;
}

uint64_t telemetry_source_nsamples(struct telemetry *t, int s)
{
	uint64_t n;
	pthread_mutex_lock(&t->lock);
	n = t->srcs[s].nsamples;
	pthread_mutex_unlock(&t->lock);
	return n;
}

void telemetry_samples(struct telemetry *t, size_t *cursor, telemetry_sample_fn fn, void *arg)
{
	pthread_mutex_lock(&t->lock);
	for (int s = 0; s < t->nsrcs; s++) {
		const struct timeline *tl = &t->srcs[s].tl;
		for (size_t i = cursor ? cursor[s] : 0; i < tl->n; i++)
			fn(arg, s, &tl->samples[i]);
		if (cursor)
			cursor[s] = tl->n;
	}
	pthread_mutex_unlock(&t->lock);
}

int telemetry_with_timeline(struct telemetry *t, int s, telemetry_timeline_fn fn, void *arg)
{
	int rc;
	pthread_mutex_lock(&t->lock);
	rc = fn(arg, &t->srcs[s].tl);
	pthread_mutex_unlock(&t->lock);
	return rc;
}

int telemetry_source_energy(struct telemetry *t, int s, int64_t t0, int64_t t1, double *e)
{
	int rc;
	pthread_mutex_lock(&t->lock);
	rc = timeline_energy(&t->srcs[s].tl, t0, t1, e);
	pthread_mutex_unlock(&t->lock);
	return rc;
}

int telemetry_source_span(struct telemetry *t, int s, int64_t *a, int64_t *b)
{
	int rc;
	pthread_mutex_lock(&t->lock);
	rc = timeline_span(&t->srcs[s].tl, a, b);
	pthread_mutex_unlock(&t->lock);
	return rc;
}

double telemetry_source_field_max(struct telemetry *t, int s, int64_t t0, int64_t t1, unsigned field)
{
	double v;
	pthread_mutex_lock(&t->lock);
	v = timeline_field_max(&t->srcs[s].tl, t0, t1, field);
	pthread_mutex_unlock(&t->lock);
	return v;
}

double telemetry_scope_sum(const struct telemetry *t, enum source_scope scope, const double *v, int strict,
			   int *n)
{
	double sum = 0;
	int k = 0, bad = 0;
	for (int s = 0; s < t->nsrcs; s++) {
		if (t->srcs[s].info->scope != scope)
			continue;
		if (isnan(v[s])) {
			bad = 1;
			if (!strict)
				continue;
		} else {
			sum += v[s];
		}
		k++;
	}
	if (n)
		*n = k;
	return !k || (strict && bad) ? NAN : sum;
}

const char *telemetry_registry_name(size_t i)
{
	for (size_t k = 0; telemetry_backends[k]; k++)
		if (k == i)
			return telemetry_backends[k]->name;
	return NULL;
}
