// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The ablation ladder of the per-packet benchmark, built only for it (never
 * part of xlimit): the yardstick it is read against is the minimal counter
 * of baseline.bpf.c.
 *
 * ld_*: xlimit's own decision cut after each of its steps (parse and
 *    rule lookup; the config and the allow and deny lists; a probe of
 *    the verdict cache that misses; the clock; the state lookup;
 *    the charge; and the charge through the general multi-limit path, to
 *    show what the one-limit fast path saves), each a program of its own,
 *    so that the cost each step adds is measured. The steps are bpf/decide.h's functions on the maps
 *    of bpf/maps.h, which the benchmark points at the xlimit object's own
 *    maps (same rules, same lists, same state). The last rung plus the
 *    per-rule counters is xlimit's XDP program.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "parse.h"
#include "decide.h"
#include "bench_prog.h"

/* ---- xlimit's decision, one step more per rung ------------------------ */

enum ld_step {
	LD_RULE = 1, /* parse + rule lookup */
	LD_LISTS, /* + config, deny and allow lists (skipped when empty) */
	LD_CACHE, /* + a verdict cache probe that misses */
	LD_CLOCK, /* + the clock */
	LD_STATE, /* + state lookup (created on a miss) */
	LD_CHARGE, /* + the charge: xlimit without its counters */
	LD_CHARGE_ALL, /* the same through the general multi-limit charge */
};

/* XDP_DROP when the frame made it through every step up to `upto` (and,
 * from LD_CHARGE on, when the limiter says drop); XDP_PASS when it left
 * earlier, as xlimit passes it. */
static __always_inline int ld_run(struct xdp_md *ctx, enum ld_step upto)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct xl_config *cfg;
	struct xl_vcache *vc;
	struct xl_rule *rule;
	struct xl_key key, whole;
	struct xl_state *s;
	struct xl_pkt p;
	__u16 rule_port;
	__u64 now = 0;
	__u32 over, seed = 0, flags = 0, created = 0, restored = 0, lflags;

	if (parse_syn(data, data_end, &p) != XL_P_SYN)
		return XDP_PASS;
	rule = xl_rule_for(p.dport, &rule_port, &lflags);
	if (!rule)
		return XDP_PASS;
	barrier_var(rule_port);
	if (upto == LD_RULE)
		return XDP_DROP;
	cfg = xl_config_get();
	if (cfg) {
		seed = cfg->hash_seed;
		flags = cfg->flags;
	}
	if (xl_list_verdict(flags, p.saddr) != XL_V_PASS)
		return XDP_PASS;
	if (upto == LD_LISTS)
		return XDP_DROP;
	vc = xl_vcache_slot(&whole, p.saddr, p.dport);
	/* The benchmark never bumps the generation from ~0. */
	if (vc && xl_vcache_verdict(vc, &whole, ~0U, &now) != XL_V_PASS)
		return XDP_PASS;
	if (upto == LD_CACHE)
		return XDP_DROP;
	now = xl_now();
	barrier_var(now);
	if (upto == LD_CLOCK)
		return XDP_DROP;
	xl_make_key(&key, p.saddr, p.dport, cfg);
	s = xl_state_get(&key, seed, 1, &created, &restored);
	if (!s)
		return XDP_PASS;
	if (upto == LD_STATE)
		return XDP_DROP;
	if (upto == LD_CHARGE_ALL)
		over = xl_charge_all(rule, s, now);
	else
		over = xl_charge(rule, s, now);
	if (over && xl_over_verdict(rule, over) == XL_V_OVER_DROP)
		return XDP_DROP;
	return XDP_PASS;
}

BENCH_PROG(ld_rule, ld_run, LD_RULE)
BENCH_PROG(ld_lists, ld_run, LD_LISTS)
BENCH_PROG(ld_cache, ld_run, LD_CACHE)
BENCH_PROG(ld_clock, ld_run, LD_CLOCK)
BENCH_PROG(ld_state, ld_run, LD_STATE)
BENCH_PROG(ld_charge, ld_run, LD_CHARGE)
BENCH_PROG(ld_charge_all, ld_run, LD_CHARGE_ALL)

char LICENSE[] SEC("license") = "Dual BSD/GPL";
