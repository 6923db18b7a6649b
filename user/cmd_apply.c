// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * `xlimit apply FILE [--check]` and `xlimit dump [--json]`: the whole
 * configuration of xlimit as one file, the form a service applies at boot
 * (pins do not survive a reboot). docs/xlimit.conf.example shows it:
 *
 *   version = 1;
 *   max_sources = 262144;         # the state map, when apply loads it
 *   ipv6_prefix = 64;
 *   pin_group = "xlimit";          # xlimit-sidecar's group (load --pin-group)
 *   interfaces = ( { name = "eth0"; mode = "native"; } );
 *   ports = ( { port = 80;
 *               limits = ( { limit = "10 per 1 second"; action = "drop"; },
 *                          { limit = "100/minute"; action = "pass"; } );
 *               total = "2000/second"; admit_known = true; } );
 *   routes = ( { port = 80; path = "/login"; methods = [ "POST" ];
 *                limits = "5 per minute"; message = "too many logins"; },
 *              { port = 80; path = "*"; limits = "100 per minute"; },
 *              { port = 80; path = "/health"; exempt = true; } );
 *   allow = [ "198.18.0.0/24" ];
 *   deny = [ "2001:2:0:bad::/64" ];
 *
 * Every setting and every member of a group has a name, so that a later
 * version can add settings (a member of a limit, a port or the top level)
 * without changing what an older file means; a name this version does
 * not know is an error, never ignored. `version` says which version of
 * the format a file is written for. A new field of a rule goes in three
 * places: its name in parse_limit()'s (or parse_port()'s) list and its
 * value into the struct xl_rule there, and its member in
 * conf_to_config(); same_rule() compares whole rules, so apply changes
 * a rule whose new field differs, and dump > f; apply f stays a no-op.
 *
 * The file is read with libconfig (Debian's libconfig-dev), not by hand:
 * its grammar is small and documented, it takes comments (# // and C
 * style), which a file in /etc needs and JSON has not, and it gives the
 * line of every setting, so that every message names FILE:LINE. json-c,
 * which the CLI links already, gives neither.
 *
 * apply reads and checks the whole file before it changes anything (exit
 * 2 naming the file, the line and what is wrong), then, under the lock of
 * the pin directory, makes the live state what the file says: when
 * xlimit is not loaded it loads it into the stage <pin dir>~new, fills
 * the maps and attaches there, and renames the stage into place last;
 * when it is loaded it changes only what differs (so applying the same
 * file twice changes nothing, the second time not even the generation of
 * xl_config) and on a failure part way through writes back what it read
 * before. Interfaces xlimit is attached to that this network namespace
 * does not see are neither dumped nor touched.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <libconfig.h>

#include "attach.h"
#include "cli.h"
#include "limit_parse.h"
#include "route.h"

#define XL_CONF_VERSION 1
#define XL_MAX_SOURCES_MAX (1UL << 26) /* as attach --max-sources */

struct conf_iface {
	char name[IF_NAMESIZE];
	enum xl_mode mode;
	int line;
};

/* The allow and deny lists, by their map. */
enum { L_ALLOW, L_DENY, L_NR };
static const char *const list_names[L_NR] = { "allow", "deny" };
static const enum xl_map_id list_maps[L_NR] = { XL_M_ALLOW, XL_M_DENY };

struct xl_conf {
	__u32 max_sources; /* 0: not given (apply) */
	int max_sources_line;
	__u32 ipv6_prefix;
	gid_t pin_group; /* XL_NO_GROUP: the pins are root's only */
	struct conf_iface ifs[XL_MAX_IFACES];
	int nifs;
	struct xl_rule_row ports[XL_MAX_RULES];
	int nports;
	struct xl_route_row routes[XL_MAX_ROUTES]; /* sorted as the map's */
	int nroutes;
	struct xl_lpm_key *keys[L_NR];
	size_t nkeys[L_NR];
};

static void conf_free(struct xl_conf *c)
{
	int i;

	if (!c)
		return;
	for (i = 0; i < L_NR; i++)
		free(c->keys[i]);
	free(c);
}

/* ---- reading the file ---------------------------------------------------- */

static const char *conf_file;

/* Prints "apply: FILE:LINE: message". Returns XL_EXIT_USAGE. */
static int bad(const config_setting_t *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int bad(const config_setting_t *s, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: apply: %s:%u: ", xl_progname, conf_file,
		s ? config_setting_source_line(s) : 0);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return XL_EXIT_USAGE;
}

/* The name of a setting, for messages: its own, or "element N of NAME". */
static const char *what(const config_setting_t *s, char *buf, size_t len)
{
	const config_setting_t *up = config_setting_parent(s);

	if (config_setting_name(s))
		return config_setting_name(s);
	snprintf(buf, len, "element %d of %s", config_setting_index(s) + 1,
		 up && config_setting_name(up) ? config_setting_name(up) :
						 "a list");
	return buf;
}

/* Every member of a group must be one of `names`. */
static int check_members(const config_setting_t *g, const char *const *names,
			 const char *expected)
{
	int i, k;

	for (i = 0; i < config_setting_length(g); i++) {
		const config_setting_t *s = config_setting_get_elem(g, i);

		for (k = 0; names[k]; k++)
			if (!strcmp(config_setting_name(s), names[k]))
				break;
		if (!names[k])
			return bad(s, "unknown setting '%s'; expected %s",
				   config_setting_name(s), expected);
	}
	return 0;
}

/* A whole number from min to max. */
static int get_num(const config_setting_t *s, unsigned long long min,
		   unsigned long long max, unsigned long long *v)
{
	long long n;
	char buf[64];

	if (config_setting_type(s) != CONFIG_TYPE_INT &&
	    config_setting_type(s) != CONFIG_TYPE_INT64)
		return bad(s, "%s must be a whole number from %llu to %llu",
			   what(s, buf, sizeof(buf)), min, max);
	n = config_setting_get_int64(s);
	if (n < 0 || (unsigned long long)n < min || (unsigned long long)n > max)
		return bad(s, "%s %lld is out of range; expected %llu to %llu",
			   what(s, buf, sizeof(buf)), n, min, max);
	*v = n;
	return 0;
}

static int get_str(const config_setting_t *s, const char **v)
{
	char buf[64];

	*v = NULL;
	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return bad(s, "%s must be a string in double quotes",
			   what(s, buf, sizeof(buf)));
	*v = config_setting_get_string(s);
	return 0;
}

/* The member `strategy` of a group, if it has one (else fixed-window). */
static int get_strategy(const config_setting_t *g, __u32 *strategy)
{
	const config_setting_t *st = config_setting_get_member(g, "strategy");
	const char *name;
	int err;

	*strategy = XL_STRAT_FIXED;
	if (!st)
		return 0;
	if ((err = get_str(st, &name)))
		return err;
	if (xl_strategy_parse(name, strategy))
		return bad(
			st,
			"unknown strategy '%s'; expected fixed-window, sliding-window or token-bucket",
			name);
	return 0;
}

/* A burst (setting b, if given): for a token bucket only. */
static int get_burst(const config_setting_t *b, __u32 strategy,
		     unsigned long long *burst)
{
	*burst = 0;
	if (!b)
		return 0;
	if (strategy != XL_STRAT_TOKEN)
		return bad(
			b,
			"burst applies to strategy \"token-bucket\" only, not \"%s\"",
			xl_strategy_name(strategy));
	return get_num(b, 1, UINT32_MAX, burst);
}

/* A list of groups, "( { ... }, ... )"; an empty one may be an array. */
static int check_groups(const config_setting_t *s)
{
	int i;

	if (config_setting_type(s) == CONFIG_TYPE_ARRAY &&
	    !config_setting_length(s))
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_LIST)
		return bad(s,
			   "%s must be a list of groups: ( { ... }, { ... } )",
			   config_setting_name(s));
	for (i = 0; i < config_setting_length(s); i++) {
		const config_setting_t *g = config_setting_get_elem(s, i);

		if (config_setting_type(g) != CONFIG_TYPE_GROUP)
			return bad(g,
				   "element %d of %s must be a group: { ... }",
				   i + 1, config_setting_name(s));
	}
	return 0;
}

