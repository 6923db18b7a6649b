/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A tiny assertion layer for the C tests, in the style of the kernel's BPF
 * selftests. Each ASSERT_* prints what differed and returns false, so that
 * `if (!ASSERT_EQ(a, b, "what")) goto out;` works. A test file defines its
 * cases as `static void test_NAME(void)`, runs them with RUN_TEST(NAME)
 * and ends main with `return test_summary();`, which prints the closing
 * line `N passed, N failed[, N skipped]`. A subtest (one case of a table)
 * is counted on its own with SUBTEST_BEGIN / SUBTEST_END.
 */
#ifndef XL_TESTING_H
#define XL_TESTING_H

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

struct test_env {
	int passed, failed, skipped;
	int cur_failed; /* assertions failed in the current test */
	bool cur_skipped;
	const char *cur_name;
	char skip_reason[256];
};

extern struct test_env test_env;

#define TEST_ENV_DEFINE struct test_env test_env

static inline void test__fail(void)
{
	test_env.cur_failed++;
}

#define ASSERT_TRUE(cond, name)                                                \
	({                                                                     \
		bool ___ok = (cond);                                           \
		if (!___ok) {                                                  \
			test__fail();                                          \
			fprintf(stderr, "  %s:%d: %s: %s: unexpected false\n", \
				__FILE__, __LINE__, test_env.cur_name, name);  \
		}                                                              \
		___ok;                                                         \
	})

#define ASSERT_FALSE(cond, name) ASSERT_TRUE(!(cond), name)

#define ASSERT_EQ(actual, expected, name)                                     \
	({                                                                    \
		long long ___a = (long long)(actual);                         \
		long long ___e = (long long)(expected);                       \
		bool ___ok = ___a == ___e;                                    \
		if (!___ok) {                                                 \
			test__fail();                                         \
			fprintf(stderr,                                       \
				"  %s:%d: %s: %s: got %lld, expected %lld\n", \
				__FILE__, __LINE__, test_env.cur_name, name,  \
				___a, ___e);                                  \
		}                                                             \
		___ok;                                                        \
	})

#define ASSERT_U64_EQ(actual, expected, name)                                \
	({                                                                   \
		uint64_t ___a = (uint64_t)(actual);                          \
		uint64_t ___e = (uint64_t)(expected);                        \
		bool ___ok = ___a == ___e;                                   \
		if (!___ok) {                                                \
			test__fail();                                        \
			fprintf(stderr,                                      \
				"  %s:%d: %s: %s: got %" PRIu64              \
				", expected %" PRIu64 "\n",                  \
				__FILE__, __LINE__, test_env.cur_name, name, \
				___a, ___e);                                 \
		}                                                            \
		___ok;                                                       \
	})

#define ASSERT_STREQ(actual, expected, name)                                 \
	({                                                                   \
		const char *___a = (actual), *___e = (expected);             \
		bool ___ok = ___a && ___e && strcmp(___a, ___e) == 0;        \
		if (!___ok) {                                                \
			test__fail();                                        \
			fprintf(stderr,                                      \
				"  %s:%d: %s: %s: got \"%s\", expected "     \
				"\"%s\"\n",                                  \
				__FILE__, __LINE__, test_env.cur_name, name, \
				___a ? ___a : "(null)",                      \
				___e ? ___e : "(null)");                     \
		}                                                            \
		___ok;                                                       \
	})

#define ASSERT_OK(err, name) ASSERT_EQ(err, 0, name)

/* Skip the current test or subtest; it counts as skipped, not passed. */
#define test__skip(...)                                                      \
	do {                                                                 \
		test_env.cur_skipped = true;                                 \
		snprintf(test_env.skip_reason, sizeof(test_env.skip_reason), \
			 __VA_ARGS__);                                       \
	} while (0)

static inline void test__begin(const char *name)
{
	test_env.cur_name = name;
	test_env.cur_failed = 0;
	test_env.cur_skipped = false;
	test_env.skip_reason[0] = '\0';
}

static inline void test__end(void)
{
	if (test_env.cur_failed) {
		test_env.failed++;
		printf("FAIL %s\n", test_env.cur_name);
	} else if (test_env.cur_skipped) {
		test_env.skipped++;
		printf("SKIP %s (%s)\n", test_env.cur_name,
		       test_env.skip_reason);
	} else {
		test_env.passed++;
		printf("ok   %s\n", test_env.cur_name);
	}
	fflush(stdout);
}

#define RUN_TEST(fn)              \
	do {                      \
		test__begin(#fn); \
		test_##fn();      \
		test__end();      \
	} while (0)

#define SUBTEST_BEGIN(name) test__begin(name)
#define SUBTEST_END() test__end()

static inline int test_summary(void)
{
	if (test_env.skipped)
		printf("%d passed, %d failed, %d skipped\n", test_env.passed,
		       test_env.failed, test_env.skipped);
	else
		printf("%d passed, %d failed\n", test_env.passed,
		       test_env.failed);
	return test_env.failed ? 1 : 0;
}

#endif /* XL_TESTING_H */
