// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * `xlimit stats`: per-rule counters, summed over CPUs, then per-route
 * ones, once or every N seconds.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "cli.h"
#include "route.h"

/* The rows are the rules' then, last, what no rule covers (XL_SLOT_GLOBAL):
 * frames dropped before a port was known, and denied SYNs to ports
 * without a rule; shown with port null, or "-". */
static bool row_global(const struct xl_stat_row *r)
{
	return r->rule.slot == XL_SLOT_GLOBAL;
}

static struct json_object *rows_json(const struct xl_stat_row *rows, int n,
				     const struct xl_stat_row *before,
				     double interval)
{
	struct json_object *arr = json_object_new_array();
	int i, j;

	for (i = 0; i < n; i++) {
		struct json_object *e = json_object_new_object();

		json_object_object_add(
			e, "port",
			row_global(&rows[i]) ?
				NULL :
				json_object_new_int(rows[i].port));
		for (j = 0; j < XL_STAT_NR; j++)
			json_object_object_add(
				e, xl_stat_names[j],
				json_object_new_uint64(rows[i].s.c[j]));
		if (before && interval > 0) {
			struct json_object *r = json_object_new_object();

			for (j = 0; j < XL_STAT_NR; j++)
				json_object_object_add(
					r, xl_stat_names[j],
					json_object_new_double(
						(rows[i].s.c[j] -
						 before[i].s.c[j]) /
						interval));
			json_object_object_add(e, "per_second", r);
		}
		json_object_array_add(arr, e);
	}
	return arr;
}

static void rows_print(const struct xl_stat_row *rows, int n,
		       const struct xl_stat_row *before, double interval)
{
	int i, j, w[XL_STAT_NR];

	printf("%-6s", "port");
	for (j = 0; j < XL_STAT_NR; j++) { /* a column fits its name */
		w[j] = strlen(xl_stat_names[j]) > 12 ?
			       (int)strlen(xl_stat_names[j]) :
			       12;
		printf(" %*s", w[j], xl_stat_names[j]);
	}
	printf("\n");
	for (i = 0; i < n; i++) {
		if (row_global(&rows[i]))
			printf("%-6s", "-");
		else if (rows[i].port)
			printf("%-6u", rows[i].port);
		else
			printf("%-6s", "any");
		for (j = 0; j < XL_STAT_NR; j++) {
			if (before && interval > 0)
				printf(" %*.0f/s", w[j] - 2,
				       (rows[i].s.c[j] - before[i].s.c[j]) /
					       interval);
			else
				printf(" %*llu", w[j],
				       (unsigned long long)rows[i].s.c[j]);
		}
		printf("\n");
	}
	if (n <= 1)
		printf("(no rules: see 'xlimit limit set')\n");
}

/* The routes and their counters (xl_route_stats), as one read saw them. */
struct route_stats {
	struct xl_route_row rows[XL_MAX_ROUTES];
	struct xl_rstats st[XL_MAX_ROUTES];
	int n;
};

/* Whether b holds the same routes as a, for rates. */
static bool same_routes(const struct route_stats *a,
			const struct route_stats *b)
{
	int i;

	for (i = 0; a->n == b->n && i < a->n; i++)
		if (a->rows[i].r.rule.slot != b->rows[i].r.rule.slot)
			return false;
	return a->n == b->n;
}

/* Route i's counter j per second since `before` (NULL: none). */
static double route_rate(const struct route_stats *r,
			 const struct route_stats *before, int i, int j,
			 double interval)
{
	return (r->st[i].c[j] - before->st[i].c[j]) / interval;
}

/* Adds a row per route to the JSON array of stats_json(). */
static void routes_json(struct json_object *arr, const struct route_stats *r,
			const struct route_stats *before, double interval)
{
	int i, j;

	for (i = 0; i < r->n; i++) {
		const struct xl_route_row *w = &r->rows[i];
		struct json_object *e = xl_route_key_json(&w->key), *rate;

		json_object_object_add(e, "id",
				       json_object_new_uint64(w->r.rule.slot));
		for (j = 0; j < XL_RSTAT_NR; j++)
			json_object_object_add(
				e, xl_rstat_names[j],
				json_object_new_uint64(r->st[i].c[j]));
		if (before && interval > 0) {
			rate = json_object_new_object();
			for (j = 0; j < XL_RSTAT_NR; j++)
				json_object_object_add(
					rate, xl_rstat_names[j],
					json_object_new_double(route_rate(
						r, before, i, j, interval)));
			json_object_object_add(e, "per_second", rate);
		}
		json_object_array_add(arr, e);
	}
}

