/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Unit tests of the fixed-window limiter (include/xl_limiter.h), compiled
 * into a plain program and driven with a simulated monotonic clock: the
 * worked example of SEMANTICS.md §3, the window rules of §2 (unaligned
 * windows rounded down to the 2^20 ns unit, refused hits counted up to
 * amount + 1, the boundary), `0 per second`, several limits on one rule
 * (what is charged, the verdict, the limit reported, against a reference
 * model), independent roll-over, taking a hit back, a clock that reads
 * behind the window's start, and threads charging one key at once, at one
 * instant, with a flood past what 24 bits count, and across window
 * boundaries. Then the sliding-window and token-bucket strategies: hand
 * checked cases, long random arrival sequences against reference models
 * written here (verdicts; remaining and reset at sampled hits, found by
 * bisection), the exactness of a cached drop, and threads at one instant
 * on one and several limits, and across time in lock-step phases.
 */
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>

#include "testing.h"
#include "xl_limiter.h"

TEST_ENV_DEFINE;

#define NS_PER_S XL_NSEC_PER_SEC
#define NS_PER_MS (XL_NSEC_PER_SEC / 1000)

/* A monotonic time that is not a whole second: nothing may be aligned. */
#define T0 (4242 * NS_PER_S + 123456789ULL)

#define NTHREADS 4

typedef unsigned long long ull;

static void set_limit(struct xl_rule *r, __u32 i, __u64 amount, __u64 period_ns,
		      __u32 action)
{
	r->limits[i].amount = amount;
	r->limits[i].period_ns = period_ns;
	r->limits[i].action = action;
	if (r->nlimits < i + 1)
		r->nlimits = i + 1;
}

static struct xl_view view(const struct xl_rule *r, const struct xl_state *s,
			   __u32 i, __u64 now)
{
	struct xl_view v;

	xl_view_limit(&r->limits[i], &s->win[i], now, &v);
	return v;
}

static __u64 count(const struct xl_rule *r, const struct xl_state *s, __u32 i,
		   __u64 now)
{
	return xl_window_count(&s->win[i], r->limits[i].period_ns, now);
}

/* Where a window opened at t starts: t rounded down to the 2^20 ns unit. */
static __u64 unit_floor(__u64 t)
{
	return t >> XL_UNIT_SHIFT << XL_UNIT_SHIFT;
}

/* The start (ns) of window i as stored, open or not; 0: none. */
static __u64 wstart(const struct xl_state *s, __u32 i)
{
	return xl_word_start(s->win[i].word);
}

/*
 * SEMANTICS.md §3: `3 per 10 seconds`, first request at t0 (UTC
 * 1700000000.25), requests at +0, +1, +2, +3 and +10.3 s.
 */
static void test_worked_example(void)
{
	static const struct {
		__u64 at_ms; /* after t0 */
		bool allowed;
		__u64 remaining;
		__u64 reset_ms; /* window end, after t0 */
		__u64 hdr_reset; /* X-RateLimit-Reset */
		__u64 retry_after; /* Retry-After */
	} steps[] = {
		{ 0, true, 2, 10000, 1700000011, 10 },
		{ 1000, true, 1, 10000, 1700000011, 9 },
		{ 2000, true, 0, 10000, 1700000011, 8 },
		{ 3000, false, 0, 10000, 1700000011, 7 },
		{ 10300, true, 2, 20300, 1700000021, 10 },
	};
	const __u64 utc0 = 1700000000ULL * NS_PER_S + 250 * NS_PER_MS;
	struct xl_rule r = {};
	struct xl_state s = {};
	unsigned int i;
	char name[64];

	set_limit(&r, 0, 3, 10 * NS_PER_S, XL_ACT_DROP);
	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		__u64 now = T0 + steps[i].at_ms * NS_PER_MS;
		__u64 reset_utc, hdr;
		struct xl_view v;
		__u32 over;

		over = xl_charge(&r, &s, now);
		snprintf(name, sizeof(name), "+%llums breached",
			 (ull)steps[i].at_ms);
		ASSERT_EQ(over, steps[i].allowed ? 0 : 1, name);
		if (!steps[i].allowed) {
			snprintf(name, sizeof(name), "+%llums verdict",
				 (ull)steps[i].at_ms);
			ASSERT_EQ(xl_over_verdict(&r, over), XL_V_OVER_DROP,
				  name);
		}
		snprintf(name, sizeof(name), "+%llums reported",
			 (ull)steps[i].at_ms);
		ASSERT_EQ(xl_report_index(&r, &s, now, over), 0, name);

		v = view(&r, &s, 0, now);
		snprintf(name, sizeof(name), "+%llums limit",
			 (ull)steps[i].at_ms);
		ASSERT_U64_EQ(v.amount, 3, name);
		snprintf(name, sizeof(name), "+%llums remaining",
			 (ull)steps[i].at_ms);
		ASSERT_U64_EQ(v.remaining, steps[i].remaining, name);
		/* The window opened at reset - 10 s, rounded down to the
		 * unit: it ends that much early. */
		snprintf(name, sizeof(name), "+%llums reset_ns",
			 (ull)steps[i].at_ms);
		ASSERT_U64_EQ(v.reset_ns,
			      unit_floor(T0 + (steps[i].reset_ms - 10000) *
						      NS_PER_MS) +
				      10 * NS_PER_S,
			      name);

		/* What the sidecar makes of it: floor(reset) + 1 in UTC, and
		 * Retry-After = trunc(X-RateLimit-Reset - now). */
		reset_utc = utc0 + (v.reset_ns - T0);
		hdr = reset_utc / NS_PER_S + 1;
		snprintf(name, sizeof(name), "+%llums X-RateLimit-Reset",
			 (ull)steps[i].at_ms);
		ASSERT_U64_EQ(hdr, steps[i].hdr_reset, name);
		snprintf(name, sizeof(name), "+%llums Retry-After",
			 (ull)steps[i].at_ms);
		ASSERT_U64_EQ((hdr * NS_PER_S - (utc0 + now - T0)) / NS_PER_S,
			      steps[i].retry_after, name);
	}
}

/*
 * SEMANTICS.md §2: the window is [first hit, first hit + period), not
 * aligned to the clock, with the first hit's time rounded down to the
 * 2^20 ns unit; refused hits count too, up to amount + 1; the hit at
 * exactly start + period opens a new window, start + period - 1 ns is
 * still in the old one.
 */
static void test_fixed_window(void)
{
	const __u64 p = NS_PER_S, first = T0 + 777;
	const __u64 start = unit_floor(first), end = start + p;
	struct xl_rule r = {};
	struct xl_state s = {};
	struct xl_view v;
	char name[64];
	int i;

	/* Not aligned: the rounding shows, and the window ends early. */
	ASSERT_TRUE(start < first && first - start < (1ULL << XL_UNIT_SHIFT),
		    "T0 is not on a unit");
	set_limit(&r, 0, 2, p, XL_ACT_DROP);

	/* No window yet: the full quota, and a hit now would open one. */
	v = view(&r, &s, 0, first);
	ASSERT_U64_EQ(v.remaining, 2, "fresh remaining");
	ASSERT_U64_EQ(v.reset_ns, first + p, "fresh reset_ns");
	ASSERT_U64_EQ(count(&r, &s, 0, first), 0, "fresh count");

	ASSERT_EQ(xl_charge(&r, &s, first), 0, "first hit allowed");
	ASSERT_U64_EQ(wstart(&s, 0), start, "window starts at the first hit");
	ASSERT_U64_EQ(s.win[0].start, first >> XL_UNIT_SHIFT,
		      "start field in units");
	ASSERT_EQ(xl_charge(&r, &s, first + 1), 0, "second hit allowed");
	ASSERT_U64_EQ(view(&r, &s, 0, first + 1).remaining, 0,
		      "remaining after two");

	for (i = 0; i < 5; i++) {
		__u64 now = first + (i + 1) * 100 * NS_PER_MS;

		snprintf(name, sizeof(name), "refused hit %d", i);
		ASSERT_EQ(xl_charge(&r, &s, now), 1, name);
		/* The first refused hit counts; past amount + 1 a window is
		 * not added to (it could not change remaining or verdict). */
		snprintf(name, sizeof(name), "refused hit %d counted", i);
		ASSERT_U64_EQ(count(&r, &s, 0, now), 3, name);
		v = view(&r, &s, 0, now);
		snprintf(name, sizeof(name), "refused hit %d remaining", i);
		ASSERT_U64_EQ(v.remaining, 0, name);
		snprintf(name, sizeof(name), "refused hit %d reset_ns", i);
		ASSERT_U64_EQ(v.reset_ns, end, name);
	}

	/* The last nanosecond of the window. */
	ASSERT_EQ(xl_charge(&r, &s, end - 1), 1, "at end - 1 ns refused");
	ASSERT_U64_EQ(count(&r, &s, 0, end - 1), 3, "at end - 1 ns count");
	ASSERT_U64_EQ(wstart(&s, 0), start, "at end - 1 ns same window");
	ASSERT_U64_EQ(s.win[0].count, 3, "count field");

	/* The window end itself belongs to the next window, though it is
	 * before first hit + period. */
	ASSERT_TRUE(end < first + p, "end before first hit + period");
	ASSERT_U64_EQ(count(&r, &s, 0, end), 0, "count at end");
	ASSERT_U64_EQ(view(&r, &s, 0, end).remaining, 2, "remaining at end");
	ASSERT_EQ(xl_charge(&r, &s, end), 0, "at end allowed");
	ASSERT_U64_EQ(wstart(&s, 0), unit_floor(end), "at end new window");
	ASSERT_U64_EQ(count(&r, &s, 0, end), 1, "at end count");
	v = view(&r, &s, 0, end);
	ASSERT_U64_EQ(v.remaining, 1, "at end remaining");
	ASSERT_U64_EQ(v.reset_ns, unit_floor(end) + p, "at end reset_ns");

	/* A quiet spell longer than the period: the next window starts at
	 * the next hit, not at a multiple of the period. */
	ASSERT_EQ(xl_charge(&r, &s, first + 3 * p + 12345678), 0,
		  "after a pause allowed");
	ASSERT_U64_EQ(wstart(&s, 0), unit_floor(first + 3 * p + 12345678),
		      "after a pause window starts at the hit");
}

