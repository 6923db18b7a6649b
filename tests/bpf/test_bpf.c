// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The datapath on the real BPF object, through bpf_prog_test_run_opts().
 * A table of cases, each with its packets, the map state before, the
 * verdict for every packet and the counters and client state after, runs
 * against the XDP program and again, from the same state, against the tc
 * program: one decision code, one answer. Then every truncation of valid
 * frames, and the syscall program that charges and reads clients for
 * userspace. The maps are pinned under a fresh directory of the bpffs,
 * removed at the end (and, if a run crashed, by the next one).
 * Needs root; without BPF it fails, it does not skip.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include "pkt.h"

#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "testing.h"
#include "xlimit.h"
#include "xl_limiter.h"
#include "xlimit.skel.h"
#include "xlimit_lib.h"

TEST_ENV_DEFINE;

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define BPFFS "/sys/fs/bpf"
#define PIN_PREFIX "xlbpf_" /* bpffs refuses dots in names */
#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif

#define NSEC XL_NSEC_PER_SEC
#define PASS XDP_PASS
#define DROP XDP_DROP

/* Short names for the counters, in the table. */
#define SEEN XL_STAT_SEEN
#define PASSED XL_STAT_PASSED
#define DROPPED XL_STAT_DROPPED
#define OVER_PASSED XL_STAT_OVER_PASSED
#define ALLOWED XL_STAT_ALLOWED
#define DENIED XL_STAT_DENIED
#define FRAG_DROPPED XL_STAT_FRAG_DROPPED
#define DEEP_DROPPED XL_STAT_DEEP_DROPPED
#define NEW XL_STAT_NEW
#define RESTORED XL_STAT_RESTORED
#define GLOBAL XL_SLOT_GLOBAL

/* The key of PKT_SRC6 under the default /64 */
#define KEY6 "2001:2::"

/* ---- the case table ---------------------------------------------------- */

struct rule_spec {
	__u16 port;
	struct xl_rule rule; /* present when nlimits > 0 */
};

/* A client state written before the packets: each window started age_s
 * seconds before the case, with `count` hits (age and count 0: none). */
struct seed_spec {
	const char *src; /* the key's address, already masked; NULL: none */
	__u16 port;
	struct {
		__u64 age_s;
		__u64 count;
	} win[XL_MAX_LIMITS];
};

/* `times` copies of one packet (0: one), each expecting `verdict`. */
struct step {
	struct pkt_spec pkt;
	int times;
	int verdict; /* XDP_PASS or XDP_DROP; 0 ends the list */
};

/* The counters of one rule slot after the case; all others stay 0. */
struct stat_exp {
	bool set;
	__u32 slot;
	__u64 c[XL_STAT_NR];
};

/* A client state after the case. A window opened by the case (or listed
 * in `fresh`, when a seeded one was replaced) must have started during
 * it; a seeded window not in `fresh` must keep its start. */
struct state_exp {
	const char *src; /* NULL: none */
	__u16 port;
	bool absent;
	__u64 count[XL_MAX_LIMITS];
	__u32 fresh; /* bit i: window i restarted during the case */
};

struct tcase {
	const char *name;
	struct rule_spec rules[4];
	const char *allow[3], *deny[3]; /* CIDRs */
	__u32 ipv6_prefix; /* 0: leave xl_config at its default */
	struct seed_spec seed[2];
	struct step steps[8];
	struct stat_exp stats[3];
	struct state_exp state[4];
	int nstate; /* entries in xl_state after the case */
};

#define LIM(n, secs, act)                                \
	{                                                \
		.amount = (n), .period_ns = (secs)*NSEC, \
		.action = XL_ACT_##act                   \
	}
#define NLIM(...) \
	(sizeof((struct xl_limit[]){ __VA_ARGS__ }) / sizeof(struct xl_limit))
#define RULE(p, s, ...)                               \
	{                                             \
		.port = (p), .rule = {                \
			.nlimits = NLIM(__VA_ARGS__), \
			.slot = (s),                  \
			.limits = { __VA_ARGS__ }     \
		}                                     \
	}
#define SEND(n, v, ...)                                              \
	{                                                            \
		.pkt = { __VA_ARGS__ }, .times = (n), .verdict = (v) \
	}
#define STATS(s, ...)                                          \
	{                                                      \
		.set = true, .slot = (s), .c = { __VA_ARGS__ } \
	}
#define STATE(a, p, ...)                                          \
	{                                                         \
		.src = (a), .port = (p), .count = { __VA_ARGS__ } \
	}
#define NO_STATE(a, p)                                  \
	{                                               \
		.src = (a), .port = (p), .absent = true \
	}

/* The usual rule: port 80 in slot 3, 2 SYNs per 30 s, then drop. */
#define R80 RULE(80, 3, LIM(2, 30, DROP))
/* A rule for port 80 and one for every other port: whatever is counted
 * shows in slot 3 or slot 1023. */
#define R80_ANY R80, RULE(0, 1023, LIM(2, 30, DROP))

#define V6 .l3 = PKT_IPV6
#define QINQ .vlan = { PKT_ETH_P_8021AD, PKT_ETH_P_8021Q }

/* A packet that must pass uncounted, with rules for every port. */
#define UNCOUNTED(nm, ...)                               \
	{                                                \
		.name = nm, .rules = { R80_ANY },        \
		.steps = { SEND(3, PASS, __VA_ARGS__) }, \
	}

/* One IPv4 or IPv6 SYN to port 80 that is counted (and passes). */
#define COUNTED(nm, src, ...)                                                \
	{                                                                    \
		.name = nm, .rules = { R80_ANY },                            \
		.steps = { SEND(2, PASS, .dport = 80, __VA_ARGS__),          \
			   SEND(1, DROP, .dport = 80, __VA_ARGS__) },        \
		.stats = { STATS(3, [SEEN] = 3, [PASSED] = 2, [DROPPED] = 1, \
				 [NEW] = 1) },                               \
		.state = { STATE(src, 80, 3) }, .nstate = 1,                 \
	}

/* A frame dropped before its port is known, counted in the global slot
 * under `stat`, with rules for every port. */
#define DROPPED_EARLY(nm, stat, ...)                     \
	{                                                \
		.name = nm, .rules = { R80_ANY },        \
		.steps = { SEND(3, DROP, __VA_ARGS__) }, \
		.stats = { STATS(GLOBAL, [stat] = 3) },  \
	}

/* Three addresses of one /64 share a quota, one of another /64 does not. */
#define PER_64(nm, prefix)                                                     \
	{                                                                      \
		.name = nm, .rules = { R80 }, .ipv6_prefix = (prefix),         \
		.steps = { SEND(1, PASS, .dport = 80, V6, .src = "2001:2::1"), \
			   SEND(1, PASS, .dport = 80, V6,                      \
				.src = "2001:2::ffff:2"),                      \
			   SEND(1, DROP, .dport = 80, V6, .src = "2001:2::3"), \
			   SEND(1, PASS, .dport = 80, V6,                      \
				.src = "2001:2:0:1::1") },                     \
		.stats = { STATS(3, [SEEN] = 4, [PASSED] = 3, [DROPPED] = 1,   \
				 [NEW] = 2) },                                 \
		.state = { STATE("2001:2::", 80, 3),                           \
			   STATE("2001:2:0:1::", 80, 1),                       \
			   NO_STATE("2001:2::1", 80) },                        \
		.nstate = 2,                                                   \
	}

