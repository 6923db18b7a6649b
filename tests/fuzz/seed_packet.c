/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Writes the seed corpus of fuzz_packet: frames from tests/lib/pkt.h
 * covering each path of the parser (IPv4 with options and fragments,
 * IPv6 with extension header chains, VLAN tags, TCP flags, UDP, ARP,
 * damaged headers), each whole and cut short inside its last header; and
 * each class of fuzz_packet's model: SYNs, tiny first fragments and the
 * fragments completing them, IPv6 chains split between fragments, frames
 * deeper than the parser walks, AH in IPv4 and IPv6.
 * Usage: seed_packet DIR (make fuzz-seeds). The output is committed in
 * tests/fuzz/corpus/packet/.
 */
#include "pkt.h"

#include <stdio.h>
#include <stdlib.h>

static const char *dir;

static void put(const char *name, const __u8 *f, size_t len)
{
	char path[512];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fp = fopen(path, "wb");
	if (!fp || fwrite(f, 1, len, fp) != len || fclose(fp)) {
		perror(path);
		exit(1);
	}
}

static size_t build(const char *name, const struct pkt_spec *s, __u8 *f)
{
	size_t len = pkt_build(s, f, PKT_MAX);

	if (!len) {
		fprintf(stderr, "seed_packet: cannot build %s\n", name);
		exit(1);
	}
	return len;
}

/* Sets the IP length of the frame f (len bytes, IP header at l3) to what
 * follows the IP header, and the IPv4 header checksum. */
static void fix_ip_len(__u8 *f, size_t len, size_t l3)
{
	size_t hlen = (f[l3] & 15) * 4;

	if (f[l3] >> 4 == 6) {
		pkt_put16(f + l3 + 4, len - l3 - 40);
		return;
	}
	pkt_put16(f + l3 + 2, len - l3);
	pkt_put16(f + l3 + 10, 0);
	pkt_put16(f + l3 + 10, pkt_csum_fold(pkt_csum_add(0, f + l3, hlen)));
}

/* A later fragment: the datagram s describes (built with the fragment's
 * offset) without the n bytes at off that an earlier fragment held. */
static void seed_later(const char *name, struct pkt_spec s, size_t off,
		       size_t n)
{
	__u8 f[PKT_MAX];
	size_t len = build(name, &s, f);

	memmove(f + off, f + off + n, len - off - n);
	fix_ip_len(f, len - n, PKT_ETH_HLEN);
	put(name, f, len - n);
}

/* An IPv4 SYN behind an authentication header (24 bytes, next TCP). */
static void seed_ah4(const char *name, struct pkt_spec s)
{
	__u8 f[PKT_MAX];
	size_t len = build(name, &s, f), l3 = PKT_ETH_HLEN, ah = l3 + 20;

	memmove(f + ah + 24, f + ah, len - ah);
	memset(f + ah, 0, 24);
	f[ah] = IPPROTO_TCP;
	f[ah + 1] = 24 / 4 - 2;
	pkt_put32(f + ah + 4, 0x100); /* SPI */
	pkt_put32(f + ah + 8, 1); /* sequence */
	f[l3 + 9] = IPPROTO_AH;
	fix_ip_len(f, len + 24, l3);
	put(name, f, len + 24);
}