/* `0 per second` (a quirk of `limits` kept for compatibility): every hit
 * is over the limit, and is counted. */
static void test_zero_amount(void)
{
	static const __u32 actions[] = { XL_ACT_DROP, XL_ACT_PASS };
	static const __u32 verdicts[] = { XL_V_OVER_DROP, XL_V_OVER_PASS };
	const __u64 p = NS_PER_S;
	unsigned int a;
	char name[64];

	for (a = 0; a < 2; a++) {
		__u64 ws = 0, n;
		struct xl_rule r = {};
		struct xl_state s = {};
		int i;

		set_limit(&r, 0, 0, p, actions[a]);
		for (i = 0; i < 10; i++) {
			__u64 now = T0 + i * 300 * NS_PER_MS;
			struct xl_view v;
			__u32 over;

			if (!ws || now - ws >= p) {
				ws = unit_floor(now);
				n = 0;
			}
			/* the first hit of a window counts, then it is full */
			n = 1;
			over = xl_charge(&r, &s, now);
			snprintf(name, sizeof(name), "action %u hit %d", a, i);
			ASSERT_EQ(over, 1, name);
			ASSERT_EQ(xl_over_verdict(&r, over), verdicts[a], name);
			ASSERT_U64_EQ(count(&r, &s, 0, now), n, name);
			v = view(&r, &s, 0, now);
			ASSERT_U64_EQ(v.amount, 0, name);
			ASSERT_U64_EQ(v.remaining, 0, name);
			ASSERT_U64_EQ(v.reset_ns, ws + p, name);
		}
	}
}

/* Over several limits: drop wins over reject, reject over pass. A hit
 * a reject limit refuses is charged, like a dropped one, only to the
 * limits it breaches. */
static void test_action_precedence(void)
{
	static const __u32 acts[] = { XL_ACT_DROP, XL_ACT_REJECT, XL_ACT_PASS };
	struct xl_rule r = {};
	struct xl_state s = {};
	unsigned int a, b, over;
	char name[64];

	r.nlimits = 2;
	for (a = 0; a < 3; a++) {
		for (b = 0; b < 3; b++) {
			r.limits[0].action = acts[a];
			r.limits[1].action = acts[b];
			for (over = 1; over <= 3; over++) {
				__u32 want = XL_V_OVER_PASS, i;

				for (i = 0; i < 2; i++) {
					__u32 act = r.limits[i].action;

					if (!(over & (1U << i)))
						continue;
					if (act == XL_ACT_DROP)
						want = XL_V_OVER_DROP;
					else if (act == XL_ACT_REJECT &&
						 want != XL_V_OVER_DROP)
						want = XL_V_OVER_REJECT;
				}
				snprintf(name, sizeof(name),
					 "actions %u,%u over %u", acts[a],
					 acts[b], over);
				ASSERT_EQ(xl_over_verdict(&r, over), want,
					  name);
			}
		}
	}
	memset(&r, 0, sizeof(r));
	set_limit(&r, 0, 1, 10 * NS_PER_S, XL_ACT_REJECT);
	set_limit(&r, 1, 10, 10 * NS_PER_S, XL_ACT_PASS);
	ASSERT_EQ(xl_charge(&r, &s, T0), 0, "first hit fits");
	ASSERT_EQ(xl_charge(&r, &s, T0 + 1), 1, "second breaches reject");
	ASSERT_U64_EQ(count(&r, &s, 1, T0 + 1), 1,
		      "a rejected hit is not charged to the pass limit");
}

/*
 * Two limits, 1 per second with action pass and 2 per 10 seconds with
 * action drop: a hit that is let through (within both, or over the pass
 * limit only) is charged to both; a refused hit (over the drop limit) only
 * to the limits it breaches; the verdict is drop if any breached limit
 * says drop.
 */
static void test_multi_charge(void)
{
	static const struct {
		__u64 at_ms;
		__u32 over;
		__u32 verdict; /* when over */
		__u64 count0, count1; /* after the hit */
	} steps[] = {
		{ 0, 0, 0, 1, 1 }, /* fits both */
		{ 100, 1, XL_V_OVER_PASS, 2,
		  2 }, /* over 0 (pass): let through */
		{ 1000, 2, XL_V_OVER_DROP, 0, 3 }, /* over 1 (drop) only */
		{ 1100, 2, XL_V_OVER_DROP, 0, 3 }, /* 1 is past amount + 1 */
		{ 2000, 2, XL_V_OVER_DROP, 0, 3 },
		{ 9000, 2, XL_V_OVER_DROP, 0, 3 },
		{ 10000, 0, 0, 1, 1 }, /* both rolled over */
		{ 10100, 1, XL_V_OVER_PASS, 2, 2 },
		{ 10200, 3, XL_V_OVER_DROP, 2, 3 }, /* over both; 0 is full */
	};
	struct xl_rule r = {};
	struct xl_state s = {};
	unsigned int i;
	char name[64];

	set_limit(&r, 0, 1, NS_PER_S, XL_ACT_PASS);
	set_limit(&r, 1, 2, 10 * NS_PER_S, XL_ACT_DROP);
	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		__u64 now = T0 + steps[i].at_ms * NS_PER_MS;
		__u32 over = xl_charge(&r, &s, now);

		snprintf(name, sizeof(name), "+%llums breached",
			 (ull)steps[i].at_ms);
		ASSERT_EQ(over, steps[i].over, name);
		if (over) {
			snprintf(name, sizeof(name), "+%llums verdict",
				 (ull)steps[i].at_ms);
			ASSERT_EQ(xl_over_verdict(&r, over), steps[i].verdict,
				  name);
		}
		snprintf(name, sizeof(name), "+%llums count 0",
			 (ull)steps[i].at_ms);
		ASSERT_U64_EQ(count(&r, &s, 0, now), steps[i].count0, name);
		snprintf(name, sizeof(name), "+%llums count 1",
			 (ull)steps[i].at_ms);
		ASSERT_U64_EQ(count(&r, &s, 1, now), steps[i].count1, name);
	}
	/* Only the windows of the rule's limits are touched. */
	ASSERT_U64_EQ(s.win[2].word, 0, "window 2 untouched");
	ASSERT_U64_EQ(s.win[3].word, 0, "window 3 untouched");
}

/*
 * Where xlimit parts from Flask-Limiter (SEMANTICS.md §2). With `2 per
 * second; 3 per 10 seconds`, Flask-Limiter checks the second first and
 * keeps its increment when the 10 s limit refuses the hit. Two refused
 * hits at +9.5 s and +9.6 s would use up the 1 s window they open, so the
 * hit at +10.0 s, when the 10 s window has rolled over, would be refused by
 * the 1 s limit. In xlimit the refused hits are charged to the 10 s limit
 * only, and +10.0 s and +10.1 s pass.
 */
static void test_multi_no_leak(void)
{
	static const struct {
		__u64 at_ms;
		__u32 over;
		__u64 count0, count1; /* after the hit */
	} steps[] = {
		{ 0, 0, 1, 1 },
		{ 500, 0, 2, 2 },
		{ 2000, 0, 1, 3 }, /* the 10 s limit is full */
		{ 9500, 2, 0, 4 }, /* refused by the 10 s limit only */
		{ 9600, 2, 0, 4 }, /* past amount + 1: no add */
		{ 10000, 0, 1, 1 }, /* Flask-Limiter: refused */
		{ 10100, 0, 2, 2 },
		{ 10200, 1, 3, 2 }, /* refused by the 1 s limit only */
	};
	struct xl_rule r = {};
	struct xl_state s = {};
	unsigned int i;
	char name[64];

	set_limit(&r, 0, 2, NS_PER_S, XL_ACT_DROP);
	set_limit(&r, 1, 3, 10 * NS_PER_S, XL_ACT_DROP);
	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		__u64 now = T0 + steps[i].at_ms * NS_PER_MS;
		__u32 over = xl_charge(&r, &s, now);

		snprintf(name, sizeof(name), "+%llums breached",
			 (ull)steps[i].at_ms);
		ASSERT_EQ(over, steps[i].over, name);
		snprintf(name, sizeof(name), "+%llums count 0",
			 (ull)steps[i].at_ms);
		ASSERT_U64_EQ(count(&r, &s, 0, now), steps[i].count0, name);
		snprintf(name, sizeof(name), "+%llums count 1",
			 (ull)steps[i].at_ms);
		ASSERT_U64_EQ(count(&r, &s, 1, now), steps[i].count1, name);
	}
	/* The refused hits did not open a 1 s window. */
	ASSERT_U64_EQ(wstart(&s, 0), unit_floor(T0 + 10000 * NS_PER_MS),
		      "1 s window opened by the allowed hit");
}

/*
 * The limit the headers report: the breached one (the first if several),
 * or when none is breached the least remaining, ties going to the earliest
 * reset.
 */
