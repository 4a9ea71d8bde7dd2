/*
 * fuzz_dataset.c - libFuzzer target for the dataset loader and the adapters
 * (dataset_load_mem: native, harness, mmlu_pro, supergpqa, natural_reasoning,
 * wildchat, auto-detect). The first byte picks the format; each loaded item's
 * prompt is built too.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "dataset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const formats[] = {
		"auto", "native", "harness", "mmlu_pro", "supergpqa", "natural_reasoning", "wildchat",
	};
	struct dataset ds;
	char err[256];

	if (size < 1)
		return 0;
	if (dataset_load_mem(&ds, "fuzz", (const char *)data + 1, size - 1,
			     formats[data[0] % (sizeof(formats) / sizeof(formats[0]))], err, sizeof(err)) == 0) {
		for (size_t i = 0; i < ds.n; i++)
			free(item_prompt(&ds.items[i]));
		dataset_shuffle(&ds, size);
		dataset_release(&ds);
	}
	return 0;
}
