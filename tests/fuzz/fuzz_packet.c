/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * libFuzzer target: the datapath's packet parser (bpf/parse.h) compiled as
 * user code, fed arbitrary frames. ASan sees any read outside the frame
 * (libFuzzer hands each input in a buffer of exactly its size).
 *
 * Each frame is also read by a reference model of the Linux receive path,
 * written apart from the parser and more permissive than the kernel (no
 * checksums, any header anywhere in the chain, VLAN tags and extension
 * headers up to bounds far past the parser's): what could the kernel make
 * of this frame? Its answer is one of
 *   SYN   the kernel could deliver a TCP segment with SYN and without ACK
 *         from it (alone, or as the first fragment of a datagram);
 *   TINY  a first fragment (offset 0, more to come) whose TCP header is
 *         not whole in it, or, for IPv6, whose header chain goes on past
 *         it: the kernel could reassemble a SYN nobody saw;
 *   DEEP  more VLAN tags or IPv6 extension headers than the parser walks;
 *   NONE  anything else.
 * The model honours the IP lengths as the kernel does: a frame shorter
 * than the IPv4 total length or the IPv6 payload length is dropped, a
 * longer one trimmed to it (the bytes past it are not the datagram's).
 *
 * The property is NO BYPASS: a frame the kernel could turn into a new
 * connection is counted or dropped, never passed uncounted:
 *   SYN  -> parse_syn() says XL_P_SYN, with the model's port, address and
 *           family (xl_frame() charges it);
 *   TINY -> XL_P_TINY (dropped on a ruled port, always without a port: if
 *           the parser read a port it is the model's) or XL_P_DEEP;
 *   DEEP -> XL_P_DEEP, or XL_P_TINY without a port (both always dropped).
 * And the other way: a frame parse_syn() counts holds, by the same model
 * with the IP lengths ignored (the frame's end taken as the datagram's), a
 * whole SYN without ACK at the port and address reported. Counting a frame
 * whose IP length leaves no whole TCP header (the kernel drops it) only
 * charges its source what a real SYN from it would.
 *
 * What the parser is documented to pass (README, "Limitations"): IPv4 AH,
 * which the model walks and then exempts; ESP, whose payload the model
 * cannot read either (only a peer holding an IPsec SA gets a SYN through).
 *
 * The frame is copied 2 bytes past an aligned address, as drivers place
 * it (NET_IP_ALIGN), so that the IP header is 4-byte aligned and UBSan's
 * alignment check stays meaningful; the copy ends where its allocation
 * does, so ASan still sees every read past the end.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"

#define REF_VLAN_BOUND 32 /* far more than any parser walks: bounds, */
#define REF_EXT_BOUND 128 /* not rules: past them the model says DEEP */

/* The parser's documented depth (README, "Security"): two VLAN tags, six
 * IPv6 extension headers. */
#define REF_VLAN_DEPTH 2
#define REF_EXT_DEPTH 6
_Static_assert(REF_VLAN_DEPTH == XL_VLAN_MAX, "README: two VLAN tags");
_Static_assert(REF_EXT_DEPTH == XL_IPV6_EXT_MAX, "README: six IPv6 headers");

#define check(cond, what)                                           \
	do {                                                        \
		if (!(cond)) {                                      \
			fprintf(stderr, "fuzz_packet: %s\n", what); \
			abort();                                    \
		}                                                   \
	} while (0)

enum ref_class { REF_NONE, REF_SYN, REF_TINY, REF_DEEP };

struct ref {
	enum ref_class cls;
	unsigned int tags; /* VLAN tags walked */
	unsigned int exts; /* IPv6 extension headers walked */
	int ah4; /* reached through IPv4 AH: documented to pass */
	int v6;
	int has_port; /* TINY: the fragment holds the destination port */
	unsigned int dport;
	uint8_t saddr[16]; /* IPv4 v4-mapped */
};

static unsigned int get16(const uint8_t *p)
{
	return p[0] << 8 | p[1];
}

static int is_vlan(unsigned int proto)
{
	return proto == 0x8100 || proto == 0x88a8;
}

/* IPv6 headers the kernel walks to reach TCP: hop-by-hop, routing,
 * fragment, AH, destination options. */
static int is_ext6(unsigned int next)
{
	return next == 0 || next == 43 || next == 44 || next == 51 ||
	       next == 60;
}

/* The TCP header at pos, the datagram (or this fragment of it) ending at
 * end: a SYN, a tiny first fragment, or nothing the kernel delivers. */
static void ref_tcp(const uint8_t *d, size_t pos, size_t end, int first,
		    struct ref *r)
{
	size_t have = end > pos ? end - pos : 0;

	if (have >= 4)
		r->dport = get16(d + pos + 2);
	if (have < 20) { /* TCP drops a segment without a whole header */
		r->has_port = have >= 4;
		r->cls = first ? REF_TINY : REF_NONE;
		return;
	}
	if ((d[pos + 13] & 0x12) == 0x02) /* SYN without ACK */
		r->cls = REF_SYN;
}

/* IPv4 at off. The kernel drops a frame shorter than the total length or
 * a total length shorter than the header, trims the rest; a non-first
 * fragment carries no TCP header. */
static void ref_ipv4(const uint8_t *d, size_t n, size_t off, int lax,
		     struct ref *r)
{
	size_t hlen, tot, end, pos;
	unsigned int frag, proto, i;
	int first;

	if (n < off + 20 || d[off] >> 4 != 4)
		return;
	hlen = (d[off] & 15) * 4;
	tot = get16(d + off + 2);
	if (hlen < 20 || n < off + hlen)
		return;
	end = n;
	if (!lax) {
		if (tot < hlen || n < off + tot)
			return;
		end = off + tot;
	}
	frag = get16(d + off + 6);
	if (frag & 0x1fff)
		return;
	first = !!(frag & 0x2000);
	memset(r->saddr, 0, 10);
	r->saddr[10] = r->saddr[11] = 0xff;
	memcpy(r->saddr + 12, d + off + 12, 4);
	r->v6 = 0;
	proto = d[off + 9];
	pos = off + hlen;
	/* AH (RFC 4302): the model walks it, the parser does not (README,
	 * "Limitations": IPv4 AH passes uncounted). */
	for (i = 0; proto == 51 && i < REF_EXT_BOUND; i++) {
		r->ah4 = 1;
		if (end < pos + 2) {
			r->cls = first ? REF_TINY : REF_NONE;
			return;
		}
		proto = d[pos];
		pos += (d[pos + 1] + 2) * 4;
	}
	if (proto == 51)
		r->cls = REF_DEEP;
	else if (proto == 6)
		ref_tcp(d, pos, end, first, r);
}

/* IPv6 at off. The kernel drops a frame shorter than the payload length
 * and trims the rest (a payload length of 0 before hop-by-hop options is
 * a jumbogram: the model takes the whole frame, and the kernel drops a
 * jumbogram's fragments). Before a fragment header, or in a datagram that
 * is not fragmented, each header must be whole in the datagram; in a first
 * fragment, a header that starts past its end is TINY (the chain goes on
 * in the next fragment). */
static void ref_ipv6(const uint8_t *d, size_t n, size_t off, int lax,
		     struct ref *r)
{
	size_t plen, end, pos, hlen, need;
	unsigned int next;
	int first = 0;

	if (n < off + 40 || d[off] >> 4 != 6)
		return;
	plen = get16(d + off + 4);
	next = d[off + 6];
	end = n;
	if (!lax && (plen || next != 0)) {
		if (n < off + 40 + plen)
			return;
		end = off + 40 + plen;
	}
	memcpy(r->saddr, d + off + 8, 16);
	r->v6 = 1;
	pos = off + 40;
	while (is_ext6(next)) {
		if (r->exts == REF_EXT_BOUND) {
			r->cls = REF_DEEP;
			return;
		}
		need = next == 44 ? 8 : 2;
		if (end < pos + need) {
			r->cls = first ? REF_TINY : REF_NONE;
			return;
		}
		if (next == 44) {
			unsigned int fo = get16(d + pos + 2);

			r->exts++;
			if (fo & 0xfff8)
				return; /* a non-first fragment */
			if ((fo & 1) && !plen && !lax)
				return; /* a jumbogram's fragment */
			first |= fo & 1;
			hlen = 8;
		} else if (next == 51) {
			hlen = (d[pos + 1] + 2) * 4; /* 4-octet units, less 2 */
			r->exts++;
		} else {
			hlen = (d[pos + 1] + 1) * 8;
			r->exts++;
		}
		/* Unfragmented headers are whole, or the kernel drops them;
		 * one past a first fragment's end gets its end after
		 * reassembly, from the next fragment. */
		if (!first && end < pos + hlen)
			return;
		next = d[pos];
		pos += hlen;
	}
	/* ESP (50) ends the walk: its payload is encrypted (README,
	 * "Security": it passes uncounted). */
	if (next == 6)
		ref_tcp(d, pos, end, first, r);
}

/* The model: lax takes the frame's end as the datagram's, ignoring the IP
 * lengths. */
static void ref_walk(const uint8_t *d, size_t n, int lax, struct ref *r)
{
	size_t off = 14;
	unsigned int proto;

	memset(r, 0, sizeof(*r));
	if (n < 14)
		return;
	proto = get16(d + 12);
	while (is_vlan(proto)) {
		if (r->tags == REF_VLAN_BOUND) {
			r->cls = REF_DEEP;
			return;
		}
		if (n < off + 4)
			return;
		proto = get16(d + off + 2);
		off += 4;
		r->tags++;
	}
	if (proto == 0x0800)
		ref_ipv4(d, n, off, lax, r);
	else if (proto == 0x86dd)
		ref_ipv6(d, n, off, lax, r);
}

static int too_deep(const struct ref *r)
{
	return r->cls == REF_DEEP || r->tags > REF_VLAN_DEPTH ||
	       r->exts > REF_EXT_DEPTH;
}

/* The no-bypass property, for the frame d (n bytes) that parse_syn()
 * called ret and described in *p. */
static void check_no_bypass(const uint8_t *d, size_t n, int ret,
			    const struct xl_pkt *p)
{
	struct ref r;

	ref_walk(d, n, 0, &r);
	if (too_deep(&r)) {
		/* Documented: dropped whatever it carries. */
		check(ret == XL_P_DEEP || (ret == XL_P_TINY && !p->has_port),
		      "passed a frame deeper than the parser walks");
		return;
	}
	if (r.ah4)
		return; /* documented: IPv4 AH passes uncounted */
	switch (r.cls) {
	case REF_SYN:
		check(ret == XL_P_SYN, "passed a SYN uncounted");
		check(p->dport == r.dport, "counted a SYN at the wrong port");
		check(p->is_v6 == r.v6, "counted a SYN in the wrong family");
		check(!memcmp(p->saddr, r.saddr, 16),
		      "counted a SYN from the wrong source");
		break;
	case REF_TINY:
		check(ret == XL_P_DEEP || ret == XL_P_TINY,
		      "passed a tiny first fragment");
		check(ret != XL_P_TINY || !p->has_port ||
			      (r.has_port && p->dport == r.dport),
		      "judged a tiny first fragment by the wrong port");
		break;
	default:
		break; /* dropping or counting more is no bypass */
	}
}

/* What parse_syn() counts is a SYN, lengths aside. */
static void check_counted(const uint8_t *d, size_t n, const struct xl_pkt *p)
{
	struct ref r;

	ref_walk(d, n, 1, &r);
	check(r.cls == REF_SYN && !r.ah4,
	      "counted a frame without a whole SYN in it");
	check(p->dport == r.dport, "wrong destination port");
	check(p->is_v6 == r.v6, "wrong address family");
	check(!memcmp(p->saddr, r.saddr, 16), "wrong source address");
}

#define IP_ALIGN 2

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size)
{
	uint8_t *buf = malloc(IP_ALIGN + size), *data;
	struct xl_pkt p;
	int ret;

	if (!buf)
		abort();
	data = buf + IP_ALIGN;
	memcpy(data, in, size);
	memset(&p, 0, sizeof(p));
	ret = parse_syn(data, data + size, &p);
	check(ret == XL_P_SYN || ret == XL_P_OTHER || ret == XL_P_SHORT ||
		      ret == XL_P_TINY || ret == XL_P_DEEP,
	      "unknown verdict");
	if (ret == XL_P_SYN)
		check_counted(data, size, &p);
	check_no_bypass(data, size, ret, &p);
	free(buf);
	return 0;
}