static int parse_iface(const config_setting_t *g, struct xl_conf *c)
{
	static const char *const names[] = { "name", "mode", NULL };
	const config_setting_t *s;
	struct conf_iface *f = &c->ifs[c->nifs];
	const char *name, *mode = "auto";
	int err, i;

	if ((err = check_members(g, names, "name or mode")))
		return err;
	s = config_setting_get_member(g, "name");
	if (!s)
		return bad(
			g,
			"an interface needs a name, e.g. { name = \"eth0\"; }");
	if ((err = get_str(s, &name)))
		return err;
	if (strlen(name) >= IF_NAMESIZE || !if_nametoindex(name))
		return bad(s, "no interface named '%s' (see 'ip link')", name);
	for (i = 0; i < c->nifs; i++)
		if (!strcmp(c->ifs[i].name, name))
			return bad(
				s,
				"interface '%s' is given twice (also on line %d)",
				name, c->ifs[i].line);
	s = config_setting_get_member(g, "mode");
	if (s && (err = get_str(s, &mode)))
		return err;
	for (i = 0; i < 4 && strcmp(mode, xl_mode_names[i]); i++)
		;
	if (i == 4)
		return bad(
			s,
			"unknown mode '%s'; expected auto, native, generic or tc",
			mode);
	if (c->nifs == XL_MAX_IFACES)
		return bad(g, "more than %d interfaces", XL_MAX_IFACES);
	snprintf(f->name, sizeof(f->name), "%s", name);
	f->mode = i;
	f->line = config_setting_source_line(g);
	c->nifs++;
	return 0;
}

static int parse_action(const config_setting_t *s, __u32 *action)
{
	const char *a;
	int err;

	if (!s) {
		*action = XL_ACT_DROP;
		return 0;
	}
	if ((err = get_str(s, &a)))
		return err;
	if (!strcmp(a, "drop"))
		*action = XL_ACT_DROP;
	else if (!strcmp(a, "reject"))
		*action = XL_ACT_REJECT;
	else if (!strcmp(a, "pass"))
		*action = XL_ACT_PASS;
	else
		return bad(s,
			   "unknown action '%s'; expected drop, reject or pass",
			   a);
	return 0;
}

/* Appends the limits of `text`, the string of setting s, to r with
 * `action`, counted as `strategy` with `burst` (setting b; 0: none). */
static int add_limits(const config_setting_t *s, const config_setting_t *b,
		      const char *text, __u16 port, struct xl_rule *r,
		      __u32 action, __u32 strategy, unsigned long long burst)
{
	struct xl_parsed_limit items[XL_MAX_LIMITS];
	char why[256];
	int n, i;

	n = xl_parse_limits(text, items, XL_MAX_LIMITS, why, sizeof(why));
	if (n < 0)
		return bad(s, "couldn't parse rate limit string '%s': %s", text,
			   why);
	if (r->nlimits + n > XL_MAX_LIMITS)
		return bad(s, "port %u has more than %d limits", port,
			   XL_MAX_LIMITS);
	for (i = 0; i < n; i++) {
		struct xl_limit *l = &r->limits[r->nlimits++];

		if (xl_limit_check(&items[i], why, sizeof(why)))
			return bad(s, "'%s': %s", text, why);
		l->amount = items[i].amount;
		l->period_ns = items[i].seconds * XL_NSEC_PER_SEC;
		l->action = action;
		l->strategy = strategy;
		/* A token bucket's burst defaults to its amount. */
		if (strategy == XL_STRAT_TOKEN)
			l->burst = burst ? burst : l->amount;
		if (xl_strategy_check(l, why, sizeof(why)))
			return bad(b ? b : s, "'%s' with strategy \"%s\": %s",
				   text, xl_strategy_name(strategy), why);
	}
	return 0;
}

/* One member of a port's limits: { limit = "..."; action = "...";
 * burst = N; } (burst: token-bucket only), counted as `strategy`. */
static int parse_limit(const config_setting_t *g, __u16 port, __u32 strategy,
		       struct xl_rule *r)
{
	static const char *const names[] = { "limit", "action", "burst", NULL };
	const config_setting_t *s, *b;
	unsigned long long burst = 0;
	const char *text;
	__u32 action = XL_ACT_DROP;
	int err;

	if ((err = check_members(g, names, "limit, action or burst")))
		return err;
	b = config_setting_get_member(g, "burst");
	if ((err = get_burst(b, strategy, &burst)))
		return err;
	s = config_setting_get_member(g, "limit");
	if (!s)
		return bad(
			g,
			"a limit needs its string, e.g. { limit = \"10/second\"; }");
	if ((err = get_str(s, &text)) ||
	    (err = parse_action(config_setting_get_member(g, "action"),
				&action)))
		return err;
	return add_limits(s, b, text, port, r, action, strategy, burst);
}

/* A port's ceiling: total = "LIMITS"; admit_known = true|false;. A
 * ceiling is a fixed window that drops. */
static int parse_total(const config_setting_t *g, struct xl_rule_row *p)
{
	const config_setting_t *s = config_setting_get_member(g, "total");
	const config_setting_t *k = config_setting_get_member(g, "admit_known");
	const char *text;
	int err;

	if (s) {
		if ((err = get_str(s, &text)) ||
		    (err = add_limits(s, NULL, text, p->port, &p->total,
				      XL_ACT_DROP, XL_STRAT_FIXED, 0)))
			return err;
		p->rule.flags |= XL_RULE_TOTAL;
	}
	if (!k)
		return 0;
	if (config_setting_type(k) != CONFIG_TYPE_BOOL)
		return bad(k, "admit_known must be true or false");
	if (!config_setting_get_bool(k))
		return 0;
	if (!s)
		return bad(
			k,
			"admit_known lets known clients past the port's ceiling, and there is none: add total = \"1000/second\";");
	p->rule.flags |= XL_RULE_ADMIT_KNOWN;
	return 0;
}

static int parse_port(const config_setting_t *g, struct xl_conf *c)
{
	static const char *const names[] = { "port",  "strategy",    "limits",
					     "total", "admit_known", NULL };
	struct xl_rule_row *p = &c->ports[c->nports];
	const config_setting_t *s, *ls;
	__u32 strategy = XL_STRAT_FIXED;
	unsigned long long v;
	int err, i;

	if ((err = check_members(
		     g, names, "port, strategy, limits, total or admit_known")))
		return err;
	if ((err = get_strategy(g, &strategy)))
		return err;
	s = config_setting_get_member(g, "port");
	if (!s)
		return bad(
			g,
			"a rule needs its port: { port = 80; limits = ( ... ); } (0: every port without a rule)");
	if ((err = get_num(s, 0, 65535, &v)))
		return err;
	for (i = 0; i < c->nports; i++)
		if (c->ports[i].port == v)
			return bad(s, "port %llu is given twice", v);
	if (c->nports == XL_MAX_RULES)
		return bad(g, "more than %d rules", XL_MAX_RULES);
	memset(p, 0, sizeof(*p));
	p->port = v;
	ls = config_setting_get_member(g, "limits");
	if (!ls || !config_setting_length(ls))
		return bad(
			ls ? ls : g,
			"port %llu needs limits: limits = ( { limit = \"10/second\"; } );",
			v);
	if ((err = check_groups(ls)))
		return err;
	for (i = 0; i < config_setting_length(ls); i++)
		if ((err = parse_limit(config_setting_get_elem(ls, i), p->port,
				       strategy, &p->rule)))
			return err;
	if ((err = parse_total(g, p)))
		return err;
	c->nports++;
	return 0;
}

