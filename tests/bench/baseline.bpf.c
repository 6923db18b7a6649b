// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Baseline XDP programs for the benchmarks, built only for them (never
 * part of xlimit): the cheapest possible verdicts (XDP_PASS, XDP_DROP),
 * the xlimit fast path without a decision (parse to the TCP flags with
 * bpf/parse.h, then pass or drop), and a wrapper that gives every run of
 * a repeated test_run a different source address before it tail-calls the
 * program under test: BPF_PROG_TEST_RUN repeats one packet, and the
 * churning-sources case needs a new client on every run.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "parse.h"

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

char LICENSE[] SEC("license") = "Dual BSD/GPL";
