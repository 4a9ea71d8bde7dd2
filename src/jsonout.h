/*
 * jsonout.h - building JSON output where "not measured" is null, never 0:
 * the one place the commands turn NAN, -1 counts and NULL strings into null.
 */
#ifndef IPW_JSONOUT_H
#define IPW_JSONOUT_H

#include <jansson.h>

/* A number, or null when v is NAN or infinite. New reference. */
json_t *json_real_or_null(double v);
/* A count, or null when v < 0 (unknown). New reference. */
json_t *json_count_or_null(long long v);
/* A string, or null when s is NULL. New reference. */
json_t *json_string_or_null(const char *s);

#endif