/* The text of a route in messages: "port 80 path /login [GET,POST]". */
static const char *route_name(const struct xl_route_row *w, char *buf,
			      size_t len)
{
	char meth[64] = "";

	xl_route_methods_format(w->key.methods, meth, sizeof(meth));
	snprintf(buf, len, "port %u path %.*s%s%s%s", w->key.port,
		 XL_ROUTE_PATH_MAX, w->key.path, *meth ? " [" : "", meth,
		 *meth ? "]" : "");
	return buf;
}

/* A route: { port = 80; path = "/api/..."; limits = "10/minute";
 * methods = [ "GET" ]; strategy = "..."; burst = N; message = "...";
 * exempt = true; }, as `xlimit route add` takes it. */
static int parse_route(const config_setting_t *g, struct xl_conf *c)
{
	static const char *const names[] = { "port",	"path",	    "limits",
					     "methods", "strategy", "burst",
					     "message", "exempt",   NULL };
	struct xl_route_row *w = &c->routes[c->nroutes];
	const config_setting_t *s, *b, *st, *ls;
	__u32 strategy = XL_STRAT_FIXED;
	unsigned long long v, burst = 0;
	const char *text;
	char why[256], name[XL_ROUTE_PATH_MAX + 80];
	int err, i;

	if ((err = check_members(
		     g, names,
		     "port, path, limits, methods, strategy, burst, message or exempt")))
		return err;
	if (c->nroutes == XL_MAX_ROUTES)
		return bad(g,
			   "too many routes: the map holds %d, over all ports",
			   XL_MAX_ROUTES);
	memset(w, 0, sizeof(*w));
	s = config_setting_get_member(g, "port");
	if (!s)
		return bad(
			g,
			"a route needs its port: { port = 80; path = \"/login\"; limits = \"5/minute\"; }");
	if ((err = get_num(s, 0, 65535, &v)))
		return err;
	w->key.port = v;
	s = config_setting_get_member(g, "path");
	if (!s)
		return bad(g,
			   "a route needs its path, e.g. path = \"/login\";");
	if ((err = get_str(s, &text)))
		return err;
	if (xl_route_path_check(text, why, sizeof(why)))
		return bad(s, "bad path '%s': %s", text, why);
	memcpy(w->key.path, text, strlen(text));
	if ((s = config_setting_get_member(g, "methods"))) {
		if (config_setting_type(s) != CONFIG_TYPE_ARRAY &&
		    config_setting_type(s) != CONFIG_TYPE_LIST)
			return bad(
				s,
				"methods must be a list of names: [ \"GET\", \"POST\" ]");
		for (i = 0; i < config_setting_length(s); i++) {
			const config_setting_t *e =
				config_setting_get_elem(s, i);
			uint16_t bit;

			if ((err = get_str(e, &text)))
				return err;
			if (strchr(text, ',') ||
			    xl_route_methods_parse(text, &bit, why,
						   sizeof(why)))
				return bad(
					e,
					"methods: unknown method '%s'; expected GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH, TRACE or CONNECT",
					text);
			w->key.methods |= bit;
		}
		if (!w->key.methods)
			return bad(
				s,
				"methods is empty; leave it out for every method");
	}
	st = config_setting_get_member(g, "strategy");
	b = config_setting_get_member(g, "burst");
	if ((err = get_strategy(g, &strategy)) ||
	    (err = get_burst(b, strategy, &burst)))
		return err;
	ls = config_setting_get_member(g, "limits");
	if (ls && ((err = get_str(ls, &text)) ||
		   (err = add_limits(ls, b, text, w->key.port, &w->r.rule,
				     XL_ACT_DROP, strategy, burst))))
		return err;
	if (!ls && (st || b))
		return bad(
			st ? st : b,
			"strategy and burst go with limits; without limits the route counts the port's default limits");
	if ((s = config_setting_get_member(g, "message"))) {
		if ((err = get_str(s, &text)))
			return err;
		if (xl_route_message_check(text, why, sizeof(why)))
			return bad(s, "message: %s", why);
		memcpy(w->r.message, text, strlen(text));
	}
	if ((s = config_setting_get_member(g, "exempt"))) {
		if (config_setting_type(s) != CONFIG_TYPE_BOOL)
			return bad(s, "exempt must be true or false");
		if (config_setting_get_bool(s))
			w->r.flags |= XL_ROUTE_EXEMPT;
	}
	if (xl_route_valid(w, why, sizeof(why)))
		return bad(g, "%s: %s", route_name(w, name, sizeof(name)), why);
	for (i = 0; i < c->nroutes; i++)
		if (!memcmp(&c->routes[i].key, &w->key, sizeof(w->key)))
			return bad(g, "%s is given twice",
				   route_name(w, name, sizeof(name)));
	if (xl_route_fits(c->routes, c->nroutes, w, -1, why, sizeof(why)))
		return bad(g, "%s", why);
	c->nroutes++;
	return 0;
}

/* An entry of a list, where the file has it. */
struct conf_key {
	struct xl_lpm_key key;
	int index;
};

static int by_key_index(const void *a, const void *b)
{
	const struct conf_key *x = a, *y = b;
	int d = xl_lpm_key_cmp(&x->key, &y->key);

	return d ? d : x->index - y->index;
}

static int parse_list(const config_setting_t *s, int l, struct xl_conf *c)
{
	int n = config_setting_length(s), i, err;
	struct conf_key *ck;
	struct xl_lpm_key *k;
	const char *text = NULL;
	char why[160];

	if (config_setting_type(s) != CONFIG_TYPE_ARRAY &&
	    config_setting_type(s) != CONFIG_TYPE_LIST)
		return bad(
			s,
			"%s must be a list of addresses: [ \"198.18.0.0/15\", \"2001:2::/48\" ]",
			list_names[l]);
	if (n > XL_LIST_MAX)
		return bad(s, "%s has %d entries; at most %d", list_names[l], n,
			   XL_LIST_MAX);
	k = c->keys[l] = calloc(n ? n : 1, sizeof(*k));
	ck = calloc(n ? n : 1, sizeof(*ck));
	if (!k || !ck) {
		free(ck);
		return bad(s, "out of memory");
	}
	for (i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, i);

		err = get_str(e, &text);
		if (!err && xl_parse_cidr(text, &ck[i].key, why, sizeof(why)))
			err = bad(e, "%s: %s", list_names[l], why);
		if (err) {
			free(ck);
			return err;
		}
		ck[i].index = i;
	}
	/* Sorted, an entry given twice sits next to its first. */
	qsort(ck, n, sizeof(*ck), by_key_index);
	for (i = 0; i < n; i++) {
		if (i && !xl_lpm_key_cmp(&ck[i - 1].key, &ck[i].key)) {
			const config_setting_t *e =
				config_setting_get_elem(s, ck[i].index);

			err = bad(e, "%s: '%s' is given twice", list_names[l],
				  config_setting_get_string(e));
			free(ck);
			return err;
		}
		k[i] = ck[i].key;
	}
	free(ck);
	c->nkeys[l] = n;
	return 0;
}

