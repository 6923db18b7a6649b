// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Per-endpoint limits: `xlimit route add|del|list`, Flask-Limiter's
 * @limiter.limit(LIMITS, methods=[...], error_message=...),
 * @limiter.exempt and default_limits for the sidecar (SEMANTICS.md §5).
 * Everything is checked before the lock is taken; a route is written with
 * one map update, and the counts a change makes meaningless are deleted.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>

#include "cli.h"
#include "route.h"

#define ROUTE_METHODS                                                    \
	{                                                                \
		"methods", 'm', "GET,POST",                              \
			"the limits apply to these methods only; the\n"  \
			"route's other methods count the default limits" \
	}
#define ROUTE_STRATEGY                                               \
	{                                                            \
		"strategy", 's', "STRATEGY", "as 'xlimit limit set'" \
	}
#define ROUTE_BURST                                        \
	{                                                  \
		"burst", 'b', "N", "as 'xlimit limit set'" \
	}
#define ROUTE_MESSAGE                                                         \
	{                                                                     \
		"message", 'M', "TEXT",                                       \
			"the 429's text instead of the limit (one line, at\n" \
			"most 255 bytes)"                                     \
	}
#define ROUTE_EXEMPT                                                                \
	{                                                                           \
		"exempt", 'e', NULL,                                                \
			"never limited by route limits nor, in the sidecar, by\n"   \
			"the port's (its new connections still are, in the kernel)" \
	}

#define ROUTE_SYNOPSIS                                            \
	"xlimit route add PORT PATH [LIMITS] [--methods M,...]\n" \
	"                 [--strategy STRATEGY [--burst N]]\n"    \
	"                 [--message TEXT] [--exempt]\n"          \
	"xlimit route del PORT PATH [--methods M,...]\n"          \
	"xlimit route list [PORT] [--json]"
#define ROUTE_ABOUT                                                           \
	"PORT    the port the sidecar's clients connect to (its --listen\n"   \
	"        port), or 0 for every port without routes of its own\n"      \
	"PATH    /exact/path, /prefix/* (every path under /prefix/; the\n"    \
	"        longest prefix wins, an exact path beats any prefix), or\n"  \
	"        '*': the port's default limits, for routes without limits\n" \
	"        of their own and paths no route matches\n"                   \
	"LIMITS  Flask-Limiter syntax, as 'xlimit limit set' (at most 4);\n"  \
	"        none: the route counts the port's default limits on its own"

static const struct xl_opt route_add_opts[] = { ROUTE_METHODS, ROUTE_STRATEGY,
						ROUTE_BURST,   ROUTE_MESSAGE,
						ROUTE_EXEMPT,  {} };
static const struct xl_opt route_del_opts[] = { ROUTE_METHODS, {} };
static const struct xl_opt route_list_opts[] = { XL_OPT_JSON, {} };
static const struct xl_usage route_add_usage = {
	.synopsis = ROUTE_SYNOPSIS,
	.about = ROUTE_ABOUT,
	.opts = route_add_opts,
};
static const struct xl_usage route_del_usage = {
	.synopsis = ROUTE_SYNOPSIS,
	.about = ROUTE_ABOUT,
	.opts = route_del_opts,
};
static const struct xl_usage route_list_usage = {
	.synopsis = ROUTE_SYNOPSIS,
	.about = ROUTE_ABOUT,
	.opts = route_list_opts,
};

/* Parses PORT and PATH, with a message. */
static int parse_port_path(const char *cmd, const char *port_s,
			   const char *path, struct xl_route_key *k)
{
	char why[160];

	if (xl_parse_port(port_s, true, &k->port)) {
		xl_err("%s: bad port '%s'; expected 1-65535, or 0 for every port without routes of its own",
		       cmd, port_s);
		return -1;
	}
	if (xl_route_path_check(path, why, sizeof(why))) {
		xl_err("%s: bad path '%s': %s", cmd, path, why);
		return -1;
	}
	memcpy(k->path, path, strlen(path)); /* checked: shorter */
	return 0;
}

/* A change to the table: under the lock, the maps, the table as it is,
 * and the ids whose counts the change makes meaningless. */
struct change {
	int lock;
	const struct xl_maps *m; /* xl_cli's */
	struct xl_route_row *rows;
	int n;
	struct xl_route_ids clear;
};

/* Reads the table into *rows (malloc'd). Returns the count, or an exit
 * code < 0 with a message. */
