// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * What the commands of the xlimit CLI share: dispatch, operands, and JSON
 * and text output of rules.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attach.h"
#include "cli.h"
#include "query.h"
#include "route.h"

struct xl_ctx xl_cli;

int xl_cli_fail(const char *cmd)
{
	xl_err("%s: %s", cmd, xl_cli.err);
	return xl_cli.usage ? XL_EXIT_USAGE : XL_EXIT_FAIL;
}

int xl_cli_open(const char *cmd)
{
	return xl_maps_open(&xl_cli) ? xl_cli_fail(cmd) : 0;
}

int xl_cli_lock(const char *cmd, bool create)
{
	int fd = xl_lock(&xl_cli, create);

	return fd >= 0 ? fd : -xl_cli_fail(cmd);
}

int xl_cli_detach(const struct xl_attachment *a)
{
	int err = xl_detach_one(&xl_cli, a);

	if (err)
		xl_err("detach %s", xl_cli.err);
	return err;
}

int xl_cli_detach_all(void)
{
	struct xl_attachment all[XL_MAX_IFACES];
	int n = xl_list_attachments(&xl_cli, all, XL_MAX_IFACES), i, err = 0;

	for (i = 0; i < n; i++)
		if (xl_cli_detach(&all[i]))
			err = -1;
	return err;
}

int xl_cli_attach(const char *cmd, const char *ifname, int ifindex,
		  const struct xl_progs *p, enum xl_mode *mode)
{
	bool fallback = *mode == XL_MODE_AUTO;
	int err = xl_attach_iface(&xl_cli, ifname, ifindex, p, mode);

	if (fallback && *mode == XL_MODE_TC) {
		if (!err) /* why native XDP failed */
			xl_err("%s %s", cmd, xl_cli.err);
		xl_err("%s %s: falling back to tc mode", cmd, ifname);
	}
	if (err)
		xl_err("%s %s", cmd, xl_cli.err);
	return err;
}

void xl_cli_abort(const char *cmd, struct xl_stage *s)
{
	if (xl_stage_abort(&xl_cli, s))
		xl_cli_fail(cmd);
}

int xl_dispatch(const char *what, const struct xl_cmd *cmds, int argc,
		char **argv)
{
	const struct xl_cmd *c;
	bool help = argc >= 1 &&
		    (!strcmp(argv[0], "help") || !strcmp(argv[0], "--help") ||
		     !strcmp(argv[0], "-h"));

	if (argc < 1) {
		xl_err("%s: expected a command; try 'xlimit %s help'", what,
		       what);
	} else if (!help) {
		for (c = cmds; c->name; c++) {
			char *name;

			if (strcmp(c->name, argv[0]))
				continue;
			/* getopt prefixes its messages with argv[0]: make it
			 * say "xlimit limit set: ...". Lives until exit. */
			if (asprintf(&name, "xlimit %s%s%s", what,
				     *what ? " " : "", c->name) > 0)
				argv[0] = name;
			return c->fn(argc, argv);
		}
		xl_err("%s%sunknown command '%s'; try 'xlimit %s%shelp'", what,
		       *what ? ": " : "", argv[0], what, *what ? " " : "");
	}
	fprintf(help ? stdout : stderr, "Usage: xlimit %s COMMAND ...\n\n",
		what);
	for (c = cmds; c->name; c++)
		fprintf(help ? stdout : stderr, "  %s\n", c->summary);
	return help ? XL_EXIT_OK : XL_EXIT_USAGE;
}

/* A rule's limits as JSON: [{"limit", "amount", "period"[, "action"[,
 * "burst"]]}] (the ceiling's, without action: always a fixed window that
 * drops). */
struct json_object *xl_limits_json(const struct xl_rule *r, bool action)
{
	struct json_object *ls = json_object_new_array();
	__u32 k;

	for (k = 0; k < r->nlimits && k < XL_MAX_LIMITS; k++) {
		struct json_object *l = json_object_new_object();
		const struct xl_limit *lim = &r->limits[k];
		char text[96];

		xl_format_rule_limit(lim, text, sizeof(text));
		json_object_object_add(l, "limit",
				       json_object_new_string(text));
		json_object_object_add(l, "amount",
				       json_object_new_uint64(lim->amount));
		json_object_object_add(l, "period",
				       json_object_new_uint64(lim->period_ns /
							      XL_NSEC_PER_SEC));
		if (action)
			json_object_object_add(
				l, "action",
				json_object_new_string(
					xl_action_name(lim->action)));
		if (action && lim->strategy == XL_STRAT_TOKEN)
			json_object_object_add(
				l, "burst", json_object_new_uint64(lim->burst));
		json_object_array_add(ls, l);
	}
	return ls;
}

