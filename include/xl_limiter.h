/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The limiters, as pure functions over a state value, a rule and a time in
 * nanoseconds: fixed-window, sliding-window and token-bucket (SEMANTICS.md
 * §2). The same code is compiled into the BPF object (bpf/xlimit.bpf.c),
 * into userspace (remaining and reset for `xlimit query`, `xlimit top` and
 * the sidecar) and into the unit tests, which drive it with a simulated
 * clock and with many threads. It calls no BPF helper.
 *
 * Each limit's state is one 64-bit word (struct xl_window), and XDP runs
 * on every CPU at once while an LRU hash value cannot hold a
 * bpf_spin_lock, so every update is one atomic instruction on the word
 * (fetch-and-add or compare-and-swap, retried at most XL_RETRIES times),
 * and the word is all there is to agree on.
 *
 * fixed-window: the word is start << 24 | count, the start in units of
 * 2^20 ns (the first hit's monotonic time rounded down: a window may end
 * up to 1.05 ms before first hit + period; periods are whole seconds, so
 * two windows of one limit never share a start). 0 is no window.
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
 *
 * sliding-window: windows on a grid of the monotonic clock, window k =
 * [k * period, (k + 1) * period); the word is (k mod 2^24) << 40 |
 * prev << 20 | curr, the hits of windows k - 1 and k. At `now`, in window
 * k, elapsed = now - k * period, weighted = prev * (period - elapsed) /
 * period + curr, and a hit is allowed iff floor(weighted) + 1 <= amount,
 * that is prev * (period - elapsed) + curr * period < amount * period
 * (computed exactly, in 128 bits). A refused hit changes nothing (as the
 * `limits` library's sliding window counter), so the counts never pass
 * the amount: 20 bits hold them (XL_SLIDING_AMOUNT_MAX).
 *  - A hit is one compare-and-swap from the word it read to the word of
 *    window k with curr + 1 (rolled over first if the word was of window
 *    k - 1: prev = its curr; of an older one: both 0), done only if the
 *    word it read allows the hit. A CPU whose swap fails reads again: the
 *    word it checked is the word it replaced, so no hit is admitted on a
 *    count another CPU had already moved past. A hit whose swap lost
 *    XL_RETRIES times (as many other changes of this word succeeded
 *    meanwhile) is refused: never more than the limit allows.
 *  - A word of window k + 1 read with a clock in window k (another CPU's
 *    clock is ahead) is read at the start of window k + 1.
 *  - Taking a hit back (several limits, see xl_charge_all()) is a
 *    compare-and-swap decrementing curr while the word is still of the
 *    window it was charged in, or prev once the word rolled over by one.
 *  - XXX: the window number is kept mod 2^24: a client whose state was
 *    left untouched for exactly 2^24 periods (194 days at one second)
 *    would find it again. The LRU recycles such idle state long before.
 *
 * token-bucket (GCRA): the word is the theoretical arrival time tat, in
 * monotonic ns (0: none, a full bucket). With T = period / amount (ns,
 * rounded down) and tau = burst * T, a hit at `now` is allowed iff
 * now >= max(tat, now) + T - tau, and then tat = max(tat, now) + T:
 * `burst` hits may come at once, then one every T. A refused hit changes
 * nothing (as GCRA, nginx's limit_req and redis-cell).
 *  - A hit is one compare-and-swap from the tat it read, checked, to the
 *    new tat; a failed swap reads again and checks again; a hit whose swap
 *    lost XL_RETRIES times is refused, as above.
 *  - Taking a hit back is a compare-and-swap subtracting T. When hits of
 *    other CPUs came after it that leaves tat where it would be without
 *    ours, up to a tat <= now, which is the same as one of now (a full
 *    bucket) for every later hit.
 *  - tat stays below now + tau + T: with tau at most XL_PERIOD_MAX_S, far
 *    from 2^64.
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
xl_inline __u64 xl_window_charge_in(struct xl_window *w, __u64 period,
				    __u64 now, __u64 *startp)
{
	int i;

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

xl_global __u64 xl_window_charge(struct xl_window *w, __u64 period, __u64 now,
				 __u64 *startp)
{
	if (!w || !startp) /* a global function's pointers may be NULL */
		return 1;
	return xl_window_charge_in(w, period, now, startp);
}

/* Take back one hit charged in the window that started at `start`, unless
 * that window has rolled over since (then there is nothing to undo).
 * Returns 1 if a hit was taken back. */
xl_inline int xl_window_uncharge_in(struct xl_window *w, __u64 start)
{
	int i;

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

xl_global int xl_window_uncharge(struct xl_window *w, __u64 start)
{
	if (!w) /* a global function's pointers may be NULL */
		return 0;
	return xl_window_uncharge_in(w, start);
}

/* ---- sliding-window --------------------------------------------------- */

#define XL_SW_BITS 20
#define XL_SW_MASK ((1ULL << XL_SW_BITS) - 1)
#define XL_SW_TAG_SHIFT (2 * XL_SW_BITS)
#define XL_SW_TAG_MASK ((1ULL << (64 - XL_SW_TAG_SHIFT)) - 1)

/* A sliding-window word as of a time: window k, time elapsed in it, and
 * the counts of windows k - 1 and k. */
struct xl_sw {
	__u64 k;
	__u64 elapsed;
	__u64 prev;
	__u64 curr;
};

xl_inline __u64 xl_sw_word(__u64 k, __u64 prev, __u64 curr)
{
	return (k & XL_SW_TAG_MASK) << XL_SW_TAG_SHIFT | prev << XL_SW_BITS |
	       curr;
}

/* What `word` says at `now` (see the top of this file). */
xl_inline void xl_sw_at(__u64 word, __u64 period, __u64 now, struct xl_sw *st)
{
	__u64 tag = word >> XL_SW_TAG_SHIFT;
	__u64 prev = (word >> XL_SW_BITS) & XL_SW_MASK;
	__u64 curr = word & XL_SW_MASK;

	st->k = now / period;
	st->elapsed = now - st->k * period;
	st->prev = 0;
	st->curr = 0;
	if (!(prev | curr)) /* no hits: the window number means nothing */
		return;
	if (tag == ((st->k + 1) & XL_SW_TAG_MASK)) {
		/* Another CPU's clock is in the next window already. */
		st->k++;
		st->elapsed = 0;
	}
	if (tag == (st->k & XL_SW_TAG_MASK)) {
		st->prev = prev;
		st->curr = curr;
	} else if (tag == ((st->k - 1) & XL_SW_TAG_MASK)) {
		st->prev = curr;
	}
}

/* a * b as two 64-bit halves, from 32-bit pieces (BPF has no 128-bit
 * multiply). */
struct xl_u128 {
	__u64 hi;
	__u64 lo;
};

xl_inline struct xl_u128 xl_mul64(__u64 a, __u64 b)
{
	__u64 al = a & 0xffffffffULL, ah = a >> 32;
	__u64 bl = b & 0xffffffffULL, bh = b >> 32;
	__u64 ll = al * bl, lh = al * bh, hl = ah * bl, hh = ah * bh;
	__u64 mid = (ll >> 32) + (lh & 0xffffffffULL) + (hl & 0xffffffffULL);
	struct xl_u128 r;

	r.lo = (mid << 32) | (ll & 0xffffffffULL);
	r.hi = hh + (lh >> 32) + (hl >> 32) + (mid >> 32);
	return r;
}

/* a * b < c * d, exactly. A global function in BPF, of scalars only: its
 * temporaries stay out of its callers' stack frames (XDP's entry, the
 * multi-limit charge and the per-limit charge stack up to BPF's 512
 * bytes). */
xl_global int xl_mul_less(__u64 a, __u64 b, __u64 c, __u64 d)
{
	struct xl_u128 x = xl_mul64(a, b), y = xl_mul64(c, d);

	return x.hi < y.hi || (x.hi == y.hi && x.lo < y.lo);
}

/* Does the state leave room for one more hit: floor(weighted) + 1 <=
 * amount, i.e. prev * (period - elapsed) + curr * period < amount *
 * period, i.e. curr < amount and prev * (period - elapsed) < (amount -
 * curr) * period. */
xl_inline int xl_sw_fits(const struct xl_sw *st, __u64 amount, __u64 period)
{
	if (st->curr >= amount)
		return 0;
	return xl_mul_less(st->prev, period - st->elapsed, amount - st->curr,
			   period);
}

/* Count one hit at `now` if the limit allows it. Returns 1 (breached,
 * nothing changed) or 0 (counted; *tok then names the window for
 * xl_sw_uncharge()). */
xl_inline __u32 xl_sw_charge(const struct xl_limit *l, struct xl_window *w,
			     __u64 now, __u64 *tok)
{
	struct xl_sw st;
	int i;

	*tok = 0;
	if (!l->period_ns)
		return 1;
	for (i = 0; i < XL_RETRIES; i++) {
		__u64 old = XL_READ(w->word);

		xl_sw_at(old, l->period_ns, now, &st);
		if (!xl_sw_fits(&st, l->amount, l->period_ns))
			return 1;
		/* XDP runs on all CPUs at once: the swap admits the hit
		 * only on the very word it was checked against. */
		if (__sync_val_compare_and_swap(
			    &w->word, old,
			    xl_sw_word(st.k, st.prev, st.curr + 1)) == old) {
			*tok = st.k + 1;
			return 0;
		}
	}
	return 1; /* XXX: lost every round; refused, see the top */
}

/* Take back a hit xl_sw_charge() counted (tok: what it stored). */
xl_inline int xl_sw_uncharge(struct xl_window *w, __u64 tok)
{
	__u64 k = tok - 1;
	int i;

	if (!tok)
		return 0;
	for (i = 0; i < XL_RETRIES; i++) {
		__u64 word = XL_READ(w->word), fresh;
		__u64 tag = word >> XL_SW_TAG_SHIFT;

		if (tag == (k & XL_SW_TAG_MASK) && (word & XL_SW_MASK))
			fresh = word - 1; /* curr - 1 */
		else if (tag == ((k + 1) & XL_SW_TAG_MASK) &&
			 ((word >> XL_SW_BITS) & XL_SW_MASK))
			fresh = word - (1ULL << XL_SW_BITS); /* prev - 1 */
		else
			return 0;
		if (__sync_val_compare_and_swap(&w->word, word, fresh) == word)
			return 1;
	}
	return 0;
}

/* ---- token-bucket (GCRA) ---------------------------------------------- */

/* The emission interval T: one hit every T ns (0 for an amount of 0). */
xl_inline __u64 xl_tb_interval(const struct xl_limit *l)
{
	return l->amount ? l->period_ns / l->amount : 0;
}

/* The burst tolerance tau = burst * T; a burst of 0 means the amount. */
xl_inline __u64 xl_tb_tau(const struct xl_limit *l)
{
	return (l->burst ? l->burst : l->amount) * xl_tb_interval(l);
}

/* The earliest time a hit is allowed with tat as it is. */
xl_inline __u64 xl_tb_next(const struct xl_limit *l, __u64 tat)
{
	__u64 t = tat + xl_tb_interval(l), tau = xl_tb_tau(l);

	return t > tau ? t - tau : 0;
}

/* Count one hit at `now` if the limit allows it: 1 breached (nothing
 * changed), 0 counted (*tok = 1, for xl_tb_uncharge()). */
xl_inline __u32 xl_tb_charge(const struct xl_limit *l, struct xl_window *w,
			     __u64 now, __u64 *tok)
{
	__u64 t;
	int i;

	*tok = 0;
	t = xl_tb_interval(l);
	if (!t)
		return 1; /* an amount of 0: every hit is over */
	for (i = 0; i < XL_RETRIES; i++) {
		__u64 tat = XL_READ(w->word);

		if (now < xl_tb_next(l, tat))
			return 1;
		/* The swap admits the hit only on the tat it checked. */
		if (__sync_val_compare_and_swap(&w->word, tat,
						(tat > now ? tat : now) + t) ==
		    tat) {
			*tok = 1;
			return 0;
		}
	}
	return 1; /* XXX: lost every round; refused, see the top */
}

/* Take back a hit xl_tb_charge() counted: tat - T. */
xl_inline int xl_tb_uncharge(const struct xl_limit *l, struct xl_window *w)
{
	int i;

	for (i = 0; i < XL_RETRIES; i++) {
		__u64 tat = XL_READ(w->word), t = xl_tb_interval(l);

		if (tat < t)
			return 0;
		if (__sync_val_compare_and_swap(&w->word, tat, tat - t) == tat)
			return 1;
	}
	return 0;
}

/* ---- one limit, whatever its strategy -------------------------------- */

/* The per-limit functions are global functions in BPF, so that the
 * verifier checks each strategy once, not once per limit and path. */
#define XL_PEEK_OVER 1U /* a hit now breaches the limit */
#define XL_PEEK_FULL 2U /* ... and would be refused without a charge */

/* Would a hit at `now` be refused by this limit: XL_PEEK_OVER if the hit
 * breaches it, with XL_PEEK_FULL if it would be refused without a charge
 * (a fixed window past its amount; a refused hit of the other strategies,
 * which is never charged). */
xl_global __u32 xl_lim_peek(const struct xl_limit *l, const struct xl_window *w,
			    __u64 now)
{
	__u64 word, c;
	struct xl_sw st;

	if (!l || !w) /* a global function's pointers may be NULL */
		return 0;
	word = XL_READ(w->word);
	switch (l->strategy) {
	case XL_STRAT_SLIDING:
		if (!l->period_ns)
			return XL_PEEK_OVER | XL_PEEK_FULL;
		xl_sw_at(word, l->period_ns, now, &st);
		return xl_sw_fits(&st, l->amount, l->period_ns) ?
			       0 :
			       XL_PEEK_OVER | XL_PEEK_FULL;
	case XL_STRAT_TOKEN:
		return xl_tb_interval(l) && now >= xl_tb_next(l, word) ?
			       0 :
			       XL_PEEK_OVER | XL_PEEK_FULL;
	}
	c = xl_expired(xl_word_start(word), l->period_ns, now) ?
		    0 :
		    xl_word_count(word);
	return (c >= l->amount ? XL_PEEK_OVER : 0) |
	       (c > l->amount ? XL_PEEK_FULL : 0);
}

/* Charge one hit to one limit: 1 if it breaches it. *tok is for
 * xl_lim_uncharge(). */
xl_global __u32 xl_lim_charge(const struct xl_limit *l, struct xl_window *w,
			      __u64 now, __u64 *tok)
{
	if (!l || !w || !tok) /* a global function's pointers may be NULL */
		return 1;
	switch (l->strategy) {
	case XL_STRAT_SLIDING:
		return xl_sw_charge(l, w, now, tok);
	case XL_STRAT_TOKEN:
		return xl_tb_charge(l, w, now, tok);
	}
	return xl_window_charge_in(w, l->period_ns, now, tok) > l->amount;
}

xl_global int xl_lim_uncharge(const struct xl_limit *l, struct xl_window *w,
			      __u64 tok)
{
	if (!l || !w) /* a global function's pointers may be NULL */
		return 0;
	switch (l->strategy) {
	case XL_STRAT_SLIDING:
		return xl_sw_uncharge(w, tok);
	case XL_STRAT_TOKEN:
		return tok ? xl_tb_uncharge(l, w) : 0;
	}
	return xl_window_uncharge_in(w, tok);
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
 * breaches (a fixed window counts it; a sliding window and a token bucket
 * never charge a refused hit, so there it is charged nowhere). A hit over
 * limits whose action is pass only is let through (the sidecar answers it
 * with 429): it is a connection like any other, so it counts against
 * every limit that admits it, and a soft pass limit under a hard drop
 * limit leaves the drop limit to stop a flood (§4). Two CPUs can both see
 * room for one last hit; the atomic update settles which one got it, and
 * the loser's charges to the limits it did not breach are taken back.
 * A limit that refuses without a charge (a fixed window already past its
 * amount, see the top of this file; any refusing sliding window or token
 * bucket) is breached and done with.
 */
xl_global __u32 xl_charge_all(const struct xl_rule *r, struct xl_state *s,
			      __u64 now)
{
	__u64 toks[XL_MAX_LIMITS] = {};
	__u32 n, all, peek = 0, full = 0, drop = 0, todo, charged, over, pass;
	__u32 i;

	if (!r || !s) /* a global function's pointers may be NULL */
		return 0;
	n = xl_nlimits(r);
	all = (1U << n) - 1;

	for (i = 0; i < XL_MAX_LIMITS; i++) {
		__u32 p;

		if (i >= n)
			break;
		if (r->limits[i].action != XL_ACT_PASS) /* drop, reject */
			drop |= 1U << i;
		p = xl_lim_peek(&r->limits[i], &s->win[i], now);
		if (p & XL_PEEK_OVER)
			peek |= 1U << i;
		if (p & XL_PEEK_FULL)
			full |= 1U << i;
	}
	/* A full limit is over and stays so for this hit: done with it. */
	over = full;
	charged = full;
	todo = ((peek & drop) ? peek : all) & ~full;
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < XL_MAX_LIMITS; i++) {
			if (!(todo & (1U << i)))
				continue;
			if (xl_lim_charge(&r->limits[i], &s->win[i], now,
					  &toks[i]))
				over |= 1U << i;
		}
		charged |= todo;
		/* Every drop limit the peek saw full made room before the
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
				xl_lim_uncharge(&r->limits[i], &s->win[i],
						toks[i]);
	}
	return over;
}

/*
 * xl_charge_all() for a rule of one fixed-window limit, which is most
 * rules: with one window there is nothing to peek at first and nothing to
 * take back, so the hit is one read and, unless the window is already
 * past its amount (refused without a charge, as above), one atomic add. A
 * window that must roll over, or an add that lands in a window another
 * CPU just rolled over, goes on in xl_window_charge() (the stray unit
 * stays with the dead window, as there).
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
 * it breaches, 0 when it is allowed. See xl_charge_all(). A rule of one
 * limit takes the short way: xl_charge_one() for a fixed window, for the
 * other strategies their own charge, which checks and charges in one
 * compare-and-swap. */
xl_inline __u32 xl_charge(const struct xl_rule *r, struct xl_state *s,
			  __u64 now)
{
	__u64 tok;

	if (r->nlimits != 1)
		return xl_charge_all(r, s, now);
	if (r->limits[0].strategy != XL_STRAT_FIXED)
		return xl_lim_charge(&r->limits[0], &s->win[0], now, &tok);
	return xl_charge_one(&r->limits[0], &s->win[0], now);
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

/* Until when one limit refuses every hit without charging it, as its
 * word stands at `now` (0: it does not now). Nothing but time changes
 * that: a refused hit is not charged, and no hit is admitted meanwhile.
 * - fixed-window: a window past its amount, until it ends (a count past
 *   the amount is never taken back: only charges to limits a hit did not
 *   breach are).
 * - sliding-window: a window whose own count reached the amount, until it
 *   ends (weighted >= curr). Refusals that come from the previous
 *   window's weight end somewhere inside the window: those are not
 *   cached (the datapath decides each such hit).
 * - token-bucket: until the next hit fits, tat + T - tau. */
xl_inline __u64 xl_lim_refused_until(const struct xl_limit *l,
				     const struct xl_window *w, __u64 now)
{
	__u64 word = XL_READ(w->word), start = xl_word_start(word), t;
	struct xl_sw st;

	switch (l->strategy) {
	case XL_STRAT_SLIDING:
		xl_sw_at(word, l->period_ns, now, &st);
		if (st.curr < l->amount)
			return 0;
		return (st.k + 1) * l->period_ns;
	case XL_STRAT_TOKEN:
		if (!xl_tb_interval(l))
			return 0;
		t = xl_tb_next(l, word);
		return t > now ? t : 0;
	}
	if (xl_expired(start, l->period_ns, now) ||
	    xl_word_count(word) <= l->amount)
		return 0;
	return start + l->period_ns;
}

/* How long a refused hit's verdict holds: the latest time until which one
 * of the drop limits refuses every hit (xl_lim_refused_until()), or 0 if
 * none does. Every hit before that is dropped, and dropped without a
 * charge, so a cached drop until then is exact. */
xl_inline __u64 xl_refused_until(const struct xl_rule *r,
				 const struct xl_state *s, __u64 now)
{
	__u32 n = xl_nlimits(r), i;
	__u64 until = 0, u;

	for (i = 0; i < XL_MAX_LIMITS && i < n; i++) {
		if (r->limits[i].action != XL_ACT_DROP)
			continue;
		u = xl_lim_refused_until(&r->limits[i], &s->win[i], now);
		if (u > until)
			until = u;
	}
	return until;
}

/* What a client sees of one limit at `now`: the hits it may make now
 * (remaining) and when that number next goes up (reset_ns, monotonic):
 * - fixed-window: amount - count; the end of the window (now + period
 *   when none is open: a hit now would start one);
 * - sliding-window: amount - floor(weighted); the first time floor(weighted)
 *   falls (when remaining is 0: the first time a hit fits), now + period
 *   when nothing is counted;
 * - token-bucket: floor((tau - backlog) / T), backlog = max(tat, now) -
 *   now; the time the next token is back (when remaining is 0: the first
 *   time a hit fits), max(tat, now) - tau + (remaining + 1) * T.
 * `live` is 0 when the state is as good as none (a full quota). */
struct xl_view {
	__u64 amount;
	__u64 remaining;
	__u64 reset_ns;
	__u64 count; /* hits the state holds: a window's count, a sliding
		      * window's prev + curr, a bucket's backlog in hits */
	int live;
};

/* The views are for userspace only (`xlimit query`, `xlimit top`, the
 * sidecar, the tests): a sliding window's needs 128-bit division, which
 * BPF does not have, and the datapath shows nothing to anyone. */
#ifndef __bpf__
static inline void xl_sw_view(const struct xl_limit *l, __u64 word, __u64 now,
			      struct xl_view *v)
{
	unsigned __int128 p = l->period_ns, w, m, target;
	__u64 start, d;
	struct xl_sw st;

	xl_sw_at(word, l->period_ns, now, &st);
	start = st.k * l->period_ns;
	w = st.prev * (p - st.elapsed) + st.curr * p;
	m = w / p; /* floor(weighted) */
	v->count = st.prev + st.curr;
	v->live = v->count > 0;
	v->remaining = m >= l->amount ? 0 : l->amount - (__u64)m;
	if (!v->live) {
		v->reset_ns = now + l->period_ns;
		return;
	}
	if (m == 0) { /* remaining is the amount: when all weight is gone */
		v->reset_ns = start + l->period_ns;
		return;
	}
	target = m < l->amount ? m : (l->amount ? l->amount : 1);
	if (st.curr >= target) {
		/* Not in this window (weighted >= curr): in the next one,
		 * weighted = curr * (end - t) / period < target. */
		d = (__u64)((target * p - 1) / st.curr);
		v->reset_ns = start + 2 * l->period_ns - d;
	} else {
		d = (__u64)(((target - st.curr) * p - 1) / st.prev);
		v->reset_ns = start + l->period_ns - d;
	}
}

xl_inline void xl_view_limit(const struct xl_limit *l,
			     const struct xl_window *w, __u64 now,
			     struct xl_view *v)
{
	/* One read: every field of the state as of one instant. */
	__u64 word = XL_READ(w->word);
	__u64 start = xl_word_start(word), t, tau, base;
	int open = !xl_expired(start, l->period_ns, now);
	__u64 count = open ? xl_word_count(word) : 0;

	v->amount = l->amount;
	switch (l->strategy) {
	case XL_STRAT_SLIDING:
		xl_sw_view(l, word, now, v);
		return;
	case XL_STRAT_TOKEN:
		t = xl_tb_interval(l);
		tau = xl_tb_tau(l);
		base = (word > now ? word : now) - now;
		v->live = word > now;
		v->count = t ? (base + t - 1) / t : 0;
		v->remaining = t && tau >= base ? (tau - base) / t : 0;
		v->reset_ns = t ? now + base + (v->remaining + 1) * t - tau :
				  now + l->period_ns;
		return;
	}
	v->live = open;
	v->count = count;
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
#endif /* !__bpf__ */

#endif /* XL_LIMITER_H */