static void test_report_index(void)
{
	const __u64 p1 = NS_PER_S, p5 = 5 * NS_PER_S, p10 = 10 * NS_PER_S;
	struct xl_rule r = {};
	struct xl_state s = {};

	/* Least remaining. */
	set_limit(&r, 0, 5, p10, XL_ACT_DROP);
	set_limit(&r, 1, 3, p1, XL_ACT_DROP);
	ASSERT_EQ(xl_charge(&r, &s, T0), 0, "least: hit");
	ASSERT_EQ(xl_report_index(&r, &s, T0, 0), 1, "least remaining");
	/* Breached limits win, the first of them. */
	ASSERT_EQ(xl_report_index(&r, &s, T0, 1U << 0), 0, "breached 0");
	ASSERT_EQ(xl_report_index(&r, &s, T0, 1U << 1), 1, "breached 1");
	ASSERT_EQ(xl_report_index(&r, &s, T0, 3), 0, "breached both");

	/* Equal remaining: the earliest reset, wherever it is. */
	memset(&r, 0, sizeof(r));
	memset(&s, 0, sizeof(s));
	set_limit(&r, 0, 3, p10, XL_ACT_DROP);
	set_limit(&r, 1, 3, p1, XL_ACT_DROP);
	set_limit(&r, 2, 3, p5, XL_ACT_DROP);
	ASSERT_EQ(xl_charge(&r, &s, T0), 0, "ties: hit");
	ASSERT_EQ(xl_report_index(&r, &s, T0, 0), 1, "tie, 1 s resets first");
	ASSERT_EQ(xl_report_index(&r, &s, T0, 1U << 2), 2, "breached 2");

	memset(&r, 0, sizeof(r));
	memset(&s, 0, sizeof(s));
	set_limit(&r, 0, 2, p1, XL_ACT_DROP);
	set_limit(&r, 1, 2, p10, XL_ACT_DROP);
	ASSERT_EQ(xl_charge(&r, &s, T0), 0, "ties: hit 1");
	ASSERT_EQ(xl_report_index(&r, &s, T0, 0), 0, "tie, 1 s first");
	ASSERT_EQ(xl_charge(&r, &s, T0 + 500 * NS_PER_MS), 0, "ties: hit 2");
	ASSERT_EQ(xl_report_index(&r, &s, T0 + 500 * NS_PER_MS, 0), 0,
		  "tie at 0 remaining, 1 s first");
	/* The 1 s window ran out: full quota again, the 10 s one has none. */
	ASSERT_EQ(xl_report_index(&r, &s, T0 + 1500 * NS_PER_MS, 0), 1,
		  "1 s window expired");
}

/* A reference model of §2 for several limits, written as plainly as
 * possible: a window is (start, count), start 0 when there is none; a
 * window starts at its first hit rounded down to the unit, and a window
 * whose count is past its amount is not added to. */
struct model_win {
	__u64 start, count;
};

static __u32 model_charge(const struct xl_rule *r, struct model_win *m,
			  __u64 now)
{
	__u32 i, over = 0, drop = 0;

	for (i = 0; i < r->nlimits; i++) {
		if (m[i].start && now - m[i].start >= r->limits[i].period_ns)
			m[i].start = m[i].count = 0;
		if (m[i].count >= r->limits[i].amount)
			over |= 1U << i;
		if (r->limits[i].action == XL_ACT_DROP)
			drop |= 1U << i;
	}
	/* Refused (over a drop limit): charged to the breached limits only.
	 * Let through (within, or over pass limits only): charged to all. */
	for (i = 0; i < r->nlimits; i++) {
		if ((over & drop) && !(over & (1U << i)))
			continue;
		if (m[i].count > r->limits[i].amount)
			continue;
		if (!m[i].start)
			m[i].start = unit_floor(now);
		m[i].count++;
	}
	return over;
}

static __u32 model_report(const struct xl_rule *r, const struct model_win *m,
			  __u64 now, __u32 over)
{
	__u64 best_rem = 0, best_reset = 0;
	__u32 i, best = 0;

	for (i = 0; i < r->nlimits; i++)
		if (over & (1U << i))
			return i;
	for (i = 0; i < r->nlimits; i++) {
		__u64 amount = r->limits[i].amount, p = r->limits[i].period_ns;
		bool open = m[i].start && now - m[i].start < p;
		__u64 n = open ? m[i].count : 0;
		__u64 rem = n >= amount ? 0 : amount - n;
		__u64 reset = open ? m[i].start + p : now + p;

		if (i == 0 || rem < best_rem ||
		    (rem == best_rem && reset < best_reset)) {
			best = i;
			best_rem = rem;
			best_reset = reset;
		}
	}
	return best;
}

/* Four limits (the most a rule has), a few thousand hits at pseudo-random
 * intervals, every result compared with the model. */
static void test_model_four_limits(void)
{
	struct model_win m[XL_MAX_LIMITS] = {};
	struct xl_rule r = {};
	struct xl_state s = {};
	__u64 now = T0, seed = 88172645463325252ULL;
	__u32 seen_over = 0;
	int fails = 0, h, allowed = 0;
	char name[64];
	__u32 i;

	set_limit(&r, 0, 3, NS_PER_S, XL_ACT_PASS);
	set_limit(&r, 1, 10, 5 * NS_PER_S, XL_ACT_PASS);
	set_limit(&r, 2, 20, 15 * NS_PER_S, XL_ACT_DROP);
	set_limit(&r, 3, 40, 60 * NS_PER_S, XL_ACT_PASS);
	for (h = 0; h < 5000 && fails < 5; h++) {
		__u32 over, want;
		bool drop = false;

		seed ^= seed << 13; /* xorshift64 */
		seed ^= seed >> 7;
		seed ^= seed << 17;
		now += seed % (400 * NS_PER_MS);

		want = model_charge(&r, m, now);
		over = xl_charge(&r, &s, now);
		snprintf(name, sizeof(name), "hit %d breached", h);
		fails += !ASSERT_EQ(over, want, name);
		seen_over |= over;
		allowed += !over;
		for (i = 0; i < XL_MAX_LIMITS; i++) {
			const struct xl_limit *l = &r.limits[i];
			struct xl_view v = view(&r, &s, i, now);
			bool open = m[i].start &&
				    now - m[i].start < l->period_ns;
			__u64 n = open ? m[i].count : 0;
			__u64 rem = n >= l->amount ? 0 : l->amount - n;
			__u64 reset = (open ? m[i].start : now) + l->period_ns;

			snprintf(name, sizeof(name), "hit %d count %u", h, i);
			fails += !ASSERT_U64_EQ(count(&r, &s, i, now), n, name);
			snprintf(name, sizeof(name), "hit %d remaining %u", h,
				 i);
			fails += !ASSERT_U64_EQ(v.remaining, rem, name);
			snprintf(name, sizeof(name), "hit %d reset %u", h, i);
			fails += !ASSERT_U64_EQ(v.reset_ns, reset, name);
			if ((over & (1U << i)) && l->action == XL_ACT_DROP)
				drop = true;
		}
		if (over) {
			__u32 verdict = drop ? XL_V_OVER_DROP : XL_V_OVER_PASS;

			snprintf(name, sizeof(name), "hit %d verdict", h);
			fails += !ASSERT_EQ(xl_over_verdict(&r, over), verdict,
					    name);
		}
		snprintf(name, sizeof(name), "hit %d reported", h);
		fails += !ASSERT_EQ(xl_report_index(&r, &s, now, over),
				    model_report(&r, m, now, over), name);
	}
	/* The walk must have exercised every limit and both outcomes. */
	ASSERT_EQ(seen_over, 0xf, "every limit breached at some point");
	ASSERT_TRUE(allowed > 100 && allowed < h - 100, "allowed and refused");
}

/* Each limit's window rolls over on its own: the short one restarts while
 * the long one keeps counting. */
static void test_rollover_independent(void)
{
	static const struct {
		__u64 at_ms;
		__u32 over;
		__u64 start0_ms, count0, start1_ms, count1; /* after the hit */
	} steps[] = {
		{ 0, 0, 0, 1, 0, 1 },
		{ 500, 0, 0, 2, 0, 2 },
		{ 900, 1, 0, 3, 0, 2 },
		{ 1000, 0, 1000, 1, 0, 3 },
		{ 1500, 0, 1000, 2, 0, 4 },
		{ 2000, 0, 2000, 1, 0, 5 },
		{ 3000, 2, 2000, 0, 0, 6 }, /* 0 expired, not reopened */
		{ 9999, 2, 2000, 0, 0, 6 }, /* 1 past amount + 1: no add */
		{ 10000, 0, 10000, 1, 10000, 1 },
		{ 10500, 0, 10000, 2, 10000, 2 },
		{ 11200, 0, 11200, 1, 10000, 3 },
	};
	struct xl_rule r = {};
	struct xl_state s = {};
	unsigned int i;
	char name[64];

	set_limit(&r, 0, 2, NS_PER_S, XL_ACT_DROP);
	set_limit(&r, 1, 5, 10 * NS_PER_S, XL_ACT_DROP);
	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		__u64 now = T0 + steps[i].at_ms * NS_PER_MS;
		__u64 start0 = unit_floor(T0 + steps[i].start0_ms * NS_PER_MS);
		__u64 start1 = unit_floor(T0 + steps[i].start1_ms * NS_PER_MS);
		/* An expired window resets a period after now. */
		__u64 reset0 = (steps[i].count0 ? start0 : now) + NS_PER_S;
		__u64 ms = steps[i].at_ms;

		snprintf(name, sizeof(name), "+%llums breached", (ull)ms);
		ASSERT_EQ(xl_charge(&r, &s, now), steps[i].over, name);
		snprintf(name, sizeof(name), "+%llums start 0", (ull)ms);
		ASSERT_U64_EQ(wstart(&s, 0), start0, name);
		snprintf(name, sizeof(name), "+%llums start 1", (ull)ms);
		ASSERT_U64_EQ(wstart(&s, 1), start1, name);
		snprintf(name, sizeof(name), "+%llums count 0", (ull)ms);
		ASSERT_U64_EQ(count(&r, &s, 0, now), steps[i].count0, name);
		snprintf(name, sizeof(name), "+%llums count 1", (ull)ms);
		ASSERT_U64_EQ(count(&r, &s, 1, now), steps[i].count1, name);
		snprintf(name, sizeof(name), "+%llums reset 0", (ull)ms);
		ASSERT_U64_EQ(view(&r, &s, 0, now).reset_ns, reset0, name);
		snprintf(name, sizeof(name), "+%llums reset 1", (ull)ms);
		ASSERT_U64_EQ(view(&r, &s, 1, now).reset_ns,
			      start1 + 10 * NS_PER_S, name);
	}
}

