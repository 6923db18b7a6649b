/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Builds test frames from a short description: Ethernet, VLAN tags, IPv4
 * (with options, fragments) or IPv6 (with extension headers), then TCP
 * with any flags or UDP, whole or cut short as in a tiny first fragment;
 * or an ARP request instead of IP. Lengths and
 * checksums are filled in, so the frames are also fit to inject into a
 * real stack. A zeroed description is an IPv4 SYN from 198.18.0.1 to
 * 198.19.0.1, port 0: set what differs. Fields named bad_* damage the
 * frame on purpose, for the parser tests. Header-only.
 */
#ifndef XL_TEST_PKT_H
#define XL_TEST_PKT_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <linux/types.h>

#define PKT_MAX 512 /* room for any frame built here */
#define PKT_VLAN_MAX 3
#define PKT_EXT_MAX 8

#define PKT_ETH_HLEN 14
#define PKT_ETH_P_IP 0x0800
#define PKT_ETH_P_ARP 0x0806
#define PKT_ETH_P_8021Q 0x8100
#define PKT_ETH_P_8021AD 0x88a8
#define PKT_ETH_P_IPV6 0x86dd

#define PKT_TCP_FIN 0x01
#define PKT_TCP_SYN 0x02
#define PKT_TCP_RST 0x04
#define PKT_TCP_PSH 0x08
#define PKT_TCP_ACK 0x10
#define PKT_TCP_ECE 0x40
#define PKT_TCP_CWR 0x80

#define PKT_SRC4 "198.18.0.1"
#define PKT_DST4 "198.19.0.1"
#define PKT_SRC6 "2001:2::1"
#define PKT_DST6 "2001:2::ffff"

enum pkt_l3 {
	PKT_IPV4 = 0,
	PKT_IPV6,
	PKT_ARP,
};

enum pkt_l4 {
	PKT_TCP = 0,
	PKT_UDP,
};

/* IPv6 extension headers; PKT_EXT_END (0) ends the list. */
enum pkt_ext {
	PKT_EXT_END = 0,
	PKT_EXT_HOP, /* hop-by-hop options, 8 bytes (hdrlen 0) */
	PKT_EXT_ROUTING, /* routing type 253, segments left 0, 24 bytes */
	PKT_EXT_DEST, /* destination options, 16 bytes (hdrlen 1) */
	PKT_EXT_FRAG, /* fragment header: .frag and .more_frags */
	PKT_EXT_AH, /* authentication header, 24 bytes (hdrlen 4) */
	PKT_EXT_ATOMIC, /* fragment header, offset 0 and no more (RFC 6946) */
};

struct pkt_spec {
	__u8 dmac[6], smac[6]; /* all zero: 02:00:00:00:00:02 and :01 */
	__u16 vlan[PKT_VLAN_MAX]; /* TPIDs, outermost first; 0 ends */
	enum pkt_l3 l3;
	const char *src, *dst; /* NULL: PKT_SRC4/6, PKT_DST4/6 */
	__u8 ip_optlen; /* bytes of IPv4 options (NOPs), 4k, at most 40 */
	__u16 frag; /* fragment offset in 8-byte units (IPv4, or the
		     * IPv6 fragment header) */
	bool more_frags;
	enum pkt_ext ext[PKT_EXT_MAX]; /* IPv6 extension headers, in order */
	enum pkt_l4 l4;
	__u8 l4_cut; /* keep only this many bytes of the TCP or UDP header
		      * (a tiny first fragment); 0: all, 255: none */
	bool pad; /* pad the frame to the Ethernet minimum of 60 bytes */
	__u16 sport, dport; /* sport 0: 40000 */
	__u8 tcp_flags; /* 0: SYN */
	__u32 ack_seq;
	__u8 payload; /* bytes of data after a whole TCP header (a TCP Fast
		       * Open SYN): 0xab each */
	__u8 bad_ihl; /* its low 4 bits written as the IPv4 ihl (16: 0) */
	__u8 bad_version; /* written as the IP version nibble */
	__u8 bad_ext_len; /* written as hdrlen of the first extension header */
	__u16 ip_len; /* written as the IPv4 total length or the IPv6 payload
		       * length when not 0: the frame's bytes past it trail
		       * the datagram (the kernel trims them) */
};

