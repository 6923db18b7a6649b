/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The contract between the xlimit datapath (bpf/) and userspace (user/):
 * map names, key and value layouts, limits, action codes and statistics
 * counter ids. Both sides compile against this file and nothing else
 * describes these structures, so they cannot drift apart. It depends on
 * <linux/types.h> only.
 */
#ifndef XLIMIT_H
#define XLIMIT_H

#include <linux/types.h>

/* Map names: the BPF declarations and the pin names under XL_PIN_DIR.
 * The kernel keeps at most 15 characters of a map name. */
#define XL_MAP_RULES xl_rules
#define XL_MAP_STATE xl_state
#define XL_MAP_ALLOW xl_allow
#define XL_MAP_DENY xl_deny
#define XL_MAP_STATS xl_stats
#define XL_MAP_CONFIG xl_config
#define XL_MAP_OVER xl_over
#define XL_MAP_VCACHE xl_vcache
#define XL_MAP_SYNC xl_sync
#define XL_MAP_SEEN xl_sync_seen
#define XL_MAP_EVENTS xl_sync_events
#define XL_MAP_TOTAL xl_total
#define XL_MAP_KNOWN xl_known
#define XL_MAP_ROUTES xl_routes
#define XL_MAP_RSTATE xl_route_state
#define XL_MAP_PORTS xl_ports
#define XL_MAP_RSLOTS xl_rslots
#define XL_MAP_RSTATS xl_route_stats

#define XL_STR_(x) #x
#define XL_STR(x) XL_STR_(x)

#define XL_PIN_DIR "/sys/fs/bpf/xlimit"

#define XL_MAX_LIMITS 4 /* limits on one port */
#define XL_MAX_RULES 1024 /* ports with a rule of their own (+ port 0) */
#define XL_LIST_MAX 65536 /* entries in each of the allow and deny lists */
#define XL_STATE_DEFAULT 262144 /* tracked (source, port) keys, default */
#define XL_OVER_SLOTS 65536 /* entries of xl_over, a power of 2 */
#define XL_IPV6_PREFIX_DEFAULT 64 /* IPv6 sources are counted per /64 */
#define XL_VCACHE_BITS 12 /* xl_vcache has 2^12 entries per CPU */
#define XL_VCACHE_SLOTS (1U << XL_VCACHE_BITS)
#define XL_KNOWN_MAX 65536 /* (source, port) keys in xl_known */

/* xl_stats has one slot per rule and, after them, one for what the
 * datapath dropped before it knew a port, and for SYNs from denied
 * sources to ports without a rule: XL_SLOT_GLOBAL. */
#define XL_SLOT_GLOBAL XL_MAX_RULES
#define XL_STATS_SLOTS (XL_MAX_RULES + 1)

/* The largest amount a limit may have. A window's count is 24 bits wide and
 * must be able to run past the amount: a hit is added only while the count
 * is at most the amount, and each CPU has at most one such hit in flight,
 * so the count stays at most amount + the number of CPUs: 2^16 of them
 * fit (see xl_limiter.h). */
#define XL_AMOUNT_MAX ((1ULL << 24) - (1ULL << 16) - 1)
/* The longest period: 100 years of limits' 360 days (3.1e18 ns). A
 * window's start (at most 2^60 ns, 36 years of uptime) plus its period,
 * and that end as a wall clock time in ns, stay far below 2^63. */
#define XL_PERIOD_MAX_S (100ULL * 31104000)
#define XL_NSEC_PER_SEC 1000000000ULL

/* What happens to a SYN over a limit. */
enum xl_action {
	XL_ACT_DROP = 0, /* XDP_DROP / TC_ACT_SHOT */
	XL_ACT_PASS = 1, /* counted and let through; the sidecar answers 429 */
	XL_ACT_REJECT = 2, /* answered with a TCP RST: XDP_TX / redirect */
};

/* How a limit counts (SEMANTICS.md §2; the algorithms are in
 * xl_limiter.h). Every limit of a rule has the rule's strategy. */
enum xl_strategy {
	XL_STRAT_FIXED = 0, /* fixed window from the first hit (default) */
	XL_STRAT_SLIDING = 1, /* sliding-window counter approximation */
	XL_STRAT_TOKEN = 2, /* token bucket as GCRA, with a burst */
};

/* The largest amount of a sliding-window limit: its word holds the counts
 * of two windows in 20 bits each, and a sliding window never counts past
 * its amount (see xl_limiter.h). */
