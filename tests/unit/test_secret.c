/*
 * test_secret.c - the redaction of secrets (util.h): whole keys and long
 * pieces of them replaced, scrubbing before cutting, NUL bytes, placeholder
 * keys left alone, err_set, and URL user-info stripped.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define KEY "sk-live-0123456789abcdefghijKLMN"

static void setup(void)
{
	unsetenv("IPW_API_KEY");
	unsetenv("OPENAI_API_KEY");
	unsetenv("IPW_JUDGE_API_KEY");
	secret_clear();
	secret_add(KEY);
}

TestSuite(secret, .init = setup);

Test(secret, whole_key_and_its_pieces)
{
	char m[256];
	snprintf(m, sizeof m, "bad key %s, again %s.", KEY, KEY);
	redact_secret(m, sizeof m, NULL);
	cr_assert_str_eq(m, "bad key [redacted], again [redacted].");
	/* a key cut in two by somebody's length limit, and a piece echoed alone */
	snprintf(m, sizeof m, "provided: sk-live-0123| and 89abcdefgh here");
	redact_secret(m, sizeof m, NULL);
	cr_assert_str_eq(m, "provided: [redacted]| and [redacted] here");
	/* shorter than a piece: not a secret */
	snprintf(m, sizeof m, "sk-live is a prefix");
	redact_secret(m, sizeof m, NULL);
	cr_assert_str_eq(m, "sk-live is a prefix");
}

Test(secret, scrubbed_before_cut)
{
	char body[400], out[64];
	memset(body, 'x', 40);
	snprintf(body + 40, sizeof body - 40, " Bearer %s trailing", KEY);
	/* the cut at 60 bytes falls inside the key: the excerpt must not keep its head */
	secret_excerpt(out, sizeof out, body, strlen(body), 60);
	cr_assert_null(strstr(out, "sk-live"), "%s", out);
	cr_assert(strstr(out, "Bearer [redacted]"), "%s", out);
	cr_assert_leq(strlen(out), 63);
	/* err_set formats the whole message, scrubs it, then cuts it */
	err_set(out, 52, "%.*s %s", 40, body, KEY);
	cr_assert_null(strstr(out, "sk-live"), "%s", out);
}

Test(secret, bytes_with_nul_and_placeholders)
{
	char data[64];
	size_t n = 0, outlen = 0;
	char *r;
	memcpy(data, "a\0b ", 4);
	memcpy(data + 4, KEY, strlen(KEY));
	n = 4 + strlen(KEY);
	r = secret_scrub(data, n, &outlen);
	cr_assert_not_null(r);
	cr_assert_eq(outlen, 4 + strlen("[redacted]"));
	cr_assert_eq(memcmp(r, "a\0b [redacted]", outlen), 0);
	free(r);
	cr_assert_null(secret_scrub("nothing here", 12, &outlen));
	/* placeholders ("ollama") are not secrets */
	secret_add("ollama");
	cr_assert_null(secret_scrub("the ollama API", 14, &outlen));
	/* an explicit short key is still removed where it stands whole */
	snprintf(data, sizeof data, "key=abc1 ok");
	redact_secret(data, sizeof data, "abc1");
	cr_assert_str_eq(data, "key=[redacted] ok");
	/* the environment's keys are always secrets */
	setenv("OPENAI_API_KEY", "sk-env-ZYXWVUTSRQ", 1);
	snprintf(data, sizeof data, "echo sk-env-ZYXWVUTSRQ");
	redact_secret(data, sizeof data, NULL);
	cr_assert_str_eq(data, "echo [redacted]");
}

/* A frozen environment: the values at the freeze stay secrets, and a later change is not read. */
Test(secret, freeze_env)
{
	char data[128];
	setenv("IPW_API_KEY", "sk-frozen-ABCDEFGH", 1);
	secret_freeze_env();
	unsetenv("IPW_API_KEY");
	snprintf(data, sizeof data, "echo sk-frozen-ABCDEFGH");
	redact_secret(data, sizeof data, NULL);
	cr_assert_str_eq(data, "echo [redacted]");
	setenv("OPENAI_API_KEY", "sk-after-the-freeze", 1);
	snprintf(data, sizeof data, "echo sk-after-the-freeze");
	redact_secret(data, sizeof data, NULL);
	cr_assert_str_eq(data, "echo sk-after-the-freeze");
	/* secret_clear ends the freeze: the environment is read again */
	secret_clear();
	redact_secret(data, sizeof data, NULL);
	cr_assert_str_eq(data, "echo [redacted]");
	unsetenv("OPENAI_API_KEY");
}

Test(secret, url_userinfo)
{
	char *ui = NULL, *u = url_strip_userinfo("http://bob:pa55word-long@127.0.0.1:8000/v1?x=@y", &ui);
	cr_assert_str_eq(u, "http://127.0.0.1:8000/v1?x=@y");
	cr_assert_str_eq(ui, "bob:pa55word-long");
	free(u);
	free(ui);
	u = url_strip_userinfo("127.0.0.1:8000", &ui);
	cr_assert_str_eq(u, "127.0.0.1:8000");
	cr_assert_null(ui);
	free(u);
}
