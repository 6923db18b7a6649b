// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * `xlimit query`: what the kernel holds for one client, as the sidecar
 * would show it.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "cli.h"
#include "query.h"
#include "route.h"
#include "xl_limiter.h"

static const struct xl_opt query_opts[] = { XL_OPT_JSON, {} };
static const struct xl_usage query_usage = {
	.synopsis = "xlimit query ADDRESS [PORT] [--json]",
	.about = "What the kernel holds for the client ADDRESS on PORT (every\n"
		 "limited port if omitted): remaining, and reset as UTC epoch\n"
		 "seconds; whether it is a known client, and the port's\n"
		 "ceiling (--total), for all sources. Reading changes nothing.",
	.opts = query_opts,
};

/* What `query` shows beside the client's own limits: whether it is a
 * known client (bpf/flood.h) and the port's ceiling, for all sources. */
struct xl_flood_view {
	bool known;
	__u32 ntotal;
	struct xl_client_limit total[XL_MAX_LIMITS];
};

static void flood_view(const struct xl_maps *m, const __u8 addr[16], __u16 port,
		       const struct xl_client *c, struct xl_flood_view *v)
{
	struct xl_config cfg = {};
	struct xl_known kn;
	struct xl_total t;
	struct xl_rule r;
	struct xl_key k;
	__u64 now = xl_mono_now();
	__u32 zero = 0, i;

	memset(v, 0, sizeof(*v));
	bpf_map_lookup_elem(m->fd[XL_M_CONFIG], &zero, &cfg);
	xl_key_init(&k, addr, port, cfg.ipv6_prefix);
	v->known = !bpf_map_lookup_elem(m->fd[XL_M_KNOWN], &k, &kn);
	if (!c->covered ||
	    bpf_map_lookup_elem(m->fd[XL_M_RULES], &c->rule_port, &r) ||
	    !(r.flags & XL_RULE_TOTAL) || r.slot >= XL_MAX_RULES ||
	    bpf_map_lookup_elem(m->fd[XL_M_TOTAL], &r.slot, &t))
		return;
	v->ntotal = xl_nlimits(&t.rule);
	for (i = 0; i < v->ntotal; i++)
		xl_client_limit_view(&t.rule.limits[i], &t.state.win[i], now,
				     xl_mono_to_utc(now), &v->total[i]);
}

static struct json_object *client_json(const char *addr, __u16 port,
				       const struct xl_client *c,
				       const struct xl_flood_view *fv)
{
	struct json_object *o = json_object_new_object(), *ls;
	__u32 i;

	json_object_object_add(o, "address", json_object_new_string(addr));
	json_object_object_add(o, "port", json_object_new_int(port));
	json_object_object_add(o, "allowed",
			       json_object_new_boolean(c->allowed));
	json_object_object_add(o, "denied", json_object_new_boolean(c->denied));
	ls = json_object_new_array();
	for (i = 0; i < c->nlimits; i++) {
		const struct xl_client_limit *l = &c->lim[i];
		struct json_object *e = json_object_new_object();

		xl_client_limit_json(e, l);
		json_object_array_add(ls, e);
	}
	json_object_object_add(o, "limits", ls);
	json_object_object_add(o, "known", json_object_new_boolean(fv->known));
	ls = json_object_new_array();
	for (i = 0; i < fv->ntotal; i++) {
		struct json_object *e = json_object_new_object();

		xl_client_limit_json(e, &fv->total[i]);
		json_object_array_add(ls, e);
	}
	json_object_object_add(o, "total", ls);
	return o;
}

static void limit_print(const char *what, const struct xl_client_limit *l)
{
	char label[128];

	snprintf(label, sizeof(label), "%s%s", what, l->text);
	printf("  %-24s remaining %llu, reset %llu (in %llds)", label,
	       (unsigned long long)l->remaining, (unsigned long long)l->reset,
	       (long long)l->retry_after);
	if (l->strategy != XL_STRAT_FIXED)
		printf(", %s", xl_strategy_name(l->strategy));
	if (l->strategy == XL_STRAT_TOKEN)
		printf(" burst %u", l->burst);
	printf("\n");
}

/* A client's counts of routes on a port (route.h), into rc: their
 * number. */
