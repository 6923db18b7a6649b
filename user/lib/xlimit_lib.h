/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * libxlimit: the kernel objects of a loaded xlimit as the CLI, the sidecar
 * and the sync daemon reach them: the pin directory and its lock, the
 * pinned maps, rules, counters, lists and addresses. The kernel/user
 * contract itself is include/xlimit.h.
 */
#ifndef XL_LIB_H
#define XL_LIB_H

#include <stdbool.h>
#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>
#include <limits.h>

#include "xlimit.h"
#include "xl_key.h" /* xl_is_v4mapped() */

/*
 * The convention of every function here: it returns 0 (or a count, or an
 * fd) on success and -errno on failure, and prints nothing. Those that
 * take a context and fail for a reason the user must be told leave it in
 * the context: ctx->err, one sentence without the program's name ("xlimit
 * is not loaded (no /sys/fs/bpf/xlimit/xl_rules); run ..."), for the
 * caller to print after its own prefix, and ctx->usage, set when what the
 * caller was given is at fault (a pin directory off bpffs, xlimit not
 * loaded, a setting that differs from what is loaded) rather than the
 * system. Functions without a context that check input write why it is
 * bad into a buffer they are given (char *err, size_t len).
 */

/* The maps of a loaded xlimit, opened from their pins. */
enum xl_map_id {
	XL_M_RULES,
	XL_M_STATE,
	XL_M_ALLOW,
	XL_M_DENY,
	XL_M_STATS,
	XL_M_CONFIG,
	XL_M_OVER,
	XL_M_VCACHE,
	XL_M_SYNC,
	XL_M_SEEN,
	XL_M_EVENTS,
	XL_M_TOTAL,
	XL_M_KNOWN,
	XL_M_ROUTES,
	XL_M_RSTATE,
	XL_M_PORTS,
	XL_M_RSLOTS,
	XL_M_RSTATS,
	XL_M_NR,
};
extern const char *const xl_map_names[XL_M_NR];

struct xl_maps {
	int fd[XL_M_NR];
};

/* What the library works on: one pin directory and the maps opened from
 * it. No state lives anywhere else. */
struct xl_ctx {
	char pin_dir[PATH_MAX]; /* as this process reaches it: root + path */
	char root[32]; /* "" or "/proc/PID/root": see xl_pin_dir_resolve */
	int anchor; /* the process whose mount namespace we started from */
	bool verbose; /* the verifier's log wanted: no hint to ask for it */
	struct xl_maps maps; /* fd -1 until xl_maps_open() */
	bool maps_rdonly; /* xl_maps_open*() opens the maps read-only, and
			   * leaves out those it may not open */
	char err[2048]; /* what the last failure was, for the user */
	bool usage; /* ... and whether the caller's input caused it */
};

