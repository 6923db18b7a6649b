/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The decision for one new connection (or, from the syscall program, one
 * request): find the port's rule, check the deny and allow lists, then
 * charge the client's state with the limiter of include/xl_limiter.h.
 * Shared by the XDP, tc and syscall entry points.
 */
#ifndef XL_DECIDE_H
#define XL_DECIDE_H

#include "maps.h"
#include "xl_key.h"
#include "xl_limiter.h"

/* The one source of time: monotonic ns (CLOCK_MONOTONIC in userspace). */
static __always_inline __u64 xl_now(void)
{
	return bpf_ktime_get_ns();
}

/* The rule for a destination port: its own, else port 0's, else none.
 * *rule_port says which of the two applied. */
static __always_inline struct xl_rule *xl_rule_for(__u16 port, __u16 *rule_port)
{
	struct xl_rule *r;
	__u16 any = 0;

	*rule_port = port;
	r = bpf_map_lookup_elem(&XL_MAP_RULES, &port);
	if (r)
		return r;
	*rule_port = 0;
	return bpf_map_lookup_elem(&XL_MAP_RULES, &any);
}

static __always_inline int xl_listed(void *list, const __u8 addr[16])
{
	struct xl_lpm_key k = { .prefixlen = 128 };

	__builtin_memcpy(k.addr, addr, 16);
	return bpf_map_lookup_elem(list, &k) != NULL;
}

/* The state key of a source: IPv6 masked to the configured prefix. */
static __always_inline void xl_make_key(struct xl_key *k, const __u8 addr[16],
					__u16 port)
{
	struct xl_config *cfg;
	__u32 zero = 0;

	cfg = bpf_map_lookup_elem(&XL_MAP_CONFIG, &zero);
	xl_key_init(k, addr, port, cfg ? cfg->ipv6_prefix : 128);
}

/* The client's state, created empty on its first hit. */
static __always_inline struct xl_state *xl_state_get(const struct xl_key *k,
						     int create)
{
	struct xl_state *s, zero = {};

	s = bpf_map_lookup_elem(&XL_MAP_STATE, k);
	if (s || !create)
		return s;
	/* Two CPUs may race to create it: NOEXIST lets one win, and both
	 * then use the same entry. */
	bpf_map_update_elem(&XL_MAP_STATE, k, &zero, BPF_NOEXIST);
	return bpf_map_lookup_elem(&XL_MAP_STATE, k);
}

struct xl_decision {
	__u32 verdict; /* enum xl_verdict */
	__u32 breached;
	struct xl_rule *rule;
	__u16 rule_port; /* the port whose rule applied: port, or 0 */
	struct xl_state *state;
	struct xl_key key;
	__u64 now;
};

/*
 * Decide on one hit from `addr` (v4-mapped for IPv4) to `port`. With
 * `charge` 0 nothing is changed (a read for `xlimit query`). With `lists`
 * 0 the allow and deny lists are not consulted: the syscall program is
 * sleepable and may not use LPM tries, so its callers look them up from
 * userspace (the same tries, the same full-length key). Returns -1 when no
 * rule covers the port, else 0 with *d filled.
 */
static __always_inline int xl_decide(const __u8 addr[16], __u16 port,
				     int charge, int lists,
				     struct xl_decision *d)
{
	d->rule = xl_rule_for(port, &d->rule_port);
	if (!d->rule)
		return -1;
	d->breached = 0;
	d->state = NULL;
	d->now = xl_now();
	xl_make_key(&d->key, addr, port);
	if (lists && xl_listed(&XL_MAP_DENY, addr)) {
		d->verdict = XL_V_DENIED;
		return 0;
	}
	if (lists && xl_listed(&XL_MAP_ALLOW, addr)) {
		d->verdict = XL_V_ALLOWED;
		return 0;
	}
	d->verdict = XL_V_PASS;
	d->state = xl_state_get(&d->key, charge);
	if (!d->state) /* read of a client never seen, or map full */
		return 0;
	if (!charge)
		return 0;
	d->breached = xl_charge(d->rule, d->state, d->now);
	if (d->breached)
		d->verdict = xl_over_verdict(d->rule, d->breached);
	return 0;
}

#endif /* XL_DECIDE_H */
