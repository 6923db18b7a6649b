/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The rate limit string parser: turns Flask-Limiter's notation
 * ("10/second; 100 per 2 hours", SEMANTICS.md §1) into a list of
 * (amount, multiples, unit, seconds) items, and back into the text form
 * that python3-limits prints ("10 per 1 second"). Pure functions, no
 * allocation, no locale; the CLI and the tests call it.
 */
#ifndef XL_LIMITS_H
#define XL_LIMITS_H

#include <stddef.h>
#include <stdint.h>

enum xl_unit {
	XL_UNIT_SECOND,
	XL_UNIT_MINUTE,
	XL_UNIT_HOUR,
	XL_UNIT_DAY,
	XL_UNIT_MONTH,
	XL_UNIT_YEAR,
};

struct xl_parsed_limit {
	uint64_t amount;
	uint64_t multiples; /* as written; absent or 0 -> 1 */
	enum xl_unit unit;
	/* multiples * unit length (month 2592000, year 31104000) */
	uint64_t seconds;
};

#define XL_LIMIT_STR_MAX 1024 /* input longer than this is rejected */

/*
 * Parses a whole limit string. Returns the number of items (>= 1) and
 * fills out[0..n-1], or -1 with a message in err ("what is wrong and
 * where", e.g. "unknown unit 'sec' at offset 7; expected second, minute,
 * hour, day, month or year"); offsets count bytes from 0. More than `max`
 * items is an error too (the message says the maximum). Never partial: on
 * error `out` is left untouched. err may be NULL or errlen 0.
 */
int xl_parse_limits(const char *s, struct xl_parsed_limit *out, size_t max,
		    char *err, size_t errlen);

/*
 * Checks that a parsed item fits in a rule of the datapath: an amount of
 * at most XL_AMOUNT_MAX, a period of at most XL_PERIOD_MAX_S (100 years).
 * Returns 0, or -1 with a message in err ("period of 101 years is too
 * long (at most 100 years)"). The parser itself takes what limits takes.
 */
int xl_limit_check(const struct xl_parsed_limit *l, char *err, size_t errlen);

/* "10 per 1 minute": limits' text form, unit singular. Returns the length
 * snprintf would, or -1 when l is NULL or its unit is out of range. */
int xl_format_limit(char *buf, size_t len, const struct xl_parsed_limit *l);

/* `amount` per `seconds` as an item in the largest unit whose length
 * divides the period ("60" -> 1 minute, "90" -> 90 seconds); multiples
 * 0 for a period of 0. */
struct xl_parsed_limit xl_limit_of(uint64_t amount, uint64_t seconds);

/* "second", "minute", ... "year"; NULL for a value out of range. */
const char *xl_unit_name(enum xl_unit u);
/* Its length in seconds (a month 2592000, a year 31104000); 0 out of
 * range. */
uint64_t xl_unit_seconds(enum xl_unit u);

#endif /* XL_LIMITS_H */
