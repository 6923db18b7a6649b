/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Unit tests of the rate limit string parser (user/lib/limit_parse.c): the table of
 * SEMANTICS.md §1, a corpus of strings checked against python3-limits,
 * the deliberate differences from it, linear time on pathological input,
 * the text form and the error messages.
 *
 * Usage: test_parse CORPUS, where CORPUS is the output of
 * tests/unit/parse_oracle.py (its header says the format). Without it the
 * corpus tests are skipped.
 */
#include "limit_parse.h"
#include "xlimit.h"
#include "testing.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

TEST_ENV_DEFINE;

/* Room for every item a string of XL_LIMIT_STR_MAX bytes can hold. */
#define ITEMS_MAX XL_LIMIT_STR_MAX
#define ERR_SIZE 256

static struct xl_parsed_limit items[ITEMS_MAX];
static const char *corpus_path;

/* ---- helpers ---- */

/* Writes xl_parse_limits()'s verdict on s in the corpus notation: "err",
 * or "ok" and "amount:multiples:unit:seconds" per item. Returns what
 * xl_parse_limits() returned; its message goes to err. */
static int verdict(const char *s, char *buf, size_t len, char *err)
{
	int n = xl_parse_limits(s, items, ITEMS_MAX, err, ERR_SIZE);
	size_t off;

	if (n < 0) {
		snprintf(buf, len, "err");
		return -1;
	}
	off = snprintf(buf, len, "ok");
	for (int i = 0; i < n && off < len; i++)
		off += snprintf(buf + off, len - off,
				" %" PRIu64 ":%" PRIu64 ":%s:%" PRIu64,
				items[i].amount, items[i].multiples,
				xl_unit_name(items[i].unit), items[i].seconds);
	return n;
}

/* Prints s with C escapes, so that whitespace and bytes are visible. */
static void print_escaped(FILE *f, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		const char *esc = strchr("\t\n\v\f\r", *p);

		if (esc)
			fprintf(f, "\\%c", "tnvfr"[esc - "\t\n\v\f\r"]);
		else if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20 || *p >= 0x7f)
			fprintf(f, "\\x%02x", *p);
		else
			fputc(*p, f);
	}
}

/* head, then n times c, then tail, in a new string. */
static char *repeat(const char *head, char c, size_t n, const char *tail)
{
	size_t h = strlen(head), t = strlen(tail);
	char *s = malloc(h + n + t + 1);

	if (!s)
		abort();
	memcpy(s, head, h);
	memset(s + h, c, n);
	memcpy(s + h + n, tail, t + 1);
	return s;
}

/* ---- 1. the table of SEMANTICS.md §1, and the quirks it names ---- */

/* Expected results in the corpus notation (see verdict()). */
static const struct {
	const char *in, *want;
} table[] = {
	{ "10 per minute", "ok 10:1:minute:60" },
	{ "10/second", "ok 10:1:second:1" },
	{ "100 per 2 hours", "ok 100:2:hour:7200" },
	{ "10per minute", "ok 10:1:minute:60" },
	{ "10 PERMINUTE", "ok 10:1:minute:60" },
	{ "10/2second", "ok 10:2:second:2" },
	{ "10 per 007 seconds", "ok 10:7:second:7" },
	{ "10 per 0 seconds", "ok 10:1:second:1" },
	{ "1 per year", "ok 1:1:year:31104000" },
	{ "1/day;2/hour", "ok 1:1:day:86400 2:1:hour:3600" },
	{ "1/day, 2/hour", "ok 1:1:day:86400 2:1:hour:3600" },
	{ "1/day | 2/hour", "ok 1:1:day:86400 2:1:hour:3600" },
	{ "", "err" },
	{ "1/day;;2/hour", "err" },
	{ "1/day;", "err" },
	{ "10 per 2", "err" },
	{ "10 per sec", "err" },
	{ "1.5/second", "err" },
	{ "-1/second", "err" },
	{ "10 / per minute", "err" },
	{ "10/second 5/minute", "err" },
	{ "10 per 1 2 minute", "err" },
	/* the quirks kept for compatibility */
	{ "1/second:,5/minute", "ok 1:1:second:1 5:1:minute:60" },
	{ "0 per second", "ok 0:1:second:1" },
	{ "1 per month", "ok 1:1:month:2592000" },
};

