/* The built-in engine's model: weights from a GGUF file (mmap), the llama-family
 * forward pass (RMSNorm, RoPE normal/NEOX, grouped-query attention, SwiGLU,
 * qwen2 biases, qwen3 q/k norms) over a KV cache, a pthread pool splitting
 * matrix products by rows, and sampling. */
#include "engine/internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* ---- numerics ---- */

float engine_f16_to_f32(uint16_t h)
{
	uint32_t s = (uint32_t)(h >> 15) << 31, ex = (h >> 10) & 0x1f, m = h & 0x3ff, u;
	float f;
	if (ex == 0) {
		f = ldexpf((float)m, -24);
		return s ? -f : f;
	}
	if (ex == 31)
		u = s | 0x7f800000u | (m << 13);
	else
		u = s | ((ex + 112) << 23) | (m << 13);
	memcpy(&f, &u, 4);
	return f;
}

float engine_bf16_to_f32(uint16_t h)
{
	uint32_t u = (uint32_t)h << 16;
	float f;
	memcpy(&f, &u, 4);
	return f;
}

static float f16tab[65536];
static pthread_once_t f16once = PTHREAD_ONCE_INIT;
static void f16init(void)
{
	uint32_t i;
	for (i = 0; i < 65536; i++)
		f16tab[i] = engine_f16_to_f32((uint16_t)i);
}

void engine_dequant_row(uint32_t type, const void *src, float *dst, int n)
{
	const uint8_t *p = src;
	int i, j;
	pthread_once(&f16once, f16init);
	switch (type) {
	case GGML_F32: memcpy(dst, src, (size_t)n * 4); break;
	case GGML_F16:
		for (i = 0; i < n; i++) { uint16_t h; memcpy(&h, p + 2 * i, 2); dst[i] = f16tab[h]; }
		break;
	case GGML_BF16:
		for (i = 0; i < n; i++) { uint16_t h; memcpy(&h, p + 2 * i, 2); dst[i] = engine_bf16_to_f32(h); }
		break;
	case GGML_Q8_0:
		for (i = 0; i < n / 32; i++, p += 34) {
			uint16_t h; memcpy(&h, p, 2);
			float d = f16tab[h];
			for (j = 0; j < 32; j++)
				dst[i * 32 + j] = d * (float)(int8_t)p[2 + j];
		}
		break;
	case GGML_Q4_0:
		for (i = 0; i < n / 32; i++, p += 18) {
			uint16_t h; memcpy(&h, p, 2);
			float d = f16tab[h];
			for (j = 0; j < 16; j++) {
				dst[i * 32 + j] = d * (float)((p[2 + j] & 15) - 8);
				dst[i * 32 + j + 16] = d * (float)((p[2 + j] >> 4) - 8);
			}
		}
		break;
	default: memset(dst, 0, (size_t)n * 4);
	}
}

void engine_rmsnorm(float *out, const float *x, const float *w, int n, float eps)
{
	double ss = 0;
	float sc;
	int i;
	for (i = 0; i < n; i++)
		ss += (double)x[i] * x[i];
	sc = (float)(1.0 / sqrt(ss / n + eps));
	for (i = 0; i < n; i++)
		out[i] = x[i] * sc * (w ? w[i] : 1.0f);
}

void engine_rope(float *v, int head_dim, int n_rot, int pos, float base, int neox)
{
	int i;
	for (i = 0; i < n_rot / 2; i++) {
		float theta = (float)pos * powf(base, -2.0f * (float)i / (float)n_rot);
		float c = cosf(theta), s = sinf(theta);
		int a = neox ? i : 2 * i, b = neox ? i + n_rot / 2 : 2 * i + 1;
		float x0 = v[a], x1 = v[b];
		v[a] = x0 * c - x1 * s;
		v[b] = x0 * s + x1 * c;
	}
	(void)head_dim;
}

void engine_softmax(float *x, int n)
{
	float mx = -INFINITY, sum = 0;
	int i;
	for (i = 0; i < n; i++)
		if (x[i] > mx) mx = x[i];
	for (i = 0; i < n; i++) {
		x[i] = expf(x[i] - mx);
		sum += x[i];
	}
	for (i = 0; i < n; i++)
		x[i] /= sum;
}

/* dot products of one weight row with a float vector, written for auto-vectorisation */
static float dot_f32(const float *w, const float *x, int n)
{
	float acc[8] = { 0 };
	int i, j;
	for (i = 0; i + 8 <= n; i += 8)
		for (j = 0; j < 8; j++)
			acc[j] += w[i + j] * x[i + j];
	for (; i < n; i++)
		acc[0] += w[i] * x[i];
	return acc[0] + acc[1] + acc[2] + acc[3] + acc[4] + acc[5] + acc[6] + acc[7];
}

static float dot_q8(const uint8_t *p, const float *x, int n)
{
	float sum = 0;
	int b, j;
	for (b = 0; b < n / 32; b++, p += 34) {
		uint16_t h;
		float s = 0;
		const int8_t *q = (const int8_t *)(p + 2);
		memcpy(&h, p, 2);
		for (j = 0; j < 32; j++)
			s += (float)q[j] * x[b * 32 + j];
		sum += s * f16tab[h];
	}
	return sum;
}