static struct xl_route_count rc[2 * XL_MAX_ROUTES];

static int route_counts(const struct xl_maps *m, const __u8 addr[16],
			__u16 port)
{
	struct xl_config cfg = {};
	int n;

	bpf_map_lookup_elem(m->fd[XL_M_CONFIG], &(__u32){ 0 }, &cfg);
	n = xl_route_counts(m->fd[XL_M_ROUTES], m->fd[XL_M_RSTATE], addr, port,
			    cfg.ipv6_prefix, rc, 2 * XL_MAX_ROUTES);
	return n < 0 ? 0 : n;
}

/* The counts as `query --json` shows them: [{"path", "methods",
 * "default", "limits": [...]}]. */
static struct json_object *route_counts_json(int n)
{
	struct json_object *arr = json_object_new_array();
	int i;
	__u32 k;

	for (i = 0; i < n; i++) {
		struct json_object *e = json_object_new_object();
		struct json_object *ls = json_object_new_array();

		json_object_object_add(e, "path",
				       json_object_new_string(rc[i].path));
		json_object_object_add(e, "methods",
				       xl_methods_json(rc[i].methods));
		json_object_object_add(e, "default",
				       json_object_new_boolean(rc[i].dflt));
		for (k = 0; k < rc[i].nlimits; k++) {
			struct json_object *l = json_object_new_object();

			xl_client_limit_json(l, &rc[i].lim[k]);
			json_object_array_add(ls, l);
		}
		json_object_object_add(e, "limits", ls);
		json_object_array_add(arr, e);
	}
	return arr;
}

static void client_print(const char *addr, __u16 port,
			 const struct xl_client *c,
			 const struct xl_flood_view *fv, int nroutes)
{
	char label[XL_ROUTE_PATH_MAX + 96];
	__u32 i, k;
	int r;

	printf("%s port %u:%s%s%s%s\n", addr, port, c->denied ? " denied" : "",
	       c->allowed ? " allowed" : "", c->covered ? "" : " no rule",
	       fv->known ? " known" : "");
	for (i = 0; i < c->nlimits; i++)
		limit_print("", &c->lim[i]);
	for (i = 0; i < fv->ntotal; i++)
		limit_print("total ", &fv->total[i]);
	for (r = 0; r < nroutes; r++) {
		xl_route_label(rc[r].path, rc[r].methods, rc[r].dflt, label,
			       sizeof(label));
		printf("  route %s\n", label);
		for (k = 0; k < rc[r].nlimits; k++)
			limit_print("  ", &rc[r].lim[k]);
	}
}

/* The ports to show for ADDRESS without PORT: every port with a rule of
 * its own, and the ports port 0's rule has counted this client on. */
static int query_ports(const struct xl_maps *m, const __u8 addr[16],
		       __u16 *ports, int max)
{
	struct xl_key want, key, prev;
	struct xl_config cfg = {};
	__u16 port, cur, *pp = NULL;
	struct xl_rule r;
	__u32 zero = 0;
	int n = 0, i;

	while (n < max && !bpf_map_get_next_key(m->fd[XL_M_RULES], pp, &port)) {
		cur = port;
		pp = &cur;
		if (port)
			ports[n++] = port;
	}
	if (bpf_map_lookup_elem(m->fd[XL_M_RULES], &(__u16){ 0 }, &r) != 0)
		return n;
	bpf_map_lookup_elem(m->fd[XL_M_CONFIG], &zero, &cfg);
	xl_key_init(&want, addr, 0, cfg.ipv6_prefix);
	if (bpf_map_get_next_key(m->fd[XL_M_STATE], NULL, &key))
		return n;
	do {
		prev = key;
		if (memcmp(key.addr, want.addr, 16) || n >= max)
			continue;
		for (i = 0; i < n && ports[i] != key.port; i++)
			;
		if (i == n)
			ports[n++] = key.port;
	} while (!bpf_map_get_next_key(m->fd[XL_M_STATE], &prev, &key));
	return n;
}

static int by_u16(const void *a, const void *b)
{
	return *(const __u16 *)a - *(const __u16 *)b;
}