static const struct tcase cases[] = {
	/* Limits */
	{
		.name = "ipv4 syn within the limit",
		.rules = { R80 },
		.steps = { SEND(1, PASS, .dport = 80) },
		.stats = { STATS(3, [SEEN] = 1, [PASSED] = 1, [NEW] = 1) },
		.state = { STATE(PKT_SRC4, 80, 1) },
		.nstate = 1,
	},
	{
		.name = "ipv4 syn over the limit (2 per 30 s)",
		.rules = { R80 },
		.steps = { SEND(2, PASS, .dport = 80),
			   SEND(3, DROP, .dport = 80) },
		.stats = { STATS(
			3, [SEEN] = 5, [PASSED] = 2, [DROPPED] = 3, [NEW] = 1) },
		/* counted up to amount + 1; past it, refused without an add */
		.state = { STATE(PKT_SRC4, 80, 3) },
		.nstate = 1,
	},
	{
		.name = "amount 0 refuses every syn",
		.rules = { RULE(80, 3, LIM(0, 30, DROP)) },
		.steps = { SEND(2, DROP, .dport = 80) },
		.stats = { STATS(3, [SEEN] = 2, [DROPPED] = 2, [NEW] = 1) },
		.state = { STATE(PKT_SRC4, 80, 1) },
		.nstate = 1,
	},
	{
		.name = "action pass over the limit",
		.rules = { RULE(80, 3, LIM(1, 30, PASS)) },
		.steps = { SEND(3, PASS, .dport = 80) },
		.stats = { STATS(3, [SEEN] = 3, [PASSED] = 1, [OVER_PASSED] = 2,
				 [NEW] = 1) },
		.state = { STATE(PKT_SRC4, 80, 2) },
		.nstate = 1,
	},
	{
		.name = "each source has its own state",
		.rules = { R80 },
		.steps = { SEND(2, PASS, .dport = 80),
			   SEND(1, DROP, .dport = 80),
			   SEND(2, PASS, .dport = 80, .src = "198.18.0.2"),
			   SEND(1, PASS, .dport = 80, V6) },
		.stats = { STATS(
			3, [SEEN] = 6, [PASSED] = 5, [DROPPED] = 1, [NEW] = 3) },
		.state = { STATE(PKT_SRC4, 80, 3), STATE("198.18.0.2", 80, 2),
			   STATE(KEY6, 80, 1) },
		.nstate = 3,
	},
	{
		.name = "ipv6 syn",
		.rules = { R80 },
		.steps = { SEND(2, PASS, .dport = 80, V6),
			   SEND(1, DROP, .dport = 80, V6) },
		.stats = { STATS(
			3, [SEEN] = 3, [PASSED] = 2, [DROPPED] = 1, [NEW] = 1) },
		.state = { STATE(KEY6, 80, 3) },
		.nstate = 1,
	},
	{
		.name = "ecn-setup syn (syn+ece+cwr) is a syn",
		.rules = { R80 },
		.steps = { SEND(1, PASS, .dport = 80,
				.tcp_flags = PKT_TCP_SYN | PKT_TCP_ECE |
					     PKT_TCP_CWR) },
		.stats = { STATS(3, [SEEN] = 1, [PASSED] = 1, [NEW] = 1) },
		.state = { STATE(PKT_SRC4, 80, 1) },
		.nstate = 1,
	},

	/* Several limits on one port (SEMANTICS.md 2: a hit that fits all
	 * is charged to all, a refused one only to the limits it breaches) */
	{
		/* SEMANTICS.md §4: polite 429s first, then line-rate drops.
		 * A hit over the pass limit gets through, so it counts
		 * against the drop limit too. */
		.name = "two limits: soft pass limit, then the hard drop limit",
		.rules = { RULE(80, 3, LIM(3, 10, PASS), LIM(5, 60, DROP)) },
		.steps = { SEND(3, PASS, .dport = 80),
			   SEND(2, PASS, .dport = 80),
			   SEND(2, DROP, .dport = 80) },
		.stats = { STATS(3, [SEEN] = 7, [PASSED] = 3, [OVER_PASSED] = 2,
				 [DROPPED] = 2, [NEW] = 1) },
		/* limit 0 stops at 4, limit 1 at 6: amount + 1 each */
		.state = { STATE(PKT_SRC4, 80, 4, 6) },
		.nstate = 1,
	},
	{
		.name = "two limits: only the drop limit breached",
		.rules = { RULE(80, 3, LIM(3, 10, PASS), LIM(5, 60, DROP)) },
		.seed = { { PKT_SRC4, 80, { { 11, 3 }, { 20, 5 } } } },
		.steps = { SEND(2, DROP, .dport = 80) },
		.stats = { STATS(3, [SEEN] = 2, [DROPPED] = 2) },
		/* window 0 had expired, and is not charged: unchanged;
		 * window 1 takes the first SYN, then is past its amount */
		.state = { STATE(PKT_SRC4, 80, 3, 6) },
		.nstate = 1,
	},
	{
		.name = "two limits: both breached, drop wins",
		.rules = { RULE(80, 3, LIM(3, 10, PASS), LIM(5, 60, DROP)) },
		.seed = { { PKT_SRC4, 80, { { 1, 3 }, { 1, 5 } } } },
		.steps = { SEND(1, DROP, .dport = 80) },
		.stats = { STATS(3, [SEEN] = 1, [DROPPED] = 1) },
		.state = { STATE(PKT_SRC4, 80, 4, 6) },
		.nstate = 1,
	},
	{
		.name = "two limits: only the pass limit breached",
		.rules = { RULE(80, 3, LIM(3, 10, PASS), LIM(5, 60, DROP)) },
		.seed = { { PKT_SRC4, 80, { { 1, 3 }, { 1, 3 } } } },
		.steps = { SEND(1, PASS, .dport = 80) },
		.stats = { STATS(3, [SEEN] = 1, [OVER_PASSED] = 1) },
		/* let through, so charged to the drop limit as well */
		.state = { STATE(PKT_SRC4, 80, 4, 4) },
		.nstate = 1,
	},
	{
		.name = "four limits: a fitting hit is charged to all",
		.rules = { RULE(80, 3, LIM(10, 10, PASS), LIM(20, 60, PASS),
				LIM(30, 3600, DROP), LIM(2, 86400, DROP)) },
		.steps = { SEND(2, PASS, .dport = 80),
			   SEND(1, DROP, .dport = 80) },
		.stats = { STATS(
			3, [SEEN] = 3, [PASSED] = 2, [DROPPED] = 1, [NEW] = 1) },
		.state = { STATE(PKT_SRC4, 80, 2, 2, 2, 3) },
		.nstate = 1,
	},

	/* Windows against the clock (CLOCK_MONOTONIC_COARSE = bpf_ktime_get_coarse_ns) */
	{
		.name = "an expired window opens a new one",
		.rules = { R80 },
		.seed = { { PKT_SRC4, 80, { { 31, 2 } } } },
		.steps = { SEND(2, PASS, .dport = 80),
			   SEND(1, DROP, .dport = 80) },
		.stats = { STATS(3, [SEEN] = 3, [PASSED] = 2, [DROPPED] = 1) },
		.state = { { .src = PKT_SRC4,
			     .port = 80,
			     .count = { 3 },
			     .fresh = 1 } },
		.nstate = 1,
	},
	{
		.name = "an open window goes on counting",
		.rules = { R80 },
		.seed = { { PKT_SRC4, 80, { { 20, 1 } } } },
		.steps = { SEND(1, PASS, .dport = 80),
			   SEND(1, DROP, .dport = 80) },
		.stats = { STATS(3, [SEEN] = 2, [PASSED] = 1, [DROPPED] = 1) },
		.state = { STATE(PKT_SRC4, 80, 3) },
		.nstate = 1,
	},

	{
		/* The 24-bit count stops at amount + 1 and never carries
		 * into the start bits (the seeded start must be kept). */
		.name = "the largest amount: a full window stays full",
		.rules = { RULE(80, 3, LIM(XL_AMOUNT_MAX, 30, DROP)) },
		.seed = { { PKT_SRC4, 80, { { 1, XL_AMOUNT_MAX - 1 } } } },
		.steps = { SEND(1, PASS, .dport = 80),
			   SEND(4, DROP, .dport = 80) },
		.stats = { STATS(3, [SEEN] = 5, [PASSED] = 1, [DROPPED] = 4) },
		.state = { STATE(PKT_SRC4, 80, XL_AMOUNT_MAX + 1) },
		.nstate = 1,
	},

	/* Rules by port */
	{
		.name = "syn to a port without a rule",
		.rules = { R80 },
		.steps = { SEND(3, PASS, .dport = 81),
			   SEND(1, PASS, .dport = 81, V6) },
	},
	{
		.name = "port 0 covers ports without a rule of their own",
		.rules = { R80, RULE(0, 1023, LIM(1, 30, DROP)) },
		.steps = { SEND(1, PASS, .dport = 8080),
			   SEND(1, DROP, .dport = 8080),
			   SEND(1, PASS, .dport = 8081),
			   SEND(2, PASS, .dport = 80),
			   SEND(1, DROP, .dport = 80) },
		.stats = { STATS(1023, [SEEN] = 3, [PASSED] = 2, [DROPPED] = 1,
				 [NEW] = 2),
			   STATS(3, [SEEN] = 3, [PASSED] = 2, [DROPPED] = 1,
				 [NEW] = 1) },
		.state = { STATE(PKT_SRC4, 8080, 2), STATE(PKT_SRC4, 8081, 1),
			   STATE(PKT_SRC4, 80, 3), NO_STATE(PKT_SRC4, 0) },
		.nstate = 3,
	},

	/* Allow and deny lists */
	{
		.name = "allow-listed ipv4 cidr",
		.rules = { R80 },
		.allow = { "198.18.0.0/24" },
		.steps = { SEND(3, PASS, .dport = 80, .src = "198.18.0.9"),
			   SEND(1, PASS, .dport = 80, .src = "198.18.1.9") },
		.stats = { STATS(
			3, [SEEN] = 4, [ALLOWED] = 3, [PASSED] = 1, [NEW] = 1) },
		.state = { NO_STATE("198.18.0.9", 80),
			   STATE("198.18.1.9", 80, 1) },
		.nstate = 1,
	},
	{
		.name = "allow-listed ipv6 cidr",
		.rules = { R80 },
		.allow = { "2001:2:0:a::/64" },
		.steps = { SEND(3, PASS, .dport = 80, V6,
				.src = "2001:2:0:a::5"),
			   SEND(1, PASS, .dport = 80, V6,
				.src = "2001:2:0:b::5") },
		.stats = { STATS(
			3, [SEEN] = 4, [ALLOWED] = 3, [PASSED] = 1, [NEW] = 1) },
		.state = { NO_STATE("2001:2:0:a::5", 80),
			   STATE("2001:2:0:b::", 80, 1) },
		.nstate = 1,
	},
	{
		.name = "deny-listed ipv4 cidr",
		.rules = { R80 },
		.deny = { "198.18.0.0/28" },
		.steps = { SEND(2, DROP, .dport = 80, .src = "198.18.0.3"),
			   SEND(1, PASS, .dport = 80, .src = "198.18.0.16") },
		.stats = { STATS(
			3, [SEEN] = 3, [DENIED] = 2, [PASSED] = 1, [NEW] = 1) },
		.state = { NO_STATE("198.18.0.3", 80),
			   STATE("198.18.0.16", 80, 1) },
		.nstate = 1,
	},
	{
		.name = "deny-listed ipv6 cidr",
		.rules = { R80 },
		.deny = { "2001:2:0:bad::/64" },
		.steps = { SEND(2, DROP, .dport = 80, V6,
				.src = "2001:2:0:bad::1"),
			   SEND(1, PASS, .dport = 80, V6,
				.src = "2001:2:0:bae::1") },
		.stats = { STATS(
			3, [SEEN] = 3, [DENIED] = 2, [PASSED] = 1, [NEW] = 1) },
		.state = { STATE("2001:2:0:bae::", 80, 1) },
		.nstate = 1,
	},
	{
		.name = "deny wins over allow",
		.rules = { R80 },
		.allow = { "198.18.0.0/15", "2001:2::/48" },
		.deny = { "198.18.0.7/32", "2001:2::7/128" },
		.steps = { SEND(1, DROP, .dport = 80, .src = "198.18.0.7"),
			   SEND(1, PASS, .dport = 80, .src = "198.18.0.8"),
			   SEND(1, DROP, .dport = 80, V6, .src = "2001:2::7"),
			   SEND(1, PASS, .dport = 80, V6, .src = "2001:2::8") },
		.stats = { STATS(3, [SEEN] = 4, [DENIED] = 2, [ALLOWED] = 2) },
	},
	/* The deny list applies to every new connection: a port without a
	 * rule drops a denied source too (counted in the global slot), and
	 * passes the others, uncounted. The allow list has nothing to do
	 * there. */
	{
		.name = "deny applies to ports without a rule",
		.rules = { R80 },
		.allow = { "198.18.0.9/32" },
		.deny = { "198.18.0.0/29", "2001:2::/64" },
		.steps = { SEND(2, DROP, .dport = 81),
			   SEND(1, DROP, V6, .dport = 443),
			   SEND(1, PASS, .dport = 81, .src = "198.18.0.9"),
			   SEND(1, PASS, V6, .dport = 81,
				.src = "2001:2:0:1::1"),
			   SEND(1, DROP, .dport = 80) },
		.stats = { STATS(GLOBAL, [DENIED] = 3),
			   STATS(3, [SEEN] = 1, [DENIED] = 1) },
	},
	{
		.name = "deny applies with no rule at all",
		.deny = { "198.18.0.1/32", "2001:2::1/128" },
		.steps = { SEND(1, DROP, .dport = 22),
			   SEND(1, DROP, V6, .dport = 22),
			   SEND(1, PASS, .dport = 22, .src = "198.18.0.2"),
			   SEND(1, PASS, .dport = 22,
				.tcp_flags = PKT_TCP_ACK) },
		.stats = { STATS(GLOBAL, [DENIED] = 2) },
	},

	/* The IPv6 prefix of the state key (xl_config.ipv6_prefix) */
	/* /64 set, and never set (the default) */
	PER_64("ipv6 prefix 64: one /64 is one client", 64),
	PER_64("ipv6 default prefix: one /64 is one client", 0),
	{
		.name = "ipv6 prefix 128: each address is a client",
		.rules = { R80 },
		.ipv6_prefix = 128,
		.steps = { SEND(1, PASS, .dport = 80, V6, .src = "2001:2::1"),
			   SEND(1, PASS, .dport = 80, V6,
				.src = "2001:2::ffff:2"),
			   SEND(1, PASS, .dport = 80, V6, .src = "2001:2::3"),
			   SEND(1, PASS, .dport = 80, V6,
				.src = "2001:2:0:1::1") },
		.stats = { STATS(3, [SEEN] = 4, [PASSED] = 4, [NEW] = 4) },
		.state = { STATE("2001:2::1", 80, 1),
			   STATE("2001:2::ffff:2", 80, 1),
			   NO_STATE("2001:2::", 80) },
		.nstate = 4,
	},
	{
		.name = "ipv6 prefix 60 masks inside a byte",
		.rules = { R80 },
		.ipv6_prefix = 60,
		.steps = { SEND(1, PASS, .dport = 80, V6,
				.src = "2001:2:0:f::1"),
			   SEND(1, PASS, .dport = 80, V6, .src = "2001:2::2"),
			   SEND(1, PASS, .dport = 80, V6,
				.src = "2001:2:0:10::1") },
		.stats = { STATS(3, [SEEN] = 3, [PASSED] = 3, [NEW] = 2) },
		.state = { STATE("2001:2::", 80, 2),
			   STATE("2001:2:0:10::", 80, 1) },
		.nstate = 2,
	},
	{
		.name = "ipv6 prefix leaves ipv4 sources whole",
		.rules = { R80 },
		.ipv6_prefix = 64,
		.steps = { SEND(2, PASS, .dport = 80),
			   SEND(2, PASS, .dport = 80, .src = "198.18.0.2") },
		.stats = { STATS(3, [SEEN] = 4, [PASSED] = 4, [NEW] = 2) },
		.state = { STATE(PKT_SRC4, 80, 2), STATE("198.18.0.2", 80, 2) },
		.nstate = 2,
	},

	/* Encapsulations and headers that a SYN may carry */
	COUNTED("one vlan tag (802.1q)", PKT_SRC4, .vlan = { PKT_ETH_P_8021Q }),
	COUNTED("two vlan tags (802.1ad + 802.1q)", PKT_SRC4, QINQ),
	COUNTED("two vlan tags, ipv6", KEY6, QINQ, V6),
	COUNTED("two 802.1q tags", PKT_SRC4,
		.vlan = { PKT_ETH_P_8021Q, PKT_ETH_P_8021Q }),
	COUNTED("ipv4 options (ihl 6)", PKT_SRC4, .ip_optlen = 4),
	COUNTED("ipv4 options (ihl 15)", PKT_SRC4, .ip_optlen = 40),
	COUNTED("ipv4 options under two vlan tags", PKT_SRC4, QINQ,
		.ip_optlen = 12),
	COUNTED("ipv4 first fragment (offset 0, MF)", PKT_SRC4,
		.more_frags = true),
	COUNTED("ipv6 hop-by-hop", KEY6, V6, .ext = { PKT_EXT_HOP }),
	COUNTED("ipv6 routing", KEY6, V6, .ext = { PKT_EXT_ROUTING }),
	COUNTED("ipv6 destination options", KEY6, V6, .ext = { PKT_EXT_DEST }),
	COUNTED("ipv6 fragment header, offset 0", KEY6, V6,
		.ext = { PKT_EXT_FRAG }, .more_frags = true),
	COUNTED("ipv6 hop, dest, routing, fragment, dest", KEY6, V6,
		.ext = { PKT_EXT_HOP, PKT_EXT_DEST, PKT_EXT_ROUTING,
			 PKT_EXT_FRAG, PKT_EXT_DEST }),
	COUNTED("ipv6 six extension headers (XL_IPV6_EXT_MAX)", KEY6, V6,
		.ext = { PKT_EXT_HOP, PKT_EXT_DEST, PKT_EXT_ROUTING,
			 PKT_EXT_DEST, PKT_EXT_ROUTING, PKT_EXT_FRAG }),
	COUNTED("ipv6 extension headers under two vlan tags", KEY6, V6, QINQ,
		.ext = { PKT_EXT_HOP, PKT_EXT_FRAG }),
	COUNTED("ipv6 authentication header", KEY6, V6, .ext = { PKT_EXT_AH }),
	COUNTED("ipv6 hop-by-hop, ah, destination options", KEY6, V6,
		.ext = { PKT_EXT_HOP, PKT_EXT_AH, PKT_EXT_DEST }),
	COUNTED("ipv4 first fragment padded to 60 bytes", PKT_SRC4,
		.more_frags = true, .pad = true),

	/* Tiny first fragments (RFC 1858): the kernel reassembles the SYN
	 * from them, so they are dropped on a ruled port, and always when
	 * they do not hold the port. */
	{
		.name = "ipv4 tiny first fragment (8 bytes of tcp)",
		.rules = { R80_ANY },
		.steps = { SEND(3, DROP, .dport = 80, .more_frags = true,
				.l4_cut = 8) },
		.stats = { STATS(3, [FRAG_DROPPED] = 3) },
	},
	{
		.name = "ipv4 tiny first fragment (16 bytes), padded to 60",
		.rules = { R80_ANY },
		.steps = { SEND(2, DROP, .dport = 8080, .more_frags = true,
				.l4_cut = 16, .pad = true) },
		.stats = { STATS(1023, [FRAG_DROPPED] = 2) },
	},
	{
		.name = "ipv4 tiny first fragment to a port without a rule",
		.rules = { R80 },
		.steps = { SEND(2, PASS, .dport = 81, .more_frags = true,
				.l4_cut = 8) },
	},
	{
		/* The kernel may reassemble a SYN from it: a denied source's
		 * is dropped on any port. */
		.name = "tiny first fragment from a denied source, port without a rule",
		.rules = { R80 },
		.deny = { "198.18.0.1/32" },
		.steps = { SEND(2, DROP, .dport = 81, .more_frags = true,
				.l4_cut = 8),
			   SEND(1, PASS, .dport = 81, .more_frags = true,
				.l4_cut = 8, .src = "198.18.0.2") },
		.stats = { STATS(GLOBAL, [DENIED] = 2) },
	},
	DROPPED_EARLY("ipv4 first fragment with 2 bytes of tcp (no port)",
		      FRAG_DROPPED, .dport = 81, .more_frags = true,
		      .l4_cut = 2, .pad = true),
	DROPPED_EARLY("ipv4 first fragment with no tcp", FRAG_DROPPED,
		      .dport = 80, .more_frags = true, .l4_cut = 255),
	{
		/* No rule at all: a fragment without its port is dropped
		 * anyway, it could be for any port. */
		.name = "ipv4 fragment without a port, no rules",
		.steps = { SEND(1, DROP, .more_frags = true, .l4_cut = 2) },
		.stats = { STATS(GLOBAL, [FRAG_DROPPED] = 1) },
	},
	{
		.name = "ipv6 tiny first fragment (8 bytes of tcp)",
		.rules = { R80_ANY },
		.steps = { SEND(3, DROP, V6, .dport = 80,
				.ext = { PKT_EXT_FRAG }, .more_frags = true,
				.l4_cut = 8) },
		.stats = { STATS(3, [FRAG_DROPPED] = 3) },
	},
	{
		/* An atomic fragment header inside the first fragment: the
		 * datagram is still fragmented. */
		.name = "ipv6 tiny first fragment past an atomic fragment header",
		.rules = { R80_ANY },
		.steps = { SEND(3, DROP, V6, .dport = 80,
				.ext = { PKT_EXT_FRAG, PKT_EXT_ATOMIC },
				.more_frags = true, .l4_cut = 8) },
		.stats = { STATS(3, [FRAG_DROPPED] = 3) },
	},
	DROPPED_EARLY("ipv6 first fragment with no tcp", FRAG_DROPPED, V6,
		      .dport = 80, .ext = { PKT_EXT_HOP, PKT_EXT_FRAG },
		      .more_frags = true, .l4_cut = 255),
	/* The kernel trims a frame to its IP length: a first fragment's
	 * chain that goes on past its payload goes on in the next fragment,
	 * whatever trails the frame (here a destination options header
	 * before UDP, where the next fragment may hold one before TCP). */
	DROPPED_EARLY("ipv6 first fragment whose chain goes on past its payload",
		      FRAG_DROPPED, V6, .dport = 80, .l4 = PKT_UDP,
		      .ext = { PKT_EXT_FRAG, PKT_EXT_DEST, PKT_EXT_DEST },
		      .more_frags = true, .ip_len = 8 + 16),
	DROPPED_EARLY("ipv6 first fragment ending inside its chain",
		      FRAG_DROPPED, V6, .dport = 80, .l4 = PKT_UDP,
		      .ext = { PKT_EXT_FRAG, PKT_EXT_DEST, PKT_EXT_DEST },
		      .more_frags = true, .ip_len = 8 + 16 + 1),
	UNCOUNTED("ipv4 tiny first fragment of udp", .dport = 80, .l4 = PKT_UDP,
		  .more_frags = true, .l4_cut = 4),
	/* Not a fragment: the kernel drops a TCP header cut short. */
	UNCOUNTED("ipv4 tcp header cut short, not a fragment", .dport = 80,
		  .l4_cut = 8, .pad = true),

	/* Deeper than the parser walks: the kernel does walk it */
	DROPPED_EARLY("three vlan tags", DEEP_DROPPED, .dport = 80,
		      .vlan = { PKT_ETH_P_8021AD, PKT_ETH_P_8021Q,
				PKT_ETH_P_8021Q }),
	DROPPED_EARLY("three vlan tags, ipv6", DEEP_DROPPED, V6, .dport = 443,
		      .vlan = { PKT_ETH_P_8021Q, PKT_ETH_P_8021Q,
				PKT_ETH_P_8021Q }),
	DROPPED_EARLY("ipv6 seven extension headers", DEEP_DROPPED, V6,
		      .dport = 80,
		      .ext = { PKT_EXT_HOP, PKT_EXT_DEST, PKT_EXT_ROUTING,
			       PKT_EXT_DEST, PKT_EXT_ROUTING, PKT_EXT_DEST,
			       PKT_EXT_FRAG }),
	DROPPED_EARLY("ipv6 seven extension headers before udp", DEEP_DROPPED,
		      V6, .dport = 80, .l4 = PKT_UDP,
		      .ext = { PKT_EXT_HOP, PKT_EXT_DEST, PKT_EXT_ROUTING,
			       PKT_EXT_DEST, PKT_EXT_AH, PKT_EXT_DEST,
			       PKT_EXT_DEST }),

	/* Frames that are not a new connection: pass, uncounted */
	UNCOUNTED("ipv4 non-first fragment", .dport = 80, .frag = 185),
	UNCOUNTED("ipv4 last fragment, offset 1", .dport = 80, .frag = 1),
	UNCOUNTED("ipv6 non-first fragment", V6, .dport = 80,
		  .ext = { PKT_EXT_FRAG }, .frag = 185, .more_frags = true),
	UNCOUNTED("ipv6 non-first fragment after hop-by-hop", V6, .dport = 80,
		  .ext = { PKT_EXT_HOP, PKT_EXT_FRAG }, .frag = 1),
	UNCOUNTED("syn-ack", .dport = 80,
		  .tcp_flags = PKT_TCP_SYN | PKT_TCP_ACK),
	UNCOUNTED("rst", .dport = 80, .tcp_flags = PKT_TCP_RST),
	UNCOUNTED("ack", .dport = 80, .tcp_flags = PKT_TCP_ACK),
	UNCOUNTED("fin-ack", .dport = 80,
		  .tcp_flags = PKT_TCP_FIN | PKT_TCP_ACK),
	UNCOUNTED("ipv6 syn-ack", V6, .dport = 80,
		  .tcp_flags = PKT_TCP_SYN | PKT_TCP_ACK),
	UNCOUNTED("udp to the port", .dport = 80, .l4 = PKT_UDP),
	UNCOUNTED("ipv6 udp to the port", V6, .dport = 80, .l4 = PKT_UDP),
	UNCOUNTED("arp", .l3 = PKT_ARP),
	UNCOUNTED("arp under two vlan tags", .l3 = PKT_ARP, QINQ),

	/* Malformed */
	/* Read with ihl 4, TCP would start 4 bytes early: its flags byte
	 * would be byte 1 of ack_seq, here a SYN, to any port. */
	UNCOUNTED("ipv4 ihl 4", .dport = 80, .bad_ihl = 4,
		  .ack_seq = PKT_TCP_SYN << 16),
	UNCOUNTED("ipv4 ihl 0", .dport = 80, .bad_ihl = 16),
	UNCOUNTED("ipv4 ihl 15 beyond the packet", .dport = 80, .bad_ihl = 15),
	UNCOUNTED("ipv4 ihl 4 bytes beyond the packet", .dport = 80,
		  .ip_optlen = 4, .bad_ihl = 12),
	UNCOUNTED("ipv4 ihl covering the tcp header", .dport = 80,
		  .ip_optlen = 4, .bad_ihl = 11),
	UNCOUNTED("version 6 in an ipv4 frame", .dport = 80, .bad_version = 6),
	UNCOUNTED("version 4 in an ipv6 frame", V6, .dport = 80,
		  .bad_version = 4),
	UNCOUNTED("ipv6 hop-by-hop length past the end", V6, .dport = 80,
		  .ext = { PKT_EXT_HOP }, .bad_ext_len = 255),
	UNCOUNTED("ipv6 hop-by-hop 4 bytes past the end", V6, .dport = 80,
		  .ext = { PKT_EXT_HOP }, .bad_ext_len = 3),
	UNCOUNTED("ipv6 routing length past the end", V6, .dport = 80,
		  .ext = { PKT_EXT_ROUTING, PKT_EXT_FRAG }, .bad_ext_len = 255),
	UNCOUNTED("ipv6 destination options length past the end", V6,
		  .dport = 80, .ext = { PKT_EXT_DEST }, .bad_ext_len = 255),
};

