/*
 * fuzz_meta.c - libFuzzer target for the JSON readers of the paper's
 * analyses: the model metadata file (meta_read_mem) and the GDI scenario
 * (gdi_read_mem, then gdi_compute); the first byte picks which.
 */
#include <stddef.h>
#include <stdint.h>

#include "analysis/paper.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];

	if (size < 1)
		return 0;
	if (data[0] & 1) {
		struct gdi_scenario sc;
		if (gdi_read_mem("fuzz", (const char *)data + 1, size - 1, &sc, err, sizeof(err)) == 0) {
			gdi_compute(&sc);
			gdi_release(&sc);
		}
	} else {
		struct meta_file f;
		if (meta_read_mem("fuzz", (const char *)data + 1, size - 1, &f, err, sizeof(err)) == 0) {
			for (size_t i = 0; i < f.nm; i++)
				(void)meta_quant_bits(f.m[i].quant);
			(void)meta_accel_find(&f, f.na ? f.a[0].key : NULL);
			meta_release(&f);
		}
	}
	return 0;
}