/* float -> half, round to nearest even (for activations rounded like llama.cpp's) */
static uint16_t f32_to_f16(float f)
{
	uint32_t u, s, m;
	int ex;
	memcpy(&u, &f, 4);
	s = (u >> 16) & 0x8000;
	ex = (int)((u >> 23) & 0xff) - 127 + 15;
	m = u & 0x7fffff;
	if (((u >> 23) & 0xff) == 0xff)
		return (uint16_t)(s | 0x7c00 | (m ? 0x200 : 0));
	if (ex >= 31)
		return (uint16_t)(s | 0x7c00);
	if (ex <= 0) {
		uint32_t sh, r;
		if (ex < -10)
			return (uint16_t)s;
		m |= 0x800000;
		sh = (uint32_t)(14 - ex);
		r = m >> sh;
		if ((m >> (sh - 1)) & 1 && ((m & ((1u << (sh - 1)) - 1)) || (r & 1)))
			r++;
		return (uint16_t)(s | r);
	}
	{
		uint32_t h = s | ((uint32_t)ex << 10) | (m >> 13);
		if ((m & 0x1000) && ((m & 0x2fff)))
			h++;
		return (uint16_t)h;
	}
}

/* Q8_0 activations (as llama.cpp quantizes them for Q8_0 weights): per block of 32 a half scale */
static void quant_q8(const float *x, int8_t *q, float *d, int n)
{
	int b, j;
	for (b = 0; b < n / 32; b++) {
		float amax = 0, id, dd;
		for (j = 0; j < 32; j++)
			if (fabsf(x[b * 32 + j]) > amax)
				amax = fabsf(x[b * 32 + j]);
		dd = amax / 127.0f;
		id = dd ? 1.0f / dd : 0.0f;
		d[b] = f16tab[f32_to_f16(dd)];
		for (j = 0; j < 32; j++)
			q[b * 32 + j] = (int8_t)roundf(x[b * 32 + j] * id);
	}
}

static float dot_q8q8(const uint8_t *p, const int8_t *xq, const float *xd, int n)
{
	float sum = 0;
	int b, j;
	for (b = 0; b < n / 32; b++, p += 34) {
		uint16_t h;
		int s = 0;
		const int8_t *q = (const int8_t *)(p + 2);
		memcpy(&h, p, 2);
		for (j = 0; j < 32; j++)
			s += q[j] * xq[b * 32 + j];
		sum += (float)s * f16tab[h] * xd[b];
	}
	return sum;
}

static float dot_q4q8(const uint8_t *p, const int8_t *xq, const float *xd, int n)
{
	float sum = 0;
	int b, j;
	for (b = 0; b < n / 32; b++, p += 18) {
		uint16_t h;
		int s = 0;
		memcpy(&h, p, 2);
		for (j = 0; j < 16; j++)
			s += ((p[2 + j] & 15) - 8) * xq[b * 32 + j] + ((p[2 + j] >> 4) - 8) * xq[b * 32 + j + 16];
		sum += (float)s * f16tab[h] * xd[b];
	}
	return sum;
}

static float dot_q4(const uint8_t *p, const float *x, int n)
{
	float sum = 0;
	int b, j;
	for (b = 0; b < n / 32; b++, p += 18) {
		uint16_t h;
		float s = 0;
		memcpy(&h, p, 2);
		for (j = 0; j < 16; j++)
			s += (float)((p[2 + j] & 15) - 8) * x[b * 32 + j] + (float)((p[2 + j] >> 4) - 8) * x[b * 32 + j + 16];
		sum += s * f16tab[h];
	}
	return sum;
}

/* ---- thread pool ---- */

typedef void (*job_fn)(void *ctx, int lo, int hi, float *scratch);

struct pool {
	int n;
	pthread_t *th;
	pthread_mutex_t mu;
	pthread_cond_t go, done;
	unsigned gen;
	int pending, quit;
	job_fn fn;
	void *ctx;
	int rows;
	float **scratch;
	int scratch_n;
};

struct worker_arg { struct pool *p; int id; };

static void run_part(struct pool *p, int id)
{
	int chunk = (p->rows + p->n - 1) / p->n, lo = id * chunk, hi = lo + chunk;
	if (hi > p->rows)
		hi = p->rows;
	if (lo < hi)
		p->fn(p->ctx, lo, hi, p->scratch[id]);
}

static void *worker(void *arg)
{
	struct worker_arg *wa = arg;
	struct pool *p = wa->p;
	int id = wa->id;
	unsigned seen = 0;
	free(wa);
	for (;;) {
		pthread_mutex_lock(&p->mu);
		while (p->gen == seen && !p->quit)
			pthread_cond_wait(&p->go, &p->mu);
		if (p->quit) {
			pthread_mutex_unlock(&p->mu);
			return NULL;
		}
		seen = p->gen;
		pthread_mutex_unlock(&p->mu);
		run_part(p, id);
		pthread_mutex_lock(&p->mu);
		if (--p->pending == 0)
			pthread_cond_signal(&p->done);
		pthread_mutex_unlock(&p->mu);
	}
}

