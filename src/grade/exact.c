/*
 * exact.c - the exact-match grader: the answer, its last \boxed{} or its
 * final line, normalised (case, whitespace, quotes, bold, trailing
 * punctuation, a leading "Answer:"), must equal the normalised reference.
 * See docs/scoring.md.
 */
#include "grade.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static int exact_grade(const struct grade_input *in, struct grade_result *out)
{
	char *text = NULL, *ref = NULL, *whole = NULL, *box = NULL, *boxn = NULL;
	char *line = NULL, *linen = NULL;
	int had_thinking = 0, rc = 0;

	ref = grade_normalise(in->reference);
	if (!*ref) {
		grade_set(out, -1, "", "reference is empty");
		rc = -1;
		goto out;
	}
	text = grade_strip_thinking(in->answer, &had_thinking);
	whole = grade_normalise(text);
	if (!*whole) {
		grade_set(out, 0, "", had_thinking ? "no answer after thinking" : "empty answer");
		goto out;
	}
	if (!strcmp(whole, ref)) {
		grade_set(out, 1, whole, "answer equals reference '%.80s'", ref);
		goto out;
	}
	box = grade_last_boxed(text);
	if (box) {
		boxn = grade_normalise(box);
		if (!strcmp(boxn, ref)) {
			grade_set(out, 1, boxn, "boxed answer equals reference '%.80s'", ref);
			goto out;
		}
	}
	line = grade_final_line(text);
	linen = grade_normalise(line);
	if (!strcmp(linen, ref)) {
		grade_set(out, 1, linen, "final line equals reference '%.80s'", ref);
		goto out;
	}
	grade_set(out, 0, boxn ? boxn : linen, "%s '%.60s' vs reference '%.60s': differ",
		  boxn ? "boxed answer" : "final line", boxn ? boxn : linen, ref);
out:
	free(linen);
	free(line);
	free(boxn);
	free(box);
	free(whole);
	free(text);
	free(ref);
	return rc;
}

const struct grader grader_exact = {
	.name = "exact",
	.grade = exact_grade,
};
