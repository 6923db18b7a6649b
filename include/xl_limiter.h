/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The fixed-window limiter, as pure functions over a state value, a rule
 * and a time in nanoseconds. The same code is compiled into the BPF object
 * (bpf/xlimit.bpf.c), into userspace (remaining and reset for `xlimit
 * query` and the sidecar) and into the unit tests, which drive it with a
 * simulated clock and with many threads. It calls no BPF helper.
 *
 * Concurrency: XDP runs on every CPU at once and an LRU hash value cannot
 * hold a bpf_spin_lock, so every update is one atomic instruction. A
 * window is two words: `start` and `tagcount` = tag(start) << 40 | count.
 * A hit inside the window is one atomic add on `tagcount`; the tag in the
 * value it returns says which window the hit landed in, so a hit racing a
 * roll-over is never counted in a window it did not see. A roll-over is a
 * compare-and-swap on `start` (one CPU wins) followed by an exchange that
 * sets `tagcount` to the new tag and a count of 1.
 */
#ifndef XL_LIMITER_H
#define XL_LIMITER_H

#include "xlimit.h"

#ifndef xl_inline
#define xl_inline static inline __attribute__((always_inline))
#endif

/* The charging functions are global functions in BPF: the verifier checks
 * each once, on its own, instead of once for every path that reaches it
 * (the paths through the parser times those through the limits multiply
 * past the verifier's limit). */
#ifdef __bpf__
#define xl_global __attribute__((noinline))
#else
#define xl_global static inline
#endif

#define XL_READ(x) (*(volatile __typeof__(x) *)&(x))

#define XL_COUNT_BITS 40
#define XL_COUNT_MASK ((1ULL << XL_COUNT_BITS) - 1)
#define XL_RETRIES 4

/* The tag of a window: bits of its start time. Two consecutive windows
 * start at least one second apart, so their tags differ (1 s > 2^20 ns).
 * XXX: tags repeat every 2^44 ns (4.9 hours); a hit delayed by exactly
 * that long between two instructions would be misplaced. */
xl_inline __u64 xl_tag(__u64 start)
{
	return ((start >> 20) & 0xffffffULL) << XL_COUNT_BITS;
}

/* A window that has never started, or whose period has run out by `now`.
 * `now` may be slightly behind `start` when another CPU opened the window
 * with a later clock reading: that is inside the window. */
xl_inline int xl_expired(__u64 start, __u64 period, __u64 now)
{
	return start == 0 || (now >= start && now - start >= period);
}

/* Hits counted in the window at `now` (0 if it expired). */
xl_inline __u64 xl_window_count(const struct xl_window *w, __u64 period,
				__u64 now)
{
	__u64 start = XL_READ(w->start);
	__u64 tc = XL_READ(w->tagcount);

	if (xl_expired(start, period, now))
		return 0;
	/* A roll-over between the two reads: the new window has 0 or 1. */
	if ((tc & ~XL_COUNT_MASK) != xl_tag(start))
		return 0;
	return tc & XL_COUNT_MASK;
}

/* Count one hit at `now`. Returns the window's count including this hit
 * and stores the window's start in *startp (for xl_window_uncharge). */
xl_global __u64 xl_window_charge(struct xl_window *w, __u64 period, __u64 now,
				 __u64 *startp)
{
	int i;

	if (!w || !startp)
		return 1;
	if (now == 0) /* 0 means "no window"; a clock never reads it */
		now = 1;
	for (i = 0; i < XL_RETRIES; i++) {
		__u64 start = XL_READ(w->start);
		__u64 old, stale, tc;

		if (xl_expired(start, period, now)) {
			if (__sync_val_compare_and_swap(&w->start, start,
							now) != start)
				continue; /* another CPU rolled it over */
			stale = xl_tag(start);
			start = now;
		} else {
			/* XDP runs on all CPUs at once, so this add is
			 * atomic. */
			old = __sync_fetch_and_add(&w->tagcount, 1);
			if ((old & ~XL_COUNT_MASK) == xl_tag(start)) {
				*startp = start;
				return (old & XL_COUNT_MASK) + 1;
			}
			/* The window rolled over after we read `start`. If
			 * the new tag is in place, the hit counts there. */
			start = XL_READ(w->start);
			if ((old & ~XL_COUNT_MASK) == xl_tag(start)) {
				*startp = start;
				return (old & XL_COUNT_MASK) + 1;
			}
			stale = old & ~XL_COUNT_MASK;
		}
		/* `start` is a new window whose tag is not in place yet (the
		 * word still has the `stale` one): the first CPU to get
		 * here, the one that moved `start` or any other, puts it in
		 * with its own hit as the count. That wipes the adds that
		 * landed on the old word meanwhile; their CPUs retry. */
		tc = XL_READ(w->tagcount);
		if ((tc & ~XL_COUNT_MASK) != stale)
			continue; /* in place now, or moved on */
		if (__sync_val_compare_and_swap(&w->tagcount, tc,
						xl_tag(start) | 1) == tc) {
			*startp = start;
			return 1;
		}
	}
	/* XXX: only reachable if the word changed under every one of our
	 * four rounds; the hit passes uncounted rather than spin. */
	*startp = 0;
	return 1;
}

/* Take back one hit charged in the window that started at `start`, unless
 * that window has rolled over since (then there is nothing to undo).
 * Returns 1 if a hit was taken back. */
