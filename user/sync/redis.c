// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Redis deployments for `xlimit sync` (see redis.h): URL parsing, the
 * connection to a standalone server, to the master a Sentinel names, or to
 * every master of a Cluster, and pipelines routed by key slot.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "redis.h"

static int parse_hostport(const char *s, size_t n, int defport,
			  struct xr_addr *a)
{
	const char *colon = NULL, *h = s;
	size_t hl = n;
	char num[8];
	char *end;
	long port;

	if (n && s[0] == '[') { /* [v6]:port */
		const char *rb = memchr(s, ']', n);

		if (!rb)
			return -1;
		h = s + 1;
		hl = rb - h;
		if ((size_t)(rb + 1 - s) < n) {
			if (rb[1] != ':')
				return -1;
			colon = rb + 1;
		}
	} else {
		colon = memchr(s, ':', n);
		if (colon)
			hl = colon - s;
	}
	if (!hl || hl >= sizeof(a->host))
		return -1;
	memcpy(a->host, h, hl);
	a->host[hl] = 0;
	a->port = defport;
	if (colon) {
		size_t pl = s + n - colon - 1;

		if (!pl || pl >= sizeof(num))
			return -1;
		memcpy(num, colon + 1, pl);
		num[pl] = 0;
		errno = 0;
		port = strtol(num, &end, 10);
		if (errno || *end || num[0] < '0' || num[0] > '9' || port < 1 ||
		    port > 65535)
			return -1;
		a->port = (int)port;
	}
	return 0;
}

static int parse_db(const char *s, int *db)
{
	char *end;
	long v;

	if (!*s)
		return 0;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || s[0] < '0' || s[0] > '9' || v > 15)
		return -1;
	*db = (int)v;
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* s[0..n) percent-decoded into out (size cap). 0, or -1 when a %XX is
 * bad, a %00 is in it, or it does not fit. */
static int pct_decode(const char *s, size_t n, char *out, size_t cap)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		int c = (unsigned char)s[i];

		if (c == '%') {
			int hi = i + 2 < n ? hexval(s[i + 1]) : -1;
			int lo = hi >= 0 ? hexval(s[i + 2]) : -1;

			if (lo < 0 || !(c = hi << 4 | lo))
				return -1;
			i += 2;
		}
		if (o + 1 >= cap)
			return -1;
		out[o++] = (char)c;
	}
	out[o] = 0;
	return 0;
}

/* The URL's userinfo u[0..n): USER:PASSWORD, :PASSWORD, or USER alone
 * (its password given elsewhere), as redis-py reads it. */
static int parse_userinfo(struct xr *r, const char *u, size_t n, char *err,
			  size_t len)
{
	const char *colon = memchr(u, ':', n);
	size_t ul = colon ? (size_t)(colon - u) : n;

	if (pct_decode(u, ul, r->user, sizeof(r->user)) ||
	    (colon && pct_decode(colon + 1, u + n - colon - 1, r->pass,
				 sizeof(r->pass)))) {
		snprintf(
			err, len,
			"bad user or password before '@': percent-encode ':', '@', '/' and '%%' in them (e.g. %%40 for '@')");
		return -1;
	}
	if (!r->user[0] && !r->pass[0]) {
		snprintf(
			err, len,
			"nothing before '@': write redis://[USER]:PASSWORD@HOST, or leave out the '@'");
		return -1;
	}
	return 0;
}

