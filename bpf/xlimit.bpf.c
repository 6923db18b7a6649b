// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * xlimit's entry points: XDP, tc (clsact ingress, direct action) and a
 * syscall program through which userspace charges or reads a client with
 * exactly the datapath's code (the lists are the caller's to check: see
 * xl_decide()). Each is a thin wrapper around parse_syn()
 * (parse.h) and xl_decide() (decide.h).
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include "parse.h"
#include "decide.h"
#include "stats.h"

/* Returns 1 to drop the frame, 0 to pass it. */
static __always_inline int xl_frame(void *data, void *data_end)
{
	struct xl_decision d;
	struct xl_pkt p;

	if (!parse_syn(data, data_end, &p))
		return 0; /* fast path: not a new connection */
	if (xl_decide(p.saddr, p.dport, 1, 1, &d))
		return 0; /* no rule for this port */
	xl_count(d.rule->slot, d.verdict);
	return d.verdict == XL_V_DENIED || d.verdict == XL_V_OVER_DROP;
}

SEC("xdp")
int xlimit_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;

	return xl_frame(data, data_end) ? XDP_DROP : XDP_PASS;
}

SEC("tc")
int xlimit_tc(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;

	/* XXX: headers beyond the linear part of a non-linear skb are not
	 * seen; SYNs carry no payload, so their headers are linear. */
	return xl_frame(data, data_end) ? TC_ACT_SHOT : TC_ACT_OK;
}

SEC("syscall")
int xlimit_query(struct xl_query *q)
{
	struct xl_decision d;
	__u16 port = q->port;
	__u8 addr[16];
	__u32 i;

	/* The verifier wants constant offsets into ctx: copy, then work. */
	__builtin_memcpy(addr, q->addr, sizeof(addr));
	q->err = 0;
	q->nlimits = 0;
	q->breached = 0;
	if (xl_decide(addr, port, q->op == XL_OP_CHARGE, 0, &d)) {
		q->err = -2; /* -ENOENT: no rule covers the port */
		q->now = xl_now();
		return 0;
	}
	q->verdict = d.verdict;
	q->breached = d.breached;
	q->now = d.now;
	q->rule_port = d.rule_port;
	q->nlimits = xl_nlimits(d.rule);
#pragma unroll
	for (i = 0; i < XL_MAX_LIMITS; i++) {
		q->limits[i] = d.rule->limits[i];
		q->win[i].word = d.state ? XL_READ(d.state->win[i].word) : 0;
	}
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
