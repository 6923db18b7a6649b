// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Per-port limits: `xlimit limit set|add|del|list`.
 * A limit string in Flask-Limiter's syntax is parsed and checked whole
 * before anything is written, and a rule is written with one map update,
 * so the datapath sees the old rule or the new one, never half of one.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>

#include "cli.h"
#include "limit_parse.h"

static const struct xl_opt limit_opts[] = {
	{ "action", 'a', "A",
	  "what happens to a new connection over the limit: drop\n"
	  "(default), reject (answered with a TCP RST: the client\n"
	  "sees \"connection refused\" at once) or pass (counted\n"
	  "only; the sidecar answers 429). A connection over several\n"
	  "limits: drop wins over reject, reject over pass" },
	{ "strategy", 's', "S",
	  "how the port's limits count: fixed-window (default:\n"
	  "from the first hit, as Flask-Limiter), sliding-window (the\n"
	  "previous window's count weighted in) or token-bucket (GCRA:\n"
	  "hits spread out, with a burst); every limit of a port has\n"
	  "the same one ('limit add' keeps the port's)" },
	{ "burst", 'b', "N",
	  "token-bucket only: how many hits may come at once\n"
	  "(default: the limit's amount), then one every period/amount" },
	{ "total", 't', "LIMITS",
	  "a ceiling for all sources of the port together\n"
	  "(same syntax); new connections over it are dropped before\n"
	  "their source is counted. 'limit add' keeps the ceiling" },
	{ "admit-known", 'k', NULL,
	  "while the ceiling is exceeded, still admit, within\n"
	  "their own limits, clients that completed a TCP handshake on\n"
	  "the port (learned by a sockops program on the cgroup v2\n"
	  "root; see 'man xlimit', Floods)" },
	{}
};
static const struct xl_usage limit_usage = {
	.synopsis = "xlimit limit set PORT LIMITS [--action drop|reject|pass]\n"
		    "                 [--strategy STRATEGY [--burst N]]\n"
		    "                 [--total LIMITS [--admit-known]]\n"
		    "xlimit limit add PORT LIMITS [--action drop|reject|pass]\n"
		    "                 [--strategy STRATEGY [--burst N]]\n"
		    "xlimit limit del PORT\n"
		    "xlimit limit list [--json]",
	.about =
		"PORT    destination port 1-65535, or 0 for every port without a\n"
		"        rule of its own\n"
		"LIMITS  Flask-Limiter syntax: \"10/second\", \"100 per 2 hours\",\n"
		"        \"10/second;500/day\" (at most 4 limits on a port)",
	.opts = limit_opts,
};

int xl_parse_rule_limits(const char *cmd, const char *s, __u32 action,
			 __u32 strategy, long long burst, struct xl_limit *out,
			 int max)
{
	struct xl_parsed_limit items[XL_MAX_LIMITS];
	char err[256];
	int n, i;

	n = xl_parse_limits(s, items, XL_MAX_LIMITS, err, sizeof(err));
	if (n < 0) {
		xl_err("couldn't parse rate limit string '%s': %s", s, err);
		return -1;
	}
	if (n > max) {
		xl_err("%s: '%s' has %d limits, but only %d more fit on the port (at most %d in all)",
		       cmd, s, n, max, XL_MAX_LIMITS);
		return -1;
	}
	for (i = 0; i < n; i++) {
		char text[96];

		xl_format_limit(text, sizeof(text), &items[i]);
		if (xl_limit_check(&items[i], err, sizeof(err))) {
			xl_err("%s: '%s': %s", cmd, text, err);
			return -1;
		}
		out[i].amount = items[i].amount;
		out[i].period_ns = items[i].seconds * XL_NSEC_PER_SEC;
		out[i].action = action;
		out[i].strategy = strategy;
		/* A token bucket's burst defaults to its amount. */
		out[i].burst = strategy != XL_STRAT_TOKEN ? 0 :
			       burst >= 0		  ? (__u32)burst :
					    (__u32)items[i].amount;
		out[i].pad = 0;
		if (xl_strategy_check(&out[i], err, sizeof(err))) {
			xl_err("%s: '%s' with --strategy %s: %s", cmd, text,
			       xl_strategy_name(strategy), err);
			return -1;
		}
	}
	return n;
}