static void pool_run(struct pool *p, job_fn fn, void *ctx, int rows)
{
	p->fn = fn;
	p->ctx = ctx;
	p->rows = rows;
	if (p->n > 1) {
		pthread_mutex_lock(&p->mu);
		p->pending = p->n - 1;
		p->gen++;
		pthread_cond_broadcast(&p->go);
		pthread_mutex_unlock(&p->mu);
	}
	run_part(p, 0);
	if (p->n > 1) {
		pthread_mutex_lock(&p->mu);
		while (p->pending)
			pthread_cond_wait(&p->done, &p->mu);
		pthread_mutex_unlock(&p->mu);
	}
}

static void pool_free(struct pool *p)
{
	int i;
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->quit = 1;
	pthread_cond_broadcast(&p->go);
	pthread_mutex_unlock(&p->mu);
	for (i = 1; i < p->n; i++)
		if (p->th[i])
			pthread_join(p->th[i], NULL);
	for (i = 0; i < p->n; i++)
		free(p->scratch[i]);
	free(p->scratch);
	free(p->th);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->go);
	pthread_cond_destroy(&p->done);
	free(p);
}

static struct pool *pool_new(int n, int scratch_n)
{
	struct pool *p = calloc(1, sizeof *p);
	int i;
	if (!p)
		return NULL;
	p->n = n < 1 ? 1 : n;
	p->th = calloc((size_t)p->n, sizeof *p->th);
	p->scratch = calloc((size_t)p->n, sizeof *p->scratch);
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->go, NULL);
	pthread_cond_init(&p->done, NULL);
	if (!p->th || !p->scratch)
		goto fail;
	for (i = 0; i < p->n; i++)
		if (!(p->scratch[i] = malloc((size_t)scratch_n * sizeof(float))))
			goto fail;
	for (i = 1; i < p->n; i++) {
		struct worker_arg *wa = malloc(sizeof *wa);
		if (!wa)
			goto fail;
		wa->p = p;
		wa->id = i;
		if (pthread_create(&p->th[i], NULL, worker, wa)) {
			free(wa);
			p->th[i] = 0;
			goto fail;
		}
	}
	return p;
fail:
	pool_free(p);
	return NULL;
}

/* ---- matrix products: OUT[t][rows] = W . X[t][cols] for T tokens, split over rows ---- */

struct mm { const struct mat *w; const float *x; float *out; int t; const int8_t *xq; const float *xd; };

static void mm_job(void *ctx, int lo, int hi, float *scratch)
{
	struct mm *m = ctx;
	const struct mat *w = m->w;
	int r, t;
	for (r = lo; r < hi; r++) {
		const uint8_t *row = w->data + (uint64_t)r * w->row_bytes;
		const float *fr = (const float *)row;
		if (w->type == GGML_F16 || w->type == GGML_BF16) {
			engine_dequant_row(w->type, row, scratch, w->cols);
			fr = scratch;
		}
		for (t = 0; t < m->t; t++) {
			const float *x = m->x + (size_t)t * w->cols;
			float v;
			if (w->type == GGML_Q8_0 && m->xq)
				v = dot_q8q8(row, m->xq + (size_t)t * w->cols, m->xd + (size_t)t * (w->cols / 32), w->cols);
			else if (w->type == GGML_Q4_0 && m->xq)
				v = dot_q4q8(row, m->xq + (size_t)t * w->cols, m->xd + (size_t)t * (w->cols / 32), w->cols);
			else if (w->type == GGML_Q8_0)
				v = dot_q8(row, x, w->cols);
			else if (w->type == GGML_Q4_0)
				v = dot_q4(row, x, w->cols);
			else
				v = dot_f32(fr, x, w->cols);
			m->out[(size_t)t * w->rows + r] = v;
		}
	}
}

static void matmul(struct engine *e, const struct mat *w, const float *x, float *out, int t)
{
	struct mm m = { w, x, out, t, NULL, NULL };
	int i;
	if ((w->type == GGML_Q8_0 || w->type == GGML_Q4_0) && e->xq) {
		for (i = 0; i < t; i++)
			quant_q8(x + (size_t)i * w->cols, e->xq + (size_t)i * w->cols, e->xd + (size_t)i * (w->cols / 32), w->cols);
		m.xq = e->xq;
		m.xd = e->xd;
	} else if (w->type == GGML_F16 && e->xh) {
		/* llama.cpp multiplies F16 weights with F16-rounded activations */
		for (i = 0; i < t * w->cols; i++)
			e->xh[i] = f16tab[f32_to_f16(x[i])];
		m.x = e->xh;
	} else if (w->type == GGML_BF16 && e->xh) {
		for (i = 0; i < t * w->cols; i++) {
			uint32_t u;
			memcpy(&u, &x[i], 4);
			u = (u + 0x7fff + ((u >> 16) & 1)) & 0xffff0000u;   /* nearest even, as llama.cpp */
			memcpy(&e->xh[i], &u, 4);
		}
		m.x = e->xh;
	}
	pool_run(e->pool, mm_job, &m, w->rows);
}

