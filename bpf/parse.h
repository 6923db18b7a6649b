/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Packet parsing for the xlimit datapath: Ethernet, up to two VLAN tags,
 * IPv4 with options, IPv6 with its extension headers, TCP. Cursor style:
 * each parser checks bounds before every access, advances the cursor and
 * returns the next protocol, or a negative enum xl_parse when it stops.
 * Every loop has a constant bound, for the verifier.
 *
 * What the parser cannot see must not open a connection uncounted, so
 * besides "a SYN" and "something else" it reports the frames the kernel
 * could still turn into a new connection without a counted SYN: first
 * fragments too short to hold a TCP header (RFC 1858's tiny fragments:
 * the kernel reassembles the SYN from the pieces), and headers nested
 * deeper than the parser walks (a third VLAN tag, a long IPv6 chain).
 * The entry points drop those. Non-first fragments pass: since Linux 4.19
 * (IPv4) and RFC 5722 (IPv6) the kernel discards a datagram whose
 * fragments overlap, so a later fragment cannot rewrite the TCP flags of
 * a first fragment that held a whole TCP header.
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

#include "xl_key.h" /* xl_v4map() */

#ifndef ETH_P_8021AD
#define ETH_P_8021AD 0x88A8
#endif

#define XL_VLAN_MAX 2 /* 802.1Q, and 802.1ad outside it */
#define XL_IPV6_EXT_MAX 6 /* extension headers walked before giving up */
#define XL_TCP_MIN 20 /* a TCP header without options */

/* How parsing ended, when it did not end in an upper protocol. */
enum xl_parse {
	XL_P_OTHER = 0, /* not a new connection: pass */
	XL_P_SYN = 1, /* a SYN without ACK: the struct xl_pkt is filled */
	XL_P_SHORT = -1, /* the frame ended inside a header we needed */
	XL_P_TINY = -2, /* a TCP first fragment without a whole TCP header */
	XL_P_DEEP = -3, /* more VLAN tags or IPv6 headers than we walk */
};

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
	__u8 has_port; /* XL_P_TINY: dport could be read */
	__u8 frag; /* a first fragment, more to come (no RST: reject.h) */
	__u32 l4_len; /* first fragments: upper-layer bytes in this one */
	__u16 l3_off; /* XL_P_SYN: offsets of the IP and TCP headers */
	__u16 l4_off;
};

/* Returns the EtherType after at most XL_VLAN_MAX tags, or an xl_parse.
 * Linux strips any number of priority (VLAN 0) tags, even without 802.1Q
 * support, so a frame with more tags than we walk is XL_P_DEEP. */
static __always_inline int parse_eth(struct cursor *c)
{
	struct ethhdr *eth = c->pos;
	__u16 proto;
	int i;

	if ((void *)(eth + 1) > c->end)
		return XL_P_SHORT;
	c->pos = eth + 1;
	proto = eth->h_proto;
#pragma unroll
	for (i = 0; i < XL_VLAN_MAX; i++) {
		struct vlan_hdr *vh = c->pos;

		if (proto != bpf_htons(ETH_P_8021Q) &&
		    proto != bpf_htons(ETH_P_8021AD))
			return bpf_ntohs(proto);
		if ((void *)(vh + 1) > c->end)
			return XL_P_SHORT;
		proto = vh->encap_proto;
		c->pos = vh + 1;
	}
	if (proto == bpf_htons(ETH_P_8021Q) || proto == bpf_htons(ETH_P_8021AD))
		return XL_P_DEEP;
	return bpf_ntohs(proto);
}

#define XL_IP_MF 0x2000
#define XL_IP_OFFSET 0x1fff

/* Added to the upper protocol the IP parsers return for a first fragment
 * with more to come, whose p->l4_len they set: an unfragmented segment
 * then carries no length to the TCP parser, nor reads one back. */
#define XL_FIRST_FRAG 0x100

/* Returns the IP protocol of a first (or only) fragment, or an xl_parse.
 * For a first fragment with more to come, the protocol | XL_FIRST_FRAG,
 * and p->l4_len is what it holds of the upper header, from the header's
 * length (not the frame's: a short frame is padded to 60 bytes on the
 * wire). */