static void run_table(void)
{
	char name[96], got[256], err[ERR_SIZE];

	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		snprintf(name, sizeof(name), "table '%s'", table[i].in);
		SUBTEST_BEGIN(name);
		verdict(table[i].in, got, sizeof(got), err);
		if (!ASSERT_STREQ(got, table[i].want, "result"))
			fprintf(stderr, "  (message: %s)\n", err);
		if (!strcmp(got, "err"))
			ASSERT_TRUE(err[0] != '\0', "message");
		SUBTEST_END();
	}
}

/* ---- 2. the corpus: xlimit and python3-limits agree ---- */

struct corpus_case {
	char *buf; /* the line, which the strings below point into */
	int line;
	char expect; /* '=' same verdict as limits, '!' xlimit rejects */
	char *input;
	char *limits; /* limits' verdict */
	char *why; /* for '!' */
};

static struct corpus_case *corpus;
static int corpus_len;

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Decodes lower-case hex in place; fails on a NUL byte or bad digit. */
static int unhex(char *s)
{
	size_t len = strlen(s), i;

	if (len % 2)
		return -1;
	for (i = 0; i < len / 2; i++) {
		int hi = hex_value(s[2 * i]), lo = hex_value(s[2 * i + 1]);

		if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
			return -1;
		s[i] = (char)(hi << 4 | lo);
	}
	s[i] = '\0';
	return 0;
}

/* Splits one corpus line into c; returns -1 if it is malformed. */
static int parse_corpus_line(char *line, struct corpus_case *c)
{
	char *f[4] = { line };
	int n = 1;

	for (char *p = line; *p && n < 4; p++)
		if (*p == '\t') {
			*p = '\0';
			f[n++] = p + 1;
		}
	if (n < 3 || strlen(f[0]) != 1 || (f[0][0] != '=' && f[0][0] != '!'))
		return -1;
	if (unhex(f[1]))
		return -1;
	c->expect = f[0][0];
	c->input = f[1];
	c->limits = f[2];
	c->why = n > 3 ? f[3] : "";
	return 0;
}

/* Reads the corpus into memory; the lines stay allocated until exit. */
static int load_corpus(const char *path)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int lineno = 0;

	if (!f) {
		fprintf(stderr, "  cannot open corpus %s: %s\n", path,
			strerror(errno));
		return -1;
	}
	while ((len = getline(&line, &cap, f)) >= 0) {
		struct corpus_case c = { .buf = line, .line = ++lineno };

		if (len && line[len - 1] == '\n')
			line[--len] = '\0';
		if (!len || line[0] == '#')
			continue;
		if (parse_corpus_line(line, &c)) {
			fprintf(stderr, "  %s:%d: malformed line\n", path,
				lineno);
			goto fail;
		}
		corpus = realloc(corpus, (corpus_len + 1) * sizeof(*corpus));
		if (!corpus)
			abort();
		corpus[corpus_len++] = c;
		line = NULL; /* the case points into it */
		cap = 0;
	}
	free(line);
	fclose(f);
	return 0;
fail:
	free(line);
	fclose(f);
	return -1;
}

static void report_mismatch(const struct corpus_case *c, const char *ours,
			    const char *err)
{
	fprintf(stderr, "  corpus line %d: input \"", c->line);
	print_escaped(stderr, c->input);
	fprintf(stderr, "\"\n    limits: %s%s%s\n    xlimit: %s%s%s\n",
		c->limits, c->expect == '!' ? " (xlimit must reject: " : "",
		c->expect == '!' ? c->why : "", ours, err[0] ? ": " : "", err);
	if (c->expect == '!')
		fprintf(stderr, "    (deliberate difference)\n");
}

static bool corpus_ready(void)
{
	if (!corpus_path) {
		test__skip("no corpus: run with the output of parse_oracle.py");
		return false;
	}
	if (!corpus && load_corpus(corpus_path)) {
		ASSERT_TRUE(false, "load corpus");
		return false;
	}
	return true;
}

/* Every "=" line: the same verdict as limits, items and all. */
static void test_corpus_agrees_with_limits(void)
{
	static char ours[64 * 1024];
	int total = 0, accepted = 0, differ = 0;
	char err[ERR_SIZE];

	if (!corpus_ready())
		return;
	for (int i = 0; i < corpus_len; i++) {
		const struct corpus_case *c = &corpus[i];

		if (c->expect != '=')
			continue;
		total++;
		err[0] = '\0';
		if (verdict(c->input, ours, sizeof(ours), err) > 0)
			accepted++;
		if (strcmp(ours, c->limits)) {
			differ++;
			report_mismatch(c, ours, err);
		}
	}
	printf("  corpus: %d cases (%d accepted, %d rejected), %d differ\n",
	       total, accepted, total - accepted, differ);
	ASSERT_EQ(differ, 0, "cases where xlimit and limits differ");
	ASSERT_TRUE(total >= 500, "at least 500 cases");
	ASSERT_TRUE(accepted >= 100 && total - accepted >= 100,
		    "both verdicts well represented");
}

