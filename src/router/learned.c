/*
 * router/learned.c - the learned policy's predictor: hashed word, word-pair
 * and character 3-gram features of a request's text, an L2-regularised
 * logistic regression fitted by seeded SGD, Platt calibration on held-back
 * items, AUC, and the router file (JSON) that records it. docs/router.md.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"
#include "router/router.h"
#include "util.h"

#define ROUTER_FILE_VERSION 1

static uint32_t fnv(uint32_t h, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)p[i];
		h *= 16777619u;
	}
	return h;
}

static void push(uint32_t **idx, size_t *n, size_t *cap, uint32_t h)
{
	if (*n == *cap) {
		*cap = *cap ? 2 * *cap : 64;
		*idx = xrealloc(*idx, *cap * sizeof(**idx));
	}
	(*idx)[(*n)++] = h & (LEARN_DIM - 1);
}

size_t learn_features(const char *text, uint32_t **idx)
{
	size_t n = 0, cap = 0, len = strlen(text), prev_s = 0, prev_n = 0;
	char *low = xmalloc(len + 3);
	char lb[32];
	low[0] = ' ';
	for (size_t i = 0; i < len; i++)
		low[i + 1] = (char)tolower((unsigned char)text[i]);
	low[len + 1] = ' ';
	low[len + 2] = 0;
	*idx = NULL;
	/* words and word pairs */
	for (size_t i = 1; i <= len;) {
		size_t s;
		if (!isalnum((unsigned char)low[i])) {
			if (!isspace((unsigned char)low[i]))
				push(idx, &n, &cap, fnv(fnv(2166136261u, "p:", 2), low + i, 1));
			i++;
			continue;
		}
		s = i;
		while (i <= len && isalnum((unsigned char)low[i]))
			i++;
		push(idx, &n, &cap, fnv(fnv(2166136261u, "w:", 2), low + s, i - s));
		if (prev_n)
			push(idx, &n, &cap, fnv(fnv(fnv(2166136261u, "b:", 2), low + prev_s, prev_n), low + s, i - s));
		prev_s = s;
		prev_n = i - s;
	}
	/* character 3-grams, spaces at both ends */
	for (size_t i = 0; i + 3 <= len + 2; i++)
		push(idx, &n, &cap, fnv(fnv(2166136261u, "c:", 2), low + i, 3));
	/* length in powers of two */
	snprintf(lb, sizeof(lb), "len:%d", (int)log2((double)len + 1));
	push(idx, &n, &cap, fnv(2166136261u, lb, strlen(lb)));
	free(low);
	return n;
}

static double score_of(const struct learn_model *m, const uint32_t *idx, size_t n)
{
	double s = 0, v = n ? 1 / sqrt((double)n) : 0;
	for (size_t i = 0; i < n; i++)
		s += m->w[idx[i]] * v;
	return s + m->bias;
}

static double sigmoid(double z)
{
	return z >= 0 ? 1 / (1 + exp(-z)) : exp(z) / (1 + exp(z));
}

double learn_predict(const struct learn_model *m, const char *text)
{
	uint32_t *idx;
	size_t n = learn_features(text, &idx);
	double s = score_of(m, idx, n);
	free(idx);
	return sigmoid(m->platt_a * s + m->platt_b);
}