static int rows_load(const struct xl_maps *m, const char *cmd,
		     struct xl_route_row **rows)
{
	int n;

	*rows = calloc(XL_MAX_ROUTES, sizeof(**rows));
	if (!*rows)
		return -XL_EXIT_FAIL;
	n = xl_routes_read(m->fd[XL_M_ROUTES], *rows, XL_MAX_ROUTES);
	if (n < 0) {
		xl_err("%s: read %s: %s", cmd, xl_map_names[XL_M_ROUTES],
		       strerror(-n));
		free(*rows);
		*rows = NULL;
		return -XL_EXIT_FAIL;
	}
	return n;
}

/* Takes the lock, opens the maps and reads the table. 0, or an exit
 * code with a message (nothing held then). */
static int change_begin(struct change *ch, const char *cmd)
{
	int err;

	memset(ch, 0, sizeof(*ch));
	ch->lock = xl_cli_lock(cmd, false);
	if (ch->lock < 0)
		return -ch->lock;
	err = xl_cli_open(cmd);
	if (err) {
		xl_unlock(ch->lock);
		return err;
	}
	ch->m = &xl_cli.maps;
	ch->n = rows_load(ch->m, cmd, &ch->rows);
	if (ch->n >= 0)
		return 0;
	err = -ch->n;
	xl_maps_close(&xl_cli);
	xl_unlock(ch->lock);
	return err;
}

/* Ends a change whose writes ended with `err`: after any write, the
 * counts it made meaningless are deleted, xl_route_stats follows the
 * routes, and the generation moves, so that the sidecar reads the table
 * again. Returns the exit code. */
static int change_end(struct change *ch, const char *cmd, int err, bool wrote)
{
	int e;

	if (wrote &&
	    (e = xl_route_stats_sync(ch->m->fd[XL_M_ROUTES],
				     ch->m->fd[XL_M_RSTATS], true)) &&
	    !err) {
		xl_err("%s: write %s: %s", cmd, xl_map_names[XL_M_RSTATS],
		       strerror(-e));
		err = XL_EXIT_FAIL;
	}
	if (wrote && xl_route_ids_clear(ch->m->fd[XL_M_RSTATE], &ch->clear) &&
	    !err) {
		xl_err("%s: clear %s: out of memory", cmd,
		       xl_map_names[XL_M_RSTATE]);
		err = XL_EXIT_FAIL;
	}
	if (wrote && xl_config_resync(ch->m) && !err) {
		xl_err("%s: write %s: %s", cmd, xl_map_names[XL_M_CONFIG],
		       strerror(errno));
		err = XL_EXIT_FAIL;
	}
	xl_route_ids_free(&ch->clear);
	free(ch->rows);
	xl_maps_close(&xl_cli);
	xl_unlock(ch->lock);
	return err;
}

