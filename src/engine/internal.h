/* Internal state shared by the engine's files (model, tokenizer, templates).
 * Not part of the public API (engine.h). */
#ifndef IPW_ENGINE_INTERNAL_H
#define IPW_ENGINE_INTERNAL_H
#include <pthread.h>
#include "engine/engine.h"
#include "engine/gguf.h"

struct mat { const uint8_t *data; uint32_t type; int rows, cols; uint64_t row_bytes; };

struct layer {
	struct mat wq, wk, wv, wo, gate, up, down;
	const float *attn_norm, *ffn_norm, *q_norm, *k_norm, *bq, *bk, *bv;
};

struct pool;

struct vocab {
	int n;
	struct gguf_str *text;     /* into the file */
	float *score;
	int32_t *type;             /* 1 normal, 2 unknown, 3 control, 4 user-defined, 6 byte */
	int spm;                   /* 1: SentencePiece, 0: byte-level BPE */
	int add_bos, add_space_prefix;
	int bos, eos, unk, eot;
	int byte_tok[256];         /* SPM <0xXX> tokens / BPE single-byte tokens */
	/* open-addressed hash of token texts */
	int *hash; uint32_t hash_n;
	/* BPE merges: hash of "left right" -> rank */
	struct gguf_str *merge; int n_merge; int *mhash; uint32_t mhash_n;
	void *re[4]; int n_re;     /* pcre2_code * */
	int *special; int n_special; /* control/user-defined tokens, longest first */
};

struct engine {
	struct gguf g;
	struct engine_info info;
	int arch;                  /* 0 llama, 1 qwen2, 2 qwen3 */
	int n_rot, neox;
	float eps, rope_base;
	const uint8_t *tok_embd; uint32_t tok_embd_type; uint64_t tok_embd_rb;
	struct mat output;
	const float *out_norm;
	struct layer *layers;
	float *kc, *vc;            /* [layer][ctx][n_kv*head_dim] */
	int pos;
	float *logits;
	struct vocab v;
	struct gguf_str tmpl;
	struct pool *pool;
	uint64_t rng;
	/* scratch, sized for a batch */
	int batch;
	float *x, *xb, *q, *k, *vv, *att, *hb, *hb2, *xo;
	int8_t *xq; float *xd, *xh;   /* activations quantized for Q8_0 / rounded for F16 weights */
};

int vocab_load(struct engine *e, char *err, size_t errlen);
void vocab_release(struct vocab *v);
int vocab_find(const struct vocab *v, const char *s, size_t n);
#endif