/* xl_window_uncharge takes back a hit of the window it was charged in,
 * and does nothing once that window has rolled over. */
static void test_uncharge(void)
{
	const __u64 p = NS_PER_S, t1 = T0 + p;
	struct xl_window w = {};
	__u64 st = 0, st2 = 0;

	ASSERT_U64_EQ(xl_window_charge(&w, p, T0, &st), 1, "charge 1");
	ASSERT_U64_EQ(st, unit_floor(T0), "charge 1 start");
	ASSERT_U64_EQ(xl_window_charge(&w, p, T0 + 1, &st), 2, "charge 2");
	ASSERT_U64_EQ(xl_window_charge(&w, p, T0 + 2, &st), 3, "charge 3");
	ASSERT_U64_EQ(st, unit_floor(T0), "charge 3 start");

	ASSERT_EQ(xl_window_uncharge(&w, st), 1, "uncharge");
	ASSERT_U64_EQ(xl_window_count(&w, p, T0 + 3), 2, "taken back");
	ASSERT_U64_EQ(w.word, xl_word_open(T0, 2), "start kept");

	/* A hit that passed uncounted has nothing to take back. */
	ASSERT_EQ(xl_window_uncharge(&w, 0), 0, "start 0");
	ASSERT_U64_EQ(xl_window_count(&w, p, T0 + 3), 2, "start 0 ignored");

	/* Down to zero, and no further: the count must not borrow from the
	 * start bits. */
	xl_window_uncharge(&w, st);
	xl_window_uncharge(&w, st);
	ASSERT_U64_EQ(xl_window_count(&w, p, T0 + 3), 0, "down to 0");
	ASSERT_EQ(xl_window_uncharge(&w, st), 0, "uncharge at 0");
	ASSERT_U64_EQ(w.word, xl_word_open(T0, 0), "no underflow");
	ASSERT_U64_EQ(xl_window_count(&w, p, T0 + 3), 0, "still 0");
	ASSERT_U64_EQ(xl_window_charge(&w, p, T0 + 4, &st), 1,
		      "charge after 0");
	ASSERT_U64_EQ(st, unit_floor(T0), "same window after 0");

	/* Rolled over: the new window keeps its count and start. */
	ASSERT_U64_EQ(xl_window_charge(&w, p, t1, &st2), 1, "rolled over");
	ASSERT_U64_EQ(st2, unit_floor(t1), "new start");
	ASSERT_EQ(xl_window_uncharge(&w, st), 0, "stale uncharge at count 1");
	ASSERT_U64_EQ(w.word, xl_word_open(t1, 1), "stale uncharge kept 1");
	ASSERT_U64_EQ(xl_window_count(&w, p, t1), 1, "new count kept");
	ASSERT_U64_EQ(xl_window_charge(&w, p, t1 + 1, &st2), 2,
		      "new window charge 2");
	ASSERT_EQ(xl_window_uncharge(&w, st), 0, "stale uncharge");
	ASSERT_U64_EQ(w.word, xl_word_open(t1, 2), "stale uncharge kept 2");
	ASSERT_EQ(xl_window_uncharge(&w, st2), 1, "current uncharge");
	ASSERT_U64_EQ(xl_window_count(&w, p, t1 + 2), 1, "current count");
}

/*
 * Another CPU may open a window with a clock reading a little ahead of
 * ours: a hit whose `now` is slightly before `start` is inside that
 * window, not in a new one.
 */
static void test_clock_behind_start(void)
{
	const __u64 p = NS_PER_S, first = T0 + 5 * NS_PER_MS;
	const __u64 start = unit_floor(first);
	struct xl_rule r = {};
	struct xl_state s = {};
	struct xl_view v;

	set_limit(&r, 0, 2, p, XL_ACT_DROP);
	/* T0 is in the unit before the window's. */
	ASSERT_TRUE(T0 < start, "T0 before the window's unit");
	ASSERT_EQ(xl_charge(&r, &s, first), 0, "hit on the later clock");
	ASSERT_U64_EQ(count(&r, &s, 0, start - 1), 1, "count 1 ns before");
	ASSERT_U64_EQ(count(&r, &s, 0, T0), 1, "count 5 ms before");

	ASSERT_EQ(xl_charge(&r, &s, T0), 0, "behind: allowed");
	ASSERT_U64_EQ(wstart(&s, 0), start, "behind: same window");
	ASSERT_U64_EQ(count(&r, &s, 0, T0), 2, "behind: counted");
	v = view(&r, &s, 0, T0);
	ASSERT_U64_EQ(v.remaining, 0, "behind: remaining");
	ASSERT_U64_EQ(v.reset_ns, start + p, "behind: reset_ns");
	ASSERT_EQ(xl_charge(&r, &s, T0 + 1), 1, "behind: third refused");
	ASSERT_U64_EQ(wstart(&s, 0), start, "behind: still same window");
	ASSERT_U64_EQ(count(&r, &s, 0, start + p - 1), 3, "count at end - 1");
	ASSERT_U64_EQ(count(&r, &s, 0, start + p), 0, "count at end");

	/* 0 means "no window": a clock reading 0 still opens one. */
	memset(&s, 0, sizeof(s));
	ASSERT_EQ(xl_charge(&r, &s, 0), 0, "now 0: allowed");
	ASSERT_U64_EQ(s.win[0].start, 1, "now 0: window opened at unit 1");
	ASSERT_EQ(xl_charge(&r, &s, 0), 0, "now 0: second allowed");
	ASSERT_EQ(xl_charge(&r, &s, 0), 1, "now 0: third refused");
}

/* ---- Threads ---------------------------------------------------------- */

/* One hit as recorded by a thread: the window it landed in, its count. */
struct rec {
	__u64 start;
	__u64 count;
};

struct race {
	pthread_barrier_t barrier;
	const struct xl_rule *rule;
	struct xl_state *state; /* nkeys of them at one instant */
	/* At one instant: every thread makes `hits` hits at `now` on each
	 * key in turn, and counts what passed per key in allowed[]. */
	__u64 now;
	long hits;
	int nkeys;
	long *allowed;
	/*
	 * Across windows: the clock reads base + phase * step, plus a skew
	 * per thread. Thread 0 makes per_window hits in each phase, then
	 * moves the clock on; the others make up to twice as many in each
	 * phase until it is done. The clock moves on only once every thread
	 * has finished a hit begun in the current phase (seen[]): simulated
	 * time runs far faster than real time, and a thread descheduled in
	 * the middle of a hit must not wake up whole periods later, which no
	 * CPU running XDP can do.
	 */
	int windows;
	int phase;
	int seen[NTHREADS];
	int done;
	long per_window;
	__u64 base, step;
	__u64 skew[NTHREADS];
	bool window_charge; /* record (start, count) per hit */
};

struct racer {
	pthread_t tid;
	struct race *rc;
	int id;
	long allowed;
	struct rec *recs;
	long nrecs, cap;
};

static void *race_one_instant(void *arg)
{
	struct racer *me = arg;
	struct race *rc = me->rc;
	long i, n;
	int k;

	pthread_barrier_wait(&rc->barrier);
	for (k = 0; k < rc->nkeys; k++) {
		for (i = 0, n = 0; i < rc->hits; i++)
			if (!xl_charge(rc->rule, &rc->state[k], rc->now))
				n++;
		__atomic_fetch_add(&rc->allowed[k], n, __ATOMIC_RELAXED);
		me->allowed += n;
	}
	return NULL;
}

static void race_hit(struct racer *me, int phase)
{
	struct race *rc = me->rc;
	__u64 now = rc->base + phase * rc->step + rc->skew[me->id];

	if (rc->window_charge) {
		struct rec *h = &me->recs[me->nrecs++];

		h->count = xl_window_charge(&rc->state->win[0],
					    rc->rule->limits[0].period_ns, now,
					    &h->start);
		if (h->count <= rc->rule->limits[0].amount)
			me->allowed++;
	} else if (!xl_charge(rc->rule, rc->state, now)) {
		me->allowed++;
	}
	__atomic_store_n(&rc->seen[me->id], phase, __ATOMIC_RELEASE);
}

/* Wait until every thread has finished a hit begun in `phase`. */
static void race_wait_phase(struct race *rc, int phase)
{
	int i;

	for (i = 1; i < NTHREADS; i++)
		while (__atomic_load_n(&rc->seen[i], __ATOMIC_ACQUIRE) < phase)
			sched_yield();
}

static void *race_windows(void *arg)
{
	struct racer *me = arg;
	struct race *rc = me->rc;
	int k, last = 0;
	long i, n = 0;

	pthread_barrier_wait(&rc->barrier);
	if (me->id == 0) {
		for (k = 0; k < rc->windows; k++) {
			if (k) {
				race_wait_phase(rc, k - 1);
				__atomic_store_n(&rc->phase, k,
						 __ATOMIC_RELEASE);
			}
			for (i = 0; i < rc->per_window; i++)
				race_hit(me, k);
		}
		__atomic_store_n(&rc->done, 1, __ATOMIC_RELEASE);
		return NULL;
	}
	while (!__atomic_load_n(&rc->done, __ATOMIC_ACQUIRE) &&
	       me->nrecs < me->cap) {
		k = __atomic_load_n(&rc->phase, __ATOMIC_ACQUIRE);
		if (k != last) {
			last = k;
			n = 0;
		}
		/* Enough in this window: wait for the next one, so as to
		 * hit it as soon as it opens. */
		if (n++ >= 2 * rc->per_window) {
			sched_yield();
			continue;
		}
		race_hit(me, k);
	}
	/* Out of room: no longer holds the clock back. */
	__atomic_store_n(&rc->seen[me->id], INT_MAX, __ATOMIC_RELEASE);
	return NULL;
}

/* Run NTHREADS threads of fn on rc; returns the hits they allowed, or -1
 * when the threads could not be run. */
