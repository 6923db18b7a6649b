// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Flask-Limiter's Redis keys (keys.h): what `xlimit sync` adds hits to, and
 * what it reads back from the stream xlimit/over, which whoever can write
 * to Redis can fill: every field is checked.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xlimit_lib.h"
#include "keys.h"
#include "limit_parse.h"

void xs_key_format(char *buf, size_t len, const char *prefix, const char *scope,
		   const __u8 addr[16], uint64_t amount, uint64_t period_ns)
{
	struct xl_parsed_limit l =
		xl_limit_of(amount, period_ns / XL_NSEC_PER_SEC);
	char client[64];

	xl_format_addr(addr, client, sizeof(client));
	snprintf(buf, len, "LIMITER/%s%s%s/%s/%" PRIu64 "/%" PRIu64 "/%s",
		 prefix, *prefix ? "/" : "", client, scope, amount, l.multiples,
		 xl_unit_name(l.unit));
}

/* A decimal number of digits only, 1 to `max`. */
static int number(const char *s, uint64_t max, uint64_t *v)
{
	unsigned long n;

	if (xl_parse_num(s, 0, max, &n))
		return -1;
	*v = n;
	return 0;
}

int xs_key_parse(const char *key, size_t len, const char *prefix,
		 const char *scope, __u8 addr[16], uint64_t *amount,
		 uint64_t *period_ns)
{
	char buf[512], *f[4], *client;
	uint64_t multiples;
	size_t pl = strlen(prefix);
	int i, u;

	if (len >= sizeof(buf) || memchr(key, 0, len))
		return -1;
	memcpy(buf, key, len);
	buf[len] = 0;
	for (i = 0; i < 4; i++) { /* granularity, multiples, amount, scope */
		char *sl = strrchr(buf, '/');

		if (!sl)
			return -1;
		f[i] = sl + 1;
		*sl = 0;
	}
	if (strcmp(f[3], scope) || strncmp(buf, "LIMITER/", 8))
		return -1;
	client = buf + 8;
	if (pl) {
		if (strncmp(client, prefix, pl) || client[pl] != '/')
			return -1;
		client += pl + 1;
	}
	if (xl_parse_addr(client, addr))
		return -1;
	for (u = 0; xl_unit_name(u) && strcmp(f[0], xl_unit_name(u)); u++)
		;
	if (!xl_unit_name(u) || number(f[2], UINT32_MAX, amount) ||
	    number(f[1], XL_PERIOD_MAX_S / xl_unit_seconds(u), &multiples) ||
	    !multiples)
		return -1;
	*period_ns = multiples * xl_unit_seconds(u) * XL_NSEC_PER_SEC;
	return 0;
}
