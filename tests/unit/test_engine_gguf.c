/*
 * test_engine_gguf.c - a GGUF file is untrusted input: bad magic and version,
 * truncation at every length, offsets and sizes past the end, unknown
 * architecture and weight type, missing metadata each give an error naming the
 * file and the field, never a crash.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/engine.h"
#include "engine/gguf.h"
#include "test_engine_gguf.h"

static const char *TOKS[3] = { "<unk>", "a", "b" };

/* a valid 1-layer model (dim 32 for Q8_0 rows) with the keys of MODE changed */
static size_t build(uint8_t **out, const char *arch, int drop_ff, uint32_t wtype)
{
	struct tg_file f;
	static float w[32 * 64];
	size_t n;
	int i;
	const char *names[] = { "blk.0.attn_q.weight", "blk.0.attn_k.weight", "blk.0.attn_v.weight",
				"blk.0.attn_output.weight" };
	for (i = 0; i < 32 * 64; i++)
		w[i] = 0.01f * (float)(i % 7);
	tg_init(&f);
	tg_kv_str(&f, "general.architecture", arch);
	tg_kv_u32(&f, "llama.embedding_length", 32);
	tg_kv_u32(&f, "llama.block_count", 1);
	if (!drop_ff)
		tg_kv_u32(&f, "llama.feed_forward_length", 64);
	tg_kv_u32(&f, "llama.attention.head_count", 2);
	tg_kv_f32(&f, "llama.attention.layer_norm_rms_epsilon", 1e-5f);
	tg_kv_str(&f, "tokenizer.ggml.model", "llama");
	tg_kv_strarr(&f, "tokenizer.ggml.tokens", TOKS, 3);
	tg_tensor(&f, "token_embd.weight", 2, 32, 3, wtype, w);
	for (i = 0; i < 4; i++)
		tg_tensor(&f, names[i], 2, 32, 32, 0, w);
	tg_tensor(&f, "blk.0.ffn_gate.weight", 2, 32, 64, 0, w);
	tg_tensor(&f, "blk.0.ffn_up.weight", 2, 32, 64, 0, w);
	tg_tensor(&f, "blk.0.ffn_down.weight", 2, 64, 32, 0, w);
	tg_tensor(&f, "blk.0.attn_norm.weight", 1, 32, 1, 0, w);
	tg_tensor(&f, "blk.0.ffn_norm.weight", 1, 32, 1, 0, w);
	tg_tensor(&f, "output_norm.weight", 1, 32, 1, 0, w);
	n = tg_bytes(&f, out);
	tg_release(&f);
	return n;
}

static int load_bytes(const uint8_t *p, size_t n, char *err, size_t errlen, char *path)
{
	struct engine *e = NULL;
	int fd, rc;
	strcpy(path, "/tmp/ipw-test-gguf-XXXXXX");
	fd = mkstemp(path);
	cr_assert(fd >= 0);
	close(fd);
	cr_assert_eq(tg_write_bytes(path, p, n), 0);
	rc = engine_load(&e, path, NULL, err, errlen);
	engine_free(e);
	unlink(path);
	return rc;
}

#define EXPECT_ERR(p, n, needle) do { \
	char err_[512] = "", path_[64]; \
	cr_assert_lt(load_bytes(p, n, err_, sizeof err_, path_), 0); \
	cr_assert(strstr(err_, path_), "error does not name the file: %s", err_); \
	cr_assert(strstr(err_, needle), "want '%s' in: %s", needle, err_); \
} while (0)

Test(engine_gguf, valid_file_loads)
{
	uint8_t *p;
	size_t n = build(&p, "llama", 0, 0);
	char err[512], path[64];
	cr_assert_eq(load_bytes(p, n, err, sizeof err, path), 0, "%s", err);
	free(p);
}

Test(engine_gguf, bad_magic_and_version)
{
	uint8_t *p;
	size_t n = build(&p, "llama", 0, 0);
	p[0] = 'X';
	EXPECT_ERR(p, n, "bad magic");
	p[0] = 'G';
	p[4] = 9;
	EXPECT_ERR(p, n, "version 9");
	free(p);
}

Test(engine_gguf, every_truncation_is_an_error)
{
	uint8_t *p;
	size_t n = build(&p, "llama", 0, 0), k;
	for (k = 0; k < n; k += (k < 600 ? 1 : 97)) {
		struct gguf g;
		char err[256] = "";
		int rc = gguf_parse(&g, p, k, "cut.gguf", err, sizeof err);
		if (!rc)
			gguf_release(&g);
		cr_assert_lt(rc, 0, "truncated at %zu of %zu parsed", k, n);
		cr_assert(strstr(err, "cut.gguf"), "%s", err);
	}
	free(p);
}

Test(engine_gguf, offsets_past_the_end)
{
	uint8_t *p;
	size_t n = build(&p, "llama", 0, 0);
	/* the last tensor's data ends at the file's end: cut 4 bytes off */
	EXPECT_ERR(p, n - 4, "past the end");
	free(p);
}

Test(engine_gguf, unknown_arch_type_and_missing_metadata)
{
	uint8_t *p;
	size_t n = build(&p, "mamba", 0, 0);
	EXPECT_ERR(p, n, "general.architecture 'mamba'");
	free(p);
	n = build(&p, "llama", 1, 0);
	EXPECT_ERR(p, n, "llama.feed_forward_length");
	free(p);
	n = build(&p, "llama", 0, 77);
	EXPECT_ERR(p, n, "token_embd.weight': unsupported weight type 77");
	free(p);
}

Test(engine_gguf, huge_counts_and_string_lengths)
{
	uint8_t *p;
	size_t n = build(&p, "llama", 0, 0);
	uint64_t big = (uint64_t)1 << 62;
	memcpy(p + 8, &big, 8);
	EXPECT_ERR(p, n, "implausible counts");
	free(p);
	n = build(&p, "llama", 0, 0);
	memcpy(p + 24, &big, 8);   /* first key's length */
	EXPECT_ERR(p, n, "metadata key 0");
	free(p);
}
