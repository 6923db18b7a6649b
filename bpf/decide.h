/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The decision for one new connection (or, from the syscall program, one
 * request): find the port's rule, check the deny and allow lists, then
 * charge the client's state with the limiter of include/xl_limiter.h.
 * Shared by the XDP, tc and syscall entry points.
 *
 * The LRU state map forgets idle clients when new ones push them out, and
 * a flood of spoofed sources pushes out many. A client that went over a
 * limit must not come back with a fresh quota that way, so a refused hit
 * also writes the client's state words into xl_over, a fixed table indexed by
 * a keyed hash of the key, and a client created anew starts from what
 * xl_over remembers of it (the same windows: over until they end). Only
 * the over path and the new-client path touch xl_over, the former only
 * when the hit has something new to write (xl_over_news(): a fixed
 * window's first refused hit, not the ones after it), the latter only
 * when xl_over_used says the client's slot was ever written.
 */
#ifndef XL_DECIDE_H
#define XL_DECIDE_H

#include "maps.h"
#include "flood.h"
#include "xl_key.h"
#include "xl_limiter.h"
#include "sync.h"

/* The one source of time: monotonic ns, as of the last timer tick
 * (CLOCK_MONOTONIC_COARSE in userspace). A tick (1/HZ s) coarse, it costs
 * a load where bpf_ktime_get_ns() reads the clocksource: a window may end
 * up to one tick early or late, nothing the limits' whole seconds see. */
static __always_inline __u64 xl_now(void)
{
	return bpf_ktime_get_coarse_ns();
}

/* The rule for a destination port: its own, else port 0's, else none,
 * with one lookup of the port's entry (read once: include/xlimit.h says
 * why that is enough) and one of the rule. *rule_port says which of the
 * two applied. For none, *lflags is the entry's copy of the list flags
 * (XL_CFG_NO_*), which is all a SYN to such a port needs. */
static __always_inline struct xl_rule *xl_rule_for(__u16 port, __u16 *rule_port,
						   __u32 *lflags)
{
	__u32 key = port, v, i;
	struct xl_port *p;

	*lflags = 0;
	p = bpf_map_lookup_elem(&XL_MAP_PORTS, &key);
	if (!p)
		return NULL;
	v = XL_READ(p->rslot);
	if (!v) {
		*lflags = XL_READ(p->lflags);
		return NULL;
	}
	*rule_port = v & XL_PORT_DEFAULT ? 0 : port;
	i = (v & ~XL_PORT_DEFAULT) - 1;
	return bpf_map_lookup_elem(&XL_MAP_RSLOTS, &i);
}

static __always_inline struct xl_config *xl_config_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&XL_MAP_CONFIG, &zero);
}

static __always_inline int xl_listed(void *list, const __u8 addr[16])
{
	struct xl_lpm_key k = { .prefixlen = 128 };

	__builtin_memcpy(k.addr, addr, 16);
	return bpf_map_lookup_elem(list, &k) != NULL;
}

/* The lists' verdict on a source: DENIED, ALLOWED or PASS (in neither).
 * A list the config says is empty (XL_CFG_NO_*) is not looked up. */
static __always_inline __u32 xl_list_verdict(__u32 flags, const __u8 addr[16])
{
	if (!(flags & XL_CFG_NO_DENY) && xl_listed(&XL_MAP_DENY, addr))
		return XL_V_DENIED;
	if (!(flags & XL_CFG_NO_ALLOW) && xl_listed(&XL_MAP_ALLOW, addr))
		return XL_V_ALLOWED;
	return XL_V_PASS;
}

/* Whether a SYN to a port no rule covers comes from a denied source: the
 * deny list applies to every new connection, the allow list and the
 * limits only where a rule does. `lflags` is the port's copy of the list
 * flags (xl_rule_for()): a flag test when the deny list is empty, with
 * no other map read. */
static __always_inline int xl_denied_unruled(const __u8 addr[16], __u32 lflags)
{
	if (lflags & XL_CFG_NO_DENY)
		return 0;
	return xl_listed(&XL_MAP_DENY, addr);
}

/* The state key of a source: IPv6 masked to the configured prefix. */
static __always_inline void xl_make_key(struct xl_key *k, const __u8 addr[16],
					__u16 port, const struct xl_config *cfg)
{
	xl_key_init(k, addr, port, cfg ? cfg->ipv6_prefix : 0);
}

