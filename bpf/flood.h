/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Floods from forged sources. Each forged source is new, so per-source
 * limits never trigger, and each takes an entry of xl_state, pushing real
 * clients out of it. Two defences, per rule, both off unless configured
 * (a rule without them pays one test of its flags):
 *
 *  - A ceiling for all sources of a port together (xl_total, `limit set
 *    --total`). Once it is exceeded, a SYN is dropped before its source's
 *    state is looked up or created: the flood neither gets through nor
 *    churns xl_state faster than the ceiling admits new sources.
 *  - Known clients (`--admit-known`): a source that completed a TCP
 *    handshake on the port is in xl_known, learned by the sockops program
 *    when the kernel establishes the connection, i.e. after it checked the
 *    client's ACK against the SYN-ACK's sequence number (or its SYN
 *    cookie), which a forged source never sees. While the ceiling is
 *    exceeded, a known source's SYN skips it and is decided by its own
 *    limits only. xl_known is read only then, so a port under its ceiling
 *    pays nothing for it, and packets other than SYNs never do (no lookup
 *    on the ACK path: the learning happens in the kernel's TCP stack, once
 *    per connection). It is a map of its own that only completed
 *    handshakes write, so the flood's churn of xl_state cannot evict it.
 *
 * Counting the ceiling: one 64-bit window word per limit shared by every
 * CPU (the fixed window of xl_limiter.h), not per-CPU shares. Shares
 * would split the amount between the CPUs and refuse early on a CPU that
 * gets more than its share (RSS spreads flows by hash, not evenly in each
 * second): inexact by up to (CPUs - 1) / CPUs of the amount. The shared
 * word is exact, amount hits per window as for a source, and its cost is
 * bounded: the atomic add, the one write that moves the cache line
 * between CPUs, happens only while the window has room, at most amount +
 * CPUs times per window; past that every SYN only reads the word (a line
 * all CPUs keep shared) until one compare-and-swap rolls the window over.
 * A flood pays a read per SYN, and the atomics stay within the ceiling
 * the operator set.
 */
#ifndef XL_FLOOD_H
#define XL_FLOOD_H

#include "maps.h"
#include "xl_key.h"
#include "xl_limiter.h"

/* The port's ceiling, if its rule has one. */
static __always_inline struct xl_total *xl_total_get(const struct xl_rule *r)
{
	__u32 slot = r->slot;

	if (!(r->flags & XL_RULE_TOTAL))
		return NULL;
	return bpf_map_lookup_elem(&XL_MAP_TOTAL, &slot);
}

/* Whether the ceiling has no room left at `now`: one of its windows holds
 * its amount already. Reads only. */
static __always_inline int xl_total_full(const struct xl_total *t, __u64 now)
{
	__u32 n = xl_nlimits(&t->rule), i;

	for (i = 0; i < XL_MAX_LIMITS && i < n; i++)
		if (xl_window_count(&t->state.win[i],
				    t->rule.limits[i].period_ns,
				    now) >= t->rule.limits[i].amount)
			return 1;
	return 0;
}

/* Charges one new connection to the ceiling, a set of fixed windows that
 * drop: the limits it breaches, 0 when it fits. As SEMANTICS.md §2 and
 * xl_charge_all(), a hit that fits all is charged to all and a refused
 * one keeps only its charges to the limits it breaches. Only called after
 * xl_total_full() found room in every window, so a window gets at most
 * one add per CPU past its amount, as the limiter's count allows. The
 * limiter's inline window functions, not xl_charge_all(): one more call
 * frame would take the chain of calls past the verifier's 512 bytes of
 * stack. */
static __always_inline __u32 xl_total_charge(struct xl_total *t, __u64 now)
{
	__u64 starts[XL_MAX_LIMITS] = {};
	__u32 n = xl_nlimits(&t->rule), over = 0, i;

	for (i = 0; i < XL_MAX_LIMITS && i < n; i++)
		if (xl_window_charge_in(&t->state.win[i],
					t->rule.limits[i].period_ns, now,
					&starts[i]) > t->rule.limits[i].amount)
			over |= 1U << i;
	for (i = 0; over && i < XL_MAX_LIMITS && i < n; i++)
		if (!(over & (1U << i)))
			xl_window_uncharge_in(&t->state.win[i], starts[i]);
	return over;
}

/* Whether the rule lets known clients past its ceiling and k is one. The
 * LRU lookup also marks k as recently used. */
static __always_inline int xl_admit_known(const struct xl_rule *r,
					  const struct xl_key *k)
{
	return (r->flags & XL_RULE_ADMIT_KNOWN) &&
	       bpf_map_lookup_elem(&XL_MAP_KNOWN, k) != NULL;
}

/* What the ceiling says of a SYN (xl_total_before, xl_total_after). */
enum xl_gate {
	XL_GATE_OPEN = 0, /* room left, or no ceiling: decide as usual */
	XL_GATE_KNOWN, /* no room, but a known client: its own limits decide */
	XL_GATE_SHUT, /* no room: drop */
};

/*
 * Global functions, verified once on their own: inlined, the paths
 * through the ceiling would multiply those through the parser and the
 * limits past what the verifier walks.
 *
 * xl_total_before(): before the source's state is touched, whether the
 * rule's ceiling t (xl_total_get(), looked up once per SYN) has room at
 * `now` (reads only).
 */
xl_global __u32 xl_total_before(const struct xl_total *t,
				const struct xl_rule *r, const struct xl_key *k,
				__u64 now)
{
	if (!t || !r || !k) /* a global function's pointers may be NULL */
		return XL_GATE_OPEN;
	if (!xl_total_full(t, now))
		return XL_GATE_OPEN;
	return xl_admit_known(r, k) ? XL_GATE_KNOWN : XL_GATE_SHUT;
}

/* xl_total_after(): a SYN its own limits let through is charged to the
 * ceiling; SHUT (or KNOWN) when another CPU took the last room first. */
xl_global __u32 xl_total_after(struct xl_total *t, const struct xl_rule *r,
			       const struct xl_key *k, __u64 now)
{
	if (!t || !r || !k)
		return XL_GATE_OPEN;
	if (!xl_total_charge(t, now))
		return XL_GATE_OPEN;
	return xl_admit_known(r, k) ? XL_GATE_KNOWN : XL_GATE_SHUT;
}

/* A connection from addr to port was established: the client is known.
 * Returns 1 when it was not known before. `prefix` is xl_config's
 * ipv6_prefix: the key is the one the datapath builds for its SYNs. */
static __always_inline int xl_known_learn(const __u8 addr[16], __u16 port,
					  __u32 prefix, __u64 now)
{
	struct xl_known *kn, fresh = { .last = now, .conns = 1 };
	struct xl_key k;

	xl_key_init(&k, addr, port, prefix);
	kn = bpf_map_lookup_elem(&XL_MAP_KNOWN, &k);
	if (kn) {
		kn->last = now; /* a racing write of a time as good */
		__sync_fetch_and_add(&kn->conns, 1);
		return 0;
	}
	return !bpf_map_update_elem(&XL_MAP_KNOWN, &k, &fresh, BPF_NOEXIST);
}

#endif /* XL_FLOOD_H */
