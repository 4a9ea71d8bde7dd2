/* Tokenizers from GGUF metadata: SentencePiece-style (tokenizer.ggml.model
 * "llama": score-driven bigram merges with byte fallback) and byte-level BPE
 * ("gpt2": PCRE2 pre-tokenizer for tokenizer.ggml.pre, then ranked merges),
 * with control tokens parsed out of the text on request; and token pieces. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "engine/internal.h"

#include <pcre2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static uint32_t fnv(const char *s, size_t n)
{
	uint32_t h = 2166136261u;
	size_t i;
	for (i = 0; i < n; i++)
		h = (h ^ (uint8_t)s[i]) * 16777619u;
	return h;
}

int vocab_find(const struct vocab *v, const char *s, size_t n)
{
	uint32_t h;
	if (!v->hash)
		return -1;
	for (h = fnv(s, n) & (v->hash_n - 1); v->hash[h] >= 0; h = (h + 1) & (v->hash_n - 1)) {
		const struct gguf_str *t = &v->text[v->hash[h]];
		if (t->n == n && !memcmp(t->p, s, n))
			return v->hash[h];
	}
	return -1;
}

static int merge_rank(const struct vocab *v, const char *a, size_t an, const char *b, size_t bn)
{
	uint32_t h, hh = fnv(a, an);
	hh = (hh ^ ' ') * 16777619u;
	{
		size_t i;
		for (i = 0; i < bn; i++)
			hh = (hh ^ (uint8_t)b[i]) * 16777619u;
	}
	if (!v->mhash)
		return -1;
	for (h = hh & (v->mhash_n - 1); v->mhash[h] >= 0; h = (h + 1) & (v->mhash_n - 1)) {
		const struct gguf_str *m = &v->merge[v->mhash[h]];
		if (m->n == an + 1 + bn && !memcmp(m->p, a, an) && m->p[an] == ' ' && !memcmp(m->p + an + 1, b, bn))
			return v->mhash[h];
	}
	return -1;
}

/* GPT-2 byte <-> unicode code point mapping */
static int byte_cp(int b)
{
	int n = 0, c;
	if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255))
		return b;
	for (c = 0; c < b; c++)
		if (!((c >= 33 && c <= 126) || (c >= 161 && c <= 172) || (c >= 174 && c <= 255)))
			n++;
	return 256 + n;
}

static int put_utf8(char *o, int cp)
{
	if (cp < 0x80) { o[0] = (char)cp; return 1; }
	if (cp < 0x800) { o[0] = (char)(0xc0 | (cp >> 6)); o[1] = (char)(0x80 | (cp & 63)); return 2; }
	o[0] = (char)(0xe0 | (cp >> 12)); o[1] = (char)(0x80 | ((cp >> 6) & 63)); o[2] = (char)(0x80 | (cp & 63));
	return 3;
}

static size_t utf8_len(const char *s, size_t n)
{
	uint8_t c = (uint8_t)s[0];
	size_t l = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
	return l > n ? n : l;
}

static int decode_utf8(const char *s, size_t n, size_t *len)
{
	uint8_t c = (uint8_t)s[0];
	size_t l = utf8_len(s, n), i;
	int cp = l == 1 ? c : l == 2 ? c & 31 : l == 3 ? c & 15 : c & 7;
	for (i = 1; i < l; i++)
		cp = (cp << 6) | ((uint8_t)s[i] & 63);
	*len = l;
	return cp;
}

static const char *const RE_GPT2 =
	"'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";
static const char *const RE_LLAMA3 =
	"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}"
	"| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char *const RE_QWEN2 =
	"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}"
	"| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

static int add_re(struct vocab *v, const char *pat, char *err, size_t errlen)
{
	int ec;
	PCRE2_SIZE eo;
	pcre2_code *re = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP, &ec, &eo, NULL);
	if (!re) {
		seterr(err, errlen, "pre-tokenizer expression does not compile at %zu", (size_t)eo);
		return -1;
	}
	v->re[v->n_re++] = re;
	return 0;
}