/* This CPU's xl_vcache entry for a (source, port) (xl_vcache_index():
 * why its slot needs no keyed hash), and in *k the whole source as a
 * key, to check the entry against. */
static __always_inline struct xl_vcache *
xl_vcache_slot(struct xl_key *k, const __u8 addr[16], __u16 port)
{
	__u32 slot = xl_vcache_index(addr, port);

	__builtin_memcpy(k->addr, addr, 16);
	k->port = port;
	k->pad = 0;
	return bpf_map_lookup_elem(&XL_MAP_VCACHE, &slot);
}

/* The verdict an entry holds for k under generation `gen`, or PASS when
 * it holds none: another source's, an older generation's, or a drop
 * whose window ended by *now (read here, once, only for a drop). */
static __always_inline __u32 xl_vcache_verdict(const struct xl_vcache *c,
					       const struct xl_key *k,
					       __u32 gen, __u64 *now)
{
	__u64 a[2], b[2];

	__builtin_memcpy(a, c->addr, 16);
	__builtin_memcpy(b, k->addr, 16);
	if (c->gen != gen || c->port != k->port || a[0] != b[0] || a[1] != b[1])
		return XL_V_PASS;
	if (c->verdict != XL_V_OVER_DROP)
		return c->verdict; /* a list's, or PASS (never written) */
	*now = xl_now();
	return *now < c->until ? XL_V_OVER_DROP : XL_V_PASS;
}

/* Remembers a verdict on this CPU. Per-CPU and softirq does not nest, so
 * nothing else writes the entry meanwhile. */
static __always_inline void xl_vcache_put(struct xl_vcache *c,
					  const struct xl_key *k, __u32 gen,
					  __u32 verdict, __u64 until)
{
	__builtin_memcpy(c->addr, k->addr, 16);
	c->port = k->port;
	c->verdict = verdict;
	c->until = until;
	c->gen = gen;
}

/* One bit per xl_over slot, set once a refused client was written to it
 * and never cleared: 8 KiB that stay in cache, so that a new client whose
 * slot never held anyone (the common case, even in a flood of spoofed
 * sources that are never refused) reads no 40-byte slot of the 2.5 MiB
 * table. Program data, not a pinned map: the programs of one load share
 * it, and a new load starts with a new xl_over as well. */
__u64 xl_over_used[XL_OVER_SLOTS / 64];

/* The slot of xl_over for a key, and the tag that names the key in it. */
static __always_inline __u32 xl_over_index(const struct xl_key *k, __u32 seed,
					   __u32 *tag)
{
	__u64 h = xl_key_hash(k, seed);

	*tag = (h >> 32) | 1; /* never 0, the empty tag */
	return h & (XL_OVER_SLOTS - 1);
}

/* Remembers a client whose hit was refused, with its windows as they
 * are now. The latest refused client takes the slot. Two CPUs writing
 * one slot at once may mix their words: the one client whose tag wins
 * may come back with another's windows (a rarer error than the
 * eviction this guards against).
 *
 * A slot that already holds this client with these words is not written:
 * a refused hit changes no word (xl_charge()), so in a flood of sources
 * over their limits nearly every refused hit finds its slot as it would
 * leave it, and reading it leaves the line clean, where writing the same
 * words would dirty it, for a write-back to memory or a transfer to the
 * next CPU that reads it. */
static __always_inline void xl_over_remember(const struct xl_key *k, __u32 seed,
					     const struct xl_state *s)
{
	struct xl_over *o;
	__u32 tag, i, slot = xl_over_index(k, seed, &tag);
	__u64 bit = 1ULL << (slot & 63), *used = &xl_over_used[slot / 64];
	__u64 w[XL_MAX_LIMITS], diff = 0;

	o = bpf_map_lookup_elem(&XL_MAP_OVER, &slot);
	if (!o)
		return;
	if (!(XL_READ(*used) & bit)) /* written once: no line bouncing */
		__sync_fetch_and_or(used, bit);
#pragma unroll
	for (i = 0; i < XL_MAX_LIMITS; i++) {
		w[i] = XL_READ(s->win[i].word);
		diff |= w[i] ^ XL_READ(o->state.win[i].word);
	}
	if (!diff && XL_READ(o->tag) == tag && XL_READ(o->port) == k->port)
		return;
#pragma unroll
	for (i = 0; i < XL_MAX_LIMITS; i++)
		o->state.win[i].word = w[i];
	o->port = k->port;
	o->tag = tag;
}

