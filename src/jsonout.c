/*
 * jsonout.c - JSON values with null for what was not measured (jsonout.h).
 */
#include "jsonout.h"

#include <math.h>

json_t *json_real_or_null(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

json_t *json_count_or_null(long long v)
{
	return v < 0 ? json_null() : json_integer(v);
}

json_t *json_string_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}
