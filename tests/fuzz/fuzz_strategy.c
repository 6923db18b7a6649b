/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * libFuzzer target: the limiter's strategies (include/xl_limiter.h), on a
 * rule and a sequence of hits and reads at increasing times, all taken
 * from the input. Besides memory safety and undefined behaviour (ASan,
 * UBSan: no division by zero, no signed overflow), it checks on every
 * step that the functions agree with each other:
 * - remaining (xl_view_limit) is exactly how many hits in a row that
 *   limit alone admits at that instant, and never more than the amount
 *   (a sliding window) or the burst (a token bucket);
 * - reset is later than now;
 * - a hit refused by a drop limit changes no sliding window and no
 *   bucket, and a hit let through changes every limit it fits;
 * - every hit before xl_refused_until() is refused (the verdict cache's
 *   promise).
 * The rule is one xlimit could hold: valid periods, amounts within the
 * strategy's maximum, a burst whose tau stays within 100 years.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xl_limiter.h"

#define check(cond, what)                                             \
	do {                                                          \
		if (!(cond)) {                                        \
			fprintf(stderr, "fuzz_strategy: %s\n", what); \
			abort();                                      \
		}                                                     \
	} while (0)

/* Input bytes, taken in order; zeros once they run out. */
struct in {
	const uint8_t *p;
	size_t n;
};

static uint64_t take(struct in *in, int bytes)
{
	uint64_t v = 0;

	while (bytes--) {
		v = v << 8 | (in->n ? *in->p : 0);
		if (in->n) {
			in->p++;
			in->n--;
		}
	}
	return v;
}

/* Hits in a row one limit admits at `now`, from a copy of its word (at
 * most `cap` + 1 tried). */
static uint64_t admits(const struct xl_limit *l, uint64_t word, uint64_t now,
		       uint64_t cap)
{
	struct xl_rule r = { .nlimits = 1 };
	struct xl_state s = {};
	uint64_t n = 0;

	r.limits[0] = *l;
	r.limits[0].action = XL_ACT_DROP;
	s.win[0].word = word;
	while (n <= cap && !xl_charge(&r, &s, now))
		n++;
	return n;
}

static void check_view(const struct xl_rule *r, const struct xl_state *s,
		       uint64_t now)
{
	uint32_t i;

	for (i = 0; i < r->nlimits; i++) {
		const struct xl_limit *l = &r->limits[i];
		uint64_t cap = l->amount;
		struct xl_view v;

		if (l->strategy == XL_STRAT_TOKEN)
			cap = l->amount ? (l->burst ? l->burst : l->amount) : 0;
		xl_view_limit(l, &s->win[i], now, &v);
		check(v.reset_ns > now, "reset is not later than now");
		if (l->strategy != XL_STRAT_FIXED)
			check(v.remaining <= cap, "remaining past the cap");
		if (cap <= 2000)
			check(v.remaining ==
				      admits(l, s->win[i].word, now, cap + 1),
			      "remaining is not what the limit admits");
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct in in = { data, size };
	struct xl_rule r = {};
	struct xl_state s = {};
	uint32_t strategy = take(&in, 1) % 3, i, drop = 0;
	uint64_t now = (1ULL << 40) + take(&in, 4);
	int step;

	r.nlimits = 1 + take(&in, 1) % XL_MAX_LIMITS;
	for (i = 0; i < r.nlimits; i++) {
		struct xl_limit *l = &r.limits[i];
		uint64_t max = strategy == XL_STRAT_SLIDING ?
				       XL_SLIDING_AMOUNT_MAX :
				       XL_AMOUNT_MAX;
		uint64_t secs = 1 + take(&in, 2);

		/* Mostly small amounts, where every remaining is checked. */
		l->amount = take(&in, 1) & 0x80 ? take(&in, 3) % (max + 1) :
						  take(&in, 1) % 50;
		if (take(&in, 1) == 0xff) /* now and then a long period */
			secs = 1 + take(&in, 4) % XL_PERIOD_MAX_S;
		l->period_ns = secs * XL_NSEC_PER_SEC;
		l->action = take(&in, 1) % 3;
		l->strategy = strategy;
		if (strategy == XL_STRAT_TOKEN) {
			l->burst = take(&in, 2);
			if (l->amount &&
			    l->burst > (XL_PERIOD_MAX_S * XL_NSEC_PER_SEC) /
					       (l->period_ns / l->amount))
				l->burst = 1;
		}
		if (l->action != XL_ACT_PASS)
			drop |= 1U << i;
	}

	for (step = 0; step < 64 && in.n; step++) {
		uint64_t v = take(&in, 4), until;
		struct xl_state before = s;
		uint32_t over;

		/* Steps from nothing to about 70 minutes. */
		now += (v >> 2) * ((v & 2) ? 1000000ULL : 1000ULL);
		if (!(v & 1)) {
			check_view(&r, &s, now);
			continue;
		}
		over = xl_charge(&r, &s, now);
		check(!(over & ~((1U << r.nlimits) - 1)),
		      "breached a limit the rule does not have");
		for (i = 0; i < r.nlimits && strategy != XL_STRAT_FIXED; i++) {
			int same = s.win[i].word == before.win[i].word;

			if ((over & drop) || (over & (1U << i)))
				check(same, "a refused hit was charged");
			else
				check(!same,
				      "a hit let through was not charged");
		}
		until = xl_refused_until(&r, &s, now);
		if ((over & drop) && until > now) {
			uint64_t t[3] = { now, now + (until - now) / 2,
					  until - 1 };
			int k;

			for (k = 0; k < 3; k++) {
				struct xl_state c = s;

				check(xl_charge(&r, &c, t[k]) & drop,
				      "a hit before refused_until was let through");
			}
		}
	}
	return 0;
}