static int route_add(int argc, char **argv)
{
	const char *cmd = "route add", *msg = "", *limits = NULL, *neg;
	__u32 strategy = XL_STRAT_FIXED;
	struct xl_route_row w = {};
	long long burst = -1;
	struct change ch;
	unsigned long num;
	char why[256];
	int c, n, i, old = -1, err;

	n = xl_negative_operand(argc, argv, &route_add_usage, &neg);
	if (n == 0) {
		xl_err("%s: bad port '%s'; expected 1-65535, or 0 for every port without routes of its own",
		       cmd, neg);
		return XL_EXIT_USAGE;
	}
	if (n == 2) { /* never a limit string: let the parser say why */
		xl_parse_rule_limits(cmd, neg, XL_ACT_DROP, XL_STRAT_FIXED, -1,
				     w.r.rule.limits, XL_MAX_LIMITS);
		return XL_EXIT_USAGE;
	}
	optind = 0;
	while ((c = xl_getopt(argc, argv, &route_add_usage)) >= 0) {
		switch (c) {
		case 'm':
			if (xl_route_methods_parse(optarg, &w.key.methods, why,
						   sizeof(why))) {
				xl_err("%s: --methods '%s': %s", cmd, optarg,
				       why);
				return XL_EXIT_USAGE;
			}
			break;
		case 's':
			if (xl_strategy_parse(optarg, &strategy)) {
				xl_err("%s: unknown strategy '%s'; expected fixed-window, sliding-window or token-bucket",
				       cmd, optarg);
				return XL_EXIT_USAGE;
			}
			break;
		case 'b':
			if (xl_parse_num(optarg, 1, UINT32_MAX, &num)) {
				xl_err("%s: bad burst '%s'; expected a number of hits, 1-%u",
				       cmd, optarg, UINT32_MAX);
				return XL_EXIT_USAGE;
			}
			burst = num;
			break;
		case 'M':
			if (xl_route_message_check(optarg, why, sizeof(why))) {
				xl_err("%s: --message: %s", cmd, why);
				return XL_EXIT_USAGE;
			}
			msg = optarg;
			break;
		case 'e':
			w.r.flags |= XL_ROUTE_EXEMPT;
			break;
		}
	}
	if (c != XL_OPT_END)
		return xl_opt_exit(c);
	if (argc - optind < 2 || argc - optind > 3) {
		xl_err("%s: expected PORT, PATH and optional LIMITS, e.g. xlimit route add 8080 /api/* \"10 per minute\"",
		       cmd);
		return xl_usage_bad(&route_add_usage);
	}
	if (parse_port_path(cmd, argv[optind], argv[optind + 1], &w.key))
		return XL_EXIT_USAGE;
	limits = argc - optind == 3 ? argv[optind + 2] : NULL;
	if (burst >= 0 && strategy != XL_STRAT_TOKEN) {
		xl_err("%s: --burst applies to --strategy token-bucket only",
		       cmd);
		return XL_EXIT_USAGE;
	}
	if (limits) {
		n = xl_parse_rule_limits(cmd, limits, XL_ACT_DROP, strategy,
					 burst, w.r.rule.limits, XL_MAX_LIMITS);
		if (n < 0)
			return XL_EXIT_USAGE;
		w.r.rule.nlimits = n;
	} else if (strategy != XL_STRAT_FIXED || burst >= 0) {
		xl_err("%s: --strategy and --burst go with LIMITS; without LIMITS the route counts the port's default limits",
		       cmd);
		return XL_EXIT_USAGE;
	}
	strncpy(w.r.message, msg, sizeof(w.r.message) - 1);
	if (xl_route_valid(&w, why, sizeof(why))) {
		xl_err("%s: %s", cmd, why);
		return XL_EXIT_USAGE;
	}

	err = change_begin(&ch, cmd);
	if (err)
		return err;
	for (i = 0; i < ch.n; i++)
		if (!memcmp(&ch.rows[i].key, &w.key, sizeof(w.key)))
			old = i;
	if (xl_route_fits(ch.rows, ch.n, &w, old, why, sizeof(why))) {
		xl_err("%s: %s; see 'xlimit route list', and 'xlimit route del'",
		       cmd, why);
		return change_end(&ch, cmd, XL_EXIT_USAGE, false);
	}
	if (old >= 0) {
		w.r.rule.slot = ch.rows[old].r.rule.slot;
		/* Other limits start the route's clients afresh, as 'limit
		 * set' does a port's; the same ones keep their counts. */
		if (ch.rows[old].invalid ||
		    !xl_same_limits(&ch.rows[old].r.rule, &w.r.rule) ||
		    ch.rows[old].r.flags != w.r.flags)
			xl_route_ids_of(&ch.clear, ch.rows, ch.n,
					&ch.rows[old]);
	} else {
		w.r.rule.slot = xl_route_next_id(ch.rows, ch.n);
		/* Counts a route of this id left behind (a route deleted
		 * while a sidecar charged it) are not this one's. */
		xl_route_ids_of(&ch.clear, ch.rows, ch.n, &w);
	}
	if (bpf_map_update_elem(ch.m->fd[XL_M_ROUTES], &w.key, &w.r, BPF_ANY)) {
		xl_err("%s: write %s: %s", cmd, xl_map_names[XL_M_ROUTES],
		       strerror(errno));
		return change_end(&ch, cmd, XL_EXIT_FAIL, false);
	}
	return change_end(&ch, cmd, 0, true);
}