int xr_parse_url(struct xr *r, const char *url, char *err, size_t len)
{
	static const struct {
		const char *scheme;
		enum xr_kind kind;
		int port;
	} schemes[] = { { "redis://", XR_STANDALONE, 6379 },
			{ "redis+sentinel://", XR_SENTINEL, 26379 },
			{ "redis+cluster://", XR_CLUSTER, 6379 } };
	const char *p = NULL, *hosts_end, *h, *at;
	int defport = 0;
	size_t i;

	memset(r, 0, sizeof(*r));
	r->timeout_ms = 1000;
	for (i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
		size_t sl = strlen(schemes[i].scheme);

		if (!strncasecmp(url, schemes[i].scheme, sl)) {
			p = url + sl;
			r->kind = schemes[i].kind;
			defport = schemes[i].port;
		}
	}
	if (!p) {
		snprintf(
			err, len,
			"expected redis://HOST[:PORT][/DB], redis+sentinel://HOST:PORT[,...]/MASTER or redis+cluster://HOST:PORT[,...]");
		return -1;
	}
	hosts_end = p + strcspn(p, "/");
	at = memrchr(p, '@', hosts_end - p);
	if (at) {
		if (parse_userinfo(r, p, at - p, err, len))
			return -1;
		snprintf(r->shown, sizeof(r->shown), "%.*s%s:***@%s",
			 (int)(p - url), url, r->user, at + 1);
		p = at + 1;
	} else {
		snprintf(r->shown, sizeof(r->shown), "%s", url);
	}
	for (h = p; h < hosts_end;) {
		const char *comma = memchr(h, ',', hosts_end - h);
		const char *e = comma ? comma : hosts_end;

		if (r->nseeds == XR_MAX_SEEDS) {
			snprintf(err, len, "more than %d hosts", XR_MAX_SEEDS);
			return -1;
		}
		if (parse_hostport(h, e - h, defport, &r->seeds[r->nseeds])) {
			snprintf(err, len,
				 "bad host '%.*s': expected HOST[:PORT]",
				 (int)(e - h), h);
			return -1;
		}
		r->nseeds++;
		h = comma ? comma + 1 : e;
	}
	if (!r->nseeds) {
		snprintf(err, len,
			 "no host: expected HOST[:PORT] after the scheme");
		return -1;
	}
	if (r->kind == XR_STANDALONE && r->nseeds > 1) {
		snprintf(
			err, len,
			"redis:// takes one host; use redis+sentinel:// or redis+cluster:// for several");
		return -1;
	}
	p = *hosts_end ? hosts_end + 1 : hosts_end;
	if (r->kind == XR_SENTINEL) {
		size_t ml = strcspn(p, "/");

		if (!ml || ml >= sizeof(r->master)) {
			snprintf(
				err, len,
				"redis+sentinel:// needs the master's name: redis+sentinel://HOST:PORT/MASTER");
			return -1;
		}
		memcpy(r->master, p, ml);
		p += ml;
		if (*p)
			p++;
	}
	if (r->kind == XR_CLUSTER && *p) {
		snprintf(err, len, "redis+cluster:// takes no path ('/%s')", p);
		return -1;
	}
	if (parse_db(p, &r->db)) {
		snprintf(err, len, "bad database '%s': expected 0..15", p);
		return -1;
	}
	return 0;
}

static void set_err(struct xr *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->err, sizeof(r->err), fmt, ap);
	va_end(ap);
}

static int auth(struct xr *r, redisContext *c, const struct xr_addr *a);

static redisContext *dial(struct xr *r, const struct xr_addr *a)
{
	struct timeval tv = { r->timeout_ms / 1000,
			      (r->timeout_ms % 1000) * 1000 };
	redisContext *c = redisConnectWithTimeout(a->host, a->port, tv);

	if (!c) {
		set_err(r, "%s:%d: out of memory", a->host, a->port);
		return NULL;
	}
	if (c->err || redisSetTimeout(c, tv)) {
		set_err(r, "%s:%d: %s", a->host, a->port,
			c->err ? c->errstr : "cannot set timeout");
		redisFree(c);
		return NULL;
	}
	if (r->pass[0] && auth(r, c, a)) {
		redisFree(c);
		return NULL;
	}
	return c;
}

/* A command on its own, outside pipelines. NULL with r->err on failure. */
static redisReply *command(struct xr *r, redisContext *c,
			   const struct xr_addr *a, const char *fmt, ...)
{
	redisReply *rep;
	va_list ap;

	va_start(ap, fmt);
	rep = redisvCommand(c, fmt, ap);
	va_end(ap);
	if (!rep)
		set_err(r, "%s:%d: %s", a->host, a->port,
			c->err ? c->errstr : "no reply");
	return rep;
}

/* AUTH [user] password: the URL's, on every connection (sentinels,
 * masters, cluster nodes), as Flask-Limiter does. */
static int auth(struct xr *r, redisContext *c, const struct xr_addr *a)
{
	redisReply *rep =
		r->user[0] ? command(r, c, a, "AUTH %s %s", r->user, r->pass) :
			     command(r, c, a, "AUTH %s", r->pass);
	int ok;

	if (!rep)
		return -1;
	ok = rep->type != REDIS_REPLY_ERROR;
	if (!ok)
		set_err(r, "%s:%d: AUTH: %s", a->host, a->port, rep->str);
	freeReplyObject(rep);
	return ok ? 0 : -1;
}