#define XL_SLIDING_AMOUNT_MAX ((1ULL << 20) - 1)

/* One limit: at most `amount` hits per `period_ns`, counted as `strategy`
 * says. A token bucket also lets `burst` hits come at once (0: amount). */
struct xl_limit {
	__u64 amount;
	__u64 period_ns;
	__u32 action; /* enum xl_action */
	__u32 strategy; /* enum xl_strategy */
	__u32 burst; /* XL_STRAT_TOKEN: hits at once, 0 = amount; else 0 */
	__u32 pad;
};
_Static_assert(sizeof(struct xl_limit) == 32, "xl_limit layout");

/* xl_rule.flags. XL_RULE_TOTAL: xl_total[slot] holds a ceiling for all
 * sources of the port together. XL_RULE_ADMIT_KNOWN: while the ceiling is
 * exceeded, sources in xl_known are still admitted within their own
 * limits. */
#define XL_RULE_TOTAL (1U << 0)
#define XL_RULE_ADMIT_KNOWN (1U << 1)
#define XL_RULE_FLAGS (XL_RULE_TOTAL | XL_RULE_ADMIT_KNOWN)

/*
 * Rules. xl_rules, a hash: destination port (host order; 0 = every port
 * without a rule of its own) -> the limits of that port. It is the record
 * the CLI reads (and bpftool dumps); the datapath reads two arrays the CLI
 * keeps beside it (xl_rule_write() in user/lib/rules.c, the one writer), so
 * that a SYN finds its rule, or that it has none, with array lookups, not
 * hash lookups:
 *  - xl_ports: port -> 1 + the index in xl_rslots of the rule that
 *    applies to it, its own or (flagged XL_PORT_DEFAULT) port 0's, 0 for
 *    none: one lookup tells a port without a rule;
 *  - xl_rslots: two entries per stats slot, the rule of that slot's port
 *    as it is now, and as it was before its last change.
 * A change writes the new rule into the entry no port points to, then
 * points the port at it with one aligned 32-bit store (through mmap: a
 * map update's copy may be done a byte at a time). A program reads the
 * port's entry once, so it sees the old rule or the new one, never a mix
 * (a change of port 0's rule reaches the ports without a rule one by one).
 * The entry it left is written again only after an RCU grace period
 * (membarrier(MEMBARRIER_CMD_GLOBAL)), which waits for every XDP, tc and
 * sockops run that may still be reading it, and for the syscall program
 * (`query`, the sidecar's charge): sleepable, it reads the rule inside
 * bpf_rcu_read_lock().
 */
struct xl_rule {
	__u32 nlimits; /* 1..XL_MAX_LIMITS */
	__u32 slot; /* index of this rule's counters in xl_stats */
	struct xl_limit limits[XL_MAX_LIMITS];
	__u32 flags; /* XL_RULE_* */
	__u32 pad;
};
_Static_assert(sizeof(struct xl_rule) == 16 + 32 * XL_MAX_LIMITS,
	       "xl_rule layout");

#define XL_PORTS 65536 /* entries of xl_ports: every port */
#define XL_RSLOTS (2 * XL_MAX_RULES) /* entries of xl_rslots */

/* xl_ports value: 8 bytes, the stride of an array map's values, which
 * the writers index in their mmap. */
struct xl_port {
	__u32 rslot; /* 1 + index in xl_rslots (2 * slot + 0 or 1), with
		      * XL_PORT_DEFAULT when it is port 0's rule; 0: none */
	__u32 lflags; /* a copy of xl_config's XL_CFG_NO_ALLOW and
		       * XL_CFG_NO_DENY, written with them (the same rules
		       * apply), so that a SYN to a port without a rule
		       * reads this one entry; 0 looks the deny list up */
};
#define XL_PORT_DEFAULT (1U << 31)
_Static_assert(sizeof(struct xl_port) == 8, "xl_port layout");

/* xl_state key: the client. IPv4 sources are stored v4-mapped
 * (::ffff:a.b.c.d); IPv6 sources are masked to the configured prefix. */
struct xl_key {
	__u8 addr[16];
	__u16 port; /* destination port, host order */
	__u16 pad;
};
_Static_assert(sizeof(struct xl_key) == 20, "xl_key layout");