/* Every "!" line: limits accepts it, xlimit deliberately rejects it. */
static void test_corpus_deliberate_differences(void)
{
	static char ours[64 * 1024];
	int total = 0, differ = 0;
	char err[ERR_SIZE];

	if (!corpus_ready())
		return;
	for (int i = 0; i < corpus_len; i++) {
		const struct corpus_case *c = &corpus[i];

		if (c->expect != '!')
			continue;
		total++;
		if (strncmp(c->limits, "ok", 2) ||
		    verdict(c->input, ours, sizeof(ours), err) >= 0) {
			differ++;
			report_mismatch(c, ours, err);
		}
	}
	printf("  corpus: %d deliberate differences, %d not as expected\n",
	       total, differ);
	ASSERT_EQ(differ, 0, "deliberate differences not as expected");
	ASSERT_TRUE(total > 0, "deliberate differences listed");
}

/* ---- the deliberate differences, without the oracle ---- */

/* Rejected, with a message that contains `what`. */
static bool rejects(const char *s, const char *what)
{
	char err[ERR_SIZE] = "";
	int n = xl_parse_limits(s, items, ITEMS_MAX, err, sizeof(err));

	if (!ASSERT_EQ(n, -1, "rejected")) {
		fprintf(stderr, "  input: \"");
		print_escaped(stderr, s);
		fprintf(stderr, "\"\n");
		return false;
	}
	if (!ASSERT_TRUE(strstr(err, what) != NULL, what)) {
		fprintf(stderr, "  message: %s\n", err);
		return false;
	}
	return true;
}

static void test_amount_overflow(void)
{
	char err[ERR_SIZE];

	ASSERT_EQ(xl_parse_limits("18446744073709551615/second", items, 1, err,
				  sizeof(err)),
		  1, "2^64-1 accepted");
	ASSERT_U64_EQ(items[0].amount, UINT64_MAX, "amount 2^64-1");
	rejects("18446744073709551616/second",
		"amount '18446744073709551616' at offset 0 is over "
		"18446744073709551615");
	rejects("1/day; 99999999999999999999999 per minute",
		"amount '99999999999999999999999' at offset 7");
	rejects("1/18446744073709551616 seconds",
		"multiple '18446744073709551616' at offset 2");
}

/* For each unit, the longest period that fits in 64 bits is accepted and
 * one more is rejected. */
static void test_period_overflow(void)
{
	char in[64], err[ERR_SIZE];

	for (int u = XL_UNIT_SECOND; u <= XL_UNIT_YEAR; u++) {
		uint64_t unit_s, max;

		snprintf(in, sizeof(in), "1/1 %s", xl_unit_name(u));
		xl_parse_limits(in, items, 1, err, sizeof(err));
		unit_s = items[0].seconds;
		max = UINT64_MAX / unit_s;

		snprintf(in, sizeof(in), "1/%" PRIu64 " %ss", max,
			 xl_unit_name(u));
		if (ASSERT_EQ(xl_parse_limits(in, items, 1, err, sizeof(err)),
			      1, in))
			ASSERT_U64_EQ(items[0].seconds, max * unit_s, in);
		if (u == XL_UNIT_SECOND)
			continue; /* max + 1 overflows the number itself */
		snprintf(in, sizeof(in), "1/%" PRIu64 " %ss", max + 1,
			 xl_unit_name(u));
		rejects(in, "period at offset 2 is too long");
	}
}

/* What a rule can hold (xl_limit_check): periods up to 100 years, so that
 * a window's start plus its period cannot wrap; amounts up to
 * XL_AMOUNT_MAX. One past each bound is refused with a message. */
