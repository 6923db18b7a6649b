// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The yardstick of the per-packet benchmark, built only for it (never part
 * of xlimit):
 *
 *  - ref_count*: the simplest program that counts per source: parse with
 *    bpf/parse.h, one LRU-hash lookup keyed by (source, port), created on
 *    a miss, one atomic add, drop over a threshold; as is, with a
 *    bpf_ktime_get_ns() read and with a bpf_ktime_get_coarse_ns() read.
 *    No program that counts sources can do much less.
 *
 *  - ld_*: xlimit's own decision cut after each of its steps (parse and
 *    rule lookup; the allow and deny lists; the clock; the state lookup;
 *    the charge), each a program of its own, so that the cost each step
 *    adds is measured. The steps are bpf/decide.h's functions on the maps
 *    of bpf/maps.h, which the benchmark points at the xlimit object's own
 *    maps (same rules, same lists, same state). The last rung plus the
 *    per-rule counters is xlimit's XDP program.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "parse.h"
#include "decide.h"

/* ---- the minimal per-source counter ----------------------------------- */

struct ref_key {
	__u8 addr[16];
	__u16 port;
	__u16 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct ref_key);
	__type(value, __u64);
	__uint(max_entries, 1048576); /* the benchmark sets it */
} ref_state SEC(".maps");

/* Hits a source may make before it is dropped; set by the benchmark. */
__u64 ref_limit = ~0ULL;

enum ref_clock { REF_NONE, REF_KTIME, REF_COARSE };

static __always_inline int ref_count(struct xdp_md *ctx, enum ref_clock clk)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ref_key k = {};
	struct xl_pkt p;
	__u64 *v, zero = 0, n, t = 0;

	if (!parse_syn(data, data_end, &p))
		return XDP_PASS;
	__builtin_memcpy(k.addr, p.saddr, 16);
	k.port = p.dport;
	if (clk == REF_KTIME)
		t = bpf_ktime_get_ns();
	else if (clk == REF_COARSE)
		t = bpf_ktime_get_coarse_ns();
	barrier_var(t);
	v = bpf_map_lookup_elem(&ref_state, &k);
	if (!v) {
		bpf_map_update_elem(&ref_state, &k, &zero, BPF_NOEXIST);
		v = bpf_map_lookup_elem(&ref_state, &k);
		if (!v)
			return XDP_PASS;
	}
	n = __sync_fetch_and_add(v, 1) + 1;
	return n > ref_limit ? XDP_DROP : XDP_PASS;
}

/* One XDP program per variant of a shared body. */
#define BENCH_PROG(name, body, arg)             \
	SEC("xdp") int name(struct xdp_md *ctx) \
	{                                       \
		return body(ctx, arg);          \
	}

BENCH_PROG(ref_count_plain, ref_count, REF_NONE)
BENCH_PROG(ref_count_ktime, ref_count, REF_KTIME)
BENCH_PROG(ref_count_coarse, ref_count, REF_COARSE)

/* ---- xlimit's decision, one step more per rung ------------------------ */

enum ld_step {
	LD_RULE = 1, /* parse + rule lookup */
	LD_LISTS, /* + state key, deny and allow lists */
	LD_CLOCK, /* + the clock */
	LD_STATE, /* + state lookup (created on a miss) */
	LD_CHARGE, /* + the charge: xlimit without its counters */
};

/* XDP_DROP when the frame made it through every step up to `upto` (and,
 * from LD_CHARGE on, when the limiter says drop); XDP_PASS when it left
 * earlier, as xlimit passes it. */
static __always_inline int ld_run(struct xdp_md *ctx, enum ld_step upto)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct xl_rule *rule;
	struct xl_state *s;
	struct xl_key key;
	struct xl_pkt p;
	__u16 rule_port;
	__u64 now = 0;
	__u32 over;

	if (!parse_syn(data, data_end, &p))
		return XDP_PASS;
	rule = xl_rule_for(p.dport, &rule_port);
	if (!rule)
		return XDP_PASS;
	barrier_var(rule_port);
	if (upto == LD_RULE)
		return XDP_DROP;
	xl_make_key(&key, p.saddr, p.dport);
	if (xl_listed(&XL_MAP_DENY, p.saddr))
		return XDP_DROP;
	if (xl_listed(&XL_MAP_ALLOW, p.saddr))
		return XDP_PASS;
	if (upto == LD_LISTS)
		return XDP_DROP;
	now = xl_now();
	barrier_var(now);
	if (upto == LD_CLOCK)
		return XDP_DROP;
	s = xl_state_get(&key, 1);
	if (!s)
		return XDP_PASS;
	if (upto == LD_STATE)
		return XDP_DROP;
	over = xl_charge(rule, s, now);
	if (over && xl_over_verdict(rule, over) == XL_V_OVER_DROP)
		return XDP_DROP;
	return XDP_PASS;
}

BENCH_PROG(ld_rule, ld_run, LD_RULE)
BENCH_PROG(ld_lists, ld_run, LD_LISTS)
BENCH_PROG(ld_clock, ld_run, LD_CLOCK)
BENCH_PROG(ld_state, ld_run, LD_STATE)
BENCH_PROG(ld_charge, ld_run, LD_CHARGE)

char LICENSE[] SEC("license") = "Dual BSD/GPL";
