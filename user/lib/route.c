// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Per-endpoint limits, the parts the CLI and the sidecar share (see
 * route.h): route syntax, the table read from xl_routes, matching a
 * request to routes, and a client's counts of them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "xlimit_lib.h"
#include "query.h"
#include "route.h"
#include "xl_limiter.h"

static const struct {
	const char *name;
	uint16_t bit;
} methods[XL_NMETHODS] = {
	{ "GET", XL_METH_GET },		{ "HEAD", XL_METH_HEAD },
	{ "POST", XL_METH_POST },	{ "PUT", XL_METH_PUT },
	{ "DELETE", XL_METH_DELETE },	{ "OPTIONS", XL_METH_OPTIONS },
	{ "PATCH", XL_METH_PATCH },	{ "TRACE", XL_METH_TRACE },
	{ "CONNECT", XL_METH_CONNECT },
};
#define NMETHODS XL_NMETHODS

int xl_route_path_check(const char *path, char *why, size_t len)
{
	size_t n = strlen(path), i;

	if (!strcmp(path, "*"))
		return 0;
	if (path[0] != '/') {
		snprintf(
			why, len,
			"a path starts with '/' (or is '*', the port's default limits)");
		return -EINVAL;
	}
	if (n >= XL_ROUTE_PATH_MAX) {
		snprintf(why, len, "it is %zu bytes long; at most %d", n,
			 XL_ROUTE_PATH_MAX - 1);
		return -EINVAL;
	}
	for (i = 0; i < n; i++) {
		unsigned char c = path[i];

		if (c <= ' ' || c >= 0x7f || c == '?' || c == '#') {
			snprintf(
				why, len,
				"byte %zu (0x%02x) may not be in a path: printable ASCII only, no blanks, no query ('?') or fragment ('#')",
				i, c);
			return -EINVAL;
		}
		if (c == '*' && i != n - 1) {
			snprintf(
				why, len,
				"'*' at byte %zu: a '*' may only end a path (a prefix, e.g. /api/*)",
				i);
			return -EINVAL;
		}
	}
	return 0;
}

enum xl_route_kind xl_route_kind(const char *path)
{
	size_t n = strnlen(path, XL_ROUTE_PATH_MAX);

	if (n == 1 && path[0] == '*')
		return XL_RK_DEFAULT;
	return n && path[n - 1] == '*' ? XL_RK_PREFIX : XL_RK_EXACT;
}

int xl_route_methods_parse(const char *s, uint16_t *bits, char *why, size_t len)
{
	const char *p = s;

	*bits = 0;
	for (;;) {
		size_t n = strcspn(p, ","), i;

		for (i = 0; i < NMETHODS; i++)
			if (strlen(methods[i].name) == n &&
			    !strncasecmp(p, methods[i].name, n))
				break;
		if (i == NMETHODS) {
			snprintf(
				why, len,
				"unknown method '%.*s'; expected a comma-separated list of GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH, TRACE, CONNECT",
				(int)(n > 32 ? 32 : n), p);
			return -EINVAL;
		}
		*bits |= methods[i].bit;
		if (!p[n])
			return 0;
		p += n + 1;
	}
}

void xl_route_methods_format(uint16_t bits, char *buf, size_t len)
{
	size_t off = 0, i;

	buf[0] = '\0';
	for (i = 0; i < NMETHODS && off < len; i++)
		if (bits & methods[i].bit)
			off += snprintf(buf + off, len - off, "%s%s",
					off ? "," : "", methods[i].name);
}

const char *xl_route_method_name(int i, uint16_t *bit)
{
	if (i < 0 || i >= (int)NMETHODS)
		return NULL;
	*bit = methods[i].bit;
	return methods[i].name;
}

