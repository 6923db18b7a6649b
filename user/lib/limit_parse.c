/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The rate limit string parser (see limit_parse.h): a hand-written scanner for
 * the notation of python3-limits 2.8 (limits.util.parse_many), as
 * SEMANTICS.md §1 writes it down:
 *
 *   list := item ( [":"] sep item )*          sep := "," | ";" | "|"
 *   item := ws* digits ws* ( "/" | "per" ) ws* [digits] ws* unit ["s"] ws*
 *   unit := second | minute | hour | day | month | year   (any case)
 *   ws   := space, \t, \n, \v, \f, \r
 *
 * The scanner reads the string once, left to right, and never goes back,
 * so it runs in time linear in the length of the string. It accepts what
 * limits accepts, with the same (amount, multiples, unit), except for
 * these deliberate differences:
 *
 * 1. Linear time. limits' regex has a star inside a star ("([0-9]+)*") and
 *    takes exponential time to reject "1/" + "1" * N + "!" (0.6 s for
 *    N = 22, twice as long for each digit more).
 * 2. A string longer than XL_LIMIT_STR_MAX (1024) bytes is rejected.
 * 3. The amount, the multiples and multiples * unit length in seconds must
 *    fit in 64 bits, or the string is rejected; limits takes any Python
 *    int (up to the 4300 digits that int() converts).
 * 4. Whitespace is the six ASCII characters above. limits' \s is Python's
 *    Unicode whitespace, which also takes the ASCII separators 0x1c-0x1f,
 *    U+0085, U+00A0, U+1680, U+2000-U+200A, U+2028, U+2029, U+202F,
 *    U+205F and U+3000.
 * 5. Letters match without regard to case in ASCII only. limits'
 *    re.IGNORECASE also matches U+017F (long s) to 's', so it takes
 *    "1/second\u017f" for 1 per second. (U+0130 and U+0131 match 'i' in
 *    its regex as well, but its unit lookup then fails: "1/m\u0131nute" is
 *    rejected by both.)
 * 6. No item is ever dropped: an accepted string gives one item per
 *    separator, plus one. limits' second pass (SEPARATORS.split, then
 *    SINGLE_EXPR.match on each piece) skips a piece that does not match
 *    without a word; its whole-string check runs first and makes that
 *    unreachable in 2.8, so this is a guarantee, not a visible change.
 *
 * Errors say what is wrong and at which byte offset (from 0), where limits
 * only says "couldn't parse rate limit string".
 */
#include "limit_parse.h"
#include "xlimit.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* The unit lengths are limits' own: a month is 30 days, a year 360. */
static const struct {
	const char *name;
	uint64_t seconds;
} units[] = {
	[XL_UNIT_SECOND] = { "second", 1 },
	[XL_UNIT_MINUTE] = { "minute", 60 },
	[XL_UNIT_HOUR] = { "hour", 3600 },
	[XL_UNIT_DAY] = { "day", 86400 },
	[XL_UNIT_MONTH] = { "month", 2592000 },
	[XL_UNIT_YEAR] = { "year", 31104000 },
};

#define N_UNITS (sizeof(units) / sizeof(units[0]))
#define UNIT_LIST "second, minute, hour, day, month or year"
#define SEP_LIST "',', ';' or '|'"
#define SHOWN_MAX 32 /* longest piece of the input quoted in a message */
#define QUOTE_SIZE (SHOWN_MAX + 6) /* its quotes, "..." and NUL */

struct scanner {
	const unsigned char *s;
	size_t pos; /* byte offset of the cursor */
	char *err;
	size_t errlen;
};

static bool is_ws(unsigned char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r'); /* \t \n \v \f \r */
}

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static unsigned char to_lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

static bool is_alpha(unsigned char c)
{
	return to_lower(c) >= 'a' && to_lower(c) <= 'z';
}

static bool is_sep(unsigned char c)
{
	return c == ',' || c == ';' || c == '|';
}

/* Compares n bytes of p with the lower-case word w, ignoring ASCII case.
 * The NUL that ends p never equals a letter of w: no read past it. */
static bool eq_nocase(const unsigned char *p, const char *w, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (to_lower(p[i]) != (unsigned char)w[i])
			return false;
	return true;
}

static unsigned char cur(const struct scanner *sc)
{
	return sc->s[sc->pos];
}

static void skip_ws(struct scanner *sc)
{
	while (is_ws(cur(sc)))
		sc->pos++;
}

