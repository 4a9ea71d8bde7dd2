/*
 * analysis/meta.c - the model metadata file (meta.h) read through jansson,
 * and the compute of one run: FLOPs from active and total parameters, FLOPs
 * per joule, MFU and MBU against the accelerator's peaks.
 */
#include "analysis/paper.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "kv.h"
#include "util.h"

static const struct kv_spec count_spec = {1, {NULL, NULL}, 1, 0, 0, "count", "", "a count"};

void meta_release(struct meta_file *f)
{
	for (size_t i = 0; f->m && i < f->nm; i++) {
		free(f->m[i].key);
		free(f->m[i].family);
		free(f->m[i].released);
		free(f->m[i].quant);
	}
	for (size_t i = 0; f->a && i < f->na; i++)
		free(f->a[i].key);
	free(f->m);
	free(f->a);
	free(f->path);
	memset(f, 0, sizeof(*f));
}

/* A number >= 0, or a string like "8B" / "989T"; 0 or -1. */
static int jcount(json_t *v, double *out)
{
	if (json_is_number(v)) {
		*out = json_number_value(v);
		return isfinite(*out) && *out >= 0 ? 0 : -1;
	}
	if (json_is_string(v))
		return kv_number(&count_spec, json_string_value(v), out);
	return -1;
}

/* "2025", "2025-04" or "2025-04-29" into y, m, d (0 where absent); 0 or -1. */
static int parse_date(const char *s, int *y, int *m, int *d)
{
	int n = 0, k;
	*y = *m = *d = 0;
	k = sscanf(s, "%4d%n-%2d%n-%2d%n", y, &n, m, &n, d, &n);
	if (k < 1 || s[n] || *y < 1900 || *y > 2200 || (k >= 2 && (*m < 1 || *m > 12)) || (k == 3 && (*d < 1 || *d > 31)))
		return -1;
	return 0;
}

double meta_quant_bits(const char *q)
{
	static const struct {
		const char *name;
		double bits;
	} t[] = {
		{"f32", 32}, {"fp32", 32}, {"float32", 32}, {"f16", 16}, {"fp16", 16}, {"float16", 16}, {"bf16", 16},
		{"bfloat16", 16}, {"fp8", 8}, {"int8", 8}, {"w8a8", 8}, {"q8_0", 8.5}, {"q6_k", 6.5625}, {"q5_k_m", 5.5},
		{"q4_k_m", 4.5}, {"q4_0", 4.5}, {"mxfp4", 4.25}, {"int4", 4}, {"awq", 4}, {"gptq", 4},
	};
	for (size_t i = 0; q && i < sizeof(t) / sizeof(t[0]); i++)
		if (!strcasecmp(q, t[i].name))
			return t[i].bits;
	return NAN;
}

static int model_entry(const char *path, const char *key, json_t *v, struct model_meta *m, char *err, size_t errlen)
{
	const char *name;
	json_t *x;

	memset(m, 0, sizeof(*m));
	m->key = xstrdup(key);
	m->total_params = m->active_params = m->bits_per_weight = NAN;
	if (!json_is_object(v))
		return err_set(err, errlen, "%s: model '%s' is not an object like {\"total_params\": \"8B\"}", path, key);
	json_object_foreach(v, name, x) {
		int bad = 0;
		if (!strcmp(name, "family") || !strcmp(name, "quantization") || !strcmp(name, "released")) {
			if (!json_is_string(x))
				return err_set(err, errlen, "%s: model '%s': '%s' is not a string", path, key, name);
			if (!strcmp(name, "family"))
				m->family = xstrdup(json_string_value(x));
			else if (!strcmp(name, "quantization"))
				m->quant = xstrdup(json_string_value(x));
			else {
				m->released = xstrdup(json_string_value(x));
				if (parse_date(m->released, &m->rel_year, &m->rel_month, &m->rel_day) < 0)
					return err_set(err, errlen, "%s: model '%s': released '%s' is not YYYY, YYYY-MM "
						       "or YYYY-MM-DD", path, key, m->released);
			}
		} else if (!strcmp(name, "total_params"))
			bad = jcount(x, &m->total_params);
		else if (!strcmp(name, "active_params"))
			bad = jcount(x, &m->active_params);
		else if (!strcmp(name, "bits_per_weight"))
			bad = jcount(x, &m->bits_per_weight);
		else
			return err_set(err, errlen, "%s: model '%s': unknown member '%s' (family, released, total_params, "
				       "active_params, quantization, bits_per_weight)", path, key, name);
		if (bad)
			return err_set(err, errlen, "%s: model '%s': '%s' is not a number >= 0 or a count like \"8B\"",
				       path, key, name);
	}
	if (isnan(m->active_params))   /* a dense model: every parameter is active */
		m->active_params = m->total_params;
	if (isfinite(m->active_params) && isfinite(m->total_params) && m->active_params > m->total_params)
		return err_set(err, errlen, "%s: model '%s': active_params %g exceeds total_params %g", path, key,
			       m->active_params, m->total_params);
	if (isnan(m->bits_per_weight))
		m->bits_per_weight = meta_quant_bits(m->quant);
	return 0;
}