static int route_del(int argc, char **argv)
{
	const char *cmd = "route del", *neg, *methods_s = "";
	struct xl_route_key k = {};
	bool methods = false;
	struct change ch;
	char why[160];
	int c, i, err, gone = 0;

	if (xl_negative_operand(argc, argv, &route_del_usage, &neg) == 0) {
		xl_err("%s: bad port '%s'; expected 1-65535, or 0", cmd, neg);
		return XL_EXIT_USAGE;
	}
	optind = 0;
	while ((c = xl_getopt(argc, argv, &route_del_usage)) >= 0) {
		switch (c) {
		case 'm':
			if (xl_route_methods_parse(optarg, &k.methods, why,
						   sizeof(why))) {
				xl_err("%s: --methods '%s': %s", cmd, optarg,
				       why);
				return XL_EXIT_USAGE;
			}
			methods = true;
			methods_s = optarg;
			break;
		}
	}
	if (c != XL_OPT_END)
		return xl_opt_exit(c);
	if (argc - optind != 2) {
		xl_err("%s: expected PORT and PATH, e.g. xlimit route del 8080 /api/*",
		       cmd);
		return xl_usage_bad(&route_del_usage);
	}
	if (parse_port_path(cmd, argv[optind], argv[optind + 1], &k))
		return XL_EXIT_USAGE;

	err = change_begin(&ch, cmd);
	if (err)
		return err;
	/* Without --methods, every route of the path; with it, the one
	 * with exactly those methods. */
	for (i = 0; i < ch.n; i++) {
		const struct xl_route_row *w = &ch.rows[i];

		if (!xl_route_same_path(&w->key, &k) ||
		    (methods && w->key.methods != k.methods))
			continue;
		gone++;
		if (bpf_map_delete_elem(ch.m->fd[XL_M_ROUTES], &w->key) &&
		    errno != ENOENT) {
			xl_err("%s: delete from %s: %s", cmd,
			       xl_map_names[XL_M_ROUTES], strerror(errno));
			err = XL_EXIT_FAIL;
		}
		xl_route_ids_of(&ch.clear, ch.rows, ch.n, w);
	}
	if (!gone)
		xl_err("%s: port %u has no route '%s'%s%s; see 'xlimit route list'",
		       cmd, k.port, argv[optind + 1],
		       methods ? " with --methods " : "", methods_s);
	return change_end(&ch, cmd, gone ? err : XL_EXIT_USAGE, gone > 0);
}

static const char *const kind_names[] = { "exact", "prefix", "default" };

/* The routes as `route list --json` prints them (see xlimit(8)), with
 * their counters st[n]. */
static struct json_object *routes_json(const struct xl_route_row *rows,
				       const struct xl_rstats *st, int n)
{
	struct json_object *arr = json_object_new_array();
	int i;

	for (i = 0; i < n; i++) {
		const struct xl_route_row *w = &rows[i];
		struct json_object *e = json_object_new_object(), *ls;
		char path[XL_ROUTE_PATH_MAX + 1] = {}, why[96];
		__u32 k;

		memcpy(path, w->key.path, XL_ROUTE_PATH_MAX);
		json_object_object_add(e, "port",
				       json_object_new_int(w->key.port));
		json_object_object_add(e, "path", json_object_new_string(path));
		json_object_object_add(
			e, "match",
			json_object_new_string(
				kind_names[xl_route_kind(path)]));
		json_object_object_add(e, "methods",
				       xl_methods_json(w->key.methods));
		json_object_object_add(e, "id",
				       json_object_new_uint64(w->r.rule.slot));
		json_object_object_add(
			e, "exempt",
			json_object_new_boolean(w->r.flags & XL_ROUTE_EXEMPT));
		json_object_object_add(
			e, "strategy",
			json_object_new_string(xl_strategy_name(
				w->r.rule.nlimits ?
					w->r.rule.limits[0].strategy :
					XL_STRAT_FIXED)));
		ls = xl_limits_json(&w->r.rule, false);
		for (k = 0; k < w->r.rule.nlimits && k < XL_MAX_LIMITS; k++)
			if (w->r.rule.limits[k].strategy == XL_STRAT_TOKEN)
				json_object_object_add(
					json_object_array_get_idx(ls, k),
					"burst",
					json_object_new_uint64(
						w->r.rule.limits[k].burst));
		json_object_object_add(e, "limits", ls);
		json_object_object_add(
			e, "message",
			json_object_new_string_len(w->r.message,
						   strnlen(w->r.message,
							   XL_ROUTE_MSG_MAX)));
		for (k = 0; k < XL_RSTAT_NR; k++)
			json_object_object_add(
				e, xl_rstat_names[k],
				json_object_new_uint64(st[i].c[k]));
		if (w->invalid &&
		    !xl_route_check(&w->key, &w->r, why, sizeof(why)))
			why[0] = '\0';
		if (w->invalid)
			json_object_object_add(e, "invalid",
					       json_object_new_string(why));
		json_object_array_add(arr, e);
	}
	return arr;
}