static void test_rule_bounds(void)
{
	static const struct {
		const char *in;
		const char *err; /* NULL: fits */
	} cases[] = {
		{ "1/100 years", NULL },
		{ "1/3110400000 seconds", NULL },
		{ "1/1200 months", NULL },
		{ "16711679/second", NULL },
		{ "1/101 years", "period of 101 years is too long (at most "
				 "100 years, 3110400000 seconds)" },
		{ "1/3110400001 seconds", "period of 3110400001 seconds is "
					  "too long" },
		{ "1/1201 months", "period of 1201 months is too long" },
		{ "1/36001 days", "period of 36001 days is too long" },
		{ "1/18446744073709551615 seconds", "is too long" },
		{ "16711680/second", "amount 16711680 is too large (at most "
				     "16711679)" },
	};
	char err[ERR_SIZE];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (!ASSERT_EQ(xl_parse_limits(cases[i].in, items, 1, err,
					       sizeof(err)),
			       1, cases[i].in))
			continue;
		strcpy(err, "unchanged");
		if (!cases[i].err) {
			ASSERT_EQ(xl_limit_check(&items[0], err, sizeof(err)),
				  0, cases[i].in);
			continue;
		}
		ASSERT_EQ(xl_limit_check(&items[0], err, sizeof(err)), -1,
			  cases[i].in);
		if (!ASSERT_TRUE(strstr(err, cases[i].err) != NULL,
				 cases[i].err))
			fprintf(stderr, "  message: %s\n", err);
	}
	/* The longest period fits with 36 years of uptime before it. */
	ASSERT_TRUE(XL_PERIOD_MAX_S * XL_NSEC_PER_SEC + (1ULL << 60) <
			    (1ULL << 63),
		    "start + period stays below 2^63");
}

static void test_length_cap(void)
{
	char *ok = repeat("1/second", ' ', XL_LIMIT_STR_MAX - 8, "");
	char *over = repeat("1/second", ' ', XL_LIMIT_STR_MAX - 7, "");
	char err[ERR_SIZE];

	ASSERT_EQ(strlen(ok), XL_LIMIT_STR_MAX, "length");
	ASSERT_EQ(xl_parse_limits(ok, items, 1, err, sizeof(err)), 1,
		  "1024 bytes accepted");
	rejects(over, "too long: more than 1024 bytes");
	free(ok);
	free(over);
}

/* limits' \s is Unicode whitespace and its IGNORECASE folds U+017F to 's';
 * xlimit takes the six ASCII whitespace characters and ASCII letters. */
static void test_ascii_only(void)
{
	rejects("\x1c"
		"10/second",
		"unexpected byte 0x1c at offset 0");
	rejects("10\x1dper minute", "unexpected byte 0x1d at offset 2");
	rejects("\xc2\xa0"
		"10/second",
		"unexpected byte 0xc2 at offset 0");
	rejects("10/second\xe3\x80\x80", "unexpected byte 0xe3 at offset 9");
	rejects("1/second\xc5\xbf", "unexpected byte 0xc5 at offset 8");
}

/* On error nothing is written to out[]. */
static void test_never_partial(void)
{
	struct xl_parsed_limit out[4], before[4];
	char err[ERR_SIZE];

	memset(out, 0xa5, sizeof(out));
	memcpy(before, out, sizeof(out));
	ASSERT_EQ(xl_parse_limits("1/day;2/hour;3/fortnight", out, 4, err,
				  sizeof(err)),
		  -1, "bad third item");
	ASSERT_TRUE(!memcmp(out, before, sizeof(out)), "out untouched");
	ASSERT_EQ(xl_parse_limits("1/day;2/hour;3/minute", out, 2, err,
				  sizeof(err)),
		  -1, "one item too many");
	ASSERT_TRUE(!memcmp(out, before, sizeof(out)), "out untouched");
	ASSERT_STREQ(err, "more than 2 limits: one more at offset 13",
		     "message");
	ASSERT_EQ(xl_parse_limits("1/day;2/hour", out, 2, err, sizeof(err)), 2,
		  "exactly max");
	ASSERT_EQ(xl_parse_limits("1/day", NULL, 0, err, sizeof(err)), -1,
		  "max 0");
}

/* ---- 3. linear time ---- */

/* The fastest of a few runs, in microseconds: the claim is about the
 * scanner, not about how the machine schedules the test. */
static double parse_us(const char *s, int *n)
{
	double best = 1e12;
	char err[ERR_SIZE];

	for (int i = 0; i < 5; i++) {
		struct timespec a, b;
		double us;

		clock_gettime(CLOCK_MONOTONIC, &a);
		*n = xl_parse_limits(s, items, ITEMS_MAX, err, sizeof(err));
		clock_gettime(CLOCK_MONOTONIC, &b);
		us = (double)(b.tv_sec - a.tv_sec) * 1e6 +
		     (double)(b.tv_nsec - a.tv_nsec) / 1e3;
		if (us < best)
			best = us;
	}
	return best;
}