static int special_cmp(const void *a, const void *b, void *arg)
{
	const struct vocab *v = arg;
	const int *x = a, *y = b;
	return (int)v->text[*y].n - (int)v->text[*x].n;
}

/* byte-level BPE: merges and the pre-tokenizer expressions of tokenizer.ggml.pre */
static int bpe_load(struct vocab *v, const struct gguf *g, char *err, size_t errlen)
{
	const struct gguf_kv *kv;
	const uint8_t *p;
	int i;

	struct gguf_str pre = { "default", 7 };
	kv = gguf_find(g, "tokenizer.ggml.merges");
	if (!kv || kv->type != GGUF_ARRAY || kv->atype != GGUF_STRING) {
		seterr(err, errlen, "%s: missing metadata 'tokenizer.ggml.merges' (gpt2 tokenizer)", g->name);
		return -1;
	}
	v->n_merge = (int)kv->n;
	v->merge = calloc((size_t)v->n_merge + 1, sizeof *v->merge);
	for (v->mhash_n = 16; v->mhash_n < 2u * (uint32_t)v->n_merge; v->mhash_n *= 2)
		;
	v->mhash = malloc(v->mhash_n * sizeof *v->mhash);
	if (!v->merge || !v->mhash) {
		seterr(err, errlen, "out of memory");
		return -1;
	}
	memset(v->mhash, 0xff, v->mhash_n * sizeof *v->mhash);
	for (p = kv->val, i = 0; i < v->n_merge; i++) {
		uint32_t h;
		memcpy(&v->merge[i].n, p, 8);
		v->merge[i].p = (const char *)p + 8;
		p += 8 + v->merge[i].n;
		for (h = fnv(v->merge[i].p, v->merge[i].n) & (v->mhash_n - 1); v->mhash[h] >= 0;
		     h = (h + 1) & (v->mhash_n - 1))
			;
		v->mhash[h] = i;
	}
	if (gguf_find(g, "tokenizer.ggml.pre") && gguf_get_str(g, "tokenizer.ggml.pre", &pre, err, errlen))
		return -1;
#define IS(s) (pre.n == strlen(s) && !memcmp(pre.p, s, pre.n))
	if (IS("default")) {
		if (add_re(v, "[\\p{P}\\$\\+<=>\\^~\\|]+", err, errlen) || add_re(v, RE_GPT2, err, errlen) ||
		    add_re(v, "[0-9][0-9][0-9]", err, errlen))
			return -1;
	} else if (IS("gpt2") || IS("gpt-2")) {
		if (add_re(v, RE_GPT2, err, errlen))
			return -1;
	} else if (IS("llama3") || IS("llama-v3") || IS("llama-bpe")) {
		if (add_re(v, RE_LLAMA3, err, errlen))
			return -1;
		v->n_re |= 0x100;   /* ignore merges for whole-word tokens */
	} else if (IS("qwen2")) {
		if (add_re(v, RE_QWEN2, err, errlen))
			return -1;
	} else {
		seterr(err, errlen, "%s: tokenizer.ggml.pre '%.*s' is not supported (default, gpt2, llama3, qwen2)",
		       g->name, (int)(pre.n > 32 ? 32 : pre.n), pre.p);
		return -1;
	}
#undef IS
	return 0;
}

/* tokenizer.ggml.model: SentencePiece ("llama") or byte-level BPE ("gpt2") */
static int vocab_model(struct engine *e, char *err, size_t errlen)
{
	struct gguf_str model;

	if (gguf_get_str(&e->g, "tokenizer.ggml.model", &model, err, errlen))
		return -1;
	if (model.n == 5 && !memcmp(model.p, "llama", 5))
		e->v.spm = 1;
	else if (!(model.n == 4 && !memcmp(model.p, "gpt2", 4))) {
		seterr(err, errlen, "%s: tokenizer.ggml.model '%.*s' is not supported (llama, gpt2)", e->g.name,
		       (int)(model.n > 32 ? 32 : model.n), model.p);
		return -1;
	}
	snprintf(e->info.tokenizer, sizeof e->info.tokenizer, "%s", e->v.spm ? "llama" : "gpt2");
	return 0;
}