/* One route in text: "PORT PATH METHODS LIMITS; message \"...\"", then
 * its counters. */
static void print_route(const struct xl_route_row *w,
			const struct xl_rstats *st)
{
	const struct xl_rule *r = &w->r.rule;
	char path[XL_ROUTE_PATH_MAX + 1] = {}, methods[64], text[96], why[96];
	__u32 k;

	memcpy(path, w->key.path, XL_ROUTE_PATH_MAX);
	xl_route_methods_format(w->key.methods, methods, sizeof(methods));
	printf("%-5d %-24s %-8s ", w->key.port, path,
	       methods[0] ? methods : "any");
	if (w->r.flags & XL_ROUTE_EXEMPT)
		printf("exempt");
	else if (!r->nlimits)
		printf("the port's default limits");
	else if (r->limits[0].strategy != XL_STRAT_FIXED)
		printf("%s: ", xl_strategy_name(r->limits[0].strategy));
	for (k = 0; k < r->nlimits && k < XL_MAX_LIMITS; k++) {
		xl_format_rule_limit(&r->limits[k], text, sizeof(text));
		printf("%s%s", k ? "; " : "", text);
		if (r->limits[k].strategy == XL_STRAT_TOKEN)
			printf(" (burst %u)", r->limits[k].burst);
	}
	if (w->r.message[0])
		printf("; message \"%.*s\"", XL_ROUTE_MSG_MAX, w->r.message);
	if (w->invalid && xl_route_check(&w->key, &w->r, why, sizeof(why)))
		printf("; INVALID: %s", why);
	if (w->r.flags & XL_ROUTE_EXEMPT)
		printf(" (%s %llu)\n", xl_rstat_names[XL_RSTAT_EXEMPTED],
		       (unsigned long long)st->c[XL_RSTAT_EXEMPTED]);
	else
		printf(" (%s %llu, %s %llu)\n", xl_rstat_names[XL_RSTAT_PASSED],
		       (unsigned long long)st->c[XL_RSTAT_PASSED],
		       xl_rstat_names[XL_RSTAT_LIMITED],
		       (unsigned long long)st->c[XL_RSTAT_LIMITED]);
}

static int route_list(int argc, char **argv)
{
	const char *cmd = "route list";
	struct xl_route_row *rows = NULL;
	struct xl_rstats *st = NULL;
	bool json = false;
	uint16_t port = 0;
	int c, n, i, j;

	c = xl_getopt_json(argc, argv, &route_list_usage, &json);
	if (c != XL_OPT_END)
		return xl_opt_exit(c);
	if (argc - optind > 1) {
		xl_err("%s: unexpected argument '%s'; usage: xlimit route list [PORT] [--json]",
		       cmd, argv[optind + 1]);
		return XL_EXIT_USAGE;
	}
	if (argc - optind == 1 && xl_parse_port(argv[optind], true, &port)) {
		xl_err("%s: bad port '%s'; expected 0-65535", cmd,
		       argv[optind]);
		return XL_EXIT_USAGE;
	}
	c = xl_cli_open(cmd);
	if (c)
		return c;
	n = xl_route_stat_rows_new(xl_cli.maps.fd[XL_M_ROUTES],
				   xl_cli.maps.fd[XL_M_RSTATS], &rows, &st);
	xl_maps_close(&xl_cli);
	if (n < 0) {
		xl_err("%s: read %s: %s", cmd, xl_map_names[XL_M_RSTATS],
		       strerror(-n));
		return XL_EXIT_FAIL;
	}
	/* Only PORT's, when given. */
	for (i = j = 0; i < n; i++) {
		if (argc - optind && rows[i].key.port != port)
			continue;
		rows[j] = rows[i];
		st[j++] = st[i];
	}
	if (json)
		xl_json_print(routes_json(rows, st, j));
	for (i = 0; i < j && !json; i++)
		print_route(&rows[i], &st[i]);
	free(rows);
	free(st);
	return XL_EXIT_OK;
}

static const struct xl_cmd route_cmds[] = {
	{ "add", route_add,
	  "add PORT PATH [LIMITS] [--methods M,...] [--strategy S [--burst N]] [--message TEXT] [--exempt]" },
	{ "del", route_del, "del PORT PATH [--methods M,...]" },
	{ "list", route_list, "list [PORT] [--json]" },
	{}
};

int cmd_route(int argc, char **argv)
{
	return xl_dispatch("route", route_cmds, argc - 1, argv + 1);
}