/* ---- the object, its maps and its pins ---------------------------------- */

static struct xlimit_bpf *skel;
static int ncpus;
static char pin_dir[64];
static char pin_paths[17][128]; /* for the signal handler: no allocation */
static const char *const map_names[17] = {
	XL_STR(XL_MAP_RULES),  XL_STR(XL_MAP_STATE),  XL_STR(XL_MAP_ALLOW),
	XL_STR(XL_MAP_DENY),   XL_STR(XL_MAP_STATS),  XL_STR(XL_MAP_CONFIG),
	XL_STR(XL_MAP_OVER),   XL_STR(XL_MAP_VCACHE), XL_STR(XL_MAP_TOTAL),
	XL_STR(XL_MAP_KNOWN),  XL_STR(XL_MAP_SYNC),   XL_STR(XL_MAP_SEEN),
	XL_STR(XL_MAP_EVENTS), XL_STR(XL_MAP_ROUTES), XL_STR(XL_MAP_RSTATE),
	XL_STR(XL_MAP_PORTS),  XL_STR(XL_MAP_RSLOTS),
};

enum prog { PROG_XDP, PROG_TC };
static const char *const prog_names[] = { "xdp", "tc" };

static int fd_rules, fd_state, fd_allow, fd_deny, fd_stats, fd_config, fd_over;
static int fd_total, fd_known;
/* The rules' maps, for xl_rule_write() (user/lib/rules.c). */
static struct xl_maps rule_maps;

/* Every slot of xl_stats, on every CPU, for the batch operations. */
static __u32 slot_keys[XL_STATS_SLOTS];
static struct xl_stats *stats_buf;

static void remove_pins(void)
{
	size_t i;

	if (!pin_dir[0])
		return;
	for (i = 0; i < ARRAY_SIZE(pin_paths); i++)
		unlink(pin_paths[i]);
	rmdir(pin_dir);
}

static void on_signal(int sig)
{
	remove_pins();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Removes the pin directories of earlier runs whose process is gone. */
static void remove_stale_pins(void)
{
	struct dirent *de;
	DIR *d = opendir(BPFFS);

	if (!d)
		return;
	while ((de = readdir(d))) {
		char path[PATH_MAX];
		struct dirent *pe;
		char *end;
		long pid;
		DIR *pd;

		if (strncmp(de->d_name, PIN_PREFIX, strlen(PIN_PREFIX)))
			continue;
		pid = strtol(de->d_name + strlen(PIN_PREFIX), &end, 10);
		if (*end || pid <= 0)
			continue;
		/* A live process other than this one owns it. */
		if (pid != getpid() && (!kill(pid, 0) || errno != ESRCH))
			continue;
		snprintf(path, sizeof(path), BPFFS "/%s", de->d_name);
		pd = opendir(path);
		if (!pd)
			continue;
		while ((pe = readdir(pd))) {
			char file[PATH_MAX + 256];

			if (pe->d_name[0] == '.')
				continue;
			snprintf(file, sizeof(file), "%s/%s", path, pe->d_name);
			unlink(file);
		}
		closedir(pd);
		if (!rmdir(path))
			fprintf(stderr, "test_bpf: removed stale %s\n", path);
	}
	closedir(d);
}

static int print_libbpf(enum libbpf_print_level level, const char *fmt,
			va_list ap)
{
	if (level > LIBBPF_WARN)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

/* Mounts the bpffs if needed, loads the object with its maps pinned in a
 * directory of its own. Says what is wrong when it cannot. */
static bool setup(void)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = pin_dir);
	struct statfs sfs;
	size_t i;
	int err;

	if (geteuid() != 0)
		fprintf(stderr, "test_bpf: not root: loading BPF will fail\n");
	if (statfs(BPFFS, &sfs) || sfs.f_type != BPF_FS_MAGIC) {
		if (mount("bpf", BPFFS, "bpf", 0, NULL)) {
			fprintf(stderr,
				"test_bpf: no bpffs at " BPFFS
				" and mounting one failed: %s\n",
				strerror(errno));
			return false;
		}
	}
	remove_stale_pins();
	snprintf(pin_dir, sizeof(pin_dir), BPFFS "/" PIN_PREFIX "%d",
		 (int)getpid());
	for (i = 0; i < ARRAY_SIZE(pin_paths); i++)
		snprintf(pin_paths[i], sizeof(pin_paths[i]), "%s/%s", pin_dir,
			 map_names[i]);
	if (mkdir(pin_dir, 0700)) {
		fprintf(stderr, "test_bpf: mkdir %s: %s\n", pin_dir,
			strerror(errno));
		pin_dir[0] = '\0';
		return false;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);

	skel = xlimit_bpf__open_opts(&oo);
	if (!skel) {
		fprintf(stderr, "test_bpf: open the BPF object: %s\n",
			strerror(errno));
		return false;
	}
	err = xlimit_bpf__load(skel);
	if (err) {
		fprintf(stderr,
			"test_bpf: load the BPF object: %s (needs root, "
			"CAP_BPF and CAP_NET_ADMIN)\n",
			strerror(-err));
		return false;
	}
	ncpus = libbpf_num_possible_cpus();
	if (ncpus <= 0) {
		fprintf(stderr, "test_bpf: count the possible CPUs: %s\n",
			strerror(-ncpus));
		return false;
	}
	fd_rules = bpf_map__fd(skel->maps.xl_rules);
	fd_state = bpf_map__fd(skel->maps.xl_state);
	fd_allow = bpf_map__fd(skel->maps.xl_allow);
	fd_deny = bpf_map__fd(skel->maps.xl_deny);
	fd_stats = bpf_map__fd(skel->maps.xl_stats);
	fd_config = bpf_map__fd(skel->maps.xl_config);
	fd_over = bpf_map__fd(skel->maps.xl_over);
	fd_total = bpf_map__fd(skel->maps.xl_total);
	fd_known = bpf_map__fd(skel->maps.xl_known);
	xl_maps_of(skel->obj, &rule_maps);
	for (i = 0; i < XL_STATS_SLOTS; i++)
		slot_keys[i] = i;
	stats_buf = calloc((size_t)XL_STATS_SLOTS * ncpus, sizeof(*stats_buf));
	return stats_buf;
}

static void teardown(void)
{
	if (skel)
		bpf_object__unpin_maps(skel->obj, NULL);
	xlimit_bpf__destroy(skel);
	skel = NULL;
	free(stats_buf);
	stats_buf = NULL;
	remove_pins();
}

static __u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (__u64)ts.tv_sec * NSEC + ts.tv_nsec;
}

/* An address as the maps hold it: IPv4 v4-mapped, IPv6 as it is. */
static bool map_addr(const char *s, __u8 addr[16])
{
	memset(addr, 0, 16);
	if (strchr(s, ':'))
		return inet_pton(AF_INET6, s, addr) == 1;
	addr[10] = addr[11] = 0xff;
	return inet_pton(AF_INET, s, addr + 12) == 1;
}

static bool lpm_key(const char *cidr, struct xl_lpm_key *k)
{
	char buf[64];
	char *slash;
	bool v6;

	snprintf(buf, sizeof(buf), "%s", cidr);
	slash = strchr(buf, '/');
	if (!slash)
		return false;
	*slash = '\0';
	v6 = strchr(buf, ':');
	memset(k, 0, sizeof(*k));
	k->prefixlen = atoi(slash + 1) + (v6 ? 0 : 96);
	return map_addr(buf, k->addr) && k->prefixlen <= 128;
}

static bool state_key(const char *src, __u16 port, struct xl_key *k)
{
	memset(k, 0, sizeof(*k));
	k->port = port;
	return map_addr(src, k->addr);
}

/* Empties a hash or LPM map. */
static int clear_map(int fd)
{
	__u8 key[64];
	int n = 0;

	while (!bpf_map_get_next_key(fd, NULL, key)) {
		if (bpf_map_delete_elem(fd, key) || ++n > 1000000)
			return -1;
	}
	return errno == ENOENT ? 0 : -1;
}

static int count_keys(int fd)
{
	__u8 key[64], next[64];
	void *prev = NULL;
	int n = 0;

	while (!bpf_map_get_next_key(fd, prev, next)) {
		memcpy(key, next, sizeof(key));
		prev = key;
		n++;
	}
	return n;
}

/* Zeroes every slot of xl_stats, or reads them all into stats_buf (per
 * slot, ncpus values), in one call. */
static int stats_batch(bool zero)
{
	LIBBPF_OPTS(bpf_map_batch_opts, bo);
	__u32 count = XL_STATS_SLOTS, next;
	int err;

	if (zero) {
		memset(stats_buf, 0,
		       (size_t)XL_STATS_SLOTS * ncpus * sizeof(*stats_buf));
		err = bpf_map_update_batch(fd_stats, slot_keys, stats_buf,
					   &count, &bo);
	} else {
		err = bpf_map_lookup_batch(fd_stats, NULL, &next, slot_keys,
					   stats_buf, &count, &bo);
		if (err == -ENOENT) /* read up to the last slot */
			err = 0;
	}
	if (!err && count != XL_STATS_SLOTS)
		err = -EIO;
	return err;
}

/* Zeroes every entry of an array map of n values of `size` bytes, in one
 * call. */
static int clear_array(int fd, __u32 n, size_t size)
{
	LIBBPF_OPTS(bpf_map_batch_opts, bo);
	__u32 *keys = calloc(n, sizeof(*keys)), count = n, i;
	void *zero = calloc(n, size);
	int err = -ENOMEM;

	if (keys && zero) {
		for (i = 0; i < n; i++)
			keys[i] = i;
		err = bpf_map_update_batch(fd, keys, zero, &count, &bo);
	}
	free(keys);
	free(zero);
	return err;
}

/* Empties xl_over. */
static int clear_over(void)
{
	return clear_array(fd_over, XL_OVER_SLOTS, sizeof(struct xl_over));
}

/* A new generation of the config, as the CLI writes after every change:
 * the verdicts cached under the last one are not used. */
static bool bump_gen(void)
{
	struct xl_config cfg;
	__u32 k0 = 0;

	return ASSERT_OK(bpf_map_lookup_elem(fd_config, &k0, &cfg),
			 "read config") &&
	       (cfg.gen++,
		ASSERT_OK(bpf_map_update_elem(fd_config, &k0, &cfg, 0),
			  "bump the generation"));
}

static bool reset_maps(void)
{
	static __u32 gen;
	struct xl_config cfg = { .gen = ++gen };
	bool ok = true;
	__u32 k0 = 0;

	ok = ok && ASSERT_OK(clear_map(fd_rules), "clear rules");
	ok = ok && ASSERT_OK(clear_array(rule_maps.fd[XL_M_PORTS], XL_PORTS,
					 sizeof(struct xl_port)),
			     "clear xl_ports");
	ok = ok && ASSERT_OK(clear_map(fd_state), "clear state");
	ok = ok && ASSERT_OK(clear_map(fd_allow), "clear allow");
	ok = ok && ASSERT_OK(clear_map(fd_deny), "clear deny");
	ok = ok && ASSERT_OK(stats_batch(true), "zero stats");
	ok = ok && ASSERT_OK(clear_over(), "clear xl_over");
	ok = ok && ASSERT_OK(clear_array(fd_total, XL_MAX_RULES,
					 sizeof(struct xl_total)),
			     "clear xl_total");
	ok = ok && ASSERT_OK(clear_map(fd_known), "clear xl_known");
	ok = ok && ASSERT_OK(bpf_map_update_elem(fd_config, &k0, &cfg, 0),
			     "reset config");
	return ok;
}

static bool set_rule(__u16 port, const struct xl_rule *r)
{
	return ASSERT_OK(xl_rule_write(&rule_maps, port, r), "add rule");
}

static bool set_list(int fd, const char *cidr)
{
	struct xl_lpm_key k;
	__u32 one = 1;

	if (!ASSERT_TRUE(lpm_key(cidr, &k), cidr))
		return false;
	return ASSERT_OK(bpf_map_update_elem(fd, &k, &one, BPF_NOEXIST), cidr);
}

static bool set_prefix(__u32 prefix)
{
	struct xl_config cfg = {};
	__u32 k0 = 0;

	bpf_map_lookup_elem(fd_config, &k0, &cfg);
	cfg.ipv6_prefix = prefix;
	return ASSERT_OK(bpf_map_update_elem(fd_config, &k0, &cfg, 0),
			 "set ipv6 prefix");
}

/* The counters of one slot, summed over the CPUs. */
static bool read_stats(__u32 slot, struct xl_stats *sum)
{
	struct xl_stats *v = calloc(ncpus, sizeof(*v));
	bool ok;
	int cpu, i;

	memset(sum, 0, sizeof(*sum));
	ok = v &&
	     ASSERT_OK(bpf_map_lookup_elem(fd_stats, &slot, v), "read stats");
	for (cpu = 0; ok && cpu < ncpus; cpu++)
		for (i = 0; i < XL_STAT_NR; i++)
			sum->c[i] += v[cpu].c[i];
	free(v);
	return ok;
}

static int prog_fd(enum prog p)
{
	return bpf_program__fd(p == PROG_XDP ? skel->progs.xlimit_xdp :
					       skel->progs.xlimit_tc);
}

/* The return code a program gives for an XDP verdict of the table. */
static int want_ret(enum prog p, int xdp_verdict)
{
	if (p == PROG_XDP)
		return xdp_verdict;
	return xdp_verdict == XDP_DROP ? TC_ACT_SHOT : TC_ACT_OK;
}

/* Runs one frame; returns 0 and the program's return code, or -errno. */
static int run_frame(enum prog p, const __u8 *frame, size_t len, int *ret)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame, .data_size_in = len,
		    .repeat = 1);
	int err;

	err = bpf_prog_test_run_opts(prog_fd(p), &o);
	*ret = o.retval;
	return err;
}

/* ---- the table runner --------------------------------------------------- */

