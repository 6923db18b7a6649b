/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The fixed-window limiter, as pure functions over a state value, a rule
 * and a time in nanoseconds. The same code is compiled into the BPF object
 * (bpf/xlimit.bpf.c), into userspace (remaining and reset for `xlimit
 * query` and the sidecar) and into the unit tests, which drive it with a
 * simulated clock and with many threads. It calls no BPF helper.
 *
 * A window is one 64-bit word: start << 24 | count, the start in units of
 * 2^20 ns (the first hit's monotonic time rounded down: a window may end
 * up to 1.05 ms before first hit + period; periods are whole seconds, so
 * two windows of one limit never share a start). 0 is no window.
 *
 * Concurrency: XDP runs on every CPU at once and an LRU hash value cannot
 * hold a bpf_spin_lock, so every update is one atomic instruction on the
 * word, and the word is all there is to agree on:
 *  - A hit inside the window is one fetch-and-add. The old word it returns
 *    names the window the hit landed in and the count before it, so the
 *    hit knows its place even if the window changed since it looked.
 *  - A roll-over is one compare-and-swap from the expired word it read to
 *    (now, 1): one CPU wins; a loser, and a CPU whose add or uncharge
 *    moved the word under it, reads again and retries.
 *  - An add racing a roll-over lands either before the swap (the swap then
 *    fails and is retried: the stale count changes nothing) or after it,
 *    and then counts in the new window, which is where a hit at this time
 *    belongs. No hit is lost and none counts in a window it cannot see.
 *  - An add that lands in a word describing no live window (0, when the
 *    LRU recycled the element under us) is retried like a failed swap.
 *  - Taking a hit back is a compare-and-swap that decrements only while
 *    the word still holds the window it was charged in with a count > 0.
 *  - The 24-bit count must never carry into the start. xl_charge() adds
 *    to a window only when its count was at most the amount: once over,
 *    a hit is refused without an add (a count past amount + 1 changes no
 *    remaining and no verdict). The adds that had read "at most the
 *    amount" when another took the count over are one per CPU at most
 *    (XDP and tc run in softirq; the sleepable syscall program adds its
 *    few concurrent callers), so the count stays within amount + 2^16,
 *    which XL_AMOUNT_MAX leaves room for.
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

#define XL_COUNT_BITS 24
#define XL_COUNT_MASK ((1ULL << XL_COUNT_BITS) - 1)
#define XL_UNIT_SHIFT 20 /* a window starts on a multiple of 2^20 ns */
#define XL_RETRIES 4

/* The start, in ns, of the window a word holds (0: none). */
xl_inline __u64 xl_word_start(__u64 word)
{
	return (word >> XL_COUNT_BITS) << XL_UNIT_SHIFT;
}

xl_inline __u64 xl_word_count(__u64 word)
{
	return word & XL_COUNT_MASK;
}

/* The word of a window opened at `now` with `count` hits. A clock reading
 * below one unit opens it at unit 1, since start 0 means "no window".
 * XXX: after 2^60 ns (36 years) of uptime the start wraps to 0. */
xl_inline __u64 xl_word_open(__u64 now, __u64 count)
{
	__u64 units = now >> XL_UNIT_SHIFT;

	return (units ? units : 1) << XL_COUNT_BITS | count;
}

/* A window that has never started, or whose period has run out by `now`.
 * `now` may be behind `start` when another CPU opened the window with a
 * later clock reading: that is inside the window. */
xl_inline int xl_expired(__u64 start, __u64 period, __u64 now)
{
	return start == 0 || (now >= start && now - start >= period);
}

/* Hits counted in the window at `now` (0 if it expired). */
xl_inline __u64 xl_window_count(const struct xl_window *w, __u64 period,
				__u64 now)
{
	__u64 word = XL_READ(w->word);

	if (xl_expired(xl_word_start(word), period, now))
		return 0;
	return xl_word_count(word);
}

/* Count one hit at `now`. Returns the window's count including this hit
 * and stores the window's start (ns) in *startp for xl_window_uncharge;
 * 0 there means the hit was not counted. The caller keeps the count below
 * 2^24 (see xl_charge). */