/* limits' regex takes 2^N steps to reject "1/" + "1" * N + "!"; each of
 * these takes xlimit well under 1 ms (about 1000 times the headroom). */
static void test_linear_time(void)
{
	struct {
		char *s;
		int n; /* expected result */
	} cases[] = {
		/* over the cap: rejected by the length check */
		{ repeat("1/", '1', 10000, "!"), -1 },
		/* 1000 bytes, scanned to the end */
		{ repeat("1/", '1', 997, "!"), -1 },
		{ repeat("1/", '0', 997, "!"), -1 },
		{ repeat("1", ' ', 998, "!"), -1 },
		{ repeat("1 per", ' ', 994, "!"), -1 },
		{ repeat("1/1", ' ', 996, "x"), -1 },
		{ NULL, 167 },
	};
	char *list = malloc(167 * 6), *p = list;

	if (!list)
		abort();
	for (int i = 0; i < 166; i++, p += 6)
		memcpy(p, "1/day,", 6);
	memcpy(p, "1/day", 6);
	cases[6].s = list;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char what[64];
		int n;
		double us = parse_us(cases[i].s, &n);

		snprintf(what, sizeof(what), "%zu bytes starting '%.8s'",
			 strlen(cases[i].s), cases[i].s);
		printf("  %s: %.1f us\n", what, us);
		ASSERT_EQ(n, cases[i].n, what);
		ASSERT_TRUE(us < 1000.0, what);
		free(cases[i].s);
	}
}

/* ---- 4. the text form and the messages ---- */

static void test_format(void)
{
	struct xl_parsed_limit l = { 10, 1, XL_UNIT_MINUTE, 60 };
	char buf[64];

	ASSERT_EQ(xl_format_limit(buf, sizeof(buf), &l), 15, "length");
	ASSERT_STREQ(buf, "10 per 1 minute", "10/minute");
	l = (struct xl_parsed_limit){ 100, 2, XL_UNIT_HOUR, 7200 };
	xl_format_limit(buf, sizeof(buf), &l);
	ASSERT_STREQ(buf, "100 per 2 hour", "unit singular");
	l = (struct xl_parsed_limit){ 0, 1, XL_UNIT_YEAR, 31104000 };
	xl_format_limit(buf, sizeof(buf), &l);
	ASSERT_STREQ(buf, "0 per 1 year", "amount 0");
	l = (struct xl_parsed_limit){ UINT64_MAX, 7, XL_UNIT_DAY, 604800 };
	xl_format_limit(buf, sizeof(buf), &l);
	ASSERT_STREQ(buf, "18446744073709551615 per 7 day", "2^64-1");
	l.multiples = 0;
	xl_format_limit(buf, sizeof(buf), &l);
	ASSERT_STREQ(buf, "18446744073709551615 per 1 day", "multiples 0");

	/* snprintf-like: cut to the buffer, the full length returned */
	l = (struct xl_parsed_limit){ 10, 1, XL_UNIT_SECOND, 1 };
	ASSERT_EQ(xl_format_limit(buf, 5, &l), 15, "cut: length");
	ASSERT_STREQ(buf, "10 p", "cut: text");
	ASSERT_EQ(xl_format_limit(NULL, 0, &l), 15, "NULL buffer");
	l.unit = (enum xl_unit)6;
	ASSERT_EQ(xl_format_limit(buf, sizeof(buf), &l), -1, "bad unit");
	ASSERT_EQ(xl_format_limit(buf, sizeof(buf), NULL), -1, "NULL limit");

	ASSERT_STREQ(xl_unit_name(XL_UNIT_SECOND), "second", "second");
	ASSERT_STREQ(xl_unit_name(XL_UNIT_MINUTE), "minute", "minute");
	ASSERT_STREQ(xl_unit_name(XL_UNIT_HOUR), "hour", "hour");
	ASSERT_STREQ(xl_unit_name(XL_UNIT_DAY), "day", "day");
	ASSERT_STREQ(xl_unit_name(XL_UNIT_MONTH), "month", "month");
	ASSERT_STREQ(xl_unit_name(XL_UNIT_YEAR), "year", "year");
	ASSERT_TRUE(xl_unit_name((enum xl_unit)6) == NULL, "out of range");
}

