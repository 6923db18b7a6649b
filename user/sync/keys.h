/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Flask-Limiter's Redis keys for fixed-window limits, both ways:
 * LIMITER/[PREFIX/]CLIENT/SCOPE/AMOUNT/MULTIPLES/GRANULARITY, as the
 * limits library's RateLimitItem.key_for() builds them, CLIENT being the
 * address as text and the period written in the largest unit that divides
 * it (as `xlimit limit list` prints it).
 */
#ifndef XL_SYNC_KEYS_H
#define XL_SYNC_KEYS_H

#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>

/* Writes the key of (addr, amount, period_ns); prefix "" for none. */
void xs_key_format(char *buf, size_t len, const char *prefix, const char *scope,
		   const __u8 addr[16], uint64_t amount, uint64_t period_ns);

/* Reads back a key with this prefix and scope: the client (v4-mapped for
 * IPv4), amount and period (whole seconds, at most XL_PERIOD_MAX_S). 0, or
 * -1 for a key that is not one of ours or not well formed. */
int xs_key_parse(const char *key, size_t len, const char *prefix,
		 const char *scope, __u8 addr[16], uint64_t *amount,
		 uint64_t *period_ns);

#endif /* XL_SYNC_KEYS_H */