/* Whether a refused hit must write the client into xl_over. A rule of one
 * fixed window (xl_charge_one()) counts the first refused hit of a window,
 * to amount + 1, and no later one: a refused hit that found the word at
 * amount + 1 and left it so comes after that first one, which wrote the
 * same words, so it need not (`before` is the word as read before the
 * charge). Under a flood of sources each over its limit, their refused
 * SYNs then read no line of xl_over's 2.5 MiB, a cache miss each. Other
 * strategies leave their words as they are on a refused hit, which says
 * nothing of whether xl_over has them: each refused hit writes.
 * Only a refused hit takes a count past the amount: changed limits
 * start from clean counts, but for `limit add` (XL_SET_KEEP_COUNTS),
 * whose rule then has more than one limit. */
static __always_inline int xl_over_news(const struct xl_rule *r,
					const struct xl_state *s, __u64 before)
{
	const struct xl_limit *l = &r->limits[0];
	__u64 word = XL_READ(s->win[0].word);

	if (r->nlimits != 1 || l->strategy != XL_STRAT_FIXED)
		return 1;
	return word != before || xl_word_count(word) != l->amount + 1;
}

/* The client's state, created on its first hit: empty, or as xl_over
 * remembers it. *created and *restored say which, if this call made it. */
static __always_inline struct xl_state *xl_state_get(const struct xl_key *k,
						     __u32 seed, int create,
						     __u32 *created,
						     __u32 *restored)
{
	struct xl_state *s, init = {};
	struct xl_over *o = NULL;
	__u32 tag, i, slot;

	s = bpf_map_lookup_elem(&XL_MAP_STATE, k);
	if (s || !create)
		return s;
	slot = xl_over_index(k, seed, &tag);
	if (XL_READ(xl_over_used[slot / 64]) & (1ULL << (slot & 63)))
		o = bpf_map_lookup_elem(&XL_MAP_OVER, &slot);
	if (o && o->tag == tag) {
#pragma unroll
		for (i = 0; i < XL_MAX_LIMITS; i++)
			init.win[i].word = XL_READ(o->state.win[i].word);
		*restored = 1;
	}
	/* Two CPUs may race to create it: NOEXIST lets one win, and both
	 * then use the same entry. */
	if (bpf_map_update_elem(&XL_MAP_STATE, k, &init, BPF_NOEXIST))
		*restored = 0;
	else
		*created = 1;
	return bpf_map_lookup_elem(&XL_MAP_STATE, k);
}

struct xl_decision {
	__u32 verdict; /* enum xl_verdict */
	__u32 breached;
	struct xl_rule *rule;
	__u16 rule_port; /* the port whose rule applied: port, or 0 */
	struct xl_state *state;
	struct xl_key key;
	__u64 now; /* 0 when the verdict needed no clock */
	__u32 created; /* this hit created the client's state */
	__u32 restored; /* ... from xl_over */
	__u32 known; /* a known client let past the port's exceeded ceiling */
	__u32 lflags; /* no rule: the port's list flags (xl_rule_for()) */
};

/*
 * Decide on one hit from `addr` (v4-mapped for IPv4) to `port`. With
 * `charge` 0 nothing is changed (a read for `xlimit query`). With `lists`
 * 0 the allow and deny lists are not consulted: the syscall program is
 * sleepable and may not use LPM tries, so its callers look them up from
 * userspace (the same tries, the same full-length key); nor is xl_vcache,
 * which holds the lists' verdicts. Nor may it read the coarse clock
 * (bpf_ktime_get_coarse_ns() is not offered to syscall programs): without
 * `lists` the decision is made at `now`, the caller's
 * CLOCK_MONOTONIC_COARSE reading, the same clock; with `lists`, `now` is
 * ignored and xl_now() read. Returns -1 when no rule covers the port (with
 * d->lflags set), else 0 with *d filled.
 *
 * With `lists`, a verdict this CPU reached before for the same source
 * and port, under the same generation of the config, is taken from
 * xl_vcache: a list's, or a drop until xl_refused_until(), which is exact
 * for every strategy: a fixed window past its amount until it ends, a
 * token bucket until its next hit fits, a sliding window whose own count
 * reached the amount until it ends; a sliding window refusing on the
 * previous window's weight is not cached (each hit is decided, at the
 * cost of one read, as a refused hit changes nothing). A source the
 * cache sends away is not charged, as it would not be.
 *
 * xl_over keeps the state words as they are, whatever the strategy: a
 * client restored from it finds its window, counts or TAT again. The
 * one-limit fast path (xl_charge_one()) is the fixed window's; a rule of
 * one sliding-window or token-bucket limit is one compare-and-swap in
 * its own charge function (xl_charge()).
 *
 * With `lists` too, the port's ceiling (flood.h), which counts new
 * connections, not the sidecar's requests: a SYN that finds it exceeded
 * is dropped before its source's state is read or created, unless the
 * rule admits known clients and the source is one; a SYN within its own
 * limits is then charged to the ceiling too, and refused if that was
 * the last room another CPU took first (the source keeps its charge).
 */
