/*
 * fuzz_stream.c - libFuzzer target for the stream parsers (src/client.c's line
 * splitter with openai.c's SSE and ollama.c's NDJSON handlers). The first byte
 * picks the API and the size of the pieces the body is fed in. Every input is
 * parsed twice, with the fast path and with jansson alone: a difference in what
 * they record aborts (stream_agree.h).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "client/api.h"
#include "stream_agree.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct http_wire *wire;
	char why[1024];
	long long nfast;
	size_t step;

	if (size < 1)
		return 0;
	wire = (data[0] & 1 ? &api_ollama : &api_openai)->wire;
	step = (size_t)(data[0] >> 1) + 1;
	if (stream_paths_agree(wire, (const char *)data + 1, size - 1, step, why, sizeof why, &nfast)) {
		fprintf(stderr, "fuzz_stream: the fast path and jansson disagree: %s\n", why);
		abort();
	}
	return 0;
}