int cmd_query(int argc, char **argv)
{
	static __u16 ports[65536];
	const char *addr_s = NULL, *port_s = NULL;
	struct json_object *arr = NULL;
	char path[PATH_MAX], text[64];
	int c, n, i, prog, err;
	bool json = false;
	const struct xl_maps *m = &xl_cli.maps;
	__u8 addr[16];

	n = xl_negative_operand(argc, argv, &query_usage, &addr_s);
	if (n == 0) {
		xl_err("query: '%s' is not an IPv4 or IPv6 address", addr_s);
		return XL_EXIT_USAGE;
	}
	if (n == 1) {
		xl_err("query: bad port '%s'; expected 1-65535", addr_s);
		return XL_EXIT_USAGE;
	}
	if (n > 1) {
		xl_err("query: unexpected argument '%s'", addr_s);
		return xl_usage_bad(&query_usage);
	}
	c = xl_getopt_json(argc, argv, &query_usage, &json);
	if (c != XL_OPT_END)
		return xl_opt_exit(c);
	if (argc - optind < 1 || argc - optind > 2) {
		xl_err("query: expected ADDRESS and an optional PORT");
		return xl_usage_bad(&query_usage);
	}
	addr_s = argv[optind];
	port_s = argc - optind == 2 ? argv[optind + 1] : NULL;
	if (xl_parse_addr(addr_s, addr)) {
		xl_err("query: '%s' is not an IPv4 or IPv6 address", addr_s);
		return XL_EXIT_USAGE;
	}
	if (port_s && xl_parse_port(port_s, false, &ports[0])) {
		xl_err("query: bad port '%s'; expected 1-65535", port_s);
		return XL_EXIT_USAGE;
	}
	err = xl_cli_open("query");
	if (err)
		return err;
	xl_pin_path(&xl_cli, path, sizeof(path), XL_PIN_PROG_QUERY);
	prog = bpf_obj_get(path);
	if (prog < 0) {
		xl_err("query: open %s: %s; run 'xlimit attach IFACE' (or 'xlimit load') again",
		       path, strerror(errno));
		xl_maps_close(&xl_cli);
		return XL_EXIT_FAIL;
	}
	n = port_s ? 1 : query_ports(m, addr, ports, 65536);
	if (!port_s) {
		struct xl_config cfg = {};

		bpf_map_lookup_elem(m->fd[XL_M_CONFIG], &(__u32){ 0 }, &cfg);
		xl_route_count_ports(m->fd[XL_M_RSTATE], addr, cfg.ipv6_prefix,
				     ports, &n, 65536);
	}
	qsort(ports, n, sizeof(ports[0]), by_u16);
	xl_format_addr(addr, text, sizeof(text));
	if (json && !port_s)
		arr = json_object_new_array();
	for (i = 0; i < n; i++) {
		struct xl_flood_view fv;
		struct json_object *o;
		struct xl_client cl;
		int nroutes;

		err = xl_client_query(prog, m->fd[XL_M_ALLOW], m->fd[XL_M_DENY],
				      addr, ports[i], XL_OP_READ, &cl);
		if (err == -EBADMSG) {
			xl_err("query %s port %u: the rule for the port is invalid (see 'xlimit limit list'); replace it with 'xlimit limit set'",
			       text, ports[i]);
			err = XL_EXIT_FAIL;
			break;
		}
		if (err) {
			xl_err("query %s port %u: %s", text, ports[i],
			       strerror(-err));
			err = XL_EXIT_FAIL;
			break;
		}
		flood_view(m, addr, ports[i], &cl, &fv);
		nroutes = route_counts(m, addr, ports[i]);
		if (!json) {
			client_print(text, ports[i], &cl, &fv, nroutes);
			continue;
		}
		o = client_json(text, ports[i], &cl, &fv);
		json_object_object_add(o, "routes", route_counts_json(nroutes));
		if (arr)
			json_object_array_add(arr, o);
		else
			xl_json_print(o);
	}
	if (arr)
		xl_json_print(arr);
	if (!n && !json)
		printf("%s: no port has a rule\n", text);
	close(prog);
	xl_maps_close(&xl_cli);
	return err ? XL_EXIT_FAIL : XL_EXIT_OK;
}
