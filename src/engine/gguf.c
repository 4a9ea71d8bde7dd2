/* GGUF container parser (see gguf.h): header, metadata, tensor directory,
 * with every read bounds-checked so a hostile or truncated file gives an
 * error naming the file and the field instead of a crash. */
#include "engine/gguf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define GGUF_MAX_DIMS 4
#define GGUF_MAX_COUNT (1u << 24)

struct rd { const uint8_t *p; size_t size, off; };

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static int take(struct rd *r, size_t n, const uint8_t **out)
{
	if (n > r->size - r->off)
		return -1;
	*out = r->p + r->off;
	r->off += n;
	return 0;
}

static int rd_u32(struct rd *r, uint32_t *v)
{
	const uint8_t *q;
	if (take(r, 4, &q))
		return -1;
	memcpy(v, q, 4);
	return 0;
}

static int rd_u64(struct rd *r, uint64_t *v)
{
	const uint8_t *q;
	if (take(r, 8, &q))
		return -1;
	memcpy(v, q, 8);
	return 0;
}

static int rd_str(struct rd *r, struct gguf_str *s)
{
	const uint8_t *q;
	if (rd_u64(r, &s->n) || s->n > r->size - r->off || take(r, (size_t)s->n, &q))
		return -1;
	s->p = (const char *)q;
	return 0;
}

static const size_t vsize[GGUF_NVTYPES] = { 1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8 };

const char *gguf_type_name(uint32_t type)
{
	switch (type) {
	case GGML_F32: return "F32";
	case GGML_F16: return "F16";
	case GGML_BF16: return "BF16";
	case GGML_Q8_0: return "Q8_0";
	case GGML_Q4_0: return "Q4_0";
	default: return "unknown";
	}
}

uint64_t gguf_row_bytes(uint32_t type, uint64_t ne0)
{
	switch (type) {
	case GGML_F32: return ne0 * 4;
	case GGML_F16: case GGML_BF16: return ne0 * 2;
	case GGML_Q8_0: return ne0 % 32 ? 0 : ne0 / 32 * 34;
	case GGML_Q4_0: return ne0 % 32 ? 0 : ne0 / 32 * 18;
	default: return 0;
	}
}

/* skip one value of type T (not an array) */
static int skip_val(struct rd *r, uint32_t t)
{
	const uint8_t *q;
	if (t == GGUF_STRING) {
		struct gguf_str s;
		return rd_str(r, &s);
	}
	if (t >= GGUF_NVTYPES || t == GGUF_ARRAY)
		return -1;
	return take(r, vsize[t], &q);
}

/* metadata entry I at the reader; ALIGN picks up general.alignment */
static int parse_kv(struct gguf *g, struct rd *r, uint64_t i, uint64_t *align, char *err, size_t errlen)
{
	struct gguf_kv *kv = &g->kv[i];
	struct gguf_str k;
	const uint8_t *q;
	uint32_t t, a;

	if (rd_str(r, &k)) {
		seterr(err, errlen, "%s: metadata key %llu: truncated or past the end", g->name, (unsigned long long)i);
		return -1;
	}
	kv->key = strndup(k.p, (size_t)k.n);
	if (!kv->key || rd_u32(r, &t) || t >= GGUF_NVTYPES) {
		seterr(err, errlen, "%s: metadata '%s': bad or missing value type", g->name, kv->key ? kv->key : "?");
		return -1;
	}
	kv->type = t;
	kv->val = r->p + r->off;
	if (t != GGUF_ARRAY) {
		if (skip_val(r, t)) {
			seterr(err, errlen, "%s: metadata '%s': value runs past the end", g->name, kv->key);
			return -1;
		}
	} else if (rd_u32(r, &a) || a >= GGUF_NVTYPES || a == GGUF_ARRAY || rd_u64(r, &kv->n)) {
		seterr(err, errlen, "%s: metadata '%s': bad array header", g->name, kv->key);
		return -1;
	} else {
		uint64_t j;
		kv->atype = a;
		kv->val = r->p + r->off;
		if (a != GGUF_STRING &&
		    (kv->n > (r->size - r->off) / vsize[a] || take(r, (size_t)(kv->n * vsize[a]), &q))) {
			seterr(err, errlen, "%s: metadata '%s': array of %llu runs past the end", g->name, kv->key,
			       (unsigned long long)kv->n);
			return -1;
		}
		if (a == GGUF_STRING && kv->n > (r->size - r->off) / 8) {
			seterr(err, errlen, "%s: metadata '%s': array of %llu strings runs past the end", g->name,
			       kv->key, (unsigned long long)kv->n);
			return -1;
		}
		for (j = 0; a == GGUF_STRING && j < kv->n; j++)
			if (skip_val(r, GGUF_STRING)) {
				seterr(err, errlen, "%s: metadata '%s': string %llu runs past the end", g->name, kv->key,
				       (unsigned long long)j);
				return -1;
			}
	}
	if (!strcmp(kv->key, "general.alignment")) {
		uint32_t al = 0;
		if (t == GGUF_U32)
			memcpy(&al, kv->val, 4);
		if (!al || (al & (al - 1))) {
			seterr(err, errlen, "%s: metadata 'general.alignment': not a power-of-two u32", g->name);
			return -1;
		}
		*align = al;
	}
	return 0;
}

