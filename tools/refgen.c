/*
 * refgen.c - prints items of the `ref` suite (src/refsuite.c) for a seed: as
 * native-format JSONL (default) or, with --chat, as the user and assistant
 * messages the reference models are trained on. Build: gcc -O2 -Isrc
 * tools/refgen.c src/refsuite.c src/rng.c src/util.c -o build/refgen
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "refsuite.h"

static void usage(void)
{
	fprintf(stderr, "usage: refgen [--seed S] [--start I] [--n N] [--chat]\n"
		"  default seed %llu (the evaluation seed of --dataset ref)\n",
		(unsigned long long)REFSUITE_EVAL_SEED);
}

/* Prints s as a JSON string. */
static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c == '\n')
			printf("\\n");
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

int main(int argc, char **argv)
{
	unsigned long long seed = REFSUITE_EVAL_SEED, start = 0, n = REFSUITE_DEFAULT_N;
	int chat = 0;
	static char line[4096];
	struct refitem it;

	for (int a = 1; a < argc; a++) {
		if (!strcmp(argv[a], "--chat"))
			chat = 1;
		else if (a + 1 < argc && !strcmp(argv[a], "--seed"))
			seed = strtoull(argv[++a], NULL, 10);
		else if (a + 1 < argc && !strcmp(argv[a], "--start"))
			start = strtoull(argv[++a], NULL, 10);
		else if (a + 1 < argc && !strcmp(argv[a], "--n"))
			n = strtoull(argv[++a], NULL, 10);
		else {
			usage();
			return 2;
		}
	}
	for (unsigned long long i = start; i < start + n; i++) {
		refsuite_item(seed, i, &it);
		if (!chat) {
			if (refsuite_jsonl(&it, line, sizeof(line)) < 0)
				return 1;
			fputs(line, stdout);
			continue;
		}
		if (refsuite_prompt(&it, line, sizeof(line)) < 0)
			return 1;
		printf("{\"id\": ");
		json_str(it.id);
		printf(", \"family\": ");
		json_str(it.family);
		printf(", \"level\": %d, \"answer\": ", it.level);
		json_str(it.answer);
		printf(", \"user\": ");
		json_str(line);
		printf(", \"assistant\": ");
		if (it.task == TASK_MCQ) {
			/* the chosen option's text first, then the letter: one look-up at a time */
			snprintf(line, sizeof(line), "%s\nAnswer: %s", it.choices[it.answer[0] - 'A'], it.answer);
		} else {
			snprintf(line, sizeof(line), "Answer: %s", it.answer);
		}
		json_str(line);
		printf("}\n");
	}
	return ferror(stdout) ? 1 : 0;
}
