/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Writes the seed corpus of fuzz_packet: frames from tests/lib/pkt.h
 * covering each path of the parser (IPv4 with options and fragments,
 * IPv6 with extension header chains, VLAN tags, TCP flags, UDP, ARP,
 * damaged headers), each whole and cut short inside its TCP header.
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

static void seed(const char *name, struct pkt_spec s)
{
	__u8 f[PKT_MAX];
	char cut[256];
	size_t len = pkt_build(&s, f, sizeof(f));

	if (!len) {
		fprintf(stderr, "seed_packet: cannot build %s\n", name);
		exit(1);
	}
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
	return 0;
}