/* The state of one limit in one 64-bit word, so that one atomic
 * instruction updates it whole (see xl_limiter.h). A word of 0 is no state.
 * - fixed-window: the window's start in units of 2^20 ns (monotonic
 *   ns >> 20, about 1.05 ms; 40 bits last 36 years of uptime) above a
 *   24-bit hit count; a single atomic add both counts a hit and tells
 *   which window it counted in.
 * - sliding-window: the low 24 bits of the window's number (monotonic ns
 *   / period) above the previous window's count and the current one's,
 *   20 bits each.
 * - token-bucket: the theoretical arrival time (TAT), monotonic ns. */
struct xl_window {
	union {
		__u64 word; /* the word the atomics work on */
		struct { /* the same word, named for bpftool's dump */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
			__u64 count : 24;
			__u64 start : 40;
#else
			__u64 start : 40;
			__u64 count : 24;
#endif
		};
		struct {
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
			__u64 curr : 20;
			__u64 prev : 20;
			__u64 window : 24;
#else
			__u64 window : 24;
			__u64 prev : 20;
			__u64 curr : 20;
#endif
		} sliding;
		__u64 tat; /* token-bucket */
	};
};
_Static_assert(sizeof(struct xl_window) == 8, "xl_window layout");

/* xl_state value: one window per limit of the port's rule, by position. */
struct xl_state {
	struct xl_window win[XL_MAX_LIMITS];
};
_Static_assert(sizeof(struct xl_state) == 8 * XL_MAX_LIMITS, "xl_state layout");

/* xl_total: per rule slot, the port's ceiling for all its sources
 * together (`limit set --total`): its limits, as a rule of their own
 * (nlimits, limits; slot and flags unused), and one fixed window per
 * limit, shared by every CPU (bpf/flood.h says why one shared word and not
 * per-CPU shares). The rule part is the only copy of the ceiling's
 * limits; XL_RULE_TOTAL in the port's xl_rule says whether it holds one. */
struct xl_total {
	struct xl_rule rule;
	struct xl_state state; /* its windows */
};
_Static_assert(sizeof(struct xl_total) ==
		       sizeof(struct xl_rule) + sizeof(struct xl_state),
	       "xl_total layout");

/* xl_known: (source, port), keyed as xl_state is -> a client that
 * completed a TCP handshake on the port, learned by the sockops program
 * when the kernel establishes the connection (a forged source never sees
 * the SYN-ACK, so it cannot get in here). */
struct xl_known {
	__u64 last; /* monotonic ns of its last completed handshake */
	__u64 conns; /* handshakes completed while it was in the map */
};
_Static_assert(sizeof(struct xl_known) == 16, "xl_known layout");

/* xl_allow and xl_deny: LPM tries over IPv6-sized keys, IPv4 stored
 * v4-mapped (prefix length + 96). The value is unused (always 1). */
struct xl_lpm_key {
	__u32 prefixlen;
	__u8 addr[16];
};
_Static_assert(sizeof(struct xl_lpm_key) == 20, "xl_lpm_key layout");

/* xl_config.flags. A set bit lets the datapath skip a trie: the CLI sets
 * it, under its lock, only when it saw the list empty after changing it,
 * and clears it before it adds to the list. An entry added behind the
 * CLI's back (bpftool) is not looked up until `xlimit status` finds it
 * and clears the bit. 0, the value of a config never set, looks both up. */
#define XL_CFG_NO_ALLOW (1U << 0) /* xl_allow is empty */
#define XL_CFG_NO_DENY (1U << 1) /* xl_deny is empty */
#define XL_CFG_LISTS (XL_CFG_NO_ALLOW | XL_CFG_NO_DENY)
#define XL_CFG_SYNC (1U << 2) /* `xlimit sync` runs: tell it who moved */

/* xl_config: one entry of live settings, read on every counted SYN. */
struct xl_config {
	__u32 ipv6_prefix; /* sources are counted per /N, 1..128; 0: /64 */
	__u32 hash_seed; /* keys the hashes of xl_over and xl_vcache; set at
			  * load, random */
	__u32 flags; /* XL_CFG_* */
	__u32 gen; /* bumped by the CLI after every change of rules, lists,
		    * settings or counts: what xl_vcache learned under an
		    * older generation is not used */
};
_Static_assert(sizeof(struct xl_config) == 16, "xl_config layout");