static int node_index(struct xr *r, const char *host, int port)
{
	int i;

	for (i = 0; i < r->nnodes; i++)
		if (r->nodes[i].a.port == port &&
		    !strcmp(r->nodes[i].a.host, host))
			return i;
	if (r->nnodes == XR_MAX_NODES ||
	    strlen(host) >= sizeof(r->nodes[0].a.host))
		return -1;
	memset(&r->nodes[i], 0, sizeof(r->nodes[i]));
	strcpy(r->nodes[i].a.host, host);
	r->nodes[i].a.port = port;
	r->nnodes++;
	return i;
}

/* The node's connection, made when missing. */
static redisContext *node_ctx(struct xr *r, int i)
{
	struct xr_node *n = &r->nodes[i];

	if (!n->c)
		n->c = dial(r, &n->a);
	return n->c;
}

void xr_close(struct xr *r)
{
	int i;

	for (i = 0; i < r->nnodes; i++) {
		if (r->nodes[i].c)
			redisFree(r->nodes[i].c);
		r->nodes[i].c = NULL;
		r->nodes[i].queued = 0;
	}
	r->nnodes = 0;
	r->slots_known = 0;
}

static int select_db(struct xr *r, int i)
{
	redisReply *rep;
	int ok;

	if (!r->db)
		return 0;
	rep = command(r, r->nodes[i].c, &r->nodes[i].a, "SELECT %d", r->db);
	if (!rep)
		return -1;
	ok = rep->type != REDIS_REPLY_ERROR;
	if (!ok)
		set_err(r, "SELECT %d: %s", r->db, rep->str);
	freeReplyObject(rep);
	return ok ? 0 : -1;
}

static int connect_one(struct xr *r, const struct xr_addr *a)
{
	int i = node_index(r, a->host, a->port);

	if (i < 0 || !node_ctx(r, i))
		return -1;
	return select_db(r, i);
}

/* Asks each sentinel in turn for the master, and checks the master says
 * it is one (a failover may be under way). */
static int connect_sentinel(struct xr *r)
{
	struct xr_addr m;
	int s;

	for (s = 0; s < r->nseeds; s++) {
		redisContext *c = dial(r, &r->seeds[s]);
		redisReply *rep;
		int ok = 0;

		if (!c)
			continue;
		rep = command(r, c, &r->seeds[s],
			      "SENTINEL get-master-addr-by-name %s", r->master);
		if (rep && rep->type == REDIS_REPLY_ARRAY &&
		    rep->elements == 2 &&
		    rep->element[0]->type == REDIS_REPLY_STRING &&
		    rep->element[0]->len < sizeof(m.host)) {
			snprintf(m.host, sizeof(m.host), "%s",
				 rep->element[0]->str);
			m.port = atoi(rep->element[1]->str ?
					      rep->element[1]->str :
					      "0");
			ok = 1;
		} else if (rep) {
			set_err(r, "sentinel %s:%d does not know master '%s'",
				r->seeds[s].host, r->seeds[s].port, r->master);
		}
		if (rep)
			freeReplyObject(rep);
		redisFree(c);
		if (!ok)
			continue;
		if (connect_one(r, &m) == 0) {
			rep = command(r, r->nodes[0].c, &m, "ROLE");
			ok = rep && rep->type == REDIS_REPLY_ARRAY &&
			     rep->elements > 0 &&
			     rep->element[0]->type == REDIS_REPLY_STRING &&
			     !strcmp(rep->element[0]->str, "master");
			if (rep)
				freeReplyObject(rep);
			if (ok)
				return 0;
			set_err(r,
				"%s:%d, named master of '%s', is not a master (failover under way?)",
				m.host, m.port, r->master);
		}
		xr_close(r);
	}
	return -1;
}