xl_global int xl_window_uncharge(struct xl_window *w, __u64 start)
{
	int i;

	if (!w) /* a global function's pointers may be NULL */
		return 0;
	for (i = 0; i < XL_RETRIES; i++) {
		__u64 tc = XL_READ(w->tagcount);

		if (start == 0 || (tc & ~XL_COUNT_MASK) != xl_tag(start) ||
		    (tc & XL_COUNT_MASK) == 0)
			return 0;
		if (__sync_val_compare_and_swap(&w->tagcount, tc, tc - 1) == tc)
			return 1;
	}
	return 0;
}

xl_inline __u32 xl_nlimits(const struct xl_rule *r)
{
	return r->nlimits > XL_MAX_LIMITS ? XL_MAX_LIMITS : r->nlimits;
}

/*
 * Charge one hit against every limit of the rule. Returns the set of
 * limits the hit breaches (bit i = limit i); 0 means it is allowed.
 *
 * As SEMANTICS.md §2: every limit is checked first. A hit that is let
 * through is charged to every limit; a refused hit only to the limits it
 * breaches. A hit over limits whose action is pass only is let through
 * (the sidecar answers it with 429): it is a connection like any other,
 * so it counts against every limit, and a soft pass limit under a hard
 * drop limit leaves the drop limit to stop a flood (§4). Two CPUs can both
 * see room for one last hit; the atomic add settles which one got it, and
 * the loser's charges to the limits it did not breach are taken back.
 */
xl_global __u32 xl_charge(const struct xl_rule *r, struct xl_state *s,
			  __u64 now)
{
	__u64 starts[XL_MAX_LIMITS] = {};
	__u32 n, all, peek = 0, over = 0, drop = 0, todo, charged = 0, pass;
	__u32 i;

	if (!r || !s) /* a global function's pointers may be NULL */
		return 0;
	n = xl_nlimits(r);
	all = (1U << n) - 1;

	for (i = 0; i < XL_MAX_LIMITS; i++) {
		if (i >= n)
			break;
		if (r->limits[i].action == XL_ACT_DROP)
			drop |= 1U << i;
		if (xl_window_count(&s->win[i], r->limits[i].period_ns, now) >=
		    r->limits[i].amount)
			peek |= 1U << i;
	}
	todo = (peek & drop) ? peek : all;
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < XL_MAX_LIMITS; i++) {
			if (!(todo & (1U << i)))
				continue;
			if (xl_window_charge(&s->win[i], r->limits[i].period_ns,
					     now,
					     &starts[i]) > r->limits[i].amount)
				over |= 1U << i;
		}
		charged |= todo;
		/* Every drop window the peek saw full rolled over before the
		 * charge (another CPU's clock passed its end): the hit gets
		 * through after all, so it is charged to the others too. */
		if ((over & drop) || charged == all)
			break;
		todo = all & ~charged;
	}
	/* A refused hit keeps only its charges to the limits it breaches. */
	if (over & drop) {
		for (i = 0; i < XL_MAX_LIMITS; i++)
			if ((charged & ~over) & (1U << i))
				xl_window_uncharge(&s->win[i], starts[i]);
	}
	return over;
}

/* The action for a hit that breached the limits in `over`: drop if any of
 * them says drop. */
xl_inline __u32 xl_over_verdict(const struct xl_rule *r, __u32 over)
{
	__u32 i;

	for (i = 0; i < XL_MAX_LIMITS; i++)
		if ((over & (1U << i)) && r->limits[i].action == XL_ACT_DROP)
			return XL_V_OVER_DROP;
	return XL_V_OVER_PASS;
}

/* What a client sees of one limit at `now`. reset_ns is the monotonic end
 * of the window (now + period when no window is open: a hit now would
 * start one). */
struct xl_view {
	__u64 amount;
	__u64 remaining;
	__u64 reset_ns;
};

xl_inline void xl_view_limit(const struct xl_limit *l,
			     const struct xl_window *w, __u64 now,
			     struct xl_view *v)
{
	__u64 count = xl_window_count(w, l->period_ns, now);
	__u64 start = XL_READ(w->start);

	v->amount = l->amount;
	v->remaining = count >= l->amount ? 0 : l->amount - count;
	v->reset_ns = xl_expired(start, l->period_ns, now) ?
			      now + l->period_ns :
			      start + l->period_ns;
}

/* The limit to report in headers (SEMANTICS.md §2): the first breached
 * one, or when none is breached the one with the least remaining (the
 * earliest reset among equals). */
xl_inline __u32 xl_report_index(const struct xl_rule *r,
				const struct xl_state *s, __u64 now,
				__u32 breached)
{
	__u32 n = xl_nlimits(r), best = 0, i;
	struct xl_view v, bv;

	for (i = 0; i < XL_MAX_LIMITS; i++)
		if (breached & (1U << i))
			return i;
	xl_view_limit(&r->limits[0], &s->win[0], now, &bv);
	for (i = 1; i < XL_MAX_LIMITS && i < n; i++) {
		xl_view_limit(&r->limits[i], &s->win[i], now, &v);
		if (v.remaining < bv.remaining ||
		    (v.remaining == bv.remaining && v.reset_ns < bv.reset_ns)) {
			bv = v;
			best = i;
		}
	}
	return best;
}

#endif /* XL_LIMITER_H */
