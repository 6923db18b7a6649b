// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * `xlimit top`: the clients closest to or over their limits, read from
 * xl_state (a port's rule) and xl_route_state (the sidecar's routes) in
 * batches (one syscall per chunk of keys, not per key, so a large map is
 * read without holding the datapath's buckets for long), and shown as
 * `xlimit query` shows a client: the limit its rule or route reports,
 * remaining, and reset and retry_after in UTC seconds.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>

#include "cli.h"
#include "query.h"
#include "route.h"
#include "xl_limiter.h"

#define TOP_DEFAULT 10
#define TOP_CHUNK 4096 /* keys per batch lookup */

struct top_rules {
	struct xl_rule_row row[XL_MAX_RULES];
	int at[65536]; /* index + 1 in row[]; 0 none; -1 invalid */
};

/* A route by its id, with the routes whose limits its counts count. */
struct top_route {
	__u32 id;
	const struct xl_route_row *w;
	const struct xl_route_row *own, *dflt; /* xl_route_limits_of(); NULL:
						* those counts are left out */
};

struct top_routes {
	struct xl_route_row *rows;
	struct top_route *by_id; /* sorted by id */
	int n;
};

struct top_ent {
	struct xl_key key; /* the client and the port it connected to */
	struct xl_state s;
	const struct xl_rule *rule;
	const struct xl_route_row *route; /* NULL: a count of the port's rule */
	__u32 route_id; /* xl_route_skey.route */
	__u32 report; /* the limit to show (xl_report_index) */
	__u64 remaining, amount, reset_ns;
};

enum top_kind { TOP_PORTS = 1, TOP_ROUTES = 2, TOP_ALL = 3 };

struct top_ctx {
	const struct top_rules *rules;
	const struct top_routes *routes;
	__u16 port; /* 0: every port */
	__u64 now;
	struct top_ent *ent;
	size_t n, cap;
	int err;
};

/* Every rule, checked as readers must (xl_rule_check). */
static void rules_read(int fd, struct top_rules *t)
{
	int n = xl_rules_read(fd, -1, t->row, XL_MAX_RULES), i;
	char why[96];

	memset(t->at, 0, sizeof(t->at));
	for (i = 0; i < n; i++) {
		if (xl_rule_check(&t->row[i].rule, why, sizeof(why))) {
			xl_err("top: the rule for port %u is invalid (%s): its clients are left out; replace it with 'xlimit limit set'",
			       t->row[i].port, why);
			t->at[t->row[i].port] = -1;
			continue;
		}
		t->at[t->row[i].port] = i + 1;
	}
}

static int route_id_cmp(const void *a, const void *b)
{
	const struct top_route *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

/* Every route, checked as readers must (xl_routes_read() marks the
 * invalid ones), indexed by id. 0 or -errno. */
static int routes_read(int fd, struct top_routes *t)
{
	char path[XL_ROUTE_PATH_MAX + 1], why[96];
	int i;

	t->rows = calloc(XL_MAX_ROUTES, sizeof(*t->rows));
	t->by_id = calloc(XL_MAX_ROUTES, sizeof(*t->by_id));
	if (!t->rows || !t->by_id)
		return -ENOMEM;
	t->n = xl_routes_read(fd, t->rows, XL_MAX_ROUTES);
	if (t->n < 0)
		return t->n;
	for (i = 0; i < t->n; i++) {
		const struct xl_route_row *w = &t->rows[i];
		struct top_route *r = &t->by_id[i];

		r->id = w->r.rule.slot;
		r->w = w;
		if (w->invalid) {
			memcpy(path, w->key.path, XL_ROUTE_PATH_MAX);
			path[XL_ROUTE_PATH_MAX] = '\0';
			xl_route_check(&w->key, &w->r, why, sizeof(why));
			xl_err("top: the route for port %u path '%s' is invalid (%s): its clients are left out; replace it with 'xlimit route add'",
			       w->key.port, path, why);
			continue;
		}
		r->own = xl_route_limits_of(t->rows, t->n, w, false);
		r->dflt = xl_route_limits_of(t->rows, t->n, w, true);
	}
	qsort(t->by_id, t->n, sizeof(*t->by_id), route_id_cmp);
	return 0;
}

/* Adds the client k (of rule r, or of route w) unless every window of it
 * expired. */
static void top_push(struct top_ctx *c, const struct xl_key *k,
		     const struct xl_state *s, const struct xl_rule *r,
		     const struct xl_route_row *w, __u32 route_id)
{
	struct top_ent *e;
	struct xl_view v;
	__u32 l, live = 0;

	/* An expired window is a full quota: a client whose every window
	 * expired is as far from its limits as one never seen. */
	for (l = 0; l < r->nlimits; l++) {
		xl_view_limit(&r->limits[l], &s->win[l], c->now, &v);
		live += v.live;
	}
	if (!live)
		return;
	if (c->n == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : TOP_CHUNK;

		e = realloc(c->ent, cap * sizeof(*e));
		if (!e) {
			c->err = -ENOMEM;
			return;
		}
		c->ent = e;
		c->cap = cap;
	}
	e = &c->ent[c->n++];
	e->key = *k;
	e->s = *s;
	e->rule = r;
	e->route = w;
	e->route_id = route_id;
	e->report = xl_report_index(r, s, c->now, 0);
	xl_view_limit(&r->limits[e->report], &s->win[e->report], c->now, &v);
	e->remaining = v.remaining;
	e->amount = v.amount;
	e->reset_ns = v.reset_ns;
}

/* A client's count of a port's rule (an entry of xl_state). */
static void top_add(struct top_ctx *c, const void *key,
		    const struct xl_state *s)
{
	const struct xl_key *k = key;
	int i = c->rules->at[k->port];

	if (c->port && k->port != c->port)
		return;
	if (i == 0 && k->port) /* no rule of its own: port 0's, if any */
		i = c->rules->at[0];
	if (i <= 0)
		return;
	top_push(c, k, s, &c->rules->row[i - 1].rule, NULL, 0);
}

/* A client's count of a route (an entry of xl_route_state): of the
 * route's limits, or of its port's default limits. */
static void top_add_route(struct top_ctx *c, const void *key,
			  const struct xl_state *s)
{
	const struct xl_route_skey *rk = key;
	struct top_route want = { .id = rk->route & ~XL_ROUTE_ID_DEFAULT };
	const struct xl_route_row *lim;
	const struct top_route *r;
	struct xl_key k = { .port = rk->port };

	if (c->port && rk->port != c->port)
		return;
	r = bsearch(&want, c->routes->by_id, c->routes->n,
		    sizeof(*c->routes->by_id), route_id_cmp);
	if (!r) /* its route is gone */
		return;
	lim = rk->route & XL_ROUTE_ID_DEFAULT ? r->dflt : r->own;
	if (!lim)
		return;
	memcpy(k.addr, rk->addr, 16);
	top_push(c, &k, s, &lim->r.rule, r->w, rk->route);
}

typedef void (*top_add_fn)(struct top_ctx *c, const void *key,
			   const struct xl_state *s);

/* One key at a time, for a kernel that refuses batch lookups. */
static int state_walk_keys(int fd, size_t ksize, top_add_fn add,
			   struct top_ctx *c)
{
	union {
		struct xl_key k;
		struct xl_route_skey r;
	} key, prev;
	struct xl_state s;
	bool first = true;

	while (!c->err &&
	       !bpf_map_get_next_key(fd, first ? NULL : &prev, &key)) {
		first = false;
		memcpy(&prev, &key, ksize);
		/* Gone since get_next_key (the LRU evicted it): skip. */
		if (!bpf_map_lookup_elem(fd, &key, &s))
			add(c, &key, &s);
	}
	return c->err;
}

/* Every entry of a map of struct xl_state values (xl_state, or
 * xl_route_state) with keys of ksize bytes through add(), TOP_CHUNK keys
 * per syscall. */
static int state_walk(int fd, size_t ksize, top_add_fn add, struct top_ctx *c)
{
	size_t chunk = TOP_CHUNK;
	char *keys = NULL;
	struct xl_state *vals = NULL;
	__u32 in, out, count, i;
	bool first = true;
	int err = 0;

	for (;;) {
		if (!keys) {
			keys = calloc(chunk, ksize);
			vals = calloc(chunk, sizeof(*vals));
			if (!keys || !vals) {
				err = -ENOMEM;
				break;
			}
		}
		count = chunk;
		err = bpf_map_lookup_batch(fd, first ? NULL : &in, &out, keys,
					   vals, &count, NULL) ?
			      -errno :
			      0;
		if (err == -ENOSPC && !count) {
			/* One bucket holds more keys than a chunk. */
			free(keys);
			free(vals);
			keys = NULL;
			vals = NULL;
			chunk *= 2;
			continue;
		}
		if (err && err != -ENOENT) {
			if (first && (err == -EINVAL || err == -EOPNOTSUPP ||
				      err == -ENOTSUP || err == -524)) {
				/* 524: the kernel's ENOTSUPP */
				if (xl_cli.verbose)
					xl_err("top: no batch lookups (%s): reading one key at a time",
					       strerror(-err));
				err = state_walk_keys(fd, ksize, add, c);
			}
			break;
		}
		for (i = 0; i < count && !c->err; i++)
			add(c, keys + i * ksize, &vals[i]);
		if (c->err || err == -ENOENT) {
			err = c->err;
			break;
		}
		in = out;
		first = false;
	}
	free(keys);
	free(vals);
	return err;
}

/* Over first, then the least remaining for the amount, then the earliest
 * reset; then port, address and route (a port's rule first), so equal
 * clients keep one order. */
static int top_cmp(const void *a, const void *b)
{
	const struct top_ent *x = a, *y = b;
	bool ox = !x->remaining, oy = !y->remaining;
	__u64 fx, fy;

	if (ox != oy)
		return ox ? -1 : 1;
	/* remaining / amount, cross-multiplied: both below 2^24. */
	fx = x->remaining * y->amount;
	fy = y->remaining * x->amount;
	if (fx != fy)
		return fx < fy ? -1 : 1;
	if (x->reset_ns != y->reset_ns)
		return x->reset_ns < y->reset_ns ? -1 : 1;
	if (x->key.port != y->key.port)
		return x->key.port < y->key.port ? -1 : 1;
	if (memcmp(x->key.addr, y->key.addr, 16))
		return memcmp(x->key.addr, y->key.addr, 16);
	if (!x->route != !y->route)
		return !x->route ? -1 : 1;
	return x->route_id < y->route_id ? -1 : x->route_id > y->route_id;
}

/* Which count a client's row is of: "-" for its port's rule, else the
 * route as `query` names it (xl_route_label()), and the route's port
 * when it is port 0's. */
static void top_route_label(const struct top_ent *e, char *buf, size_t len)
{
	const struct xl_route_row *w = e->route;
	size_t n;

	if (!w) {
		snprintf(buf, len, "-");
		return;
	}
	xl_route_label(w->key.path, w->key.methods,
		       e->route_id & XL_ROUTE_ID_DEFAULT, buf, len);
	n = strlen(buf);
	if (w->key.port != e->key.port && n < len)
		snprintf(buf + n, len - n, " (port %u)", w->key.port);
}

/* The route of a row as `top --json` gives it: {port, path, methods,
 * default, id}. */
static struct json_object *top_route_json(const struct top_ent *e)
{
	const struct xl_route_row *w = e->route;
	struct json_object *o = xl_route_key_json(&w->key);

	json_object_object_add(o, "default",
			       json_object_new_boolean(e->route_id &
						       XL_ROUTE_ID_DEFAULT));
	json_object_object_add(o, "id", json_object_new_uint64(w->r.rule.slot));
	return o;
}

/* IPv4 as a.b.c.d, IPv6 as the /N prefix it is counted by. */
static void top_addr(const struct xl_key *k, __u32 prefix, char *buf,
		     size_t len)
{
	struct xl_lpm_key l = { .prefixlen = prefix };

	if (xl_is_v4mapped(k->addr)) {
		xl_format_addr(k->addr, buf, len);
		return;
	}
	if (!l.prefixlen)
		l.prefixlen = XL_IPV6_PREFIX_DEFAULT;
	if (l.prefixlen > 128)
		l.prefixlen = 128;
	memcpy(l.addr, k->addr, 16);
	xl_format_cidr(&l, buf, len);
}

static const struct xl_opt top_opts[] = {
	{ "port", 'p', "PORT",
	  "the clients of one port only (its rule's and its\nroutes')" },
	{ "ports", 'P', NULL,
	  "only the counts of ports' rules (the kernel's, per\nnew connection)" },
	{ "routes", 'r', NULL,
	  "only the counts of routes (the sidecar's, per\nrequest)" },
	XL_OPT_JSON,
	{}
};
static const struct xl_usage top_usage = {
	.synopsis =
		"xlimit top [-n N] [--port PORT] [--ports | --routes] [--json]",
	.about =
		"The N clients (default 10, 0 for all) closest to their limits:\n"
		"over first (remaining 0), then by remaining / amount, then by\n"
		"reset; each with the limit its rule reports, remaining, and\n"
		"reset as UTC epoch seconds, as 'xlimit query' shows them.\n"
		"A client's count of a port's rule (route '-') and its count of\n"
		"each route of the sidecar ('xlimit route add'; the route as\n"
		"PATH [METHODS], '(default limits)' for a count of the port's\n"
		"default limits) are ranked together, one row each.\n"
		"Clients whose every window has expired are left out. Reading\n"
		"changes nothing.",
	.opts = top_opts,
	.shorts = "n:",
};

static void top_print(const struct top_ent *e, size_t n, __u32 prefix,
		      __u64 now, bool json)
{
	struct json_object *arr = json ? json_object_new_array() : NULL;
	double now_utc = xl_mono_to_utc(now);
	char addr[64], route[XL_ROUTE_PATH_MAX + 128];
	size_t i;
	int w = 7, rw = 5;

	for (i = 0; i < n && !json; i++) {
		top_addr(&e[i].key, prefix, addr, sizeof(addr));
		if ((int)strlen(addr) > w)
			w = (int)strlen(addr);
		top_route_label(&e[i], route, sizeof(route));
		if ((int)strlen(route) > rw)
			rw = (int)strlen(route);
	}
	if (!json)
		printf("%-*s %-5s %-*s %-24s %9s %10s %11s %-14s %s\n", w,
		       "address", "port", rw, "route", "limit", "remaining",
		       "reset", "retry_after", "strategy", "over");
	for (i = 0; i < n; i++) {
		struct xl_client_limit l;
		struct json_object *o;

		top_addr(&e[i].key, prefix, addr, sizeof(addr));
		xl_client_limit_view(&e[i].rule->limits[e[i].report],
				     &e[i].s.win[e[i].report], now, now_utc,
				     &l);
		if (!json) {
			top_route_label(&e[i], route, sizeof(route));
			printf("%-*s %-5u %-*s %-24s %9llu %10llu %11lld %-14s %s\n",
			       w, addr, e[i].key.port, rw, route, l.text,
			       (unsigned long long)l.remaining,
			       (unsigned long long)l.reset,
			       (long long)l.retry_after,
			       xl_strategy_name(l.strategy),
			       l.remaining ? "no" : "yes");
			continue;
		}
		o = json_object_new_object();
		json_object_object_add(o, "address",
				       json_object_new_string(addr));
		json_object_object_add(o, "port",
				       json_object_new_int(e[i].key.port));
		if (e[i].route)
			json_object_object_add(o, "route",
					       top_route_json(&e[i]));
		xl_client_limit_json(o, &l);
		json_object_object_add(o, "over",
				       json_object_new_boolean(!l.remaining));
		json_object_array_add(arr, o);
	}
	if (json)
		xl_json_print(arr);
	else if (!n)
		printf("(no client holds an open window)\n");
}

int cmd_top(int argc, char **argv)
{
	static struct top_rules rules;
	struct top_routes routes = {};
	struct top_ctx c = { .rules = &rules, .routes = &routes };
	unsigned long top = TOP_DEFAULT;
	int kind = 0;
	struct xl_config cfg = {};
	bool json = false;
	const struct xl_maps *m = &xl_cli.maps;
	__u32 zero = 0;
	int ch, err;

	optind = 0;
	while ((ch = xl_getopt(argc, argv, &top_usage)) >= 0) {
		switch (ch) {
		case 'j':
			json = true;
			break;
		case 'n':
			if (xl_parse_num(optarg, 0, 0xffffffffUL, &top)) {
				xl_err("top: -n '%s': expected a number of clients (0 for all)",
				       optarg);
				return XL_EXIT_USAGE;
			}
			break;
		case 'p':
			if (xl_parse_port(optarg, false, &c.port)) {
				xl_err("top: bad port '%s'; expected 1-65535",
				       optarg);
				return XL_EXIT_USAGE;
			}
			break;
		case 'P':
		case 'r':
			kind |= ch == 'P' ? TOP_PORTS : TOP_ROUTES;
			break;
		}
	}
	if (ch != XL_OPT_END)
		return xl_opt_exit(ch);
	if (optind != argc) {
		xl_err("top: unexpected argument '%s'", argv[optind]);
		return XL_EXIT_USAGE;
	}
	if (kind == TOP_ALL) {
		xl_err("top: --ports and --routes together; give one of them, or neither for both");
		return XL_EXIT_USAGE;
	}
	kind = kind ?: TOP_ALL;
	err = xl_cli_open("top");
	if (err)
		return err;
	bpf_map_lookup_elem(m->fd[XL_M_CONFIG], &zero, &cfg);
	c.now = xl_mono_now();
	if (kind & TOP_PORTS) {
		rules_read(m->fd[XL_M_RULES], &rules);
		err = state_walk(m->fd[XL_M_STATE], sizeof(struct xl_key),
				 top_add, &c);
		if (err)
			xl_err("top: read %s: %s", xl_map_names[XL_M_STATE],
			       strerror(-err));
	}
	if (!err && (kind & TOP_ROUTES)) {
		err = routes_read(m->fd[XL_M_ROUTES], &routes);
		if (err)
			xl_err("top: read %s: %s", xl_map_names[XL_M_ROUTES],
			       strerror(-err));
	}
	if (!err && (kind & TOP_ROUTES)) {
		err = state_walk(m->fd[XL_M_RSTATE],
				 sizeof(struct xl_route_skey), top_add_route,
				 &c);
		if (err)
			xl_err("top: read %s: %s", xl_map_names[XL_M_RSTATE],
			       strerror(-err));
	}
	if (!err && c.n)
		qsort(c.ent, c.n, sizeof(*c.ent), top_cmp);
	if (!err)
		top_print(c.ent, top && top < c.n ? top : c.n, cfg.ipv6_prefix,
			  c.now, json);
	free(c.ent);
	free(routes.rows);
	free(routes.by_id);
	xl_maps_close(&xl_cli);
	return err ? XL_EXIT_FAIL : XL_EXIT_OK;
}
