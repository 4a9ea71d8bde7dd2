/*
 * client/registry.c - the server APIs ipw can talk to, selected by name
 * (--api NAME; "auto" tries each one's detect() in this order). Adding an API
 * is one file in src/client/ exporting a const struct api_backend, plus one
 * line here.
 */
#include <stdio.h>
#include <string.h>

#include "client/api.h"

/* Ollama first: its probe is specific, while anything answering /v1/models counts as OpenAI. */
const struct api_backend *const api_backends[] = {
	&api_ollama,
	&api_openai,
	&api_builtin,
	NULL,
};

const char *api_backend_name(const struct api_backend *b)
{
	return b ? b->name : "auto";
}

void api_names(char *out, size_t n, const char *sep)
{
	size_t k = 0;
	int w;

	if (!n)
		return;
	out[0] = 0;
	for (size_t i = 0; api_backends[i]; i++) {
		w = snprintf(out + k, n - k, "%s%s", api_backends[i]->name, sep);
		if (w < 0 || (size_t)w >= n - k)
			return;
		k += (size_t)w;
	}
	snprintf(out + k, n - k, "auto");
}

int api_lookup(const char *name, const struct api_backend **out, char *err, size_t errlen)
{
	char names[256];

	*out = NULL;
	if (!name || !*name || !strcmp(name, "auto"))
		return 0;
	for (size_t i = 0; api_backends[i]; i++) {
		if (!strcmp(api_backends[i]->name, name)) {
			*out = api_backends[i];
			return 0;
		}
	}
	api_names(names, sizeof names, ", ");
	return err_set(err, errlen, "unknown API '%s' (known: %s)", name, names);
}
