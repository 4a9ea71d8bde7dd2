/*
 * adapters.h - readers for JSONL exports of public evaluation sets
 * (MMLU-Pro, SuperGPQA, NaturalReasoning, WildChat): each maps one line of
 * its schema to a native item (task, choices, subject). dataset.c picks one
 * by --format or by the keys of the first line. See docs/datasets.md.
 */
#ifndef IPW_ADAPTERS_H
#define IPW_ADAPTERS_H

#include <stddef.h>

#include <jansson.h>

#include "dataset.h"

struct adapter {
	const char *name;                       /* the --format name, recorded as the run's dataset format */
	int (*detect)(const json_t *first);     /* 1 when a first line has this schema's keys */
	/*
	 * Fills it (all fields, owned by it) from one line, checking what the
	 * task needs. Returns 0, or -1 with "FILE:LINE: what is wrong (what to do)".
	 */
	int (*parse)(const json_t *o, struct item *it, const char *file, int line, char *err, size_t errlen);
};

extern const struct adapter adapter_mmlu_pro;
extern const struct adapter adapter_supergpqa;
extern const struct adapter adapter_natural_reasoning;
extern const struct adapter adapter_wildchat;

/* The registry, NULL-terminated, in detection order. */
extern const struct adapter *const adapters[];

/* The adapter named name ("mmlu_pro"; '-' and '_' are the same), or NULL. */
const struct adapter *adapter_find(const char *name);
/* The first adapter whose detect() accepts the line, or NULL (native / harness). */
const struct adapter *adapter_detect(const json_t *first);

#endif