/* ---- loading ---- */

static int get_u32(struct engine *e, const char *suffix, uint32_t *v, int required, uint32_t dflt,
		   char *err, size_t errlen)
{
	char key[128];
	snprintf(key, sizeof key, "%s.%s", e->info.arch, suffix);
	if (!gguf_find(&e->g, key)) {
		if (required) {
			seterr(err, errlen, "%s: missing metadata '%s'", e->g.name, key);
			return -1;
		}
		*v = dflt;
		return 0;
	}
	return gguf_get_u32(&e->g, key, v, err, errlen);
}

static int get_mat(struct engine *e, const char *name, struct mat *m, int rows, int cols, int required,
		   char *err, size_t errlen)
{
	const struct gguf_tensor *t = gguf_tensor(&e->g, name);
	memset(m, 0, sizeof *m);
	if (!t) {
		if (required)
			seterr(err, errlen, "%s: missing tensor '%s'", e->g.name, name);
		return required ? -1 : 1;
	}
	if ((int64_t)t->ne[0] != cols || (int64_t)t->ne[1] != rows || t->ne[2] != 1 || t->ne[3] != 1) {
		seterr(err, errlen, "%s: tensor '%s' has shape [%llu, %llu], want [%d, %d]", e->g.name, name,
		       (unsigned long long)t->ne[0], (unsigned long long)t->ne[1], cols, rows);
		return -1;
	}
	m->data = t->data;
	m->type = t->type;
	m->rows = rows;
	m->cols = cols;
	m->row_bytes = gguf_row_bytes(t->type, t->ne[0]);
	return 0;
}

static int get_vec(struct engine *e, const char *name, const float **v, int n, int required,
		   char *err, size_t errlen)
{
	const struct gguf_tensor *t = gguf_tensor(&e->g, name);
	*v = NULL;
	if (!t) {
		if (required)
			seterr(err, errlen, "%s: missing tensor '%s'", e->g.name, name);
		return required ? -1 : 0;
	}
	if (t->type != GGML_F32 || (int64_t)t->ne[0] != n || t->n_dims != 1 || ((uintptr_t)t->data & 3)) {
		seterr(err, errlen, "%s: tensor '%s' must be an F32 vector of %d", e->g.name, name, n);
		return -1;
	}
	*v = (const float *)t->data;
	return 0;
}

static int load_layers(struct engine *e, char *err, size_t errlen)
{
	struct engine_info *in = &e->info;
	int i, qd = in->n_head * in->head_dim, kvd = in->n_head_kv * in->head_dim;
	uint32_t nff;
	if (get_u32(e, "feed_forward_length", &nff, 1, 0, err, errlen))
		return -1;
	if (nff == 0 || nff > (1u << 20)) {
		seterr(err, errlen, "%s: bad feed_forward_length %u", e->g.name, nff);
		return -1;
	}
	e->layers = calloc((size_t)in->n_layer, sizeof *e->layers);
	if (!e->layers) {
		seterr(err, errlen, "out of memory");
		return -1;
	}
	for (i = 0; i < in->n_layer; i++) {
		struct layer *l = &e->layers[i];
		char nm[96];
#define T(s) (snprintf(nm, sizeof nm, "blk.%d.%s", i, s), nm)
		if (get_vec(e, T("attn_norm.weight"), &l->attn_norm, in->n_embd, 1, err, errlen) ||
		    get_vec(e, T("ffn_norm.weight"), &l->ffn_norm, in->n_embd, 1, err, errlen) ||
		    get_mat(e, T("attn_q.weight"), &l->wq, qd, in->n_embd, 1, err, errlen) ||
		    get_mat(e, T("attn_k.weight"), &l->wk, kvd, in->n_embd, 1, err, errlen) ||
		    get_mat(e, T("attn_v.weight"), &l->wv, kvd, in->n_embd, 1, err, errlen) ||
		    get_mat(e, T("attn_output.weight"), &l->wo, in->n_embd, qd, 1, err, errlen) ||
		    get_mat(e, T("ffn_gate.weight"), &l->gate, (int)nff, in->n_embd, 1, err, errlen) ||
		    get_mat(e, T("ffn_up.weight"), &l->up, (int)nff, in->n_embd, 1, err, errlen) ||
		    get_mat(e, T("ffn_down.weight"), &l->down, in->n_embd, (int)nff, 1, err, errlen) ||
		    get_vec(e, T("attn_q.bias"), &l->bq, qd, e->arch == 1, err, errlen) ||
		    get_vec(e, T("attn_k.bias"), &l->bk, kvd, e->arch == 1, err, errlen) ||
		    get_vec(e, T("attn_v.bias"), &l->bv, kvd, e->arch == 1, err, errlen) ||
		    get_vec(e, T("attn_q_norm.weight"), &l->q_norm, in->head_dim, e->arch == 2, err, errlen) ||
		    get_vec(e, T("attn_k_norm.weight"), &l->k_norm, in->head_dim, e->arch == 2, err, errlen))
			return -1;
#undef T
	}
	e->batch = 64;
	{
		size_t b = (size_t)e->batch, big = (size_t)(nff > (uint32_t)qd ? nff : (uint32_t)qd);
		if (big < (size_t)in->n_embd)
			big = (size_t)in->n_embd;
		e->x = malloc(b * in->n_embd * 4);
		e->xb = malloc(b * big * 4);
		e->xo = malloc(b * in->n_embd * 4);
		e->q = malloc(b * qd * 4);
		e->k = malloc(b * kvd * 4);
		e->vv = malloc(b * kvd * 4);
		e->hb = malloc(b * nff * 4);
		e->hb2 = malloc(b * nff * 4);
		e->att = malloc((size_t)in->n_ctx * 4 * (size_t)in->n_head);
		e->kc = calloc((size_t)in->n_layer * in->n_ctx * kvd, 4);
		e->vc = calloc((size_t)in->n_layer * in->n_ctx * kvd, 4);
		e->logits = malloc((size_t)in->n_vocab * 4);
		e->xq = malloc(b * big);
		e->xd = malloc(b * (big / 32 + 1) * 4);
		e->xh = malloc(b * big * 4);
		e->pool = pool_new(0, (int)(big > (size_t)in->n_embd ? big : (size_t)in->n_embd));
	}
	return 0;
}