/* The token texts (into the file), scores and types; the buffers sized for the vocabulary. */
static int vocab_tokens(struct vocab *v, const struct gguf *g, char *err, size_t errlen)
{
	const struct gguf_kv *toks = gguf_find(g, "tokenizer.ggml.tokens"), *kv;
	const uint8_t *p;
	int i;

	if (!toks || toks->type != GGUF_ARRAY || toks->atype != GGUF_STRING || toks->n == 0 || toks->n > (1u << 22)) {
		seterr(err, errlen, "%s: missing or bad metadata 'tokenizer.ggml.tokens'", g->name);
		return -1;
	}
	v->n = (int)toks->n;
	v->text = calloc((size_t)v->n, sizeof *v->text);
	v->score = calloc((size_t)v->n, sizeof *v->score);
	v->type = calloc((size_t)v->n, sizeof *v->type);
	for (v->hash_n = 16; v->hash_n < 2u * (uint32_t)v->n; v->hash_n *= 2)
		;
	v->hash = malloc(v->hash_n * sizeof *v->hash);
	v->special = malloc((size_t)v->n * sizeof *v->special);
	if (!v->text || !v->score || !v->type || !v->hash || !v->special) {
		seterr(err, errlen, "out of memory");
		return -1;
	}
	for (p = toks->val, i = 0; i < v->n; i++) {
		memcpy(&v->text[i].n, p, 8);
		v->text[i].p = (const char *)p + 8;
		p += 8 + v->text[i].n;
		v->type[i] = 1;
	}
	kv = gguf_find(g, "tokenizer.ggml.scores");
	if (kv && kv->type == GGUF_ARRAY && kv->atype == GGUF_F32 && kv->n == toks->n)
		memcpy(v->score, kv->val, (size_t)v->n * 4);
	kv = gguf_find(g, "tokenizer.ggml.token_type");
	if (kv && kv->type == GGUF_ARRAY && (kv->atype == GGUF_I32 || kv->atype == GGUF_U32) && kv->n == toks->n)
		memcpy(v->type, kv->val, (size_t)v->n * 4);
	return 0;
}

/* The text hash (first occurrence wins), the special tokens longest first, the byte tokens. */
static void vocab_index(struct vocab *v)
{
	int i;

	memset(v->hash, 0xff, v->hash_n * sizeof *v->hash);
	for (i = v->n - 1; i >= 0; i--) {
		uint32_t h;
		int j;
		for (h = fnv(v->text[i].p, v->text[i].n) & (v->hash_n - 1); v->hash[h] >= 0; h = (h + 1) & (v->hash_n - 1)) {
			j = v->hash[h];
			if (v->text[j].n == v->text[i].n && !memcmp(v->text[j].p, v->text[i].p, v->text[i].n))
				break;
		}
		v->hash[h] = i;
	}
	for (i = 0; i < v->n; i++)
		if ((v->type[i] == 3 || v->type[i] == 4) && v->text[i].n > 0)
			v->special[v->n_special++] = i;
	qsort_r(v->special, (size_t)v->n_special, sizeof *v->special, special_cmp, v);
	for (i = 0; i < 256; i++) {
		char b[8];
		int n = v->spm ? snprintf(b, sizeof b, "<0x%02X>", i) : put_utf8(b, byte_cp(i));
		v->byte_tok[i] = vocab_find(v, b, (size_t)n);
	}
}

/* An optional token id KEY into *DST (left alone when absent); -1 when outside the vocabulary. */
static int vocab_id(const struct vocab *v, const struct gguf *g, const char *key, int *dst, char *err, size_t errlen)
{
	uint32_t u;

	if (!gguf_find(g, key))
		return 0;
	if (gguf_get_u32(g, key, &u, err, errlen))
		return -1;
	if (u >= (uint32_t)v->n) {
		seterr(err, errlen, "%s: metadata '%s' = %u is outside the vocabulary", g->name, key, u);
		return -1;
	}
	*dst = (int)u;
	return 0;
}

