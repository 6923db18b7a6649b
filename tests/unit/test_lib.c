// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Unit tests of libxlimit's address helpers (user/lib/addr.c and
 * include/xl_key.h): IPv4 v4-mapped, the CIDR parser on good and bad
 * input, and the prefix mask at every length from 0 to 128 against a
 * bit-by-bit model; a rule's limit in text, on the parser's units.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>

#include "testing.h"
#include "xlimit_lib.h"

TEST_ENV_DEFINE;

static void test_v4map(void)
{
	static const uint8_t want[16] = { 0, 0, 0,    0,    0,	 0,  0, 0,
					  0, 0, 0xff, 0xff, 198, 18, 0, 1 };
	uint8_t addr[16], parsed[16];
	struct in_addr a4;
	char text[INET6_ADDRSTRLEN];

	memset(addr, 0xaa, sizeof(addr)); /* every byte is written */
	inet_pton(AF_INET, "198.18.0.1", &a4);
	xl_v4map(addr, &a4);
	ASSERT_TRUE(!memcmp(addr, want, 16), "::ffff:198.18.0.1");
	ASSERT_TRUE(xl_is_v4mapped(addr), "is v4-mapped");
	ASSERT_EQ(xl_parse_addr("198.18.0.1", parsed), 0, "parse IPv4");
	ASSERT_TRUE(!memcmp(parsed, want, 16), "parsed IPv4 is v4-mapped");
	ASSERT_EQ(xl_parse_addr("::ffff:198.18.0.1", parsed), 0,
		  "parse v4-mapped IPv6");
	ASSERT_TRUE(!memcmp(parsed, want, 16), "the same key");
	xl_format_addr(want, text, sizeof(text));
	ASSERT_STREQ(text, "198.18.0.1", "formatted as IPv4");
	ASSERT_EQ(xl_parse_addr("2001:2::1", parsed), 0, "parse IPv6");
	ASSERT_FALSE(xl_is_v4mapped(parsed), "IPv6 is not v4-mapped");
	xl_format_addr(parsed, text, sizeof(text));
	ASSERT_STREQ(text, "2001:2::1", "formatted as IPv6");
	ASSERT_EQ(xl_parse_addr("198.18.0.256", parsed), -EINVAL, "bad IPv4");
	ASSERT_EQ(xl_parse_addr("", parsed), -EINVAL, "empty");
}

static void test_cidr_good(void)
{
	static const struct {
		const char *in, *out;
		unsigned int prefixlen;
	} cases[] = {
		{ "198.18.0.0/15", "198.18.0.0/15", 96 + 15 },
		{ "198.18.0.1", "198.18.0.1/32", 128 },
		{ "0.0.0.0/0", "0.0.0.0/0", 96 },
		{ "2001:2::/48", "2001:2::/48", 48 },
		{ "2001:2::1", "2001:2::1/128", 128 },
		{ "::/0", "::/0", 0 },
		{ "::ffff:0:0/96", "0.0.0.0/0", 96 },
		{ "::fffe:0:0/95", "::fffe:0:0/95", 95 },
	};
	unsigned int i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct xl_lpm_key k;
		char err[256] = "", text[64];

		if (!ASSERT_EQ(xl_parse_cidr(cases[i].in, &k, err, sizeof(err)),
			       0, cases[i].in)) {
			fprintf(stderr, "  %s\n", err);
			continue;
		}
		ASSERT_EQ(k.prefixlen, cases[i].prefixlen, cases[i].in);
		xl_format_cidr(&k, text, sizeof(text));
		ASSERT_STREQ(text, cases[i].out, cases[i].in);
	}
}

static void test_cidr_bad(void)
{
	static const struct {
		const char *in, *says;
	} cases[] = {
		{ "198.18.0.1/15", "did you mean 198.18.0.0/15?" },
		{ "2001:2::1/48", "did you mean 2001:2::/48?" },
		{ "198.18.0.0/33",
		  "bad prefix length '33' (expected 0 to 32)" },
		{ "2001:2::/129",
		  "bad prefix length '129' (expected 0 to 128)" },
		{ "198.18.0.0/", "bad prefix length ''" },
		{ "198.18.0.0/-1", "bad prefix length '-1'" },
		{ "198.18.0.0/+8", "bad prefix length '+8'" },
		{ "198.18.0.0/ 8", "bad prefix length ' 8'" },
		{ "198.18.0.0/8x", "bad prefix length '8x'" },
		{ "198.18.0.0/99999999999999999999", "bad prefix length" },
		{ "198.18.0/24", "is not an IPv4 or IPv6 address" },
		{ "example.com", "is not an IPv4 or IPv6 address" },
		{ "", "is not an IPv4 or IPv6 address" },
		{ "/8", "is not an IPv4 or IPv6 address" },
		{ "2001:2::/48/1", "bad prefix length" },
	};
	char long_in[200];
	unsigned int i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct xl_lpm_key k;
		char err[256] = "";

		ASSERT_EQ(xl_parse_cidr(cases[i].in, &k, err, sizeof(err)),
			  -EINVAL, cases[i].in);
		if (!ASSERT_TRUE(strstr(err, cases[i].says) != NULL,
				 cases[i].in))
			fprintf(stderr, "  said: %s\n", err);
	}
	memset(long_in, '1', sizeof(long_in) - 1);
	long_in[sizeof(long_in) - 1] = '\0';
	{
		struct xl_lpm_key k;
		char err[256] = "";

		ASSERT_EQ(xl_parse_cidr(long_in, &k, err, sizeof(err)), -EINVAL,
			  "a string longer than any address");
		ASSERT_TRUE(strstr(err, "is not an IPv4 or IPv6 address") !=
				    NULL,
			    "long: says why");
	}
}