/* the hyperparameters from {arch}.* metadata, checked for plausibility */
static int load_hparams(struct engine *e, const struct engine_opts *o, char *err, size_t errlen)
{
	struct engine_info *in = &e->info;
	uint32_t u;
	char nm[64];

	e->neox = e->arch != 0;
	if (get_u32(e, "embedding_length", &u, 1, 0, err, errlen))
		return -1;
	in->n_embd = (int)u;
	if (get_u32(e, "block_count", &u, 1, 0, err, errlen))
		return -1;
	in->n_layer = (int)u;
	if (get_u32(e, "attention.head_count", &u, 1, 0, err, errlen))
		return -1;
	in->n_head = (int)u;
	if (get_u32(e, "attention.head_count_kv", &u, 0, (uint32_t)in->n_head, err, errlen))
		return -1;
	in->n_head_kv = (int)u;
	if (in->n_embd <= 0 || in->n_embd > 65536 || in->n_layer <= 0 || in->n_layer > 1024 || in->n_head <= 0 ||
	    in->n_head > 1024 || in->n_head_kv <= 0 || in->n_head % in->n_head_kv) {
		seterr(err, errlen, "%s: implausible dimensions (embedding %d, %d layers, %d heads, %d kv heads)",
		       e->g.name, in->n_embd, in->n_layer, in->n_head, in->n_head_kv);
		return -1;
	}
	if (get_u32(e, "attention.key_length", &u, 0, (uint32_t)(in->n_embd / in->n_head), err, errlen))
		return -1;
	in->head_dim = (int)u;
	if (get_u32(e, "rope.dimension_count", &u, 0, (uint32_t)in->head_dim, err, errlen))
		return -1;
	e->n_rot = (int)u;
	if (in->head_dim <= 0 || in->head_dim > 1024 || e->n_rot > in->head_dim || e->n_rot % 2) {
		seterr(err, errlen, "%s: bad head size %d / rope dimensions %d", e->g.name, in->head_dim, e->n_rot);
		return -1;
	}
	if (get_u32(e, "context_length", &u, 0, 4096, err, errlen))
		return -1;
	in->n_ctx = o && o->n_ctx > 0 ? o->n_ctx : (int)(u > 4096 ? 4096 : u);
	if (in->n_ctx <= 0 || in->n_ctx > (1 << 20)) {
		seterr(err, errlen, "%s: bad context length %d", e->g.name, in->n_ctx);
		return -1;
	}
	snprintf(nm, sizeof nm, "%s.attention.layer_norm_rms_epsilon", in->arch);
	if (gguf_get_f32(&e->g, nm, &e->eps, err, errlen))
		return -1;
	snprintf(nm, sizeof nm, "%s.rope.freq_base", in->arch);
	e->rope_base = 10000.0f;
	if (gguf_find(&e->g, nm) && gguf_get_f32(&e->g, nm, &e->rope_base, err, errlen))
		return -1;
	return 0;
}

/* general.architecture: llama, qwen2 or qwen3 */
static int load_arch(struct engine *e, char *err, size_t errlen)
{
	static const char *const names[] = {"llama", "qwen2", "qwen3"};
	struct gguf_str a;

	if (gguf_get_str(&e->g, "general.architecture", &a, err, errlen))
		return -1;
	snprintf(e->info.arch, sizeof e->info.arch, "%.*s", (int)(a.n < 15 ? a.n : 15), a.p);
	for (int i = 0; i < 3; i++) {
		if (a.n == strlen(names[i]) && !memcmp(a.p, names[i], a.n)) {
			e->arch = i;
			return 0;
		}
	}
	seterr(err, errlen, "%s: general.architecture '%.*s' is not supported (llama, qwen2, qwen3)", e->g.name,
	       (int)(a.n > 64 ? 64 : a.n), a.p);
	return -1;
}