/* An optional boolean-ish KEY (read as u32), DFLT when absent or unreadable. */
static int vocab_flag(const struct gguf *g, const char *key, int dflt)
{
	uint32_t u;

	if (gguf_find(g, key) && !gguf_get_u32(g, key, &u, NULL, 0))
		return (int)u;
	return dflt;
}

int vocab_load(struct engine *e, char *err, size_t errlen)
{
	struct vocab *v = &e->v;
	const struct gguf *g = &e->g;
	struct gguf_str s;

	memset(v, 0, sizeof *v);
	v->bos = v->eos = v->unk = v->eot = -1;
	if (vocab_model(e, err, errlen) || vocab_tokens(v, g, err, errlen))
		return -1;
	e->info.n_vocab = v->n;
	vocab_index(v);
	if (vocab_id(v, g, "tokenizer.ggml.bos_token_id", &v->bos, err, errlen) ||
	    vocab_id(v, g, "tokenizer.ggml.eos_token_id", &v->eos, err, errlen) ||
	    vocab_id(v, g, "tokenizer.ggml.unknown_token_id", &v->unk, err, errlen) ||
	    vocab_id(v, g, "tokenizer.ggml.eot_token_id", &v->eot, err, errlen))
		return -1;
	e->info.bos = v->bos;
	e->info.eos = v->eos;
	v->add_bos = vocab_flag(g, "tokenizer.ggml.add_bos_token", v->spm);
	v->add_space_prefix = vocab_flag(g, "tokenizer.ggml.add_space_prefix", v->spm);
	if (!v->spm && bpe_load(v, g, err, errlen))
		return -1;
	if (!gguf_get_str(g, "tokenizer.chat_template", &s, NULL, 0))
		e->tmpl = s;
	return 0;
}

void vocab_release(struct vocab *v)
{
	int i;
	for (i = 0; i < (v->n_re & 0xff); i++)
		pcre2_code_free(v->re[i]);
	free(v->text);
	free(v->score);
	free(v->type);
	free(v->hash);
	free(v->merge);
	free(v->mhash);
	free(v->special);
	memset(v, 0, sizeof *v);
}

/* output collector */
struct out { int *t; int max, n; };

static void emit(struct out *o, int t)
{
	if (o->n < o->max)
		o->t[o->n] = t;
	o->n++;
}

/* symbols: [off, len) spans of a working buffer */
struct sym { int off, len; };

static int spm_encode(const struct vocab *v, const char *text, size_t n, int prefix, struct out *o)
{
	size_t cap = n * 3 + 4, bl = 0, i;
	char *buf = malloc(cap);
	struct sym *sy = malloc((cap + 1) * sizeof *sy);
	int ns = 0, k;
	if (!buf || !sy) {
		free(buf);
		free(sy);
		return -1;
	}
	if (prefix) {
		memcpy(buf, "\xe2\x96\x81", 3);
		bl = 3;
	}
	for (i = 0; i < n; i++) {
		if (text[i] == ' ') {
			memcpy(buf + bl, "\xe2\x96\x81", 3);
			bl += 3;
		} else
			buf[bl++] = text[i];
	}
	for (i = 0; i < bl;) {
		size_t l = utf8_len(buf + i, bl - i);
		sy[ns].off = (int)i;
		sy[ns].len = (int)l;
		ns++;
		i += l;
	}
	for (;;) {
		int best = -1;
		float bs = 0;
		for (k = 0; k + 1 < ns; k++) {
			int id = vocab_find(v, buf + sy[k].off, (size_t)(sy[k].len + sy[k + 1].len));
			if (id >= 0 && (best < 0 || v->score[id] > bs)) {
				best = k;
				bs = v->score[id];
			}
		}
		if (best < 0)
			break;
		sy[best].len += sy[best + 1].len;
		memmove(sy + best + 1, sy + best + 2, (size_t)(ns - best - 2) * sizeof *sy);
		ns--;
	}
	for (k = 0; k < ns; k++) {
		int id = vocab_find(v, buf + sy[k].off, (size_t)sy[k].len), j;
		if (id >= 0) {
			emit(o, id);
			continue;
		}
		for (j = 0; j < sy[k].len; j++) {
			int b = v->byte_tok[(uint8_t)buf[sy[k].off + j]];
			emit(o, b >= 0 ? b : v->unk >= 0 ? v->unk : 0);
		}
	}
	free(buf);
	free(sy);
	return 0;
}