/* Bit i of addr, the most significant first. */
static int bit(const uint8_t addr[16], unsigned int i)
{
	return (addr[i / 8] >> (7 - i % 8)) & 1;
}

static void test_prefix_mask(void)
{
	unsigned int len, i;

	for (len = 0; len <= 128; len++) {
		uint8_t ones[16], random[16], masked[16];
		struct xl_lpm_key k = { .prefixlen = len };
		char name[64];
		int wrong = 0;

		memset(ones, 0xff, 16);
		for (i = 0; i < 16; i++)
			random[i] = (uint8_t)(i * 37 + len * 11 + 5);
		memcpy(masked, random, 16);
		xl_addr_mask(ones, len);
		xl_addr_mask(masked, len);
		for (i = 0; i < 128; i++) {
			wrong += bit(ones, i) != (i < len);
			wrong += bit(masked, i) !=
				 (i < len ? bit(random, i) : 0);
		}
		snprintf(name, sizeof(name), "mask /%u: bits kept and cleared",
			 len);
		ASSERT_EQ(wrong, 0, name);

		memcpy(k.addr, random, 16);
		xl_lpm_key_mask(&k);
		snprintf(name, sizeof(name), "lpm key /%u", len);
		ASSERT_TRUE(!memcmp(k.addr, masked, 16), name);

		/* A bit past the prefix stays inside; the last bit of it
		 * takes the address out. */
		snprintf(name, sizeof(name), "in /%u: the network itself", len);
		ASSERT_TRUE(xl_addr_in_prefix(random, &k), name);
		if (len < 128) {
			uint8_t past[16];

			memcpy(past, random, 16);
			past[len / 8] ^= 0x80 >> (len % 8);
			snprintf(name, sizeof(name), "in /%u: host bit flipped",
				 len);
			ASSERT_TRUE(xl_addr_in_prefix(past, &k), name);
		}
		if (len > 0) {
			uint8_t out[16];

			memcpy(out, random, 16);
			out[(len - 1) / 8] ^= 0x80 >> ((len - 1) % 8);
			snprintf(name, sizeof(name),
				 "in /%u: last network bit flipped", len);
			ASSERT_FALSE(xl_addr_in_prefix(out, &k), name);
		}
	}
}

static void test_key_prefix(void)
{
	uint8_t v6[16], v4[16];
	struct xl_key k;
	unsigned int len;

	xl_parse_addr("2001:2:ffff:ffff:ffff:ffff:ffff:ffff", v6);
	xl_parse_addr("198.18.255.255", v4);
	for (len = 1; len <= 128; len++) {
		uint8_t want[16];
		char name[64];

		memcpy(want, v6, 16);
		xl_addr_mask(want, len);
		xl_key_init(&k, v6, 80, len);
		snprintf(name, sizeof(name), "IPv6 key at /%u", len);
		ASSERT_TRUE(!memcmp(k.addr, want, 16), name);
		xl_key_init(&k, v4, 80, len);
		snprintf(name, sizeof(name), "IPv4 key whole at /%u", len);
		ASSERT_TRUE(!memcmp(k.addr, v4, 16), name);
	}
	xl_key_init(&k, v6, 80, 0);
	memcpy(v4, v6, 16);
	xl_addr_mask(v4, XL_IPV6_PREFIX_DEFAULT);
	ASSERT_TRUE(!memcmp(k.addr, v4, 16), "prefix 0 is the default");
}

static void test_rule_limit_text(void)
{
	static const struct {
		uint64_t amount, seconds;
		const char *text;
	} cases[] = {
		{ 10, 1, "10 per 1 second" },
		{ 10, 60, "10 per 1 minute" },
		{ 5, 90, "5 per 90 second" },
		{ 100, 7200, "100 per 2 hour" },
		{ 1, 86400 * 2, "1 per 2 day" },
		{ 3, 2592000, "3 per 1 month" },
		{ 3, 31104000 * 100ULL, "3 per 100 year" },
		{ 7, 0, "7 per 0 second" }, /* a rule written by hand */
	};
	unsigned int i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct xl_limit l = { .amount = cases[i].amount,
				      .period_ns = cases[i].seconds *
						   XL_NSEC_PER_SEC };
		char text[96];

		xl_format_rule_limit(&l, text, sizeof(text));
		ASSERT_STREQ(text, cases[i].text, cases[i].text);
	}
}

int main(void)
{
	RUN_TEST(v4map);
	RUN_TEST(cidr_good);
	RUN_TEST(cidr_bad);
	RUN_TEST(prefix_mask);
	RUN_TEST(key_prefix);
	RUN_TEST(rule_limit_text);
	return test_summary();
}