/* xl_over: a client that went over a limit, remembered by a keyed hash
 * of its xl_key (slot = low bits, tag = high bits), so that a client the
 * LRU forgot comes back with the windows it had, not a fresh quota. */
struct xl_over {
	__u32 tag; /* 0: empty */
	__u16 port; /* the key's port, for clearing a rule's clients */
	__u16 pad;
	struct xl_state state; /* the windows after its last refused hit */
};
_Static_assert(sizeof(struct xl_over) == 8 + 8 * XL_MAX_LIMITS,
	       "xl_over layout");

/* xl_vcache: per-CPU array of verdicts the datapath reached for a (full
 * source address, port), by a hash of it, so that a hot source
 * skips the work next time: a list verdict (allowed, denied, or in
 * neither list: the tries are not looked up, the source is charged)
 * holds until the generation changes; a drop over a limit holds until the limit that
 * refused it could admit a hit again (xl_refused_until()), which is
 * exact, since until then that limit refuses every hit without charging
 * it. */
struct xl_vcache {
	__u8 addr[16]; /* the source as parsed, not masked to the prefix */
	__u16 port;
	__u16 pad;
	__u32 gen; /* xl_config.gen when the verdict was reached */
	__u32 verdict; /* enum xl_verdict: ALLOWED, DENIED, UNLISTED or
			* OVER_DROP */
	__u32 pad2;
	__u64 until; /* OVER_DROP: monotonic ns until which it holds */
};
_Static_assert(sizeof(struct xl_vcache) == 40, "xl_vcache layout");

/* xl_stats: per-CPU array, one entry per rule slot (XL_MAX_RULES), then
 * XL_SLOT_GLOBAL. */
enum xl_stat {
	XL_STAT_SEEN = 0, /* SYNs to the rule's port(s) */
	XL_STAT_PASSED, /* within every limit */
	XL_STAT_DROPPED, /* over a limit with action drop */
	XL_STAT_OVER_PASSED, /* over a limit with action pass */
	XL_STAT_ALLOWED, /* source in the allow list: passed, not counted */
	XL_STAT_DENIED, /* source in the deny list: dropped */
	XL_STAT_FRAG_DROPPED, /* TCP first fragments without a whole TCP
			       * header, dropped (global slot: no port) */
	XL_STAT_DEEP_DROPPED, /* headers deeper than the parser walks, or
			       * not in reach in tc: dropped (global slot) */
	XL_STAT_NEW, /* clients created in xl_state */
	XL_STAT_RESTORED, /* of those, restored from xl_over: over again */
	XL_STAT_REJECTED, /* over a limit with action reject (and none with
			   * drop): answered with a TCP RST */
	XL_STAT_TOTAL_DROPPED, /* dropped by the port's ceiling (--total):
				* not charged to the source */
	XL_STAT_KNOWN_ADMITTED, /* of a known client, let past an exceeded
				 * ceiling (--admit-known), then decided
				 * by its own limits */
	XL_STAT_KNOWN_LEARNED, /* clients that became known: a first
				* completed handshake (--admit-known) */
	XL_STAT_NR,
};

struct xl_stats {
	__u64 c[XL_STAT_NR];
};
_Static_assert(sizeof(struct xl_stats) == 8 * XL_STAT_NR, "xl_stats layout");

/*
 * Fleet-wide limits (`xlimit sync`, user/sync/). While XL_CFG_SYNC is set,
 * a charged client is reported once per epoch through the xl_sync_events
 * ring buffer: xl_sync_seen, a table indexed by a keyed hash of the key,
 * holds (hash tag << 32 | epoch) of the last report, and the daemon moves
 * xl_sync.epoch on every interval. A collision costs a spare event, never
 * a missed one. The daemon limits a client the fleet found over its limit
 * by writing the client's window in xl_state as past its amount until the
 * fleet's window ends: the datapath's own check, at no added cost.
 */
#define XL_SYNC_SLOTS 65536 /* entries of xl_sync_seen, a power of 2 */
#define XL_SYNC_RING (8U << 20) /* bytes of xl_sync_events */

enum xl_sync_link {
	XL_SYNC_OFF = 0, /* no daemon ran, or it stopped */
	XL_SYNC_CONNECTING, /* started, not yet through to Redis */
	XL_SYNC_UP, /* in sync with Redis */
	XL_SYNC_DOWN, /* Redis unreachable: local limits only */
};

