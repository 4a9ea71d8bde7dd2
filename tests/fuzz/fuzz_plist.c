/*
 * fuzz_plist.c - libFuzzer target for the powermetrics XML plist scanner
 * (src/telemetry/apple.c's pm_parse, through apple_pm_parse). The document
 * is copied so that reads past its end are caught.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int apple_pm_parse(const char *text, size_t len, char *err, size_t errlen);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *doc = malloc(size ? size : 1), err[256];

	memcpy(doc, data, size);
	apple_pm_parse(doc, size, err, sizeof(err));
	free(doc);
	return 0;
}