/* token_embd.weight, and output.weight or the embeddings tied to it */
static int load_embeddings(struct engine *e, char *err, size_t errlen)
{
	const struct engine_info *in = &e->info;
	const struct gguf_tensor *te = gguf_tensor(&e->g, "token_embd.weight");
	int rc;

	if (!te) {
		seterr(err, errlen, "%s: missing tensor 'token_embd.weight'", e->g.name);
		return -1;
	}
	if ((int64_t)te->ne[0] != in->n_embd || (int64_t)te->ne[1] != in->n_vocab) {
		seterr(err, errlen, "%s: tensor 'token_embd.weight' shape does not match embedding %d x vocabulary %d",
		       e->g.name, in->n_embd, in->n_vocab);
		return -1;
	}
	e->tok_embd = te->data;
	e->tok_embd_type = te->type;
	e->tok_embd_rb = gguf_row_bytes(te->type, te->ne[0]);
	rc = get_mat(e, "output.weight", &e->output, in->n_vocab, in->n_embd, 0, err, errlen);
	if (rc < 0)
		return -1;
	if (rc == 1) {       /* tied embeddings */
		e->output.data = e->tok_embd;
		e->output.type = e->tok_embd_type;
		e->output.rows = in->n_vocab;
		e->output.cols = in->n_embd;
		e->output.row_bytes = e->tok_embd_rb;
	}
	return get_vec(e, "output_norm.weight", &e->out_norm, in->n_embd, 1, err, errlen);
}

/* The thread pool, each thread's scratch as big as the widest row or one head's attention scores. */
static int make_pool(struct engine *e, int nt, char *err, size_t errlen)
{
	const struct engine_info *in = &e->info;
	int big = in->n_embd;
	uint32_t nff = 0;

	get_u32(e, "feed_forward_length", &nff, 0, 0, NULL, 0);
	if ((int)nff > big)
		big = (int)nff;
	if (in->n_head * in->head_dim > big)
		big = in->n_head * in->head_dim;
	if (in->n_ctx > big)
		big = in->n_ctx;
	pool_free(e->pool);
	e->pool = pool_new(nt, big);
	if (!e->pool || !e->x || !e->xb || !e->xo || !e->q || !e->k || !e->vv || !e->hb || !e->hb2 || !e->att ||
	    !e->kc || !e->vc || !e->logits || !e->xq || !e->xd || !e->xh) {
		seterr(err, errlen, "%s: out of memory for buffers and the KV cache (context %d)", e->g.name, in->n_ctx);
		return -1;
	}
	return 0;
}

int engine_load(struct engine **out, const char *path, const struct engine_opts *o, char *err, size_t errlen)
{
	struct engine *e = calloc(1, sizeof *e);
	int rc = -1, nt = o && o->n_threads > 0 ? o->n_threads : 1;

	*out = NULL;
	if (!e) {
		seterr(err, errlen, "out of memory");
		return -1;
	}
	pthread_once(&f16once, f16init);
	if (gguf_open(&e->g, path, err, errlen) || load_arch(e, err, errlen) || load_hparams(e, o, err, errlen) ||
	    vocab_load(e, err, errlen) || load_embeddings(e, err, errlen) || load_layers(e, err, errlen) ||
	    make_pool(e, nt, err, errlen))
		goto out;
	e->rng = 0x853c49e6748fea9bULL;
	rc = 0;
out:
	if (rc)
		engine_free(e);
	else
		*out = e;
	return rc;
}

void engine_free(struct engine *e)
{
	if (!e)
		return;
	pool_free(e->pool);
	vocab_release(&e->v);
	free(e->layers);
	free(e->x); free(e->xb); free(e->xo); free(e->q); free(e->k); free(e->vv);
	free(e->hb); free(e->hb2); free(e->att); free(e->kc); free(e->vc); free(e->logits);
	free(e->xq); free(e->xd); free(e->xh);
	gguf_release(&e->g);
	free(e);
}

void engine_get_info(const struct engine *e, struct engine_info *info)
{
	*info = e->info;
}

int engine_pos(const struct engine *e)
{
	return e->pos;
}

void engine_rewind(struct engine *e, int pos)
{
	if (pos >= 0 && pos < e->pos)
		e->pos = pos;
}

/* ---- forward pass over a batch of T tokens at positions pos..pos+T-1 ---- */

struct attn { struct engine *e; int l, t, pos0; };