/* After a rule changed: the datapath forgets the verdicts it cached. */
static int config_changed(const struct xl_maps *m)
{
	return xl_config_resync(m);
}

static int limit_write(int argc, char **argv, bool add)
{
	const char *cmd = add ? "limit add" : "limit set", *total_s = NULL;
	__u32 strategy = XL_STRAT_FIXED;
	bool strategy_given = false;
	long long burst = -1;
	unsigned long num;
	struct xl_limit parsed[XL_MAX_LIMITS];
	struct xl_total total = {};
	struct xl_rule old, rule = {};
	bool admit_known = false;
	__u32 action = XL_ACT_DROP;
	char why[96];
	const char *neg;
	const struct xl_maps *m = &xl_cli.maps;
	bool had;
	__u16 port;
	int c, n, lock, err;

	n = xl_negative_operand(argc, argv, &limit_usage, &neg);
	if (n == 0) {
		xl_err("%s: bad port '%s'; expected 1-65535, or 0 for every other port",
		       cmd, neg);
		return XL_EXIT_USAGE;
	}
	if (n == 1) { /* never a limit string: let the parser say why */
		xl_parse_rule_limits(cmd, neg, action, XL_STRAT_FIXED, -1,
				     parsed, XL_MAX_LIMITS);
		return XL_EXIT_USAGE;
	}
	if (n > 1) {
		xl_err("%s: unexpected argument '%s'; expected PORT and LIMITS",
		       cmd, neg);
		return XL_EXIT_USAGE;
	}
	optind = 0;
	while ((c = xl_getopt(argc, argv, &limit_usage)) >= 0) {
		switch (c) {
		case 'a':
			if (!strcmp(optarg, "drop")) {
				action = XL_ACT_DROP;
			} else if (!strcmp(optarg, "pass")) {
				action = XL_ACT_PASS;
			} else if (!strcmp(optarg, "reject")) {
				action = XL_ACT_REJECT;
			} else {
				xl_err("%s: unknown action '%s'; expected drop, reject or pass",
				       cmd, optarg);
				return XL_EXIT_USAGE;
			}
			break;
		case 's':
			if (xl_strategy_parse(optarg, &strategy)) {
				xl_err("%s: unknown strategy '%s'; expected fixed-window, sliding-window or token-bucket",
				       cmd, optarg);
				return XL_EXIT_USAGE;
			}
			strategy_given = true;
			break;
		case 'b':
			if (xl_parse_num(optarg, 1, UINT32_MAX, &num)) {
				xl_err("%s: bad burst '%s'; expected a number of hits, 1-%u",
				       cmd, optarg, UINT32_MAX);
				return XL_EXIT_USAGE;
			}
			burst = num;
			break;
		case 't':
			total_s = optarg;
			break;
		case 'k':
			admit_known = true;
			break;
		}
	}
	if (c != XL_OPT_END)
		return xl_opt_exit(c);
	if (burst >= 0 && strategy != XL_STRAT_TOKEN) {
		xl_err("%s: --burst applies to --strategy token-bucket only",
		       cmd);
		return XL_EXIT_USAGE;
	}
	if (add && (total_s || admit_known)) {
		xl_err("limit add: --total and --admit-known go with 'limit set' ('limit add' keeps the port's ceiling): xlimit limit set PORT LIMITS --total LIMITS");
		return XL_EXIT_USAGE;
	}
	if (admit_known && !total_s) {
		xl_err("%s: --admit-known lets known clients past the port's ceiling, and there is none: add --total LIMITS, e.g. --total \"1000/second\"",
		       cmd);
		return XL_EXIT_USAGE;
	}
	if (argc - optind > 2) {
		xl_err("%s: unexpected argument '%s'; expected PORT and LIMITS (quote LIMITS)",
		       cmd, argv[optind + 2]);
		return XL_EXIT_USAGE;
	}
	if (argc - optind != 2) {
		xl_err("%s: expected PORT and LIMITS, e.g. xlimit %s 80 \"10/second\"",
		       cmd, cmd);
		return XL_EXIT_USAGE;
	}
	if (xl_parse_port(argv[optind], true, &port)) {
		xl_err("%s: bad port '%s'; expected 1-65535, or 0 for every other port",
		       cmd, argv[optind]);
		return XL_EXIT_USAGE;
	}
	/* Validate the string before touching anything. */
	n = xl_parse_rule_limits(cmd, argv[optind + 1], action, strategy, burst,
				 parsed, XL_MAX_LIMITS);
	if (n < 0)
		return XL_EXIT_USAGE;
	if (total_s) {
		/* A ceiling is a fixed window that drops. */
		c = xl_parse_rule_limits("limit set --total", total_s,
					 XL_ACT_DROP, XL_STRAT_FIXED, -1,
					 total.rule.limits, XL_MAX_LIMITS);
		if (c < 0)
			return XL_EXIT_USAGE;
		total.rule.nlimits = c;
		rule.flags = XL_RULE_TOTAL |
			     (admit_known ? XL_RULE_ADMIT_KNOWN : 0);
	}

	lock = xl_cli_lock(cmd, false);
	if (lock < 0)
		return -lock;
	err = xl_cli_open(cmd);
	if (err)
		goto out_unlock;
	had = !bpf_map_lookup_elem(m->fd[XL_M_RULES], &port, &old);
	if (add && had && xl_rule_check(&old, why, sizeof(why))) {
		xl_err("%s: the rule of port %u in the map is invalid (%s); replace it with 'xlimit limit set %u LIMITS' or remove it with 'xlimit limit del %u'",
		       cmd, port, why, port, port);
		err = XL_EXIT_USAGE;
		goto out;
	}
	/* Every limit of a port counts alike: an added limit takes the
	 * port's strategy, or must name that one. */
	if (add && had && old.limits[0].strategy != strategy) {
		if (strategy_given || burst >= 0) {
			xl_err("%s: port %u counts with %s, not %s; change the whole rule with 'xlimit limit set %u LIMITS --strategy ...'",
			       cmd, port,
			       xl_strategy_name(old.limits[0].strategy),
			       xl_strategy_name(strategy), port);
			err = XL_EXIT_USAGE;
			goto out;
		}
		n = xl_parse_rule_limits(cmd, argv[optind + 1], action,
					 old.limits[0].strategy, -1, parsed,
					 XL_MAX_LIMITS);
		if (n < 0) {
			err = XL_EXIT_USAGE;
			goto out;
		}
	}
	if (add && had) {
		if (old.nlimits + n > XL_MAX_LIMITS) {
			xl_err("%s: port %u has %u limits already; %d more would make more than %d",
			       cmd, port, old.nlimits, n, XL_MAX_LIMITS);
			err = XL_EXIT_USAGE;
			goto out;
		}
		rule = old; /* its ceiling too */
	}
	memcpy(&rule.limits[rule.nlimits], parsed, n * sizeof(parsed[0]));
	rule.nlimits += n;
	/* Nothing changes if a step fails. */
	if (xl_rule_set(&xl_cli, port, &rule, total_s ? &total.rule : NULL,
			add ? XL_SET_KEEP_COUNTS : 0)) {
		err = xl_cli_fail(cmd);
		goto out;
	}
	err = XL_EXIT_OK;
	if (config_changed(m)) {
		xl_err("%s: write %s: %s", cmd, XL_STR(XL_MAP_CONFIG),
		       strerror(errno));
		err = XL_EXIT_FAIL;
	}
out:
	xl_maps_close(&xl_cli);
out_unlock:
	xl_unlock(lock);
	return err;
}

