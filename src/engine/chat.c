/* One chat turn on the engine, shared by the in-process API (src/client/builtin.c)
 * and `ipw serve` (src/engine/http.c), so both give the same tokens: apply the
 * chat template, tokenize, start from an empty KV cache, generate. Also the
 * UTF-8 boundary helper that keeps a streamed event from splitting a character. */
#include "engine/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int engine_chat_run(struct engine *e, const char *tmpl, const struct engine_msg *msgs, size_t n,
		    int max_tokens, const struct engine_sampling *s, engine_token_cb cb, void *ud,
		    struct engine_stats *st, char *err, size_t errlen)
{
	char *text = NULL;
	int *toks = NULL, nt, room, rc = -1;

	if (engine_chat_apply(e, tmpl, msgs, n, 1, &text, err, errlen))
		goto out;
	nt = engine_tokenize(e, text, strlen(text), 1, 1, NULL, 0, err, errlen);
	if (nt < 0)
		goto out;
	if (nt >= e->info.n_ctx) {
		snprintf(err, errlen, "the prompt is %d tokens, the context holds %d", nt, e->info.n_ctx);
		goto out;
	}
	toks = malloc((size_t)(nt ? nt : 1) * sizeof *toks);
	if (!toks) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	if (engine_tokenize(e, text, strlen(text), 1, 1, toks, nt, err, errlen) != nt)
		goto out;
	room = e->info.n_ctx - nt;
	if (max_tokens <= 0 || max_tokens > room)
		max_tokens = room;
	engine_rewind(e, 0);
	rc = engine_generate(e, toks, nt, max_tokens, s, cb, ud, st, err, errlen);
out:
	free(text);
	free(toks);
	return rc;
}

size_t engine_utf8_complete(const char *s, size_t n)
{
	size_t i = n, k = 0;
	/* step back over at most 3 continuation bytes to the last lead byte */
	while (i > 0 && k < 4 && ((unsigned char)s[i - 1] & 0xC0) == 0x80) {
		i--;
		k++;
	}
	if (i == 0)
		return k ? n : 0;
	{
		unsigned char c = (unsigned char)s[i - 1];
		size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
		if (c < 0x80 || c >= 0xF8)
			return n;
		return k + 1 >= need ? n : i - 1;
	}
}

/* Length of the valid UTF-8 sequence at S (N bytes left), 0 when it is not one. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	unsigned c = s[0], cp;
	size_t need, i;

	if (c < 0x80)
		return 1;
	need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
	if (!need || c > 0xF4 || need > n)
		return 0;
	cp = c & (0x3F >> (need - 1));
	for (i = 1; i < need; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3F);
	}
	if ((need == 3 && cp < 0x800) || (need == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
	    (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return need;
}

size_t engine_utf8_sanitize(const char *in, size_t n, char *out)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t i = 0, k = 0, l;

	while (i < n) {
		l = utf8_seq(s + i, n - i);
		if (l) {
			memcpy(out + k, s + i, l);
			k += l;
			i += l;
		} else {
			memcpy(out + k, "\xEF\xBF\xBD", 3);
			k += 3;
			i++;
		}
	}
	return k;
}

size_t engine_utf8_take(struct engine_utf8_hold *h, const char *text, size_t len, char *out)
{
	char buf[ENGINE_PIECE_MAX];
	size_t n, ok;

	if (h->held + len > sizeof buf) {
		h->held = 0; /* no token piece is this long; drop it rather than overflow */
		return 0;
	}
	memcpy(buf, h->hold, h->held);
	memcpy(buf + h->held, text, len);
	n = h->held + len;
	ok = engine_utf8_complete(buf, n);
	h->held = n - ok < sizeof h->hold ? n - ok : 0;
	memcpy(h->hold, buf + ok, h->held);
	return ok ? engine_utf8_sanitize(buf, ok, out) : 0;
}

size_t engine_utf8_flush(struct engine_utf8_hold *h, char *out)
{
	size_t n = engine_utf8_sanitize(h->hold, h->held, out);
	h->held = 0;
	return n;
}
