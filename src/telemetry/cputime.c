/*
 * telemetry/cputime.c - the "cputime" back-end: where the built-in engine runs
 * in this process (--api builtin), one source "cputime:engine" whose energy
 * counter is an estimate, the engine's CPU seconds times a stated power per
 * busy core (--cpu-watts-per-core, default CPUTIME_DEFAULT_WATTS_PER_CORE).
 * Absent when no engine is registered. Recorded as backend "cputime" so every
 * reader can tell the run's energy is estimated (src/estimate.h).
 */
#include "cputime.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "../clock.h"
#include "../telemetry_backend.h"

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static cputime_fn reg_fn;
static void *reg_arg;

void cputime_register(cputime_fn fn, void *arg)
{
	pthread_mutex_lock(&reg_mu);
	reg_fn = fn;
	reg_arg = arg;
	pthread_mutex_unlock(&reg_mu);
}

void cputime_unregister(void *arg)
{
	pthread_mutex_lock(&reg_mu);
	if (reg_arg == arg) {
		reg_fn = NULL;
		reg_arg = NULL;
	}
	pthread_mutex_unlock(&reg_mu);
}

struct cputime_priv {
	double watts;     /* per busy core */
	double base_s;    /* the engine's CPU seconds at probe */
	double last_j;    /* the counter never goes back (an engine replaced mid-run) */
};

static int probe(struct backend_instance *inst, const struct telemetry_opts *opts, char *err, size_t errlen)
{
	struct cputime_priv *p;
	struct source_info *s;
	double w = opts && opts->cpu_watts_per_core > 0 ? opts->cpu_watts_per_core : CPUTIME_DEFAULT_WATTS_PER_CORE;
	char note[160];
	int have;

	pthread_mutex_lock(&reg_mu);
	have = reg_fn != NULL;
	pthread_mutex_unlock(&reg_mu);
	if (!have)
		return err_set(err, errlen, "no built-in engine runs in this process (only --api builtin is estimated)");
	p = xcalloc(1, sizeof *p);
	s = xcalloc(1, sizeof *s);
	p->watts = w;
	pthread_mutex_lock(&reg_mu);
	p->base_s = reg_fn ? reg_fn(reg_arg) : 0;
	pthread_mutex_unlock(&reg_mu);
	source_copy_str(s->name, sizeof s->name, "cputime:engine");
	source_copy_str(s->backend, sizeof s->backend, CPUTIME_BACKEND);
	s->kind = SOURCE_OTHER;
	s->scope = SCOPE_ACCELERATOR;   /* the engine's CPU cores are its accelerator */
	s->caps = CAP_ENERGY;
	s->power_kind = POWER_NONE;
	snprintf(s->model, sizeof s->model, "estimate: engine CPU time x %.3g W per core", w);
	s->power_limit_w = NAN;
	s->mem_total_bytes = NAN;
	s->counter_update_s = 0;        /* exact at the read: derived here */
	snprintf(note, sizeof note, "estimated, not measured: the engine's CPU seconds x %.3g W per busy core "
		 "(--cpu-watts-per-core)", w);
	source_add_note(s, note);
	inst->sources = s;
	inst->nsources = 1;
	inst->priv = p;
	return 0;
}

static int sample_read(struct backend_instance *inst, struct sample *out, char *err, size_t errlen)
{
	struct cputime_priv *p = inst->priv;
	int64_t t0 = clock_now_ns(), t1;
	double cpu = NAN, j;

	if (!inst->sources[0].selected)
		return 0;
	pthread_mutex_lock(&reg_mu);
	if (reg_fn)
		cpu = reg_fn(reg_arg);
	pthread_mutex_unlock(&reg_mu);
	t1 = clock_now_ns();
	j = isnan(cpu) ? p->last_j : (cpu - p->base_s) * p->watts;
	/* timelines add a knot only where a counter moves: a 1 pJ tick per read keeps them
	 * coming while the engine idles (coverage waits need them), far below any reading */
	if (j <= p->last_j)
		j = p->last_j + 1e-12;
	p->last_j = j;
	sample_stamp(&out[0], t0, t1);
	out[0].energy_j = j;
	out[0].energy_t_ns = t1;
	out[0].valid = SAMPLE_ENERGY;
	return 0;
}

static void release(struct backend_instance *inst)
{
	free(inst->priv);
	free(inst->sources);
	inst->priv = NULL;
	inst->sources = NULL;
	inst->nsources = 0;
}

const struct telemetry_backend telemetry_cputime = {
	.name = CPUTIME_BACKEND,
	.description = "estimated energy of the built-in engine: its CPU time x watts per busy core",
	.default_interval_ms = 10,
	.probe = probe,
	.read = sample_read,
	.release = release,
};
