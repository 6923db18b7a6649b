// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Unit tests of how the sidecar tells that the kernel charged a
 * connection's SYN (user/sidecar/handshake.c): the check of each strategy
 * against the accept and handshake times, then real connections on
 * loopback. For each, a fixed window opened at the coarse clock read just
 * after connect() returned (no earlier than the datapath would have
 * dated the SYN) must be seen as holding the SYN, and a bucket charged at
 * the clock read before connect() (T = 1 s) too. Judged against the
 * handshake time from TCP_INFO, some hundredths of a percent of
 * connections came out ticks before their own SYN: their first request
 * was charged on top of the SYN.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "testing.h"
#include "xlimit_lib.h"
#include "sidecar/sidecar.h"

TEST_ENV_DEFINE;

#define MS 1000000ULL
#define CONNECTIONS 20000

static void test_strategies(void)
{
	static const struct {
		const char *name;
		uint32_t strategy;
		uint64_t count, start, tat;
		struct sc_accepted a;
		bool seen;
	} cases[] = {
		{ "fixed: opened before the handshake",
		  XL_STRAT_FIXED,
		  1,
		  100 * MS,
		  0,
		  { 104 * MS, 100 * MS },
		  true },
		{ "fixed: opened at the accept",
		  XL_STRAT_FIXED,
		  1,
		  104 * MS,
		  0,
		  { 104 * MS, 96 * MS },
		  true },
		{ "fixed: opened after the handshake as the clock says, "
		  "before the accept",
		  XL_STRAT_FIXED,
		  1,
		  100 * MS,
		  0,
		  { 104 * MS, 96 * MS },
		  true },
		{ "fixed: opened after the accept",
		  XL_STRAT_FIXED,
		  1,
		  105 * MS,
		  0,
		  { 104 * MS, 96 * MS },
		  false },
		{ "fixed: no window",
		  XL_STRAT_FIXED,
		  0,
		  0,
		  0,
		  { 104 * MS, 96 * MS },
		  false },
		{ "fixed: accept not known",
		  XL_STRAT_FIXED,
		  1,
		  105 * MS,
		  0,
		  { 0, 0 },
		  true },
		{ "sliding: a hit",
		  XL_STRAT_SLIDING,
		  1,
		  0,
		  0,
		  { 104 * MS, 96 * MS },
		  true },
		{ "sliding: none",
		  XL_STRAT_SLIDING,
		  0,
		  0,
		  0,
		  { 104 * MS, 96 * MS },
		  false },
		{ "token: TAT past the handshake, before the accept",
		  XL_STRAT_TOKEN,
		  1,
		  0,
		  100 * MS,
		  { 104 * MS, 96 * MS },
		  true },
		{ "token: TAT at the handshake",
		  XL_STRAT_TOKEN,
		  1,
		  0,
		  96 * MS,
		  { 104 * MS, 96 * MS },
		  false },
		{ "token: handshake not known, a hit",
		  XL_STRAT_TOKEN,
		  1,
		  0,
		  90 * MS,
		  { 0, 0 },
		  true },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct xl_client_limit l = {
			.strategy = cases[i].strategy,
			.count = cases[i].count,
			.start = cases[i].start,
			.tat = cases[i].tat,
		};

		ASSERT_EQ(sc_syn_seen(&l, cases[i].a), cases[i].seen,
			  cases[i].name);
	}
}

/* Closes with a reset: no TIME_WAIT left behind by thousands. */
static void close_now(int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

static void test_loopback_connections(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t salen = sizeof(sa);
	int lfd, i, fixed_missed = 0, token_missed = 0, hs_early = 0;

	lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (!ASSERT_TRUE(lfd >= 0, "socket") ||
	    !ASSERT_OK(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), "bind") ||
	    !ASSERT_OK(listen(lfd, 16), "listen") ||
	    !ASSERT_OK(getsockname(lfd, (struct sockaddr *)&sa, &salen),
		       "getsockname"))
		goto out;
	for (i = 0; i < CONNECTIONS; i++) {
		int cfd = socket(AF_INET, SOCK_STREAM, 0), sfd = -1;
		uint64_t before = xl_mono_now(), after;
		struct xl_client_limit fixed = { .strategy = XL_STRAT_FIXED,
						 .count = 1 };
		struct xl_client_limit token = { .strategy = XL_STRAT_TOKEN,
						 .count = 1 };
		struct sc_accepted a;

		if (!ASSERT_TRUE(cfd >= 0, "client socket") ||
		    !ASSERT_OK(connect(cfd, (struct sockaddr *)&sa, salen),
			       "connect")) {
			close(cfd);
			goto out;
		}
		after = xl_mono_now();
		sfd = accept(lfd, NULL, NULL);
		if (!ASSERT_TRUE(sfd >= 0, "accept")) {
			close_now(cfd);
			goto out;
		}
		a = sc_accepted(sfd);
		fixed.start = after;
		token.tat = before + 1000 * MS;
		fixed_missed += !sc_syn_seen(&fixed, a);
		token_missed += !sc_syn_seen(&token, a);
		hs_early += a.handshake < after;
		close_now(sfd);
		close_now(cfd);
	}
	printf("  %d connections: the handshake read from TCP_INFO came "
	       "before the SYN's tick for %d\n",
	       CONNECTIONS, hs_early);
	ASSERT_EQ(fixed_missed, 0,
		  "fixed windows opened by the SYN, not seen as holding it");
	ASSERT_EQ(token_missed, 0,
		  "buckets charged by the SYN, not seen as holding it");
out:
	if (lfd >= 0)
		close(lfd);
}

int main(void)
{
	RUN_TEST(strategies);
	RUN_TEST(loopback_connections);
	return test_summary();
}