void learn_fit(struct learn_model *m, const struct learn_example *ex, size_t n, const struct learn_example *cal,
	       size_t ncal, uint64_t seed)
{
	uint32_t **idx = xcalloc(n ? n : 1, sizeof(*idx));
	size_t *nf = xcalloc(n ? n : 1, sizeof(*nf)), *order = xcalloc(n ? n : 1, sizeof(*order));
	struct rng rg;
	const double l2 = 1e-4;
	double pos = 0;
	rng_seed(&rg, seed);
	memset(m->w, 0, sizeof(m->w));
	for (size_t i = 0; i < n; i++) {
		nf[i] = learn_features(ex[i].text, &idx[i]);
		order[i] = i;
		pos += ex[i].label;
	}
	m->bias = n ? log((pos + 1) / (n - pos + 1)) : 0;
	for (int ep = 0; ep < 30; ep++) {
		double lr = 0.5 / (1 + ep * 0.2);
		for (size_t i = n; i > 1; i--) { /* a seeded shuffle each epoch */
			size_t j = (size_t)rng_below(&rg, i), t = order[i - 1];
			order[i - 1] = order[j];
			order[j] = t;
		}
		for (size_t k = 0; k < n; k++) {
			size_t i = order[k];
			double v = nf[i] ? 1 / sqrt((double)nf[i]) : 0;
			double g = sigmoid(score_of(m, idx[i], nf[i])) - ex[i].label;
			for (size_t f = 0; f < nf[i]; f++)
				m->w[idx[i][f]] -= (float)(lr * (g * v + l2 * m->w[idx[i][f]]));
			m->bias -= lr * g * 0.1;
		}
	}
	/* Platt scaling on the calibration items: p = sigmoid(a * score + b), fitted by Newton steps */
	m->platt_a = 1;
	m->platt_b = 0;
	if (ncal >= 4) {
		double *sc = xcalloc(ncal, sizeof(*sc)), a = 1, b = 0;
		int npos = 0;
		for (size_t i = 0; i < ncal; i++) {
			uint32_t *ci;
			size_t cn = learn_features(cal[i].text, &ci);
			sc[i] = score_of(m, ci, cn);
			npos += cal[i].label;
			free(ci);
		}
		if (npos > 0 && (size_t)npos < ncal) {
			/* Platt's smoothed targets keep the fit finite on separable items */
			double tp = (npos + 1.0) / (npos + 2.0), tn = 1.0 / (ncal - npos + 2.0);
			for (int it = 0; it < 100; it++) {
				double gaa = 1e-9, gab = 0, gbb = 1e-9, ga = 0, gb = 0;
				for (size_t i = 0; i < ncal; i++) {
					double p = sigmoid(a * sc[i] + b), t = cal[i].label ? tp : tn, w = p * (1 - p);
					ga += (p - t) * sc[i];
					gb += p - t;
					gaa += w * sc[i] * sc[i];
					gab += w * sc[i];
					gbb += w;
				}
				{
					double det = gaa * gbb - gab * gab;
					double da = (gbb * ga - gab * gb) / det, db = (gaa * gb - gab * ga) / det;
					if (!isfinite(da) || !isfinite(db))
						break;
					a -= da;
					b -= db;
					if (fabs(da) + fabs(db) < 1e-9)
						break;
				}
			}
			if (isfinite(a) && isfinite(b)) {
				m->platt_a = a;
				m->platt_b = b;
			}
		}
		free(sc);
	}
	for (size_t i = 0; i < n; i++)
		free(idx[i]);
	free(idx);
	free(nf);
	free(order);
}

struct rank {
	double p;
	int y;
};

static int rank_cmp(const void *a, const void *b)
{
	double x = ((const struct rank *)a)->p, y = ((const struct rank *)b)->p;
	return x < y ? -1 : x > y;
}

double learn_auc(const double *p, const int *y, size_t n)
{
	struct rank *v = xcalloc(n ? n : 1, sizeof(*v));
	double npos = 0, nneg = 0, rsum = 0;
	for (size_t i = 0; i < n; i++) {
		v[i].p = p[i];
		v[i].y = y[i];
		npos += y[i];
	}
	nneg = (double)n - npos;
	qsort(v, n, sizeof(*v), rank_cmp);
	for (size_t i = 0; i < n;) { /* midranks for ties */
		size_t j = i;
		while (j < n && v[j].p == v[i].p)
			j++;
		for (size_t k = i; k < j; k++)
			if (v[k].y)
				rsum += (i + j + 1) / 2.0;
		i = j;
	}
	free(v);
	if (npos == 0 || nneg == 0)
		return NAN;
	return (rsum - npos * (npos + 1) / 2) / (npos * nneg);
}

