/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The `reject` action: turn a SYN over the limit into the TCP RST+ACK the
 * kernel would have answered a closed port with (RFC 9293 §3.10.7.1: seq
 * 0, ack = the SYN's seq + its length), in place, so that the entry point
 * sends it back where it came from (XDP_TX, or a redirect to the ingress
 * device's egress in tc).
 *
 * The Ethernet header and its VLAN tags stay where they are, with the
 * MACs swapped. The IP header is written afresh, minimal (IPv4 without
 * options, IPv6 without extension headers): the SYN's options or
 * extension headers (a routing header, a hop-by-hop option) are not
 * echoed back, just as the kernel's own RST carries none. The TCP header
 * follows it, 20 bytes without options, and the frame is cut there.
 */
#ifndef XL_REJECT_H
#define XL_REJECT_H

#include "parse.h"

#define XL_RST_TTL 64
/* The deepest IP header parse_eth() leaves: Ethernet and two tags. */
#define XL_L3_OFF_MAX (14 + 4 * XL_VLAN_MAX)
/* The deepest TCP header parse_syn() reaches, bounded for the verifier. */
#define XL_L4_OFF_MAX 1024

/* One's complement sum of n 16-bit words (n constant), unfolded. */
static __always_inline __u32 xl_csum_words(const __u16 *w, int n)
{
	__u32 sum = 0;
	int i;

#pragma unroll
	for (i = 0; i < n; i++)
		sum += w[i];
	return sum;
}

static __always_inline __u16 xl_csum_fold(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return ~sum & 0xffff;
}

/*
 * Rewrites the SYN parse_syn() described in *p (XL_P_SYN) into its RST
 * reply. Returns the reply's length, to cut the frame to, or -1 when it
 * cannot answer (a fragment, whose length is not the segment's; lengths
 * that do not add up): the caller drops the SYN then.
 */
static __always_inline int xl_rst_build(void *data, void *data_end,
					const struct xl_pkt *p)
{
	__u32 l3 = p->l3_off, l4 = p->l4_off, iphl, hdrs, seglen, ack, sum;
	struct ethhdr *eth = data;
	struct tcphdr *th, rst;
	__u8 mac[ETH_ALEN];
	__be16 sport, dport;

	if (p->frag || l3 > XL_L3_OFF_MAX || l4 > XL_L4_OFF_MAX || l4 < l3)
		return -1;
	/* Bounds the verifier sees on the registers the pointers use. */
	barrier_var(l3);
	barrier_var(l4);
	l3 &= 0x1f;
	l4 &= XL_L4_OFF_MAX * 2 - 1;
	th = data + l4;
	if ((void *)(eth + 1) > data_end || (void *)(th + 1) > data_end)
		return -1;
	sport = th->source;
	dport = th->dest;
	hdrs = l4 - l3 + th->doff * 4; /* IP headers and the TCP header */
	if (p->is_v6) {
		struct ipv6hdr *ip6 = data + l3;

		if ((void *)(ip6 + 1) > data_end)
			return -1;
		seglen = bpf_ntohs(ip6->payload_len) + sizeof(*ip6);
	} else {
		struct iphdr *iph = data + l3;

		if ((void *)(iph + 1) > data_end)
			return -1;
		seglen = bpf_ntohs(iph->tot_len);
	}
	if (seglen < hdrs)
		return -1; /* the kernel would drop it too */
	/* The SYN and a FIN take a sequence number each, data one a byte. */
	ack = bpf_ntohl(th->seq) + 1 + th->fin + (seglen - hdrs);

	/* The headers are built on the stack, where the checksums are
	 * summed, then copied over the SYN's. */
	__builtin_memset(&rst, 0, sizeof(rst));
	rst.source = dport;
	rst.dest = sport;
	rst.ack_seq = bpf_htonl(ack);
	rst.doff = sizeof(rst) / 4;
	rst.rst = 1;
	rst.ack = 1;
	sum = bpf_htons(IPPROTO_TCP) + bpf_htons(sizeof(rst)) +
	      xl_csum_words((__u16 *)&rst, sizeof(rst) / 2);

	if (p->is_v6) {
		struct ipv6hdr *ip6 = data + l3, h6;

		if ((void *)ip6 + sizeof(h6) + sizeof(rst) > data_end)
			return -1;
		__builtin_memset(&h6, 0, sizeof(h6));
		h6.version = 6;
		h6.payload_len = bpf_htons(sizeof(rst));
		h6.nexthdr = IPPROTO_TCP;
		h6.hop_limit = XL_RST_TTL;
		h6.saddr = ip6->daddr;
		h6.daddr = ip6->saddr;
		sum += xl_csum_words((__u16 *)&h6.saddr, 16);
		rst.check = xl_csum_fold(sum);
		__builtin_memcpy(ip6, &h6, sizeof(h6));
		__builtin_memcpy((void *)ip6 + sizeof(h6), &rst, sizeof(rst));
		iphl = sizeof(h6);
	} else {
		struct iphdr *iph = data + l3, h4;

		if ((void *)iph + sizeof(h4) + sizeof(rst) > data_end)
			return -1;
		__builtin_memset(&h4, 0, sizeof(h4));
		h4.version = 4;
		h4.ihl = sizeof(h4) / 4;
		h4.tot_len = bpf_htons(sizeof(h4) + sizeof(rst));
		h4.frag_off = bpf_htons(0x4000); /* DF */
		h4.ttl = XL_RST_TTL;
		h4.protocol = IPPROTO_TCP;
		h4.saddr = iph->daddr;
		h4.daddr = iph->saddr;
		h4.check = xl_csum_fold(
			xl_csum_words((__u16 *)&h4, sizeof(h4) / 2));
		sum += xl_csum_words((__u16 *)&h4.saddr, 4);
		rst.check = xl_csum_fold(sum);
		/* may overlap the SYN's TCP header (no IP options):
		 * everything needed from it was read above */
		__builtin_memcpy(iph, &h4, sizeof(h4));
		__builtin_memcpy((void *)iph + sizeof(h4), &rst, sizeof(rst));
		iphl = sizeof(h4);
	}
	__builtin_memcpy(mac, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, mac, ETH_ALEN);
	return l3 + iphl + sizeof(rst);
}

#endif /* XL_REJECT_H */