static void seed(const char *name, struct pkt_spec s)
{
	__u8 f[PKT_MAX];
	char cut[256];
	size_t len = build(name, &s, f);

	put(name, f, len);
	if (s.l3 != PKT_ARP && len > 10) { /* cut inside the last header */
		snprintf(cut, sizeof(cut), "%s-cut", name);
		put(cut, f, len - 10);
	}
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: seed_packet DIR\n");
		return 2;
	}
	dir = argv[1];
	seed("v4-syn", (struct pkt_spec){ .dport = 80 });
	seed("v4-synack",
	     (struct pkt_spec){ .dport = 80,
				.tcp_flags = PKT_TCP_SYN | PKT_TCP_ACK });
	seed("v4-ack",
	     (struct pkt_spec){ .dport = 80, .tcp_flags = PKT_TCP_ACK });
	seed("v4-syn-ecn",
	     (struct pkt_spec){ .dport = 443,
				.tcp_flags = PKT_TCP_SYN | PKT_TCP_ECE |
					     PKT_TCP_CWR });
	seed("v4-rst",
	     (struct pkt_spec){ .dport = 80, .tcp_flags = PKT_TCP_RST });
	seed("v4-udp", (struct pkt_spec){ .dport = 53, .l4 = PKT_UDP });
	seed("v4-opts", (struct pkt_spec){ .dport = 22, .ip_optlen = 40 });
	seed("v4-frag-first",
	     (struct pkt_spec){ .dport = 80, .more_frags = true });
	seed("v4-frag-later", (struct pkt_spec){ .dport = 80, .frag = 1 });
	seed("v4-bad-ihl", (struct pkt_spec){ .dport = 80, .bad_ihl = 4 });
	seed("v4-bad-version",
	     (struct pkt_spec){ .dport = 80, .bad_version = 6 });
	seed("v4-vlan",
	     (struct pkt_spec){ .dport = 80, .vlan = { PKT_ETH_P_8021Q } });
	seed("v4-qinq", (struct pkt_spec){ .dport = 80,
					   .vlan = { PKT_ETH_P_8021AD,
						     PKT_ETH_P_8021Q } });
	seed("v4-vlan3",
	     (struct pkt_spec){ .dport = 80,
				.vlan = { PKT_ETH_P_8021AD, PKT_ETH_P_8021Q,
					  PKT_ETH_P_8021Q } });
	seed("arp", (struct pkt_spec){ .l3 = PKT_ARP });
	seed("v6-syn", (struct pkt_spec){ .l3 = PKT_IPV6, .dport = 80 });
	seed("v6-synack",
	     (struct pkt_spec){ .l3 = PKT_IPV6,
				.dport = 80,
				.tcp_flags = PKT_TCP_SYN | PKT_TCP_ACK });
	seed("v6-udp", (struct pkt_spec){ .l3 = PKT_IPV6, .l4 = PKT_UDP });
	seed("v6-bad-version",
	     (struct pkt_spec){ .l3 = PKT_IPV6, .bad_version = 4 });
	seed("v6-hop", (struct pkt_spec){ .l3 = PKT_IPV6,
					  .dport = 80,
					  .ext = { PKT_EXT_HOP } });
	seed("v6-chain3",
	     (struct pkt_spec){
		     .l3 = PKT_IPV6,
		     .dport = 80,
		     .ext = { PKT_EXT_HOP, PKT_EXT_ROUTING, PKT_EXT_DEST } });
	seed("v6-chain6",
	     (struct pkt_spec){ .l3 = PKT_IPV6,
				.dport = 80,
				.ext = { PKT_EXT_HOP, PKT_EXT_DEST,
					 PKT_EXT_ROUTING, PKT_EXT_DEST,
					 PKT_EXT_DEST, PKT_EXT_DEST } });
	seed("v6-chain8",
	     (struct pkt_spec){ .l3 = PKT_IPV6,
				.dport = 80,
				.ext = { PKT_EXT_HOP, PKT_EXT_DEST,
					 PKT_EXT_DEST, PKT_EXT_DEST,
					 PKT_EXT_DEST, PKT_EXT_DEST,
					 PKT_EXT_DEST, PKT_EXT_DEST } });
	seed("v6-frag-first", (struct pkt_spec){ .l3 = PKT_IPV6,
						 .dport = 80,
						 .more_frags = true,
						 .ext = { PKT_EXT_FRAG } });
	seed("v6-frag-later", (struct pkt_spec){ .l3 = PKT_IPV6,
						 .dport = 80,
						 .frag = 2,
						 .ext = { PKT_EXT_FRAG } });
	seed("v6-bad-ext-len", (struct pkt_spec){ .l3 = PKT_IPV6,
						  .dport = 80,
						  .ext = { PKT_EXT_DEST },
						  .bad_ext_len = 200 });
	seed("v6-vlan", (struct pkt_spec){ .l3 = PKT_IPV6,
					   .dport = 80,
					   .vlan = { PKT_ETH_P_8021Q } });
	seed("v6-vlan3",
	     (struct pkt_spec){ .l3 = PKT_IPV6,
				.dport = 80,
				.vlan = { PKT_ETH_P_8021Q, PKT_ETH_P_8021Q,
					  PKT_ETH_P_8021Q } });

	/* Tiny first fragments (RFC 1858) and the fragments that complete
	 * them: 8 and 16 bytes of TCP, then the rest. */
	seed("v4-tiny8",
	     (struct pkt_spec){ .dport = 80, .more_frags = true, .l4_cut = 8 });
	seed_later("v4-tiny8-rest", (struct pkt_spec){ .dport = 80, .frag = 1 },
		   PKT_ETH_HLEN + 20, 8);
	seed("v4-tiny16", (struct pkt_spec){ .dport = 80,
					     .more_frags = true,
					     .l4_cut = 16,
					     .pad = true });
	seed_later("v4-tiny16-rest",
		   (struct pkt_spec){ .dport = 80, .frag = 2 },
		   PKT_ETH_HLEN + 20, 16);
	seed("v4-tiny-noport", (struct pkt_spec){ .dport = 80,
						  .more_frags = true,
						  .l4_cut = 2,
						  .pad = true });
	/* An IPv4 length shorter than the frame: trailing bytes. */
	seed("v4-trailing", (struct pkt_spec){ .dport = 80,
					       .more_frags = true,
					       .ip_len = 20 + 8 });
	seed("v6-tiny8", (struct pkt_spec){ .l3 = PKT_IPV6,
					    .dport = 80,
					    .ext = { PKT_EXT_FRAG },
					    .more_frags = true,
					    .l4_cut = 8 });
	seed_later("v6-tiny8-rest",
		   (struct pkt_spec){ .l3 = PKT_IPV6,
				      .dport = 80,
				      .ext = { PKT_EXT_FRAG },
				      .frag = 1 },
		   PKT_ETH_HLEN + 40 + 8, 8);
	seed("v6-tiny8-atomic",
	     (struct pkt_spec){ .l3 = PKT_IPV6,
				.dport = 80,
				.ext = { PKT_EXT_FRAG, PKT_EXT_ATOMIC },
				.more_frags = true,
				.l4_cut = 8 });

	/* An IPv6 first fragment whose chain goes on in the next one: the
	 * fragment header and one destination options header in the first
	 * (then nothing, or trailing bytes past the payload length that
	 * look like a header before UDP), the other and TCP in the next. */
	seed("v6-split-chain",
	     (struct pkt_spec){
		     .l3 = PKT_IPV6,
		     .dport = 80,
		     .ext = { PKT_EXT_FRAG, PKT_EXT_DEST, PKT_EXT_DEST },
		     .more_frags = true,
		     .l4_cut = 255,
		     .ip_len = 8 + 16 });
	seed("v6-split-chain-trailing",
	     (struct pkt_spec){
		     .l3 = PKT_IPV6,
		     .dport = 80,
		     .l4 = PKT_UDP,
		     .ext = { PKT_EXT_FRAG, PKT_EXT_DEST, PKT_EXT_DEST },
		     .more_frags = true,
		     .ip_len = 8 + 16 });
	seed_later("v6-split-chain-rest",
		   (struct pkt_spec){
			   .l3 = PKT_IPV6,
			   .dport = 80,
			   .ext = { PKT_EXT_FRAG, PKT_EXT_DEST, PKT_EXT_DEST },
			   .frag = 2 },
		   PKT_ETH_HLEN + 40 + 8, 16);

	/* Seven extension headers: one more than the parser walks */
	seed("v6-chain7",
	     (struct pkt_spec){ .l3 = PKT_IPV6,
				.dport = 80,
				.ext = { PKT_EXT_HOP, PKT_EXT_DEST,
					 PKT_EXT_ROUTING, PKT_EXT_DEST,
					 PKT_EXT_AH, PKT_EXT_DEST,
					 PKT_EXT_DEST } });

	/* Authentication headers: walked in IPv6, passed in IPv4 */
	seed("v6-ah", (struct pkt_spec){ .l3 = PKT_IPV6,
					 .dport = 80,
					 .ext = { PKT_EXT_AH } });
	seed("v6-hop-ah-dest",
	     (struct pkt_spec){
		     .l3 = PKT_IPV6,
		     .dport = 80,
		     .ext = { PKT_EXT_HOP, PKT_EXT_AH, PKT_EXT_DEST } });
	seed_ah4("v4-ah", (struct pkt_spec){ .dport = 80 });
	return 0;
}
