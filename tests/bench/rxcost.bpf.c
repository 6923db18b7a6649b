// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Time spent in the NET_RX softirq, per CPU, for the flood benchmark: a
 * veth receiver's whole path (native XDP in the veth NAPI poll, or the
 * backlog with generic XDP, tc, nftables, iptables and the TCP stack)
 * runs in that softirq, so its time per received packet is the
 * receiver's CPU cost, whatever the generator's own speed.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define NET_RX_SOFTIRQ 3

struct rx_time {
	__u64 start; /* 0: not inside a NET_RX softirq */
	__u64 total_ns;
	__u64 runs;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct rx_time);
} rx_time SEC(".maps");

SEC("raw_tp/softirq_entry")
int rx_entry(struct bpf_raw_tracepoint_args *ctx)
{
	struct rx_time *t;
	__u32 zero = 0;

	if (ctx->args[0] != NET_RX_SOFTIRQ)
		return 0;
	t = bpf_map_lookup_elem(&rx_time, &zero);
	if (t) /* per-CPU value, softirqs do not nest: plain stores */
		t->start = bpf_ktime_get_ns();
	return 0;
}

SEC("raw_tp/softirq_exit")
int rx_exit(struct bpf_raw_tracepoint_args *ctx)
{
	struct rx_time *t;
	__u32 zero = 0;

	if (ctx->args[0] != NET_RX_SOFTIRQ)
		return 0;
	t = bpf_map_lookup_elem(&rx_time, &zero);
	if (!t || !t->start)
		return 0;
	t->total_ns += bpf_ktime_get_ns() - t->start;
	t->runs++;
	t->start = 0;
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