/* A context on pin_dir (NULL: XL_PIN_DIR), nothing opened. */
void xl_ctx_init(struct xl_ctx *c, const char *pin_dir);
/* Records a failure in c (see above) and returns err (negative). */
int xl_ctx_fail(struct xl_ctx *c, int err, bool usage, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/*
 * Run as `ip netns exec NS xlimit ...`, xlimit is in a mount namespace of
 * its own with a fresh /sys: pins made there would vanish with the
 * command. When the nearest ancestor process in another mount namespace
 * (the shell that ran ip) has a bpffs where the pin directory's parent is
 * and this namespace has none, pin through /proc/PID/root of that process
 * instead: c->root and c->pin_dir say so, and it returns true. Call once,
 * after xl_ctx_init(). A bad pin dir is left for xl_lock() to report.
 */
bool xl_pin_dir_resolve(struct xl_ctx *c);

/* Exit codes are part of the interface. */
#define XL_EXIT_OK 0
#define XL_EXIT_FAIL 1 /* the operation failed */
#define XL_EXIT_USAGE 2 /* bad usage or input; nothing was changed */

/* Pin names of the programs, beside the maps. */
#define XL_PIN_PROG_XDP "prog_xdp"
#define XL_PIN_PROG_TC "prog_tc"
#define XL_PIN_PROG_QUERY "prog_query"
#define XL_PIN_PROG_SOCKOPS "prog_sockops"
#define XL_PIN_PROG_ROUTE "prog_route"
/* The sockops program's link on the root of the cgroup v2 hierarchy, made
 * by the first `limit set --admit-known` (xl_known_attach). */
#define XL_PIN_SOCKOPS_LINK "sockops_link"
#define XL_PIN_LINK_PREFIX "link_" /* + interface name: an XDP link */
#define XL_PIN_TCX_PREFIX "tcx_" /* + interface name: a tcx link */

/* tc filter identity on clsact ingress, where tcx links are missing
 * (Linux < 6.6): how xlimit finds its own. */
#define XL_TC_HANDLE 0x584c /* "XL" */
#define XL_TC_PRIORITY 0x584c

/* Builds "<pin_dir>/<name>" into buf (PATH_MAX): 0, or -ENAMETOOLONG. */
int xl_pin_path(const struct xl_ctx *c, char *buf, size_t len,
		const char *name);

/*
 * The pin group: a group whose members (xlimit-sidecar's user) open what
 * the sidecar needs without any capability. The pin directory becomes
 * root:GROUP 0750, the maps the sidecar reads (xl_shared_maps) 0640 (it
 * opens them read-only) and the programs it runs (prog_query, prog_route:
 * BPF_OBJ_GET opens a program read-write only) 0660; every other pin stays
 * root's, 0600: client state, the lists' writers, the attach programs.
 * XL_NO_GROUP makes them all root's again.
 */
#define XL_NO_GROUP ((gid_t)-1)
extern const char *const xl_shared_maps[];
extern const char *const xl_shared_progs[];
/* Gives the pins of c->pin_dir the group gid (or none). 0 or -errno. */
int xl_pins_set_group(struct xl_ctx *c, gid_t gid);
/* The pin directory's group, XL_NO_GROUP when it has none (mode 0700).
 * 0 or -errno. */
int xl_pins_get_group(struct xl_ctx *c, gid_t *gid);

struct bpf_object;
/* The maps of a loaded object (a fresh load, a private copy), by name,
 * into *m: not pinned, not opened, not to be closed; -1 for any missing. */
void xl_maps_of(struct bpf_object *obj, struct xl_maps *m);

/*
 * Opens every pinned map into c->maps and checks each against what this
 * build makes of it (type, key and value size, flags, max_entries but the
 * state map's). Returns 0; -ENOENT (usage) when none is pinned (xlimit is
 * not loaded); -ESTALE (usage) when one is missing or differs: the pins
 * of another version of xlimit, the message naming each map and how it
 * differs, and how to carry the configuration over; or another -errno.
 */
int xl_maps_open(struct xl_ctx *c);
/* The same for the maps `xlimit dump` reads: rules, ceilings and routes
 * (both when pinned: else their fd is -1), config and the lists; the
 * others are not required, and one that is missing or differs has fd -1. */
int xl_maps_open_dump(struct xl_ctx *c);
void xl_maps_close(struct xl_ctx *c);
/* Whether the pins are this version's, for a reader that opens them one by
 * one (the sidecar): every map it may open opened read-only, checked as
 * xl_maps_open() does, and closed. Returns 0, -ENOENT when none is
 * pinned (or none may be opened), -ESTALE with the message in c->err, or
 * another -errno. */
int xl_pins_check(struct xl_ctx *c);

/* Where the pin directories' lock files live (see xl_lock). */
#define XL_LOCK_DIR "/run/xlimit"
/* The kernel's mount point for bpffs: mounted there when missing. */
#define XL_BPFFS_DEFAULT "/sys/fs/bpf"

/* Takes the lock of the pin directory, a file under XL_LOCK_DIR that is
 * never removed. With `create`, for a command that may create the
 * directory (load) or remove it: it must be on a bpf filesystem, or its
 * parent when it does not exist (bpffs is mounted on XL_BPFFS_DEFAULT
 * when missing there, nowhere else). Without, for a command that changes
 * a loaded xlimit: -ENOENT (usage) when it is not loaded. Returns an fd
 * to pass to xl_unlock(), or -errno. */
int xl_lock(struct xl_ctx *c, bool create);
void xl_unlock(int fd);

/* A decimal number from min to max, digits only (no sign, no blanks).
 * 0 or -EINVAL. */
int xl_parse_num(const char *s, unsigned long min, unsigned long max,
		 unsigned long *v);
/* A group's name, or "none" (XL_NO_GROUP), as its gid: true when known. */
bool xl_group_gid(const char *name, gid_t *gid);
/* The group's name into buf ("none" for XL_NO_GROUP, the number when it
 * has no name). */
void xl_group_name(gid_t gid, char *buf, size_t len);
/* "PORT": 0..65535 (or 1..65535 when !allow_zero). 0 or -EINVAL. */
int xl_parse_port(const char *s, bool allow_zero, uint16_t *port);

/* An address or CIDR as an LPM key: IPv4 v4-mapped with prefix + 96.
 * Without "/N" the prefix is the full length. Host bits set past the
 * prefix are an error. Returns 0, or -EINVAL with a message in err. */
int xl_parse_cidr(const char *s, struct xl_lpm_key *k, char *err, size_t len);
/* Clears the bits of k's address past its prefix length. */
void xl_lpm_key_mask(struct xl_lpm_key *k);
/* Whether addr is in the network k (k's host bits are ignored). */
bool xl_addr_in_prefix(const uint8_t addr[16], const struct xl_lpm_key *k);
/* Formats an LPM key back into "a.b.c.d/N" or "x::y/N". */
void xl_format_cidr(const struct xl_lpm_key *k, char *buf, size_t len);
/* Parses a plain address into 16 bytes, v4-mapped for IPv4: 0 or
 * -EINVAL. */
int xl_parse_addr(const char *s, uint8_t addr[16]);
void xl_format_addr(const uint8_t addr[16], char *buf, size_t len);

/* UTC epoch seconds (as a double) of a monotonic ns time. */
double xl_mono_to_utc(uint64_t mono_ns);
/* CLOCK_MONOTONIC_COARSE ns: the clock of the datapath (xl_now()). */
uint64_t xl_mono_now(void);

/* The counters' names, as `stats --json` and /metrics print them. */
extern const char *const xl_stat_names[XL_STAT_NR];

/* One rule as xl_rules holds it, with its ceiling from xl_total. */
struct xl_rule_row {
	__u16 port;
	struct xl_rule rule;
	struct xl_rule total; /* the ceiling (nlimits 0: none) */
	bool invalid; /* fails xl_rule_check(): a rule written by hand */
};

/* Reads every rule into rows[max], sorted by port, with its ceiling when
 * total_fd >= 0. The one walk of xl_rules. Returns the count. */
int xl_rules_read(int rules_fd, int total_fd, struct xl_rule_row *rows,
		  int max);

/* Writes port's rule, or removes it (rule NULL): the record in xl_rules
 * and what the datapath reads, xl_ports and xl_rslots, so that no program
 * sees the change half made (include/xlimit.h). The one writer of rules;
 * needs m's fds of those three maps and rule->slot < XL_MAX_RULES. Its
 * callers hold the pin directory's lock. Returns 0 or -errno. */
int xl_rule_write(const struct xl_maps *m, __u16 port,
		  const struct xl_rule *rule);

/* How xl_rule_set() treats what the port had: */
/* the clients' counts stay, though the limits differ (limit add: the
 * limits the port had keep theirs, those added start from nothing) */
#define XL_SET_KEEP_COUNTS 0x1
/* rule->slot is the stats slot a port without one takes, with its
 * counters, if no rule uses it (a rollback puts a rule back there) */
#define XL_SET_SLOT 0x2

/* Makes `rule` the rule of `port`, or removes it (rule NULL), with all
 * that goes with it, in this order: a port without a rule takes a free
 * stats slot, its counters cleared (a port keeps its own); with
 * XL_RULE_TOTAL in rule->flags, `ceiling` goes into xl_total before the
 * rule names it (NULL: the port keeps the one it has), fresh unless it
 * is the same; the rule (xl_rule_write()); the ceiling the rule no
 * longer names is cleared; the counts of the port's clients are deleted
 * when the limits count otherwise (xl_same_limits()) or the rule goes,
 * unless XL_SET_KEEP_COUNTS. With XL_RULE_ADMIT_KNOWN, xl_known_attach()
 * first. All or nothing: when a step fails, what the others wrote is
 * written back, byte for byte, and xl_config resynced, since the
 * datapath may have seen the change (counts already deleted stay so).
 * The caller holds the lock, has c->maps open and resyncs xl_config
 * after a success. Returns 0 or -errno, with a message in c. */
int xl_rule_set(struct xl_ctx *c, __u16 port, const struct xl_rule *rule,
		const struct xl_rule *ceiling, unsigned int how);

/* One rule's counters, summed over the CPUs. */
struct xl_stat_row {
	__u16 port;
	struct xl_rule rule;
	struct xl_stats s;
};

/* Fills rows[XL_MAX_RULES] with every rule's counters, sorted by port.
 * Returns the count or -errno. The counters of XL_SLOT_GLOBAL are read
 * with xl_stats_read(). */
int xl_stat_rows(int rules_fd, int stats_fd, struct xl_stat_row *rows);

/* Reads every CPU's value of `key` in a per-CPU map whose values are n
 * 64-bit counters, and sums them into sum[n]. 0 or -errno. */
int xl_percpu_sum(int fd, const void *key, __u64 *sum, int n);
/* Reads every CPU's xl_stats of one slot and sums them. */
int xl_stats_read(int fd, uint32_t slot, struct xl_stats *sum);
/* Zeroes one slot on every CPU. */
int xl_stats_clear(int fd, uint32_t slot);

/* Deletes the state of every client of `port`'s rule: keys with that
 * port, or for port 0 every key whose port has no rule of its own; and
 * what xl_over remembers of them. */
int xl_state_clear_port(const struct xl_maps *m, uint16_t port);

/* Writes the ceiling of a rule's stats slot into xl_total: its limits
 * (`ceiling`, a rule of its own) and fresh windows, or an empty entry
 * when ceiling is NULL. Write it before a rule with XL_RULE_TOTAL names
 * it, clear it after the rule stopped. Returns 0 or -errno. */
int xl_total_write(const struct xl_maps *m, __u32 slot,
		   const struct xl_rule *ceiling);

/* xl_config after a change of rules, lists, settings or counts, with the
 * lock held: XL_CFG_NO_ALLOW and XL_CFG_NO_DENY say which tries are empty
 * now (in xl_config and in every xl_ports entry's copy), and the
 * generation moves on, so the datapath's verdict cache forgets what it
 * learned before. Uses m's config, allow, deny and ports maps. Returns 0
 * or -errno. */
int xl_config_resync(const struct xl_maps *m);
/* Before an add to a list: the datapath looks both tries up until
 * xl_config_resync(). Uses m's config and ports maps. Returns 0 or
 * -errno. */
int xl_config_lists_unsure(const struct xl_maps *m);
/* xl_config mapped read-only (it is mmapable), for readers that look at
 * its generation often: NULL when it cannot be (a map pinned by an older
 * version). Unmap with xl_config_unmap(). */
const struct xl_config *xl_config_map(int config_fd);
void xl_config_unmap(const struct xl_config *cfg);

/* Text form of a rule's limit: "10 per 1 minute" (with the largest unit
 * that divides the period). */
void xl_format_rule_limit(const struct xl_limit *l, char *buf, size_t len);
/* Checks a rule read back from xl_rules, which bpftool (or a bug) may have
 * written: nlimits 1..XL_MAX_LIMITS, slot below XL_MAX_RULES, and each
 * limit in use with an amount of at most XL_AMOUNT_MAX, a period of 1 s
 * to XL_PERIOD_MAX_S and a known action. Returns 0, or -EINVAL with what is
 * wrong in why ("nlimits 99 is not 1..4"). Readers must check before they
 * trust a rule: the datapath only clamps nlimits (xl_nlimits). */
int xl_rule_check(const struct xl_rule *r, char *why, size_t len);
/* Checks a limit against what its strategy can count: a sliding window's
 * amount, a token bucket's burst (tau within XL_PERIOD_MAX_S), no burst
 * for the others. 0, or -EINVAL with why. */
int xl_strategy_check(const struct xl_limit *l, char *why, size_t len);
/* "fixed-window", "sliding-window", "token-bucket" (enum xl_strategy). */
const char *xl_strategy_name(uint32_t strategy);
/* The other way round: 0, or -EINVAL for another name. */
int xl_strategy_parse(const char *s, uint32_t *strategy);
const char *xl_action_name(uint32_t action);

/* The first stats slot no rule uses: 0, or -ENOSPC. */
int xl_free_slot(const struct xl_maps *m, __u32 *slot);
/* Whether two rules count alike: a change from one to the other keeps
 * the clients' counts (limit set with the same limits). */
bool xl_same_limits(const struct xl_rule *a, const struct xl_rule *b);

/* Orders trie keys: IPv4 first, then by address, then shorter prefixes
 * first (qsort). */
int xl_lpm_key_cmp(const void *a, const void *b);
/* Every key of a trie, in xl_lpm_key_cmp() order, into *keys (malloc'd,
 * the caller frees it). Returns 0 or -ENOMEM. */
int xl_list_read(int fd, struct xl_lpm_key **keys, size_t *count);

/* Makes sure the sockops program that learns known clients is attached
 * (to the root of the cgroup v2 hierarchy, pinned as
 * XL_PIN_SOCKOPS_LINK), with the lock held. Returns 0 or -errno, with a
 * message. */
int xl_known_attach(struct xl_ctx *c);

#endif /* XL_LIB_H */
