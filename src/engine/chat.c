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