static int fail(struct scanner *sc, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Writes the message, if there is room for one, and returns -1. */
static int fail(struct scanner *sc, const char *fmt, ...)
{
	va_list ap;

	if (sc->err && sc->errlen) {
		va_start(ap, fmt);
		vsnprintf(sc->err, sc->errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* Length of the run of letters (or of digits) at p, or 1 for anything else:
 * the token a message quotes. */
static size_t token_len(const unsigned char *p)
{
	bool (*same)(unsigned char) = is_alpha(*p) ? is_alpha :
				      is_digit(*p) ? is_digit :
						     NULL;
	size_t n = 1;

	if (same)
		while (same(p[n]))
			n++;
	return n;
}

/* Quotes n bytes of the input for a message, cut to SHOWN_MAX: "'sec'". */
static const char *quote(char *buf, size_t len, const unsigned char *p,
			 size_t n)
{
	snprintf(buf, len, "'%.*s%s'", (int)(n > SHOWN_MAX ? SHOWN_MAX : n),
		 (const char *)p, n > SHOWN_MAX ? "..." : "");
	return buf;
}

/* Describes the input at the cursor for a message: "'sec'" (a run of
 * letters or digits, or one printable character), "byte 0x1c" or "end of
 * string". */
static const char *describe(const struct scanner *sc, char *buf, size_t len)
{
	const unsigned char *p = sc->s + sc->pos;

	if (!*p)
		snprintf(buf, len, "end of string");
	else if (*p < 0x20 || *p >= 0x7f)
		snprintf(buf, len, "byte 0x%02x", *p);
	else
		quote(buf, len, p, token_len(p));
	return buf;
}

static int unexpected(struct scanner *sc, const char *expected)
{
	char what[QUOTE_SIZE];

	return fail(sc, "unexpected %s at offset %zu; expected %s",
		    describe(sc, what, sizeof(what)), sc->pos, expected);
}

/* Reads the run of digits at the cursor (there is at least one) into *v.
 * Leading zeros are fine; a value over 2^64 - 1 is an error. */
static int scan_number(struct scanner *sc, const char *what, uint64_t *v)
{
	size_t at = sc->pos;
	bool overflow = false;
	char q[QUOTE_SIZE];
	uint64_t x = 0;

	for (; is_digit(cur(sc)); sc->pos++) {
		unsigned int d = cur(sc) - '0';

		if (x > (UINT64_MAX - d) / 10)
			overflow = true;
		else
			x = x * 10 + d;
	}
	if (overflow)
		return fail(sc, "%s %s at offset %zu is over %" PRIu64, what,
			    quote(q, sizeof(q), sc->s + at, sc->pos - at), at,
			    UINT64_MAX);
	*v = x;
	return 0;
}

/* Reads a unit name at the cursor, singular or with one 's'. The whole run
 * of letters must be the name: "10 PERMINUTE" is fine, "10/minutesx" not. */
static int scan_unit(struct scanner *sc, enum xl_unit *u)
{
	const unsigned char *p = sc->s + sc->pos;
	size_t n = 0, len, i;
	char q[QUOTE_SIZE];

	while (is_alpha(p[n]))
		n++;
	if (!n)
		return unexpected(sc, "a unit: " UNIT_LIST);
	for (i = 0; i < N_UNITS; i++) {
		len = strlen(units[i].name);
		if ((n == len || (n == len + 1 && to_lower(p[len]) == 's')) &&
		    eq_nocase(p, units[i].name, len)) {
			*u = (enum xl_unit)i;
			sc->pos += n;
			return 0;
		}
	}
	return fail(sc, "unknown unit %s at offset %zu; expected " UNIT_LIST,
		    quote(q, sizeof(q), p, n), sc->pos);
}

/* Reads one item, from its amount to the whitespace after its unit. The
 * cursor is on a digit or on what is there instead. l may be NULL. */
static int scan_item(struct scanner *sc, struct xl_parsed_limit *l)
{
	uint64_t amount, multiples = 0;
	size_t mult_at;
	enum xl_unit u = XL_UNIT_SECOND; /* set by scan_unit() */

	if (!is_digit(cur(sc)))
		return unexpected(sc, "a number (the amount of a limit)");
	if (scan_number(sc, "amount", &amount))
		return -1;

	skip_ws(sc);
	if (cur(sc) == '/')
		sc->pos++;
	else if (eq_nocase(sc->s + sc->pos, "per", 3))
		sc->pos += 3;
	else
		return unexpected(sc, "'/' or 'per'");

	skip_ws(sc);
	mult_at = sc->pos;
	if (is_digit(cur(sc))) {
		if (scan_number(sc, "multiple", &multiples))
			return -1;
		skip_ws(sc);
	}
	if (scan_unit(sc, &u))
		return -1;
	skip_ws(sc);

	/* limits reads "per 0 seconds" as "per second" */
	if (!multiples)
		multiples = 1;
	if (multiples > UINT64_MAX / units[u].seconds)
		return fail(sc,
			    "period at offset %zu is too long: %" PRIu64
			    " %ss is over %" PRIu64 " seconds",
			    mult_at, multiples, units[u].name, UINT64_MAX);
	if (l) {
		l->amount = amount;
		l->multiples = multiples;
		l->unit = u;
		l->seconds = multiples * units[u].seconds;
	}
	return 0;
}

/* Checks that an item starts at the cursor (after whitespace), the n-th
 * one counting from 0, and that there is room for it. */
static int check_start(struct scanner *sc, size_t n, size_t sep, size_t max)
{
	if (!n && !cur(sc))
		return fail(sc, "no limit; expected one like '10/minute'");
	if (n && (!cur(sc) || is_sep(cur(sc))))
		return fail(sc, "no limit after '%c' at offset %zu", sc->s[sep],
			    sep);
	if (n == max)
		return fail(sc, "more than %zu limits: one more at offset %zu",
			    max, sc->pos);
	return 0;
}

/* Reads the separator after an item (not at the end of the string) and
 * stores its offset in *sep. */
static int scan_sep(struct scanner *sc, size_t *sep)
{
	/* limits' quirk: one ':' may stand just before a separator */
	if (cur(sc) == ':' && !is_sep(sc->s[sc->pos + 1]))
		return fail(sc,
			    "':' at offset %zu must come just before " SEP_LIST,
			    sc->pos);
	if (cur(sc) == ':')
		sc->pos++;
	if (!is_sep(cur(sc)))
		return unexpected(sc, SEP_LIST " between limits");
	*sep = sc->pos++;
	return 0;
}

/* Reads the whole list; fills out[] when it is not NULL. Returns the number
 * of items, or -1. */
static int scan_list(struct scanner *sc, struct xl_parsed_limit *out,
		     size_t max)
{
	size_t n, sep = 0; /* sep: offset of the last separator */

	for (n = 0;; n++) {
		skip_ws(sc);
		if (check_start(sc, n, sep, max))
			return -1;
		if (scan_item(sc, out ? &out[n] : NULL))
			return -1;
		if (!cur(sc))
			return (int)(n + 1);
		if (scan_sep(sc, &sep))
			return -1;
	}
}

int xl_parse_limits(const char *s, struct xl_parsed_limit *out, size_t max,
		    char *err, size_t errlen)
{
	struct scanner sc = { .s = (const unsigned char *)s,
			      .err = err,
			      .errlen = errlen };
	size_t len;
	int n;

	if (err && errlen)
		err[0] = '\0';
	if (!s)
		return fail(&sc, "no limit string");
	if (max && !out)
		return fail(&sc, "no room for the limits");
	len = strnlen(s, XL_LIMIT_STR_MAX + 1);
	if (len > XL_LIMIT_STR_MAX)
		return fail(&sc, "too long: more than %d bytes",
			    XL_LIMIT_STR_MAX);

	/* Check everything first, then fill out[]: on error it is untouched. */
	n = scan_list(&sc, NULL, max);
	if (n < 0)
		return -1;
	sc.pos = 0;
	return scan_list(&sc, out, max);
}

int xl_limit_check(const struct xl_parsed_limit *l, char *err, size_t errlen)
{
	const uint64_t years = units[XL_UNIT_YEAR].seconds;
	struct scanner sc = { .err = err, .errlen = errlen };

	if (err && errlen)
		err[0] = '\0';
	if (l->amount > XL_AMOUNT_MAX)
		return fail(&sc,
			    "amount %" PRIu64 " is too large (at most %llu)",
			    l->amount, XL_AMOUNT_MAX);
	if (l->seconds > XL_PERIOD_MAX_S)
		return fail(
			&sc,
			"period of %" PRIu64
			" %s%s is too long (at most %llu years, %llu seconds)",
			l->multiples, xl_unit_name(l->unit),
			l->multiples == 1 ? "" : "s", XL_PERIOD_MAX_S / years,
			XL_PERIOD_MAX_S);
	return 0;
}

const char *xl_unit_name(enum xl_unit u)
{
	return (unsigned int)u < N_UNITS ? units[u].name : NULL;
}

uint64_t xl_unit_seconds(enum xl_unit u)
{
	return (unsigned int)u < N_UNITS ? units[u].seconds : 0;
}

struct xl_parsed_limit xl_limit_of(uint64_t amount, uint64_t seconds)
{
	struct xl_parsed_limit l = { .amount = amount, .seconds = seconds };
	unsigned int u;

	for (u = N_UNITS - 1; u > 0; u--)
		if (seconds && seconds % units[u].seconds == 0)
			break;
	l.unit = (enum xl_unit)u;
	l.multiples = seconds / units[u].seconds;
	return l;
}

int xl_format_limit(char *buf, size_t len, const struct xl_parsed_limit *l)
{
	const char *name = l ? xl_unit_name(l->unit) : NULL;

	if (!name)
		return -1;
	return snprintf(buf, len, "%" PRIu64 " per %" PRIu64 " %s", l->amount,
			l->multiples ? l->multiples : 1, name);
}
