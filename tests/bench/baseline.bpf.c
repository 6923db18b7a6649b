// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Baseline XDP programs for the benchmarks, built only for them (never
 * part of xlimit): the cheapest possible verdicts (XDP_PASS, XDP_DROP),
 * the xlimit fast path without a decision (parse to the TCP flags with
 * bpf/parse.h, then pass or drop), and a wrapper that gives every run of
 * a repeated test_run a different source address before it tail-calls the
 * program under test: BPF_PROG_TEST_RUN repeats one packet, and the
 * churning-sources case needs a new client on every run.
 *
 * And the yardstick, ref_count*: the simplest program that counts per
 * source: parse with bpf/parse.h, one LRU-hash lookup keyed by (source,
 * port), created on a miss, one atomic add, drop over a threshold; as is,
 * with a bpf_ktime_get_ns() read and with a bpf_ktime_get_coarse_ns()
 * read. No program that counts sources can do much less.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "parse.h"
#include "bench_prog.h"

SEC("xdp")
int bl_pass(struct xdp_md *ctx)
{
	(void)ctx;
	return XDP_PASS;
}

SEC("xdp")
int bl_drop(struct xdp_md *ctx)
{
	(void)ctx;
	return XDP_DROP;
}

/* The parse xlimit does on every frame; barrier_var keeps the compiler
 * from dropping the parse whose result the verdict ignores. */
static __always_inline void bl_parse(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct xl_pkt p;
	int syn;

	syn = parse_syn(data, data_end, &p);
	barrier_var(syn);
}

SEC("xdp")
int bl_parse_pass(struct xdp_md *ctx)
{
	bl_parse(ctx);
	return XDP_PASS;
}

SEC("xdp")
int bl_parse_drop(struct xdp_md *ctx)
{
	bl_parse(ctx);
	return XDP_DROP;
}

/* The program the wrapper tail-calls: set by the benchmark. */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} bl_next SEC(".maps");

/* Sources cycle through bl_nsrc addresses; set before the run. */
__u32 bl_nsrc = 1;
__u32 bl_seq;

/*
 * Writes the next source into the frame, then tail-calls bl_next. The
 * frame must be IPv6 without VLAN tags: the low 32 bits of the source
 * address (bytes 34..37 of an IPv6 header at offset 14) are the sequence
 * number. test_run in its default mode keeps the frame's bytes from one
 * repetition to the next, so the change is all it takes.
 */
SEC("xdp")
int bl_churn(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 *low = data + 14 + 8 + 12;
	__u32 n;

	if ((void *)(low + 1) > data_end)
		return XDP_ABORTED;
	/* test_run uses one CPU: no other writer of bl_seq. */
	n = bl_seq + 1;
	if (n >= bl_nsrc)
		n = 0;
	bl_seq = n;
	*low = bpf_htonl(n + 1);
	bpf_tail_call(ctx, &bl_next, 0);
	return XDP_ABORTED;
}

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

enum ref_clock {
	REF_NONE,
	REF_KTIME,
	REF_COARSE,
	REF_CLOCK = 3, /* the bits that name the clock */
	REF_LIMIT1 = 4, /* threshold 1, not ref_limit (for the flood) */
};

static __always_inline int ref_count(struct xdp_md *ctx, int how)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ref_key k = {};
	struct xl_pkt p;
	__u64 *v, zero = 0, n, t = 0;
	int clk = how & REF_CLOCK;

	if (parse_syn(data, data_end, &p) != XL_P_SYN)
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
	return n > (how & REF_LIMIT1 ? 1 : ref_limit) ? XDP_DROP : XDP_PASS;
}

BENCH_PROG(ref_count_plain, ref_count, REF_NONE)
BENCH_PROG(ref_count_ktime, ref_count, REF_KTIME)
BENCH_PROG(ref_count_coarse, ref_count, REF_COARSE)
BENCH_PROG(ref_count_flood, ref_count, REF_COARSE | REF_LIMIT1)

char LICENSE[] SEC("license") = "Dual BSD/GPL";