/* pin_group = "GROUP" (or "none"): a group that exists. */
static int parse_pin_group(const config_setting_t *s, struct xl_conf *c)
{
	const char *name = config_setting_get_string(s);

	if (!name)
		return bad(s, "pin_group: expected a group's name in quotes");
	if (!xl_group_gid(name, &c->pin_group))
		return bad(
			s,
			"pin_group '%s': no such group; create it (groupadd --system %s) or name another",
			name, name);
	return 0;
}

/* Reads and checks FILE into a new conf. Returns 0 or XL_EXIT_* with a
 * message. */
static int conf_parse(const char *file, struct xl_conf **out)
{
	static const char *const names[] = { "version",	    "max_sources",
					     "ipv6_prefix", "pin_group",
					     "interfaces",  "ports",
					     "routes",	    "allow",
					     "deny",	    NULL };
	const config_setting_t *root, *s;
	unsigned long long v;
	struct xl_conf *c;
	config_t cfg;
	int err = 0, i, l;

	conf_file = file;
	c = calloc(1, sizeof(*c));
	if (!c) {
		xl_err("apply: out of memory");
		return XL_EXIT_FAIL;
	}
	c->ipv6_prefix = XL_IPV6_PREFIX_DEFAULT;
	c->pin_group = XL_NO_GROUP;
	config_init(&cfg);
	if (!config_read_file(&cfg, file)) {
		if (config_error_type(&cfg) == CONFIG_ERR_FILE_IO) {
			xl_err("apply: read %s: %s", file, strerror(errno));
			err = errno == ENOENT || errno == EACCES ||
					      errno == EISDIR ?
				      XL_EXIT_USAGE :
				      XL_EXIT_FAIL;
		} else {
			xl_err("apply: %s:%d: %s",
			       config_error_file(&cfg) ?
				       config_error_file(&cfg) :
				       file,
			       config_error_line(&cfg),
			       config_error_text(&cfg));
			err = XL_EXIT_USAGE;
		}
		goto out;
	}
	root = config_root_setting(&cfg);
	err = check_members(
		root, names,
		"version, max_sources, ipv6_prefix, pin_group, interfaces, ports, routes, allow or deny");
	if (!err && (s = config_setting_get_member(root, "version")) &&
	    !(err = get_num(s, 1, ~0U, &v)) && v != XL_CONF_VERSION)
		err = bad(
			s,
			"version %llu is newer than this xlimit reads (%d); update xlimit",
			v, XL_CONF_VERSION);
	if (!err && (s = config_setting_get_member(root, "max_sources")) &&
	    !(err = get_num(s, 1, XL_MAX_SOURCES_MAX, &v))) {
		c->max_sources = v;
		c->max_sources_line = config_setting_source_line(s);
	}
	if (!err && (s = config_setting_get_member(root, "ipv6_prefix")) &&
	    !(err = get_num(s, 1, 128, &v)))
		c->ipv6_prefix = v;
	if (!err && (s = config_setting_get_member(root, "pin_group")))
		err = parse_pin_group(s, c);
	s = config_setting_get_member(root, "interfaces");
	if (!err && s && !(err = check_groups(s)))
		for (i = 0; !err && i < config_setting_length(s); i++)
			err = parse_iface(config_setting_get_elem(s, i), c);
	s = config_setting_get_member(root, "ports");
	if (!err && s && !(err = check_groups(s)))
		for (i = 0; !err && i < config_setting_length(s); i++)
			err = parse_port(config_setting_get_elem(s, i), c);
	s = config_setting_get_member(root, "routes");
	if (!err && s && !(err = check_groups(s)))
		for (i = 0; !err && i < config_setting_length(s); i++)
			err = parse_route(config_setting_get_elem(s, i), c);
	if (!err) /* in the map's order, as the live ones */
		qsort(c->routes, c->nroutes, sizeof(c->routes[0]),
		      xl_route_row_cmp);
	for (l = 0; !err && l < L_NR; l++)
		if ((s = config_setting_get_member(root, list_names[l])))
			err = parse_list(s, l, c);
out:
	config_destroy(&cfg);
	if (err) {
		conf_free(c);
		return err;
	}
	*out = c;
	return 0;
}

/* ---- reading the live state ------------------------------------------- */

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct conf_iface *)a)->name,
		      ((const struct conf_iface *)b)->name);
}

/* What is loaded, as a conf: every rule (those that fail their check
 * marked invalid), both lists, the settings, and the interfaces this
 * network namespace sees. Returns 0 or -errno. */
static int conf_read_live(const struct xl_maps *m, struct xl_conf **out)
{
	struct xl_attachment a[XL_MAX_IFACES];
	struct xl_config cfg = {};
	struct xl_conf *c;
	__u32 zero = 0;
	int i, n, err;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	/* From the pin: the map may be another version's layout. */
	c->max_sources = xl_pinned_state_size(&xl_cli);
	bpf_map_lookup_elem(m->fd[XL_M_CONFIG], &zero, &cfg);
	c->ipv6_prefix = cfg.ipv6_prefix ? cfg.ipv6_prefix :
					   XL_IPV6_PREFIX_DEFAULT;
	if (xl_pins_get_group(&xl_cli, &c->pin_group))
		c->pin_group = XL_NO_GROUP;
	n = xl_list_attachments(&xl_cli, a, XL_MAX_IFACES);
	for (i = 0; i < n; i++) {
		if (!a[i].ifindex) /* not in this network namespace */
			continue;
		snprintf(c->ifs[c->nifs].name, IF_NAMESIZE, "%.15s", a[i].name);
		c->ifs[c->nifs++].mode = a[i].mode;
	}
	qsort(c->ifs, c->nifs, sizeof(c->ifs[0]), by_name);
	c->nports = xl_rules_read(m->fd[XL_M_RULES], m->fd[XL_M_TOTAL],
				  c->ports, XL_MAX_RULES);
	/* None pinned by a version from before routes: none. */
	c->nroutes = m->fd[XL_M_ROUTES] < 0 ?
			     0 :
			     xl_routes_read(m->fd[XL_M_ROUTES], c->routes,
					    XL_MAX_ROUTES);
	if (c->nroutes < 0) {
		err = c->nroutes;
		conf_free(c);
		return err;
	}
	for (i = 0; i < L_NR; i++) {
		size_t k;

		err = xl_list_read(m->fd[list_maps[i]], &c->keys[i],
				   &c->nkeys[i]);
		if (err) {
			conf_free(c);
			return err;
		}
		/* An entry written by hand may have host bits set: the trie
		 * ignores them, and so do the comparisons. */
		for (k = 0; k < c->nkeys[i]; k++)
			xl_lpm_key_mask(&c->keys[i][k]);
		qsort(c->keys[i], c->nkeys[i], sizeof(c->keys[i][0]),
		      xl_lpm_key_cmp);
	}
	*out = c;
	return 0;
}

/* ---- making the live state what a conf says -------------------------- */

static const struct xl_rule_row *find_port(const struct xl_conf *c, __u16 port)
{
	int i;

	for (i = 0; i < c->nports; i++)
		if (c->ports[i].port == port)
			return &c->ports[i];
	return NULL;
}

/* Whether two rules are the same but for their stats slot. */
static bool same_rule(const struct xl_rule *a, const struct xl_rule *b)
{
	struct xl_rule x = *a;

	x.slot = b->slot;
	return !memcmp(&x, b, sizeof(x));
}

/* Whether keys (sorted, host bits clear: see conf_read_live()) hold k. */
static bool in_list(const struct xl_lpm_key *keys, size_t n,
		    const struct xl_lpm_key *k)
{
	return n && bsearch(k, keys, n, sizeof(*k), xl_lpm_key_cmp);
}