void xl_json_print(struct json_object *o)
{
	puts(json_object_to_json_string_ext(
		o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

void xl_client_limit_json(struct json_object *o,
			  const struct xl_client_limit *l)
{
	json_object_object_add(o, "limit", json_object_new_string(l->text));
	json_object_object_add(o, "amount", json_object_new_uint64(l->amount));
	json_object_object_add(o, "period", json_object_new_uint64(l->period));
	json_object_object_add(
		o, "strategy",
		json_object_new_string(xl_strategy_name(l->strategy)));
	if (l->strategy == XL_STRAT_TOKEN)
		json_object_object_add(o, "burst",
				       json_object_new_uint64(l->burst));
	json_object_object_add(o, "remaining",
			       json_object_new_uint64(l->remaining));
	json_object_object_add(o, "reset", json_object_new_uint64(l->reset));
	json_object_object_add(o, "retry_after",
			       json_object_new_int64(l->retry_after));
}

/* Whether an argument from argv[2] on asks for help. */
bool xl_wants_help(int argc, char **argv)
{
	int i;

	for (i = 2; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return true;
	return false;
}

struct json_object *xl_methods_json(uint16_t bits)
{
	struct json_object *a = json_object_new_array();
	const char *name;
	uint16_t bit;
	int i;

	for (i = 0; (name = xl_route_method_name(i, &bit)); i++)
		if (bits & bit)
			json_object_array_add(a, json_object_new_string(name));
	return a;
}

struct json_object *xl_route_key_json(const struct xl_route_key *k)
{
	struct json_object *o = json_object_new_object();
	char path[XL_ROUTE_PATH_MAX + 1] = {};

	memcpy(path, k->path, XL_ROUTE_PATH_MAX); /* not NUL-terminated */
	json_object_object_add(o, "port", json_object_new_int(k->port));
	json_object_object_add(o, "path", json_object_new_string(path));
	json_object_object_add(o, "methods", xl_methods_json(k->methods));
	return o;
}

struct json_object *xl_rule_json(const struct xl_rule_row *r)
{
	struct json_object *e = json_object_new_object();
	char why[96];

	json_object_object_add(e, "port", json_object_new_int(r->port));
	json_object_object_add(e, "strategy",
			       json_object_new_string(xl_strategy_name(
				       r->rule.limits[0].strategy)));
	if (xl_rule_check(&r->rule, why, sizeof(why)))
		json_object_object_add(e, "invalid",
				       json_object_new_string(why));
	json_object_object_add(e, "limits", xl_limits_json(&r->rule, true));
	json_object_object_add(e, "total", xl_limits_json(&r->total, false));
	json_object_object_add(e, "admit_known",
			       json_object_new_boolean(r->rule.flags &
						       XL_RULE_ADMIT_KNOWN));
	return e;
}

struct json_object *xl_rules_json(const struct xl_rule_row *rows, int n)
{
	struct json_object *arr = json_object_new_array();
	int i;

	for (i = 0; i < n; i++)
		json_object_array_add(arr, xl_rule_json(&rows[i]));
	return arr;
}

void xl_rule_print(const struct xl_rule_row *r)
{
	const struct xl_rule *rule = &r->rule;
	__u32 k, n = rule->nlimits < XL_MAX_LIMITS ? rule->nlimits :
						     XL_MAX_LIMITS;
	char text[96], why[96];

	if (rule->limits[0].strategy != XL_STRAT_FIXED)
		printf("%s: ", xl_strategy_name(rule->limits[0].strategy));
	for (k = 0; k < n; k++) {
		const struct xl_limit *l = &rule->limits[k];

		xl_format_rule_limit(l, text, sizeof(text));
		printf("%s%s (%s", k ? "; " : "", text,
		       xl_action_name(l->action));
		if (l->strategy == XL_STRAT_TOKEN)
			printf(", burst %u", l->burst);
		printf(")");
	}
	for (k = 0; k < r->total.nlimits && k < XL_MAX_LIMITS; k++) {
		xl_format_rule_limit(&r->total.limits[k], text, sizeof(text));
		printf("%s%s", k ? "; " : "; total ", text);
	}
	if (rule->flags & XL_RULE_ADMIT_KNOWN)
		printf(", admit known");
	if (xl_rule_check(rule, why, sizeof(why)))
		printf("  INVALID RULE (%s): replace it with 'xlimit limit set'",
		       why);
}

int xl_cli_rules(struct xl_rule_row **rows)
{
	const struct xl_maps *m = &xl_cli.maps;

	*rows = calloc(XL_MAX_RULES, sizeof(**rows));
	if (!*rows)
		return -ENOMEM;
	return xl_rules_read(m->fd[XL_M_RULES], m->fd[XL_M_TOTAL], *rows,
			     XL_MAX_RULES);
}
