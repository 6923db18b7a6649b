// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Per-endpoint limits in xlimit-sidecar (SEMANTICS.md §5): the table of
 * xl_routes, held here and read again whenever xl_config's generation
 * moves (every `xlimit route` change moves it); each request matched to
 * its routes by its percent-decoded path and its method; the client's
 * count of each charged through the pinned xlimit_route syscall program,
 * with the datapath's limiter, atomically among threads and processes.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <event2/http.h>

#include "msg.h"
#include "xlimit_lib.h"
#include "route.h"
#include "sidecar.h"
#include "xl_limiter.h"

/* Each worker holds its own fds and its own copy of the table, as of
 * generation `gen`: nothing is shared between the threads. */
static _Thread_local int prog_fd = -1, routes_fd = -1, config_fd = -1;
/* xl_config mapped: its generation and list flags read without a
 * syscall. A sidecar the pin group lets only read xl_config cannot map it
 * (sc_config_map()): it keeps a copy, looked up again once the coarse
 * clock moved CONFIG_STALE_NS past the last lookup, so that a route or
 * list change reaches it within a tick (4 ms at HZ=250) instead of at
 * once, for one syscall per tick instead of three per request. */
static _Thread_local const struct xl_config *config_map;
#define CONFIG_STALE_NS 1000000ULL
static _Thread_local struct xl_config config_copy;
static _Thread_local uint64_t config_read; /* when, 0: not yet */
static _Thread_local struct xl_route_row *rows;
static _Thread_local int nrows;
static _Thread_local uint32_t gen;
static _Thread_local bool fresh; /* the table matches the maps as of gen */

void sc_routes_close(void)
{
	if (prog_fd >= 0)
		close(prog_fd);
	if (routes_fd >= 0)
		close(routes_fd);
	xl_config_unmap(config_map);
	config_map = NULL;
	if (config_fd >= 0)
		close(config_fd);
	prog_fd = routes_fd = config_fd = -1;
	fresh = false;
	config_read = 0;
}

int sc_routes_open(void)
{
	int err;

	sc_routes_close();
	err = sc_pin_open(XL_PIN_PROG_ROUTE, &prog_fd);
	if (!err)
		err = sc_pin_open(XL_STR(XL_MAP_ROUTES), &routes_fd);
	if (!err)
		err = sc_pin_open(XL_STR(XL_MAP_CONFIG), &config_fd);
	if (err)
		sc_routes_close();
	else
		config_map = sc_config_map();
	return err;
}

const struct xl_config *sc_config(void)
{
	__u32 zero = 0;
	uint64_t now;

	if (config_map || config_fd < 0)
		return config_map;
	now = sc_mono_ns();
	if (!config_read || now - config_read >= CONFIG_STALE_NS) {
		if (bpf_map_lookup_elem(config_fd, &zero, &config_copy))
			return NULL;
		config_read = now;
	}
	return &config_copy;
}

/* Opens the pins again after they were closed, at most once a second
 * (an xlimit loaded by an older version has no routes). 0 or -errno. */
static int reopen(void)
{
	static _Thread_local uint64_t tried;
	uint64_t now = sc_mono_ns();

	if (tried && now - tried < 1000000000ULL)
		return -ENOENT;
	tried = now;
	return sc_routes_open();
}

/* Reads the table again when the generation moved (sc_config(): from
 * the mapping, or the copy). */
static void refresh(void)
{
	const struct xl_config *cfg = sc_config();
	uint32_t now_gen;
	int n;

	if (!cfg)
		return;
	now_gen = __atomic_load_n(&cfg->gen, __ATOMIC_ACQUIRE);
	if (fresh && now_gen == gen)
		return;
	if (!rows)
		rows = calloc(XL_MAX_ROUTES, sizeof(*rows));
	if (!rows)
		return;
	n = xl_routes_read(routes_fd, rows, XL_MAX_ROUTES);
	if (n < 0)
		return;
	nrows = n;
	gen = now_gen;
	fresh = true;
}

uint16_t sc_method_bit(const char *name)
{
	const char *m;
	uint16_t bit = 0;
	int i;

	for (i = 0; name && (m = xl_route_method_name(i, &bit)); i++)
		if (!strcmp(m, name))
			return bit;
	return 0; /* none of ours: routes for every method only */
}

/* One route's limits charged (or read) for the client, as xl_client
 * shows a port's. 0 or -errno. */