int xl_route_message_check(const char *msg, char *why, size_t len)
{
	size_t n = strlen(msg), i;

	if (n >= XL_ROUTE_MSG_MAX) {
		snprintf(why, len, "it is %zu bytes long; at most %d", n,
			 XL_ROUTE_MSG_MAX - 1);
		return -EINVAL;
	}
	for (i = 0; i < n; i++) {
		unsigned char c = msg[i];

		if (c < ' ' || c == 0x7f) {
			snprintf(
				why, len,
				"control character 0x%02x at byte %zu; a message is one line of text",
				c, i);
			return -EINVAL;
		}
	}
	return 0;
}

int xl_route_check(const struct xl_route_key *k, const struct xl_route *r,
		   char *why, size_t len)
{
	char path[XL_ROUTE_PATH_MAX + 1] = {};
	char rwhy[96];

	memcpy(path, k->path, XL_ROUTE_PATH_MAX);
	if (strlen(path) >= XL_ROUTE_PATH_MAX ||
	    xl_route_path_check(path, rwhy, sizeof(rwhy))) {
		snprintf(why, len, "bad path");
		return -EINVAL;
	}
	if (k->methods & ~XL_METH_ALL) {
		snprintf(why, len, "unknown method bits 0x%x", k->methods);
		return -EINVAL;
	}
	if ((r->flags & ~XL_ROUTE_FLAGS) || r->rule.flags) {
		snprintf(why, len, "unknown flags");
		return -EINVAL;
	}
	if (!memchr(r->message, '\0', sizeof(r->message))) {
		snprintf(why, len, "message without its NUL");
		return -EINVAL;
	}
	if ((r->flags & XL_ROUTE_EXEMPT) && (r->rule.nlimits || k->methods)) {
		snprintf(why, len, "an exempt route with limits or methods");
		return -EINVAL;
	}
	if (xl_route_kind(path) == XL_RK_DEFAULT &&
	    (!r->rule.nlimits || k->methods || r->flags)) {
		snprintf(why, len,
			 "the default route without limits, or with methods");
		return -EINVAL;
	}
	if (r->rule.nlimits && xl_rule_check(&r->rule, rwhy, sizeof(rwhy))) {
		snprintf(why, len, "%s", rwhy);
		return -EINVAL;
	}
	if (!r->rule.slot || (r->rule.slot & XL_ROUTE_ID_DEFAULT)) {
		snprintf(why, len, "id %u is not 1-%u", r->rule.slot,
			 XL_ROUTE_ID_DEFAULT - 1);
		return -EINVAL;
	}
	return 0;
}

int xl_route_valid(const struct xl_route_row *w, char *why, size_t len)
{
	if ((w->r.flags & XL_ROUTE_EXEMPT) &&
	    (w->r.rule.nlimits || w->key.methods || w->r.message[0])) {
		snprintf(
			why, len,
			"an exempt route takes no limits, methods or message: it is never limited");
		return -EINVAL;
	}
	if (xl_route_kind(w->key.path) == XL_RK_DEFAULT &&
	    (!w->r.rule.nlimits || w->key.methods ||
	     (w->r.flags & XL_ROUTE_EXEMPT))) {
		snprintf(
			why, len,
			"the default route '*' takes limits, and no methods nor exempt (e.g. route add %u '*' \"100 per minute\")",
			w->key.port);
		return -EINVAL;
	}
	return 0;
}

bool xl_route_same_path(const struct xl_route_key *a,
			const struct xl_route_key *b)
{
	return a->port == b->port &&
	       !strncmp(a->path, b->path, XL_ROUTE_PATH_MAX);
}

