/* Chat templates of the built-in engine: ChatML (Qwen), Llama 3 and ipw's own
 * reference-model template, detected from tokenizer.chat_template or chosen
 * by name; anything else is an error rather than a guess. */
#include "engine/internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sbuf { char *p; size_t n, cap; int oom; };

static void put(struct sbuf *b, const char *s)
{
	size_t l = strlen(s);
	if (b->oom)
		return;
	if (b->n + l + 1 > b->cap) {
		size_t nc = (b->n + l + 1) * 2;
		char *np = realloc(b->p, nc);
		if (!np) {
			b->oom = 1;
			return;
		}
		b->p = np;
		b->cap = nc;
	}
	memcpy(b->p + b->n, s, l + 1);
	b->n += l;
}

static int contains(struct gguf_str s, const char *needle)
{
	size_t l = strlen(needle), i;
	for (i = 0; i + l <= s.n; i++)
		if (!memcmp(s.p + i, needle, l))
			return 1;
	return 0;
}

/* the template family of the model's tokenizer.chat_template, or NULL */
static const char *detect(const struct engine *e)
{
	if (!e->tmpl.p)
		return NULL;
	if (contains(e->tmpl, "<|im_start|>"))
		return "chatml";
	if (contains(e->tmpl, "<|start_header_id|>"))
		return "llama3";
	if (contains(e->tmpl, "m['role'] }}: {{ m['content'] }}"))
		return "ipw";
	return NULL;
}

int engine_chat_apply(const struct engine *e, const char *name, const struct engine_msg *msgs, size_t n,
		      int add_generation_prompt, char **out, char *err, size_t errlen)
{
	struct sbuf b = { 0 };
	size_t i;
	*out = NULL;
	if (!name)
		name = detect(e);
	if (!name) {
		snprintf(err, errlen, "%s: %s; choose one of chatml, llama3, ipw by name", e->g.name,
			 e->tmpl.p ? "tokenizer.chat_template is not a known template family"
				   : "no tokenizer.chat_template in the model");
		return -1;
	}
	if (strcmp(name, "chatml") && strcmp(name, "llama3") && strcmp(name, "ipw")) {
		snprintf(err, errlen, "unknown chat template '%s' (chatml, llama3, ipw)", name);
		return -1;
	}
	put(&b, "");
	for (i = 0; i < n; i++) {
		const char *role = msgs[i].role ? msgs[i].role : "user", *c = msgs[i].content ? msgs[i].content : "";
		if (!strcmp(name, "chatml")) {
			put(&b, "<|im_start|>"); put(&b, role); put(&b, "\n"); put(&b, c); put(&b, "<|im_end|>\n");
		} else if (!strcmp(name, "llama3")) {
			put(&b, "<|start_header_id|>"); put(&b, role); put(&b, "<|end_header_id|>\n\n"); put(&b, c);
			put(&b, "<|eot_id|>");
		} else {
			put(&b, role); put(&b, ": "); put(&b, c); put(&b, "\n");
		}
	}
	if (add_generation_prompt)
		put(&b, !strcmp(name, "chatml") ? "<|im_start|>assistant\n"
			: !strcmp(name, "llama3") ? "<|start_header_id|>assistant<|end_header_id|>\n\n" : "assistant:");
	if (b.oom) {
		free(b.p);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	*out = b.p;
	return 0;
}
