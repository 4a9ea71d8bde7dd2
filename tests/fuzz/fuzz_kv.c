/*
 * fuzz_kv.c - libFuzzer target for the key/value file reader (kv_read_mem):
 * the first byte picks the spec (two numbers with count suffixes, one count,
 * or a weight whose key may hold blanks and must be unique).
 */
#include <stddef.h>
#include <stdint.h>

#include "kv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct kv_spec specs[] = {
		{2, {"input", "output"}, 1, 0, 0, "price", "KEY INPUT OUTPUT", "{\"input\": X, \"output\": Y}"},
		{1, {NULL, NULL}, 1, 0, 0, "parameters", "KEY PARAMETERS", "a count"},
		{1, {NULL, NULL}, 0, 1, 1, "weight", "subject,weight", "a number >= 0"},
	};
	struct kv_table t;
	char err[256];

	if (size < 1)
		return 0;
	if (kv_read_mem("fuzz", (const char *)data + 1, size - 1, &specs[data[0] % 3], &t, err, sizeof(err)) == 0) {
		for (size_t i = 0; i < t.n; i++)
			(void)kv_find(&t, t.e[i].key);
		kv_table_release(&t);
	}
	return 0;
}