static int bpe_word(const struct vocab *v, const char *w, size_t n, struct out *o)
{
	char *buf = malloc(n * 2 + 1);
	struct sym *sy = malloc((n + 1) * sizeof *sy);
	size_t bl = 0, i;
	int ns = 0, k;
	if (!buf || !sy) {
		free(buf);
		free(sy);
		return -1;
	}
	for (i = 0; i < n; i++) {
		int l = put_utf8(buf + bl, byte_cp((uint8_t)w[i]));
		sy[ns].off = (int)bl;
		sy[ns].len = l;
		ns++;
		bl += (size_t)l;
	}
	if ((v->n_re & 0x100) && vocab_find(v, buf, bl) >= 0) {
		emit(o, vocab_find(v, buf, bl));
		goto done;
	}
	for (;;) {
		int best = -1, br = 0;
		for (k = 0; k + 1 < ns; k++) {
			int r = merge_rank(v, buf + sy[k].off, (size_t)sy[k].len, buf + sy[k + 1].off, (size_t)sy[k + 1].len);
			if (r >= 0 && (best < 0 || r < br)) {
				best = k;
				br = r;
			}
		}
		if (best < 0)
			break;
		sy[best].len += sy[best + 1].len;
		memmove(sy + best + 1, sy + best + 2, (size_t)(ns - best - 2) * sizeof *sy);
		ns--;
	}
	for (k = 0; k < ns; k++) {
		int id = vocab_find(v, buf + sy[k].off, (size_t)sy[k].len);
		size_t j, l;
		if (id >= 0) {
			emit(o, id);
			continue;
		}
		for (j = 0; j < (size_t)sy[k].len; j += l) {
			int t = vocab_find(v, buf + sy[k].off + j, utf8_len(buf + sy[k].off + j, (size_t)sy[k].len - j));
			l = utf8_len(buf + sy[k].off + j, (size_t)sy[k].len - j);
			if (t >= 0)
				emit(o, t);
		}
	}
done:
	free(buf);
	free(sy);
	return 0;
}

/* fragments for the regex splitter */
struct frag { size_t off, len; };
struct frags { struct frag *f; size_t n, cap; };

static int frag_add(struct frags *fs, size_t off, size_t len)
{
	if (!len)
		return 0;
	if (fs->n == fs->cap) {
		size_t nc = fs->cap ? fs->cap * 2 : 64;
		struct frag *nf = realloc(fs->f, nc * sizeof *nf);
		if (!nf)
			return -1;
		fs->f = nf;
		fs->cap = nc;
	}
	fs->f[fs->n].off = off;
	fs->f[fs->n].len = len;
	fs->n++;
	return 0;
}

static int bpe_encode(const struct vocab *v, const char *text, size_t n, struct out *o)
{
	struct frags cur = { 0 }, nxt = { 0 };
	pcre2_match_data *md = NULL;
	int r, rc = -1;
	size_t i;
	if (frag_add(&cur, 0, n))
		goto out;
	for (r = 0; r < (v->n_re & 0xff); r++) {
		md = pcre2_match_data_create_from_pattern(v->re[r], NULL);
		if (!md)
			goto out;
		nxt.n = 0;
		for (i = 0; i < cur.n; i++) {
			const char *s = text + cur.f[i].off;
			size_t len = cur.f[i].len, pos = 0, last = 0;
			while (pos < len) {
				int m = pcre2_match(v->re[r], (PCRE2_SPTR)s, len, pos, PCRE2_NO_UTF_CHECK, md, NULL);
				PCRE2_SIZE *ov;
				if (m < 0)
					break;
				ov = pcre2_get_ovector_pointer(md);
				if (ov[1] == ov[0]) {    /* empty match: step one character */
					pos = ov[0] + utf8_len(s + ov[0], len - ov[0]);
					continue;
				}
				if (frag_add(&nxt, cur.f[i].off + last, ov[0] - last) ||
				    frag_add(&nxt, cur.f[i].off + ov[0], ov[1] - ov[0]))
					goto out;
				last = pos = ov[1];
			}
			if (frag_add(&nxt, cur.f[i].off + last, len - last))
				goto out;
		}
		pcre2_match_data_free(md);
		md = NULL;
		{
			struct frags t = cur;
			cur = nxt;
			nxt = t;
		}
	}
	for (i = 0; i < cur.n; i++)
		if (bpe_word(v, text + cur.f[i].off, cur.f[i].len, o))
			goto out;
	rc = 0;
out:
	pcre2_match_data_free(md);
	free(cur.f);
	free(nxt.f);
	return rc;
}