static int charge(const uint8_t addr[16], uint16_t port, uint32_t id,
		  const struct xl_rule *rule, struct xl_client *c)
{
	struct xl_route_query q = { .op = XL_OP_CHARGE };
	LIBBPF_OPTS(bpf_test_run_opts, o, .ctx_in = &q,
		    .ctx_size_in = sizeof(q));
	struct xl_state s;
	double now_utc;
	uint32_t i;

	memcpy(q.key.addr, addr, 16);
	q.key.port = port;
	q.key.route = id;
	q.rule = *rule;
	q.now = xl_mono_now();
	if (bpf_prog_test_run_opts(prog_fd, &o))
		return -errno;
	if (q.err)
		return q.err;
	memset(c, 0, sizeof(*c));
	c->covered = true;
	c->rule_port = port;
	c->nlimits = xl_nlimits(rule);
	c->verdict = q.breached ? XL_V_OVER_DROP : XL_V_PASS;
	memcpy(s.win, q.win, sizeof(s.win));
	now_utc = xl_mono_to_utc(q.now);
	c->report = xl_report_index(rule, &s, q.now, q.breached);
	for (i = 0; i < c->nlimits; i++) {
		xl_client_limit_view(&rule->limits[i], &s.win[i], q.now,
				     now_utc, &c->lim[i]);
		c->lim[i].breached = q.breached & (1U << i);
	}
	return 0;
}

static void plan_add(struct sc_route_plan *p, const struct xl_route *r,
		     uint32_t id)
{
	p->copy[p->n] = *r;
	p->id[p->n] = id;
	p->n++;
}

void sc_route_plan(const char *raw_path, uint16_t method, uint16_t port,
		   struct sc_route_plan *p)
{
	struct xl_route_match m;
	size_t plen = 0;
	char *path;
	int i;

	p->n = 0;
	p->exempt = false;
	if (prog_fd < 0 && reopen())
		return;
	refresh();
	if (!nrows) /* no route: nothing to match */
		return;
	/* Percent-decoded, as the application's router sees it ("+" is
	 * a plus in a path). */
	path = evhttp_uridecode(raw_path && *raw_path ? raw_path : "/", 0,
				&plen);
	if (!path)
		return;
	xl_route_match(rows, nrows, port, path, plen, method, &m);
	for (i = 0; i < m.n; i++)
		plan_add(p, &rows[m.row[i]].r, rows[m.row[i]].r.rule.slot);
	if (m.def >= 0)
		plan_add(p, &rows[m.def].r, m.def_id);
	free(path);
	p->exempt = m.exempt;
	if (m.exempt)
		p->exempt_id = rows[m.path_row].r.rule.slot;
}

void sc_route_plan_uri(const char *uri, const char *method, uint16_t port,
		       struct sc_route_plan *p)
{
	struct evhttp_uri *u = NULL;
	const char *path = NULL;

	/* $request_uri is as the client sent it: origin form, absolute form
	 * or "*". A path no route can have ("*") stands for what does not
	 * parse: the port's default limits, if any, count it. */
	if (uri)
		u = evhttp_uri_parse_with_flags(uri, EVHTTP_URI_NONCONFORMANT);
	if (u)
		path = evhttp_uri_get_path(u);
	sc_route_plan(path && *path == '/' ? path : "*", sc_method_bit(method),
		      port, p);
	if (u)
		evhttp_uri_free(u);
}

void sc_route_exempt(const struct sc_route_plan *p)
{
	struct xl_route_query q = { .op = XL_OP_EXEMPT };
	LIBBPF_OPTS(bpf_test_run_opts, o, .ctx_in = &q,
		    .ctx_size_in = sizeof(q));

	q.key.route = p->exempt_id;
	if (prog_fd >= 0 && bpf_prog_test_run_opts(prog_fd, &o)) {
		/* as sc_route_charge(): open the pins anew next time */
		sc_count(SC_C_KERNEL_ERRORS);
		sc_routes_close();
	}
}

void sc_route_charge(const struct sc_route_plan *p, const uint8_t addr[16],
		     uint16_t port, struct sc_route_decision *rd)
{
	struct xl_client c;
	int i, err = 0;

	memset(rd, 0, sizeof(*rd));
	/* Each route's limits in turn, up to the first that refuses (as
	 * Flask-Limiter stops at the first breach). The one shown: the
	 * refusing one, else the one with the least remaining. */
	for (i = 0; i < p->n; i++) {
		const struct xl_route *r = &p->copy[i];

		err = charge(addr, port, p->id[i], &r->rule, &c);
		if (err)
			break;
		if (!rd->applied || c.verdict != XL_V_PASS ||
		    c.lim[c.report].remaining <
			    rd->client.lim[rd->client.report].remaining) {
			rd->client = c;
			memcpy(rd->message, r->message,
			       sizeof(rd->message) - 1);
		}
		rd->applied = true;
		if (c.verdict != XL_V_PASS) {
			rd->over = true;
			break;
		}
	}
	if (err) {
		/* The pins went away (xlimit unloaded, loaded again):
		 * open them anew next time; this request goes unlimited
		 * by routes, as one the kernel cannot be asked about. */
		rd->applied = rd->over = false;
		sc_count(SC_C_KERNEL_ERRORS);
		if (sc_cfg.verbose)
			xl_err("route: %s", strerror(-err));
		sc_routes_close();
	}
}
