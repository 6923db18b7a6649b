/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * How a source address becomes a state key: IPv4 stays whole (v4-mapped),
 * IPv6 is masked to the configured prefix. A pure function shared by the
 * datapath and by userspace, which needs the same key to find a client's
 * state.
 */
#ifndef XL_KEY_H
#define XL_KEY_H

#include "xlimit.h"

#ifndef xl_inline
#define xl_inline static inline __attribute__((always_inline))
#endif

xl_inline int xl_is_v4mapped(const __u8 addr[16])
{
	int i;

	for (i = 0; i < 12; i++)
		if (addr[i] != (i < 10 ? 0 : 0xff))
			return 0;
	return 1;
}

/* IPv4 `v4` (4 bytes, network order) as ::ffff:a.b.c.d, the v4-mapped
 * form every key and list entry holds IPv4 in. */
xl_inline void xl_v4map(__u8 addr[16], const void *v4)
{
	/* Written as two 64-bit words, not 16 bytes: the datapath's parser
	 * keeps a frame's address in registers, two rather than one a byte
	 * (which cost every TCP segment a dozen stores). */
	__u32 a;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	__u64 w[2] = { 0, 0xffff0000ULL };
#else
	__u64 w[2] = { 0, 0xffffULL << 32 };
#endif

	__builtin_memcpy(&a, v4, 4);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	w[1] |= (__u64)a << 32;
#else
	w[1] |= a;
#endif
	__builtin_memcpy(addr, w, 16);
}

/* Clears the bits of addr past its first `bits` (128 and more: none). */
xl_inline void xl_addr_mask(__u8 addr[16], __u32 bits)
{
	__u32 i;

	for (i = 0; i < 16; i++) {
		if (bits >= 8 * (i + 1))
			continue;
		if (bits <= 8 * i)
			addr[i] = 0;
		else
			addr[i] &= (__u8)(0xff << (8 - (bits - 8 * i)));
	}
}

/* `prefix` 0 (never set) means XL_IPV6_PREFIX_DEFAULT, 128 and more the
 * whole address. */
xl_inline void xl_key_init(struct xl_key *k, const __u8 addr[16], __u16 port,
			   __u32 prefix)
{
	__builtin_memcpy(k->addr, addr, 16);
	k->port = port;
	k->pad = 0;
	if (!prefix)
		prefix = XL_IPV6_PREFIX_DEFAULT;
	if (xl_is_v4mapped(addr) || prefix >= 128)
		return;
	xl_addr_mask(k->addr, prefix);
}

/* A 64-bit hash of a key, keyed with `seed` (random per load, so that a
 * sender cannot aim its keys at a given slot of xl_over without knowing
 * it; it is a mixer, not a cryptographic MAC). The key's three words
 * (two 64-bit halves of the address, then port and pad) are each mixed
 * with the seed and multiplied on their own, so the three products are
 * computed side by side, then folded and mixed once more: a chain of
 * two multiplies where one per 32-bit word took five, on every counted
 * SYN (the verdict cache's probe) and every new client (xl_over). */
xl_inline __u64 xl_key_hash(const struct xl_key *k, __u32 seed)
{
	__u64 s = (seed | 1ULL << 32) * 0x9e3779b97f4a7c15ULL, a, b, h;
	__u32 c;

	__builtin_memcpy(&a, k->addr, 8);
	__builtin_memcpy(&b, k->addr + 8, 8);
	__builtin_memcpy(&c, &k->port, 4); /* port and pad */
	h = (a ^ s) * 0xff51afd7ed558ccdULL;
	h ^= (b ^ (s >> 17 | s << 47)) * 0xc4ceb9fe1a85ec53ULL;
	h ^= (c ^ s) * 0x94d049bb133111ebULL;
	h ^= h >> 32;
	h *= 0xbf58476d1ce4e5b9ULL;
	return h ^ h >> 29;
}

#endif /* XL_KEY_H */
