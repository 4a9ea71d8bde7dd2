/*
 * fuzz_grade.c - libFuzzer target for the offline graders (mcq, numeric,
 * exact, regex). Input: a selector byte, then answer NUL reference NUL
 * choices separated by NUL; the selector picks the grader and settings.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "grade.h"

#define MAX_CHOICES 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct grader *const gs[] = {&grader_mcq, &grader_numeric, &grader_exact, &grader_regex};
	const char *parts[2 + MAX_CHOICES + 1] = {0};
	struct grade_settings st;
	struct grade_input in;
	struct grade_result out;
	char *buf;
	int np = 0;

	if (size < 1)
		return 0;
	buf = malloc(size);
	memcpy(buf, data + 1, size - 1);
	buf[size - 1] = '\0';
	for (char *p = buf; np < 2 + MAX_CHOICES && p <= buf + size - 1; p += strlen(p) + 1)
		parts[np++] = p;
	grade_settings_init(&st);
	st.regex_icase = data[0] >> 7;
	if (data[0] & 0x40)
		st.pattern = parts[1];
	memset(&in, 0, sizeof(in));
	in.answer = parts[0] ? parts[0] : "";
	in.reference = parts[1] ? parts[1] : "";
	in.settings = data[0] & 0x20 ? &st : NULL;
	if (np > 2) {
		in.choices = parts + 2;          /* NULL-terminated after the last one */
		in.nchoices = data[0] & 0x10 ? np - 2 : 0;
	}
	gs[data[0] & 3]->grade(&in, &out);
	free(buf);
	return 0;
}