/* Reads CLUSTER SLOTS from the first seed or known node that answers. */
static int load_slots(struct xr *r)
{
	struct xr_addr from[XR_MAX_SEEDS + XR_MAX_NODES];
	int nfrom = 0, i;

	for (i = 0; i < r->nnodes; i++)
		from[nfrom++] = r->nodes[i].a;
	for (i = 0; i < r->nseeds; i++)
		from[nfrom++] = r->seeds[i];
	for (i = 0; i < nfrom; i++) {
		redisContext *c = dial(r, &from[i]);
		redisReply *rep;
		size_t k;
		int bad = 0, covered = 0;

		if (!c)
			continue;
		rep = command(r, c, &from[i], "CLUSTER SLOTS");
		redisFree(c);
		if (!rep)
			continue;
		if (rep->type != REDIS_REPLY_ARRAY) {
			set_err(r, "%s:%d: CLUSTER SLOTS: %s", from[i].host,
				from[i].port,
				rep->type == REDIS_REPLY_ERROR ?
					rep->str :
					"not an array");
			freeReplyObject(rep);
			continue;
		}
		for (k = 0; k < rep->elements && !bad; k++) {
			redisReply *e = rep->element[k], *m;
			long long lo, hi, s;
			int n;

			if (e->type != REDIS_REPLY_ARRAY || e->elements < 3 ||
			    e->element[2]->type != REDIS_REPLY_ARRAY ||
			    e->element[2]->elements < 2) {
				bad = 1;
				break;
			}
			lo = e->element[0]->integer;
			hi = e->element[1]->integer;
			m = e->element[2];
			/* An empty host means the node we asked. */
			n = node_index(r,
				       m->element[0]->len ? m->element[0]->str :
							    from[i].host,
				       (int)m->element[1]->integer);
			if (n < 0 || lo < 0 || hi >= XR_SLOTS || lo > hi) {
				bad = 1;
				break;
			}
			for (s = lo; s <= hi; s++)
				r->slot_node[s] = (unsigned short)n;
			covered += (int)(hi - lo + 1);
		}
		freeReplyObject(rep);
		if (bad) {
			set_err(r, "%s:%d: CLUSTER SLOTS: unexpected reply",
				from[i].host, from[i].port);
			continue;
		}
		if (covered != XR_SLOTS) {
			set_err(r, "%s:%d: the cluster serves %d of %d slots",
				from[i].host, from[i].port, covered, XR_SLOTS);
			continue;
		}
		r->slots_known = 1;
		return 0;
	}
	return -1;
}

int xr_connect(struct xr *r)
{
	xr_close(r);
	r->err[0] = 0;
	switch (r->kind) {
	case XR_STANDALONE:
		if (connect_one(r, &r->seeds[0]) == 0)
			return 0;
		break;
	case XR_SENTINEL:
		if (connect_sentinel(r) == 0)
			return 0;
		break;
	case XR_CLUSTER:
		if (load_slots(r) == 0)
			return 0;
		break;
	}
	if (!r->err[0])
		set_err(r, "no server answered");
	xr_close(r);
	return -1;
}

/* CRC16-CCITT (XMODEM), as the Cluster specification defines the key
 * slot: polynomial 0x1021, initial value 0. */
static unsigned crc16(const char *s, size_t n)
{
	unsigned crc = 0;
	size_t i;
	int b;

	for (i = 0; i < n; i++) {
		crc ^= (unsigned)(unsigned char)s[i] << 8;
		for (b = 0; b < 8; b++)
			crc = crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1;
	}
	return crc & 0xffff;
}

unsigned xr_key_slot(const char *key, size_t len)
{
	const char *open = memchr(key, '{', len), *close;

	if (open) {
		close = memchr(open + 1, '}', key + len - open - 1);
		if (close && close > open + 1)
			return crc16(open + 1, close - open - 1) % XR_SLOTS;
	}
	return crc16(key, len) % XR_SLOTS;
}

void xr_cmd_set(struct xr_cmd *c, const char *key, const char *a0, ...)
{
	const char *a = a0;
	va_list ap;

	memset(c, 0, sizeof(*c));
	c->key = key;
	va_start(ap, a0);
	while (a && c->argc < 12) {
		c->argv[c->argc] = a;
		c->argvlen[c->argc] = strlen(a);
		c->argc++;
		a = va_arg(ap, const char *);
	}
	va_end(ap);
}

void xr_replies_free(struct xr_cmd *cmds, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (cmds[i].reply)
			freeReplyObject(cmds[i].reply);
		cmds[i].reply = NULL;
	}
}

static int route(struct xr *r, const struct xr_cmd *c)
{
	if (r->kind != XR_CLUSTER || !c->key)
		return 0;
	return r->slot_node[xr_key_slot(c->key, strlen(c->key))];
}