static long run_race(struct race *rc, void *(*fn)(void *), struct racer *racers)
{
	long allowed = 0;
	int i, n = 0, err;

	err = pthread_barrier_init(&rc->barrier, NULL, NTHREADS);
	if (!ASSERT_OK(err, "pthread_barrier_init"))
		return -1;
	for (i = 0; i < NTHREADS; i++) {
		rc->seen[i] = -1;
		racers[i].rc = rc;
		racers[i].id = i;
		racers[i].allowed = 0;
		racers[i].nrecs = 0;
		err = pthread_create(&racers[i].tid, NULL, fn, &racers[i]);
		if (!ASSERT_OK(err, "pthread_create"))
			break;
		n++;
	}
	if (n < NTHREADS) {
		/* The barrier would never open: nothing to join. */
		abort();
	}
	for (i = 0; i < n; i++) {
		pthread_join(racers[i].tid, NULL);
		allowed += racers[i].allowed;
	}
	pthread_barrier_destroy(&rc->barrier);
	return allowed;
}

/*
 * One limit, every thread hitting at the same instant: exactly `amount`
 * hits pass. The window counts every hit up to amount + 1; past that a
 * hit is refused without an add, except the adds already in flight when
 * the count went over (one per thread at most): with more hits than the
 * amount the count ends in [amount + 1, amount + NTHREADS], else it is
 * the number of hits.
 */
static void test_race_one_limit(void)
{
	static const __u64 amounts[] = { 0, 1, 1000, 150000, 250000 };
	const long per_thread = 50000, total = per_thread * NTHREADS;
	struct racer racers[NTHREADS] = {};
	unsigned int a;
	char name[64];

	for (a = 0; a < sizeof(amounts) / sizeof(amounts[0]); a++) {
		const __u64 amount = amounts[a];
		long allowed, key_allowed = 0;
		struct xl_rule r = {};
		struct xl_state s = {};
		struct race rc = {
			.rule = &r,
			.state = &s,
			.now = T0,
			.hits = per_thread,
			.nkeys = 1,
			.allowed = &key_allowed,
		};
		__u64 n;

		set_limit(&r, 0, amount, 10 * NS_PER_S, XL_ACT_DROP);
		allowed = run_race(&rc, race_one_instant, racers);
		snprintf(name, sizeof(name), "amount %llu allowed",
			 (ull)amount);
		ASSERT_EQ(allowed, amount < (__u64)total ? amount : total,
			  name);
		n = count(&r, &s, 0, T0);
		snprintf(name, sizeof(name), "amount %llu counted %llu",
			 (ull)amount, (ull)n);
		if (amount < (__u64)total)
			ASSERT_TRUE(n >= amount + 1 && n <= amount + NTHREADS,
				    name);
		else
			ASSERT_U64_EQ(n, total, name);
		snprintf(name, sizeof(name), "amount %llu start", (ull)amount);
		ASSERT_U64_EQ(wstart(&s, 0), unit_floor(T0), name);
	}
}

/*
 * Several limits at the same instant, on many keys in turn so that the
 * threads meet at the last hit of many of them: exactly the smallest
 * amount passes on each key; the tight limit counts the hits up to its
 * amount + 1 (and the adds in flight then); the others count only the
 * hits that passed, so the threads that lost the race for the last hit
 * took their charges back.
 */
static void test_race_multi_limit(void)
{
	static const struct {
		__u32 n;
		__u64 amount[XL_MAX_LIMITS];
		__u64 period_s[XL_MAX_LIMITS];
		__u32 tight;
		int keys;
		long per_thread; /* on each key */
	} cases[] = {
		{ 2, { 1000, 300 }, { 10, 1 }, 1, 1, 50000 },
		{ 2, { 30, 100 }, { 1, 10 }, 0, 256, 30 },
		{ 4, { 500, 70, 90, 300 }, { 3600, 1, 10, 60 }, 1, 256, 70 },
	};
	const int nkeys = 256;
	struct racer racers[NTHREADS] = {};
	struct xl_state *states;
	long *key_allowed;
	unsigned int c;
	char name[64];
	int k;

	states = calloc(nkeys, sizeof(*states));
	key_allowed = calloc(nkeys, sizeof(*key_allowed));
	if (!ASSERT_TRUE(states && key_allowed, "calloc"))
		goto out;
	for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		const __u64 min = cases[c].amount[cases[c].tight];
		int bad_allowed = 0, bad_count = 0;
		struct xl_rule r = {};
		struct race rc = {
			.rule = &r,
			.state = states,
			.now = T0,
			.hits = cases[c].per_thread,
			.nkeys = cases[c].keys,
			.allowed = key_allowed,
		};
		__u32 i;

		memset(states, 0, nkeys * sizeof(*states));
		memset(key_allowed, 0, nkeys * sizeof(*key_allowed));
		for (i = 0; i < cases[c].n; i++)
			set_limit(&r, i, cases[c].amount[i],
				  cases[c].period_s[i] * NS_PER_S, XL_ACT_DROP);
		if (run_race(&rc, race_one_instant, racers) < 0)
			break;
		for (k = 0; k < cases[c].keys; k++) {
			if ((__u64)key_allowed[k] != min && !bad_allowed++)
				fprintf(stderr, "  key %d: %ld allowed\n", k,
					key_allowed[k]);
			for (i = 0; i < cases[c].n; i++) {
				__u64 got = count(&r, &states[k], i, T0);
				bool ok = got == min;

				/* the tight limit: up to amount + 1, plus
				 * the adds in flight as it went over */
				if (i == cases[c].tight)
					ok = got >= min + 1 &&
					     got <= min + NTHREADS;
				if (!ok && !bad_count++)
					fprintf(stderr,
						"  key %d limit %u: %llu\n", k,
						i, (ull)got);
			}
		}
		snprintf(name, sizeof(name), "case %u: keys not allowing %llu",
			 c, (ull)min);
		ASSERT_EQ(bad_allowed, 0, name);
		snprintf(name, sizeof(name), "case %u: keys with a wrong count",
			 c);
		ASSERT_EQ(bad_count, 0, name);
	}
out:
	free(states);
	free(key_allowed);
}

/*
 * A flood far beyond what 24 bits can count, in one window of the largest
 * amount, from every thread at once, with action drop (refused hits) and
 * pass (hits let through, charged to the limit): exactly the room left
 * passes within the limit, the count stops between amount + 1 and
 * amount + NTHREADS, and the start bits are never touched.
 */
static void test_race_flood(void)
{
	static const __u32 actions[] = { XL_ACT_DROP, XL_ACT_PASS };
	const long per_thread = 1L << 23, room = 10000;
	struct racer racers[NTHREADS] = {};
	unsigned int a;
	char name[64];

	/* 2^25 hits: twice what the count field could hold from 0. */
	ASSERT_TRUE(per_thread * NTHREADS > 2 * (long)XL_COUNT_MASK,
		    "the flood overflows 24 bits");
	for (a = 0; a < 2; a++) {
		long allowed, key_allowed = 0;
		struct xl_rule r = {};
		struct xl_state s = {};
		struct race rc = {
			.rule = &r,
			.state = &s,
			.now = T0 + 7 * NS_PER_S,
			.hits = per_thread,
			.nkeys = 1,
			.allowed = &key_allowed,
		};
		__u64 n;

		set_limit(&r, 0, XL_AMOUNT_MAX, 3600 * NS_PER_S, actions[a]);
		s.win[0].word = xl_word_open(T0, XL_AMOUNT_MAX - room);
		allowed = run_race(&rc, race_one_instant, racers);
		snprintf(name, sizeof(name), "action %u: within the limit", a);
		ASSERT_EQ(allowed, room, name);
		n = count(&r, &s, 0, rc.now);
		snprintf(name, sizeof(name), "action %u: count %llu", a,
			 (ull)n);
		ASSERT_TRUE(n >= XL_AMOUNT_MAX + 1 &&
				    n <= XL_AMOUNT_MAX + NTHREADS,
			    name);
		snprintf(name, sizeof(name), "action %u: start bits", a);
		ASSERT_U64_EQ(s.win[0].start, T0 >> XL_UNIT_SHIFT, name);
		snprintf(name, sizeof(name), "action %u: reset", a);
		ASSERT_U64_EQ(view(&r, &s, 0, rc.now).reset_ns,
			      unit_floor(T0) + 3600 * NS_PER_S, name);
	}
}

static int rec_cmp(const void *a, const void *b)
{
	const struct rec *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	if (x->count != y->count)
		return x->count < y->count ? -1 : 1;
	return 0;
}

/*
 * Check the hits of a run across windows, one limit: every hit landed in
 * a window (a hit that passed uncounted, *startp == 0, is one more than
 * the amount let through), one window per step of the clock, no two hits
 * got the same count in a window (none lost), and each window let exactly
 * `amount` hits through (each got at least per_window hits before the
 * clock moved on).
 */