/* tensor directory entry I */
static int parse_tensor(struct gguf *g, struct rd *r, uint64_t i, char *err, size_t errlen)
{
	struct gguf_tensor *tn = &g->tensors[i];
	struct gguf_str s;
	uint32_t d;

	if (rd_str(r, &s) || !(tn->name = strndup(s.p, (size_t)s.n))) {
		seterr(err, errlen, "%s: tensor %llu: name truncated or past the end", g->name, (unsigned long long)i);
		return -1;
	}
	if (rd_u32(r, &tn->n_dims) || tn->n_dims == 0 || tn->n_dims > GGUF_MAX_DIMS) {
		seterr(err, errlen, "%s: tensor '%s': bad dimension count", g->name, tn->name);
		return -1;
	}
	for (d = 0; d < GGUF_MAX_DIMS; d++)
		tn->ne[d] = 1;
	for (d = 0; d < tn->n_dims; d++)
		if (rd_u64(r, &tn->ne[d]) || tn->ne[d] == 0 || tn->ne[d] > ((uint64_t)1 << 40)) {
			seterr(err, errlen, "%s: tensor '%s': bad or truncated dimension %u", g->name, tn->name, d);
			return -1;
		}
	if (rd_u32(r, &tn->type) || rd_u64(r, &tn->offset)) {
		seterr(err, errlen, "%s: tensor '%s': truncated type/offset", g->name, tn->name);
		return -1;
	}
	return 0;
}

/* point each tensor at its data, which must lie inside the file */
static int place_tensors(struct gguf *g, uint64_t data_off, uint64_t align, char *err, size_t errlen)
{
	uint64_t i, size = g->size;
	if (data_off > size) {
		seterr(err, errlen, "%s: tensor data section starts past the end of the file", g->name);
		return -1;
	}
	for (i = 0; i < g->n_tensors; i++) {
		struct gguf_tensor *tn = &g->tensors[i];
		uint64_t rb = gguf_row_bytes(tn->type, tn->ne[0]), rows = tn->ne[1] * tn->ne[2] * tn->ne[3];
		if (!rb) {
			seterr(err, errlen, "%s: tensor '%s': unsupported weight type %u (%s) or row length %llu",
			       g->name, tn->name, tn->type, gguf_type_name(tn->type), (unsigned long long)tn->ne[0]);
			return -1;
		}
		if (rows > ((uint64_t)1 << 40) / rb) {
			seterr(err, errlen, "%s: tensor '%s': size overflows", g->name, tn->name);
			return -1;
		}
		tn->nbytes = rb * rows;
		if (tn->offset % align || tn->offset > size - data_off || tn->nbytes > size - data_off - tn->offset) {
			seterr(err, errlen, "%s: tensor '%s': data (offset %llu, %llu bytes) past the end of the file",
			       g->name, tn->name, (unsigned long long)tn->offset, (unsigned long long)tn->nbytes);
			return -1;
		}
		tn->data = g->base + data_off + tn->offset;
	}
	return 0;
}

static int parse_header(struct gguf *g, struct rd *r, char *err, size_t errlen)
{
	const uint8_t *q;
	if (take(r, 4, &q) || memcmp(q, "GGUF", 4)) {
		seterr(err, errlen, "%s: not a GGUF file (bad magic)", g->name);
		return -1;
	}
	if (rd_u32(r, &g->version) || g->version < 2 || g->version > 3) {
		seterr(err, errlen, "%s: unsupported GGUF version %u (want 2 or 3)", g->name, g->version);
		return -1;
	}
	if (rd_u64(r, &g->n_tensors) || rd_u64(r, &g->n_kv)) {
		seterr(err, errlen, "%s: truncated header (tensor and key counts)", g->name);
		return -1;
	}
	if (g->n_kv > GGUF_MAX_COUNT || g->n_tensors > GGUF_MAX_COUNT || g->n_kv > r->size / 8 ||
	    g->n_tensors > r->size / 8) {
		seterr(err, errlen, "%s: implausible counts (%llu keys, %llu tensors) for a %zu-byte file", g->name,
		       (unsigned long long)g->n_kv, (unsigned long long)g->n_tensors, r->size);
		return -1;
	}
	g->kv = calloc(g->n_kv ? g->n_kv : 1, sizeof *g->kv);
	g->tensors = calloc(g->n_tensors ? g->n_tensors : 1, sizeof *g->tensors);
	if (!g->kv || !g->tensors) {
		seterr(err, errlen, "%s: out of memory", g->name);
		return -1;
	}
	return 0;
}