static int valid_utf8(const char *s, size_t n)
{
	size_t i = 0, l;
	while (i < n) {
		uint8_t c = (uint8_t)s[i];
		size_t k;
		decode_utf8(s + i, n - i, &l);
		if (c >= 0x80 && (l == 1 || (c >> 6) == 2))
			return 0;
		for (k = 1; k < l; k++)
			if (((uint8_t)s[i + k] >> 6) != 2)
				return 0;
		if (i + l > n)
			return 0;
		i += l;
	}
	return 1;
}

int engine_tokenize(struct engine *e, const char *text, size_t len, int add_special, int parse_special,
		    int *toks, int max, char *err, size_t errlen)
{
	const struct vocab *v = &e->v;
	struct out o = { toks, max, 0 };
	size_t i = 0, start = 0;
	int prev_special = 1;
	if (!valid_utf8(text, len)) {
		seterr(err, errlen, "text is not valid UTF-8");
		return -1;
	}
	if (add_special && v->add_bos && v->bos >= 0)
		emit(&o, v->bos);
	while (i <= len) {
		int sp = -1, k;
		if (i < len)
			for (k = 0; k < v->n_special; k++) {
				const struct gguf_str *t = &v->text[v->special[k]];
				if ((parse_special || v->type[v->special[k]] == 4) && t->n <= len - i &&
				    !memcmp(text + i, t->p, t->n)) {
					sp = v->special[k];
					break;
				}
			}
		if (sp >= 0 || i == len) {
			if (i > start) {
				int r = v->spm ? spm_encode(v, text + start, i - start, v->add_space_prefix && prev_special, &o)
					       : bpe_encode(v, text + start, i - start, &o);
				if (r) {
					seterr(err, errlen, "out of memory while tokenizing");
					return -1;
				}
				prev_special = 0;
			}
			if (i == len)
				break;
			emit(&o, sp);
			prev_special = 1;
			i += v->text[sp].n;
			start = i;
		} else
			i += utf8_len(text + i, len - i);
	}
	return o.n;
}

int engine_token_piece(const struct engine *e, int tok, char *buf, size_t n)
{
	const struct vocab *v = &e->v;
	const struct gguf_str *t;
	size_t i = 0, o = 0, l;
	if (tok < 0 || tok >= v->n)
		return -1;
	t = &v->text[tok];
	if (v->type[tok] == 3)
		return 0;
	if (v->type[tok] == 4) {
		l = t->n < n ? t->n : n;
		memcpy(buf, t->p, l);
		return (int)l;
	}
	if (v->spm) {
		unsigned b;
		if (v->type[tok] == 6 && t->n == 6 && sscanf(t->p, "<0x%2X>", &b) == 1) {
			if (n)
				buf[0] = (char)b;
			return n ? 1 : 0;
		}
		while (i < t->n && o < n) {
			if (t->n - i >= 3 && !memcmp(t->p + i, "\xe2\x96\x81", 3)) {
				buf[o++] = ' ';
				i += 3;
			} else
				buf[o++] = t->p[i++];
		}
		return (int)o;
	}
	while (i < t->n && o < n) {
		int cp = decode_utf8(t->p + i, t->n - i, &l), b;
		i += l;
		for (b = 0; b < 256; b++)
			if (byte_cp(b) == cp)
				break;
		buf[o++] = (char)(b < 256 ? b : '?');
	}
	return (int)o;
}