static inline void pkt_put16(__u8 *p, __u16 v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static inline void pkt_put32(__u8 *p, __u32 v)
{
	pkt_put16(p, v >> 16);
	pkt_put16(p + 2, v & 0xffff);
}

/* One's complement sum of a byte range, folded later by pkt_csum_fold. */
static inline __u32 pkt_csum_add(__u32 sum, const __u8 *p, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (__u32)p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += (__u32)p[len - 1] << 8;
	return sum;
}

static inline __u16 pkt_csum_fold(__u32 sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return ~sum & 0xffff;
}

/* Parses an IPv4 or IPv6 address; false if it is neither. */
static inline bool pkt_addr(const char *s, bool v6, __u8 *out)
{
	return inet_pton(v6 ? AF_INET6 : AF_INET, s, out) == 1;
}

static inline __u8 pkt_ext_proto(enum pkt_ext e)
{
	switch (e) {
	case PKT_EXT_HOP:
		return IPPROTO_HOPOPTS;
	case PKT_EXT_ROUTING:
		return IPPROTO_ROUTING;
	case PKT_EXT_DEST:
		return IPPROTO_DSTOPTS;
	case PKT_EXT_FRAG:
	case PKT_EXT_ATOMIC:
		return IPPROTO_FRAGMENT;
	case PKT_EXT_AH:
		return IPPROTO_AH;
	default:
		return IPPROTO_NONE;
	}
}

/* Writes one IPv6 extension header at p; returns its length. */
static inline size_t pkt_put_ext(__u8 *p, const struct pkt_spec *s,
				 enum pkt_ext e, __u8 next)
{
	size_t len;

	switch (e) {
	case PKT_EXT_HOP: /* PadN covering the 6 bytes of options */
		len = 8;
		memset(p, 0, len);
		p[2] = 1;
		p[3] = 4;
		break;
	case PKT_EXT_DEST: /* PadN covering the 14 bytes of options */
		len = 16;
		memset(p, 0, len);
		p[2] = 1;
		p[3] = 12;
		break;
	case PKT_EXT_ROUTING: /* experimental type, nothing left to visit */
		len = 24;
		memset(p, 0, len);
		p[2] = 253;
		p[3] = 0;
		break;
	case PKT_EXT_FRAG:
		len = 8;
		memset(p, 0, len);
		pkt_put16(p + 2, s->frag << 3 | (s->more_frags ? 1 : 0));
		pkt_put32(p + 4, 0x5a5a0001);
		break;
	case PKT_EXT_ATOMIC:
		len = 8;
		memset(p, 0, len);
		pkt_put32(p + 4, 0x5a5a0002);
		break;
	case PKT_EXT_AH: /* SPI 0x100, sequence 1, 12 bytes of ICV */
		len = 24;
		memset(p, 0, len);
		pkt_put32(p + 4, 0x100);
		pkt_put32(p + 8, 1);
		break;
	default:
		return 0;
	}
	p[0] = next;
	if (e == PKT_EXT_AH)
		p[1] = len / 4 - 2;
	else if (e != PKT_EXT_FRAG && e != PKT_EXT_ATOMIC)
		p[1] = len / 8 - 1;
	return len;
}

/*
 * Builds the frame `s` describes into buf (size bytes). Returns its length,
 * or 0 when the description is invalid or the frame would not fit.
 */
static inline size_t pkt_build(const struct pkt_spec *s, __u8 *buf, size_t size)
{
	static const __u8 dmac[6] = { 2, 0, 0, 0, 0, 2 };
	static const __u8 smac[6] = { 2, 0, 0, 0, 0, 1 };
	static const __u8 zero[6];
	const char *sa = s->src, *da = s->dst;
	bool v6 = s->l3 == PKT_IPV6;
	__u8 src[16], dst[16], *p = buf, *l3, *l4;
	size_t l3len = 0, l4len, l4full, pay, i;
	__u8 proto;
	__u32 sum;

	if (size < PKT_MAX)
		return 0;
	memset(buf, 0, PKT_MAX);
	if (!sa)
		sa = v6 ? PKT_SRC6 : PKT_SRC4;
	if (!da)
		da = v6 ? PKT_DST6 : PKT_DST4;
	if (!pkt_addr(sa, v6, src) || !pkt_addr(da, v6, dst))
		return 0;
	if (s->ip_optlen % 4 || s->ip_optlen > 40)
		return 0;

	/* Ethernet and VLAN tags */
	memcpy(p, memcmp(s->dmac, zero, 6) ? s->dmac : dmac, 6);
	memcpy(p + 6, memcmp(s->smac, zero, 6) ? s->smac : smac, 6);
	p += 12;
	for (i = 0; i < PKT_VLAN_MAX && s->vlan[i]; i++) {
		pkt_put16(p, s->vlan[i]);
		pkt_put16(p + 2, 100 + i); /* TCI: VLAN id 100, 101, ... */
		p += 4;
	}
	if (s->l3 == PKT_ARP)
		pkt_put16(p, PKT_ETH_P_ARP);
	else
		pkt_put16(p, v6 ? PKT_ETH_P_IPV6 : PKT_ETH_P_IP);
	p += 2;
	l3 = p;

	if (s->l3 == PKT_ARP) { /* who-has dst tell src */
		pkt_put16(p, 1); /* Ethernet */
		pkt_put16(p + 2, PKT_ETH_P_IP);
		p[4] = 6;
		p[5] = 4;
		pkt_put16(p + 6, 1); /* request */
		memcpy(p + 8, buf + 6, 6);
		memcpy(p + 14, src, 4);
		memcpy(p + 24, dst, 4);
		return p + 28 - buf;
	}

	/* The IP header and its options or extension headers */
	proto = s->l4 == PKT_UDP ? IPPROTO_UDP : IPPROTO_TCP;
	l4full = s->l4 == PKT_UDP ? 8 : 20;
	l4len = l4full;
	if (s->l4_cut == 255)
		l4len = 0;
	else if (s->l4_cut && s->l4_cut < l4full)
		l4len = s->l4_cut;
	pay = s->l4 == PKT_TCP && l4len == l4full ? s->payload : 0;
	if (v6) {
		p += 40;
		for (i = 0; i < PKT_EXT_MAX && s->ext[i]; i++) {
			__u8 next = proto, *e = p;

			if (i + 1 < PKT_EXT_MAX && s->ext[i + 1])
				next = pkt_ext_proto(s->ext[i + 1]);
			p += pkt_put_ext(p, s, s->ext[i], next);
			if (i == 0 && s->bad_ext_len &&
			    pkt_ext_proto(s->ext[i]) != IPPROTO_FRAGMENT)
				e[1] = s->bad_ext_len;
		}
		l3len = p - l3;
		l3[0] = (s->bad_version ? s->bad_version : 6) << 4;
		pkt_put16(l3 + 4,
			  s->ip_len ? s->ip_len : l3len - 40 + l4len + pay);
		l3[6] = s->ext[0] ? pkt_ext_proto(s->ext[0]) : proto;
		l3[7] = 64;
		memcpy(l3 + 8, src, 16);
		memcpy(l3 + 24, dst, 16);
	} else {
		l3len = 20 + s->ip_optlen;
		l3[0] = (s->bad_version ? s->bad_version : 4) << 4 |
			(s->bad_ihl ? s->bad_ihl & 0xf : l3len / 4);
		pkt_put16(l3 + 2, s->ip_len ? s->ip_len : l3len + l4len + pay);
		pkt_put16(l3 + 4, 0x1234); /* id */
		pkt_put16(l3 + 6, (s->more_frags ? 0x2000 : 0) | s->frag);
		l3[8] = 64;
		l3[9] = proto;
		memcpy(l3 + 12, src, 4);
		memcpy(l3 + 16, dst, 4);
		memset(l3 + 20, 1, s->ip_optlen); /* NOP options */
		pkt_put16(l3 + 10, pkt_csum_fold(pkt_csum_add(0, l3, l3len)));
		p += l3len;
	}

	/* TCP or UDP, with the checksum over the pseudo-header (of the
	 * whole header, when it is cut) */
	l4 = p;
	pkt_put16(l4, s->sport ? s->sport : 40000);
	pkt_put16(l4 + 2, s->dport);
	if (s->l4 == PKT_UDP) {
		pkt_put16(l4 + 4, l4full);
	} else {
		pkt_put32(l4 + 4, 0x10000001); /* seq */
		pkt_put32(l4 + 8, s->ack_seq);
		l4[12] = 5 << 4; /* data offset: no options */
		l4[13] = s->tcp_flags ? s->tcp_flags : PKT_TCP_SYN;
		pkt_put16(l4 + 14, 64240); /* window */
	}
	sum = pkt_csum_add(0, src, v6 ? 16 : 4);
	sum = pkt_csum_add(sum, dst, v6 ? 16 : 4);
	memset(l4 + l4full, 0xab, pay);
	sum += proto + l4full + pay;
	sum = pkt_csum_add(sum, l4, l4full + pay);
	sum = pkt_csum_fold(sum);
	if (s->l4 == PKT_UDP && !sum) /* 0 would mean "no checksum" */
		sum = 0xffff;
	pkt_put16(l4 + (s->l4 == PKT_UDP ? 6 : 16), sum);
	memset(l4 + l4len, 0, l4full - l4len);
	p += l4len + pay;
	if (s->pad && p - buf < 60)
		p = buf + 60; /* zeros: the buffer was cleared */
	return p - buf;
}

#endif /* XL_TEST_PKT_H */