/* Where a window opened at t starts: t rounded down to the 2^20 ns unit. */
static __u64 unit_floor(__u64 t)
{
	return t >> XL_UNIT_SHIFT << XL_UNIT_SHIFT;
}

static bool apply_seed(const struct seed_spec *s, __u64 now, __u64 starts[])
{
	struct xl_state st = {};
	struct xl_key k;
	int i;

	if (!ASSERT_TRUE(state_key(s->src, s->port, &k), s->src))
		return false;
	for (i = 0; i < XL_MAX_LIMITS; i++) {
		__u64 age = s->win[i].age_s * NSEC;

		if (!age && !s->win[i].count)
			continue;
		if (!ASSERT_TRUE(now > age, "the clock is older than the seed"))
			return false;
		st.win[i].word = xl_word_open(now - age, s->win[i].count);
		starts[i] = xl_word_start(st.win[i].word);
	}
	return ASSERT_OK(bpf_map_update_elem(fd_state, &k, &st, BPF_NOEXIST),
			 "seed state");
}

static bool case_setup(const struct tcase *tc, __u64 seeded[][XL_MAX_LIMITS])
{
	__u64 now = now_ns();
	size_t i;

	if (!reset_maps())
		return false;
	for (i = 0; i < ARRAY_SIZE(tc->rules) && tc->rules[i].rule.nlimits; i++)
		if (!set_rule(tc->rules[i].port, &tc->rules[i].rule))
			return false;
	for (i = 0; i < ARRAY_SIZE(tc->allow) && tc->allow[i]; i++)
		if (!set_list(fd_allow, tc->allow[i]))
			return false;
	for (i = 0; i < ARRAY_SIZE(tc->deny) && tc->deny[i]; i++)
		if (!set_list(fd_deny, tc->deny[i]))
			return false;
	if (tc->ipv6_prefix && !set_prefix(tc->ipv6_prefix))
		return false;
	for (i = 0; i < ARRAY_SIZE(tc->seed) && tc->seed[i].src; i++)
		if (!apply_seed(&tc->seed[i], now, seeded[i]))
			return false;
	return true;
}

static void check_stats(const struct stat_exp *exp, size_t nexp)
{
	static const char *const names[XL_STAT_NR] = {
		"seen",	   "passed",   "dropped",      "over_passed",
		"allowed", "denied",   "frag_dropped", "deep_dropped",
		"new",	   "restored",
	};
	struct xl_stats zero = {}, got;
	int cpu, i;
	__u32 slot;
	size_t e;

	if (!ASSERT_OK(stats_batch(false), "read stats"))
		return;
	for (slot = 0; slot < XL_STATS_SLOTS; slot++) {
		const __u64 *want = zero.c;
		char what[64];

		for (e = 0; e < nexp && exp[e].set; e++)
			if (exp[e].slot == slot)
				want = exp[e].c;
		memset(&got, 0, sizeof(got));
		for (cpu = 0; cpu < ncpus; cpu++)
			for (i = 0; i < XL_STAT_NR; i++)
				got.c[i] += stats_buf[slot * ncpus + cpu].c[i];
		for (i = 0; i < XL_STAT_NR; i++) {
			snprintf(what, sizeof(what), "slot %u %s", slot,
				 names[i]);
			ASSERT_U64_EQ(got.c[i], want[i], what);
		}
	}
}

static void check_state(const struct tcase *tc, __u64 t0, __u64 t1,
			__u64 seeded[][XL_MAX_LIMITS])
{
	size_t e, s;
	int i;

	for (e = 0; e < ARRAY_SIZE(tc->state) && tc->state[e].src; e++) {
		const struct state_exp *x = &tc->state[e];
		const __u64 *seed = NULL;
		struct xl_state st;
		struct xl_key k;
		char what[128];
		int err;

		if (!ASSERT_TRUE(state_key(x->src, x->port, &k), x->src))
			continue;
		for (s = 0; s < ARRAY_SIZE(tc->seed) && tc->seed[s].src; s++)
			if (!strcmp(tc->seed[s].src, x->src) &&
			    tc->seed[s].port == x->port)
				seed = seeded[s];
		err = bpf_map_lookup_elem(fd_state, &k, &st);
		snprintf(what, sizeof(what), "state of %s port %u", x->src,
			 x->port);
		if (x->absent) {
			ASSERT_TRUE(err && errno == ENOENT, what);
			continue;
		}
		if (!ASSERT_OK(err, what))
			continue;
		for (i = 0; i < XL_MAX_LIMITS; i++) {
			const struct xl_window *w = &st.win[i];
			__u64 start = xl_word_start(w->word);
			bool fresh = x->fresh & (1U << i) ||
				     (!(seed && seed[i]) && x->count[i]);

			snprintf(what, sizeof(what), "%s port %u window %d",
				 x->src, x->port, i);
			ASSERT_U64_EQ(xl_word_count(w->word), x->count[i],
				      what);
			/* A window starts at its first hit, rounded down to
			 * the unit. */
			if (fresh)
				ASSERT_TRUE(start >= unit_floor(t0) &&
						    start <= t1,
					    what);
			else
				ASSERT_U64_EQ(start, seed ? seed[i] : 0, what);
			/* The fields bpftool shows name the same word. */
			ASSERT_U64_EQ(w->count, xl_word_count(w->word), what);
			ASSERT_U64_EQ((__u64)w->start << XL_UNIT_SHIFT, start,
				      what);
		}
	}
	ASSERT_EQ(count_keys(fd_state), tc->nstate, "entries in xl_state");
}

static void run_case(const struct tcase *tc, enum prog p)
{
	static char name[160];
	__u64 seeded[ARRAY_SIZE(tc->seed)][XL_MAX_LIMITS] = {};
	__u8 frame[PKT_MAX];
	__u64 t0, t1;
	size_t s;
	int n;

	snprintf(name, sizeof(name), "%s [%s]", tc->name, prog_names[p]);
	SUBTEST_BEGIN(name);
	if (!case_setup(tc, seeded))
		goto out;
	t0 = now_ns();
	for (s = 0; s < ARRAY_SIZE(tc->steps) && tc->steps[s].verdict; s++) {
		const struct step *st = &tc->steps[s];
		size_t len = pkt_build(&st->pkt, frame, sizeof(frame));

		if (!ASSERT_TRUE(len > 0, "build the packet"))
			goto out;
		for (n = 0; n < (st->times ? st->times : 1); n++) {
			char what[64];
			int ret, err;

			snprintf(what, sizeof(what), "step %zu packet %d", s,
				 n);
			err = run_frame(p, frame, len, &ret);
			if (!ASSERT_OK(err, what))
				goto out;
			ASSERT_EQ(ret, want_ret(p, st->verdict), what);
		}
	}
	t1 = now_ns();
	check_stats(tc->stats, ARRAY_SIZE(tc->stats));
	check_state(tc, t0, t1, seeded);
out:
	SUBTEST_END();
}

/* ---- every prefix of valid frames -------------------------------------- */

/*
 * Whether test_run may refuse a cut frame (EINVAL) instead of running it:
 * it refuses any frame shorter than Ethernet, and for an skb also an
 * untagged IPv4 or IPv6 frame without a whole IP header. Either refusing
 * or passing is right then.
 */
static bool may_refuse(enum prog p, const __u8 *frame, size_t cut)
{
	__u16 proto = frame[12] << 8 | frame[13];

	if (cut < PKT_ETH_HLEN)
		return true;
	if (p != PROG_TC)
		return false;
	return (proto == PKT_ETH_P_IP && cut < PKT_ETH_HLEN + 20) ||
	       (proto == PKT_ETH_P_IPV6 && cut < PKT_ETH_HLEN + 40);
}

/*
 * With amount 0 for port 80 and every other port, any counted SYN would
 * be dropped: every truncation must pass and leave no trace; the whole
 * frame must be dropped, so it was a SYN the parser understood.
 */
static void check_prefixes(const char *what, const struct pkt_spec *spec,
			   enum prog p)
{
	static const struct rule_spec rules[] = {
		RULE(80, 3, LIM(0, 30, DROP)),
		RULE(0, 1023, LIM(0, 30, DROP)),
	};
	static char name[160];
	__u8 frame[PKT_MAX];
	struct xl_stats st;
	size_t len, cut, i;
	int ret, err;

	snprintf(name, sizeof(name), "every prefix: %s [%s]", what,
		 prog_names[p]);
	SUBTEST_BEGIN(name);
	if (!reset_maps())
		goto out;
	for (i = 0; i < ARRAY_SIZE(rules); i++)
		if (!set_rule(rules[i].port, &rules[i].rule))
			goto out;
	len = pkt_build(spec, frame, sizeof(frame));
	if (!ASSERT_TRUE(len > PKT_ETH_HLEN, "build the frame"))
		goto out;
	for (cut = 0; cut < len; cut++) {
		char msg[64];

		snprintf(msg, sizeof(msg), "%zu of %zu bytes", cut, len);
		err = run_frame(p, frame, cut, &ret);
		if (may_refuse(p, frame, cut)) {
			if (err)
				ASSERT_EQ(err, -EINVAL, msg);
			else
				ASSERT_EQ(ret, want_ret(p, XDP_PASS), msg);
			continue;
		}
		if (!ASSERT_OK(err, msg))
			goto out;
		ASSERT_EQ(ret, want_ret(p, XDP_PASS), msg);
		if (!ASSERT_EQ(count_keys(fd_state), 0, msg))
			goto out;
	}
	if (read_stats(3, &st))
		ASSERT_U64_EQ(st.c[SEEN], 0, "seen in slot 3 after the cuts");
	if (read_stats(1023, &st))
		ASSERT_U64_EQ(st.c[SEEN], 0,
			      "seen in slot 1023 after the cuts");
	err = run_frame(p, frame, len, &ret);
	if (ASSERT_OK(err, "whole frame"))
		ASSERT_EQ(ret, want_ret(p, XDP_DROP), "whole frame");
	ASSERT_EQ(count_keys(fd_state), 1, "entries in xl_state");
out:
	SUBTEST_END();
}

static void test_prefixes(void)
{
	static const struct {
		const char *what;
		struct pkt_spec spec;
	} frames[] = {
		{ "ipv4 syn", { .dport = 80 } },
		{ "ipv4 syn with options", { .dport = 80, .ip_optlen = 8 } },
		{ "ipv6 syn with hop-by-hop and fragment headers",
		  { V6, .dport = 80, .ext = { PKT_EXT_HOP, PKT_EXT_FRAG } } },
		{ "ipv6 syn with routing and destination options",
		  { V6, .dport = 443,
		    .ext = { PKT_EXT_ROUTING, PKT_EXT_DEST } } },
		{ "double-vlan ipv4 syn", { QINQ, .dport = 80 } },
		{ "double-vlan ipv6 syn with destination options",
		  { QINQ, V6, .dport = 80, .ext = { PKT_EXT_DEST } } },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(frames); i++) {
		check_prefixes(frames[i].what, &frames[i].spec, PROG_XDP);
		check_prefixes(frames[i].what, &frames[i].spec, PROG_TC);
	}
}

/* ---- the syscall program ------------------------------------------------ */

static int query(__u16 op, const char *src, __u16 port, struct xl_query *q)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .ctx_in = q,
		    .ctx_size_in = sizeof(*q));
	int err;

	memset(q, 0, sizeof(*q));
	if (!map_addr(src, q->addr))
		return -EINVAL;
	q->port = port;
	q->op = op;
	q->now = now_ns(); /* as xl_client_query() gives it */
	err = bpf_prog_test_run_opts(bpf_program__fd(skel->progs.xlimit_query),
				     &o);
	if (!err && o.retval)
		return -EPROTO;
	return err;
}

static __u64 qcount(const struct xl_query *q, int i)
{
	return xl_word_count(q->win[i].word);
}

/* Sends one IPv4 SYN from src to port through XDP; returns the verdict. */
static int syn(const char *src, __u16 port)
{
	struct pkt_spec s = { .src = src, .dport = port };
	__u8 frame[PKT_MAX];
	size_t len = pkt_build(&s, frame, sizeof(frame));
	int ret;

	if (!len || run_frame(PROG_XDP, frame, len, &ret))
		return -1;
	return ret;
}

/* ---- rule changes -------------------------------------------------------- */

/* Two rules of port 80 a change switches between: a reader that saw a
 * mix of them would report limits that are neither. */
static const struct xl_rule race_a = {
	.nlimits = 1,
	.slot = 3,
	.limits = { { .amount = 5, .period_ns = 1 * NSEC } },
};
static const struct xl_rule race_b = {
	.nlimits = 3,
	.slot = 3,
	.limits = { { .amount = 7, .period_ns = 2 * NSEC },
		    { .amount = 11, .period_ns = 3 * NSEC },
		    { .amount = 13, .period_ns = 4 * NSEC } },
};

static bool race_same(const struct xl_query *q, const struct xl_rule *r)
{
	__u32 i;

	if (q->nlimits != r->nlimits)
		return false;
	for (i = 0; i < XL_MAX_LIMITS; i++)
		if (q->limits[i].amount != r->limits[i].amount ||
		    q->limits[i].period_ns != r->limits[i].period_ns)
			return false;
	return true;
}

struct race {
	volatile int done;
	long reads, saw_a, saw_b, mixed, errors;
};

/* Reads port 80's rule through the query program until told to stop. */
static void *race_reader(void *arg)
{
	struct race *r = arg;
	struct xl_query q;

	while (!r->done && r->reads < 10000000) {
		r->reads++;
		if (query(XL_OP_READ, "198.18.0.1", 80, &q) || q.err)
			r->errors++;
		else if (race_same(&q, &race_a))
			r->saw_a++;
		else if (race_same(&q, &race_b))
			r->saw_b++;
		else
			r->mixed++;
	}
	return NULL;
}

/* A change of a rule, made by xl_rule_write() while another thread's
 * programs read it, is seen whole: the old rule or the new one. */
static void test_rule_change_race(void)
{
	struct race r = {};
	__u64 end = now_ns() + 2 * NSEC;
	pthread_t t;
	int i, err = 0;

	if (!reset_maps() || !set_rule(80, &race_a))
		return;
	if (!ASSERT_OK(pthread_create(&t, NULL, race_reader, &r),
		       "start the reader"))
		return;
	/* For 2 s, or 100,000 changes. */
	for (i = 0; i < 100000 && !err && now_ns() < end; i++)
		err = xl_rule_write(&rule_maps, 80, i & 1 ? &race_a : &race_b);
	r.done = 1;
	pthread_join(t, NULL);
	ASSERT_OK(err, "changes of port 80's rule");
	ASSERT_EQ(r.mixed, 0, "no read saw a mix of two rules");
	ASSERT_EQ(r.errors, 0, "every read found a rule");
	ASSERT_TRUE(r.saw_a > 0 && r.saw_b > 0, "reads saw both rules");
	printf("#   %d changes, %ld reads: %ld of the one-limit rule, %ld of the other, %ld mixed\n",
	       i, r.reads, r.saw_a, r.saw_b, r.mixed);
}

/* What makes a change safe for a program that is reading the rule: the
 * entry of xl_rslots a port points to is never written, not by a change
 * of that port's rule nor by one of port 0's (which ports without a rule
 * follow). The change writes the other entry, then points the port at
 * it; the one it left still holds the old rule, whole. A writer that
 * rewrote the rule in place fails this at the first change. */
static void test_rule_change_leaves_entry(void)
{
	static const __u16 ports[] = { 80, 0 }, seen[] = { 80, 81 };
	struct xl_rule before, after;
	struct xl_port p0, p1;
	__u32 port, idx;
	int k, i;

	for (k = 0; k < 2; k++) {
		if (!reset_maps() || !set_rule(ports[k], &race_a))
			return;
		for (i = 0; i < 4; i++) {
			port = seen[k];
			if (!ASSERT_OK(bpf_map_lookup_elem(
					       rule_maps.fd[XL_M_PORTS], &port,
					       &p0),
				       "read the port's entry"))
				return;
			idx = (p0.rslot & ~XL_PORT_DEFAULT) - 1;
			if (!ASSERT_OK(bpf_map_lookup_elem(
					       rule_maps.fd[XL_M_RSLOTS], &idx,
					       &before),
				       "read the rule it points to") ||
			    !ASSERT_OK(xl_rule_write(&rule_maps, ports[k],
						     i & 1 ? &race_a : &race_b),
				       "change the rule"))
				return;
			bpf_map_lookup_elem(rule_maps.fd[XL_M_PORTS], &port,
					    &p1);
			bpf_map_lookup_elem(rule_maps.fd[XL_M_RSLOTS], &idx,
					    &after);
			ASSERT_TRUE(
				p1.rslot != p0.rslot,
				ports[k] ?
					"port 80 points elsewhere" :
					"port 81 follows port 0's new entry");
			ASSERT_TRUE(
				!memcmp(&before, &after, sizeof(before)),
				"the entry it left still holds the old rule");
		}
	}
}

