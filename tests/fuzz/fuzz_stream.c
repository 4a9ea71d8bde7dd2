/*
 * fuzz_stream.c - libFuzzer target for the stream parsers (src/client.c's line
 * splitter with openai.c's SSE and ollama.c's NDJSON handlers). The first byte
 * picks the API and the size of the pieces the body is fed in.
 */
#include <stddef.h>
#include <stdint.h>

#include "client/api.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct stream_parser p;
	struct chat_result r;
	const struct http_wire *wire;
	size_t step, i = 0;
	int rc = 0;

	if (size < 1)
		return 0;
	wire = (data[0] & 1 ? &api_ollama : &api_openai)->wire;
	step = (size_t)(data[0] >> 1) + 1;
	data++;
	size--;
	chat_result_init(&r);
	stream_parser_init(&p, wire, &r, 1u << 20);
	while (i < size && rc == 0) {
		size_t n = size - i < step ? size - i : step;
		rc = stream_parser_feed(&p, (const char *)data + i, n, (int64_t)i + 1);
		i += n;
	}
	if (rc == 0)
		stream_parser_finish(&p, (int64_t)size + 1);
	else
		stream_parser_counts(&p);
	stream_parser_release(&p);
	chat_result_release(&r);
	return 0;
}