static __always_inline int parse_ipv4(struct cursor *c, struct xl_pkt *p)
{
	struct iphdr *iph = c->pos;
	__u32 hlen, tot;
	__u16 frag;

	if ((void *)(iph + 1) > c->end)
		return XL_P_SHORT;
	hlen = iph->ihl * 4;
	if (iph->version != 4 || hlen < sizeof(*iph))
		return XL_P_OTHER;
	if (c->pos + hlen > c->end) /* options run past the packet */
		return XL_P_SHORT;
	frag = bpf_ntohs(iph->frag_off);
	/* A non-first fragment carries no TCP header: pass it. */
	if (frag & XL_IP_OFFSET)
		return XL_P_OTHER;
	tot = bpf_ntohs(iph->tot_len);
	p->is_v6 = 0;
	c->pos += hlen;
	if ((frag & XL_IP_MF) && tot >= hlen) {
		p->l4_len = tot - hlen;
		return iph->protocol | XL_FIRST_FRAG;
	}
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

#define XL_IP6_OFFSET 0xfff8
#define XL_IP6_MF 0x0001

static __always_inline int ipv6_is_ext(__u8 next)
{
	return next == IPPROTO_HOPOPTS || next == IPPROTO_ROUTING ||
	       next == IPPROTO_DSTOPTS || next == IPPROTO_FRAGMENT ||
	       next == IPPROTO_AH;
}

/* Walks the IPv6 header and its extension headers (AH included: the
 * kernel hands what follows it to TCP). Returns the upper protocol of a
 * first (or only) fragment, or an xl_parse. For a first fragment with
 * more to come, the protocol | XL_FIRST_FRAG, and p->l4_len is what it
 * holds past the header chain. ESP
 * ends the walk: what it carries is encrypted, and only a peer that holds
 * an IPsec SA can get a SYN through it. */
static __always_inline int parse_ipv6(struct cursor *c, struct xl_pkt *p)
{
	struct ipv6hdr *ip6 = c->pos;
	__u32 left; /* payload bytes not walked yet */
	__u8 next;
	int first = 0, i;

	if ((void *)(ip6 + 1) > c->end)
		return XL_P_SHORT;
	if (ip6->version != 6)
		return XL_P_OTHER;
	p->is_v6 = 1;
	left = bpf_ntohs(ip6->payload_len);
	next = ip6->nexthdr;
	c->pos = ip6 + 1;
#pragma unroll
	for (i = 0; i < XL_IPV6_EXT_MAX; i++) {
		struct ipv6_ext *ext = c->pos;
		__u32 len, need = next == IPPROTO_FRAGMENT ?
					  sizeof(struct ipv6_frag) :
					  sizeof(*ext);

		/* A first fragment whose chain goes on past its payload
		 * hides its upper header (RFC 7112 says drop it): the next
		 * fragment holds the rest of the chain, whatever bytes
		 * trail this frame (the kernel trims them). */
		if (first && ipv6_is_ext(next) && left < need)
			return XL_P_TINY;
		switch (next) {
		case IPPROTO_HOPOPTS:
		case IPPROTO_ROUTING:
		case IPPROTO_DSTOPTS:
		case IPPROTO_AH:
			if ((void *)(ext + 1) > c->end)
				return XL_P_SHORT;
			/* AH counts 4-octet units, less 2 */
			if (next == IPPROTO_AH)
				len = (ext->hdrlen + 2) * 4;
			else
				len = (ext->hdrlen + 1) * 8;
			next = ext->nexthdr;
			c->pos += len;
			left = left > len ? left - len : 0;
			break;
		case IPPROTO_FRAGMENT: {
			struct ipv6_frag *fh = c->pos;
			__u16 off;

			if ((void *)(fh + 1) > c->end)
				return XL_P_SHORT;
			off = bpf_ntohs(fh->frag_off);
			if (off & XL_IP6_OFFSET)
				return XL_P_OTHER; /* non-first fragment */
			/* past an atomic fragment header (RFC 6946) inside
			 * it, a first fragment is still one */
			first |= off & XL_IP6_MF;
			next = fh->nexthdr;
			c->pos = fh + 1;
			left = left > sizeof(*fh) ? left - sizeof(*fh) : 0;
			break;
		}
		default:
			goto done;
		}
	}
	/* Too many headers to know what they carry: the kernel walks them
	 * all, so this may be a SYN. */
	if (ipv6_is_ext(next))
		return XL_P_DEEP;
done:
	if (!first)
		return next;
	p->l4_len = left;
	return next | XL_FIRST_FRAG;
}

/* Returns 1 for a SYN without ACK (a new connection), 0 for any other TCP
 * segment, or an xl_parse. A first fragment (`frag`) that holds less than
 * a whole TCP header is XL_P_TINY, with the port when it holds that much. */
static __always_inline int parse_tcp_syn(struct cursor *c, struct xl_pkt *p,
					 int frag)
{
	struct tcphdr *th = c->pos;

	if (frag && p->l4_len < XL_TCP_MIN) {
		if (p->l4_len >= 4 && c->pos + 4 <= c->end) {
			p->dport = bpf_ntohs(th->dest);
			p->has_port = 1;
		}
		return XL_P_TINY;
	}
	if ((void *)(th + 1) > c->end)
		return XL_P_SHORT;
	p->dport = bpf_ntohs(th->dest);
	return th->syn && !th->ack;
}

/* The source address of the IP header at l3 (parse_ipv4() or
 * parse_ipv6() walked it), into p->saddr: read only for the frames that
 * need it, SYNs and tiny first fragments, not for every segment. */
static __always_inline int parse_saddr(void *l3, void *end, struct xl_pkt *p)
{
	struct ipv6hdr *ip6 = l3;
	struct iphdr *iph = l3;
	__u32 v4;

	if (p->is_v6) {
		if ((void *)(ip6 + 1) > end)
			return XL_P_SHORT;
		__builtin_memcpy(p->saddr, &ip6->saddr, 16);
		return 0;
	}
	if ((void *)(iph + 1) > end)
		return XL_P_SHORT;
	v4 = iph->saddr; /* one 32-bit load, not four of a byte */
	xl_v4map(p->saddr, &v4);
	return 0;
}

/* Parses a frame from its Ethernet header. Returns XL_P_SYN when it is a
 * SYN that opens a TCP connection (and fills *p), XL_P_TINY or XL_P_DEEP
 * for a frame to drop, XL_P_SHORT when the frame ends too early (tc may
 * pull more of the skb and ask again), XL_P_OTHER for everything else. */
static __always_inline int parse_syn(void *data, void *data_end,
				     struct xl_pkt *p)
{
	struct cursor c = { .pos = data, .end = data_end };
	void *l3;
	int proto;

	p->has_port = 0;
	p->frag = 0;
	p->l4_len = 0;
	/* Defined on every path (parse_saddr() fills the address for the
	 * frames that need it; a tiny fragment may have no port), so that
	 * the compiler spills no undefined value, which the verifier
	 * refuses. */
	__builtin_memset(p->saddr, 0, sizeof(p->saddr));
	p->dport = 0;
	proto = parse_eth(&c);
	l3 = c.pos;
	p->l3_off = c.pos - data;
	if (proto == ETH_P_IP)
		proto = parse_ipv4(&c, p);
	else if (proto == ETH_P_IPV6)
		proto = parse_ipv6(&c, p);
	else if (proto >= 0)
		return XL_P_OTHER;
	if (proto == XL_P_TINY)
		return parse_saddr(l3, data_end, p) ?: XL_P_TINY;
	if (proto < 0)
		return proto;
	p->frag = proto == (IPPROTO_TCP | XL_FIRST_FRAG);
	if (proto != IPPROTO_TCP && !p->frag)
		return XL_P_OTHER;
	p->l4_off = c.pos - data;
	proto = parse_tcp_syn(&c, p, p->frag);
	if (proto == XL_P_TINY)
		return parse_saddr(l3, data_end, p) ?: XL_P_TINY;
	if (proto <= 0)
		return proto; /* XL_P_OTHER (0) or another xl_parse */
	return parse_saddr(l3, data_end, p) ?: XL_P_SYN;
}

#endif /* XL_PARSE_H */
