/*
 * fuzz_judge.c - libFuzzer target for the judge-verdict parsers
 * (judge_reference_parse, judge_pairwise_parse, pairwise_rule_parse).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "judge.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), verdict[64];
	enum pairwise_rule rule;

	memcpy(s, data, size);
	s[size] = '\0';
	judge_reference_parse(s, verdict, sizeof(verdict));
	judge_pairwise_parse(s, verdict, sizeof(verdict));
	judge_pairwise_parse(s, verdict, 1 + size % 16);
	pairwise_rule_parse(s, &rule);
	free(s);
	return 0;
}