static void check_windows(struct race *rc, struct racer *racers,
			  const char *what)
{
	const __u64 amount = rc->rule->limits[0].amount;
	const __u64 p = rc->rule->limits[0].period_ns;
	long n = 0, i, j, uncounted = 0, dups = 0, last_hits = 0;
	__u64 max_skew = 0, last_start = 0;
	int windows = 0, bad_allowed = 0, bad_start = 0;
	struct rec *all;
	char name[128];

	for (i = 0; i < NTHREADS; i++) {
		n += racers[i].nrecs;
		if (rc->skew[i] > max_skew)
			max_skew = rc->skew[i];
	}
	all = malloc(n * sizeof(*all));
	if (!ASSERT_TRUE(all != NULL, "malloc"))
		return;
	for (i = 0, j = 0; i < NTHREADS; i++) {
		memcpy(all + j, racers[i].recs, racers[i].nrecs * sizeof(*all));
		j += racers[i].nrecs;
	}
	qsort(all, n, sizeof(*all), rec_cmp);

	for (i = 0; i < n;) {
		__u64 start = all[i].start, lo, allowed = 0;

		if (start == 0) {
			uncounted++;
			i++;
			continue;
		}
		/* opened by the first hit of its step, rounded down */
		lo = rc->base + windows * rc->step;
		if (start < unit_floor(lo) ||
		    start > unit_floor(lo + max_skew)) {
			if (!bad_start++)
				fprintf(stderr, "  window %d starts at %llu\n",
					windows, (ull)start);
		}
		for (j = i; j < n && all[j].start == start; j++) {
			if (j > i && all[j].count == all[j - 1].count)
				dups++;
			if (all[j].count <= amount)
				allowed++;
		}
		if (allowed != amount && !bad_allowed++)
			fprintf(stderr, "  window %d: %llu allowed of %ld\n",
				windows, (ull)allowed, j - i);
		last_start = start;
		last_hits = j - i;
		windows++;
		i = j;
	}
	snprintf(name, sizeof(name), "%s: hits passed uncounted", what);
	ASSERT_EQ(uncounted, 0, name);
	snprintf(name, sizeof(name), "%s: windows", what);
	ASSERT_EQ(windows, rc->windows, name);
	snprintf(name, sizeof(name), "%s: windows at a wrong start", what);
	ASSERT_EQ(bad_start, 0, name);
	snprintf(name, sizeof(name), "%s: hits sharing a count", what);
	ASSERT_EQ(dups, 0, name);
	snprintf(name, sizeof(name), "%s: windows not allowing the amount",
		 what);
	ASSERT_EQ(bad_allowed, 0, name);
	/* Nothing rolled the last window over: its count is its hits. */
	snprintf(name, sizeof(name), "%s: last window count", what);
	ASSERT_U64_EQ(xl_window_count(&rc->state->win[0], p, last_start),
		      last_hits, name);
	free(all);
}

/*
 * Threads hit one key while the clock crosses window boundaries, with and
 * without a skew between their clocks (some then open a window that the
 * others see as starting a little in their future).
 */
static void test_race_rollover(void)
{
	static const __u64 skews[][NTHREADS] = {
		{ 0, 0, 0, 0 },
		{ 0, 1000, 2000, 3000 },
		{ 3000, 0, 2000, 1000 },
	};
	const long cap = 400000;
	struct racer racers[NTHREADS] = {};
	unsigned int k, round;
	char name[64];
	int i;

	for (i = 0; i < NTHREADS; i++) {
		racers[i].cap = cap;
		racers[i].recs = calloc(cap, sizeof(struct rec));
		if (!ASSERT_TRUE(racers[i].recs != NULL, "calloc"))
			goto out;
	}
	for (k = 0; k < sizeof(skews) / sizeof(skews[0]); k++) {
		for (round = 0; round < 3; round++) {
			struct xl_rule r = {};
			struct xl_state s = {};
			struct race rc = {
				.rule = &r,
				.state = &s,
				.windows = 12,
				.per_window = 400,
				.base = T0,
				/* more than the skews apart: every clock
				 * sees each step as a new window */
				.step = NS_PER_S + NS_PER_MS,
				.window_charge = true,
			};
			long allowed;

			memcpy(rc.skew, skews[k], sizeof(rc.skew));
			set_limit(&r, 0, 100, NS_PER_S, XL_ACT_DROP);
			allowed = run_race(&rc, race_windows, racers);
			snprintf(name, sizeof(name), "skew %u round %u", k,
				 round);
			check_windows(&rc, racers, name);
			snprintf(name, sizeof(name),
				 "skew %u round %u allowed in all", k, round);
			ASSERT_EQ(allowed, rc.windows * 100, name);
		}
	}
out:
	for (i = 0; i < NTHREADS; i++)
		free(racers[i].recs);
}

/*
 * The same through xl_charge, with one limit and with a short limit that
 * rolls over under a long one: each short window lets `amount` through,
 * and the long limit counts exactly the hits that passed.
 */
static void test_race_rollover_charge(void)
{
	struct racer racers[NTHREADS] = {};
	unsigned int nlimits, round;
	char name[64];
	int i;

	for (i = 0; i < NTHREADS; i++)
		racers[i].cap = 400000;
	for (nlimits = 1; nlimits <= 2; nlimits++) {
		for (round = 0; round < 3; round++) {
			struct xl_rule r = {};
			struct xl_state s = {};
			struct race rc = {
				.rule = &r,
				.state = &s,
				.windows = 12,
				.per_window = 400,
				.base = T0,
				.step = NS_PER_S + NS_PER_MS,
				.skew = { 0, 1000, 2000, 3000 },
			};
			__u64 end = T0 + (rc.windows - 1) * rc.step;
			long allowed;

			set_limit(&r, 0, 100, NS_PER_S, XL_ACT_DROP);
			if (nlimits == 2)
				set_limit(&r, 1, 1000000, 3600 * NS_PER_S,
					  XL_ACT_DROP);
			allowed = run_race(&rc, race_windows, racers);
			snprintf(name, sizeof(name),
				 "%u limits round %u allowed", nlimits, round);
			ASSERT_EQ(allowed, rc.windows * 100, name);
			if (nlimits == 2) {
				snprintf(name, sizeof(name),
					 "%u limits round %u long count",
					 nlimits, round);
				ASSERT_U64_EQ(count(&r, &s, 1, end), allowed,
					      name);
			}
		}
	}
}

/* ---- sliding-window and token-bucket ---------------------------------- */

/* Every limit of the rule counts as `strategy`; a token bucket with
 * `burst` (0: the amount). */
static void set_strategy(struct xl_rule *r, __u32 strategy, __u32 burst)
{
	__u32 i;

	for (i = 0; i < XL_MAX_LIMITS; i++) {
		r->limits[i].strategy = strategy;
		r->limits[i].burst = strategy == XL_STRAT_TOKEN ? burst : 0;
	}
}

typedef unsigned __int128 u128;

/*
 * The reference models, written from SEMANTICS.md §2 the plain way: whole
 * window numbers, 128-bit arithmetic, a signed TAT. One model limit holds
 * both strategies' state.
 */
struct model_lim {
	bool any; /* sliding: a window was ever counted */
	__u64 k, prev, curr; /* sliding: window number, counts */
	__int128 tat; /* token-bucket */
};

static void msw_roll(struct model_lim *m, __u64 p, __u64 now)
{
	__u64 k = now / p;

	if (m->any && k == m->k)
		return;
	m->prev = m->any && k == m->k + 1 ? m->curr : 0;
	m->curr = 0;
	m->k = k;
	m->any = true;
}

/* floor(weighted) at now, weighted = prev * (p - elapsed) / p + curr. */
static __u64 msw_floor(struct model_lim m, __u64 p, __u64 now)
{
	__u64 elapsed;

	msw_roll(&m, p, now);
	elapsed = now - m.k * p;
	return (__u64)(((u128)m.prev * (p - elapsed) + (u128)m.curr * p) / p);
}

static __u64 mtb_interval(const struct xl_limit *l)
{
	return l->period_ns / l->amount;
}

static __int128 mtb_tau(const struct xl_limit *l)
{
	return (__int128)(l->burst ? l->burst : l->amount) * mtb_interval(l);
}

/* Does one hit at now fit the limit. */
static bool mlim_fits(const struct xl_limit *l, const struct model_lim *m,
		      __u64 now)
{
	__int128 t, n = now;

	if (!l->amount)
		return false;
	if (l->strategy == XL_STRAT_SLIDING)
		return msw_floor(*m, l->period_ns, now) + 1 <= l->amount;
	t = (m->tat > n ? m->tat : n) + mtb_interval(l);
	return n >= t - mtb_tau(l);
}

static void mlim_charge(const struct xl_limit *l, struct model_lim *m,
			__u64 now)
{
	__int128 n = now;

	if (l->strategy == XL_STRAT_SLIDING) {
		msw_roll(m, l->period_ns, now);
		m->curr++;
	} else {
		m->tat = (m->tat > n ? m->tat : n) + mtb_interval(l);
	}
}

/* One hit against the rule. Refused when it does not fit a limit whose
 * action is drop (or reject), and then charged nowhere (neither strategy
 * charges a refused hit); else let through and charged to every limit it
 * fits (those it does not fit have action pass). Returns the breached
 * limits. */
static __u32 mrule_hit(const struct xl_rule *r, struct model_lim *m, __u64 now)
{
	__u32 i, over = 0, drop = 0;

	for (i = 0; i < r->nlimits; i++) {
		if (!mlim_fits(&r->limits[i], &m[i], now))
			over |= 1U << i;
		if (r->limits[i].action != XL_ACT_PASS)
			drop |= 1U << i;
	}
	for (i = 0; !(over & drop) && i < r->nlimits; i++)
		if (!(over & (1U << i)))
			mlim_charge(&r->limits[i], &m[i], now);
	return over;
}

/* Remaining at now: how many hits in a row the limit would admit now. */
static __u64 mlim_remaining(const struct xl_limit *l, struct model_lim m,
			    __u64 now)
{
	__u64 n = 0;

	while (n < (1ULL << 22) && mlim_fits(l, &m, now)) {
		mlim_charge(l, &m, now);
		n++;
	}
	return n;
}

/* Reset at now: the first time remaining goes up; when it cannot (all
 * hits remain), the first time the state is as if empty (sliding: no
 * weight left; token-bucket: now + T); now + period when nothing is
 * counted. Found by bisection: without hits, remaining only grows. */
