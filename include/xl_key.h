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

/* The two 64-bit halves of an address, as they lie in memory. The datapath
 * keeps an address in two registers this way: code that reads it a byte
 * at a time makes the compiler keep each byte on its own, and put them
 * back together for every key, hash and comparison. */
xl_inline void xl_addr_words(const __u8 addr[16], __u64 w[2])
{
	__builtin_memcpy(w, addr, 16);
}

/* The second half of ::ffff:0.0.0.0 (bytes 10 and 11 0xff), and which of
 * its bits are the IPv4 address. */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define XL_V4MAP_HI 0xffff0000ULL
#define XL_V4MAP_V4 0xffffffff00000000ULL
#else
#define XL_V4MAP_HI (0xffffULL << 32)
#define XL_V4MAP_V4 0xffffffffULL
#endif

xl_inline int xl_is_v4mapped(const __u8 addr[16])
{
	__u64 w[2];

	xl_addr_words(addr, w);
	return w[0] == 0 && (w[1] & ~XL_V4MAP_V4) == XL_V4MAP_HI;
}

/* IPv4 `v4` (4 bytes, network order) as ::ffff:a.b.c.d, the v4-mapped
 * form every key and list entry holds IPv4 in. */
xl_inline void xl_v4map(__u8 addr[16], const void *v4)
{
	/* Written as two 64-bit words, not 16 bytes: see xl_addr_words(). */
	__u64 w[2] = { 0, XL_V4MAP_HI };
	__u32 a;

	__builtin_memcpy(&a, v4, 4);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	w[1] |= (__u64)a << 32;
#else
	w[1] |= a;
#endif
	__builtin_memcpy(addr, w, 16);
}

/* Clears the bits of addr past its first `bits` (128 and more: none),
 * a 64-bit half at a time. */
xl_inline void xl_addr_mask(__u8 addr[16], __u32 bits)
{
	__u64 w[2], m;
	__u32 i;

	xl_addr_words(addr, w);
	for (i = 0; i < 2; i++) {
		if (bits >= 64 * (i + 1))
			continue;
		m = bits <= 64 * i ? 0 : ~0ULL << (64 - (bits - 64 * i));
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
		m = __builtin_bswap64(m); /* network order, as the address */
#endif
		w[i] &= m;
	}
	__builtin_memcpy(addr, w, 16);
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

/*
 * The slot of xl_vcache (XL_VCACHE_BITS bits) for a whole source address
 * and a port: an unkeyed multiplicative hash, one multiply (the top bits
 * of the product depend on every bit of the folded words), not
 * xl_key_hash(). A sender who aims many sources at one slot makes them
 * take it from each other, and each of them then misses and is decided
 * in full, as a cold source is. It cannot make an entry speak for another
 * source: the datapath checks the entry against the whole address and
 * port, so no verdict (a drop, a list's) moves from one source to
 * another. xl_over and xl_sync_note(), whose slots do name a client, keep
 * the keyed hash.
 */
xl_inline __u32 xl_vcache_index(const __u8 addr[16], __u16 port)
{
	__u64 w[2];

	xl_addr_words(addr, w);
	return ((w[0] ^ w[1] ^ port) * 0x9e3779b97f4a7c15ULL) >>
	       (64 - XL_VCACHE_BITS);
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