/* A port without a rule of its own follows port 0's rule as it changes,
 * and goes back to it when its own is removed. */
static void test_rule_default(void)
{
	struct xl_rule b0 = race_b;
	struct xl_query q;

	b0.slot = 1; /* port 0's slot */
	if (!reset_maps() ||
	    !ASSERT_OK(query(XL_OP_READ, "198.18.0.1", 81, &q), "query") ||
	    !ASSERT_EQ(q.err, -ENOENT, "no rules: port 81 has none"))
		return;
	if (!set_rule(0, &(struct xl_rule){ .nlimits = 1,
					    .slot = 1,
					    .limits = { LIM(9, 1, DROP) } }) ||
	    !set_rule(80, &race_a) ||
	    !ASSERT_OK(query(XL_OP_READ, "198.18.0.1", 81, &q), "query"))
		return;
	ASSERT_TRUE(!q.err && q.rule_port == 0 && q.limits[0].amount == 9,
		    "port 81 has port 0's rule");
	ASSERT_OK(xl_rule_write(&rule_maps, 0, &b0), "change port 0's");
	ASSERT_OK(query(XL_OP_READ, "198.18.0.1", 81, &q), "query");
	ASSERT_TRUE(!q.err && q.rule_port == 0 && race_same(&q, &race_b),
		    "port 81 has port 0's new rule");
	ASSERT_OK(query(XL_OP_READ, "198.18.0.1", 80, &q), "query");
	ASSERT_TRUE(!q.err && q.rule_port == 80 && race_same(&q, &race_a),
		    "port 80 keeps its own");
	ASSERT_OK(xl_rule_write(&rule_maps, 80, NULL), "remove port 80's");
	ASSERT_OK(query(XL_OP_READ, "198.18.0.1", 80, &q), "query");
	ASSERT_TRUE(!q.err && q.rule_port == 0 && race_same(&q, &race_b),
		    "port 80 without its rule has port 0's");
	ASSERT_OK(xl_rule_write(&rule_maps, 0, NULL), "remove port 0's");
	ASSERT_OK(query(XL_OP_READ, "198.18.0.1", 80, &q), "query");
	ASSERT_EQ(q.err, -ENOENT, "no rules left: port 80 has none");
	ASSERT_OK(set_rule(80, &race_a) ? 0 : -1, "port 80's again");
	ASSERT_OK(query(XL_OP_READ, "198.18.0.1", 81, &q), "query");
	ASSERT_EQ(q.err, -ENOENT, "port 0 gone: port 81 still has none");
}

static void test_query_charge_like_a_syn(void)
{
	static const struct rule_spec r = R80;
	const char *src = "198.18.0.9";
	struct xl_query q;
	struct xl_state before, after;
	struct xl_stats st;
	struct xl_key k;
	__u64 t0, t1;

	if (!reset_maps() || !set_rule(r.port, &r.rule))
		return;
	t0 = now_ns();
	if (!ASSERT_OK(query(XL_OP_CHARGE, src, 80, &q), "charge"))
		return;
	t1 = now_ns();
	ASSERT_EQ(q.err, 0, "err");
	ASSERT_EQ(q.verdict, XL_V_PASS, "verdict");
	ASSERT_EQ(q.breached, 0, "breached");
	ASSERT_EQ(q.rule_port, 80, "rule_port");
	ASSERT_EQ(q.nlimits, 1, "nlimits");
	ASSERT_U64_EQ(q.limits[0].amount, 2, "amount");
	ASSERT_U64_EQ(q.limits[0].period_ns, 30 * NSEC, "period");
	ASSERT_U64_EQ(qcount(&q, 0), 1, "count after one charge");
	ASSERT_TRUE(xl_word_start(q.win[0].word) >= unit_floor(t0) &&
			    xl_word_start(q.win[0].word) <= t1,
		    "the window starts at the charge");
	ASSERT_TRUE(q.now >= t0 && q.now <= t1,
		    "the decision is made at the time the caller gave");
	ASSERT_U64_EQ(xl_word_start(q.win[0].word), unit_floor(q.now),
		      "the window opens at the caller's time");

	/* The next SYN sees the charge: the second hit of two. */
	ASSERT_EQ(syn(src, 80), XDP_PASS, "syn after one charge");
	ASSERT_OK(query(XL_OP_CHARGE, src, 80, &q), "charge over");
	ASSERT_EQ(q.verdict, XL_V_OVER_DROP, "verdict over the limit");
	ASSERT_EQ(q.breached, 1, "breached over the limit");
	ASSERT_U64_EQ(qcount(&q, 0), 3, "count after charge, syn, charge");
	ASSERT_EQ(syn(src, 80), XDP_DROP, "syn over the limit");

	/* A read changes nothing and shows the window. */
	state_key(src, 80, &k);
	ASSERT_OK(bpf_map_lookup_elem(fd_state, &k, &before), "state");
	ASSERT_OK(query(XL_OP_READ, src, 80, &q), "read");
	ASSERT_OK(query(XL_OP_READ, src, 80, &q), "read again");
	ASSERT_OK(bpf_map_lookup_elem(fd_state, &k, &after), "state");
	ASSERT_TRUE(!memcmp(&before, &after, sizeof(before)),
		    "a read leaves the state alone");
	ASSERT_EQ(q.err, 0, "read err");
	ASSERT_EQ(q.verdict, XL_V_PASS, "read verdict");
	ASSERT_EQ(q.breached, 0, "read breached");
	/* The SYN over the limit found the window past its amount: refused
	 * without an add. */
	ASSERT_U64_EQ(qcount(&q, 0), 3, "count read");
	ASSERT_U64_EQ(q.win[0].word, before.win[0].word, "window read");
	ASSERT_EQ(count_keys(fd_state), 1, "entries in xl_state");

	/* The counters are for SYNs: the charges are not in them. */
	if (read_stats(3, &st)) {
		ASSERT_U64_EQ(st.c[SEEN], 2, "seen");
		ASSERT_U64_EQ(st.c[PASSED], 1, "passed");
		ASSERT_U64_EQ(st.c[DROPPED], 1, "dropped");
	}
}

static void test_query_several_limits(void)
{
	static const struct rule_spec r =
		RULE(80, 3, LIM(3, 10, PASS), LIM(5, 60, DROP));
	struct xl_query q;
	int i;

	if (!reset_maps() || !set_rule(r.port, &r.rule))
		return;
	for (i = 0; i < 3; i++)
		ASSERT_OK(query(XL_OP_CHARGE, PKT_SRC4, 80, &q), "charge");
	ASSERT_EQ(q.verdict, XL_V_PASS, "third charge");
	ASSERT_OK(query(XL_OP_CHARGE, PKT_SRC4, 80, &q), "charge");
	ASSERT_EQ(q.nlimits, 2, "nlimits");
	ASSERT_EQ(q.verdict, XL_V_OVER_PASS, "fourth charge");
	ASSERT_EQ(q.breached, 1, "fourth charge breaches limit 0");
	ASSERT_U64_EQ(qcount(&q, 0), 4, "limit 0 count");
	/* let through over the pass limit: counts against the drop one */
	ASSERT_U64_EQ(qcount(&q, 1), 4, "limit 1 count");
	ASSERT_EQ(q.limits[1].action, XL_ACT_DROP, "limit 1 action");
	ASSERT_EQ(syn(PKT_SRC4, 80), XDP_PASS, "syn over the pass limit");
	ASSERT_OK(query(XL_OP_READ, PKT_SRC4, 80, &q), "read");
	/* limit 0 was past its amount: breached without an add */
	ASSERT_U64_EQ(qcount(&q, 0), 4, "limit 0 count after the syn");
	ASSERT_U64_EQ(qcount(&q, 1), 5, "limit 1 count after the syn");
	ASSERT_EQ(syn(PKT_SRC4, 80), XDP_DROP, "syn over the drop limit");
}

static void test_query_unknown_client(void)
{
	static const struct rule_spec r[] = {
		R80,
		RULE(0, 1023, LIM(5, 60, PASS)),
	};
	struct xl_query q;
	int i;

	if (!reset_maps() || !set_rule(r[0].port, &r[0].rule) ||
	    !set_rule(r[1].port, &r[1].rule))
		return;
	ASSERT_OK(query(XL_OP_READ, "198.18.0.77", 8080, &q), "read");
	ASSERT_EQ(q.err, 0, "err");
	ASSERT_EQ(q.verdict, XL_V_PASS, "verdict");
	ASSERT_EQ(q.rule_port, 0, "rule_port: port 0 covers 8080");
	ASSERT_EQ(q.nlimits, 1, "nlimits");
	ASSERT_U64_EQ(q.limits[0].amount, 5, "amount of port 0's rule");
	for (i = 0; i < XL_MAX_LIMITS; i++)
		ASSERT_U64_EQ(q.win[i].word, 0, "empty window");
	ASSERT_OK(query(XL_OP_READ, "2001:2::77", 80, &q), "read ipv6");
	ASSERT_EQ(q.err, 0, "err ipv6");
	ASSERT_EQ(q.rule_port, 80, "rule_port ipv6");
	ASSERT_U64_EQ(q.limits[0].amount, 2, "amount of port 80's rule");
	ASSERT_U64_EQ(q.win[0].word, 0, "empty window ipv6");
	ASSERT_EQ(count_keys(fd_state), 0, "a read creates no state");
}

/* The datapath's clock is CLOCK_MONOTONIC_COARSE, the clock userspace
 * reads to compare with its times (and gives the syscall program): a SYN
 * run between two reads of it opens its window between them. */
static void test_clock_is_coarse(void)
{
	static const struct rule_spec r = R80;
	const char *src = "198.18.0.10";
	struct xl_query q;
	struct xl_state s;
	struct xl_key k;
	__u64 t0, t1;
	int i;

	if (!reset_maps() || !set_rule(r.port, &r.rule))
		return;
	state_key(src, 80, &k);
	/* Several tries, so that some land across a tick. */
	for (i = 0; i < 20; i++) {
		bpf_map_delete_elem(fd_state, &k);
		t0 = now_ns();
		if (!ASSERT_EQ(syn(src, 80), XDP_PASS, "syn"))
			return;
		t1 = now_ns();
		if (!ASSERT_OK(bpf_map_lookup_elem(fd_state, &k, &s), "state"))
			return;
		if (!ASSERT_TRUE(xl_word_start(s.win[0].word) >=
						 unit_floor(t0) &&
					 xl_word_start(s.win[0].word) <= t1,
				 "a SYN's window starts between two reads of "
				 "CLOCK_MONOTONIC_COARSE around it"))
			return;
		usleep(1000);
	}
	/* The syscall program cannot read the coarse clock: no time given,
	 * no decision. */
	memset(&q, 0, sizeof(q));
	map_addr(src, q.addr);
	q.port = 80;
	q.op = XL_OP_CHARGE;
	{
		LIBBPF_OPTS(bpf_test_run_opts, o, .ctx_in = &q,
			    .ctx_size_in = sizeof(q));

		ASSERT_OK(bpf_prog_test_run_opts(
				  bpf_program__fd(skel->progs.xlimit_query),
				  &o),
			  "query without a time");
	}
	ASSERT_EQ(q.err, -EINVAL, "a query without a time: -EINVAL");
}

static void test_query_no_rule(void)
{
	static const struct rule_spec r = R80;
	struct xl_query q;

	if (!reset_maps() || !set_rule(r.port, &r.rule))
		return;
	ASSERT_OK(query(XL_OP_CHARGE, PKT_SRC4, 81, &q), "charge");
	ASSERT_EQ(q.err, -2, "charge without a rule: -ENOENT");
	ASSERT_EQ(q.nlimits, 0, "nlimits");
	ASSERT_OK(query(XL_OP_READ, PKT_SRC6, 81, &q), "read");
	ASSERT_EQ(q.err, -2, "read without a rule: -ENOENT");
	ASSERT_EQ(count_keys(fd_state), 0, "no state");
}

static void test_query_ipv6_prefix(void)
{
	static const struct rule_spec r = R80;
	struct pkt_spec s = { V6, .src = "2001:2::3", .dport = 80 };
	__u8 frame[PKT_MAX];
	struct xl_query q;
	struct xl_state st;
	struct xl_key k;
	size_t len;
	int ret;

	if (!reset_maps() || !set_rule(r.port, &r.rule) || !set_prefix(64))
		return;
	ASSERT_OK(query(XL_OP_CHARGE, "2001:2::1", 80, &q), "charge");
	ASSERT_OK(query(XL_OP_READ, "2001:2::2", 80, &q), "read");
	ASSERT_U64_EQ(qcount(&q, 0), 1, "the /64 shares the charge");
	len = pkt_build(&s, frame, sizeof(frame));
	if (ASSERT_OK(run_frame(PROG_XDP, frame, len, &ret), "syn"))
		ASSERT_EQ(ret, XDP_PASS, "syn from the same /64");
	ASSERT_OK(query(XL_OP_READ, "2001:2::ffff:ffff", 80, &q), "read");
	ASSERT_U64_EQ(qcount(&q, 0), 2, "the syn counted in the /64");
	ASSERT_OK(query(XL_OP_READ, "2001:2:0:1::1", 80, &q), "read");
	ASSERT_U64_EQ(qcount(&q, 0), 0, "another /64");
	state_key("2001:2::", 80, &k);
	ASSERT_OK(bpf_map_lookup_elem(fd_state, &k, &st), "masked key");
	ASSERT_EQ(count_keys(fd_state), 1, "entries in xl_state");
}

/* ---- clients the LRU forgot ---------------------------------------------- */

/*
 * A client over its limit whose state is gone (as an LRU eviction does
 * it) comes back over, with the window it had; a client that was never
 * over comes back fresh; another client is not taken for it.
 */
static void test_over_restore(void)
{
	static const struct rule_spec r = R80;
	const char *src = "198.18.0.5";
	struct xl_state before, after;
	struct xl_stats st;
	struct xl_key k;
	int i;

	if (!reset_maps() || !set_rule(r.port, &r.rule))
		return;
	for (i = 0; i < 2; i++)
		ASSERT_EQ(syn(src, 80), XDP_PASS, "syn within the limit");
	ASSERT_EQ(syn(src, 80), XDP_DROP, "syn over the limit");
	state_key(src, 80, &k);
	ASSERT_OK(bpf_map_lookup_elem(fd_state, &k, &before), "state");
	ASSERT_OK(bpf_map_delete_elem(fd_state, &k), "forget the client");
	/* A new generation, so that the verdict cache does not answer. */
	bump_gen();
	ASSERT_EQ(syn(src, 80), XDP_DROP, "the forgotten client is still over");
	ASSERT_OK(bpf_map_lookup_elem(fd_state, &k, &after), "state again");
	ASSERT_U64_EQ(after.win[0].word, before.win[0].word,
		      "the same window, the same count");

	/* Never over: forgotten, it starts afresh. */
	ASSERT_EQ(syn("198.18.0.6", 80), XDP_PASS, "another client");
	state_key("198.18.0.6", 80, &k);
	ASSERT_OK(bpf_map_delete_elem(fd_state, &k), "forget it");
	ASSERT_EQ(syn("198.18.0.6", 80), XDP_PASS, "back within its limit");
	ASSERT_EQ(syn("198.18.0.6", 80), XDP_PASS, "second of two");
	ASSERT_EQ(syn("198.18.0.6", 80), XDP_DROP, "third of two");
	ASSERT_EQ(syn("198.18.0.7", 80), XDP_PASS, "a third client");
	if (read_stats(3, &st)) {
		ASSERT_U64_EQ(st.c[NEW], 5, "clients created");
		ASSERT_U64_EQ(st.c[RESTORED], 1, "clients restored");
	}
}

/* ---- the verdict cache --------------------------------------------------- */

/* xl_vcache is per CPU: the cache tests run on one CPU, so that a verdict
 * one SYN cached is the one the next SYN finds. Returns the old mask. */
static bool pin_cpu(cpu_set_t *old)
{
	cpu_set_t one;
	int cpu = sched_getcpu();

	CPU_ZERO(&one);
	CPU_SET(cpu < 0 ? 0 : cpu, &one);
	return ASSERT_OK(sched_getaffinity(0, sizeof(*old), old), "affinity") &&
	       ASSERT_OK(sched_setaffinity(0, sizeof(one), &one), "pin a CPU");
}