int xl_route_fits(const struct xl_route_row *rows, int n,
		  const struct xl_route_row *w, int old, char *why, size_t len)
{
	char path[XL_ROUTE_PATH_MAX + 1] = {};
	int same = 0, i;

	memcpy(path, w->key.path, XL_ROUTE_PATH_MAX);
	if (old < 0 && n >= XL_MAX_ROUTES) {
		snprintf(why, len,
			 "too many routes: the map holds %d, over all ports",
			 XL_MAX_ROUTES);
		return -EINVAL;
	}
	for (i = 0; i < n; i++) {
		if (i == old || !xl_route_same_path(&rows[i].key, &w->key))
			continue;
		same++;
		if ((rows[i].r.flags | w->r.flags) & XL_ROUTE_EXEMPT) {
			snprintf(
				why, len,
				"port %u path '%s' %s; an exempt path has one route",
				w->key.port, path,
				w->r.flags & XL_ROUTE_EXEMPT ?
					"has routes already" :
					"is exempt");
			return -EINVAL;
		}
	}
	if (same >= XL_ROUTE_SAME_PATH) {
		snprintf(
			why, len,
			"port %u path '%s' has %d routes already (other methods); at most %d",
			w->key.port, path, same, XL_ROUTE_SAME_PATH);
		return -EINVAL;
	}
	return 0;
}

int xl_route_row_cmp(const void *a, const void *b)
{
	const struct xl_route_row *x = a, *y = b;
	int c;

	if (x->key.port != y->key.port)
		return x->key.port < y->key.port ? -1 : 1;
	c = strncmp(x->key.path, y->key.path, XL_ROUTE_PATH_MAX);
	if (c)
		return c;
	return (int)x->key.methods - (int)y->key.methods;
}

int xl_routes_read(int fd, struct xl_route_row *rows, int max)
{
	struct xl_route_key key, prev;
	char why[96];
	int n = 0;

	if (bpf_map_get_next_key(fd, NULL, &key))
		return errno == ENOENT ? 0 : -errno;
	do {
		prev = key;
		if (n >= max)
			break;
		if (bpf_map_lookup_elem(fd, &key, &rows[n].r))
			continue; /* deleted meanwhile */
		rows[n].key = key;
		rows[n].invalid =
			xl_route_check(&key, &rows[n].r, why, sizeof(why)) != 0;
		n++;
	} while (!bpf_map_get_next_key(fd, &prev, &key));
	qsort(rows, n, sizeof(rows[0]), xl_route_row_cmp);
	return n;
}

void xl_route_match(const struct xl_route_row *rows, int n, uint16_t port,
		    const char *path, size_t plen, uint16_t method,
		    struct xl_route_match *m)
{
	int lo, hi, i, best = -1;
	size_t best_len = 0;
	bool exact = false;

	memset(m, 0, sizeof(*m));
	m->def = m->path_row = -1;
	/* The port's own routes, else port 0's: rows are sorted by port. */
	for (lo = 0; lo < n && rows[lo].key.port < port; lo++)
		;
	if (lo == n || rows[lo].key.port != port)
		lo = 0;
	if (lo == n || (rows[lo].key.port != port && rows[lo].key.port))
		return; /* neither has routes */
	for (hi = lo; hi < n && rows[hi].key.port == rows[lo].key.port; hi++)
		;
	for (i = lo; i < hi; i++) {
		const struct xl_route_row *w = &rows[i];
		const char *rp = w->key.path;
		size_t rl = strnlen(rp, XL_ROUTE_PATH_MAX);

		if (w->invalid)
			continue;
		switch (xl_route_kind(rp)) {
		case XL_RK_DEFAULT:
			if (m->def < 0)
				m->def = i;
			break;
		case XL_RK_EXACT:
			if (!exact && rl == plen && !memcmp(rp, path, rl)) {
				best = i;
				exact = true;
			}
			break;
		case XL_RK_PREFIX:
			rl--;
			if (!exact && rl <= plen && !memcmp(rp, path, rl) &&
			    (best < 0 || rl > best_len)) {
				best = i;
				best_len = rl;
			}
			break;
		}
	}
	if (best < 0) { /* no route's path: the default, on its own id */
		if (m->def >= 0)
			m->def_id = rows[m->def].r.rule.slot;
		return;
	}
	/* Rows of one port and path are next to each other. */
	while (best > lo && !strncmp(rows[best - 1].key.path,
				     rows[best].key.path, XL_ROUTE_PATH_MAX))
		best--;
	m->matched = true;
	m->path_row = best;
	for (i = best; i < hi && !strncmp(rows[i].key.path, rows[best].key.path,
					  XL_ROUTE_PATH_MAX);
	     i++) {
		const struct xl_route_row *w = &rows[i];

		if (w->invalid)
			continue;
		if (w->r.flags & XL_ROUTE_EXEMPT) {
			m->exempt = true;
			m->n = 0;
			m->def = -1;
			return;
		}
		if (w->r.rule.nlimits &&
		    (!w->key.methods || (w->key.methods & method)) &&
		    m->n < XL_ROUTE_SAME_PATH)
			m->row[m->n++] = i;
	}
	if (m->n) {
		m->def = -1;
		return;
	}
	if (m->def >= 0)
		m->def_id = rows[best].r.rule.slot | XL_ROUTE_ID_DEFAULT;
}