static int limit_set(int argc, char **argv)
{
	return limit_write(argc, argv, false);
}

static int limit_add(int argc, char **argv)
{
	return limit_write(argc, argv, true);
}

static int limit_del(int argc, char **argv)
{
	struct xl_rule rule;
	const struct xl_maps *m = &xl_cli.maps;
	int lock, err;
	__u16 port;

	if (argc == 2 && !strcmp(argv[1], "--help")) {
		xl_usage(&limit_usage, stdout);
		return XL_EXIT_OK;
	}
	if (argc != 2 || xl_parse_port(argv[1], true, &port)) {
		xl_err("limit del: expected one port (0-65535)%s%s%s",
		       argc == 2 ? ", got '" : "", argc == 2 ? argv[1] : "",
		       argc == 2 ? "'" : "");
		return XL_EXIT_USAGE;
	}
	lock = xl_cli_lock("limit del", false);
	if (lock < 0)
		return -lock;
	err = xl_cli_open("limit del");
	if (err)
		goto out_unlock;
	if (bpf_map_lookup_elem(m->fd[XL_M_RULES], &port, &rule)) {
		xl_err("limit del: port %u has no rule (see 'xlimit limit list')",
		       port);
		err = XL_EXIT_USAGE;
		goto out;
	}
	/* Its clients' counts go with it: of port 0's rule, those of ports
	 * without a rule; they start afresh if a rule covers them again. */
	if (xl_rule_set(&xl_cli, port, NULL, NULL, 0)) {
		err = xl_cli_fail("limit del");
		goto out;
	}
	err = XL_EXIT_OK;
	if (config_changed(m)) {
		xl_err("limit del: write %s: %s", XL_STR(XL_MAP_CONFIG),
		       strerror(errno));
		err = XL_EXIT_FAIL;
	}
out:
	xl_maps_close(&xl_cli);
out_unlock:
	xl_unlock(lock);
	return err;
}

