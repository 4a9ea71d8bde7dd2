/* GGUF container parser for the built-in engine: reads the header, the
 * metadata key/values and the tensor directory from a byte range (an mmap'ed
 * file or a buffer in memory), checking every offset and size against its end.
 * The parser never trusts the file: each problem is an error naming the field. */
#ifndef IPW_ENGINE_GGUF_H
#define IPW_ENGINE_GGUF_H
#include <stddef.h>
#include <stdint.h>

enum gguf_vtype {
	GGUF_U8, GGUF_I8, GGUF_U16, GGUF_I16, GGUF_U32, GGUF_I32, GGUF_F32, GGUF_BOOL,
	GGUF_STRING, GGUF_ARRAY, GGUF_U64, GGUF_I64, GGUF_F64, GGUF_NVTYPES
};

/* ggml tensor types the engine knows (numbers as in the file) */
enum gguf_ttype { GGML_F32 = 0, GGML_F16 = 1, GGML_Q4_0 = 2, GGML_Q8_0 = 8, GGML_BF16 = 30 };

struct gguf_str { const char *p; uint64_t n; };   /* points into the file, not NUL-terminated */

struct gguf_kv {
	char *key;                 /* owned, NUL-terminated */
	enum gguf_vtype type;
	enum gguf_vtype atype;     /* element type for arrays */
	uint64_t n;                /* element count for arrays */
	const uint8_t *val;        /* points into the file at the value (arrays: first element) */
};

struct gguf_tensor {
	char *name;                /* owned */
	uint32_t n_dims;
	uint64_t ne[4];
	uint32_t type;
	uint64_t offset;
	const uint8_t *data;       /* into the file */
	uint64_t nbytes;
};

struct gguf {
	const uint8_t *base;
	size_t size;
	uint32_t version;
	uint64_t n_kv, n_tensors;
	struct gguf_kv *kv;
	struct gguf_tensor *tensors;
	char name[256];            /* for error messages */
	void *map;                 /* mmap'ed region owned when loaded from a file */
	size_t map_len;
};

/* Parse SIZE bytes at DATA (kept referenced, not copied). NAME is used in errors. */
int gguf_parse(struct gguf *g, const void *data, size_t size, const char *name, char *err, size_t errlen);
/* mmap PATH and parse it. */
int gguf_open(struct gguf *g, const char *path, char *err, size_t errlen);
void gguf_release(struct gguf *g);

const struct gguf_kv *gguf_find(const struct gguf *g, const char *key);
const struct gguf_tensor *gguf_tensor(const struct gguf *g, const char *name);
/* typed getters: 0 on success, -1 when absent or of the wrong type (message in err) */
int gguf_get_u32(const struct gguf *g, const char *key, uint32_t *v, char *err, size_t errlen);
int gguf_get_f32(const struct gguf *g, const char *key, float *v, char *err, size_t errlen);
int gguf_get_str(const struct gguf *g, const char *key, struct gguf_str *v, char *err, size_t errlen);
/* element I of a string array (bounds were checked at parse time for strings) */
struct gguf_str gguf_arr_str(const struct gguf_kv *kv, uint64_t i);
/* bytes per row of NE0 elements of TYPE, 0 when the type is unknown or NE0 does not fit its blocks */
uint64_t gguf_row_bytes(uint32_t type, uint64_t ne0);
const char *gguf_type_name(uint32_t type);
#endif
