/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * libFuzzer target: what `xlimit sync` reads that others write — the
 * --redis URL (user/sync/redis.c) and the Flask-Limiter keys announced on
 * the Redis stream xlimit/over (user/sync/keys.c) — and the Cluster key
 * slot. Besides memory safety (ASan, UBSan), on every input:
 * - an accepted URL has 1..XR_MAX_SEEDS hosts, each a non-empty string
 *   with a port 1..65535, a database 0..15, and a master's name exactly
 *   for redis+sentinel://;
 * - an accepted key (no prefix, and with the prefix "p") has a period of
 *   whole seconds within XL_PERIOD_MAX_S, and the key written back from
 *   what was read reads back the same;
 * - the slot of any key is below 16384, and a key's slot is that of its
 *   {hash tag} when it has one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xlimit.h"
#include "sync/keys.h"
#include "sync/redis.h"

#define check(cond, what)                                          \
	do {                                                       \
		if (!(cond)) {                                     \
			fprintf(stderr, "fuzz_redis: %s\n", what); \
			abort();                                   \
		}                                                  \
	} while (0)

static void check_url(const char *s)
{
	char err[256];
	struct xr r;
	int i;

	if (xr_parse_url(&r, s, err, sizeof(err))) {
		check(err[0], "a refused URL without a message");
		return;
	}
	check(r.nseeds >= 1 && r.nseeds <= XR_MAX_SEEDS, "host count");
	for (i = 0; i < r.nseeds; i++) {
		check(r.seeds[i].host[0], "empty host");
		check(memchr(r.seeds[i].host, 0, sizeof(r.seeds[i].host)),
		      "host not terminated");
		check(r.seeds[i].port >= 1 && r.seeds[i].port <= 65535,
		      "port out of range");
	}
	check(r.db >= 0 && r.db <= 15, "database out of range");
	check((r.kind == XR_SENTINEL) == (r.master[0] != 0),
	      "a master's name without sentinels, or none with them");
	check(r.kind != XR_STANDALONE || r.nseeds == 1,
	      "several hosts for redis://");
}

static void check_key(const char *s, size_t n, const char *prefix)
{
	__u8 addr[16], addr2[16];
	uint64_t amount, period, amount2, period2;
	char again[600];

	if (xs_key_parse(s, n, prefix, "global", addr, &amount, &period))
		return;
	check(period && period % XL_NSEC_PER_SEC == 0 &&
		      period <= XL_PERIOD_MAX_S * XL_NSEC_PER_SEC,
	      "period not whole seconds within the bound");
	xs_key_format(again, sizeof(again), prefix, "global", addr, amount,
		      period);
	check(!xs_key_parse(again, strlen(again), prefix, "global", addr2,
			    &amount2, &period2),
	      "a key written from a parsed one does not parse");
	check(!memcmp(addr, addr2, 16) && amount == amount2 &&
		      period == period2,
	      "a key written from a parsed one reads back otherwise");
}

static void check_slot(const char *s, size_t n)
{
	const char *open = memchr(s, '{', n), *close;
	unsigned slot = xr_key_slot(s, n);

	check(slot < XR_SLOTS, "slot out of range");
	if (!open)
		return;
	close = memchr(open + 1, '}', s + n - open - 1);
	if (close && close > open + 1)
		check(slot == xr_key_slot(open + 1, close - open - 1),
		      "a key's slot is not its hash tag's");
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	char *s = malloc(size + 1);

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = 0;
	check_url(s);
	check_key(s, size, "");
	check_key(s, size, "p");
	check_slot(s, size);
	free(s);
	return 0;
}
