#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""The oracle for the limit string parser's test (tests/unit/test_parse.c).

Generates a fixed corpus of rate limit strings, valid and invalid, from a
seeded random generator plus hand-picked cases, and writes on stdout what
python3-limits 2.8 (limits.util.parse_many, the reference of SEMANTICS.md
§1) makes of each one. test_parse reads that file and checks that
xl_parse_limits() agrees on every line.

One case per line, tab-separated:

    EXPECT <TAB> INPUT <TAB> VERDICT [<TAB> WHY]

INPUT is the string's UTF-8 bytes in hex, so that tabs and newlines
survive. VERDICT is what limits says: "err" when parse_many raises
ValueError, or "ok" and one "amount:multiples:granularity:seconds" per
item, space-separated. EXPECT is "=" when xlimit must give the same
verdict, or "!" for a deliberate difference (listed at the top of
user/limits.c): limits accepts the string, xlimit must reject it, and WHY
says why. Lines starting with '#' are comments.

Run it with Debian's /usr/bin/python3, which has python3-limits.
"""

import random
import string
import sys

import limits
from limits.util import parse_many

SEED = 20240601
N_VALID = 600  # generated strings that follow the grammar
N_MUTATED = 1400  # generated strings with one or two changes

WS = " \t\n\r\v\f"  # SEMANTICS.md §1 ws
SEPS = ",;|"
UNITS = ("second", "minute", "hour", "day", "month", "year")
# Junk for mutations: printable ASCII and ws (non-ASCII has its own cases)
JUNK = string.ascii_letters + string.digits + string.punctuation + WS
U64_MAX = 2**64 - 1
STR_MAX = 1024  # XL_LIMIT_STR_MAX
XLIMIT_CHARS = set(WS) | {chr(c) for c in range(0x20, 0x7F)}

# The SEMANTICS.md §1 table, the quirks, and edges that must agree.
HAND = [
    "10 per minute", "10/second", "100 per 2 hours",
    "10per minute", "10 PERMINUTE", "10/2second", "10 per 007 seconds",
    "10 per 0 seconds", "1 per year",
    "1/day;2/hour", "1/day, 2/hour", "1/day | 2/hour",
    "", "1/day;;2/hour", "1/day;", "10 per 2", "10 per sec", "1.5/second",
    "-1/second", "10 / per minute", "10/second 5/minute",
    "10 per 1 2 minute",
    # the ':' quirk, and where it does not apply
    "1/second:,5/minute", "1/second :;5/minute", "1/second:|5/minute",
    "1/second: ,5/minute", "1/second:", "1/second::,5/minute",
    "1/second,:5/minute", ":1/second", "1/second:5/minute",
    # amounts and multiples
    "0 per second", "0/0 seconds", "007/007 days", "00000000000000000001/day",
    "18446744073709551615/second", "1/18446744073709551615 second",
    "1/593066617596 years", "1/7116799411153 months",
    "1/213503982334601 days", "1/5124095576030431 hours",
    "1/307445734561825860 minutes",
    "+1/second", "1e3/second", "1,000/second", "1_000/second", "0x10/second",
    # whitespace, case, plurals
    " \t\n\r\v\f10\t/\n2\r\vminutes\f ", "10 \t per \n 2 \r hours",
    "10PER2HOURS", "10 pEr mInUtE", "10/SECONDS", "10/secondss",
    "10/second s", "10/sec", "10/min", "10/hr", "10/days", "10/Ys",
    "10/yearS", "10/monthes", "10 per", "10", "/second", "per second",
    "10 perper second", "10 pe second", "10 p second", "10//second",
    "10 /2/ second", "10 per 2 2 seconds", "10 per second second",
    # separators
    ",1/day", "1/day,", "1/day ,", "1/day, ", "1/day,,2/hour", "1/day;|2/hour",
    "1/day 2/hour", "1/day.2/hour", "1/day&2/hour", "1/day\n;\n2/hour",
    "1/day;2/hour;3/minute;4/second;5/month;6/year",
    " ", "\t", ";", ",", "|", ":", ":;",
    # exactly XL_LIMIT_STR_MAX bytes: accepted by both
    "1/second" + " " * (STR_MAX - len("1/second")),
    ";".join(["1/second"] * 113) + " " * 8,
    # non-ASCII that limits rejects too
    "1/\u017fecond", "10/m\u0131nute", "10/m\u0130nute", "\u0661/second",
    "1/second\u00e9", "\u00bd/second",
]
assert len(HAND[-8].encode()) == STR_MAX and len(HAND[-7].encode()) == STR_MAX

# Deliberate differences: limits accepts each, xlimit rejects it.
DIFFERENT = [
    ("18446744073709551616/second", "amount over 2^64-1"),
    ("99999999999999999999999 per minute", "amount over 2^64-1"),
    ("1/18446744073709551616 seconds", "multiples over 2^64-1"),
    ("1/593066617597 years", "period over 2^64-1 seconds"),
    ("1/7116799411154 months", "period over 2^64-1 seconds"),
    ("1/307445734561825861 minutes", "period over 2^64-1 seconds"),
    ("1/second" + " " * (STR_MAX + 1 - len("1/second")),
     "longer than 1024 bytes"),
    (";".join(["1/second"] * 120), "longer than 1024 bytes"),
    ("1" * 1100 + "/second", "longer than 1024 bytes"),
    ("\x1c10/second", "ASCII separator as whitespace"),
    ("10\x1dper\x1eminute\x1f", "ASCII separator as whitespace"),
    ("\u00a010/second", "Unicode whitespace"),
    ("10\u2003per\u3000minute", "Unicode whitespace"),
    ("10/second\u0085;1/day\u2028", "Unicode whitespace"),
    ("1/second\u017f", "U+017F as plural s"),
    ("1/hour\u017f;2/day", "U+017F as plural s"),
]


def verdict(s):
    """What limits makes of s: None (ValueError) or a list of items."""
    try:
        items = parse_many(s)
    except ValueError:
        return None
    return [(i.amount, i.multiples, i.GRANULARITY.name, i.get_expiry())
            for i in items]


def show(items):
    if items is None:
        return "err"
    return "ok " + " ".join("%d:%d:%s:%d" % i for i in items)


def case_line(expect, s, items, why=None):
    fields = [expect, s.encode().hex(), show(items)] + ([why] if why else [])
    return "\t".join(fields)


def why_different(s, items):
    """Why xlimit rejects s although limits accepts it, or None."""
    if len(s.encode()) > STR_MAX:
        return "longer than 1024 bytes"
    if any(c not in XLIMIT_CHARS for c in s):
        return "character outside ASCII printable and ws"
    for amount, multiples, _, seconds in items:
        if amount > U64_MAX:
            return "amount over 2^64-1"
        if multiples > U64_MAX or seconds > U64_MAX:
            return "period over 2^64-1 seconds"
    return None


def ws(r):
    """Often nothing, else a few whitespace characters, mostly spaces."""
    if r.random() < 0.5:
        return ""
    n = r.choice((1, 1, 2, 3))
    return "".join(r.choice("    " + WS) for _ in range(n))


def case(r, word):
    k = r.random()
    if k < 0.5:
        return word
    if k < 0.65:
        return word.upper()
    if k < 0.75:
        return word.capitalize()
    return "".join(c.upper() if r.random() < 0.5 else c for c in word)


def number(r, digits):
    """Up to `digits` digits, with 0 and leading zeros now and then."""
    k = r.random()
    if k < 0.1:
        return "0"
    if k < 0.2:
        return "0" * r.randint(1, 3) + str(r.randint(0, 999))
    if k < 0.35:
        return str(r.randint(0, 10**digits - 1))
    return str(r.randint(1, 100))


def item(r):
    s = ws(r) + number(r, 12) + ws(r)
    s += "/" if r.random() < 0.5 else case(r, "per")
    s += ws(r)
    if r.random() < 0.5:
        s += number(r, 5) + ws(r)
    s += case(r, r.choice(UNITS))
    if r.random() < 0.4:
        s += r.choice("sS")
    return s + ws(r)


def valid(r):
    s = item(r)
    for _ in range(r.choice((0, 0, 0, 1, 1, 2, 3, 4))):
        s += (":" if r.random() < 0.15 else "") + r.choice(SEPS) + item(r)
    return s


def mutate(r, s):
    i = r.randint(0, len(s))
    k = r.randrange(16)
    if k == 0:  # delete a character
        return s[:i] + s[i + 1:]
    if k == 1:  # insert junk
        return s[:i] + r.choice(JUNK) + s[i:]
    if k == 2:  # replace a character with junk
        return s[:i] + r.choice(JUNK) + s[i + 1:]
    if k == 3:  # double a character
        return s[:i] + s[i:i + 1] + s[i:]
    if k == 4:  # trailing separator
        return s + ws(r) + r.choice([":", ""]) + r.choice(SEPS) + ws(r)
    if k == 5:  # leading separator
        return ws(r) + r.choice(SEPS) + s
    if k == 6:  # double a separator, or the colon before one
        seps = [j for j, c in enumerate(s) if c in SEPS]
        if not seps:
            return s + r.choice(SEPS) * 2 + valid(r)
        j = r.choice(seps)
        return s[:j] + r.choice(SEPS + ":" + WS) + s[j:]
    if k == 7:  # cut short
        return s[:i]
    if k == 8:  # swap two neighbours
        if i + 1 >= len(s):
            return s[::-1]
        return s[:i] + s[i + 1] + s[i] + s[i + 2:]
    if k == 9:  # a colon somewhere
        return s[:i] + ":" + s[i:]
    if k == 10:  # whitespace somewhere, maybe inside a word or number
        return s[:i] + r.choice(WS) + s[i:]
    if k == 11:  # no whitespace at all
        return "".join(c for c in s if c not in WS)
    if k == 12:  # a sign, point or exponent
        return s[:i] + r.choice(["+", "-", ".", "e", ".5", "e3"]) + s[i:]
    if k == 13:  # spoil "per" or "/"
        bad = r.choice(["pe", "pr", "per per", "/ per", "//", "p", "PERS",
                        " per/ ", "in"])
        if "per" in s.lower():
            j = s.lower().index("per")
            return s[:j] + bad + s[j + 3:]
        return s.replace("/", bad, 1)
    if k == 14:  # two items with no separator
        return s + r.choice(["", " ", "\t", "\n"]) + valid(r)
    # k == 15: spoil a unit name
    for u in UNITS:
        j = s.lower().find(u)
        if j >= 0:
            bad = r.choice([u[:3], u[:-1], u + "ss", u + "x", u[1:],
                            u[0].upper() + "s", u + u])
            return s[:j] + bad + s[j + len(u):]
    return s + r.choice(UNITS)


def main():
    if not limits.__version__.startswith("2.8."):
        sys.exit("parse_oracle: needs python3-limits 2.8, found %s"
                 % limits.__version__)
    r = random.Random(SEED)
    cases = list(HAND)
    cases += [valid(r) for _ in range(N_VALID)]
    for _ in range(N_MUTATED):
        s = valid(r)
        for _ in range(r.choice((1, 1, 2))):
            s = mutate(r, s)
        cases.append(s)
    cases = list(dict.fromkeys(cases))  # drop repeats, keep the order

    lines = []
    counts = {"ok": 0, "err": 0, "!": 0}
    dropped = 0
    for s in cases:
        assert "\0" not in s
        items = verdict(s)
        why = why_different(s, items) if items is not None else None
        if why:
            # The generator stays within xlimit's ranges: nothing random
            # should land here. Keep it visible if it ever does.
            lines.append(case_line("!", s, items, why))
            counts["!"] += 1
            continue
        if items is not None and len(items) != sum(map(s.count, SEPS)) + 1:
            dropped += 1
        counts["ok" if items is not None else "err"] += 1
        lines.append(case_line("=", s, items))
    for s, why in DIFFERENT:
        items = verdict(s)
        # Each listed difference must be real: limits accepts the string.
        assert items is not None and why_different(s, items), s
        lines.append(case_line("!", s, items, why))
        counts["!"] += 1

    print("# xlimit parse corpus: python3-limits %s, seed %d"
          % (limits.__version__, SEED))
    print("# %d cases: %d accepted and %d rejected by both, %d deliberate "
          "differences; %d accepted strings lost an item in limits"
          % (len(lines), counts["ok"], counts["err"], counts["!"], dropped))
    print("# EXPECT <TAB> INPUT (UTF-8, hex) <TAB> VERDICT [<TAB> WHY]")
    for line in lines:
        print(line)


if __name__ == "__main__":
    main()