xl_global __u64 xl_window_charge(struct xl_window *w, __u64 period, __u64 now,
				 __u64 *startp)
{
	int i;

	if (!w || !startp) /* a global function's pointers may be NULL */
		return 1;
	for (i = 0; i < XL_RETRIES; i++) {
		__u64 old = XL_READ(w->word), fresh;

		if (xl_expired(xl_word_start(old), period, now)) {
			/* One CPU moves the word on; the others retry and
			 * add to the window it opened. */
			fresh = xl_word_open(now, 1);
			if (__sync_val_compare_and_swap(&w->word, old, fresh) !=
			    old)
				continue;
			*startp = xl_word_start(fresh);
			return 1;
		}
		/* XDP runs on all CPUs at once, so this add is atomic. The
		 * word it returns says which window the hit counted in: the
		 * one we read, or one another CPU opened since. */
		old = __sync_fetch_and_add(&w->word, 1);
		if (!xl_expired(xl_word_start(old), period, now)) {
			*startp = xl_word_start(old);
			return xl_word_count(old) + 1;
		}
		/* The add went into a dead word: count again in a live
		 * one (the stray unit goes with the dead window). */
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
		__u64 word = XL_READ(w->word);

		/* A count of 0 must not borrow from the start bits. */
		if (start == 0 || xl_word_start(word) != start ||
		    xl_word_count(word) == 0)
			return 0;
		if (__sync_val_compare_and_swap(&w->word, word, word - 1) ==
		    word)
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
 * A window already past its amount is not added to (see the top of this
 * file): the hit breaches that limit without a charge.
 */
xl_global __u32 xl_charge_all(const struct xl_rule *r, struct xl_state *s,
			      __u64 now)
{
	__u64 starts[XL_MAX_LIMITS] = {};
	__u32 n, all, peek = 0, full = 0, drop = 0, todo, charged, over, pass;
	__u32 i;

	if (!r || !s) /* a global function's pointers may be NULL */
		return 0;
	n = xl_nlimits(r);
	all = (1U << n) - 1;

	for (i = 0; i < XL_MAX_LIMITS; i++) {
		__u64 c;

		if (i >= n)
			break;
		if (r->limits[i].action != XL_ACT_PASS) /* drop, reject */
			drop |= 1U << i;
		c = xl_window_count(&s->win[i], r->limits[i].period_ns, now);
		if (c >= r->limits[i].amount)
			peek |= 1U << i;
		if (c > r->limits[i].amount)
			full |= 1U << i;
	}
	/* A full window is over and stays so for this hit: done with it. */
	over = full;
	charged = full;
	todo = ((peek & drop) ? peek : all) & ~full;
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

/*
 * xl_charge_all() for a rule of one limit, which is most rules: with one
 * window there is nothing to peek at first and nothing to take back, so
 * the hit is one read and, unless the window is already past its amount
 * (refused without a charge, as above), one atomic add. A window that must
 * roll over, or an add that lands in a window another CPU just rolled
 * over, goes on in xl_window_charge() (the stray unit stays with the dead
 * window, as there).
 */
xl_inline __u32 xl_charge_one(const struct xl_limit *l, struct xl_window *w,
			      __u64 now)
{
	__u64 word = XL_READ(w->word), start;

	if (!xl_expired(xl_word_start(word), l->period_ns, now)) {
		if (xl_word_count(word) > l->amount)
			return 1;
		word = __sync_fetch_and_add(&w->word, 1);
		if (!xl_expired(xl_word_start(word), l->period_ns, now))
			return xl_word_count(word) + 1 > l->amount;
	}
	return xl_window_charge(w, l->period_ns, now, &start) > l->amount;
}

/* Charge one hit against every limit of the rule: the bits of the limits
 * it breaches, 0 when it is allowed. See xl_charge_all(). */
xl_inline __u32 xl_charge(const struct xl_rule *r, struct xl_state *s,
			  __u64 now)
{
	if (r->nlimits == 1)
		return xl_charge_one(&r->limits[0], &s->win[0], now);
	return xl_charge_all(r, s, now);
}

/* The action for a hit that breached the limits in `over`: drop if any of
 * them says drop, else reject if any says reject, else pass (drop is the
 * one that costs nothing under a flood, so it wins). */
xl_inline __u32 xl_over_verdict(const struct xl_rule *r, __u32 over)
{
	__u32 v = XL_V_OVER_PASS, i;

	for (i = 0; i < XL_MAX_LIMITS; i++) {
		if (!(over & (1U << i)))
			continue;
		if (r->limits[i].action == XL_ACT_DROP)
			return XL_V_OVER_DROP;
		if (r->limits[i].action == XL_ACT_REJECT)
			v = XL_V_OVER_REJECT;
	}
	return v;
}

/* How long a refused hit's verdict holds: the latest end among the drop
 * windows past their amount at `now`, or 0 if none is. Such a window
 * refuses every hit until it ends, without charging it (see xl_charge()),
 * and a count past the amount is never taken back (only charges to limits
 * a hit did not breach are), so every hit before that end is dropped. */
xl_inline __u64 xl_refused_until(const struct xl_rule *r,
				 const struct xl_state *s, __u64 now)
{
	__u32 n = xl_nlimits(r), i;
	__u64 until = 0;

	for (i = 0; i < XL_MAX_LIMITS && i < n; i++) {
		__u64 word = XL_READ(s->win[i].word);
		__u64 start = xl_word_start(word);
		__u64 period = r->limits[i].period_ns;

		if (r->limits[i].action != XL_ACT_DROP ||
		    xl_expired(start, period, now) ||
		    xl_word_count(word) <= r->limits[i].amount)
			continue;
		if (start + period > until)
			until = start + period;
	}
	return until;
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
	/* One read: count and start of the same window. */
	__u64 word = XL_READ(w->word);
	__u64 start = xl_word_start(word);
	int open = !xl_expired(start, l->period_ns, now);
	__u64 count = open ? xl_word_count(word) : 0;

	v->amount = l->amount;
	v->remaining = count >= l->amount ? 0 : l->amount - count;
	v->reset_ns = (open ? start : now) + l->period_ns;
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