/* Prints one change, unless quiet (a rollback). */
static void said(bool quiet, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void said(bool quiet, const char *fmt, ...)
{
	va_list ap;

	if (quiet)
		return;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

/* Writes the rule of one port of `want`, if it differs from the live one
 * (`have`, NULL: none), as `limit set` does (xl_rule_set()), `restore`
 * with the stats slot it had when that is free. Returns 1 if it wrote, 0
 * if not, or -ECANCELED, what failed printed and nothing changed. */
static int write_rule(const struct xl_rule_row *want,
		      const struct xl_rule_row *have, bool restore)
{
	bool ceiling = (want->rule.flags & XL_RULE_TOTAL) &&
		       (!have || !(have->rule.flags & XL_RULE_TOTAL) ||
			!xl_same_limits(&have->total, &want->total));

	if (have && same_rule(&have->rule, &want->rule) && !ceiling)
		return 0;
	if (xl_rule_set(&xl_cli, want->port, &want->rule, &want->total,
			restore ? XL_SET_SLOT : 0)) {
		xl_cli_fail("apply");
		return -ECANCELED;
	}
	return 1;
}

static const struct xl_route_row *find_route(const struct xl_conf *c,
					     const struct xl_route_key *k)
{
	int i;

	for (i = 0; i < c->nroutes; i++)
		if (!memcmp(&c->routes[i].key, k, sizeof(*k)))
			return &c->routes[i];
	return NULL;
}

/* Whether two routes are the same but for their ids. */
static bool same_route(const struct xl_route_row *a,
		       const struct xl_route_row *b)
{
	struct xl_route x = a->r;

	x.rule.slot = b->r.rule.slot;
	return !a->invalid && !b->invalid && !memcmp(&x, &b->r, sizeof(x));
}

/* Makes xl_routes hold the routes of `want`, as `route add` and `route
 * del` would: removed ones first (their room is free for the new ones);
 * a route that stays keeps its id, and its counts when its limits count
 * alike; a new one takes a free id (`restore`: the one it had). The
 * counts a change makes meaningless are deleted. Returns the number of
 * changes, or -errno. */
static int routes_apply(const struct xl_maps *m, const struct xl_conf *want,
			const struct xl_conf *live, bool restore)
{
	struct xl_route_ids clear = {};
	uint32_t next = xl_route_next_id(live->routes, live->nroutes);
	char name[XL_ROUTE_PATH_MAX + 80];
	int changes = 0, err = 0, i;

	for (i = 0; i < want->nroutes; i++)
		if (restore && want->routes[i].r.rule.slot >= next &&
		    want->routes[i].r.rule.slot < XL_ROUTE_ID_DEFAULT)
			next = want->routes[i].r.rule.slot + 1;
	for (i = 0; i < live->nroutes; i++) {
		const struct xl_route_row *w = &live->routes[i];

		if (find_route(want, &w->key))
			continue;
		if (bpf_map_delete_elem(m->fd[XL_M_ROUTES], &w->key)) {
			err = -errno;
			goto out;
		}
		xl_route_ids_of(&clear, live->routes, live->nroutes, w);
		said(restore, "route %s: removed",
		     route_name(w, name, sizeof(name)));
		changes++;
	}
	for (i = 0; i < want->nroutes; i++) {
		struct xl_route_row w = want->routes[i];
		const struct xl_route_row *have = find_route(live, &w.key);

		if (have && same_route(have, &w))
			continue;
		if (have && !have->invalid) {
			w.r.rule.slot = have->r.rule.slot;
			if (!xl_same_limits(&have->r.rule, &w.r.rule) ||
			    have->r.flags != w.r.flags)
				xl_route_ids_of(&clear, live->routes,
						live->nroutes, have);
		} else {
			if (!restore || !w.r.rule.slot ||
			    (w.r.rule.slot & XL_ROUTE_ID_DEFAULT))
				w.r.rule.slot = next++;
			xl_route_ids_of(&clear, live->routes, live->nroutes,
					&w);
		}
		if (bpf_map_update_elem(m->fd[XL_M_ROUTES], &w.key, &w.r,
					BPF_ANY)) {
			err = -errno;
			goto out;
		}
		said(restore, "route %s: set",
		     route_name(&w, name, sizeof(name)));
		changes++;
	}
out:
	if (changes && xl_route_ids_clear(m->fd[XL_M_RSTATE], &clear))
		err = err ?: -ENOMEM;
	if (changes && (i = xl_route_stats_sync(m->fd[XL_M_ROUTES],
						m->fd[XL_M_RSTATS], false)))
		err = err ?: i;
	xl_route_ids_free(&clear);
	return err ? err : changes;
}

/*
 * Makes the maps hold what `want` says, changing only what differs from
 * what they hold now (read again here). `restore`: want is a state read
 * before (a rollback), quiet, and rules keep their stats slots when they
 * can. Returns the number of changes, or -errno (after which part of
 * them may be made).
 */
static int maps_apply(const struct xl_maps *m, const struct xl_conf *want,
		      bool restore)
{
	struct xl_config cfg = {};
	struct xl_conf *live;
	char text[64];
	int changes = 0, err, i, l;
	__u32 zero = 0;
	size_t k;

	err = conf_read_live(m, &live);
	if (err)
		return err;
	/* The datapath must look the lists up before they hold more. */
	for (l = 0; l < L_NR; l++)
		for (k = 0; k < want->nkeys[l]; k++)
			if (!in_list(live->keys[l], live->nkeys[l],
				     &want->keys[l][k]))
				changes = 1;
	if (changes && (err = xl_config_lists_unsure(m)))
		goto out;
	changes = 0;
	/* Removed rules first: their slots are free for the new ones. */
	for (i = 0; i < live->nports; i++) {
		__u16 port = live->ports[i].port;

		if (find_port(want, port))
			continue;
		if (xl_rule_set(&xl_cli, port, NULL, NULL, 0)) {
			xl_cli_fail("apply");
			err = -ECANCELED;
			goto out;
		}
		said(restore, "port %u: rule removed", port);
		changes++;
	}
	for (i = 0; i < want->nports; i++) {
		const struct xl_rule_row *p = &want->ports[i];

		err = write_rule(p, find_port(live, p->port), restore);
		if (err < 0)
			goto out;
		if (err)
			said(restore, "port %u: rule set", p->port);
		changes += err;
	}
	err = routes_apply(m, want, live, restore);
	if (err < 0)
		goto out;
	changes += err;
	for (l = 0; l < L_NR; l++) {
		int fd = m->fd[list_maps[l]];
		__u32 one = 1;

		for (k = 0; k < live->nkeys[l]; k++) {
			const struct xl_lpm_key *key = &live->keys[l][k];

			if (in_list(want->keys[l], want->nkeys[l], key))
				continue;
			if (bpf_map_delete_elem(fd, key)) {
				err = -errno;
				goto out;
			}
			xl_format_cidr(key, text, sizeof(text));
			said(restore, "%s: %s removed", list_names[l], text);
			changes++;
		}
		for (k = 0; k < want->nkeys[l]; k++) {
			const struct xl_lpm_key *key = &want->keys[l][k];

			if (in_list(live->keys[l], live->nkeys[l], key))
				continue;
			if (bpf_map_update_elem(fd, key, &one, BPF_NOEXIST)) {
				err = -errno;
				goto out;
			}
			xl_format_cidr(key, text, sizeof(text));
			said(restore, "%s: %s added", list_names[l], text);
			changes++;
		}
	}
	if (live->ipv6_prefix != want->ipv6_prefix) {
		if (bpf_map_lookup_elem(m->fd[XL_M_CONFIG], &zero, &cfg)) {
			err = -errno;
			goto out;
		}
		cfg.ipv6_prefix = want->ipv6_prefix;
		if (bpf_map_update_elem(m->fd[XL_M_CONFIG], &zero, &cfg,
					BPF_ANY)) {
			err = -errno;
			goto out;
		}
		said(restore, "ipv6_prefix: %u", want->ipv6_prefix);
		changes++;
	}
	if (live->pin_group != want->pin_group) {
		if (xl_pins_set_group(&xl_cli, want->pin_group)) {
			xl_err("apply: %s", xl_cli.err);
			err = -EINVAL; /* said */
			goto out;
		}
		xl_group_name(want->pin_group, text, sizeof(text));
		said(restore, "pin_group: %s", text);
		changes++;
	}
	err = 0;
out:
	/* Skip only the lists that are empty now; forget cached verdicts. */
	if (changes || err) {
		i = xl_config_resync(m);
		err = err ?: i;
	}
	conf_free(live);
	return err ? err : changes;
}

static const struct conf_iface *find_iface(const struct xl_conf *c,
					   const char *name)
{
	int i;

	for (i = 0; i < c->nifs; i++)
		if (!strcmp(c->ifs[i].name, name))
			return &c->ifs[i];
	return NULL;
}

/* Attaches and detaches until the interfaces this namespace sees are
 * those of `want`, in their modes (auto: any). What it did goes into
 * `done` (attached, in the mode it took) and `undone` (detached), so that
 * ifaces_undo() can take it back. Returns the number of changes or
 * -errno. */
static int ifaces_apply(const struct xl_progs *p, const struct xl_conf *want,
			struct xl_conf *done, struct xl_conf *undone,
			bool quiet)
{
	struct xl_attachment a[XL_MAX_IFACES];
	int n = xl_list_attachments(&xl_cli, a, XL_MAX_IFACES), i, j,
	    changes = 0, err;

	for (i = 0; i < n; i++) {
		const struct conf_iface *w = find_iface(want, a[i].name);

		if (!a[i].ifindex ||
		    (w && (w->mode == XL_MODE_AUTO || w->mode == a[i].mode)))
			continue;
		if ((err = xl_cli_detach(&a[i])))
			return err;
		undone->ifs[undone->nifs] =
			(struct conf_iface){ .mode = a[i].mode };
		snprintf(undone->ifs[undone->nifs++].name, IF_NAMESIZE, "%.15s",
			 a[i].name);
		said(quiet, "%s: detached (%s)", a[i].name,
		     xl_mode_names[a[i].mode]);
		changes++;
	}
	for (i = 0; i < want->nifs; i++) {
		struct conf_iface f = want->ifs[i];
		int ifindex;

		for (j = 0; j < n; j++)
			if (a[j].ifindex && !strcmp(a[j].name, f.name) &&
			    !find_iface(undone, f.name))
				break;
		if (j < n) /* attached as wanted */
			continue;
		ifindex = if_nametoindex(f.name);
		if (!ifindex) {
			xl_err("apply: no interface named '%s' (any more)",
			       f.name);
			return -ENODEV;
		}
		if ((err = xl_cli_attach("apply", f.name, ifindex, p, &f.mode)))
			return err;
		done->ifs[done->nifs++] = f;
		said(quiet, "%s: attached (%s)", f.name, xl_mode_names[f.mode]);
		changes++;
	}
	return changes;
}

/* Takes back what ifaces_apply() did. */
static void ifaces_undo(const struct xl_progs *p, const struct xl_conf *done,
			const struct xl_conf *undone)
{
	struct xl_attachment a[XL_MAX_IFACES];
	int n = xl_list_attachments(&xl_cli, a, XL_MAX_IFACES), i;

	for (i = 0; i < n; i++)
		if (a[i].ifindex && find_iface(done, a[i].name))
			xl_cli_detach(&a[i]);
	for (i = 0; i < undone->nifs; i++) {
		struct conf_iface f = undone->ifs[i];
		int ifindex = if_nametoindex(f.name);

		if (ifindex)
			xl_cli_attach("apply", f.name, ifindex, p, &f.mode);
	}
}

/* ---- the commands ------------------------------------------------------ */

static const struct xl_opt apply_opts[] = {
	{ "check", 'c', NULL, "read and check FILE; change nothing" },
	{}
};
static const struct xl_usage apply_usage = {
	.synopsis = "xlimit apply FILE [--check]",
	.about =
		"Makes xlimit what FILE says: interfaces and modes, per-port\n"
		"limits, routes, allow and deny lists, ipv6_prefix, max_sources\n"
		"(loading xlimit if it is not). Only what differs is changed;\n"
		"nothing is when FILE is bad (exit 2, with FILE:LINE and what is\n"
		"wrong) or a change fails (what was changed is taken back). The\n"
		"format: xlimit(8), and 'xlimit dump' prints the live state in it.",
	.opts = apply_opts,
};

/* Makes xlimit what `want` says, loading it if it is not, with the lock
 * held. Returns an exit code, what went wrong printed. */
static int apply_locked(const struct xl_conf *want)
{
	struct xl_conf *old = NULL, *done = NULL, *undone = NULL;
	struct xl_progs p = { -1, -1, -1 };
	struct xl_stage stage = {};
	const struct xl_maps *m = &xl_cli.maps;
	int err, changes = 0, n;

	done = calloc(1, sizeof(*done));
	undone = calloc(1, sizeof(*undone));
	if (!done || !undone) {
		xl_err("apply: out of memory");
		err = XL_EXIT_FAIL;
		goto out;
	}
	err = xl_load(&xl_cli, want->max_sources, &p, &stage);
	if (err) {
		err = xl_cli_fail("apply");
		goto out;
	}
	if (stage.dir[0])
		printf("loaded\n");
	err = xl_cli_open("apply");
	if (!err && (n = conf_read_live(m, &old))) {
		xl_err("apply: read the maps: %s", strerror(-n));
		err = XL_EXIT_FAIL;
	}
	if (err)
		goto out;
	n = maps_apply(m, want, false);
	if (n >= 0) {
		changes += n;
		n = ifaces_apply(&p, want, done, undone, false);
		if (n < 0)
			ifaces_undo(&p, done, undone);
	}
	if (n < 0) {
		/* those printed where they happened */
		if (n != -ENODEV && n != -EOPNOTSUPP && n != -EBUSY &&
		    n != -EEXIST && n != -EINVAL && n != -ECANCELED)
			xl_err("apply: %s", strerror(-n));
		if (!stage.dir[0] && maps_apply(m, old, true) < 0)
			xl_err("apply: could not write back the state before; see 'xlimit dump'");
		else
			xl_err("apply: nothing changed");
		err = XL_EXIT_FAIL;
		goto out;
	}
	changes += n;
	err = xl_stage_commit(&xl_cli, &stage);
	if (err) { /* what is staged detaches with it, but a tc filter */
		err = xl_cli_fail("apply");
		ifaces_undo(&p, done, undone);
	} else if (!changes && !stage.dir[0])
		printf("%s: no change\n", conf_file);
out:
	if (err)
		xl_cli_abort("apply", &stage);
	/* The counters of the routes that are gone, now that no rollback
	 * can put them back. */
	if (m->fd[XL_M_RSTATS] >= 0 &&
	    (n = xl_route_stats_sync(m->fd[XL_M_ROUTES], m->fd[XL_M_RSTATS],
				     true))) {
		xl_err("apply: write %s: %s", xl_map_names[XL_M_RSTATS],
		       strerror(-n));
		err = err ?: XL_EXIT_FAIL;
	}
	xl_maps_close(&xl_cli);
	xl_progs_close(&p);
	conf_free(old);
	conf_free(done);
	conf_free(undone);
	return err;
}

int cmd_apply(int argc, char **argv)
{
	struct xl_conf *want = NULL;
	int c, lock, err;
	bool check = false;
	__u32 have;

	optind = 0;
	while ((c = xl_getopt(argc, argv, &apply_usage)) >= 0) {
		switch (c) {
		case 'c':
			check = true;
			break;
		}
	}
	if (c != XL_OPT_END)
		return xl_opt_exit(c);
	if (argc - optind != 1) {
		xl_err("apply: expected one FILE, e.g. xlimit apply /etc/xlimit/xlimit.conf");
		return XL_EXIT_USAGE;
	}
	err = conf_parse(argv[optind], &want);
	if (err)
		return err;
	/* The state map is sized once, when it is made. */
	have = xl_pinned_state_size(&xl_cli);
	if (have && want->max_sources && have != want->max_sources) {
		fprintf(stderr,
			"%s: apply: %s:%d: max_sources %u: the state map exists with %u entries; run 'xlimit unload' first to change it\n",
			xl_progname, conf_file, want->max_sources_line,
			want->max_sources, have);
		err = XL_EXIT_USAGE;
	} else if (check) {
		printf("%s: valid\n", conf_file);
	} else {
		lock = xl_cli_lock("apply", true);
		err = lock < 0 ? -lock : apply_locked(want);
		xl_unlock(lock);
	}
	conf_free(want);
	return err;
}

/* ---- dump ---------------------------------------------------------------- */

static config_setting_t *add(config_setting_t *parent, const char *name,
			     int type)
{
	return config_setting_add(parent, name, type);
}

static void add_str(config_setting_t *g, const char *name, const char *v)
{
	config_setting_set_string(add(g, name, CONFIG_TYPE_STRING), v);
}

static void add_int(config_setting_t *g, const char *name, int v)
{
	config_setting_set_int(add(g, name, CONFIG_TYPE_INT), v);
}

/* A port's ceiling, as `total` and `admit_known` (only when set). */
static void add_total(config_setting_t *g, const struct xl_rule_row *p)
{
	char text[4 * 96 + 8];
	size_t off = 0;
	__u32 j;

	if (!(p->rule.flags & XL_RULE_TOTAL))
		return;
	for (j = 0; j < p->total.nlimits && j < XL_MAX_LIMITS; j++) {
		if (j)
			off += snprintf(text + off, sizeof(text) - off, "; ");
		xl_format_rule_limit(&p->total.limits[j], text + off,
				     sizeof(text) - off);
		off = strlen(text);
	}
	add_str(g, "total", text);
	if (p->rule.flags & XL_RULE_ADMIT_KNOWN)
		config_setting_set_bool(add(g, "admit_known", CONFIG_TYPE_BOOL),
					1);
}

/* A route, as parse_route() reads it: its burst only when it is not the
 * amount (the default). */
static void add_route(config_setting_t *list, const struct xl_route_row *w)
{
	const struct xl_rule *r = &w->r.rule;
	config_setting_t *g = add(list, NULL, CONFIG_TYPE_GROUP), *ms;
	char text[4 * 96 + 8], path[XL_ROUTE_PATH_MAX + 1] = {};
	const char *name;
	size_t off = 0;
	uint16_t bit;
	__u32 j;
	int i;

	memcpy(path, w->key.path, XL_ROUTE_PATH_MAX);
	add_int(g, "port", w->key.port);
	add_str(g, "path", path);
	if (w->key.methods) {
		ms = add(g, "methods", CONFIG_TYPE_ARRAY);
		for (i = 0; (name = xl_route_method_name(i, &bit)); i++)
			if (w->key.methods & bit)
				config_setting_set_string_elem(ms, -1, name);
	}
	if (r->nlimits && r->limits[0].strategy != XL_STRAT_FIXED)
		add_str(g, "strategy", xl_strategy_name(r->limits[0].strategy));
	for (j = 0; j < r->nlimits && j < XL_MAX_LIMITS; j++) {
		if (j)
			off += snprintf(text + off, sizeof(text) - off, "; ");
		xl_format_rule_limit(&r->limits[j], text + off,
				     sizeof(text) - off);
		off = strlen(text);
	}
	if (r->nlimits)
		add_str(g, "limits", text);
	if (r->nlimits && r->limits[0].strategy == XL_STRAT_TOKEN &&
	    r->limits[0].burst != r->limits[0].amount) {
		if (r->limits[0].burst <= INT32_MAX)
			add_int(g, "burst", r->limits[0].burst);
		else
			config_setting_set_int64(add(g, "burst",
						     CONFIG_TYPE_INT64),
						 r->limits[0].burst);
	}
	if (w->r.message[0])
		add_str(g, "message", w->r.message);
	if (w->r.flags & XL_ROUTE_EXEMPT)
		config_setting_set_bool(add(g, "exempt", CONFIG_TYPE_BOOL), 1);
}

/* The conf as a libconfig tree: the file apply reads. */
static void conf_to_config(const struct xl_conf *c, config_t *cfg)
{
	config_setting_t *root = config_root_setting(cfg), *s, *g, *ls, *lg;
	char text[96];
	size_t k;
	int i, l;
	__u32 j;

	add_int(root, "version", XL_CONF_VERSION);
	add_int(root, "max_sources", c->max_sources);
	add_int(root, "ipv6_prefix", c->ipv6_prefix);
	if (c->pin_group != XL_NO_GROUP) {
		xl_group_name(c->pin_group, text, sizeof(text));
		add_str(root, "pin_group", text);
	}
	s = add(root, "interfaces", CONFIG_TYPE_LIST);
	for (i = 0; i < c->nifs; i++) {
		g = add(s, NULL, CONFIG_TYPE_GROUP);
		add_str(g, "name", c->ifs[i].name);
		add_str(g, "mode", xl_mode_names[c->ifs[i].mode]);
	}
	s = add(root, "ports", CONFIG_TYPE_LIST);
	for (i = 0; i < c->nports; i++) {
		const struct xl_rule *r = &c->ports[i].rule;

		g = add(s, NULL, CONFIG_TYPE_GROUP);
		add_int(g, "port", c->ports[i].port);
		if (r->limits[0].strategy != XL_STRAT_FIXED)
			add_str(g, "strategy",
				xl_strategy_name(r->limits[0].strategy));
		ls = add(g, "limits", CONFIG_TYPE_LIST);
		for (j = 0; j < r->nlimits; j++) {
			lg = add(ls, NULL, CONFIG_TYPE_GROUP);
			xl_format_rule_limit(&r->limits[j], text, sizeof(text));
			add_str(lg, "limit", text);
			add_str(lg, "action",
				xl_action_name(r->limits[j].action));
			/* int64 only past int, where libconfig writes 3L */
			if (r->limits[j].strategy == XL_STRAT_TOKEN &&
			    r->limits[j].burst <= INT32_MAX)
				add_int(lg, "burst", r->limits[j].burst);
			else if (r->limits[j].strategy == XL_STRAT_TOKEN)
				config_setting_set_int64(add(lg, "burst",
							     CONFIG_TYPE_INT64),
							 r->limits[j].burst);
		}
		add_total(g, &c->ports[i]);
	}
	s = add(root, "routes", CONFIG_TYPE_LIST);
	for (i = 0; i < c->nroutes; i++)
		add_route(s, &c->routes[i]);
	for (l = 0; l < L_NR; l++) {
		s = add(root, list_names[l], CONFIG_TYPE_ARRAY);
		for (k = 0; k < c->nkeys[l]; k++) {
			xl_format_cidr(&c->keys[l][k], text, sizeof(text));
			config_setting_set_string_elem(s, -1, text);
		}
	}
}

/* The same tree as JSON, member by member. */
static struct json_object *config_to_json(const config_setting_t *s)
{
	struct json_object *o;
	int i;

	switch (config_setting_type(s)) {
	case CONFIG_TYPE_GROUP:
		o = json_object_new_object();
		for (i = 0; i < config_setting_length(s); i++) {
			const config_setting_t *e =
				config_setting_get_elem(s, i);

			json_object_object_add(o, config_setting_name(e),
					       config_to_json(e));
		}
		return o;
	case CONFIG_TYPE_LIST:
	case CONFIG_TYPE_ARRAY:
		o = json_object_new_array();
		for (i = 0; i < config_setting_length(s); i++)
			json_object_array_add(
				o,
				config_to_json(config_setting_get_elem(s, i)));
		return o;
	case CONFIG_TYPE_STRING:
		return json_object_new_string(config_setting_get_string(s));
	case CONFIG_TYPE_BOOL:
		return json_object_new_boolean(config_setting_get_bool(s));
	default:
		return json_object_new_int64(config_setting_get_int64(s));
	}
}

/* Whether the live configuration holds a rule or route that fails its
 * check, which no FILE can say: named on stderr, `cmd` the command. */
static bool conf_live_invalid(const struct xl_conf *live, const char *cmd)
{
	char name[XL_ROUTE_PATH_MAX + 80];
	int i;

	for (i = 0; i < live->nports; i++) {
		if (live->ports[i].invalid) {
			xl_err("%s: the rule of port %u in the map is invalid (see 'xlimit limit list'); replace it with 'xlimit limit set' or remove it with 'xlimit limit del'",
			       cmd, live->ports[i].port);
			return true;
		}
	}
	for (i = 0; i < live->nroutes; i++) {
		if (live->routes[i].invalid) {
			xl_err("%s: the route %s in the map is invalid (see 'xlimit route list'); replace it with 'xlimit route add' or remove it with 'xlimit route del'",
			       cmd,
			       route_name(&live->routes[i], name,
					  sizeof(name)));
			return true;
		}
	}
	return false;
}

static const struct xl_opt dump_opts[] = { XL_OPT_JSON, {} };
static const struct xl_usage dump_usage = {
	.synopsis = "xlimit dump [--json]",
	.about =
		"Prints the live configuration in the format 'xlimit apply' reads\n"
		"(or as JSON with the same names): 'xlimit dump > FILE' then\n"
		"'xlimit apply FILE' changes nothing.",
	.opts = dump_opts,
};

int cmd_dump(int argc, char **argv)
{
	struct xl_conf *live;
	const struct xl_maps *m = &xl_cli.maps;
	bool json = false;
	config_t cfg;
	int c, err;

	c = xl_getopt_json(argc, argv, &dump_usage, &json);
	if (c != XL_OPT_END)
		return xl_opt_exit(c);
	if (optind != argc) {
		xl_err("dump: unexpected argument '%s'", argv[optind]);
		return XL_EXIT_USAGE;
	}
	if (xl_maps_open_dump(&xl_cli))
		return xl_cli_fail("dump");
	err = conf_read_live(m, &live);
	xl_maps_close(&xl_cli);
	if (err) {
		xl_err("dump: read the maps: %s", strerror(-err));
		return XL_EXIT_FAIL;
	}
	if (conf_live_invalid(live, "dump")) {
		conf_free(live);
		return XL_EXIT_FAIL;
	}
	config_init(&cfg);
	conf_to_config(live, &cfg);
	conf_free(live);
	if (json)
		xl_json_print(config_to_json(config_root_setting(&cfg)));
	else
		config_write(&cfg, stdout);
	config_destroy(&cfg);
	return XL_EXIT_OK;
}

/* ---- upgrade ------------------------------------------------------------- */

static const struct xl_usage upgrade_usage = {
	.synopsis = "xlimit upgrade",
	.about =
		"Reloads xlimit with this version's maps and programs, keeping its\n"
		"configuration: what 'xlimit dump' reads is applied again after\n"
		"'xlimit unload' ('xlimit apply'), all under the lock. The counts\n"
		"(clients' windows, stats) start again. It refuses when xlimit is\n"
		"attached in another network namespace: run it there. For the pins of\n"
		"another version of xlimit, or to run this version's programs.\n"
		"Until it is done the configuration is kept in a file of\n" XL_LOCK_DIR
		", named if something fails.",
};

/* Writes conf to a new file of XL_LOCK_DIR, its path in path. 0 or -1,
 * said. */
static int save_conf(const struct xl_conf *conf, char *path, size_t len)
{
	config_t cfg;
	FILE *f;
	int fd;

	snprintf(path, len, "%s" XL_LOCK_DIR "/upgrade-XXXXXX", xl_cli.root);
	fd = mkstemp(path);
	f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (!f) {
		xl_err("upgrade: create %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	config_init(&cfg);
	conf_to_config(conf, &cfg);
	config_write(&cfg, f);
	config_destroy(&cfg);
	if (fflush(f) || fsync(fd)) {
		xl_err("upgrade: write %s: %s", path, strerror(errno));
		fclose(f);
		unlink(path);
		return -1;
	}
	fclose(f);
	return 0;
}

/* The first interface xlimit is attached to in another network namespace
 * than this one, or NULL. Those would be detached and not attached
 * again. */
static const char *attached_elsewhere(const struct xl_attachment *a, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (a[i].elsewhere)
			return a[i].name;
	return NULL;
}

int cmd_upgrade(int argc, char **argv)
{
	struct xl_attachment a[XL_MAX_IFACES];
	const char *elsewhere;
	char saved[PATH_MAX];
	struct xl_conf *live = NULL;
	int c, lock, err;

	optind = 0;
	c = xl_getopt(argc, argv, &upgrade_usage);
	if (c != XL_OPT_END)
		return xl_opt_exit(c);
	if (optind < argc) {
		xl_err("upgrade: unexpected argument '%s'", argv[optind]);
		return XL_EXIT_USAGE;
	}
	lock = xl_cli_lock("upgrade", false);
	if (lock < 0)
		return -lock;
	if (xl_maps_open_dump(&xl_cli)) {
		err = xl_cli_fail("upgrade");
		goto out;
	}
	elsewhere = attached_elsewhere(a, xl_list_attachments(&xl_cli, a,
							      XL_MAX_IFACES));
	if (elsewhere) {
		xl_maps_close(&xl_cli);
		xl_err("upgrade: xlimit is attached to %s in another network namespace, where this one cannot attach it again; run 'xlimit upgrade' there (nsenter --net=/run/netns/NAME xlimit upgrade), or detach it first",
		       elsewhere);
		err = XL_EXIT_USAGE;
		goto out;
	}
	err = conf_read_live(&xl_cli.maps, &live);
	xl_maps_close(&xl_cli);
	if (err) {
		xl_err("upgrade: read the maps: %s", strerror(-err));
		err = XL_EXIT_FAIL;
		goto out;
	}
	if (conf_live_invalid(live, "upgrade") ||
	    save_conf(live, saved, sizeof(saved))) {
		err = XL_EXIT_FAIL;
		goto out;
	}
	conf_file = saved + strlen(xl_cli.root);
	err = xl_cli_unload("upgrade");
	if (!err)
		err = apply_locked(live);
	if (err) {
		xl_err("upgrade: the configuration is kept in %s: 'xlimit apply %s' once that is fixed",
		       conf_file, conf_file);
	} else {
		unlink(saved);
		printf("upgraded: the configuration kept, the counts started again\n");
	}
out:
	conf_free(live);
	xl_unlock(lock);
	return err;
}
