/* Built-in CPU inference engine for GGUF models (llama, qwen2, qwen3):
 * load (mmap), tokenize/detokenize, apply a chat template, evaluate tokens
 * into a KV cache, sample, and generate with a per-token callback.
 * Library code: never prints; errors go to the caller's err buffer. */
#ifndef IPW_ENGINE_H
#define IPW_ENGINE_H
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

struct engine;

struct engine_opts {
	int n_threads;      /* 0: one */
	int n_ctx;          /* 0: the model's context length, capped at 4096 */
};

struct engine_sampling {
	float temperature;  /* <= 0: greedy */
	float top_p;        /* 1: off */
	int top_k;          /* 0: off */
	uint64_t seed;
};

struct engine_msg { const char *role, *content; };

struct engine_info {
	char arch[16];
	int n_vocab, n_embd, n_layer, n_head, n_head_kv, head_dim, n_ctx;
	int bos, eos;       /* -1 when absent */
	char tokenizer[16]; /* "llama" or "gpt2" */
	char chat_template[16]; /* detected family, "" when none */
};

/* Per-token callback: TEXT/LEN is the token's bytes, T_MS the time since generate started.
 * Return nonzero to stop. */
typedef int (*engine_token_cb)(void *ud, int token, const char *text, size_t len, double t_ms);

struct engine_stats { int n_prompt, n_gen; double prefill_ms, decode_ms; };

int engine_load(struct engine **out, const char *path, const struct engine_opts *o, char *err, size_t errlen);
void engine_free(struct engine *e);
void engine_get_info(const struct engine *e, struct engine_info *info);

/* Tokenize LEN bytes of TEXT into TOKS (at most MAX). ADD_SPECIAL: BOS as the model asks;
 * PARSE_SPECIAL: control tokens' texts become those tokens. Returns the count (which may be
 * more than MAX: call again with a bigger buffer), negative on error. */
int engine_tokenize(struct engine *e, const char *text, size_t len, int add_special, int parse_special,
		    int *toks, int max, char *err, size_t errlen);
/* The bytes of token TOK (SentencePiece spaces and GPT-2 byte mapping undone) into BUF
 * (at most N, not terminated). Returns the length, or negative for an unknown token. */
int engine_token_piece(const struct engine *e, int tok, char *buf, size_t n);

/* Apply the chat template NAME ("chatml", "llama3", "ipw"; NULL: detected from the model's
 * tokenizer.chat_template). *OUT is malloc'ed, the caller frees it. */
int engine_chat_apply(const struct engine *e, const char *name, const struct engine_msg *msgs, size_t n,
		      int add_generation_prompt, char **out, char *err, size_t errlen);

/* KV cache: evaluation appends at engine_pos(); engine_rewind(e, pos) keeps the first POS
 * positions (prefix reuse), engine_rewind(e, 0) resets. */
int engine_pos(const struct engine *e);
void engine_rewind(struct engine *e, int pos);

/* Evaluate N tokens at the current position; *LOGITS (owned by the engine, valid until the
 * next call) receives the n_vocab logits of the last one. */
int engine_eval(struct engine *e, const int *toks, int n, const float **logits, char *err, size_t errlen);

/* Pick a token from LOGITS (modified) with S (NULL: greedy). RNG state lives in the engine,
 * seeded by engine_generate or engine_seed. */
int engine_sample(struct engine *e, float *logits, const struct engine_sampling *s);
void engine_seed(struct engine *e, uint64_t seed);
/* The natural-log probability of token TOK under the logits of the last evaluation
 * (log-softmax at TOK, temperature 1: the model's own distribution, before sampling
 * settings). Valid in a token callback of engine_generate, for the token it was given. */
double engine_logprob(const struct engine *e, int tok);

/* Evaluate PROMPT, then generate up to MAX_TOKENS tokens, calling CB for each (stops at EOS,
 * which is not passed on). Returns the number generated, negative on error. */
int engine_generate(struct engine *e, const int *prompt, int n_prompt, int max_tokens,
		    const struct engine_sampling *s, engine_token_cb cb, void *ud,
		    struct engine_stats *st, char *err, size_t errlen);

/* One chat turn (src/engine/chat.c): apply template TMPL (NULL: detected) to MSGS with the
 * generation prompt, tokenize (BOS as the model asks, control tokens parsed), reset the KV
 * cache and generate up to MAX_TOKENS (<= 0 or more than the context has room for: what
 * fits) with engine_generate. Returns the number generated, negative with ERR. */
int engine_chat_run(struct engine *e, const char *tmpl, const struct engine_msg *msgs, size_t n,
		    int max_tokens, const struct engine_sampling *s, engine_token_cb cb, void *ud,
		    struct engine_stats *st, char *err, size_t errlen);
/* How many of the N bytes of S end on a UTF-8 character boundary (an incomplete sequence
 * at the end is held back; invalid bytes count as whole characters). */
size_t engine_utf8_complete(const char *s, size_t n);
/* N bytes of IN into OUT (room for 3 * N) with each byte that is not part of a valid UTF-8
 * sequence replaced by U+FFFD, as the API paths deliver text. Returns the length written. */
size_t engine_utf8_sanitize(const char *in, size_t n, char *out);

/* A token stream's text cut on character boundaries: the tail of an incomplete character is
 * held until the next piece. */
#define ENGINE_PIECE_MAX 512
struct engine_utf8_hold { char hold[8]; size_t held; };
/* The held bytes and LEN bytes of TEXT, up to the last whole character, sanitized into OUT
 * (room for 3 * ENGINE_PIECE_MAX); the rest is held. Returns the length written (0: nothing yet). */
size_t engine_utf8_take(struct engine_utf8_hold *h, const char *text, size_t len, char *out);
/* At the end of the stream: what is still held, sanitized into OUT (room for 24 bytes). */
size_t engine_utf8_flush(struct engine_utf8_hold *h, char *out);

/* CPU seconds used so far by the calling thread and the engine's pool threads (the
 * engine's own CPU time when called from the thread that runs it; a difference of two
 * calls is one query's). */
double engine_cpu_seconds(const struct engine *e);
/* The same for the engine run by thread RUNNER, read from any thread (telemetry). */
double engine_cpu_seconds_of(const struct engine *e, pthread_t runner);

/* numerics, exposed for the unit tests */
float engine_f16_to_f32(uint16_t h);
float engine_bf16_to_f32(uint16_t h);
void engine_dequant_row(uint32_t type, const void *src, float *dst, int n);
void engine_rmsnorm(float *out, const float *x, const float *w, int n, float eps);
void engine_rope(float *v, int head_dim, int n_rot, int pos, float base, int neox);
void engine_softmax(float *x, int n);
#endif
