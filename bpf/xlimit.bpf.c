// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * xlimit's entry points: XDP, tc (clsact ingress, direct action) and a
 * syscall program through which userspace charges or reads a client with
 * exactly the datapath's code (the lists are the caller's to check: see
 * xl_decide()), one through which the sidecar charges a client's count
 * of a route (route.h), and a sockops program that learns which clients
 * completed a TCP handshake (flood.h). Each is a thin wrapper around
 * parse_syn() (parse.h), xl_decide() (decide.h) or xl_route_op().
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include "parse.h"
#include "decide.h"
#include "stats.h"
#include "reject.h"
#include "route.h"

/* What an entry point does with a frame. */
enum xl_fate {
	XL_F_PASS = 0,
	XL_F_DROP,
	XL_F_REJECT, /* answer it with a TCP RST (reject.h) */
};

/* The fate of a new connection to a port without a rule (a SYN, or a
 * first fragment the kernel may reassemble one from), whose xl_ports
 * entry has the list flags `lflags`: dropped when its source is
 * deny-listed, counted as denied in the global slot. */
static __always_inline int xl_unruled(const __u8 saddr[16], __u32 lflags)
{
	if (!xl_denied_unruled(saddr, lflags))
		return XL_F_PASS;
	xl_count_one(XL_SLOT_GLOBAL, XL_STAT_DENIED);
	return XL_F_DROP;
}

/* The fate of a frame parse_syn() called `parsed`: enum xl_fate. */
static __always_inline int xl_frame(int parsed, struct xl_pkt *p)
{
	struct xl_decision d;
	__u16 rule_port;
	__u32 lflags;

	if (parsed == XL_P_SYN) {
		if (xl_decide(p->saddr, p->dport, 1, 1, 0, &d))
			return xl_unruled(p->saddr, d.lflags); /* no rule */
		xl_count(d.rule->slot, d.verdict, d.created, d.restored);
		if (d.known) /* rare: only while a ceiling is exceeded */
			xl_count_one(d.rule->slot, XL_STAT_KNOWN_ADMITTED);
		if (d.verdict == XL_V_OVER_REJECT)
			return XL_F_REJECT;
		return d.verdict == XL_V_DENIED ||
		       d.verdict == XL_V_OVER_DROP ||
		       d.verdict == XL_V_OVER_TOTAL;
	}
	if (parsed == XL_P_TINY) {
		/* The kernel may reassemble a SYN from it: dropped when a
		 * rule covers its port, or always when it holds no port. */
		struct xl_rule *r;

		if (!p->has_port) {
			xl_count_one(XL_SLOT_GLOBAL, XL_STAT_FRAG_DROPPED);
			return 1;
		}
		r = xl_rule_for(p->dport, &rule_port, &lflags);
		if (!r)
			return xl_unruled(p->saddr, lflags);
		xl_count_one(r->slot, XL_STAT_FRAG_DROPPED);
		return 1;
	}
	if (parsed == XL_P_DEEP) {
		xl_count_one(XL_SLOT_GLOBAL, XL_STAT_DEEP_DROPPED);
		return 1;
	}
	return 0; /* fast path: not a new connection */
}

/*
 * The reject action's RST, built in place of the SYN (reject.h). Global
 * functions, which parse the frame again: the verifier checks them once,
 * not once for every path through the parser and the limits, which it
 * would if what the first parse learnt stayed live until here.
 */
__attribute__((noinline)) int xl_reject_xdp(struct xdp_md *ctx)
{
	void *data, *data_end;
	struct xl_pkt p;
	int len;

	if (!ctx)
		return XDP_DROP;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	if (parse_syn(data, data_end, &p) != XL_P_SYN)
		return XDP_DROP;
	len = xl_rst_build(data, data_end, &p);
	if (len < 0)
		return XDP_DROP;
	if (bpf_xdp_adjust_tail(ctx, len - (int)(data_end - data)))
		return XDP_DROP;
	return XDP_TX;
}

/* The tc one sends the RST out of the device the SYN came in by (on a
 * veth, to its peer). */
__attribute__((noinline)) int xl_reject_tc(struct __sk_buff *skb)
{
	void *data, *data_end;
	struct xl_pkt p;
	int len;

	if (!skb)
		return TC_ACT_SHOT;
	data = (void *)(long)skb->data;
	data_end = (void *)(long)skb->data_end;
	if (parse_syn(data, data_end, &p) != XL_P_SYN)
		return TC_ACT_SHOT;
	len = xl_rst_build(data, data_end, &p);
	if (len < 0 || bpf_skb_change_tail(skb, len, 0))
		return TC_ACT_SHOT;
	return bpf_redirect(skb->ifindex, 0);
}

SEC("xdp")
int xlimit_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct xl_pkt p;
	int fate;

	fate = xl_frame(parse_syn(data, data_end, &p), &p);
	if (fate == XL_F_PASS)
		return XDP_PASS;
	return fate == XL_F_DROP ? XDP_DROP : xl_reject_xdp(ctx);
}

