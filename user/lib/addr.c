// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Addresses: parsed and formatted, IPv4 v4-mapped into 16 bytes; CIDRs as
 * LPM trie keys, and the tries of the allow and deny lists read whole.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>

#include "xlimit_lib.h"

int xl_parse_addr(const char *s, uint8_t addr[16])
{
	struct in_addr a4;

	if (inet_pton(AF_INET6, s, addr) == 1)
		return 0;
	if (inet_pton(AF_INET, s, &a4) != 1)
		return -EINVAL;
	xl_v4map(addr, &a4);
	return 0;
}

void xl_format_addr(const uint8_t addr[16], char *buf, size_t len)
{
	if (xl_is_v4mapped(addr))
		inet_ntop(AF_INET, addr + 12, buf, len);
	else
		inet_ntop(AF_INET6, addr, buf, len);
}

void xl_lpm_key_mask(struct xl_lpm_key *k)
{
	xl_addr_mask(k->addr, k->prefixlen);
}

bool xl_addr_in_prefix(const uint8_t addr[16], const struct xl_lpm_key *k)
{
	uint8_t a[16], net[16];

	memcpy(a, addr, 16);
	memcpy(net, k->addr, 16);
	xl_addr_mask(a, k->prefixlen);
	xl_addr_mask(net, k->prefixlen);
	return !memcmp(a, net, 16);
}

int xl_parse_cidr(const char *s, struct xl_lpm_key *k, char *err, size_t len)
{
	char host[INET6_ADDRSTRLEN + 1], *slash;
	unsigned long plen, max;
	struct xl_lpm_key m;
	bool v4;

	if (strlen(s) >= sizeof(host)) {
		snprintf(err, len, "'%s' is not an IPv4 or IPv6 address", s);
		return -EINVAL;
	}
	strcpy(host, s);
	slash = strchr(host, '/');
	if (slash)
		*slash = '\0';
	if (xl_parse_addr(host, k->addr)) {
		snprintf(
			err, len,
			"'%s' is not an IPv4 or IPv6 address (expected e.g. 198.18.0.0/15 or 2001:2::/48)",
			s);
		return -EINVAL;
	}
	v4 = strchr(host, ':') == NULL;
	max = v4 ? 32 : 128;
	plen = max;
	if (slash) {
		char *end;

		errno = 0;
		plen = strtoul(slash + 1, &end, 10);
		if (!slash[1] || slash[1] < '0' || slash[1] > '9' || *end ||
		    errno || plen > max) {
			snprintf(
				err, len,
				"'%s': bad prefix length '%s' (expected 0 to %lu)",
				s, slash + 1, max);
			return -EINVAL;
		}
	}
	k->prefixlen = v4 ? plen + 96 : plen;
	m = *k;
	xl_lpm_key_mask(&m);
	if (memcmp(m.addr, k->addr, 16)) {
		char net[INET6_ADDRSTRLEN + 8];

		xl_format_cidr(&m, net, sizeof(net));
		snprintf(
			err, len,
			"'%s' has host bits set past the prefix; did you mean %s?",
			s, net);
		return -EINVAL;
	}
	return 0;
}

void xl_format_cidr(const struct xl_lpm_key *k, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];
	bool v4 = xl_is_v4mapped(k->addr) && k->prefixlen >= 96;

	xl_format_addr(k->addr, a, sizeof(a));
	if (!v4 && xl_is_v4mapped(k->addr)) /* ::ffff:0:0/N, N < 96 */
		inet_ntop(AF_INET6, k->addr, a, sizeof(a));
	snprintf(buf, len, "%s/%u", a, v4 ? k->prefixlen - 96 : k->prefixlen);
}

int xl_lpm_key_cmp(const void *a, const void *b)
{
	const struct xl_lpm_key *x = a, *y = b;
	bool x4 = xl_is_v4mapped(x->addr) && x->prefixlen >= 96;
	bool y4 = xl_is_v4mapped(y->addr) && y->prefixlen >= 96;
	int d;

	if (x4 != y4)
		return x4 ? -1 : 1;
	d = memcmp(x->addr, y->addr, sizeof(x->addr));
	if (d)
		return d;
	return (x->prefixlen > y->prefixlen) - (x->prefixlen < y->prefixlen);
}

int xl_list_read(int fd, struct xl_lpm_key **keys, size_t *count)
{
	struct xl_lpm_key *k;
	size_t n = 0, cap = 0;

	*keys = NULL;
	for (;;) {
		if (n == cap) {
			cap = cap ? 2 * cap : 256;
			k = realloc(*keys, cap * sizeof(**keys));
			if (!k) {
				free(*keys);
				*keys = NULL;
				return -ENOMEM;
			}
			*keys = k;
		}
		if (bpf_map_get_next_key(fd, n ? &(*keys)[n - 1] : NULL,
					 &(*keys)[n]))
			break;
		n++;
	}
	/* The trie walks in its own order: sort by address. */
	qsort(*keys, n, sizeof(**keys), xl_lpm_key_cmp);
	*count = n;
	return 0;
}