static void attn_job(void *ctx, int lo, int hi, float *scratch)
{
	struct attn *a = ctx;
	struct engine *e = a->e;
	const struct engine_info *in = &e->info;
	int hd = in->head_dim, kvd = in->n_head_kv * hd, qd = in->n_head * hd, grp = in->n_head / in->n_head_kv;
	size_t lbase = (size_t)a->l * in->n_ctx * kvd;
	float sc = 1.0f / sqrtf((float)hd);
	int job, p, d;
	for (job = lo; job < hi; job++) {
		int t = job / in->n_head, h = job % in->n_head, kh = h / grp, npos = a->pos0 + t + 1;
		const float *q = e->q + (size_t)t * qd + h * hd;
		float *att = scratch, *o = e->xb + (size_t)t * qd + h * hd;
		for (p = 0; p < npos; p++) {
			const float *k = e->kc + lbase + (size_t)p * kvd + kh * hd;
			att[p] = dot_f32(q, k, hd) * sc;
		}
		engine_softmax(att, npos);
		for (d = 0; d < hd; d++)
			o[d] = 0;
		for (p = 0; p < npos; p++) {
			const float *v = e->vc + lbase + (size_t)p * kvd + kh * hd;
			float w = att[p];
			for (d = 0; d < hd; d++)
				o[d] += w * v[d];
		}
	}
}

static void embed(struct engine *e, int tok, float *x)
{
	engine_dequant_row(e->tok_embd_type, e->tok_embd + (uint64_t)tok * e->tok_embd_rb, x, e->info.n_embd);
}

static void forward(struct engine *e, const int *toks, int T, int want_logits)
{
	const struct engine_info *in = &e->info;
	int D = in->n_embd, hd = in->head_dim, qd = in->n_head * hd, kvd = in->n_head_kv * hd;
	int nff = e->layers[0].gate.rows, t, l, i, h;
	for (t = 0; t < T; t++)
		embed(e, toks[t], e->x + (size_t)t * D);
	for (l = 0; l < in->n_layer; l++) {
		const struct layer *L = &e->layers[l];
		size_t lbase = (size_t)l * in->n_ctx * kvd;
		struct attn a = { e, l, T, e->pos };
		for (t = 0; t < T; t++)
			engine_rmsnorm(e->xo + (size_t)t * D, e->x + (size_t)t * D, L->attn_norm, D, e->eps);
		matmul(e, &L->wq, e->xo, e->q, T);
		matmul(e, &L->wk, e->xo, e->k, T);
		matmul(e, &L->wv, e->xo, e->vv, T);
		for (t = 0; t < T; t++) {
			float *q = e->q + (size_t)t * qd, *k = e->k + (size_t)t * kvd, *v = e->vv + (size_t)t * kvd;
			int pos = e->pos + t;
			if (L->bq) {
				for (i = 0; i < qd; i++) q[i] += L->bq[i];
				for (i = 0; i < kvd; i++) { k[i] += L->bk[i]; v[i] += L->bv[i]; }
			}
			for (h = 0; h < in->n_head; h++) {
				if (L->q_norm)
					engine_rmsnorm(q + h * hd, q + h * hd, L->q_norm, hd, e->eps);
				engine_rope(q + h * hd, hd, e->n_rot, pos, e->rope_base, e->neox);
			}
			for (h = 0; h < in->n_head_kv; h++) {
				if (L->k_norm)
					engine_rmsnorm(k + h * hd, k + h * hd, L->k_norm, hd, e->eps);
				engine_rope(k + h * hd, hd, e->n_rot, pos, e->rope_base, e->neox);
			}
			memcpy(e->kc + lbase + (size_t)pos * kvd, k, (size_t)kvd * 4);
			memcpy(e->vc + lbase + (size_t)pos * kvd, v, (size_t)kvd * 4);
		}
		pool_run(e->pool, attn_job, &a, T * in->n_head);
		matmul(e, &L->wo, e->xb, e->xo, T);
		for (i = 0; i < T * D; i++)
			e->x[i] += e->xo[i];
		for (t = 0; t < T; t++)
			engine_rmsnorm(e->xo + (size_t)t * D, e->x + (size_t)t * D, L->ffn_norm, D, e->eps);
		matmul(e, &L->gate, e->xo, e->hb, T);
		matmul(e, &L->up, e->xo, e->hb2, T);
		for (i = 0; i < T * nff; i++) {
			float g = e->hb[i];
			e->hb[i] = g / (1.0f + expf(-g)) * e->hb2[i];
		}
		matmul(e, &L->down, e->hb, e->xo, T);
		for (i = 0; i < T * D; i++)
			e->x[i] += e->xo[i];
	}
	e->pos += T;
	if (want_logits) {
		engine_rmsnorm(e->xo, e->x + (size_t)(T - 1) * D, e->out_norm, D, e->eps);
		matmul(e, &e->output, e->xo, e->logits, 1);
	}
}

int engine_eval(struct engine *e, const int *toks, int n, const float **logits, char *err, size_t errlen)
{
	int i, done = 0;
	if (n <= 0) {
		seterr(err, errlen, "no tokens to evaluate");
		return -1;
	}
	if (e->pos + n > e->info.n_ctx) {
		seterr(err, errlen, "context full: %d + %d tokens exceed the context of %d", e->pos, n, e->info.n_ctx);
		return -1;
	}
	for (i = 0; i < n; i++)
		if (toks[i] < 0 || toks[i] >= e->info.n_vocab) {
			seterr(err, errlen, "token %d at %d is outside the vocabulary (%d)", toks[i], i, e->info.n_vocab);
			return -1;
		}
	while (done < n) {
		int T = n - done > e->batch ? e->batch : n - done;
		forward(e, toks + done, T, done + T == n);
		done += T;
	}
	if (logits)
		*logits = e->logits;
	return 0;
}