/* "MOVED 3999 127.0.0.1:6381" or "ASK ...": the node it names. */
static int redirect_node(struct xr *r, const char *msg)
{
	const char *sp = strchr(msg, ' '), *addr;
	struct xr_addr a;

	if (!sp || !(addr = strchr(sp + 1, ' ')))
		return -1;
	addr++;
	if (parse_hostport(addr, strlen(addr), 6379, &a))
		return -1;
	return node_index(r, a.host, a.port);
}

static int is_error(const redisReply *rep, const char *prefix)
{
	return rep && rep->type == REDIS_REPLY_ERROR &&
	       !strncmp(rep->str, prefix, strlen(prefix));
}

/* Loads a script on a node, for a command answered NOSCRIPT. */
static int load_script(struct xr *r, int node, const char *script)
{
	redisReply *rep = command(r, r->nodes[node].c, &r->nodes[node].a,
				  "SCRIPT LOAD %s", script);

	if (!rep)
		return -1;
	freeReplyObject(rep);
	return 0;
}

int xr_run(struct xr *r, struct xr_cmd *cmds, size_t n)
{
	int *node = calloc(n ? n : 1, sizeof(int));
	int *ask = calloc(n ? n : 1, sizeof(int));
	size_t *todo = calloc(n ? n : 1, sizeof(size_t));
	size_t *next = calloc(n ? n : 1, sizeof(size_t));
	size_t ntodo = n, i, k;
	int round, j, ret = -1;

	if (!node || !ask || !todo || !next) {
		set_err(r, "out of memory");
		goto out;
	}
	if (r->kind == XR_CLUSTER && !r->slots_known && load_slots(r))
		goto out;
	for (i = 0; i < n; i++) {
		todo[i] = i;
		ask[i] = -1;
	}
	for (round = 0; ntodo && round < 5; round++) {
		size_t again = 0;

		for (k = 0; k < ntodo; k++) {
			struct xr_cmd *c = &cmds[todo[k]];
			redisContext *ctx;

			node[todo[k]] = ask[todo[k]] >= 0 ? ask[todo[k]] :
							    route(r, c);
			ctx = node_ctx(r, node[todo[k]]);
			if (!ctx)
				goto fail;
			if (ask[todo[k]] >= 0)
				redisAppendCommand(ctx, "ASKING");
			redisAppendCommandArgv(ctx, c->argc, c->argv,
					       c->argvlen);
		}
		for (j = 0; j < r->nnodes; j++) {
			for (k = 0; k < ntodo; k++) {
				struct xr_cmd *c = &cmds[todo[k]];
				redisContext *ctx = r->nodes[j].c;
				void *rep;

				if (node[todo[k]] != j)
					continue;
				if (ask[todo[k]] >= 0) {
					if (redisGetReply(ctx, &rep) !=
					    REDIS_OK)
						goto io;
					freeReplyObject(rep);
				}
				if (redisGetReply(ctx, &rep) != REDIS_OK)
					goto io;
				if (c->reply)
					freeReplyObject(c->reply);
				c->reply = rep;
				ask[todo[k]] = -1;
				if (is_error(c->reply, "MOVED ")) {
					/* The slot moved: learn it anew. */
					int to =
						redirect_node(r, c->reply->str);

					if (to >= 0)
						r->slot_node[xr_key_slot(
							c->key, strlen(c->key))] =
							to;
					r->slots_known = 0;
					next[again++] = todo[k];
				} else if (is_error(c->reply, "ASK ")) {
					ask[todo[k]] =
						redirect_node(r, c->reply->str);
					if (ask[todo[k]] >= 0)
						next[again++] = todo[k];
				} else if (is_error(c->reply, "NOSCRIPT") &&
					   c->script) {
					if (load_script(r, j, c->script))
						goto fail;
					next[again++] = todo[k];
				}
				continue;
io:
				set_err(r, "%s:%d: %s", r->nodes[j].a.host,
					r->nodes[j].a.port,
					ctx->err ? ctx->errstr : "no reply");
				goto fail;
			}
		}
		memcpy(todo, next, again * sizeof(*todo));
		ntodo = again;
		if (ntodo && !r->slots_known && r->kind == XR_CLUSTER &&
		    load_slots(r))
			goto fail;
	}
	ret = 0;
	goto out;
fail:
	xr_close(r);
out:
	free(node);
	free(ask);
	free(todo);
	free(next);
	return ret;
}