static void ids_add(struct xl_route_ids *s, uint32_t id)
{
	uint32_t *more;

	if (s->n == s->cap) {
		more = realloc(s->id,
			       (s->cap ? 2 * s->cap : 64) * sizeof(*more));
		if (!more) {
			s->nomem = true;
			return;
		}
		s->id = more;
		s->cap = s->cap ? 2 * s->cap : 64;
	}
	s->id[s->n++] = id;
}

void xl_route_ids_of(struct xl_route_ids *s, const struct xl_route_row *rows,
		     int n, const struct xl_route_row *w)
{
	int i;

	ids_add(s, w->r.rule.slot);
	ids_add(s, w->r.rule.slot | XL_ROUTE_ID_DEFAULT);
	if (xl_route_kind(w->key.path) != XL_RK_DEFAULT)
		return;
	for (i = 0; i < n; i++)
		if (rows[i].key.port == w->key.port)
			ids_add(s, rows[i].r.rule.slot | XL_ROUTE_ID_DEFAULT);
}

static bool ids_want(const struct xl_route_ids *s, uint32_t id)
{
	int i;

	if (s->nomem)
		return true;
	for (i = 0; i < s->n; i++)
		if (s->id[i] == id)
			return true;
	return false;
}

int xl_route_ids_clear(int fd, struct xl_route_ids *s)
{
	struct xl_route_skey key, next, *kp = NULL;
	bool nomem = s->nomem;

	if (!s->n && !nomem)
		return 0;
	/* Deleting the key we stand on would restart the walk: delete
	 * the previous one after stepping past it. */
	while (!bpf_map_get_next_key(fd, kp, &next)) {
		if (kp && ids_want(s, kp->route))
			bpf_map_delete_elem(fd, kp);
		key = next;
		kp = &key;
	}
	if (kp && ids_want(s, kp->route))
		bpf_map_delete_elem(fd, kp);
	s->n = 0;
	s->nomem = false;
	return nomem ? -ENOMEM : 0;
}

void xl_route_ids_free(struct xl_route_ids *s)
{
	free(s->id);
	memset(s, 0, sizeof(*s));
}

uint32_t xl_route_next_id(const struct xl_route_row *rows, int n)
{
	uint32_t max = 0, id;
	int i;

	for (i = 0; i < n; i++)
		if (rows[i].r.rule.slot > max &&
		    rows[i].r.rule.slot < XL_ROUTE_ID_DEFAULT)
			max = rows[i].r.rule.slot;
	if (max + 1 < XL_ROUTE_ID_DEFAULT)
		return max + 1;
	for (id = 1;; id++) { /* 2^31 ids used up: the first free one */
		for (i = 0; i < n && rows[i].r.rule.slot != id; i++)
			;
		if (i == n)
			return id;
	}
}

const char *const xl_rstat_names[XL_RSTAT_NR] = {
	[XL_RSTAT_PASSED] = "passed",
	[XL_RSTAT_LIMITED] = "limited",
	[XL_RSTAT_EXEMPTED] = "exempted",
};

/* A route id's counters as the program finds them: the key without
 * XL_ROUTE_ID_DEFAULT. */