int learn_router_save(const struct learn_router *r, const char *path, char *err, size_t errlen)
{
	json_t *models = json_array(), *root;
	int rc;
	for (size_t k = 0; k < r->nmodels; k++) {
		const struct learn_model *m = &r->models[k];
		json_t *ix = json_array(), *wv = json_array();
		for (uint32_t i = 0; i < LEARN_DIM; i++)
			if (m->w[i] != 0) {
				json_array_append_new(ix, json_integer(i));
				json_array_append_new(wv, json_real(m->w[i]));
			}
		json_array_append_new(models, json_pack("{s:s,s:s,s:f,s:f,s:f,s:o,s:i,s:o,s:o}", "model", m->tier_model,
							"run", m->run_id, "bias", m->bias, "platt_a", m->platt_a,
							"platt_b", m->platt_b, "j_per_token",
							isfinite(m->j_per_token) ? json_real(m->j_per_token) : json_null(),
							"dim_bits", LEARN_DIM_BITS, "index", ix, "weight", wv));
	}
	root = json_pack("{s:s,s:i,s:s,s:f,s:o,s:O?}", "format", "ipw-router", "version", ROUTER_FILE_VERSION,
			 "cloud_run", r->cloud_run, "threshold", r->threshold, "models", models, "report", r->report);
	rc = json_dump_file(root, path, JSON_COMPACT);
	json_decref(root);
	return rc < 0 ? err_set(err, errlen, "cannot write the router file %s", path) : 0;
}

int learn_router_load(struct learn_router *r, const char *path, char *err, size_t errlen)
{
	json_error_t je;
	json_t *root = json_load_file(path, 0, &je), *models, *m;
	size_t k;
	memset(r, 0, sizeof(*r));
	if (!root)
		return err_set(err, errlen, "%s:%d: %s", path, je.line, je.text);
	models = json_object_get(root, "models");
	if (strcmp(json_string_value(json_object_get(root, "format")) ? json_string_value(json_object_get(root, "format"))
									: "", "ipw-router") ||
	    json_integer_value(json_object_get(root, "version")) != ROUTER_FILE_VERSION || !json_is_array(models) ||
	    !json_array_size(models)) {
		json_decref(root);
		return err_set(err, errlen, "%s is not a router file of version %d (ipw route train writes one)", path,
			       ROUTER_FILE_VERSION);
	}
	r->version = ROUTER_FILE_VERSION;
	r->cloud_run = xstrdup(json_string_value(json_object_get(root, "cloud_run")) ?
			       json_string_value(json_object_get(root, "cloud_run")) : "");
	r->threshold = json_number_value(json_object_get(root, "threshold"));
	r->report = json_incref(json_object_get(root, "report"));
	r->nmodels = json_array_size(models);
	r->models = xcalloc(r->nmodels, sizeof(*r->models));
	json_array_foreach(models, k, m) {
		struct learn_model *lm = &r->models[k];
		json_t *ix = json_object_get(m, "index"), *wv = json_object_get(m, "weight");
		if (json_integer_value(json_object_get(m, "dim_bits")) != LEARN_DIM_BITS || !json_is_array(ix) ||
		    !json_is_array(wv) || json_array_size(ix) != json_array_size(wv) ||
		    !json_is_string(json_object_get(m, "model"))) {
			json_decref(root);
			learn_router_release(r);
			return err_set(err, errlen, "%s: models[%zu] is malformed", path, k);
		}
		lm->tier_model = xstrdup(json_string_value(json_object_get(m, "model")));
		lm->run_id = xstrdup(json_string_value(json_object_get(m, "run")) ? json_string_value(json_object_get(m, "run"))
										    : "");
		lm->bias = json_number_value(json_object_get(m, "bias"));
		lm->platt_a = json_number_value(json_object_get(m, "platt_a"));
		lm->platt_b = json_number_value(json_object_get(m, "platt_b"));
		lm->j_per_token = json_is_number(json_object_get(m, "j_per_token"))
					  ? json_number_value(json_object_get(m, "j_per_token")) : NAN;
		for (size_t i = 0; i < json_array_size(ix); i++) {
			json_int_t at = json_integer_value(json_array_get(ix, i));
			if (at >= 0 && at < (json_int_t)LEARN_DIM)
				lm->w[at] = (float)json_number_value(json_array_get(wv, i));
		}
	}
	json_decref(root);
	return 0;
}

void learn_router_release(struct learn_router *r)
{
	for (size_t k = 0; k < r->nmodels; k++) {
		free(r->models[k].tier_model);
		free(r->models[k].run_id);
	}
	free(r->models);
	free(r->cloud_run);
	json_decref(r->report);
	memset(r, 0, sizeof(*r));
}