static int accel_entry(const char *path, const char *key, json_t *v, struct accel_meta *a, char *err, size_t errlen)
{
	const char *name;
	json_t *x;

	memset(a, 0, sizeof(*a));
	a->key = xstrdup(key);
	a->peak_flops = a->peak_bw = NAN;
	a->local = -1;
	if (!json_is_object(v))
		return err_set(err, errlen, "%s: accelerator '%s' is not an object like {\"peak_flops\": \"989T\"}",
			       path, key);
	json_object_foreach(v, name, x) {
		if (!strcmp(name, "peak_flops") || !strcmp(name, "peak_bandwidth")) {
			if (jcount(x, !strcmp(name, "peak_flops") ? &a->peak_flops : &a->peak_bw) < 0)
				return err_set(err, errlen, "%s: accelerator '%s': '%s' is not a number >= 0 or a "
					       "count like \"989T\"", path, key, name);
		} else if (!strcmp(name, "class")) {
			const char *c = json_string_value(x);
			if (!c || (strcmp(c, "local") && strcmp(c, "cloud")))
				return err_set(err, errlen, "%s: accelerator '%s': class is \"local\" or \"cloud\"", path,
					       key);
			a->local = !strcmp(c, "local");
		} else
			return err_set(err, errlen, "%s: accelerator '%s': unknown member '%s' (peak_flops, "
				       "peak_bandwidth, class)", path, key, name);
	}
	return 0;
}

static int meta_parse(const char *path, json_t *root, json_error_t *jerr, struct meta_file *f, char *err,
		      size_t errlen);

int meta_read(const char *path, struct meta_file *f, char *err, size_t errlen)
{
	json_error_t je;
	return meta_parse(path, json_load_file(path, 0, &je), &je, f, err, errlen);
}

int meta_read_mem(const char *name, const char *data, size_t len, struct meta_file *f, char *err, size_t errlen)
{
	json_error_t je;
	return meta_parse(name, json_loadb(data, len, 0, &je), &je, f, err, errlen);
}

/* Reads root (NULL: jerr says why; stolen) into f. */
static int meta_parse(const char *path, json_t *root, json_error_t *jerr, struct meta_file *f, char *err,
		      size_t errlen)
{
	json_t *models, *accels, *v;
	const char *key;
	int rc = -1;

	memset(f, 0, sizeof(*f));
	f->path = xstrdup(path);
	if (!root) {
		err_set(err, errlen, "%s:%d: %s (a model metadata file is a JSON object {\"models\": {...}, "
			"\"accelerators\": {...}})", path, jerr->line, jerr->text);
		goto out;
	}
	if (!json_is_object(root)) {
		err_set(err, errlen, "%s: not a JSON object {\"models\": {...}, \"accelerators\": {...}}", path);
		goto out;
	}
	json_object_foreach(root, key, v)
		if (strcmp(key, "models") && strcmp(key, "accelerators") && strcmp(key, "comment") && strcmp(key, "source")) {
			err_set(err, errlen, "%s: unknown member '%s' (models, accelerators, comment, source)", path, key);
			goto out;
		}
	models = json_object_get(root, "models");
	accels = json_object_get(root, "accelerators");
	if ((models && !json_is_object(models)) || (accels && !json_is_object(accels))) {
		err_set(err, errlen, "%s: 'models' and 'accelerators' are objects keyed by name", path);
		goto out;
	}
	f->m = xcalloc(json_object_size(models) + 1, sizeof(*f->m));
	f->a = xcalloc(json_object_size(accels) + 1, sizeof(*f->a));
	json_object_foreach(models, key, v) {
		int r = model_entry(path, key, v, &f->m[f->nm], err, errlen);
		f->nm++;
		if (r < 0)
			goto out;
	}
	json_object_foreach(accels, key, v) {
		int r = accel_entry(path, key, v, &f->a[f->na], err, errlen);
		f->na++;
		if (r < 0)
			goto out;
	}
	rc = 0;
out:
	json_decref(root);
	if (rc < 0)
		meta_release(f);
	return rc;
}

