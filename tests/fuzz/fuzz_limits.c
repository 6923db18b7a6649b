/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * libFuzzer target: the rate limit string parser (user/lib/limit_parse.c).
 * Besides memory safety (ASan, UBSan), it checks the parser's promises on
 * every input:
 * - a string longer than XL_LIMIT_STR_MAX bytes is rejected;
 * - a rejected string gets a message and leaves out[] untouched;
 * - an accepted one has 1..max items, one per separator plus one, each
 *   with a known unit, multiples >= 1 and seconds = multiples * unit
 *   length without overflow; xl_limit_check() passes exactly those within
 *   a rule's bounds, whose window end cannot wrap;
 * - the text form of the items parses back to the same items, and so does
 *   the string with its letters in the other case;
 * - one slot fewer than the items is an error ("more than N limits").
 */
#include "limit_parse.h"
#include "xlimit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ITEMS 8
#define TEXT_MAX 64 /* "18446744073709551615 per 18446744073709551615 second" */

static const uint64_t unit_seconds[] = { 1, 60, 3600, 86400, 2592000, 31104000 };

#define check(cond, s, what)                                              \
	do {                                                              \
		if (!(cond)) {                                            \
			fprintf(stderr, "fuzz_limits: %s (input '%s')\n", \
				what, s);                                 \
			abort();                                          \
		}                                                         \
	} while (0)

static void check_item(const char *s, const struct xl_parsed_limit *l)
{
	uint64_t us;

	check(xl_unit_name(l->unit) != NULL, s, "unit out of range");
	us = unit_seconds[l->unit];
	check(l->multiples >= 1, s, "multiples 0");
	check(l->seconds / us == l->multiples && l->seconds % us == 0, s,
	      "seconds is not multiples * unit length");
	/* What a rule takes: its window's end (start <= 2^60 ns) cannot
	 * wrap. */
	if (!xl_limit_check(l, NULL, 0))
		check(l->amount <= XL_AMOUNT_MAX &&
			      l->seconds <= XL_PERIOD_MAX_S &&
			      l->seconds * XL_NSEC_PER_SEC + (1ULL << 60) <
				      (1ULL << 63),
		      s, "xl_limit_check passed a limit a rule cannot hold");
	else
		check(l->amount > XL_AMOUNT_MAX || l->seconds > XL_PERIOD_MAX_S,
		      s, "xl_limit_check refused a limit within the bounds");
}

static void check_same(const char *s, const struct xl_parsed_limit *a,
		       const struct xl_parsed_limit *b, int n)
{
	for (int i = 0; i < n; i++)
		check(a[i].amount == b[i].amount &&
			      a[i].multiples == b[i].multiples &&
			      a[i].unit == b[i].unit &&
			      a[i].seconds == b[i].seconds,
		      s, "items differ after a re-parse");
}

/* Joins the items' text forms with "; " and parses that again. */
static void check_text_form(const char *s, const struct xl_parsed_limit *l,
			    int n)
{
	char text[MAX_ITEMS * (TEXT_MAX + 2)], err[256];
	struct xl_parsed_limit again[MAX_ITEMS];
	size_t off = 0;
	int len;

	for (int i = 0; i < n; i++) {
		len = xl_format_limit(text + off, sizeof(text) - off, &l[i]);
		check(len > 0 && (size_t)len < TEXT_MAX, s,
		      "xl_format_limit failed");
		off += len;
		if (i + 1 < n)
			off += snprintf(text + off, sizeof(text) - off, "; ");
	}
	check(xl_parse_limits(text, again, MAX_ITEMS, err, sizeof(err)) == n, s,
	      "text form does not parse back");
	check_same(s, l, again, n);
}

/* The same string with every ASCII letter's case flipped. */
static void check_case(const char *s, const struct xl_parsed_limit *l, int n)
{
	struct xl_parsed_limit again[MAX_ITEMS];
	size_t len = strlen(s);
	char *t = malloc(len + 1);

	if (!t)
		abort();
	for (size_t i = 0; i <= len; i++) {
		unsigned char c = s[i];

		t[i] = c >= 'a' && c <= 'z' ? c - 32 :
		       c >= 'A' && c <= 'Z' ? c + 32 :
					      c;
	}
	check(xl_parse_limits(t, again, MAX_ITEMS, NULL, 0) == n, s,
	      "other case parses differently");
	check_same(s, l, again, n);
	free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct xl_parsed_limit out[MAX_ITEMS], fill[MAX_ITEMS];
	char err[256], *s = malloc(size + 1);
	size_t seps = 0, len;
	int n;

	if (!s)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	len = strlen(s);
	memset(out, 0xa5, sizeof(out));
	memcpy(fill, out, sizeof(out));

	n = xl_parse_limits(s, out, MAX_ITEMS, err, sizeof(err));
	check(n == -1 || (n >= 1 && n <= MAX_ITEMS), s, "bad return value");
	check(memchr(err, '\0', sizeof(err)) != NULL, s, "message not ended");
	if (len > XL_LIMIT_STR_MAX)
		check(n == -1, s, "string over XL_LIMIT_STR_MAX accepted");
	if (n < 0) {
		check(err[0] != '\0', s, "error without a message");
		check(!memcmp(out, fill, sizeof(out)), s,
		      "out[] written on error");
		free(s);
		return 0;
	}
	for (size_t i = 0; i < len; i++)
		seps += s[i] == ',' || s[i] == ';' || s[i] == '|';
	check(seps + 1 == (size_t)n, s, "items != separators + 1");
	for (int i = 0; i < n; i++)
		check_item(s, &out[i]);
	check_text_form(s, out, n);
	check_case(s, out, n);
	if (n > 1)
		check(xl_parse_limits(s, fill, n - 1, NULL, 0) == -1, s,
		      "more items than max accepted");
	free(s);
	return 0;
}
