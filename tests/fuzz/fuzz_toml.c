/*
 * fuzz_toml.c - libFuzzer target for the router's TOML-subset reader
 * (router_toml_parse, src/router/config.c): any bytes either give a JSON tree
 * or an error message, never a crash, a leak or a read past the text.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "router/router.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), err[256];
	json_t *t;

	memcpy(s, data, size);
	s[size] = '\0';
	err[0] = '\0';
	t = router_toml_parse(s, err, sizeof(err));
	if (!t && !err[0])
		abort(); /* an error must say what it is */
	json_decref(t);
	free(s);
	return 0;
}