const struct model_meta *meta_model_of(const struct meta_file *f, const struct run_record *r)
{
	const char *keys[] = {r->id, r->name, r->model, r->server_model};
	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
		for (size_t i = 0; keys[k] && i < f->nm; i++)
			if (!strcmp(f->m[i].key, keys[k]))
				return &f->m[i];
	return NULL;
}

const char *meta_run_accelerator(const struct run_record *r, int *count)
{
	const char *name = NULL;
	*count = 0;
	for (int i = 0; i < r->nsources; i++) {
		const struct run_source *s = &r->sources[i];
		const char *n = s->model && *s->model ? s->model : s->name;
		if (!s->scope || strcmp(s->scope, "accelerator") || !n)
			continue;
		if (name && strcmp(name, n))
			return *count = 0, NULL;
		name = n;
		(*count)++;
	}
	return name;
}

const struct accel_meta *meta_accel_find(const struct meta_file *f, const char *name)
{
	for (size_t i = 0; name && i < f->na; i++)
		if (!strcmp(f->a[i].key, name))
			return &f->a[i];
	return NULL;
}

/* ---- compute ---- */

static double ratio(double a, double b)
{
	return isfinite(a) && isfinite(b) && b > 0 ? a / b : NAN;
}

void analysis_compute(const struct run_data *d, double active, double total, double bits, double peak_flops,
		      double peak_bw, struct run_compute *out)
{
	double *t0 = xcalloc(d->n + 1, sizeof(double)), *t1 = xcalloc(d->n + 1, sizeof(double));
	size_t nb = 0;

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < d->n; i++) {
		double tok, e = d->energy_j[i];
		if (d->failed[i])
			continue;
		out->n_queries++;
		t0[nb] = d->t_send_s[i];
		t1[nb++] = d->t_end_s[i];
		if (!(d->prompt_tokens[i] >= 0 && d->output_tokens[i] >= 0))
			continue;
		tok = d->prompt_tokens[i] + d->output_tokens[i];
		out->n_tokens++;
		out->tokens += tok;
		out->output_tokens += d->output_tokens[i];
		if (isfinite(d->latency_s[i]) && isfinite(d->ttft_s[i]) && d->latency_s[i] >= d->ttft_s[i])
			out->decode_s += d->latency_s[i] - d->ttft_s[i];
		if (isfinite(e) && e >= 0) {
			out->energy_j += e;
			out->flops_active_energy += 2 * active * tok;
		}
	}
	out->busy_s = metrics_busy_seconds(t0, t1, nb);
	free(t0);
	free(t1);
	out->flops_active = out->n_tokens ? 2 * active * out->tokens : NAN;
	out->flops_total = out->n_tokens ? 2 * total * out->tokens : NAN;
	if (!(out->energy_j > 0))
		out->energy_j = out->flops_active_energy = NAN;
	out->flops_per_j = ratio(out->flops_active_energy, out->energy_j);
	out->flops_per_s = ratio(out->flops_active, out->busy_s);
	out->peak_flops = peak_flops;
	out->mfu = ratio(out->flops_per_s, peak_flops);
	out->bytes_per_token = active * bits / 8;
	if (!(out->decode_s > 0))
		out->decode_s = NAN;
	out->bytes_per_s = ratio(out->bytes_per_token * out->output_tokens, out->decode_s);
	out->peak_bw = peak_bw;
	out->mbu = ratio(out->bytes_per_s, peak_bw);
}

int analysis_device_power(struct store *s, const char *run_id, struct device_power *out, char *err, size_t errlen)
{
	struct run_data d;
	struct metrics_input in;

	/* what metrics_device_power reads: scores, energy, latency, the send and end times */
	if (run_data_load_fields(s, run_id, STORE_ITEM_ENERGY | STORE_ITEM_LATENCY | STORE_ITEM_WINDOW, &d, err,
				 errlen) < 0)
		return -1;
	run_data_metrics_input(&d, &in);
	metrics_device_power(&in, d.t_send_s, d.t_end_s, out);
	run_data_release(&d);
	return 0;
}
