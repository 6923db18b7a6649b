/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * libFuzzer target: the datapath's packet parser (bpf/parse.h) compiled as
 * user code, fed arbitrary frames. ASan sees any read outside the frame
 * (libFuzzer hands each input in a buffer of exactly its size). For every
 * frame parse_syn() counts as a new connection, an independent walk of
 * the frame must agree: Ethernet, VLAN tags, then an IPv4 header (version
 * 4, ihl >= 5, no fragment offset) or an IPv6 header and its extension
 * headers (AH included; no fragment offset), then a whole TCP header with SYN and
 * without ACK, all inside the frame; and parse_syn() must report that
 * header's destination port and the IP source address.
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

#define WALK_VLAN_MAX 8 /* more than the parser walks: a bound, not a rule */
#define WALK_EXT_MAX 64

#define check(cond, what)                                           \
	do {                                                        \
		if (!(cond)) {                                      \
			fprintf(stderr, "fuzz_packet: %s\n", what); \
			abort();                                    \
		}                                                   \
	} while (0)

static unsigned int get16(const uint8_t *p)
{
	return p[0] << 8 | p[1];
}

/* The walk: returns the offset of the TCP header, or 0 when the frame
 * holds none (or only a later fragment's). saddr gets the v4-mapped or
 * IPv6 source. */
static size_t walk(const uint8_t *d, size_t n, uint8_t saddr[16], int *v6)
{
	size_t off = 14, hlen;
	unsigned int proto, next;
	int i;

	if (n < 14)
		return 0;
	proto = get16(d + 12);
	for (i = 0; i < WALK_VLAN_MAX && (proto == 0x8100 || proto == 0x88a8);
	     i++) {
		if (n < off + 4)
			return 0;
		proto = get16(d + off + 2);
		off += 4;
	}
	if (proto == 0x0800) {
		if (n < off + 20 || d[off] >> 4 != 4)
			return 0;
		hlen = (d[off] & 15) * 4;
		if (hlen < 20 || n < off + hlen ||
		    (get16(d + off + 6) & 0x1fff) || d[off + 9] != 6)
			return 0;
		memset(saddr, 0, 10);
		saddr[10] = saddr[11] = 0xff;
		memcpy(saddr + 12, d + off + 12, 4);
		*v6 = 0;
		return off + hlen;
	}
	if (proto != 0x86dd || n < off + 40 || d[off] >> 4 != 6)
		return 0;
	memcpy(saddr, d + off + 8, 16);
	*v6 = 1;
	next = d[off + 6];
	off += 40;
	for (i = 0; i < WALK_EXT_MAX; i++) {
		if (next == 6)
			return off;
		if (n < off + 8)
			return 0;
		if (next == 0 || next == 43 || next == 60) {
			next = d[off];
			off += (d[off + 1] + 1) * 8;
		} else if (next == 51) { /* AH: 4-octet units, less 2 */
			next = d[off];
			off += (d[off + 1] + 2) * 4;
		} else if (next == 44) {
			if (get16(d + off + 2) & 0xfff8)
				return 0;
			next = d[off];
			off += 8;
		} else {
			return 0;
		}
	}
	return 0;
}

#define IP_ALIGN 2

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size)
{
	uint8_t saddr[16], *buf = malloc(IP_ALIGN + size), *data;
	struct xl_pkt p;
	size_t tcp;
	int v6 = -1, ret;

	if (!buf)
		abort();
	data = buf + IP_ALIGN;
	memcpy(data, in, size);
	memset(&p, 0, sizeof(p));
	ret = parse_syn(data, data + size, &p);
	if (ret != 1) {
		free(buf);
		return 0;
	}
	tcp = walk(data, size, saddr, &v6);
	check(tcp != 0, "counted a frame without a first TCP header");
	check(tcp + 20 <= size, "counted a frame with a TCP header cut short");
	check((data[tcp + 13] & 0x12) == 0x02,
	      "counted a segment that is not a SYN");
	check(p.dport == get16(data + tcp + 2), "wrong destination port");
	check(p.is_v6 == v6, "wrong address family");
	check(!memcmp(p.saddr, saddr, 16), "wrong source address");
	free(buf);
	return 0;
}