/* ---- sampling ---- */

static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void engine_seed(struct engine *e, uint64_t seed)
{
	e->rng = seed;
}

struct cand { float p; int id; };

static int cand_cmp(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;
	return x->p < y->p ? 1 : x->p > y->p ? -1 : x->id - y->id;
}

int engine_sample(struct engine *e, float *logits, const struct engine_sampling *s)
{
	int n = e->info.n_vocab, i, best = 0, k;
	struct cand *c;
	float sum = 0, cum = 0, r, top;
	for (i = 1; i < n; i++)
		if (logits[i] > logits[best])
			best = i;
	if (!s || s->temperature <= 0 || s->top_k == 1)
		return best;
	c = malloc((size_t)n * sizeof *c);
	if (!c)
		return best;
	for (i = 0; i < n; i++) {
		c[i].p = logits[i];
		c[i].id = i;
	}
	qsort(c, (size_t)n, sizeof *c, cand_cmp);
	k = s->top_k > 0 && s->top_k < n ? s->top_k : n;
	top = c[0].p; /* kept: the loop below overwrites c[0].p first */
	for (i = 0; i < k; i++) {
		c[i].p = expf((c[i].p - top) / s->temperature);
		sum += c[i].p;
	}
	if (s->top_p > 0 && s->top_p < 1) {
		for (i = 0; i < k; i++) {
			cum += c[i].p / sum;
			if (cum >= s->top_p) {
				k = i + 1;
				break;
			}
		}
		for (sum = 0, i = 0; i < k; i++)
			sum += c[i].p;
	}
	r = (float)((rng_next(&e->rng) >> 11) * (1.0 / 9007199254740992.0)) * sum;
	best = c[k - 1].id;
	for (cum = 0, i = 0; i < k; i++) {
		cum += c[i].p;
		if (r < cum) {
			best = c[i].id;
			break;
		}
	}
	free(c);
	return best;
}

double engine_logprob(const struct engine *e, int tok)
{
	const float *l = e->logits;
	int n = e->info.n_vocab, i;
	float mx, sum = 0;

	if (tok < 0 || tok >= n)
		return NAN;
	/* float, max-shifted, summed in vocabulary order: log-softmax as test tools compute it */
	mx = l[0];
	for (i = 1; i < n; i++)
		if (l[i] > mx)
			mx = l[i];
	for (i = 0; i < n; i++)
		sum += expf(l[i] - mx);
	return (double)(l[tok] - mx - logf(sum));
}

static double clock_s(clockid_t cid)
{
	struct timespec ts;
	return clock_gettime(cid, &ts) ? 0 : (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double pool_cpu_seconds(const struct engine *e)
{
	clockid_t cid;
	double t = 0;
	for (int i = 1; e->pool && i < e->pool->n; i++)
		if (e->pool->th[i] && !pthread_getcpuclockid(e->pool->th[i], &cid))
			t += clock_s(cid);
	return t;
}

double engine_cpu_seconds(const struct engine *e)
{
	return clock_s(CLOCK_THREAD_CPUTIME_ID) + pool_cpu_seconds(e);
}

double engine_cpu_seconds_of(const struct engine *e, pthread_t runner)
{
	clockid_t cid;
	return (pthread_getcpuclockid(runner, &cid) ? 0 : clock_s(cid)) + pool_cpu_seconds(e);
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int engine_generate(struct engine *e, const int *prompt, int n_prompt, int max_tokens,
		    const struct engine_sampling *s, engine_token_cb cb, void *ud,
		    struct engine_stats *st, char *err, size_t errlen)
{
	const float *lg;
	double t0 = now_ms(), t1;
	int n = 0, tok;
	char piece[256];
	struct engine_stats dummy;
	if (!st)
		st = &dummy;
	memset(st, 0, sizeof *st);
	if (s)
		engine_seed(e, s->seed);
	if (engine_eval(e, prompt, n_prompt, &lg, err, errlen))
		return -1;
	t1 = now_ms();
	st->n_prompt = n_prompt;
	st->prefill_ms = t1 - t0;
	while (n < max_tokens) {
		int len;
		tok = engine_sample(e, e->logits, s);
		if (tok == e->v.eos || (e->v.eot >= 0 && tok == e->v.eot))
			break;
		n++;
		len = engine_token_piece(e, tok, piece, sizeof piece);
		if (cb && cb(ud, tok, piece, len > 0 ? (size_t)len : 0, now_ms() - t0))
			break;
		if (n == max_tokens || e->pos >= e->info.n_ctx)
			break;
		if (engine_eval(e, &tok, 1, &lg, err, errlen))
			return -1;
	}
	st->n_gen = n;
	st->decode_ms = now_ms() - t1;
	return n;
}