static int limit_list(int argc, char **argv)
{
	bool json = argc == 2 && !strcmp(argv[1], "--json");
	struct xl_rule_row *rows;
	int err, n, i;

	if (argc == 2 && !strcmp(argv[1], "--help")) {
		xl_usage(&limit_usage, stdout);
		return XL_EXIT_OK;
	}
	if (argc > 2 || (argc == 2 && !json)) {
		xl_err("limit list: unexpected argument '%s'; usage: xlimit limit list [--json]",
		       argv[argc - 1]);
		return XL_EXIT_USAGE;
	}
	err = xl_cli_open("limit list");
	if (err)
		return err;
	n = xl_cli_rules(&rows);
	xl_maps_close(&xl_cli);
	if (n < 0) {
		xl_err("limit list: %s", strerror(-n));
		return XL_EXIT_FAIL;
	}
	if (json)
		xl_json_print(xl_rules_json(rows, n));
	for (i = 0; i < n && !json; i++) {
		if (rows[i].port)
			printf("%-6d", rows[i].port);
		else
			printf("%-6s", "any");
		xl_rule_print(&rows[i]);
		printf("\n");
	}
	free(rows);
	return XL_EXIT_OK;
}

static const struct xl_cmd limit_cmds[] = {
	{ "set", limit_set,
	  "set PORT LIMITS [--action A] [--strategy S [--burst N]] [--total LIMITS [--admit-known]]" },
	{ "add", limit_add,
	  "add PORT LIMITS [--action A] [--strategy S [--burst N]]" },
	{ "del", limit_del, "del PORT" },
	{ "list", limit_list, "list [--json]" },
	{}
};

int cmd_limit(int argc, char **argv)
{
	return xl_dispatch("limit", limit_cmds, argc - 1, argv + 1);
}