/* Parsing the text form gives the same item back. */
static void test_format_round_trip(void)
{
	const char *in[] = { "10/second", "100 per 2 hours", "0 per 0 days",
			     "7 per 007 Months", "1/year" };
	struct xl_parsed_limit a, b;
	char buf[64], err[ERR_SIZE];

	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		ASSERT_EQ(xl_parse_limits(in[i], &a, 1, err, sizeof(err)), 1,
			  in[i]);
		xl_format_limit(buf, sizeof(buf), &a);
		ASSERT_EQ(xl_parse_limits(buf, &b, 1, err, sizeof(err)), 1,
			  buf);
		ASSERT_U64_EQ(b.amount, a.amount, buf);
		ASSERT_U64_EQ(b.multiples, a.multiples, buf);
		ASSERT_EQ(b.unit, a.unit, buf);
		ASSERT_U64_EQ(b.seconds, a.seconds, buf);
	}
}

static const struct {
	const char *in;
	const char *err;
} messages[] = {
	{ "10 per sec",
	  "unknown unit 'sec' at offset 7; expected second, minute, hour, "
	  "day, month or year" },
	{ "", "no limit; expected one like '10/minute'" },
	{ " \t\n", "no limit; expected one like '10/minute'" },
	{ "1/day;", "no limit after ';' at offset 5" },
	{ "1/day;;2/hour", "no limit after ';' at offset 5" },
	{ "1/day | ", "no limit after '|' at offset 6" },
	{ "1.5/second", "unexpected '.' at offset 1; expected '/' or 'per'" },
	{ "10 pre minute",
	  "unexpected 'pre' at offset 3; expected '/' or 'per'" },
	{ "-1/second",
	  "unexpected '-' at offset 0; expected a number (the amount of a "
	  "limit)" },
	{ "10 per 2",
	  "unexpected end of string at offset 8; expected a unit: second, "
	  "minute, hour, day, month or year" },
	{ "10 per 1 2 minute",
	  "unexpected '2' at offset 9; expected a unit: second, minute, "
	  "hour, day, month or year" },
	{ "10/second 5/minute",
	  "unexpected '5' at offset 10; expected ',', ';' or '|' between "
	  "limits" },
	{ "1/second: ,5/minute",
	  "':' at offset 8 must come just before ',', ';' or '|'" },
	{ "1/day\t\x1c",
	  "unexpected byte 0x1c at offset 6; expected ',', ';' or '|' "
	  "between limits" },
	{ "1/secondsecondsecondsecondsecondsecond",
	  "unknown unit 'secondsecondsecondsecondsecondse...' at offset 2; "
	  "expected second, minute, hour, day, month or year" },
	{ "1/593066617597 years",
	  "period at offset 2 is too long: 593066617597 years is over "
	  "18446744073709551615 seconds" },
};

static void test_messages(void)
{
	char err[ERR_SIZE], small[12];

	for (size_t i = 0; i < sizeof(messages) / sizeof(messages[0]); i++) {
		ASSERT_EQ(xl_parse_limits(messages[i].in, items, ITEMS_MAX, err,
					  sizeof(err)),
			  -1, messages[i].in);
		ASSERT_STREQ(err, messages[i].err, messages[i].in);
	}
	/* A short buffer gets the start of the message; none is fine too. */
	ASSERT_EQ(xl_parse_limits("10 per sec", items, 1, small, sizeof(small)),
		  -1, "short buffer");
	ASSERT_STREQ(small, "unknown uni", "short buffer");
	ASSERT_EQ(xl_parse_limits("10 per sec", items, 1, NULL, 0), -1,
		  "no buffer");
	ASSERT_EQ(xl_parse_limits(NULL, items, 1, err, sizeof(err)), -1,
		  "NULL string");
	/* A good parse clears the message. */
	ASSERT_EQ(xl_parse_limits("1/day", items, 1, err, sizeof(err)), 1,
		  "accepted");
	ASSERT_STREQ(err, "", "no message");
}

int main(int argc, char **argv)
{
	if (argc > 2) {
		fprintf(stderr, "usage: %s [CORPUS]\n", argv[0]);
		return 2;
	}
	corpus_path = argc == 2 ? argv[1] : NULL;

	run_table();
	RUN_TEST(corpus_agrees_with_limits);
	RUN_TEST(corpus_deliberate_differences);
	RUN_TEST(amount_overflow);
	RUN_TEST(period_overflow);
	RUN_TEST(rule_bounds);
	RUN_TEST(length_cap);
	RUN_TEST(ascii_only);
	RUN_TEST(never_partial);
	RUN_TEST(linear_time);
	RUN_TEST(format);
	RUN_TEST(format_round_trip);
	RUN_TEST(messages);
	for (int i = 0; i < corpus_len; i++)
		free(corpus[i].buf);
	free(corpus);
	return test_summary();
}
