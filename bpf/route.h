/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Per-endpoint limits: one client's count of one route (xl_route_state),
 * read or charged for the sidecar through the xlimit_route syscall
 * program, with the same limiter as a port's (include/xl_limiter.h), so
 * that the sidecar's threads and processes charge it atomically. The
 * route's limits come from the caller, which matched the request to a
 * route of xl_routes (SEMANTICS.md §5). What each charge came to is
 * counted per route in xl_route_stats.
 */
#ifndef XL_ROUTE_H
#define XL_ROUTE_H

#include "maps.h"
#include "xl_key.h"
#include "xl_limiter.h"

/* Counts one request of route `id` in xl_route_stats, if the route has
 * an entry there. The add is atomic: two threads on one CPU may run the
 * program at once (a syscall program runs preemptible). */
static __always_inline void xl_route_count(__u32 id, __u32 what)
{
	struct xl_rstats *v;

	id &= ~XL_ROUTE_ID_DEFAULT;
	v = bpf_map_lookup_elem(&XL_MAP_RSTATS, &id);
	if (v && what < XL_RSTAT_NR)
		__sync_fetch_and_add(&v->c[what], 1);
}

static __always_inline void xl_route_op(struct xl_route_query *q)
{
	static const struct xl_state zero; /* in .rodata: off the stack */
	struct xl_route_skey k = {};
	struct xl_state *s;
	struct xl_rule r = {};
	struct xl_config *cfg;
	struct xl_key ck;
	__u32 key0 = 0, i;
	__u64 now = q->now;

	/* The verifier wants constant offsets into ctx: copy, then work.
	 * The stack holds what it must only: xl_charge()'s frames sit on
	 * top of this one. */
	__builtin_memcpy(k.addr, q->key.addr, 16);
	k.port = q->key.port;
	k.route = q->key.route;
	__builtin_memcpy(&r, &q->rule, sizeof(r));
	q->err = 0;
	q->breached = 0;
	if (q->op == XL_OP_EXEMPT) {
		xl_route_count(k.route, XL_RSTAT_EXEMPTED);
		return;
	}
	if (!now || !r.nlimits || r.nlimits > XL_MAX_LIMITS) {
		q->err = -22; /* -EINVAL */
		return;
	}
	cfg = bpf_map_lookup_elem(&XL_MAP_CONFIG, &key0);
	xl_key_init(&ck, k.addr, k.port, cfg ? cfg->ipv6_prefix : 0);
	__builtin_memcpy(k.addr, ck.addr, 16);
	s = bpf_map_lookup_elem(&XL_MAP_RSTATE, &k);
	if (!s && q->op == XL_OP_CHARGE) {
		/* BPF_NOEXIST: a client created meanwhile by another caller
		 * keeps its counts. */
		bpf_map_update_elem(&XL_MAP_RSTATE, &k, &zero, BPF_NOEXIST);
		s = bpf_map_lookup_elem(&XL_MAP_RSTATE, &k);
		if (!s) {
			q->err = -12; /* -ENOMEM */
			return;
		}
	}
	if (s && q->op == XL_OP_CHARGE) {
		q->breached = xl_charge(&r, s, now);
		xl_route_count(k.route, q->breached ? XL_RSTAT_LIMITED :
						      XL_RSTAT_PASSED);
	}
#pragma unroll
	for (i = 0; i < XL_MAX_LIMITS; i++)
		q->win[i].word = s ? XL_READ(s->win[i].word) : 0;
}

#endif /* XL_ROUTE_H */
