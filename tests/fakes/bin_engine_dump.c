/* Test-only front end of the built-in engine: loads a GGUF and prints, as JSON,
 * token ids for each string of a JSON array (tokenize), or a greedy
 * continuation with the top logits and log-probabilities at each step (generate).
 * Usage: engine_dump MODEL tokenize STRINGS.json
 *        engine_dump MODEL generate PROMPT N_TOKENS [N_TOP] [THREADS]
 *        engine_dump MODEL bench N_PROMPT N_GEN THREADS */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"

static int tokenize(struct engine *e, const char *path)
{
	json_error_t je;
	json_t *arr = json_load_file(path, 0, &je), *out = json_array();
	char err[512];
	size_t i;
	if (!json_is_array(arr)) {
		fprintf(stderr, "engine_dump: %s: %s\n", path, je.text);
		return 1;
	}
	for (i = 0; i < json_array_size(arr); i++) {
		const char *s = json_string_value(json_array_get(arr, i));
		size_t len = json_string_length(json_array_get(arr, i));
		int *toks = malloc((len * 4 + 8) * sizeof *toks), n, k;
		json_t *ids = json_array();
		n = engine_tokenize(e, s, len, 0, 1, toks, (int)(len * 4 + 8), err, sizeof err);
		if (n < 0) {
			fprintf(stderr, "engine_dump: %s\n", err);
			return 1;
		}
		for (k = 0; k < n; k++)
			json_array_append_new(ids, json_integer(toks[k]));
		json_array_append_new(out, ids);
		free(toks);
	}
	json_dumpf(out, stdout, JSON_COMPACT);
	printf("\n");
	json_decref(out);
	json_decref(arr);
	return 0;
}

struct top { int id; float v; };

static int generate(struct engine *e, const char *prompt, int n_gen, int n_top)
{
	struct engine_info in;
	char err[512];
	int toks[4096], n, i, k;
	json_t *out = json_object(), *gen = json_array(), *steps = json_array(), *pt = json_array();
	engine_get_info(e, &in);
	n = engine_tokenize(e, prompt, strlen(prompt), 1, 1, toks, 4096, err, sizeof err);
	if (n < 0 || n > 4096) {
		fprintf(stderr, "engine_dump: tokenize: %s\n", n < 0 ? err : "too long");
		return 1;
	}
	for (i = 0; i < n; i++)
		json_array_append_new(pt, json_integer(toks[i]));
	for (i = 0; i < n_gen; i++) {
		const float *lg;
		float *l, mx, sum = 0;
		struct top *tp = calloc((size_t)n_top, sizeof *tp);
		json_t *st = json_array();
		int tok, j;
		if (engine_eval(e, i == 0 ? toks : &toks[n + i - 1], i == 0 ? n : 1, &lg, err, sizeof err)) {
			fprintf(stderr, "engine_dump: %s\n", err);
			return 1;
		}
		l = malloc((size_t)in.n_vocab * sizeof *l);
		memcpy(l, lg, (size_t)in.n_vocab * sizeof *l);
		mx = l[0];
		for (j = 0; j < in.n_vocab; j++)
			if (l[j] > mx) mx = l[j];
		for (j = 0; j < in.n_vocab; j++)
			sum += expf(l[j] - mx);
		for (k = 0; k < n_top; k++) {
			int b = -1;
			for (j = 0; j < in.n_vocab; j++) {
				int used = 0, q;
				for (q = 0; q < k; q++)
					used |= tp[q].id == j;
				if (!used && (b < 0 || l[j] > l[b]))
					b = j;
			}
			tp[k].id = b;
			tp[k].v = l[b];
			json_array_append_new(st, json_pack("{s:i,s:f,s:f}", "id", b, "logit", (double)l[b],
							    "logprob", (double)(l[b] - mx - logf(sum))));
		}
		tok = engine_sample(e, l, NULL);
		json_array_append_new(steps, st);
		json_array_append_new(gen, json_integer(tok));
		toks[n + i] = tok;
		free(l);
		free(tp);
	}
	json_object_set_new(out, "prompt", pt);
	json_object_set_new(out, "tokens", gen);
	json_object_set_new(out, "top", steps);
	json_dumpf(out, stdout, JSON_COMPACT);
	printf("\n");
	json_decref(out);
	return 0;
}

static int cb(void *ud, int token, const char *text, size_t len, double t_ms)
{
	return 0;
}

static int bench(struct engine *e, int n_prompt, int n_gen)
{
	struct engine_info in;
	struct engine_stats st;
	char err[512];
	int *toks, i, r;
	engine_get_info(e, &in);
	toks = malloc((size_t)n_prompt * sizeof *toks);
	for (i = 0; i < n_prompt; i++)
		toks[i] = (i * 7919 + 13) % in.n_vocab;
	r = engine_generate(e, toks, n_prompt, n_gen, NULL, cb, NULL, &st, err, sizeof err);
	free(toks);
	if (r < 0) {
		fprintf(stderr, "engine_dump: %s\n", err);
		return 1;
	}
	printf("{\"n_prompt\":%d,\"n_gen\":%d,\"prefill_tps\":%.2f,\"decode_tps\":%.2f}\n", st.n_prompt, st.n_gen,
	       st.n_prompt / (st.prefill_ms / 1e3), st.n_gen > 1 ? (st.n_gen - 1) / (st.decode_ms / 1e3) : 0.0);
	return 0;
}

int main(int argc, char **argv)
{
	struct engine *e;
	struct engine_opts o = { 1, 0 };
	char err[512];
	int rc = 2;
	if (argc < 3) {
		fprintf(stderr, "usage: engine_dump MODEL tokenize FILE | generate PROMPT N [TOP] [THREADS] | bench NP NG THREADS\n");
		return 2;
	}
	if (!strcmp(argv[2], "generate") && argc > 6)
		o.n_threads = atoi(argv[6]);
	if (!strcmp(argv[2], "bench") && argc > 5)
		o.n_threads = atoi(argv[5]);
	if (engine_load(&e, argv[1], &o, err, sizeof err)) {
		fprintf(stderr, "engine_dump: %s\n", err);
		return 1;
	}
	if (!strcmp(argv[2], "tokenize") && argc > 3)
		rc = tokenize(e, argv[3]);
	else if (!strcmp(argv[2], "generate") && argc > 4)
		rc = generate(e, argv[3], atoi(argv[4]), argc > 5 ? atoi(argv[5]) : 5);
	else if (!strcmp(argv[2], "bench") && argc > 4)
		rc = bench(e, atoi(argv[3]), atoi(argv[4]));
	engine_free(e);
	return rc;
}
