// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Unit tests of the sidecar's Accept negotiation (user/sidecar/accept.c):
 * q values of exact, "type/ *" and "* / *" ranges, parameters, blanks and
 * bad q values; which body a 429 gets; and that a 1 MiB Accept header,
 * built so that an element-by-element scan that searches the rest of the
 * header for "q=" does quadratic work, is negotiated in linear work: its
 * CPU time is bounded far above what a linear scan needs (a few ms, with
 * sanitizers) and far below what the quadratic one took (seconds).
 */
#include <stdlib.h>
#include <sys/resource.h>

#include "testing.h"
#include "sidecar/sidecar.h"

TEST_ENV_DEFINE;

#define JSON "application/json"
#define HTML "text/html"

static void test_q_values(void)
{
	static const struct {
		const char *accept, *type;
		double q;
	} cases[] = {
		{ "application/json", JSON, 1 },
		{ "text/html, application/json;q=0.5", JSON, 0.5 },
		{ "text/html, application/json;q=0.5", HTML, 1 },
		{ "application/*;q=0.3, */*;q=0.1", JSON, 0.3 },
		{ "*/*;q=0.1", JSON, 0.1 },
		{ "text/*", JSON, 0 },
		{ "", JSON, 0 },
		{ "application/json;q=0.2, application/*;q=0.9", JSON, 0.2 },
		{ " APPLICATION/JSON ; charset=utf-8 ; Q=0.7 ,text/html", JSON,
		  0.7 },
		{ "application/json;level=1;q=0", JSON, 0 },
		{ "application/json;q=abc", JSON, 0 },
		{ "application/json;q=7", JSON, 1 },
		{ "application/jsonx, application/json-seq", JSON, 0 },
		{ ",,;;,application/json;;q=0.25,,", JSON, 0.25 },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		double q = sc_accept_q(cases[i].accept, cases[i].type);

		if (!ASSERT_TRUE(q > cases[i].q - 1e-9 && q < cases[i].q + 1e-9,
				 cases[i].accept))
			fprintf(stderr, "    q(%s) = %g, expected %g\n",
				cases[i].type, q, cases[i].q);
	}
}

static void test_prefers_json(void)
{
	ASSERT_TRUE(sc_prefers_json("application/json"), "json");
	ASSERT_TRUE(
		sc_prefers_json("application/problem+json, text/html;q=0.9"),
		"problem+json over html");
	ASSERT_FALSE(sc_prefers_json(NULL), "no Accept: html");
	ASSERT_FALSE(sc_prefers_json("*/*"), "anything: html");
	ASSERT_FALSE(sc_prefers_json("text/html,application/json"), "a tie");
	ASSERT_FALSE(
		sc_prefers_json("text/html,application/xhtml+xml,*/*;q=0.8"),
		"a browser");
}

static double cpu_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static void test_large_header_is_linear(void)
{
	/* "a;," repeated: every element has a parameter but no q, then the
	 * answer at the very end. */
	const size_t size = 1 << 20;
	const char *tail = "application/json;q=0.5";
	char *h = malloc(size + 32);
	double t, q;
	size_t i;

	if (!ASSERT_TRUE(h != NULL, "malloc"))
		return;
	for (i = 0; i + 3 <= size; i += 3)
		memcpy(h + i, "a;,", 3);
	strcpy(h + i, tail);
	t = cpu_seconds();
	q = sc_accept_q(h, JSON);
	ASSERT_TRUE(sc_prefers_json(h), "1 MiB Accept: prefers json");
	t = cpu_seconds() - t;
	ASSERT_TRUE(q > 0.49 && q < 0.51, "1 MiB Accept: the q at the end");
	if (!ASSERT_TRUE(t < 2.0, "1 MiB Accept: under 2 s of CPU (linear)"))
		fprintf(stderr, "    took %.2f s of CPU\n", t);
	free(h);
}

int main(void)
{
	RUN_TEST(q_values);
	RUN_TEST(prefers_json);
	RUN_TEST(large_header_is_linear);
	return test_summary();
}
