/* Fuzz target for the GGUF parser (src/engine/gguf.c): parses the bytes as a
 * GGUF file from memory and walks what it found; must never crash or leak. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "engine/gguf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gguf g;
	char err[256];
	uint64_t i, sum = 0;
	if (gguf_parse(&g, data, size, "fuzz.gguf", err, sizeof err))
		return 0;
	for (i = 0; i < g.n_tensors; i++)
		sum += g.tensors[i].data[0] + g.tensors[i].data[g.tensors[i].nbytes - 1];
	for (i = 0; i < g.n_kv; i++)
		if (g.kv[i].type == GGUF_ARRAY && g.kv[i].atype == GGUF_STRING && g.kv[i].n)
			sum += gguf_arr_str(&g.kv[i], g.kv[i].n - 1).n;
	(void)sum;
	gguf_release(&g);
	return 0;
}
