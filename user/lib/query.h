/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What the kernel holds for one client on one port, read or charged with
 * the datapath's own code (the pinned SEC("syscall") program), and turned
 * into what a client is shown: remaining, and reset and retry-after in
 * UTC seconds as SEMANTICS.md §3 defines them. Used by `xlimit query` and
 * by the sidecar.
 */
#ifndef XL_QUERY_H
#define XL_QUERY_H

#include <stdbool.h>
#include <stdint.h>

#include "xlimit.h"

struct xl_client_limit {
	char text[96]; /* "10 per 1 second" */
	uint64_t amount;
	uint64_t period; /* seconds */
	uint32_t action; /* enum xl_action */
	uint32_t strategy; /* enum xl_strategy */
	uint32_t burst; /* token-bucket: hits at once */
	bool breached; /* this hit was refused by this limit */
	uint64_t count; /* hits the state holds (struct xl_view): 0 when it
			 * is as good as none */
	uint64_t start; /* fixed-window: the open window's start, monotonic
			 * ns; 0 when none is open, and for the others */
	uint64_t tat; /* token-bucket: the theoretical arrival time,
		       * monotonic ns (a hit at t leaves it past t + T) */
	uint64_t remaining;
	uint64_t reset; /* UTC epoch seconds: floor(window end) + 1 */
	int64_t retry_after; /* trunc(reset - now), seconds */
};

struct xl_client {
	bool covered; /* a rule covers the port */
	bool allowed, denied;
	uint16_t rule_port; /* the port whose rule applied (0 = any) */
	uint32_t verdict; /* enum xl_verdict of a charge */
	uint32_t nlimits;
	uint32_t report; /* index of the limit to put in headers */
	struct xl_client_limit lim[XL_MAX_LIMITS];
};

/* Reads (op XL_OP_READ) or charges (XL_OP_CHARGE) the client `addr`
 * (v4-mapped for IPv4) on `port`. An allow- or deny-listed client is
 * never charged. `maps` are the fds of the allow and deny lists. Returns
 * 0 or -errno: -EBADMSG when the port's rule is not one xlimit writes
 * (see xl_rule_check). */
int xl_client_query(int prog_fd, int allow_fd, int deny_fd,
		    const uint8_t addr[16], uint16_t port, int op,
		    struct xl_client *c);

/* One limit of a client as xl_client_query() shows it, from the limit,
 * its window and a monotonic time `now` that is `now_utc` on the wall
 * clock (xl_mono_to_utc(now)); `breached` is left false. */
void xl_client_limit_view(const struct xl_limit *lim, const struct xl_window *w,
			  uint64_t now, double now_utc,
			  struct xl_client_limit *l);

#endif /* XL_QUERY_H */