int gguf_parse(struct gguf *g, const void *data, size_t size, const char *name, char *err, size_t errlen)
{
	struct rd r = { data, size, 0 };
	uint64_t i, align = 32;
	int rc = -1;

	memset(g, 0, sizeof *g);
	snprintf(g->name, sizeof g->name, "%s", name ? name : "(memory)");
	g->base = data;
	g->size = size;
	if (parse_header(g, &r, err, errlen))
		goto out;
	for (i = 0; i < g->n_kv; i++)
		if (parse_kv(g, &r, i, &align, err, errlen))
			goto out;
	for (i = 0; i < g->n_tensors; i++)
		if (parse_tensor(g, &r, i, err, errlen))
			goto out;
	rc = place_tensors(g, (r.off + align - 1) / align * align, align, err, errlen);
out:
	if (rc)
		gguf_release(g);
	return rc;
}

int gguf_open(struct gguf *g, const char *path, char *err, size_t errlen)
{
	struct stat st;
	void *m = MAP_FAILED;
	int fd, rc;

	memset(g, 0, sizeof *g);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		seterr(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) || st.st_size <= 0) {
		seterr(err, errlen, "%s: empty or unreadable file", path);
		close(fd);
		return -1;
	}
	m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (m == MAP_FAILED) {
		seterr(err, errlen, "%s: mmap: %s", path, strerror(errno));
		return -1;
	}
	rc = gguf_parse(g, m, (size_t)st.st_size, path, err, errlen);
	if (rc) {
		munmap(m, (size_t)st.st_size);
		return rc;
	}
	g->map = m;
	g->map_len = (size_t)st.st_size;
	return 0;
}

void gguf_release(struct gguf *g)
{
	uint64_t i;
	if (g->kv)
		for (i = 0; i < g->n_kv; i++)
			free(g->kv[i].key);
	if (g->tensors)
		for (i = 0; i < g->n_tensors; i++)
			free(g->tensors[i].name);
	free(g->kv);
	free(g->tensors);
	if (g->map)
		munmap(g->map, g->map_len);
	g->kv = NULL;
	g->tensors = NULL;
	g->map = NULL;
}

const struct gguf_kv *gguf_find(const struct gguf *g, const char *key)
{
	uint64_t i;
	for (i = 0; i < g->n_kv; i++)
		if (!strcmp(g->kv[i].key, key))
			return &g->kv[i];
	return NULL;
}

const struct gguf_tensor *gguf_tensor(const struct gguf *g, const char *name)
{
	uint64_t i;
	for (i = 0; i < g->n_tensors; i++)
		if (!strcmp(g->tensors[i].name, name))
			return &g->tensors[i];
	return NULL;
}

int gguf_get_u32(const struct gguf *g, const char *key, uint32_t *v, char *err, size_t errlen)
{
	const struct gguf_kv *kv = gguf_find(g, key);
	if (!kv) {
		seterr(err, errlen, "%s: missing metadata '%s'", g->name, key);
		return -1;
	}
	switch (kv->type) {
	case GGUF_U32: case GGUF_I32: memcpy(v, kv->val, 4); break;
	case GGUF_U64: case GGUF_I64: { uint64_t x; memcpy(&x, kv->val, 8); *v = (uint32_t)x; break; }
	case GGUF_U16: case GGUF_I16: { uint16_t x; memcpy(&x, kv->val, 2); *v = x; break; }
	case GGUF_U8: case GGUF_I8: case GGUF_BOOL: *v = kv->val[0]; break;
	default:
		seterr(err, errlen, "%s: metadata '%s' is not an integer", g->name, key);
		return -1;
	}
	return 0;
}

int gguf_get_f32(const struct gguf *g, const char *key, float *v, char *err, size_t errlen)
{
	const struct gguf_kv *kv = gguf_find(g, key);
	if (!kv) {
		seterr(err, errlen, "%s: missing metadata '%s'", g->name, key);
		return -1;
	}
	if (kv->type == GGUF_F32) {
		memcpy(v, kv->val, 4);
	} else if (kv->type == GGUF_F64) {
		double d;
		memcpy(&d, kv->val, 8);
		*v = (float)d;
	} else {
		seterr(err, errlen, "%s: metadata '%s' is not a float", g->name, key);
		return -1;
	}
	return 0;
}

int gguf_get_str(const struct gguf *g, const char *key, struct gguf_str *v, char *err, size_t errlen)
{
	const struct gguf_kv *kv = gguf_find(g, key);
	if (!kv || kv->type != GGUF_STRING) {
		seterr(err, errlen, "%s: %s metadata '%s'", g->name, kv ? "non-string" : "missing", key);
		return -1;
	}
	memcpy(&v->n, kv->val, 8);
	v->p = (const char *)kv->val + 8;
	return 0;
}

struct gguf_str gguf_arr_str(const struct gguf_kv *kv, uint64_t i)
{
	/* strings are variable-length: walk from the start (callers index once into tables) */
	const uint8_t *p = kv->val;
	struct gguf_str s = { "", 0 };
	uint64_t j, n = 0;
	for (j = 0; j <= i && j < kv->n; j++) {
		memcpy(&n, p, 8);
		s.p = (const char *)p + 8;
		s.n = n;
		p += 8 + n;
	}
	return s;
}