/* Forgets a client everywhere but in the cache: its state and xl_over. */
static bool forget_client(const char *src, __u16 port)
{
	struct xl_key k;

	return ASSERT_TRUE(state_key(src, port, &k), src) &&
	       ASSERT_OK(bpf_map_delete_elem(fd_state, &k), "forget state") &&
	       ASSERT_OK(clear_over(), "clear xl_over");
}

/*
 * A source dropped over a limit stays dropped from the cache, with no
 * state and nothing charged (forgotten everywhere else, it would come
 * back with a fresh quota), until the generation moves on: then it is
 * decided afresh.
 */
static void test_cache_over_limit(void)
{
	static const struct rule_spec r = R80;
	const char *src = "198.18.0.30";
	struct xl_stats st;
	cpu_set_t old;
	int i;

	if (!reset_maps() || !set_rule(r.port, &r.rule) || !pin_cpu(&old))
		return;
	for (i = 0; i < 2; i++)
		ASSERT_EQ(syn(src, 80), XDP_PASS, "syn within the limit");
	ASSERT_EQ(syn(src, 80), XDP_DROP, "syn over the limit");
	if (!forget_client(src, 80))
		goto out;
	ASSERT_EQ(syn(src, 80), XDP_DROP, "cached: still dropped");
	ASSERT_EQ(syn(src, 80), XDP_DROP, "cached: dropped again");
	ASSERT_EQ(count_keys(fd_state), 0, "a cached drop creates no state");
	if (read_stats(3, &st)) {
		ASSERT_U64_EQ(st.c[SEEN], 5, "seen");
		ASSERT_U64_EQ(st.c[DROPPED], 3,
			      "dropped, cached ones included");
		ASSERT_U64_EQ(st.c[NEW], 1, "clients created");
	}
	/* A rule change bumps the generation: decided afresh, and the
	 * forgotten client starts a new window. */
	if (!bump_gen())
		goto out;
	ASSERT_EQ(syn(src, 80), XDP_PASS, "new generation: decided afresh");
	ASSERT_EQ(count_keys(fd_state), 1, "and counted again");
out:
	sched_setaffinity(0, sizeof(old), &old);
}

/*
 * An allow-listed source's verdict is cached (its SYNs are not counted);
 * a deny-list add, with the generation bump the CLI makes with it, drops
 * it from the next SYN on; so does a list entry's removal.
 */
static void test_cache_lists(void)
{
	static const struct rule_spec r = R80;
	const char *src = "198.18.0.31";
	struct xl_lpm_key k;
	struct xl_stats st;
	cpu_set_t old;
	int i;

	if (!reset_maps() || !set_rule(r.port, &r.rule) ||
	    !set_list(fd_allow, "198.18.0.31/32") || !pin_cpu(&old))
		return;
	for (i = 0; i < 4; i++)
		ASSERT_EQ(syn(src, 80), XDP_PASS, "allow-listed");
	if (!set_list(fd_deny, "198.18.0.0/24") || !bump_gen())
		goto out;
	ASSERT_EQ(syn(src, 80), XDP_DROP, "denied at once, cached or not");
	ASSERT_EQ(syn(src, 80), XDP_DROP, "denied again");
	if (!ASSERT_TRUE(lpm_key("198.18.0.0/24", &k), "deny key") ||
	    !ASSERT_OK(bpf_map_delete_elem(fd_deny, &k), "undeny") ||
	    !bump_gen())
		goto out;
	ASSERT_EQ(syn(src, 80), XDP_PASS, "allowed again");
	ASSERT_EQ(count_keys(fd_state), 0, "listed sources are not counted");
	if (read_stats(3, &st)) {
		ASSERT_U64_EQ(st.c[ALLOWED], 5, "allowed");
		ASSERT_U64_EQ(st.c[DENIED], 2, "denied");
	}
out:
	sched_setaffinity(0, sizeof(old), &old);
}

/* This CPU's xl_vcache entry in `slot` (the cache tests are pinned). */
static bool cache_entry(__u32 slot, struct xl_vcache *e)
{
	struct xl_vcache *v = calloc(ncpus, sizeof(*v));
	int cpu = sched_getcpu();
	bool ok =
		v && cpu >= 0 && cpu < ncpus &&
		ASSERT_OK(bpf_map_lookup_elem(bpf_map__fd(skel->maps.xl_vcache),
					      &slot, v),
			  "read xl_vcache");

	if (ok)
		*e = v[cpu];
	free(v);
	return ok;
}

/* Whether this CPU's cache entry for src:port holds it with `verdict`. */
static bool cached_as(const char *src, __u16 port, __u32 verdict)
{
	struct xl_vcache e;
	__u8 a[16];

	return map_addr(src, a) && cache_entry(xl_vcache_index(a, port), &e) &&
	       !memcmp(e.addr, a, 16) && e.port == port && e.verdict == verdict;
}

/*
 * xl_vcache's slot is an unkeyed hash any sender can aim at (see
 * xl_vcache_index()): two sources in one slot take it from each other,
 * and neither gets the other's verdict. A's cached drop does not drop B;
 * B's cached allow-list verdict does not let A, over its limit, through.
 */
static void test_cache_slot_shared(void)
{
	static const struct rule_spec r = R80;
	const char *a = "198.18.0.40";
	char b[INET_ADDRSTRLEN] = "", bnet[INET_ADDRSTRLEN + 3];
	__u8 aa[16], ab[16];
	__u32 i, slot;
	cpu_set_t old;

	if (!ASSERT_TRUE(map_addr(a, aa), a))
		return;
	slot = xl_vcache_index(aa, 80);
	for (i = 256; i < 65536 && !b[0]; i++) {
		snprintf(b, sizeof(b), "198.18.%u.%u", i >> 8, i & 255);
		if (!map_addr(b, ab) || xl_vcache_index(ab, 80) != slot)
			b[0] = 0;
	}
	if (!ASSERT_TRUE(b[0], "a source in A's slot") || !reset_maps() ||
	    !set_rule(r.port, &r.rule) || !pin_cpu(&old))
		return;
	for (i = 0; i < 2; i++)
		ASSERT_EQ(syn(a, 80), XDP_PASS, "A within the limit");
	ASSERT_EQ(syn(a, 80), XDP_DROP, "A over the limit");
	ASSERT_TRUE(cached_as(a, 80, XL_V_OVER_DROP), "A's drop cached");
	ASSERT_EQ(syn(b, 80), XDP_PASS, "B is not dropped by A's entry");
	snprintf(bnet, sizeof(bnet), "%s/32", b);
	if (!set_list(fd_allow, bnet) || !bump_gen())
		goto out;
	ASSERT_EQ(syn(b, 80), XDP_PASS, "B allow-listed");
	ASSERT_TRUE(cached_as(b, 80, XL_V_ALLOWED), "B took the slot");
	ASSERT_EQ(syn(a, 80), XDP_DROP, "A is not let through by B's entry");
	ASSERT_TRUE(cached_as(a, 80, XL_V_OVER_DROP), "A took it back");
	ASSERT_EQ(syn(b, 80), XDP_PASS, "B still allow-listed");
out:
	sched_setaffinity(0, sizeof(old), &old);
}

/*
 * A cached drop holds until the window that refused it ends, and not
 * after: a window of one second, polled (bounded) until a SYN passes.
 */
/* A hot source's list verdict is cached, in neither list too: its next
 * SYNs look no trie up, so a list changed without a new generation (the
 * CLI makes one on every change) is not seen until the next one. */
static void test_cache_skips_tries(void)
{
	static const struct rule_spec r = R80;
	cpu_set_t old;

	if (!reset_maps() || !set_rule(r.port, &r.rule) ||
	    !set_list(fd_allow, "198.18.0.41/32") ||
	    !set_list(fd_deny, "198.18.0.99/32") || !bump_gen() ||
	    !pin_cpu(&old))
		return;
	ASSERT_EQ(syn("198.18.0.41", 80), XDP_PASS, "allow-listed");
	ASSERT_EQ(syn("198.18.0.42", 80), XDP_PASS, "in neither list");
	if (!set_list(fd_deny, "198.18.0.40/30"))
		goto out;
	ASSERT_EQ(syn("198.18.0.41", 80), XDP_PASS,
		  "allow-listed: cached, the deny trie not looked up");
	ASSERT_EQ(syn("198.18.0.42", 80), XDP_PASS,
		  "in neither list: cached, the deny trie not looked up");
	ASSERT_EQ(syn("198.18.0.43", 80), XDP_DROP,
		  "a source not cached finds the new entry");
	ASSERT_EQ(count_keys(fd_state), 1, "only the unlisted source counted");
	if (!bump_gen())
		goto out;
	ASSERT_EQ(syn("198.18.0.41", 80), XDP_DROP, "new generation: denied");
	ASSERT_EQ(syn("198.18.0.42", 80), XDP_DROP, "new generation: denied");
out:
	sched_setaffinity(0, sizeof(old), &old);
}

/* xl_ports' copy of a port's list flags, or ~0 when it cannot be read. */
static __u32 port_lflags(__u32 port)
{
	struct xl_port p;

	if (bpf_map_lookup_elem(rule_maps.fd[XL_M_PORTS], &port, &p))
		return ~0U;
	return p.lflags;
}

/*
 * A SYN to a port without a rule reads the deny list's flag from the
 * port's own entry (xl_ports): the library keeps that copy with
 * xl_config's, so a source the CLI denies is dropped on every port, and
 * the trie is skipped only while it is empty.
 */
static void test_port_list_flags(void)
{
	static const struct rule_spec r = R80;

	if (!reset_maps() || !set_rule(r.port, &r.rule) ||
	    !ASSERT_OK(xl_config_resync(&rule_maps), "resync, lists empty"))
		return;
	ASSERT_EQ(port_lflags(81), XL_CFG_LISTS, "port 81: both lists empty");
	ASSERT_EQ(port_lflags(65535), XL_CFG_LISTS, "port 65535 as well");
	ASSERT_EQ(syn("198.18.0.1", 81), XDP_PASS, "no rule, no deny list");
	/* What `deny add` does: flags cleared, then the entry. */
	if (!ASSERT_OK(xl_config_lists_unsure(&rule_maps), "lists unsure"))
		return;
	ASSERT_EQ(port_lflags(81), 0, "port 81: the lists looked up");
	if (!set_list(fd_deny, "198.18.0.1/32"))
		return;
	ASSERT_EQ(syn("198.18.0.1", 81), XDP_DROP,
		  "denied on a port without a rule, right after the add");
	if (!ASSERT_OK(xl_config_resync(&rule_maps), "resync, deny list"))
		return;
	ASSERT_EQ(port_lflags(81), XL_CFG_NO_ALLOW, "only allow is empty");
	ASSERT_EQ(syn("198.18.0.1", 81), XDP_DROP, "still denied");
	ASSERT_EQ(syn("198.18.0.2", 81), XDP_PASS, "another source passes");
	/* A rule written and removed leaves the copy alone. */
	if (!set_rule(81, &r.rule) ||
	    !ASSERT_OK(xl_rule_write(&rule_maps, 81, NULL), "del rule 81"))
		return;
	ASSERT_EQ(port_lflags(81), XL_CFG_NO_ALLOW, "kept across rule writes");
	ASSERT_EQ(syn("198.18.0.1", 81), XDP_DROP, "denied after rule del");
	if (!ASSERT_OK(clear_map(fd_deny), "empty the deny list") ||
	    !ASSERT_OK(xl_config_resync(&rule_maps), "resync, lists empty"))
		return;
	ASSERT_EQ(port_lflags(81), XL_CFG_LISTS, "both empty again");
	ASSERT_EQ(syn("198.18.0.1", 81), XDP_PASS, "no longer denied");
}

static void test_cache_window_end(void)
{
	static const struct rule_spec r = RULE(80, 3, LIM(1, 1, DROP));
	const char *src = "198.18.0.32";
	struct xl_state st;
	struct xl_key k;
	__u64 end, t, deadline;
	cpu_set_t old;
	int ret = XDP_DROP, drops = 0;

	if (!reset_maps() || !set_rule(r.port, &r.rule) || !pin_cpu(&old))
		return;
	ASSERT_EQ(syn(src, 80), XDP_PASS, "the one SYN of the window");
	ASSERT_EQ(syn(src, 80), XDP_DROP, "over: cached");
	state_key(src, 80, &k);
	if (!ASSERT_OK(bpf_map_lookup_elem(fd_state, &k, &st), "state"))
		goto out;
	end = xl_word_start(st.win[0].word) + NSEC;
	deadline = now_ns() + 3 * NSEC;
	while ((t = now_ns()) < deadline) {
		ret = syn(src, 80);
		if (ret != XDP_DROP)
			break;
		drops++;
		nanosleep(&(struct timespec){ .tv_nsec = 5000000 }, NULL);
	}
	ASSERT_EQ(ret, XDP_PASS, "a SYN passes after the window ends");
	ASSERT_TRUE(now_ns() >= end, "and not before it ends");
	ASSERT_TRUE(drops > 0, "dropped while the window was open");
out:
	sched_setaffinity(0, sizeof(old), &old);
}

/* ---- strategies ---------------------------------------------------------- */

/* Sends one IPv4 SYN from src to port through XDP or tc; returns the
 * verdict as XDP_PASS or XDP_DROP, or -1. */
static int syn_on(enum prog p, const char *src, __u16 port)
{
	struct pkt_spec s = { .src = src, .dport = port };
	__u8 frame[PKT_MAX];
	size_t len = pkt_build(&s, frame, sizeof(frame));
	int ret;

	if (!len || run_frame(p, frame, len, &ret))
		return -1;
	if (ret == want_ret(p, XDP_PASS))
		return XDP_PASS;
	return ret == want_ret(p, XDP_DROP) ? XDP_DROP : -1;
}

static struct xl_rule strategy_rule(__u32 strategy, __u32 burst, __u64 amount,
				    __u64 secs)
{
	struct xl_rule r = { .nlimits = 1, .slot = 3 };

	r.limits[0] = (struct xl_limit)LIM(amount, secs, DROP);
	r.limits[0].strategy = strategy;
	r.limits[0].burst = burst;
	return r;
}

/* The view the query program's words give, at its own clock reading. */
static struct xl_view qview(const struct xl_query *q, int i)
{
	struct xl_view v;

	xl_view_limit(&q->limits[i], &q->win[i], q->now, &v);
	return v;
}

/*
 * Each strategy through XDP and tc, SYNs and query charges interleaved:
 * a sliding window of 3 per 30 s admits 3, a bucket of 3 per 30 s with a
 * burst of 2 admits 2, the query program and the datapath counting in
 * the same word; a refused hit, by either, changes nothing; the query's
 * read shows what the state says.
 */
static void test_strategy_datapath(void)
{
	static const struct {
		__u32 strategy, burst;
		int admits;
	} cases[] = {
		{ XL_STRAT_SLIDING, 0, 3 },
		{ XL_STRAT_TOKEN, 2, 2 },
	};
	const char *src = "198.18.0.40";
	char name[96];
	size_t c;
	int p, i;

	for (c = 0; c < ARRAY_SIZE(cases); c++) {
		for (p = PROG_XDP; p <= PROG_TC; p++) {
			struct xl_rule r = strategy_rule(cases[c].strategy,
							 cases[c].burst, 3, 30);
			struct xl_state before, after;
			struct xl_query q;
			struct xl_stats st;
			struct xl_view v;
			struct xl_key k;
			__u64 t0 = now_ns();

			if (!reset_maps() || !set_rule(80, &r))
				return;
			snprintf(name, sizeof(name), "%s %s",
				 cases[c].strategy == XL_STRAT_TOKEN ?
					 "token-bucket" :
					 "sliding-window",
				 prog_names[p]);
			/* Hits alternate: SYN, query charge, SYN, ... */
			for (i = 0; i < cases[c].admits; i++) {
				if (i % 2 == 0) {
					ASSERT_EQ(syn_on(p, src, 80), XDP_PASS,
						  name);
					continue;
				}
				ASSERT_OK(query(XL_OP_CHARGE, src, 80, &q),
					  name);
				ASSERT_EQ(q.verdict, XL_V_PASS, name);
			}
			state_key(src, 80, &k);
			if (!ASSERT_OK(bpf_map_lookup_elem(fd_state, &k,
							   &before),
				       name))
				return;
			ASSERT_EQ(syn_on(p, src, 80), XDP_DROP, name);
			ASSERT_OK(query(XL_OP_CHARGE, src, 80, &q), name);
			ASSERT_EQ(q.verdict, XL_V_OVER_DROP, name);
			ASSERT_EQ(q.breached, 1, name);
			ASSERT_OK(bpf_map_lookup_elem(fd_state, &k, &after),
				  name);
			ASSERT_U64_EQ(after.win[0].word, before.win[0].word,
				      "refused hits change nothing");
			if (cases[c].strategy == XL_STRAT_SLIDING)
				ASSERT_U64_EQ(after.win[0].word,
					      xl_sw_word(q.now / (30 * NSEC), 0,
							 3),
					      "sliding: three in this window");
			else
				ASSERT_TRUE(
					after.win[0].word >= t0 + 20 * NSEC &&
						after.win[0].word <=
							now_ns() + 20 * NSEC,
					"token: tat = first hit + 2 T");
			ASSERT_OK(query(XL_OP_READ, src, 80, &q), name);
			v = qview(&q, 0);
			ASSERT_U64_EQ(v.remaining, 0, "query: none remaining");
			ASSERT_TRUE(v.reset_ns > q.now &&
					    v.reset_ns <= q.now + 30 * NSEC,
				    "query: reset within the period");
			ASSERT_EQ(q.limits[0].strategy, cases[c].strategy,
				  "query: the rule's strategy");
			if (read_stats(3, &st)) {
				ASSERT_U64_EQ(st.c[SEEN],
					      (cases[c].admits + 1) / 2 + 1,
					      "seen: the SYNs");
				ASSERT_U64_EQ(st.c[DROPPED], 1, "dropped");
			}
		}
	}
}