static uint32_t rstats_key(uint32_t id)
{
	return id & ~XL_ROUTE_ID_DEFAULT;
}

int xl_route_stats_sync(int routes_fd, int rstats_fd, bool prune)
{
	struct xl_route_row *rows = calloc(XL_MAX_ROUTES, sizeof(*rows));
	int ncpu = libbpf_num_possible_cpus(), n, i, err = 0;
	uint32_t *gone = NULL, key, *prev = NULL, ngone = 0;
	struct xl_rstats *zero = NULL;

	if (ncpu < 0) {
		free(rows);
		return ncpu;
	}
	zero = calloc(ncpu, sizeof(*zero));
	gone = calloc(XL_MAX_ROUTES, sizeof(*gone));
	n = rows ? xl_routes_read(routes_fd, rows, XL_MAX_ROUTES) : -ENOMEM;
	if (!zero || !gone || n < 0) {
		err = n < 0 ? n : -ENOMEM;
		goto out;
	}
	/* Walk first, delete after: deleting under the walk restarts it. */
	while (prune && ngone < XL_MAX_ROUTES &&
	       !bpf_map_get_next_key(rstats_fd, prev, &key)) {
		gone[ngone] = key;
		prev = &gone[ngone];
		for (i = 0; i < n && rstats_key(rows[i].r.rule.slot) != key;
		     i++)
			;
		if (i == n)
			ngone++;
	}
	for (i = 0; i < (int)ngone; i++)
		if (bpf_map_delete_elem(rstats_fd, &gone[i]) && errno != ENOENT)
			err = -errno;
	for (i = 0; i < n; i++) {
		key = rstats_key(rows[i].r.rule.slot);
		if (bpf_map_update_elem(rstats_fd, &key, zero, BPF_NOEXIST) &&
		    errno != EEXIST)
			err = err ?: -errno;
	}
out:
	free(rows);
	free(zero);
	free(gone);
	return err;
}

int xl_route_stats_read(int rstats_fd, uint32_t id, struct xl_rstats *sum)
{
	uint32_t key = rstats_key(id);

	return xl_percpu_sum(rstats_fd, &key, sum->c, XL_RSTAT_NR);
}

int xl_route_stat_rows(int routes_fd, int rstats_fd, struct xl_route_row *rows,
		       struct xl_rstats *st, int max)
{
	int n = xl_routes_read(routes_fd, rows, max), i, err;

	for (i = 0; i < n; i++) {
		err = xl_route_stats_read(rstats_fd, rows[i].r.rule.slot,
					  &st[i]);
		if (err && err != -ENOENT)
			return err;
	}
	return n;
}

int xl_route_stat_rows_new(int routes_fd, int rstats_fd,
			   struct xl_route_row **rows, struct xl_rstats **st)
{
	int n = -ENOMEM;

	*rows = calloc(XL_MAX_ROUTES, sizeof(**rows));
	*st = calloc(XL_MAX_ROUTES, sizeof(**st));
	if (*rows && *st)
		n = xl_route_stat_rows(routes_fd, rstats_fd, *rows, *st,
				       XL_MAX_ROUTES);
	if (n < 0) {
		free(*rows);
		free(*st);
		*rows = NULL;
		*st = NULL;
	}
	return n;
}

static void skey_init(struct xl_route_skey *k, const uint8_t addr[16],
		      uint16_t port, uint32_t ipv6_prefix)
{
	struct xl_key ck;

	xl_key_init(&ck, addr, port, ipv6_prefix);
	memset(k, 0, sizeof(*k));
	memcpy(k->addr, ck.addr, 16);
	k->port = port;
}

/* The route of an id. */
static const struct xl_route_row *row_of(const struct xl_route_row *rows, int n,
					 uint32_t id)
{
	int i;

	for (i = 0; i < n; i++)
		if (rows[i].r.rule.slot == (id & ~XL_ROUTE_ID_DEFAULT))
			return &rows[i];
	return NULL;
}