/* The routes' table under the rules', if there are routes. */
static void routes_print(const struct route_stats *r,
			 const struct route_stats *before, double interval)
{
	char path[XL_ROUTE_PATH_MAX + 1] = {}, methods[64];
	int i, j;

	if (!r->n)
		return;
	printf("\n%-5s %-24s %-8s", "route", "path", "methods");
	for (j = 0; j < XL_RSTAT_NR; j++)
		printf(" %12s", xl_rstat_names[j]);
	printf("\n");
	for (i = 0; i < r->n; i++) {
		memcpy(path, r->rows[i].key.path, XL_ROUTE_PATH_MAX);
		xl_route_methods_format(r->rows[i].key.methods, methods,
					sizeof(methods));
		printf("%-5u %-24s %-8s", r->rows[i].key.port, path,
		       methods[0] ? methods : "any");
		for (j = 0; j < XL_RSTAT_NR; j++) {
			if (before && interval > 0)
				printf(" %10.0f/s",
				       route_rate(r, before, i, j, interval));
			else
				printf(" %12llu",
				       (unsigned long long)r->st[i].c[j]);
		}
		printf("\n");
	}
}

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static const struct xl_opt stats_opts[] = {
	XL_OPT_JSON,
	{ "watch", 'w', "SECONDS",
	  "print rates every SECONDS until interrupted (with --json:\n"
	  "one JSON array per line)" },
	{}
};
static const struct xl_usage stats_usage = {
	.synopsis = "xlimit stats [--json] [--watch SECONDS]",
	.about =
		"Per rule: SYNs seen, passed (within limits), dropped (over a drop\n"
		"limit), rejected (over a reject limit: answered with a TCP RST),\n"
		"over_passed (over a pass limit), allowed (allow list),\n"
		"denied (deny list); frag_dropped (TCP first fragments too short\n"
		"for a TCP header), clients_created, clients_restored (of\n"
		"those, clients the LRU had forgotten while over a limit, restored\n"
		"over it), total_dropped (over the port's ceiling, --total),\n"
		"known_admitted (known clients let past the exceeded ceiling,\n"
		"--admit-known), known_learned (clients that became known: a\n"
		"first completed handshake). The last row, port '-' (null in\n"
		"JSON), counts what no rule covers: frag_dropped (fragments\n"
		"without a port), deep_dropped (headers deeper than xlimit reads)\n"
		"and denied (new connections from deny-listed sources to ports\n"
		"without a rule). Then per route (xlimit route), the sidecar's\n"
		"requests charged to it: passed (within its limits), limited\n"
		"(over one: answered 429), exempted (an exempt route's).",
	.opts = stats_opts,
};

int cmd_stats(int argc, char **argv)
{
	static struct xl_stat_row rows[XL_STATS_SLOTS], before[XL_STATS_SLOTS];
	static struct route_stats routes, routes_before;
	struct json_object *arr;
	double watch = 0;
	bool json = false;
	const struct xl_maps *m = &xl_cli.maps;
	int c, n, nb = -1, err;
	char *end;

	optind = 0;
	while ((c = xl_getopt(argc, argv, &stats_usage)) >= 0) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'w':
			errno = 0;
			watch = strtod(optarg, &end);
			if (errno || *end ||
			    !(watch >= 0.1 && watch <= 86400)) {
				xl_err("stats: --watch '%s': expected seconds from 0.1 to 86400",
				       optarg);
				return XL_EXIT_USAGE;
			}
			break;
		}
	}
	if (c != XL_OPT_END)
		return xl_opt_exit(c);
	if (optind != argc) {
		xl_err("stats: unexpected argument '%s'", argv[optind]);
		return XL_EXIT_USAGE;
	}
	err = xl_cli_open("stats");
	if (err)
		return err;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	for (;;) {
		n = xl_stat_rows(m->fd[XL_M_RULES], m->fd[XL_M_STATS], rows);
		if (n >= 0) {
			memset(&rows[n], 0, sizeof(rows[n]));
			rows[n].rule.slot = XL_SLOT_GLOBAL;
			err = xl_stats_read(m->fd[XL_M_STATS], XL_SLOT_GLOBAL,
					    &rows[n].s);
			n = err ? err : n + 1;
		}
		routes.n = n < 0 ? 0 :
				   xl_route_stat_rows(m->fd[XL_M_ROUTES],
						      m->fd[XL_M_RSTATS],
						      routes.rows, routes.st,
						      XL_MAX_ROUTES);
		if (routes.n < 0)
			n = routes.n;
		if (n < 0) {
			xl_err("stats: read counters: %s", strerror(-n));
			xl_maps_close(&xl_cli);
			return XL_EXIT_FAIL;
		}
		/* Rates only when the rules stayed the same. */
		for (c = 0; nb >= 0 && c < n; c++)
			if (nb != n || before[c].port != rows[c].port ||
			    before[c].rule.slot != rows[c].rule.slot)
				nb = -1;
		if (nb >= 0 && !same_routes(&routes, &routes_before))
			nb = -1;
		if (json) {
			arr = rows_json(rows, n, nb >= 0 ? before : NULL,
					watch);
			routes_json(arr, &routes,
				    nb >= 0 ? &routes_before : NULL, watch);
			xl_json_print(arr);
		} else {
			rows_print(rows, n, nb >= 0 ? before : NULL, watch);
			routes_print(&routes, nb >= 0 ? &routes_before : NULL,
				     watch);
		}
		fflush(stdout);
		if (!watch)
			break;
		memcpy(before, rows, sizeof(rows[0]) * n);
		nb = n;
		routes_before = routes;
		usleep((useconds_t)(watch * 1e6));
		if (stop)
			break;
		if (!json)
			printf("\n");
	}
	xl_maps_close(&xl_cli);
	return XL_EXIT_OK;
}