static __always_inline int xl_decide(const __u8 addr[16], __u16 port,
				     int charge, int lists, __u64 now,
				     struct xl_decision *d)
{
	struct xl_vcache *vc = NULL;
	struct xl_total *total = NULL;
	__u32 gate;
	struct xl_config *cfg;
	struct xl_key whole;
	__u32 seed = 0, gen = 0, flags = 0;
	__u64 h = 0; /* sync's keyed hash of the source */
	__u64 before; /* the first window's word before the charge */

	d->rule = xl_rule_for(port, &d->rule_port, &d->lflags);
	if (!d->rule)
		return -1;
	d->breached = 0;
	d->state = NULL;
	d->created = 0;
	d->restored = 0;
	d->known = 0;
	d->now = lists ? 0 : now;
	cfg = xl_config_get();
	if (cfg) {
		seed = cfg->hash_seed;
		gen = cfg->gen;
		flags = cfg->flags;
	}
	if (lists) {
		vc = xl_vcache_slot(&whole, addr, port);
		d->verdict = vc ? xl_vcache_verdict(vc, &whole, gen, &d->now) :
				  XL_V_PASS;
		if (d->verdict == XL_V_PASS) {
			d->verdict = xl_list_verdict(flags, addr);
			/* Cached when a trie was looked up: the next SYN of
			 * the source skips them, whatever they said. */
			if (vc && (~flags & (XL_CFG_NO_ALLOW | XL_CFG_NO_DENY)))
				xl_vcache_put(vc, &whole, gen,
					      d->verdict ?: XL_V_UNLISTED, 0);
		}
		if (d->verdict != XL_V_PASS && d->verdict != XL_V_UNLISTED)
			return 0;
	}
	d->verdict = XL_V_PASS;
	if (!d->now)
		d->now = xl_now();
	xl_make_key(&d->key, addr, port, cfg);
	if (flags & XL_CFG_SYNC) /* of the whole source: see xl_sync_note() */
		h = xl_key_hash(lists ? &whole : &d->key, seed);
	if (lists && charge)
		total = xl_total_get(d->rule);
	if (total) {
		gate = xl_total_before(total, d->rule, &d->key, d->now);
		if (gate == XL_GATE_SHUT) {
			d->verdict = XL_V_OVER_TOTAL;
			return 0;
		}
		if (gate == XL_GATE_KNOWN) {
			d->known = 1; /* past the ceiling, not charged to it */
			total = NULL;
		}
	}
	d->state =
		xl_state_get(&d->key, seed, charge, &d->created, &d->restored);
	if (!d->state) /* read of a client never seen, or map full */
		return 0;
	if (!charge)
		return 0;
	before = XL_READ(d->state->win[0].word);
	d->breached = xl_charge(d->rule, d->state, d->now);
	if (flags & XL_CFG_SYNC)
		xl_sync_note(&d->key, h);
	if (d->breached) {
		d->verdict = xl_over_verdict(d->rule, d->breached);
		if (xl_over_news(d->rule, d->state, before))
			xl_over_remember(&d->key, seed, d->state);
		if (vc && d->verdict == XL_V_OVER_DROP)
			xl_vcache_put(vc, &whole, gen, XL_V_OVER_DROP,
				      xl_refused_until(d->rule, d->state,
						       d->now));
	}
	if (total &&
	    (d->verdict == XL_V_PASS || d->verdict == XL_V_OVER_PASS)) {
		gate = xl_total_after(total, d->rule, &d->key, d->now);
		if (gate == XL_GATE_SHUT)
			d->verdict = XL_V_OVER_TOTAL;
		d->known = gate == XL_GATE_KNOWN;
	}
	return 0;
}

#endif /* XL_DECIDE_H */