static __u64 mlim_reset(const struct xl_limit *l, const struct model_lim *m,
			__u64 now)
{
	__u64 rem = mlim_remaining(l, *m, now), lo = now, hi;
	bool full = l->strategy == XL_STRAT_SLIDING ?
			    rem == l->amount :
			    rem == (__u64)(mtb_tau(l) / mtb_interval(l));

	if (l->strategy == XL_STRAT_SLIDING &&
	    !msw_floor(*m, l->period_ns, now)) {
		struct model_lim c = *m;

		msw_roll(&c, l->period_ns, now);
		if (!c.prev && !c.curr)
			return now + l->period_ns;
	}
	if (l->strategy == XL_STRAT_TOKEN && full)
		return now + mtb_interval(l);
	if (l->strategy == XL_STRAT_TOKEN && m->tat <= now)
		return now + mtb_interval(l);
	hi = now + 4 * l->period_ns + (__u64)mtb_tau(l);
	while (hi - lo > 1) { /* invariant: lo "not yet", hi "done" */
		__u64 mid = lo + (hi - lo) / 2;
		bool done;

		if (full) { /* sliding: no weight left at all */
			struct model_lim c = *m;

			msw_roll(&c, l->period_ns, mid);
			done = !c.curr &&
			       (!c.prev ||
				mid - c.k * l->period_ns >= l->period_ns);
		} else {
			done = mlim_remaining(l, *m, mid) > rem;
		}
		if (done)
			hi = mid;
		else
			lo = mid;
	}
	return hi;
}

/*
 * Long random arrival sequences, for each strategy, against the model:
 * every verdict, and remaining and reset of every limit at sampled hits.
 * Arrivals come in bursts and lulls (gaps of up to three periods of the
 * shortest limit), so that windows roll over by one and by more.
 */
static void run_strategy_model(const char *what, struct xl_rule *r, __u64 seed,
			       int hits, __u64 max_gap)
{
	struct model_lim m[XL_MAX_LIMITS] = {};
	struct xl_state s = {};
	__u64 now = T0;
	int fails = 0, h, allowed = 0;
	char name[96];
	__u32 i;

	for (h = 0; h < hits && fails < 5; h++) {
		__u32 over, want;

		seed ^= seed << 13; /* xorshift64 */
		seed ^= seed >> 7;
		seed ^= seed << 17;
		if (seed % 50 == 0)
			now += seed % (3 * max_gap);
		else
			now += seed % (max_gap / 20);

		want = mrule_hit(r, m, now);
		over = xl_charge(r, &s, now);
		snprintf(name, sizeof(name), "%s: hit %d breached", what, h);
		fails += !ASSERT_EQ(over, want, name);
		allowed += !over;
		if (h % 7)
			continue;
		for (i = 0; i < r->nlimits; i++) {
			struct xl_view v = view(r, &s, i, now);
			__u64 rem = mlim_remaining(&r->limits[i], m[i], now);
			__u64 reset = mlim_reset(&r->limits[i], &m[i], now);

			snprintf(name, sizeof(name), "%s: hit %d remaining %u",
				 what, h, i);
			fails += !ASSERT_U64_EQ(v.remaining, rem, name);
			snprintf(name, sizeof(name), "%s: hit %d reset %u",
				 what, h, i);
			fails += !ASSERT_U64_EQ(v.reset_ns, reset, name);
		}
	}
	snprintf(name, sizeof(name), "%s: allowed and refused (%d of %d)", what,
		 allowed, h);
	ASSERT_TRUE(allowed > h / 50 && allowed < h - h / 50, name);
}

/* One limit of 10/s, and three limits (the last a pass one) with a
 * `burst` for each. */
static void run_model_cases(const char *what, __u32 strategy, __u32 burst)
{
	struct xl_rule r = {};
	char name[64];

	set_limit(&r, 0, 10, NS_PER_S, XL_ACT_DROP);
	set_strategy(&r, strategy, 0);
	snprintf(name, sizeof(name), "%s 10/s", what);
	run_strategy_model(name, &r, 88172645463325252ULL, 20000, NS_PER_S);

	memset(&r, 0, sizeof(r));
	set_limit(&r, 0, 7, 3 * NS_PER_S, XL_ACT_DROP);
	set_limit(&r, 1, 20, 13 * NS_PER_S, XL_ACT_DROP);
	set_limit(&r, 2, 50, 60 * NS_PER_S, XL_ACT_PASS);
	set_strategy(&r, strategy, burst);
	snprintf(name, sizeof(name), "%s 3 limits", what);
	run_strategy_model(name, &r, 0x9e3779b97f4a7c15ULL, 20000,
			   3 * NS_PER_S);
}

static void test_sliding_model(void)
{
	run_model_cases("sliding", XL_STRAT_SLIDING, 0);
}

static void test_token_model(void)
{
	struct xl_rule r = {};

	run_model_cases("token burst 25", XL_STRAT_TOKEN, 25);
	set_limit(&r, 0, 3, 7 * NS_PER_S, XL_ACT_DROP);
	set_strategy(&r, XL_STRAT_TOKEN, 1);
	run_strategy_model("token 3/7s burst 1", &r, 1234567ULL, 20000,
			   7 * NS_PER_S);
}

/* The definitions on small cases one can check by hand. */
static void test_strategy_examples(void)
{
	struct xl_rule r = {};
	struct xl_state s = {};
	__u64 t = 100 * NS_PER_S; /* window 10 of a 10 s period starts here */
	struct xl_view v;
	int i;

	/* sliding 10 per 10 s: 8 hits at the end of one window, then in the
	 * next at +25%: weighted = 8 * 0.75 = 6, so 4 more fit. */
	set_limit(&r, 0, 10, 10 * NS_PER_S, XL_ACT_DROP);
	set_strategy(&r, XL_STRAT_SLIDING, 0);
	for (i = 0; i < 8; i++)
		ASSERT_EQ(xl_charge(&r, &s, t + 9 * NS_PER_S), 0, "sw fill");
	v = view(&r, &s, 0, t + 12500 * NS_PER_MS);
	ASSERT_U64_EQ(v.remaining, 4, "sw remaining 10 - floor(6)");
	for (i = 0; i < 4; i++)
		ASSERT_EQ(xl_charge(&r, &s, t + 12500 * NS_PER_MS), 0,
			  "sw 4 more");
	ASSERT_EQ(xl_charge(&r, &s, t + 12500 * NS_PER_MS), 1, "sw 5th over");
	/* weighted = 8 * (10 - e) / 10 + 4 < 10 once e > 2.5 s: the next
	 * hit fits 1 ns after +12.5 s. */
	v = view(&r, &s, 0, t + 12500 * NS_PER_MS);
	ASSERT_U64_EQ(v.remaining, 0, "sw none left");
	ASSERT_U64_EQ(v.reset_ns, t + 12500 * NS_PER_MS + 1, "sw reset");
	ASSERT_EQ(xl_refused_until(&r, &s, t + 12500 * NS_PER_MS), 0,
		  "sw: refusal from the previous weight is not cached");
	ASSERT_EQ(xl_charge(&r, &s, t + 12500 * NS_PER_MS + 1), 0,
		  "sw fits again");

	/* token-bucket 10 per minute, burst 3: 3 at once, then one every
	 * 6 s. */
	memset(&r, 0, sizeof(r));
	memset(&s, 0, sizeof(s));
	set_limit(&r, 0, 10, 60 * NS_PER_S, XL_ACT_DROP);
	set_strategy(&r, XL_STRAT_TOKEN, 3);
	v = view(&r, &s, 0, T0);
	ASSERT_U64_EQ(v.remaining, 3, "tb full bucket");
	for (i = 0; i < 3; i++)
		ASSERT_EQ(xl_charge(&r, &s, T0), 0, "tb burst");
	ASSERT_EQ(xl_charge(&r, &s, T0), 1, "tb 4th over");
	v = view(&r, &s, 0, T0);
	ASSERT_U64_EQ(v.remaining, 0, "tb empty");
	ASSERT_U64_EQ(v.reset_ns, T0 + 6 * NS_PER_S, "tb next in 6 s");
	ASSERT_U64_EQ(xl_refused_until(&r, &s, T0), T0 + 6 * NS_PER_S,
		      "tb cached until the next fits");
	ASSERT_EQ(xl_charge(&r, &s, T0 + 6 * NS_PER_S - 1), 1, "tb 6 s - 1");
	ASSERT_EQ(xl_charge(&r, &s, T0 + 6 * NS_PER_S), 0, "tb at 6 s");
	ASSERT_EQ(xl_charge(&r, &s, T0 + 6 * NS_PER_S), 1, "tb one only");
	v = view(&r, &s, 0, T0 + 30 * NS_PER_S);
	ASSERT_U64_EQ(v.remaining, 3, "tb refilled");

	/* An amount of 0 refuses everything, in both. */
	memset(&r, 0, sizeof(r));
	memset(&s, 0, sizeof(s));
	set_limit(&r, 0, 0, NS_PER_S, XL_ACT_DROP);
	set_strategy(&r, XL_STRAT_TOKEN, 0);
	ASSERT_EQ(xl_charge(&r, &s, T0), 1, "tb amount 0");
	set_strategy(&r, XL_STRAT_SLIDING, 0);
	ASSERT_EQ(xl_charge(&r, &s, T0), 1, "sw amount 0");
	ASSERT_U64_EQ(s.win[0].word, 0, "amount 0: nothing charged");
}

/* A refused hit charges nothing under these strategies, and the cached
 * drop (xl_refused_until) is exact: every hit before it is refused. */