/* The tc verdict for a frame's fate. */
static __always_inline int xl_tc_verdict(struct __sk_buff *skb, int fate)
{
	if (fate == XL_F_PASS)
		return TC_ACT_OK;
	return fate == XL_F_DROP ? TC_ACT_SHOT : xl_reject_tc(skb);
}

/* Bytes of a non-linear skb that tc makes linear when the headers run
 * past the linear part: any SYN whose headers fit (IPv6 chains included). */
#define XL_PULL_MAX 512

SEC("tc")
int xlimit_tc(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct xl_pkt p;
	int parsed;

	parsed = parse_syn(data, data_end, &p);
	/* tc sees only the linear part of the skb, and a SYN may carry data
	 * (TCP Fast Open) in pages with its headers among them: make the
	 * headers linear and look again. Only frames that end inside a
	 * header pay for it. */
	if (parsed == XL_P_SHORT && skb->len > data_end - data) {
		__u32 want = skb->len < XL_PULL_MAX ? skb->len : XL_PULL_MAX;

		if (bpf_skb_pull_data(skb, want))
			return xl_tc_verdict(skb, xl_frame(XL_P_DEEP, &p));
		data = (void *)(long)skb->data;
		data_end = (void *)(long)skb->data_end;
		parsed = parse_syn(data, data_end, &p);
		/* Headers longer than we pull: out of reach, dropped. */
		if (parsed == XL_P_SHORT && skb->len > data_end - data)
			parsed = XL_P_DEEP;
	}
	return xl_tc_verdict(skb, xl_frame(parsed, &p));
}

extern void bpf_rcu_read_lock(void) __ksym;
extern void bpf_rcu_read_unlock(void) __ksym;

SEC("syscall")
int xlimit_query(struct xl_query *q)
{
	struct xl_decision d;
	__u16 port = q->port;
	__u64 now = q->now; /* read once: see the check below */
	__u8 addr[16];
	__u32 i;

	/* The verifier wants constant offsets into ctx: copy, then work. */
	__builtin_memcpy(addr, q->addr, sizeof(addr));
	q->err = 0;
	q->nlimits = 0;
	q->breached = 0;
	if (!now) { /* the verifier then knows xl_decide() reads no clock */
		q->err = -22; /* -EINVAL: the caller gave no time */
		return 0;
	}
	/* Sleepable, this program is not in the RCU read-side section the
	 * rule writer's grace period waits for (include/xlimit.h): it
	 * enters one while it reads the port's rule. */
	bpf_rcu_read_lock();
	if (xl_decide(addr, port, q->op == XL_OP_CHARGE, 0, now, &d)) {
		bpf_rcu_read_unlock();
		q->err = -2; /* -ENOENT: no rule covers the port */
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
	bpf_rcu_read_unlock();
	return 0;
}

/* One client's count of one route, for the sidecar (route.h). */
SEC("syscall")
int xlimit_route(struct xl_route_query *q)
{
	xl_route_op(q);
	return 0;
}

/*
 * Learns known clients (flood.h): called by the kernel's TCP stack for
 * the sockets of the cgroup it is attached to (`limit set --admit-known`
 * attaches it to the root of the cgroup v2 hierarchy), once per event of
 * a connection, never per packet. PASSIVE_ESTABLISHED is a connection
 * accepted by a listener, after the kernel checked the client's ACK
 * against its SYN-ACK (or SYN cookie): a forged source cannot get there.
 * Always returns 1 (the return value of a sockops program is a reply
 * only some events read).
 */
SEC("sockops")
int xlimit_sockops(struct bpf_sock_ops *ops)
{
	struct xl_config *cfg;
	struct xl_rule *r;
	__u16 port, rule_port;
	__u8 addr[16] = {};
	__u32 family, v4, w[4], lflags;

	if (ops->op != BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB)
		return 1;
	/* Every field read once, before any branch, each at its own
	 * constant offset from ctx, as the verifier wants: plain reads
	 * clang sinks into the branches through one moved pointer. */
	family = XL_READ(ops->family);
	port = XL_READ(ops->local_port); /* host order, unlike remote_port */
	v4 = XL_READ(ops->remote_ip4);
	w[0] = XL_READ(ops->remote_ip6[0]);
	w[1] = XL_READ(ops->remote_ip6[1]);
	w[2] = XL_READ(ops->remote_ip6[2]);
	w[3] = XL_READ(ops->remote_ip6[3]);
	if (family == 2 /* AF_INET */) {
		xl_v4map(addr, &v4);
	} else if (family == 10 /* AF_INET6: IPv4 clients of a dual-stack
				  * listener come v4-mapped */) {
		__builtin_memcpy(addr, w, 16);
	} else {
		return 1;
	}
	r = xl_rule_for(port, &rule_port, &lflags);
	if (!r || !(r->flags & XL_RULE_ADMIT_KNOWN))
		return 1;
	cfg = xl_config_get();
	if (xl_known_learn(addr, port, cfg ? cfg->ipv6_prefix : 0, xl_now()))
		xl_count_one(r->slot, XL_STAT_KNOWN_LEARNED);
	return 1;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