static const struct xl_route_row *default_of(const struct xl_route_row *rows,
					     int n, uint16_t port)
{
	int i;

	for (i = 0; i < n; i++)
		if (rows[i].key.port == port &&
		    xl_route_kind(rows[i].key.path) == XL_RK_DEFAULT)
			return &rows[i];
	return NULL;
}

const struct xl_route_row *xl_route_limits_of(const struct xl_route_row *rows,
					      int n,
					      const struct xl_route_row *w,
					      bool dflt)
{
	const struct xl_route_row *lim = w;

	if (dflt || xl_route_kind(w->key.path) == XL_RK_DEFAULT)
		lim = default_of(rows, n, w->key.port);
	if (!lim || !lim->r.rule.nlimits || lim->invalid)
		return NULL;
	return lim;
}

void xl_route_label(const char *path, uint16_t methods, bool dflt, char *buf,
		    size_t len)
{
	char m[64];

	xl_route_methods_format(methods, m, sizeof(m));
	snprintf(buf, len, "%.*s%s%s%s", XL_ROUTE_PATH_MAX, path,
		 m[0] ? " " : "", m, dflt ? " (default limits)" : "");
}

int xl_route_counts(int routes_fd, int rstate_fd, const uint8_t addr[16],
		    uint16_t port, uint32_t ipv6_prefix,
		    struct xl_route_count *out, int max)
{
	struct xl_route_row *rows = calloc(XL_MAX_ROUTES, sizeof(*rows));
	struct xl_route_skey want, key, prev;
	uint64_t now = xl_mono_now();
	double now_utc = xl_mono_to_utc(now);
	int n, count = 0;

	n = rows ? xl_routes_read(routes_fd, rows, XL_MAX_ROUTES) : -ENOMEM;
	if (n < 0) {
		free(rows);
		return n;
	}
	skey_init(&want, addr, port, ipv6_prefix);
	if (bpf_map_get_next_key(rstate_fd, NULL, &key)) {
		free(rows);
		return 0;
	}
	do {
		const struct xl_route_row *w, *lim;
		struct xl_route_count *o;
		struct xl_state s;
		__u32 i;

		prev = key;
		if (count >= max || memcmp(key.addr, want.addr, 16) ||
		    key.port != port ||
		    bpf_map_lookup_elem(rstate_fd, &key, &s))
			continue;
		w = row_of(rows, n, key.route);
		if (!w)
			continue; /* its route is gone */
		lim = xl_route_limits_of(rows, n, w,
					 key.route & XL_ROUTE_ID_DEFAULT);
		if (!lim)
			continue;
		o = &out[count++];
		memset(o, 0, sizeof(*o));
		memcpy(o->path, w->key.path, XL_ROUTE_PATH_MAX);
		o->methods = w->key.methods;
		o->dflt = lim != w;
		o->nlimits = xl_nlimits(&lim->r.rule);
		for (i = 0; i < o->nlimits; i++)
			xl_client_limit_view(&lim->r.rule.limits[i], &s.win[i],
					     now, now_utc, &o->lim[i]);
	} while (!bpf_map_get_next_key(rstate_fd, &prev, &key));
	free(rows);
	return count;
}

void xl_route_count_ports(int rstate_fd, const uint8_t addr[16],
			  uint32_t ipv6_prefix, uint16_t *ports, int *n,
			  int max)
{
	struct xl_route_skey want, key, prev;
	int i;

	skey_init(&want, addr, 0, ipv6_prefix);
	if (bpf_map_get_next_key(rstate_fd, NULL, &key))
		return;
	do {
		prev = key;
		if (memcmp(key.addr, want.addr, 16) || *n >= max)
			continue;
		for (i = 0; i < *n && ports[i] != key.port; i++)
			;
		if (i == *n)
			ports[(*n)++] = key.port;
	} while (!bpf_map_get_next_key(rstate_fd, &prev, &key));
}