static void test_strategy_refused_until(void)
{
	static const __u32 strategies[] = { XL_STRAT_SLIDING, XL_STRAT_TOKEN };
	__u64 seed = 0x2545F4914F6CDD1DULL;
	unsigned int k;
	char name[96];

	for (k = 0; k < 2; k++) {
		struct xl_rule r = {};
		struct xl_state s = {};
		__u64 now = T0;
		int h, cached = 0, fails = 0;

		set_limit(&r, 0, 5, 2 * NS_PER_S, XL_ACT_DROP);
		set_limit(&r, 1, 12, 9 * NS_PER_S, XL_ACT_DROP);
		set_strategy(&r, strategies[k], 0);
		for (h = 0; h < 5000 && fails < 5; h++) {
			struct xl_state before;
			__u64 until, t;
			int j;

			seed ^= seed << 13;
			seed ^= seed >> 7;
			seed ^= seed << 17;
			now += seed % (300 * NS_PER_MS);
			before = s;
			if (!xl_charge(&r, &s, now))
				continue;
			snprintf(name, sizeof(name),
				 "%u: refused charges nothing", strategies[k]);
			fails += !ASSERT_TRUE(!memcmp(&before, &s, sizeof(s)),
					      name);
			until = xl_refused_until(&r, &s, now);
			if (!until)
				continue;
			cached++;
			for (j = 0; j < 8; j++) {
				struct xl_state c = s;

				t = now + (until - now) * j / 8;
				snprintf(name, sizeof(name),
					 "%u: refused before until",
					 strategies[k]);
				fails += !ASSERT_TRUE(xl_charge(&r, &c, t),
						      name);
			}
		}
		snprintf(name, sizeof(name), "%u: some refusals cached",
			 strategies[k]);
		ASSERT_TRUE(cached > 10, name);
	}
}

/* A word of the next window, read by a CPU whose clock is still in the
 * window before: the hit counts in the newer window. */
static void test_sliding_clock_behind(void)
{
	struct xl_rule r = {};
	struct xl_state s = {};
	__u64 p = 10 * NS_PER_S, k = T0 / p;

	set_limit(&r, 0, 10, p, XL_ACT_DROP);
	set_strategy(&r, XL_STRAT_SLIDING, 0);
	ASSERT_EQ(xl_charge(&r, &s, (k + 1) * p), 0, "ahead");
	ASSERT_EQ(xl_charge(&r, &s, (k + 1) * p - 1), 0, "behind");
	ASSERT_U64_EQ(s.win[0].word, xl_sw_word(k + 1, 0, 2), "both in k+1");
	ASSERT_U64_EQ(s.win[0].sliding.curr, 2, "BTF view: curr");
	/* Two windows later: the counts moved to prev, then out. */
	ASSERT_EQ(xl_charge(&r, &s, (k + 2) * p), 0, "k+2");
	ASSERT_U64_EQ(s.win[0].word, xl_sw_word(k + 2, 2, 1), "rolled by one");
	ASSERT_EQ(xl_charge(&r, &s, (k + 4) * p), 0, "k+4");
	ASSERT_U64_EQ(s.win[0].word, xl_sw_word(k + 4, 0, 1), "rolled by two");
}

/* Threads at one instant, one and several limits: exactly what the
 * strategy allows passes (the amount of a sliding window, the burst of a
 * bucket; the tightest limit of several), and every charge of a hit that
 * lost on another limit was taken back. */
static void test_race_strategies(void)
{
	static const __u32 strategies[] = { XL_STRAT_SLIDING, XL_STRAT_TOKEN };
	struct racer racers[NTHREADS] = {};
	unsigned int k;
	char name[96];

	for (k = 0; k < 2; k++) {
		__u32 st = strategies[k];
		long key_allowed[16] = {}, allowed;
		struct xl_state states[16] = {};
		struct xl_rule r = {};
		struct race rc = {
			.rule = &r,
			.state = states,
			.now = T0,
			.hits = 2000,
			.nkeys = 16,
			.allowed = key_allowed,
		};
		int key;

		set_limit(&r, 0, 1000, 10 * NS_PER_S, XL_ACT_DROP);
		set_limit(&r, 1, 300, 60 * NS_PER_S, XL_ACT_DROP);
		set_limit(&r, 2, 5000, 3600 * NS_PER_S, XL_ACT_DROP);
		set_strategy(&r, st, st == XL_STRAT_TOKEN ? 200 : 0);
		allowed = run_race(&rc, race_one_instant, racers);
		for (key = 0; key < 16; key++) {
			__u64 want = st == XL_STRAT_TOKEN ? 200 : 300;
			__u32 i;

			snprintf(name, sizeof(name), "%u: key %d allowed", st,
				 key);
			ASSERT_EQ(key_allowed[key], (long)want, name);
			for (i = 0; i < 3; i++) {
				const struct xl_limit *l = &r.limits[i];
				__u64 w = states[key].win[i].word;

				snprintf(name, sizeof(name),
					 "%u: key %d limit %u charged", st, key,
					 i);
				if (st == XL_STRAT_SLIDING)
					ASSERT_U64_EQ(
						w,
						xl_sw_word(T0 / l->period_ns, 0,
							   want),
						name);
				else
					ASSERT_U64_EQ(
						w,
						T0 + want * (l->period_ns /
							     l->amount),
						name);
			}
		}
		(void)allowed;
	}
}

/* Threads in lock-step phases: a barrier, then every thread makes `hits`
 * hits at base + phase * step; what passed is counted per phase. Unlike
 * race_windows(), no hit of a phase is still in flight when the next
 * phase begins, so each hit's time says which window it counted in. */
struct phased {
	pthread_barrier_t barrier;
	const struct xl_rule *rule;
	struct xl_state *state;
	__u64 base, step;
	int phases;
	long hits;
	long allowed[64];
};

static void *race_phased(void *arg)
{
	struct phased *ph = arg;
	int p;
	long i;

	for (p = 0; p < ph->phases; p++) {
		__u64 now = ph->base + p * ph->step;
		long n = 0;

		pthread_barrier_wait(&ph->barrier);
		for (i = 0; i < ph->hits; i++)
			n += !xl_charge(ph->rule, ph->state, now);
		__atomic_fetch_add(&ph->allowed[p], n, __ATOMIC_RELAXED);
	}
	return NULL;
}

/*
 * Threads across time, one limit of each new strategy, the clock moving
 * on in steps, far more hits than fit in each: whatever the order the
 * threads' swaps land in, what passed never exceeds what the strategy
 * allows.
 * - token-bucket: between the phases a and b, at most (t_b - t_a + tau)
 *   / T hits (GCRA's bound), for every pair a <= b;
 * - sliding-window: at the end of every phase, floor(weighted) of the
 *   hits that passed (each was admitted below the amount) is at most the
 *   amount, and each grid window holds at most the amount.
 * And with so much demand, every phase of a bucket gets some through,
 * and every grid window of a sliding window.
 */
static void test_race_strategies_time(void)
{
	static const __u32 strategies[] = { XL_STRAT_SLIDING, XL_STRAT_TOKEN };
	pthread_t tid[NTHREADS];
	unsigned int k;
	char name[96];
	int i, n;

	for (k = 0; k < 2; k++) {
		struct xl_rule r = {};
		struct xl_state s = {};
		struct phased rc = {
			.rule = &r,
			.state = &s,
			.phases = 40,
			.hits = 100,
			.base = 1000 * NS_PER_S + 1, /* on no window's edge */
			.step = 250 * NS_PER_MS + 7,
		};
		const long *phase_allowed = rc.allowed;
		const struct xl_limit *l = &r.limits[0];
		int a, b, bad = 0, starved = 0;

		set_limit(&r, 0, 100, NS_PER_S, XL_ACT_DROP);
		set_strategy(&r, strategies[k], 30);
		if (!ASSERT_OK(pthread_barrier_init(&rc.barrier, NULL,
						    NTHREADS),
			       "pthread_barrier_init"))
			return;
		for (i = 0, n = 0; i < NTHREADS; i++)
			n += !pthread_create(&tid[i], NULL, race_phased, &rc);
		if (n < NTHREADS)
			abort(); /* the barrier would never open */
		for (i = 0; i < NTHREADS; i++)
			pthread_join(tid[i], NULL);
		pthread_barrier_destroy(&rc.barrier);
		for (b = 0; b < rc.phases; b++) {
			__u64 tb = rc.base + b * rc.step;

			if (strategies[k] == XL_STRAT_TOKEN) {
				long sum = 0;

				starved += !phase_allowed[b];
				for (a = b; a >= 0; a--) {
					__u64 ta = rc.base + a * rc.step;

					sum += phase_allowed[a];
					bad += (__u64)sum >
					       (tb - ta +
						30 * mtb_interval(l)) /
						       mtb_interval(l);
				}
			} else {
				struct model_lim m = {};
				__u64 kb = tb / l->period_ns;

				for (a = 0; a <= b; a++) {
					__u64 ta = rc.base + a * rc.step;

					msw_roll(&m, l->period_ns, ta);
					m.curr += phase_allowed[a];
				}
				/* the last phase of a grid window */
				if ((tb + rc.step) / l->period_ns != kb)
					starved += !m.curr;
				msw_roll(&m, l->period_ns, tb);
				bad += msw_floor(m, l->period_ns, tb) >
				       l->amount;
				bad += m.k == kb && m.curr > l->amount;
			}
		}
		snprintf(name, sizeof(name), "%u: never more than allowed",
			 strategies[k]);
		ASSERT_EQ(bad, 0, name);
		snprintf(name, sizeof(name), "%u: no phase or window starved",
			 strategies[k]);
		ASSERT_EQ(starved, 0, name);
	}
}

int main(void)
{
	RUN_TEST(worked_example);
	RUN_TEST(fixed_window);
	RUN_TEST(zero_amount);
	RUN_TEST(multi_charge);
	RUN_TEST(action_precedence);
	RUN_TEST(multi_no_leak);
	RUN_TEST(report_index);
	RUN_TEST(model_four_limits);
	RUN_TEST(rollover_independent);
	RUN_TEST(uncharge);
	RUN_TEST(clock_behind_start);
	RUN_TEST(race_one_limit);
	RUN_TEST(race_multi_limit);
	RUN_TEST(race_flood);
	RUN_TEST(race_rollover);
	RUN_TEST(race_rollover_charge);
	RUN_TEST(strategy_examples);
	RUN_TEST(sliding_model);
	RUN_TEST(token_model);
	RUN_TEST(strategy_refused_until);
	RUN_TEST(sliding_clock_behind);
	RUN_TEST(race_strategies);
	RUN_TEST(race_strategies_time);
	return test_summary();
}
