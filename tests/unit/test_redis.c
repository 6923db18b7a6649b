// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Unit tests of user/sync/redis.c without a server: the Cluster key slot
 * (CRC16 and hash tags, against the values the Redis Cluster
 * specification and CLUSTER KEYSLOT give) and the URL parser of
 * `xlimit sync --redis`, good URLs and bad ones.
 */
#include <stdio.h>
#include <string.h>

#include "testing.h"
#include "sync/redis.h"

TEST_ENV_DEFINE;

static unsigned slot(const char *k)
{
	return xr_key_slot(k, strlen(k));
}

static void test_key_slot(void)
{
	/* The specification's check value: CRC16("123456789") = 0x31C3. */
	ASSERT_EQ(slot("123456789"), 0x31C3 % 16384, "crc16 check value");
	ASSERT_EQ(slot("foo"), 12182, "foo");
	ASSERT_EQ(slot("somekey"), 11058, "somekey");
	ASSERT_EQ(slot("foo{hash_tag}"), 2515, "a hash tag");
	ASSERT_EQ(slot("bar{hash_tag}"), 2515, "the same hash tag");
	ASSERT_EQ(slot("foo{}{bar}") == slot("bar"), 0,
		  "an empty tag hashes the whole key");
	ASSERT_EQ(slot("foo{{bar}}zap"), slot("{bar"),
		  "the tag is up to the first } after the first {");
	ASSERT_EQ(slot("foo{bar}{zap}"), slot("bar"), "the first tag only");
}

struct url_case {
	const char *url;
	int ok;
	int kind, nseeds, port0, db;
	const char *host0, *master, *err;
};

static void test_parse_url(void)
{
	static const struct url_case cases[] = {
		{ "redis://10.0.0.5:6379", 1, XR_STANDALONE, 1, 6379, 0,
		  "10.0.0.5", "", NULL },
		{ "redis://redis.example", 1, XR_STANDALONE, 1, 6379, 0,
		  "redis.example", "", NULL },
		{ "REDIS://h:7/3", 1, XR_STANDALONE, 1, 7, 3, "h", "", NULL },
		{ "redis://[2001:2::1]:6380", 1, XR_STANDALONE, 1, 6380, 0,
		  "2001:2::1", "", NULL },
		{ "redis+sentinel://a:26379,b/mymaster", 1, XR_SENTINEL, 2,
		  26379, 0, "a", "mymaster", NULL },
		{ "redis+sentinel://a:1/m/2", 1, XR_SENTINEL, 1, 1, 2, "a", "m",
		  NULL },
		{ "redis+cluster://a:7000,b:7001,c", 1, XR_CLUSTER, 3, 7000, 0,
		  "a", "", NULL },
		{ "http://a", 0, 0, 0, 0, 0, NULL, NULL, "expected redis://" },
		{ "redis://", 0, 0, 0, 0, 0, NULL, NULL, "no host" },
		{ "redis://a,b", 0, 0, 0, 0, 0, NULL, NULL, "takes one host" },
		{ "redis://a:0", 0, 0, 0, 0, 0, NULL, NULL, "bad host" },
		{ "redis://a:65536", 0, 0, 0, 0, 0, NULL, NULL, "bad host" },
		{ "redis://a:-1", 0, 0, 0, 0, 0, NULL, NULL, "bad host" },
		{ "redis://a:6379x", 0, 0, 0, 0, 0, NULL, NULL, "bad host" },
		{ "redis://a/16", 0, 0, 0, 0, 0, NULL, NULL, "bad database" },
		{ "redis://a/x", 0, 0, 0, 0, 0, NULL, NULL, "bad database" },
		{ "redis://@a", 0, 0, 0, 0, 0, NULL, NULL,
		  "nothing before '@'" },
		{ "redis://:@a", 0, 0, 0, 0, 0, NULL, NULL,
		  "nothing before '@'" },
		{ "redis://:p%4@a", 0, 0, 0, 0, 0, NULL, NULL,
		  "percent-encode" },
		{ "redis://:p%zz@a", 0, 0, 0, 0, 0, NULL, NULL,
		  "percent-encode" },
		{ "redis://:p%00q@a", 0, 0, 0, 0, 0, NULL, NULL,
		  "percent-encode" },
		{ "redis+sentinel://a:26379", 0, 0, 0, 0, 0, NULL, NULL,
		  "master's name" },
		{ "redis+cluster://a/0", 0, 0, 0, 0, 0, NULL, NULL,
		  "takes no path" },
		{ "redis://[2001:2::1", 0, 0, 0, 0, 0, NULL, NULL, "bad host" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct url_case *c = &cases[i];
		struct xr r;
		char err[200] = "";
		int rc = xr_parse_url(&r, c->url, err, sizeof(err));

		SUBTEST_BEGIN(c->url);
		if (!c->ok) {
			ASSERT_EQ(rc, -1, "refused");
			ASSERT_TRUE(strstr(err, c->err) != NULL,
				    "the message says what is wrong");
		} else if (ASSERT_EQ(rc, 0, "accepted")) {
			ASSERT_EQ((int)r.kind, c->kind, "kind");
			ASSERT_EQ(r.nseeds, c->nseeds, "hosts");
			ASSERT_STREQ(r.seeds[0].host, c->host0, "first host");
			ASSERT_EQ(r.seeds[0].port, c->port0, "first port");
			ASSERT_EQ(r.db, c->db, "database");
			ASSERT_STREQ(r.master, c->master, "master");
		}
		SUBTEST_END();
	}
}

struct auth_case {
	const char *url, *user, *pass, *shown, *host0;
};

/* The userinfo as redis-py reads it, decoded, and the URL the logs and
 * `status` show, with the password starred out. */
static void test_parse_auth(void)
{
	static const struct auth_case cases[] = {
		{ "redis://a:6379", "", "", "redis://a:6379", "a" },
		{ "redis://:s3cret@a:6379/2", "", "s3cret",
		  "redis://:***@a:6379/2", "a" },
		{ "redis://xl:s3cret@a", "xl", "s3cret", "redis://xl:***@a",
		  "a" },
		{ "redis://xl@a", "xl", "", "redis://xl:***@a", "a" },
		{ "redis://:p%40ss%3Aw%2Fd%25@a", "", "p@ss:w/d%",
		  "redis://:***@a", "a" },
		{ "redis://:p@ss@a", "", "p@ss", "redis://:***@a", "a" },
		{ "redis+sentinel://:pw@s1:26379,s2/m", "", "pw",
		  "redis+sentinel://:***@s1:26379,s2/m", "s1" },
		{ "redis+cluster://u:pw@[2001:2::1]:7000", "u", "pw",
		  "redis+cluster://u:***@[2001:2::1]:7000", "2001:2::1" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct auth_case *c = &cases[i];
		struct xr r;
		char err[200] = "";

		SUBTEST_BEGIN(c->url);
		if (ASSERT_EQ(xr_parse_url(&r, c->url, err, sizeof(err)), 0,
			      "accepted")) {
			ASSERT_STREQ(r.user, c->user, "user");
			ASSERT_STREQ(r.pass, c->pass, "password");
			ASSERT_STREQ(r.shown, c->shown, "shown");
			ASSERT_STREQ(r.seeds[0].host, c->host0, "first host");
		}
		SUBTEST_END();
	}
}

int main(void)
{
	RUN_TEST(key_slot);
	test_parse_url(); /* one subtest per URL */
	test_parse_auth();
	return test_summary();
}