/* xl_sync: one entry, mmapped by the daemon, which writes its fields in
 * place; the datapath reads epoch and adds to lost; `xlimit status` reads
 * the rest. */
struct xl_sync {
	__u32 epoch;
	__u32 link; /* enum xl_sync_link */
	__u64 heartbeat; /* monotonic ns of the daemon's last round */
	__u64 since; /* monotonic ns when link took its value */
	__u32 pid; /* the daemon's */
	__u32 interval_ms;
	__u64 pushed; /* hits added to Redis counters */
	__u64 limited; /* clients limited here by the fleet's count */
	__u64 lost; /* events that found the ring buffer full (datapath) */
	char redis[64]; /* the Redis URL, for status */
	char error[88]; /* why Redis is unreachable, when it is */
};
_Static_assert(sizeof(struct xl_sync) == 208, "xl_sync layout");

/* An event of xl_sync_events: a client charged in this epoch. */
struct xl_sync_event {
	struct xl_key key;
	__u32 epoch;
};
_Static_assert(sizeof(struct xl_sync_event) == 24, "xl_sync_event layout");

/*
 * Per-endpoint limits (`xlimit route`, SEMANTICS.md §5). The kernel sees
 * ports, not paths: routes are for the sidecar, which matches each request
 * to one and charges the client's count of it through the xlimit_route
 * syscall program, with the limiter of xl_limiter.h.
 */
#define XL_MAX_ROUTES 1024 /* entries of xl_routes, over all ports */
#define XL_ROUTE_PATH_MAX 128 /* bytes of a route's path, with its NUL */
#define XL_ROUTE_MSG_MAX 256 /* bytes of a route's 429 message, with NUL */
#define XL_RSTATE_MAX 65536 /* (client, route) counts in xl_route_state */

/* Request methods a route may be limited to (xl_route_key.methods). */
enum xl_method {
	XL_METH_GET = 1 << 0,
	XL_METH_HEAD = 1 << 1,
	XL_METH_POST = 1 << 2,
	XL_METH_PUT = 1 << 3,
	XL_METH_DELETE = 1 << 4,
	XL_METH_OPTIONS = 1 << 5,
	XL_METH_PATCH = 1 << 6,
	XL_METH_TRACE = 1 << 7,
	XL_METH_CONNECT = 1 << 8,
};
#define XL_METH_ALL ((1 << 9) - 1)

/* xl_routes key: a path on the sidecar's port (the port its clients
 * connect to; 0 = every port without routes of its own). The path is
 * "/exact", "/prefix*" (every path that starts with "/prefix"), or "*":
 * the port's default limits. NUL-padded, so that equal paths are equal
 * keys. methods: XL_METH_* bits the limits apply to, 0 = every method. */
struct xl_route_key {
	__u16 port;
	__u16 methods;
	char path[XL_ROUTE_PATH_MAX];
};
_Static_assert(sizeof(struct xl_route_key) == 4 + XL_ROUTE_PATH_MAX,
	       "xl_route_key layout");

/* xl_route.flags. XL_ROUTE_EXEMPT: never limited by route limits nor,
 * in the sidecar, by the port's (Flask-Limiter's @limiter.exempt). */
#define XL_ROUTE_EXEMPT (1U << 0)
#define XL_ROUTE_FLAGS XL_ROUTE_EXEMPT

/* xl_routes value. rule.slot is the route's id, which keys its clients'
 * counts in xl_route_state; rule.flags is 0; rule.nlimits 0 means the
 * port's default limits (route "*"), counted for this route alone. */
struct xl_route {
	struct xl_rule rule;
	__u32 flags; /* XL_ROUTE_* */
	__u32 pad;
	char message[XL_ROUTE_MSG_MAX]; /* the 429's text; "" = the limit's */
};
_Static_assert(sizeof(struct xl_route) ==
		       sizeof(struct xl_rule) + 8 + XL_ROUTE_MSG_MAX,
	       "xl_route layout");

/* The route id of a route's count of the port's default limits (a route
 * without limits of its own, or a method its limits leave out): its id
 * with this bit. */
#define XL_ROUTE_ID_DEFAULT (1U << 31)

/* xl_route_state key: a client (as xl_key: v4-mapped, IPv6 masked to the
 * prefix) and a route id. The value is a struct xl_state, one window per
 * limit of the route, as xl_state's. */
