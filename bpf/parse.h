/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Packet parsing for the xlimit datapath: Ethernet, up to two VLAN tags,
 * IPv4 with options, IPv6 with its extension headers, TCP. Cursor style:
 * each parser checks bounds before every access, advances the cursor and
 * returns the next protocol, or -1 when the packet is not one we count.
 * Every loop has a constant bound, for the verifier.
 */
#ifndef XL_PARSE_H
#define XL_PARSE_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#ifndef ETH_P_8021AD
#define ETH_P_8021AD 0x88A8
#endif

#define XL_VLAN_MAX 2 /* 802.1Q, and 802.1ad outside it */
#define XL_IPV6_EXT_MAX 6 /* extension headers walked before giving up */

struct cursor {
	void *pos;
	void *end;
};

struct vlan_hdr {
	__be16 tci;
	__be16 encap_proto;
};

/* What the parsers learn about a packet that may be counted. */
struct xl_pkt {
	__u8 saddr[16]; /* IPv4 v4-mapped */
	__u16 dport; /* host order */
	__u8 is_v6;
};

/* Returns the EtherType after at most XL_VLAN_MAX tags, or -1. */
static __always_inline int parse_eth(struct cursor *c)
{
	struct ethhdr *eth = c->pos;
	__u16 proto;
	int i;

	if ((void *)(eth + 1) > c->end)
		return -1;
	c->pos = eth + 1;
	proto = eth->h_proto;
#pragma unroll
	for (i = 0; i < XL_VLAN_MAX; i++) {
		struct vlan_hdr *vh = c->pos;

		if (proto != bpf_htons(ETH_P_8021Q) &&
		    proto != bpf_htons(ETH_P_8021AD))
			break;
		if ((void *)(vh + 1) > c->end)
			return -1;
		proto = vh->encap_proto;
		c->pos = vh + 1;
	}
	return bpf_ntohs(proto);
}

/* Returns the IP protocol of a first (or only) fragment, or -1. */
static __always_inline int parse_ipv4(struct cursor *c, struct xl_pkt *p)
{
	struct iphdr *iph = c->pos;
	__u32 hlen;

	if ((void *)(iph + 1) > c->end)
		return -1;
	hlen = iph->ihl * 4;
	if (iph->version != 4 || hlen < sizeof(*iph))
		return -1;
	if (c->pos + hlen > c->end) /* options run past the packet */
		return -1;
	/* A non-first fragment carries no TCP header: pass it. */
	if (iph->frag_off & bpf_htons(0x1fff))
		return -1;
	__builtin_memset(p->saddr, 0, 10);
	p->saddr[10] = 0xff;
	p->saddr[11] = 0xff;
	__builtin_memcpy(&p->saddr[12], &iph->saddr, 4);
	p->is_v6 = 0;
	c->pos += hlen;
	return iph->protocol;
}

struct ipv6_ext {
	__u8 nexthdr;
	__u8 hdrlen; /* 8-octet units, not counting the first 8 */
};

struct ipv6_frag {
	__u8 nexthdr;
	__u8 reserved;
	__be16 frag_off; /* offset << 3 | flags */
	__be32 id;
};

/* Walks the IPv6 header and its extension headers. Returns the upper
 * protocol of a first (or only) fragment, or -1. */
static __always_inline int parse_ipv6(struct cursor *c, struct xl_pkt *p)
{
	struct ipv6hdr *ip6 = c->pos;
	__u8 next;
	int i;

	if ((void *)(ip6 + 1) > c->end)
		return -1;
	if (ip6->version != 6)
		return -1;
	__builtin_memcpy(p->saddr, &ip6->saddr, 16);
	p->is_v6 = 1;
	next = ip6->nexthdr;
	c->pos = ip6 + 1;
#pragma unroll
	for (i = 0; i < XL_IPV6_EXT_MAX; i++) {
		struct ipv6_ext *ext = c->pos;

		switch (next) {
		case IPPROTO_HOPOPTS:
		case IPPROTO_ROUTING:
		case IPPROTO_DSTOPTS:
			if ((void *)(ext + 1) > c->end)
				return -1;
			next = ext->nexthdr;
			c->pos += (ext->hdrlen + 1) * 8;
			break;
		case IPPROTO_FRAGMENT: {
			struct ipv6_frag *fh = c->pos;

			if ((void *)(fh + 1) > c->end)
				return -1;
			if (fh->frag_off & bpf_htons(0xfff8))
				return -1; /* non-first fragment */
			next = fh->nexthdr;
			c->pos = fh + 1;
			break;
		}
		default:
			return next;
		}
	}
	/* XXX: more than XL_IPV6_EXT_MAX extension headers pass uncounted. */
	if (next == IPPROTO_HOPOPTS || next == IPPROTO_ROUTING ||
	    next == IPPROTO_DSTOPTS || next == IPPROTO_FRAGMENT)
		return -1;
	return next;
}

/* Returns 1 for a SYN without ACK (a new connection), 0 for any other TCP
 * segment, -1 if the header is cut short. */
static __always_inline int parse_tcp_syn(struct cursor *c, struct xl_pkt *p)
{
	struct tcphdr *th = c->pos;

	if ((void *)(th + 1) > c->end)
		return -1;
	p->dport = bpf_ntohs(th->dest);
	return th->syn && !th->ack;
}

/* Parses a frame from its Ethernet header. Returns 1 when it is a SYN that
 * opens a TCP connection (and fills *p), 0 for everything else. */
static __always_inline int parse_syn(void *data, void *data_end,
				     struct xl_pkt *p)
{
	struct cursor c = { .pos = data, .end = data_end };
	int proto;

	proto = parse_eth(&c);
	if (proto == ETH_P_IP)
		proto = parse_ipv4(&c, p);
	else if (proto == ETH_P_IPV6)
		proto = parse_ipv6(&c, p);
	else
		return 0;
	if (proto != IPPROTO_TCP)
		return 0;
	return parse_tcp_syn(&c, p) == 1;
}

#endif /* XL_PARSE_H */