/* One SYN under a new generation, which the verdict cache does not
 * answer: the program's verdict, or -1. */
static int syn_uncached(const char *src, __u16 port)
{
	return bump_gen() ? syn(src, port) : -1;
}

/* Evicts a client over its limit and checks that it comes back over,
 * with the state it had (`what` names the case). */
static void over_comes_back(const char *src, const struct xl_key *k,
			    const char *what)
{
	struct xl_state before, after;

	ASSERT_OK(bpf_map_lookup_elem(fd_state, k, &before), what);
	ASSERT_OK(bpf_map_delete_elem(fd_state, k), "forget the client");
	ASSERT_EQ(syn_uncached(src, 80), XDP_DROP,
		  "the forgotten client is still over");
	ASSERT_OK(bpf_map_lookup_elem(fd_state, k, &after), "state again");
	ASSERT_U64_EQ(after.win[0].word, before.win[0].word, "the same words");
}

/*
 * A client over its limit comes back with its windows once evicted,
 * whichever of its refused hits wrote xl_over last. A fixed window's first
 * refused hit writes it (counting the hit, to amount + 1) and later ones
 * find nothing new to write; a token bucket's refused hits change no word,
 * so each of them writes xl_over again, even when the slot lost the
 * client meanwhile (cleared here, as another refused client would take
 * it). Each SYN comes with a new generation, so that the verdict cache
 * does not answer it.
 */
static void test_over_each_refusal(void)
{
	struct xl_rule fixed = strategy_rule(XL_STRAT_FIXED, 0, 2, 30);
	struct xl_rule token = strategy_rule(XL_STRAT_TOKEN, 2, 2, 30);
	const char *src = "198.18.0.41";
	struct xl_state st_now;
	struct xl_stats st;
	struct xl_key k;
	int i;

	if (!reset_maps() || !set_rule(80, &fixed) ||
	    !ASSERT_TRUE(state_key(src, 80, &k), src))
		return;
	for (i = 0; i < 2; i++)
		ASSERT_EQ(syn(src, 80), XDP_PASS, "fixed: within the limit");
	for (i = 0; i < 3; i++)
		ASSERT_EQ(syn_uncached(src, 80), XDP_DROP,
			  "fixed: over the limit");
	if (ASSERT_OK(bpf_map_lookup_elem(fd_state, &k, &st_now), "state"))
		ASSERT_U64_EQ(
			xl_word_count(st_now.win[0].word), 3,
			"fixed: the first refused hit counted, no later one");
	over_comes_back(src, &k, "fixed");

	if (!reset_maps() || !set_rule(80, &token))
		return;
	for (i = 0; i < 2; i++)
		ASSERT_EQ(syn(src, 80), XDP_PASS, "token: within the burst");
	ASSERT_EQ(syn_uncached(src, 80), XDP_DROP, "token: over");
	ASSERT_OK(clear_over(), "the slot taken from the client");
	ASSERT_EQ(syn_uncached(src, 80), XDP_DROP, "token: over again");
	over_comes_back(src, &k, "token");
	if (read_stats(3, &st))
		ASSERT_U64_EQ(st.c[RESTORED], 1, "token: restored once");
}

/*
 * Several limits of one strategy on a port, through the datapath: a hit
 * that fits all is charged to all; a refused one to none (neither
 * strategy charges a refused hit), even when it fits the other limit.
 */
static void test_strategy_several_limits(void)
{
	static const __u32 strategies[] = { XL_STRAT_SLIDING, XL_STRAT_TOKEN };
	const char *src = "198.18.0.41";
	size_t c;

	for (c = 0; c < ARRAY_SIZE(strategies); c++) {
		struct xl_rule r = strategy_rule(strategies[c], 0, 2, 60);
		struct xl_state s1, s2;
		struct xl_key k;
		int i;

		r.nlimits = 2;
		r.limits[1] = r.limits[0];
		r.limits[1].amount = 5;
		r.limits[1].period_ns = 3600 * NSEC;
		r.limits[1].burst = strategies[c] == XL_STRAT_TOKEN ? 5 : 0;
		r.limits[0].burst = strategies[c] == XL_STRAT_TOKEN ? 2 : 0;
		if (!reset_maps() || !set_rule(80, &r))
			return;
		for (i = 0; i < 2; i++)
			ASSERT_EQ(syn(src, 80), XDP_PASS, "fits both");
		state_key(src, 80, &k);
		if (!ASSERT_OK(bpf_map_lookup_elem(fd_state, &k, &s1), "state"))
			return;
		ASSERT_EQ(syn(src, 80), XDP_DROP, "over the first");
		ASSERT_OK(bpf_map_lookup_elem(fd_state, &k, &s2), "state");
		ASSERT_TRUE(!memcmp(&s1, &s2, sizeof(s1)),
			    "the refused hit is charged to neither limit");
		if (strategies[c] == XL_STRAT_SLIDING)
			ASSERT_EQ(s2.win[1].sliding.curr, 2,
				  "the second limit counted both hits");
		else
			ASSERT_TRUE(s2.win[1].tat >= s2.win[0].tat,
				    "the second bucket took both hits");
	}
}

/*
 * The verdict cache with the new strategies. A token bucket's drop is
 * cached until the next hit fits (the client forgotten everywhere else
 * is still dropped); a sliding window's drop is cached while its own
 * window is full, and not when the previous window's weight refuses
 * (then each SYN is decided: the forgotten client passes).
 */
static void test_strategy_cache(void)
{
	const char *src = "198.18.0.42";
	struct xl_rule r;
	struct xl_state s = {};
	struct xl_key k;
	cpu_set_t old;
	__u64 day = 86400 * NSEC, now;

	if (!pin_cpu(&old))
		return;
	r = strategy_rule(XL_STRAT_TOKEN, 1, 1, 30);
	if (!reset_maps() || !set_rule(80, &r))
		goto out;
	ASSERT_EQ(syn(src, 80), XDP_PASS, "token: the one hit");
	ASSERT_EQ(syn(src, 80), XDP_DROP, "token: over, cached");
	if (!forget_client(src, 80))
		goto out;
	ASSERT_EQ(syn(src, 80), XDP_DROP, "token: cached drop holds");
	ASSERT_EQ(count_keys(fd_state), 0, "token: no state created");

	r = strategy_rule(XL_STRAT_SLIDING, 0, 2, 30);
	if (!reset_maps() || !set_rule(80, &r))
		goto out;
	ASSERT_EQ(syn(src, 80), XDP_PASS, "sliding: hit 1");
	ASSERT_EQ(syn(src, 80), XDP_PASS, "sliding: hit 2");
	ASSERT_EQ(syn(src, 80), XDP_DROP, "sliding: window full, cached");
	if (!forget_client(src, 80))
		goto out;
	ASSERT_EQ(syn(src, 80), XDP_DROP, "sliding: cached drop holds");

	/* A previous window (of a day) full to the brim: refused on its
	 * weight alone, whatever the time of day but its last instants. */
	r = strategy_rule(XL_STRAT_SLIDING, 0, 2, 86400);
	if (!reset_maps() || !set_rule(80, &r))
		goto out;
	now = now_ns();
	if (now % day > day - 10 * NSEC) /* bounded: at most 10 s */
		nanosleep(&(struct timespec){ .tv_sec = 11 }, NULL);
	now = now_ns();
	s.win[0].word = xl_sw_word(now / day - 1, 0, XL_SW_MASK);
	state_key(src, 80, &k);
	if (!ASSERT_OK(bpf_map_update_elem(fd_state, &k, &s, BPF_ANY),
		       "seed the previous window"))
		goto out;
	ASSERT_EQ(syn(src, 80), XDP_DROP, "sliding: refused on the weight");
	if (!forget_client(src, 80))
		goto out;
	ASSERT_EQ(syn(src, 80), XDP_PASS,
		  "sliding: a refusal on the weight is not cached");
out:
	sched_setaffinity(0, sizeof(old), &old);
}

/* ---- the reject action ------------------------------------------------- */

/* Runs one frame and keeps what the program made of it in out. */
static int run_frame_out(enum prog p, const __u8 *frame, size_t len, __u8 *out,
			 __u32 *outlen, int *ret)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame, .data_size_in = len,
		    .data_out = out, .data_size_out = *outlen, .repeat = 1);
	int err;

	err = bpf_prog_test_run_opts(prog_fd(p), &o);
	*ret = o.retval;
	*outlen = o.data_size_out;
	return err;
}

static __u32 get32(const __u8 *p)
{
	return (__u32)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3];
}

static __u16 get16(const __u8 *p)
{
	return p[0] << 8 | p[1];
}

/*
 * The RST `out` the program made of `syn` (built from `spec`, unpadded:
 * its TCP header and payload end the frame), checked byte by byte, with
 * both checksums recomputed here.
 */
static void check_rst(const struct pkt_spec *spec, const __u8 *syn,
		      size_t synlen, const __u8 *out, size_t outlen)
{
	bool v6 = spec->l3 == PKT_IPV6;
	size_t l3 = PKT_ETH_HLEN, iphl = v6 ? 40 : 20, sl4, l4, alen;
	const __u8 *ssrc, *sdst, *rsrc, *rdst;
	__u32 sum;
	int i;

	for (i = 0; i < PKT_VLAN_MAX && spec->vlan[i]; i++)
		l3 += 4;
	sl4 = synlen - 20 - spec->payload;
	l4 = l3 + iphl;
	alen = v6 ? 16 : 4;
	if (!ASSERT_EQ(outlen, l4 + 20, "frame cut to the RST's length"))
		return;
	ASSERT_TRUE(!memcmp(out, syn + 6, 6),
		    "destination MAC: the SYN's source");
	ASSERT_TRUE(!memcmp(out + 6, syn, 6),
		    "source MAC: the SYN's destination");
	ASSERT_TRUE(!memcmp(out + 12, syn + 12, l3 - 12),
		    "VLAN tags and EtherType kept");
	ssrc = syn + l3 + (v6 ? 8 : 12);
	sdst = ssrc + alen;
	rsrc = out + l3 + (v6 ? 8 : 12);
	rdst = rsrc + alen;
	ASSERT_TRUE(!memcmp(rsrc, sdst, alen),
		    "source address: the SYN's destination");
	ASSERT_TRUE(!memcmp(rdst, ssrc, alen),
		    "destination address: the SYN's source");
	if (v6) {
		ASSERT_EQ(get32(out + l3), 0x60000000,
			  "IPv6 version, no class or flow");
		ASSERT_EQ(get16(out + l3 + 4), 20, "IPv6 payload length");
		ASSERT_EQ(out[l3 + 6], IPPROTO_TCP,
			  "next header TCP, no extensions");
		ASSERT_EQ(out[l3 + 7], 64, "hop limit");
	} else {
		ASSERT_EQ(out[l3], 0x45, "IPv4 without options");
		ASSERT_EQ(get16(out + l3 + 2), 40, "IPv4 total length");
		ASSERT_EQ(get16(out + l3 + 6), 0x4000, "DF, not a fragment");
		ASSERT_EQ(out[l3 + 8], 64, "TTL");
		ASSERT_EQ(out[l3 + 9], IPPROTO_TCP, "protocol TCP");
		ASSERT_EQ(pkt_csum_fold(pkt_csum_add(0, out + l3, 20)), 0,
			  "IPv4 header checksum");
	}
	ASSERT_EQ(get16(out + l4), get16(syn + sl4 + 2),
		  "source port: the SYN's destination");
	ASSERT_EQ(get16(out + l4 + 2), get16(syn + sl4),
		  "destination port: the SYN's source");
	ASSERT_EQ(get32(out + l4 + 4), 0, "seq 0");
	ASSERT_EQ(get32(out + l4 + 8),
		  get32(syn + sl4 + 4) + 1 + spec->payload +
			  !!(syn[sl4 + 13] & PKT_TCP_FIN),
		  "ack: the SYN's seq + 1 (+1 for a FIN) + its data");
	ASSERT_EQ(out[l4 + 12], 5 << 4, "data offset 5: no options");
	ASSERT_EQ(out[l4 + 13], PKT_TCP_RST | PKT_TCP_ACK, "flags RST|ACK");
	ASSERT_EQ(get16(out + l4 + 14), 0, "window 0");
	ASSERT_EQ(get16(out + l4 + 18), 0, "urgent pointer 0");
	sum = pkt_csum_add(0, rsrc, alen);
	sum = pkt_csum_add(sum, rdst, alen);
	sum += IPPROTO_TCP + 20;
	sum = pkt_csum_add(sum, out + l4, 20);
	ASSERT_EQ(pkt_csum_fold(sum), 0, "TCP checksum");
}

/* A SYN within the limit passes; the next, over a reject limit, comes
 * back as a RST, and is counted as rejected. */
static void check_reject(const char *what, const struct pkt_spec *spec,
			 enum prog p)
{
	static const struct rule_spec r = RULE(80, 3, LIM(1, 30, REJECT));
	static char name[160];
	__u8 frame[PKT_MAX], out[PKT_MAX + 256];
	__u32 outlen = sizeof(out);
	struct xl_stats st;
	size_t len;
	int ret;

	snprintf(name, sizeof(name), "reject: %s [%s]", what, prog_names[p]);
	SUBTEST_BEGIN(name);
	if (!reset_maps() || !set_rule(r.port, &r.rule))
		goto out;
	len = pkt_build(spec, frame, sizeof(frame));
	if (!ASSERT_TRUE(len > PKT_ETH_HLEN, "build the frame") ||
	    !ASSERT_OK(run_frame(p, frame, len, &ret), "first SYN"))
		goto out;
	ASSERT_EQ(ret, want_ret(p, XDP_PASS), "first SYN passes");
	if (!ASSERT_OK(run_frame_out(p, frame, len, out, &outlen, &ret),
		       "second SYN"))
		goto out;
	ASSERT_EQ(ret, p == PROG_XDP ? XDP_TX : TC_ACT_REDIRECT,
		  "second SYN sent back");
	check_rst(spec, frame, len, out, outlen);
	if (read_stats(3, &st)) {
		ASSERT_U64_EQ(st.c[SEEN], 2, "seen");
		ASSERT_U64_EQ(st.c[PASSED], 1, "passed");
		ASSERT_U64_EQ(st.c[XL_STAT_REJECTED], 1, "rejected");
		ASSERT_U64_EQ(st.c[DROPPED], 0, "dropped");
	}
out:
	SUBTEST_END();
}

