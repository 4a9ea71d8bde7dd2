/* A small GGUF writer for the engine's unit tests (header-only, test code):
 * builds a file in memory from key/values and F32 tensors, writes it out. */
#ifndef TEST_ENGINE_GGUF_H
#define TEST_ENGINE_GGUF_H
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tg_buf { uint8_t *p; size_t n, cap; };
struct tg_file { struct tg_buf kv, ti, data; uint64_t n_kv, n_t; };

static inline void tg_put(struct tg_buf *b, const void *p, size_t n)
{
	if (b->n + n > b->cap) {
		b->cap = (b->n + n) * 2 + 64;
		b->p = realloc(b->p, b->cap);
	}
	memcpy(b->p + b->n, p, n);
	b->n += n;
}
static inline void tg_u32(struct tg_buf *b, uint32_t v) { tg_put(b, &v, 4); }
static inline void tg_u64(struct tg_buf *b, uint64_t v) { tg_put(b, &v, 8); }
static inline void tg_s(struct tg_buf *b, const char *s) { tg_u64(b, strlen(s)); tg_put(b, s, strlen(s)); }
static inline void tg_init(struct tg_file *f) { memset(f, 0, sizeof *f); }
static inline void tg_release(struct tg_file *f) { free(f->kv.p); free(f->ti.p); free(f->data.p); }
static inline void tg_kv_u32(struct tg_file *f, const char *k, uint32_t v) { tg_s(&f->kv, k); tg_u32(&f->kv, 4); tg_u32(&f->kv, v); f->n_kv++; }
static inline void tg_kv_f32(struct tg_file *f, const char *k, float v) { tg_s(&f->kv, k); tg_u32(&f->kv, 6); tg_put(&f->kv, &v, 4); f->n_kv++; }
static inline void tg_kv_str(struct tg_file *f, const char *k, const char *v) { tg_s(&f->kv, k); tg_u32(&f->kv, 8); tg_s(&f->kv, v); f->n_kv++; }
static inline void tg_kv_strarr(struct tg_file *f, const char *k, const char *const *v, int n)
{
	tg_s(&f->kv, k); tg_u32(&f->kv, 9); tg_u32(&f->kv, 8); tg_u64(&f->kv, (uint64_t)n);
	for (int i = 0; i < n; i++) tg_s(&f->kv, v[i]);
	f->n_kv++;
}
static inline void tg_kv_arr(struct tg_file *f, const char *k, uint32_t t, const void *v, int n, int sz)
{
	tg_s(&f->kv, k); tg_u32(&f->kv, 9); tg_u32(&f->kv, t); tg_u64(&f->kv, (uint64_t)n);
	tg_put(&f->kv, v, (size_t)n * (size_t)sz);
	f->n_kv++;
}
/* F32 (type 0) tensor of ne0 x ne1 */
static inline void tg_tensor(struct tg_file *f, const char *name, uint32_t nd, uint64_t ne0, uint64_t ne1, uint32_t type,
		      const float *v)
{
	static const uint8_t zero[32];
	tg_s(&f->ti, name); tg_u32(&f->ti, nd); tg_u64(&f->ti, ne0);
	if (nd > 1) tg_u64(&f->ti, ne1);
	tg_u32(&f->ti, type); tg_u64(&f->ti, f->data.n);
	tg_put(&f->data, v, ne0 * ne1 * 4);
	if (f->data.n % 32) tg_put(&f->data, zero, 32 - f->data.n % 32);
	f->n_t++;
}
/* the whole file into *OUT (malloc'ed) */
static inline size_t tg_bytes(struct tg_file *f, uint8_t **out)
{
	struct tg_buf b = { 0 };
	static const uint8_t zero[32];
	tg_put(&b, "GGUF", 4); tg_u32(&b, 3); tg_u64(&b, f->n_t); tg_u64(&b, f->n_kv);
	tg_put(&b, f->kv.p, f->kv.n); tg_put(&b, f->ti.p, f->ti.n);
	if (b.n % 32) tg_put(&b, zero, 32 - b.n % 32);
	tg_put(&b, f->data.p, f->data.n);
	*out = b.p;
	return b.n;
}
static inline int tg_write_bytes(const char *path, const uint8_t *p, size_t n)
{
	FILE *fp = fopen(path, "wb");
	if (!fp) return -1;
	fwrite(p, 1, n, fp);
	return fclose(fp);
}
static inline int tg_write(struct tg_file *f, const char *path)
{
	uint8_t *p;
	size_t n = tg_bytes(f, &p);
	int rc = tg_write_bytes(path, p, n);
	free(p);
	return rc;
}
#endif
