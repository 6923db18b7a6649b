/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Declarations shared by the commands of the xlimit CLI: dispatch, operands,
 * JSON output and the text of rules. What they reach in the kernel is
 * libxlimit (user/lib/xlimit_lib.h).
 */
#ifndef XL_USER_H
#define XL_USER_H

#include <json-c/json.h>

#include "xlimit_lib.h"
#include "attach.h"
#include "msg.h"
#include "opt.h"
#include "query.h"

/* The library's context for the command line: the pin directory of
 * --pin-dir, and the maps once a command opened them (main() makes it). */
extern struct xl_ctx xl_cli;

/* Prints xl_cli's last failure as "xlimit: CMD: what" and returns the
 * exit code for it: XL_EXIT_USAGE when the input was at fault, else
 * XL_EXIT_FAIL. */
int xl_cli_fail(const char *cmd);
/* xl_maps_open(&xl_cli): 0, or an exit code with the message printed. */
int xl_cli_open(const char *cmd);
/* xl_lock(&xl_cli, create): an fd, or -exit code with the message
 * printed. */
int xl_cli_lock(const char *cmd, bool create);

/* xl_detach_one() of xl_cli, the failure printed ("detach eth0: ..."). */
int xl_cli_detach(const struct xl_attachment *a);
/* Detaches everywhere: 0, or -1 when one stays (each printed). */
int xl_cli_detach_all(void);
/* xl_attach_iface() of xl_cli, the failure printed ("CMD eth0: ..."), and a
 * fallback from native XDP to tc said. 0 or -errno. */
int xl_cli_attach(const char *cmd, const char *ifname, int ifindex,
		  const struct xl_progs *p, enum xl_mode *mode);

/* What `unload` does, with the lock held: detaches everywhere, then
 * removes every pin of xlimit's names and the pin directory; when
 * something stays attached, nothing more. Returns an exit code, what
 * went wrong printed, `cmd` naming the command. */
int xl_cli_unload(const char *cmd);

/* xl_stage_abort() of xl_cli, what stays printed. */
void xl_cli_abort(const char *cmd, struct xl_stage *s);

/* A subcommand: argv[0] is its own name; returns an exit code. */
struct xl_cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
};

/* Dispatches argv[0] through a table; "help" and unknown names print the
 * table. `what` names the command group in messages ("limit"). */
int xl_dispatch(const char *what, const struct xl_cmd *cmds, int argc,
		char **argv);

/* Whether an argument from argv[2] on is --help or -h. */
bool xl_wants_help(int argc, char **argv);

/* One rule as JSON: {"port", "strategy", "limits": [{"limit", "amount",
 * "period", "action"[, "burst"]}], "total": [{"limit", "amount",
 * "period"}], "admit_known"} ("burst" for a token bucket; "total" empty
 * without a ceiling), as `limit list --json` and `status --json` print
 * it. A rule that fails xl_rule_check() gets "invalid": what is wrong,
 * and at most XL_MAX_LIMITS limits. */
struct json_object *xl_rule_json(const struct xl_rule_row *r);
/* Every row, in an array. */
struct json_object *xl_rules_json(const struct xl_rule_row *rows, int n);
/* The same rule in text: "[STRATEGY: ]LIMIT (ACTION[, burst N]); ...",
 * the strategy unless fixed-window, its ceiling ("; total 1000 per 1
 * second, admit known") and what makes it invalid, if anything. */
void xl_rule_print(const struct xl_rule_row *r);
/* Reads every rule of xl_cli's maps into *rows (calloc'd, the caller
 * frees it). Returns the count or -ENOMEM. */
int xl_cli_rules(struct xl_rule_row **rows);

/* Prints a JSON value on stdout with a newline, and frees it. */
void xl_json_print(struct json_object *o);

/* What `xlimit sync` says of itself in xl_sync (user/sync/status.c). */
struct xl_sync_view {
	const char *state; /* "off", "connecting", "up", "down" or "stale"
			    * (its heartbeat stopped while it claimed to
			    * run) */
	struct xl_sync s;
	double for_s; /* seconds in this state */
};
void xl_sync_read(int sync_fd, struct xl_sync_view *v);
/* {"state", "redis", "error", "pid", "interval_ms", "for_s", "pushed",
 * "limited", "lost"} */
struct json_object *xl_sync_json(const struct xl_sync_view *v);
/* The same, as `xlimit status` prints it: one line. */
void xl_sync_print(const struct xl_sync_view *v);

/* Adds a limit's members to a JSON object, as `xlimit query --json` shows
 * them: limit, amount, period, strategy, burst (token-bucket only),
 * remaining, reset, retry_after. */
void xl_client_limit_json(struct json_object *o,
			  const struct xl_client_limit *l);

/* A rule's limits as JSON: [{"limit", "amount", "period"[, "action",
 * "burst" (token-bucket)]}], the action and burst when `action`. */
struct json_object *xl_limits_json(const struct xl_rule *r, bool action);
/* XL_METH_* bits as a JSON array of names ([] for 0: every method). */
struct json_object *xl_methods_json(uint16_t bits);
struct xl_route_key;
/* A route's key as JSON: {port, path, methods}, for the caller to add
 * to. */
struct json_object *xl_route_key_json(const struct xl_route_key *k);

/* Parses a limit string into at most `max` rule limits with `action`,
 * `strategy` and `burst` (-1: the amount, for a token bucket), each
 * checked against what a rule can hold. Returns the count, or -1 with a
 * message on bad input; `cmd` names the command in it. */
int xl_parse_rule_limits(const char *cmd, const char *s, __u32 action,
			 __u32 strategy, long long burst, struct xl_limit *out,
			 int max);

/* The sub-command groups. */
int cmd_load(int argc, char **argv);
int cmd_attach(int argc, char **argv);
int cmd_detach(int argc, char **argv);
int cmd_unload(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_limit(int argc, char **argv);
int cmd_parse(int argc, char **argv);
int cmd_allow(int argc, char **argv);
int cmd_deny(int argc, char **argv);
int cmd_config(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_query(int argc, char **argv);
int cmd_top(int argc, char **argv);
int cmd_apply(int argc, char **argv);
int cmd_dump(int argc, char **argv);
int cmd_upgrade(int argc, char **argv);
int cmd_sync(int argc, char **argv);
int cmd_route(int argc, char **argv);

#endif /* XL_USER_H */