struct xl_route_skey {
	__u8 addr[16];
	__u16 port; /* the sidecar's port */
	__u16 pad;
	__u32 route; /* xl_route.rule.slot [| XL_ROUTE_ID_DEFAULT] */
};
_Static_assert(sizeof(struct xl_route_skey) == 24, "xl_route_skey layout");

/* xl_route_stats: per route (its id, xl_route.rule.slot, without
 * XL_ROUTE_ID_DEFAULT: a route's count of the default limits is its own),
 * what the sidecar's requests to it came to, counted per CPU by the
 * xlimit_route program that charges them, so that every thread and
 * process of the sidecar adds to the same counts. The CLI makes a route's
 * entry with the route and deletes it with it; the program counts into
 * the entry it finds. */
enum xl_rstat {
	XL_RSTAT_PASSED, /* charged, within the route's limits */
	XL_RSTAT_LIMITED, /* charged, over one of them (the sidecar: 429) */
	XL_RSTAT_EXEMPTED, /* an exempt route's request (XL_OP_EXEMPT) */
	XL_RSTAT_NR,
};
struct xl_rstats {
	__u64 c[XL_RSTAT_NR];
};
_Static_assert(sizeof(struct xl_rstats) == 8 * XL_RSTAT_NR, "xl_rstats layout");

/* Context of the SEC("syscall") program xlimit_route: reads (XL_OP_READ)
 * or charges (XL_OP_CHARGE) one client's count of one route against the
 * limits in `rule`, as the datapath charges a port's. */
struct xl_route_query {
	struct xl_route_skey key; /* in; the address is masked by the program */
	__u32 op; /* in: enum xl_op */
	__s32 err; /* out: 0, -EINVAL, or -ENOMEM (no room for the client) */
	__u64 now; /* in: CLOCK_MONOTONIC_COARSE ns */
	struct xl_rule rule; /* in: the route's limits */
	__u32 breached; /* out: bit i, limit i refused this hit */
	__u32 pad;
	struct xl_window win[XL_MAX_LIMITS]; /* out: after the operation */
};
_Static_assert(sizeof(struct xl_route_query) ==
		       40 + sizeof(struct xl_rule) + 8 + 8 * XL_MAX_LIMITS,
	       "xl_route_query layout");

/* What the decision function concluded for one SYN. */
enum xl_verdict {
	XL_V_PASS = 0, /* not a counted SYN, or within the limits */
	XL_V_ALLOWED, /* allow-listed */
	XL_V_DENIED, /* deny-listed: drop */
	XL_V_OVER_DROP, /* over a limit whose action is drop */
	XL_V_OVER_PASS, /* over limit(s) whose action is pass only */
	XL_V_OVER_REJECT, /* over a limit whose action is reject, none drop */
	XL_V_OVER_TOTAL, /* over the port's ceiling (--total): drop */
	XL_V_UNLISTED, /* xl_vcache only: in neither list, so charged */
};

/*
 * Context of the SEC("syscall") program, which lets userspace charge or
 * read a client's state with the datapath's own code through
 * bpf_prog_test_run_opts(). In: addr, port, op. Out: everything else.
 */
enum xl_op {
	XL_OP_READ = 0, /* read the state, change nothing */
	XL_OP_CHARGE = 1, /* count one hit, as a SYN would */
	XL_OP_EXEMPT = 2, /* xlimit_route only: count a request of an exempt
			   * route in xl_route_stats, nothing else */
};

struct xl_query {
	/* in */
	__u8 addr[16]; /* v4-mapped for IPv4; masked by the program */
	__u16 port;
	__u16 op; /* enum xl_op */
	/* out, but for now */
	__s32 err; /* 0, or -ENOENT when no rule covers the port */
	__u32 verdict; /* enum xl_verdict */
	__u32 rule_port; /* the port whose rule applied (0 or port) */
	__u32 nlimits;
	__u32 breached; /* bit i: limit i refused this hit */
	__u32 pad[2];
	__u64 now; /* in: CLOCK_MONOTONIC_COARSE ns to decide at (the
		    * datapath's clock, which the program may not read) */
	struct xl_limit limits[XL_MAX_LIMITS];
	struct xl_window win[XL_MAX_LIMITS]; /* state after the operation */
};
_Static_assert(sizeof(struct xl_query) ==
		       56 + 32 * XL_MAX_LIMITS + 8 * XL_MAX_LIMITS,
	       "xl_query layout");

#endif /* XLIMIT_H */