static void test_reject_frames(void)
{
	static const struct {
		const char *what;
		struct pkt_spec spec;
	} frames[] = {
		{ "ipv4", { .dport = 80 } },
		{ "ipv6", { .dport = 80, V6 } },
		{ "ipv4, one VLAN tag",
		  { .dport = 80, .vlan = { PKT_ETH_P_8021Q } } },
		{ "ipv6, one VLAN tag",
		  { .dport = 80, V6, .vlan = { PKT_ETH_P_8021Q } } },
		{ "ipv4, two VLAN tags", { .dport = 80, QINQ } },
		{ "ipv6, two VLAN tags", { .dport = 80, V6, QINQ } },
		{ "ipv4 with 8 bytes of options",
		  { .dport = 80, .ip_optlen = 8 } },
		{ "ipv4 with 40 bytes of options, two tags",
		  { .dport = 80, .ip_optlen = 40, QINQ } },
		{ "ipv6 with hop-by-hop, routing and destination headers",
		  { .dport = 80,
		    V6,
		    .ext = { PKT_EXT_HOP, PKT_EXT_ROUTING, PKT_EXT_DEST } } },
		{ "ipv4 Fast Open SYN with 100 bytes of data",
		  { .dport = 80, .payload = 100 } },
		{ "ipv6 Fast Open SYN with 3 bytes of data, one tag",
		  { .dport = 80,
		    V6,
		    .payload = 3,
		    .vlan = { PKT_ETH_P_8021Q } } },
		{ "ipv4 SYN+FIN",
		  { .dport = 80, .tcp_flags = PKT_TCP_SYN | PKT_TCP_FIN } },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(frames); i++) {
		check_reject(frames[i].what, &frames[i].spec, PROG_XDP);
		check_reject(frames[i].what, &frames[i].spec, PROG_TC);
	}
}

/* The verdict on the second of two SYNs under rule r (the first fits). */
static int second_syn(const struct rule_spec *r, const struct pkt_spec *spec,
		      enum prog p, struct xl_stats *st)
{
	__u8 frame[PKT_MAX];
	size_t len;
	int ret = -1;

	if (!reset_maps() || !set_rule(r->port, &r->rule))
		return -1;
	len = pkt_build(spec, frame, sizeof(frame));
	if (!ASSERT_OK(run_frame(p, frame, len, &ret), "first SYN") ||
	    !ASSERT_EQ(ret, want_ret(p, XDP_PASS), "first SYN passes") ||
	    !ASSERT_OK(run_frame(p, frame, len, &ret), "second SYN"))
		return -1;
	memset(st, 0, sizeof(*st));
	read_stats(r->port == 80 ? 3 : 1023, st);
	return ret;
}

/* Over several limits: drop wins over reject, reject over pass. A first
 * fragment over a reject limit is dropped: its length is not the
 * segment's, so there is no ack to answer it with. */
static void test_reject_precedence(void)
{
	static const struct rule_spec rd =
		RULE(80, 3, LIM(1, 30, REJECT), LIM(1, 60, DROP));
	static const struct rule_spec rp =
		RULE(80, 3, LIM(1, 30, PASS), LIM(1, 60, REJECT));
	static const struct rule_spec rr = RULE(80, 3, LIM(1, 30, REJECT));
	static const struct pkt_spec syn = { .dport = 80 };
	static const struct pkt_spec frag = { .dport = 80, .more_frags = true };
	static const struct pkt_spec frag6 = {
		.dport = 80, V6, .ext = { PKT_EXT_FRAG }, .more_frags = true
	};
	struct xl_stats st;
	enum prog p;

	for (p = PROG_XDP; p <= PROG_TC; p++) {
		ASSERT_EQ(second_syn(&rd, &syn, p, &st), want_ret(p, XDP_DROP),
			  "over reject and drop: dropped");
		ASSERT_U64_EQ(st.c[DROPPED], 1, "counted as dropped");
		ASSERT_U64_EQ(st.c[XL_STAT_REJECTED], 0, "not as rejected");
		ASSERT_EQ(second_syn(&rp, &syn, p, &st),
			  p == PROG_XDP ? XDP_TX : TC_ACT_REDIRECT,
			  "over pass and reject: rejected");
		ASSERT_U64_EQ(st.c[XL_STAT_REJECTED], 1, "counted as rejected");
		ASSERT_U64_EQ(st.c[OVER_PASSED], 0, "not as over_passed");
		ASSERT_EQ(second_syn(&rr, &frag, p, &st), want_ret(p, XDP_DROP),
			  "a first fragment over reject: dropped");
		ASSERT_EQ(second_syn(&rr, &frag6, p, &st),
			  want_ret(p, XDP_DROP),
			  "an ipv6 first fragment over reject: dropped");
	}
}

/* ---- floods: the port's ceiling and known clients ------------------------ */

/* One TCP segment (flags 0: a SYN) from src to port through p: XDP_PASS
 * or XDP_DROP as the program decided, or -1. */
static int segment(enum prog p, const char *src, __u16 port, __u8 flags)
{
	struct pkt_spec s = { .src = src, .dport = port, .tcp_flags = flags };
	__u8 frame[PKT_MAX];
	size_t len = pkt_build(&s, frame, sizeof(frame));
	int ret;

	if (!len || run_frame(p, frame, len, &ret))
		return -1;
	if (ret == want_ret(p, XDP_PASS))
		return XDP_PASS;
	return ret == want_ret(p, XDP_DROP) ? XDP_DROP : -1;
}

/* Installs rule r with a ceiling of `amount` per 30 s (and `flags` beside
 * XL_RULE_TOTAL), as `limit set --total` writes them: the ceiling first. */
static bool set_ceiling(const struct rule_spec *r, __u64 amount, __u32 flags)
{
	struct xl_total t = { .rule = { .nlimits = 1,
					.limits = { LIM(amount, 30, DROP) } } };
	struct xl_rule rule = r->rule;

	rule.flags = XL_RULE_TOTAL | flags;
	return ASSERT_OK(bpf_map_update_elem(fd_total, &rule.slot, &t, 0),
			 "write the ceiling") &&
	       set_rule(r->port, &rule);
}

/* Hits counted in window 0 of the ceiling of slot 3. */
static __u64 ceiling_count(void)
{
	struct xl_total t = {};
	__u32 slot = 3;

	bpf_map_lookup_elem(fd_total, &slot, &t);
	return xl_word_count(t.state.win[0].word);
}

/* The client src as the sockops program records it. */
static bool make_known(const char *src, __u16 port)
{
	struct xl_known v = { .last = now_ns(), .conns = 1 };
	struct xl_key k;

	return ASSERT_TRUE(state_key(src, port, &k), src) &&
	       ASSERT_OK(bpf_map_update_elem(fd_known, &k, &v, BPF_NOEXIST),
			 "make the client known");
}

/* SYNs from n new sources NET.1 .. NET.n to port 80, each let through
 * by the ceiling. */
static void fill_ceiling(enum prog p, const char *net, int n)
{
	char src[32], what[96];
	int i;

	for (i = 1; i <= n; i++) {
		snprintf(src, sizeof(src), "%s.%d", net, i);
		snprintf(what, sizeof(what),
			 "new source %d of %d: within the ceiling", i, n);
		ASSERT_EQ(segment(p, src, 80, 0), XDP_PASS, what);
	}
}

/*
 * The ceiling admits exactly its amount of new connections per window,
 * from any sources: past it, a SYN is dropped without its source being
 * counted or created, and counted as total_dropped. A SYN its own limit
 * refuses does not use the ceiling; nor does the sidecar's charge.
 */
static void check_ceiling(enum prog p)
{
	static const struct rule_spec r = RULE(80, 3, LIM(2, 30, DROP));
	struct xl_query q;
	struct xl_stats st;
	int i;

	SUBTEST_BEGIN(p == PROG_XDP ? "ceiling: xdp" : "ceiling: tc");
	if (!reset_maps() || !set_ceiling(&r, 5, 0))
		goto out;
	fill_ceiling(p, "198.18.1", 5);
	ASSERT_U64_EQ(ceiling_count(), 5, "the ceiling counted 5");
	ASSERT_EQ(segment(p, "198.18.1.6", 80, 0), XDP_DROP,
		  "a sixth source: over the ceiling");
	ASSERT_EQ(segment(p, "198.18.1.7", 80, 0), XDP_DROP, "a seventh too");
	ASSERT_EQ(segment(p, "198.18.1.1", 80, 0), XDP_DROP,
		  "a source within its own limit: over the ceiling");
	ASSERT_U64_EQ(ceiling_count(), 5, "nothing charged past the amount");
	ASSERT_EQ(count_keys(fd_state), 5,
		  "sources refused by the ceiling are not created");
	ASSERT_OK(query(XL_OP_CHARGE, "198.18.1.2", 80, &q),
		  "the sidecar charges a request");
	ASSERT_U64_EQ(ceiling_count(), 5, "the ceiling counts SYNs only");
	if (read_stats(3, &st)) {
		ASSERT_U64_EQ(st.c[SEEN], 8, "seen");
		ASSERT_U64_EQ(st.c[PASSED], 5, "passed");
		ASSERT_U64_EQ(st.c[XL_STAT_TOTAL_DROPPED], 3, "total_dropped");
		ASSERT_U64_EQ(st.c[DROPPED], 0, "dropped");
		ASSERT_U64_EQ(st.c[NEW], 5, "new_clients");
	}

	/* Own limit first: a refused SYN leaves the ceiling's room. */
	if (!reset_maps() || !set_ceiling(&r, 5, 0))
		goto out;
	for (i = 0; i < 2; i++)
		ASSERT_EQ(segment(p, "198.18.1.1", 80, 0), XDP_PASS,
			  "within its own limit");
	ASSERT_EQ(segment(p, "198.18.1.1", 80, 0), XDP_DROP,
		  "over its own limit");
	ASSERT_U64_EQ(ceiling_count(), 2, "the refused SYN used no room");
	if (read_stats(3, &st)) {
		ASSERT_U64_EQ(st.c[DROPPED], 1, "dropped by its own limit");
		ASSERT_U64_EQ(st.c[XL_STAT_TOTAL_DROPPED], 0,
			      "not by the ceiling");
	}
out:
	SUBTEST_END();
}

/*
 * With --admit-known, a known client is let past an exceeded ceiling and
 * decided by its own limit (known_admitted); without it, it is dropped
 * with the others. Packets from a source that never completed a
 * handshake (forged ACKs, RSTs, SYN-ACKs, SYNs) never make it known: the
 * datapath never writes xl_known.
 */
static void check_known(enum prog p)
{
	static const struct rule_spec r = RULE(80, 3, LIM(2, 30, DROP));
	static const __u8 forged[] = { PKT_TCP_ACK, PKT_TCP_ACK | 0x08,
				       0x04 /* RST */,
				       PKT_TCP_SYN | PKT_TCP_ACK };
	const char *known = "198.18.2.50", *stranger = "198.18.2.60";
	struct xl_stats st;
	size_t i;

	SUBTEST_BEGIN(p == PROG_XDP ? "known clients: xdp" :
				      "known clients: tc");
	if (!reset_maps() || !set_ceiling(&r, 3, XL_RULE_ADMIT_KNOWN) ||
	    !make_known(known, 80))
		goto out;
	fill_ceiling(p, "198.18.2", 3);
	ASSERT_EQ(segment(p, "198.18.2.4", 80, 0), XDP_DROP,
		  "a new source over the ceiling");
	ASSERT_EQ(segment(p, known, 80, 0), XDP_PASS,
		  "a known client past the exceeded ceiling");
	ASSERT_EQ(segment(p, known, 80, 0), XDP_PASS, "its second SYN");
	ASSERT_EQ(segment(p, known, 80, 0), XDP_DROP,
		  "its third: over its own limit of 2");
	ASSERT_EQ(segment(p, known, 81, 0), XDP_PASS,
		  "known on port 80 only: another port has no rule");
	for (i = 0; i < sizeof(forged); i++)
		ASSERT_EQ(segment(p, stranger, 80, forged[i]), XDP_PASS,
			  "a forged non-SYN segment passes on the fast path");
	ASSERT_EQ(count_keys(fd_known), 1, "and makes no source known");
	ASSERT_EQ(segment(p, stranger, 80, 0), XDP_DROP,
		  "the stranger's SYN: over the ceiling");
	ASSERT_U64_EQ(ceiling_count(), 3, "the ceiling counted 3");
	if (read_stats(3, &st)) {
		ASSERT_U64_EQ(st.c[SEEN], 8, "seen");
		ASSERT_U64_EQ(st.c[PASSED], 5, "passed");
		ASSERT_U64_EQ(st.c[XL_STAT_KNOWN_ADMITTED], 3,
			      "known_admitted: the known client's SYNs");
		ASSERT_U64_EQ(st.c[DROPPED], 1, "dropped by its own limit");
		ASSERT_U64_EQ(st.c[XL_STAT_TOTAL_DROPPED], 2, "total_dropped");
	}

	/* The ceiling alone: the known client is dropped with the flood. */
	if (!reset_maps() || !set_ceiling(&r, 3, 0) || !make_known(known, 80))
		goto out;
	fill_ceiling(p, "198.18.2", 3);
	ASSERT_EQ(segment(p, known, 80, 0), XDP_DROP,
		  "without --admit-known a known client is over the ceiling");
	if (read_stats(3, &st))
		ASSERT_U64_EQ(st.c[XL_STAT_KNOWN_ADMITTED], 0,
			      "known_admitted");
out:
	SUBTEST_END();
}

/*
 * A ceiling of two limits: a SYN must fit both; one the first refuses is
 * charged to neither (its source is not even looked up).
 */
static void check_two_ceilings(enum prog p)
{
	static const struct rule_spec r = RULE(80, 3, LIM(5, 30, DROP));
	struct xl_total t = { .rule = { .nlimits = 2,
					.limits = { LIM(2, 30, DROP),
						    LIM(10, 60, DROP) } } };
	struct xl_rule rule = r.rule;
	__u32 slot = 3;
	struct xl_total after = {};

	SUBTEST_BEGIN(p == PROG_XDP ? "two ceilings: xdp" : "two ceilings: tc");
	rule.flags = XL_RULE_TOTAL;
	if (!reset_maps() ||
	    !ASSERT_OK(bpf_map_update_elem(fd_total, &slot, &t, 0),
		       "write the ceiling") ||
	    !set_rule(r.port, &rule))
		goto out;
	ASSERT_EQ(segment(p, "198.18.3.1", 80, 0), XDP_PASS, "first of 2");
	ASSERT_EQ(segment(p, "198.18.3.2", 80, 0), XDP_PASS, "second of 2");
	ASSERT_EQ(segment(p, "198.18.3.3", 80, 0), XDP_DROP,
		  "third: over the first ceiling");
	ASSERT_OK(bpf_map_lookup_elem(fd_total, &slot, &after), "read it");
	ASSERT_U64_EQ(xl_word_count(after.state.win[0].word), 2,
		      "first ceiling: 2");
	ASSERT_U64_EQ(xl_word_count(after.state.win[1].word), 2,
		      "second ceiling: 2, the refused SYN not charged");
out:
	SUBTEST_END();
}

static void test_floods(void)
{
	enum prog p;

	for (p = PROG_XDP; p <= PROG_TC; p++) {
		check_ceiling(p);
		check_two_ceilings(p);
		check_known(p);
	}
}

int main(void)
{
	size_t i;

	libbpf_set_print(print_libbpf);
	setvbuf(stdout, NULL, _IOLBF, 0);

	SUBTEST_BEGIN("load the object");
	if (!setup()) {
		test__fail();
		SUBTEST_END();
		teardown();
		return test_summary();
	}
	SUBTEST_END();

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		run_case(&cases[i], PROG_XDP);
		run_case(&cases[i], PROG_TC);
	}
	test_prefixes();
	RUN_TEST(rule_change_race);
	RUN_TEST(rule_change_leaves_entry);
	RUN_TEST(rule_default);
	RUN_TEST(query_charge_like_a_syn);
	RUN_TEST(query_several_limits);
	RUN_TEST(query_unknown_client);
	RUN_TEST(clock_is_coarse);
	RUN_TEST(query_no_rule);
	RUN_TEST(query_ipv6_prefix);
	RUN_TEST(over_restore);
	RUN_TEST(cache_over_limit);
	RUN_TEST(cache_lists);
	RUN_TEST(cache_slot_shared);
	RUN_TEST(cache_window_end);
	RUN_TEST(cache_skips_tries);
	RUN_TEST(port_list_flags);
	RUN_TEST(strategy_datapath);
	RUN_TEST(over_each_refusal);
	RUN_TEST(strategy_several_limits);
	RUN_TEST(strategy_cache);
	test_reject_frames();
	RUN_TEST(reject_precedence);
	test_floods();

	SUBTEST_BEGIN("remove the pins");
	teardown();
	ASSERT_TRUE(access(pin_dir, F_OK) && errno == ENOENT, pin_dir);
	SUBTEST_END();
	return test_summary();
}
