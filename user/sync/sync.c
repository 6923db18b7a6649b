// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * `xlimit sync`: one budget per client across a fleet of xlimit nodes,
 * kept in Redis in Flask-Limiter's fixed-window layout. Each node's kernel
 * decides alone; this daemon, every interval:
 *  1. moves the epoch on (xl_sync) and drains the ring buffer of clients
 *     the datapath charged in the epoch before (bpf/sync.h): only they are
 *     read, never the whole state map;
 *  2. reads their windows in xl_state and adds the hits since its last
 *     read to the Redis counter LIMITER/<client>/<scope>/<amount>/
 *     <multiples>/<granularity>, atomically with the counter's expiry (one
 *     Lua script, as Flask-Limiter's own incr), in one pipeline;
 *  3. when a counter is over its amount, writes the client's window here
 *     as past its amount until the counter expires (the datapath then
 *     drops the client by its own check), and announces it once on the
 *     stream xlimit/over, which every node reads each round, so that the
 *     nodes the client has not reached yet limit it too.
 * Redis unreachable: the kernel keeps the local limits; the daemon says so
 * once, keeps the hits it read, reconnects with backoff and adds them when
 * Redis is back (those still inside their window).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "cli.h"
#include "xl_limiter.h"
#include "clients.h"
#include "keys.h"
#include "redis.h"

#define XS_STREAM "xlimit/over"
#define XS_STREAM_MAXLEN "100000"
#define XS_READ_COUNT "1000"
#define XS_SWEEP_NS (2 * XL_NSEC_PER_SEC)
#define XS_DRAIN_NS 20000000L /* 20 ms between drains of the ring */
#define XS_BACKOFF_MIN_MS 100
#define XS_BACKOFF_MAX_MS 5000
#define XS_ALIVE_NS (10 * XL_NSEC_PER_SEC) /* a heartbeat this recent: up */

/* Adds ARGV[1] hits to KEYS[1], setting its expiry (ARGV[2] s) when this
 * add created it, as Flask-Limiter's incr_expire.lua does; a counter left
 * without an expiry gets one. Returns {count, ms to expiry}. */
static const char incr_script[] =
	"local n = redis.call('INCRBY', KEYS[1], ARGV[1])\n"
	"if n == tonumber(ARGV[1]) then\n"
	"  redis.call('EXPIRE', KEYS[1], ARGV[2])\n"
	"end\n"
	"local t = redis.call('PTTL', KEYS[1])\n"
	"if t < 0 then\n"
	"  redis.call('EXPIRE', KEYS[1], ARGV[2])\n"
	"  t = tonumber(ARGV[2]) * 1000\n"
	"end\n"
	"return {n, t}\n";
/* Its SHA1, for EVALSHA, as SCRIPT LOAD returned it. */
static char incr_sha[64];

struct xs_opts {
	const char *url;
	uint64_t interval_ns;
	const char *scope;
	const char *prefix; /* Flask-Limiter's RATELIMIT_KEY_PREFIX, or "" */
};

struct xs {
	struct xs_opts o;
	const struct xl_maps *m; /* xl_cli.maps */
	struct xr r;
	struct ring_buffer *rb;
	struct xs_table t;
	struct xs_list touched, dirty;
	struct xl_sync *sync; /* xl_sync, mmapped: what we publish */
	struct xl_rule_row rows[XL_MAX_RULES]; /* the valid rules */
	int nrules;
	int rule_of[65536]; /* port -> index in rows, or -1 */
	uint32_t ipv6_prefix;
	int up; /* connected to Redis */
	int warned_down; /* said so for this outage */
	uint64_t down_since, retry_at, backoff_ms, last_sweep;
	int64_t redis_offset_ms; /* Redis TIME - our CLOCK_REALTIME */
	char last_id[48]; /* last entry of the stream read */
	char skipped[65536]; /* by port: said its rule is not synced */
};

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

static void logmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logmsg(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "xlimit sync: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static uint64_t real_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- rules and keys ------------------------------------------------------ */

/* Whether a limit is counted in fixed windows, the one strategy that maps
 * onto Flask-Limiter's Redis counters: the words of a sliding window or a
 * token bucket (include/xlimit.h) are neither read nor written here. */
static int limit_synced(const struct xl_limit *l)
{
	return l->strategy == XL_STRAT_FIXED;
}

static void rules_refresh(struct xs *s)
{
	struct xl_config cfg = {};
	__u32 zero = 0;
	int i, j, n;

	for (i = 0; i < s->nrules; i++)
		s->rule_of[s->rows[i].port] = -1;
	n = xl_rules_read(s->m->fd[XL_M_RULES], -1, s->rows, XL_MAX_RULES);
	s->nrules = 0;
	for (j = 0; j < n; j++) {
		const struct xl_rule *r = &s->rows[j].rule;
		__u16 port = s->rows[j].port;

		if (s->rows[j].invalid)
			continue;
		for (i = 0; i < (int)r->nlimits; i++) {
			if (limit_synced(&r->limits[i]) || s->skipped[port])
				continue;
			logmsg("port %u: limit %d is not fixed-window: counted here only, not across the fleet",
			       port, i + 1);
			s->skipped[port] = 1;
		}
		s->rows[s->nrules] = s->rows[j];
		s->rule_of[port] = s->nrules++;
	}
	if (!bpf_map_lookup_elem(s->m->fd[XL_M_CONFIG], &zero, &cfg))
		s->ipv6_prefix = cfg.ipv6_prefix;
}

static const struct xl_rule *rule_for(const struct xs *s, uint16_t port)
{
	int i = s->rule_of[port];

	if (i < 0)
		i = s->rule_of[0];
	return i < 0 ? NULL : &s->rows[i].rule;
}

/* ---- the local side -------------------------------------------------------- */

/* The heartbeat `xlimit status` reads. xl_sync is mmapped: stores into it
 * are the datapath's and status's to see, no syscall. */
static void publish(struct xs *s, uint64_t now)
{
	__atomic_store_n(&s->sync->heartbeat, now, __ATOMIC_RELEASE);
}

static void set_link(struct xs *s, enum xl_sync_link link, const char *err,
		     uint64_t now)
{
	if (s->sync->link != link)
		s->sync->since = now;
	s->sync->link = link;
	/* Cut to fit: the log has the whole message. */
	memset(s->sync->error, 0, sizeof(s->sync->error));
	if (err)
		memcpy(s->sync->error, err,
		       strnlen(err, sizeof(s->sync->error) - 1));
}

static int on_event(void *ctx, void *data, size_t len)
{
	const struct xl_sync_event *e = data;
	struct xs *s = ctx;
	struct xs_client *c;

	if (len < sizeof(*e))
		return 0;
	c = xs_table_get(&s->t, &e->key);
	if (!c || c->touched)
		return 0;
	if (xs_list_push(&s->touched, c))
		return 0;
	c->touched = 1;
	return 0;
}

static void mark_dirty(struct xs *s, struct xs_client *c)
{
	if (!c->dirty && !xs_list_push(&s->dirty, c))
		c->dirty = 1;
}

/* Reads a client's windows and adds the hits since the last read to its
 * pending ones. */
static void read_client(struct xs *s, struct xs_client *c, uint64_t now)
{
	const struct xl_rule *r = rule_for(s, c->key.port);
	struct xl_state st;
	__u32 i;

	c->touched = 0;
	if (!r || bpf_map_lookup_elem(s->m->fd[XL_M_STATE], &c->key, &st))
		return;
	c->seen = now;
	for (i = 0; i < xl_nlimits(r); i++) {
		struct xs_limit *l = &c->l[i];
		uint64_t word = st.win[i].word;
		uint64_t start = xl_word_start(word), count, delta;

		if (!limit_synced(&r->limits[i]) || !start)
			continue;
		count = xl_word_count(word);
		if (start == l->lstart)
			delta = count > l->lcount ? count - l->lcount : 0;
		else
			delta = count;
		l->lstart = start;
		l->lcount = count;
		if (!delta)
			continue;
		if (!l->pending)
			l->pending_since = now;
		l->pending += delta;
		mark_dirty(s, c);
	}
}

/*
 * Limits the client of `k` here under limit i of `r` until `end`
 * (monotonic ns): its window becomes one past its amount that ends then,
 * unless it is already over until then. The datapath refuses every hit of
 * such a window without charging it. Returns 1 if it wrote.
 */
static int limit_here(struct xs *s, const struct xl_key *k,
		      const struct xl_rule *r, __u32 i, uint64_t end,
		      uint64_t now)
{
	const struct xl_limit *l = &r->limits[i];
	struct xl_state st = {};
	struct xs_client *c;
	uint64_t word, start;

	bpf_map_lookup_elem(s->m->fd[XL_M_STATE], k, &st);
	word = st.win[i].word;
	start = xl_word_start(word);
	if (!xl_expired(start, l->period_ns, now) &&
	    xl_word_count(word) > l->amount && start + l->period_ns >= end)
		return 0;
	start = end > l->period_ns ? end - l->period_ns : 0;
	if (start > now)
		start = now;
	st.win[i].word = xl_word_open(start, l->amount + 1);
	if (bpf_map_update_elem(s->m->fd[XL_M_STATE], k, &st, BPF_ANY))
		return 0;
	/* Our own write is no hit: read it as the baseline. */
	c = xs_table_get(&s->t, k);
	if (c) {
		c->l[i].lstart = xl_word_start(st.win[i].word);
		c->l[i].lcount = l->amount + 1;
		if (c->l[i].over_end < end)
			c->l[i].over_end = end;
	}
	s->sync->limited++;
	return 1;
}

/* The fleet found `addr` over (amount, period) until `end`: limit it on
 * every port whose rule has that limit. Port 0's rule covers ports we
 * cannot name in advance: there only `own`, the key whose count told us,
 * is limited (the others when their first hit here is counted). */
static void fleet_over(struct xs *s, const __u8 addr[16], uint64_t amount,
		       uint64_t period_ns, uint64_t end,
		       const struct xl_key *own, uint64_t now)
{
	int j;
	__u32 i;

	for (j = 0; j < s->nrules; j++) {
		const struct xl_rule *r = &s->rows[j].rule;
		uint16_t port = s->rows[j].port;
		struct xl_key k;

		if (!port && !(own && s->rule_of[own->port] < 0))
			continue;
		xl_key_init(&k, addr, port ? port : own->port, s->ipv6_prefix);
		for (i = 0; i < xl_nlimits(r); i++)
			if (limit_synced(&r->limits[i]) &&
			    r->limits[i].amount == amount &&
			    r->limits[i].period_ns == period_ns)
				limit_here(s, &k, r, i, end, now);
	}
}

/* ---- the Redis side ------------------------------------------------------- */

struct xs_push {
	struct xs_client *c;
	__u32 i;
	uint64_t sent;
	char key[320];
	char hits[24], expiry[24];
};

static void link_down(struct xs *s, uint64_t now)
{
	s->up = 0;
	s->down_since = now;
	s->backoff_ms = XS_BACKOFF_MIN_MS;
	s->retry_at = now + s->backoff_ms * 1000000ULL;
	set_link(s, XL_SYNC_DOWN, s->r.err, now);
	if (!s->warned_down) {
		logmsg("redis unreachable (%s): enforcing the local limits only; retrying with backoff",
		       s->r.err);
		s->warned_down = 1;
	}
}

/* Says once in the log what went wrong with one command. */
static void reply_error(const struct xs *s, const redisReply *rep)
{
	static char last[128];
	const char *msg = rep ? (rep->type == REDIS_REPLY_ERROR ?
					 rep->str :
					 "unexpected reply") :
				"no reply";

	(void)s;
	if (strncmp(last, msg, sizeof(last) - 1)) {
		snprintf(last, sizeof(last), "%s", msg);
		logmsg("redis: %s", msg);
	}
}

/* Announces on the stream that a counter is over, `pttl` ms before its
 * end. */
static void announce_cmd(struct xr_cmd *cmd, const char *key, const char *pttl)
{
	xr_cmd_set(cmd, XS_STREAM, "XADD", XS_STREAM, "MAXLEN", "~",
		   XS_STREAM_MAXLEN, "*", "k", key, "t", pttl, NULL);
}

/* Adds every client's pending hits to Redis. 0, or -1 when Redis went
 * away (the hits stay pending). */
static int push(struct xs *s, uint64_t now)
{
	struct xs_push *p = NULL;
	struct xr_cmd *cmds = NULL, *ann = NULL;
	char(*pttls)[24] = NULL;
	size_t n = 0, nann = 0, k, kept = 0;
	int ret = 0;
	__u32 i;

	for (k = 0; k < s->dirty.n; k++)
		for (i = 0; i < XL_MAX_LIMITS; i++)
			n += s->dirty.v[k]->l[i].pending != 0;
	if (!n)
		goto out;
	p = calloc(n, sizeof(*p));
	cmds = calloc(n, sizeof(*cmds));
	ann = calloc(n, sizeof(*ann));
	pttls = calloc(n, sizeof(*pttls));
	if (!p || !cmds || !ann || !pttls) {
		ret = -1;
		snprintf(s->r.err, sizeof(s->r.err), "out of memory");
		goto out;
	}
	n = 0;
	for (k = 0; k < s->dirty.n; k++) {
		struct xs_client *c = s->dirty.v[k];
		const struct xl_rule *r = rule_for(s, c->key.port);

		for (i = 0; i < XL_MAX_LIMITS; i++) {
			struct xs_limit *l = &c->l[i];
			const struct xl_limit *lim;

			if (!l->pending)
				continue;
			/* Hits older than their window, or of a rule that
			 * went away, would count in a window they were not
			 * in: dropped. */
			if (!r || i >= xl_nlimits(r) ||
			    now - l->pending_since >= r->limits[i].period_ns) {
				l->pending = 0;
				continue;
			}
			lim = &r->limits[i];
			p[n].c = c;
			p[n].i = i;
			p[n].sent = l->pending;
			xs_key_format(p[n].key, sizeof(p[n].key), s->o.prefix,
				      s->o.scope, c->key.addr, lim->amount,
				      lim->period_ns);
			snprintf(p[n].hits, sizeof(p[n].hits), "%" PRIu64,
				 l->pending);
			snprintf(p[n].expiry, sizeof(p[n].expiry), "%" PRIu64,
				 (uint64_t)(lim->period_ns / XL_NSEC_PER_SEC));
			xr_cmd_set(&cmds[n], p[n].key, "EVALSHA", incr_sha, "1",
				   p[n].key, p[n].hits, p[n].expiry, NULL);
			cmds[n].script = incr_script;
			n++;
		}
	}
	if (xr_run(&s->r, cmds, n)) {
		ret = -1;
		goto keep;
	}
	for (k = 0; k < n; k++) {
		redisReply *rep = cmds[k].reply;
		struct xs_limit *l = &p[k].c->l[p[k].i];
		const struct xl_rule *r = rule_for(s, p[k].c->key.port);
		uint64_t count, end;
		long long pttl;

		if (!rep || rep->type != REDIS_REPLY_ARRAY ||
		    rep->elements != 2 ||
		    rep->element[0]->type != REDIS_REPLY_INTEGER ||
		    rep->element[1]->type != REDIS_REPLY_INTEGER) {
			reply_error(s, rep);
			continue; /* stays pending */
		}
		l->pending -= p[k].sent;
		s->sync->pushed += p[k].sent;
		count = (uint64_t)rep->element[0]->integer;
		pttl = rep->element[1]->integer;
		if (!r || p[k].i >= xl_nlimits(r) ||
		    count <= r->limits[p[k].i].amount || pttl <= 0)
			continue;
		end = now + (uint64_t)pttl * 1000000ULL;
		/* Announced once per window by each node that sees it. */
		if (l->over_end + XL_NSEC_PER_SEC < end) {
			snprintf(pttls[nann], sizeof(pttls[nann]), "%lld",
				 pttl);
			announce_cmd(&ann[nann], p[k].key, pttls[nann]);
			nann++;
		}
		fleet_over(s, p[k].c->key.addr, r->limits[p[k].i].amount,
			   r->limits[p[k].i].period_ns, end, &p[k].c->key, now);
	}
	if (nann && xr_run(&s->r, ann, nann))
		ret = -1;
	for (k = 0; k < nann; k++)
		if (ann[k].reply && ann[k].reply->type == REDIS_REPLY_ERROR)
			reply_error(s, ann[k].reply);
keep:
	/* Clients with hits still pending stay in the list. */
	for (k = 0; k < s->dirty.n; k++) {
		struct xs_client *c = s->dirty.v[k];
		int left = 0;

		for (i = 0; i < XL_MAX_LIMITS; i++)
			left |= c->l[i].pending != 0;
		if (left)
			s->dirty.v[kept++] = c;
		else
			c->dirty = 0;
	}
	s->dirty.n = kept;
out:
	if (cmds)
		xr_replies_free(cmds, n);
	if (ann)
		xr_replies_free(ann, nann);
	free(p);
	free(cmds);
	free(ann);
	free(pttls);
	return ret;
}

/* Reads what the stream announced since the last round. 0, or -1 when
 * Redis went away. */
static int read_stream(struct xs *s, uint64_t now)
{
	struct xr_cmd cmd;
	redisReply *rep, *entries;
	size_t k;
	int64_t redis_now = (int64_t)real_ms() + s->redis_offset_ms;

	xr_cmd_set(&cmd, XS_STREAM, "XREAD", "COUNT", XS_READ_COUNT, "STREAMS",
		   XS_STREAM, s->last_id, NULL);
	if (xr_run(&s->r, &cmd, 1))
		return -1;
	rep = cmd.reply;
	if (!rep || rep->type == REDIS_REPLY_NIL)
		goto out;
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 1 ||
	    rep->element[0]->type != REDIS_REPLY_ARRAY ||
	    rep->element[0]->elements != 2 ||
	    rep->element[0]->element[1]->type != REDIS_REPLY_ARRAY) {
		reply_error(s, rep);
		goto out;
	}
	entries = rep->element[0]->element[1];
	for (k = 0; k < entries->elements; k++) {
		redisReply *e = entries->element[k], *f;
		const char *key = NULL;
		size_t keylen = 0, j;
		long long pttl = -1;
		uint64_t amount, period, at_ms;
		__u8 addr[16];
		int64_t left;

		if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
		    e->element[0]->type != REDIS_REPLY_STRING ||
		    e->element[1]->type != REDIS_REPLY_ARRAY)
			continue;
		snprintf(s->last_id, sizeof(s->last_id), "%s",
			 e->element[0]->str);
		at_ms = strtoull(e->element[0]->str, NULL, 10);
		f = e->element[1];
		for (j = 0; j + 1 < f->elements; j += 2) {
			if (f->element[j]->type != REDIS_REPLY_STRING ||
			    f->element[j + 1]->type != REDIS_REPLY_STRING)
				continue;
			if (!strcmp(f->element[j]->str, "k")) {
				key = f->element[j + 1]->str;
				keylen = f->element[j + 1]->len;
			} else if (!strcmp(f->element[j]->str, "t")) {
				pttl = strtoll(f->element[j + 1]->str, NULL,
					       10);
			}
		}
		if (!key || pttl <= 0 ||
		    xs_key_parse(key, keylen, s->o.prefix, s->o.scope, addr,
				 &amount, &period))
			continue;
		/* The window's end, in Redis's clock, then in ours. */
		left = (int64_t)(at_ms + pttl) - redis_now;
		if (left <= 0)
			continue;
		fleet_over(s, addr, amount, period,
			   now + (uint64_t)left * 1000000ULL, NULL, now);
	}
out:
	xr_replies_free(&cmd, 1);
	return 0;
}

/* After a connection: Redis's clock against ours, and where to start
 * reading the stream (the first time: as far back as the longest window,
 * whose announcements may still hold). */
static int on_connect(struct xs *s)
{
	struct xr_cmd cmd;
	redisReply *rep;
	uint64_t longest = 0, rms;
	int j, ret = -1;
	__u32 i;

	xr_cmd_set(&cmd, XS_STREAM, "TIME", NULL);
	if (xr_run(&s->r, &cmd, 1))
		return -1;
	rep = cmd.reply;
	if (rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 &&
	    rep->element[0]->type == REDIS_REPLY_STRING) {
		rms = strtoull(rep->element[0]->str, NULL, 10) * 1000 +
		      strtoull(rep->element[1]->str, NULL, 10) / 1000;
		s->redis_offset_ms = (int64_t)rms - (int64_t)real_ms();
		ret = 0;
	} else {
		reply_error(s, rep);
		snprintf(s->r.err, sizeof(s->r.err), "TIME: %s",
			 rep && rep->type == REDIS_REPLY_ERROR ?
				 rep->str :
				 "unexpected reply");
	}
	xr_replies_free(&cmd, 1);
	if (ret)
		return ret;
	xr_cmd_set(&cmd, XS_STREAM, "SCRIPT", "LOAD", incr_script, NULL);
	if (xr_run(&s->r, &cmd, 1))
		return -1;
	rep = cmd.reply;
	if (rep && rep->type == REDIS_REPLY_STRING &&
	    rep->len < sizeof(incr_sha)) {
		memcpy(incr_sha, rep->str, rep->len + 1);
	} else {
		reply_error(s, rep);
		snprintf(s->r.err, sizeof(s->r.err), "SCRIPT LOAD failed");
		ret = -1;
	}
	xr_replies_free(&cmd, 1);
	if (ret || s->last_id[0])
		return ret;
	for (j = 0; j < s->nrules; j++)
		for (i = 0; i < xl_nlimits(&s->rows[j].rule); i++)
			if (s->rows[j].rule.limits[i].period_ns > longest)
				longest = s->rows[j].rule.limits[i].period_ns;
	rms = (uint64_t)((int64_t)real_ms() + s->redis_offset_ms);
	snprintf(s->last_id, sizeof(s->last_id), "%" PRIu64 "-0",
		 rms - (longest / 1000000 < rms ? longest / 1000000 : 0));
	return 0;
}

static void try_connect(struct xs *s, uint64_t now)
{
	if (xr_connect(&s->r) == 0 && on_connect(s) == 0) {
		if (s->warned_down)
			logmsg("redis back after %.1f s: catching up %zu clients",
			       (now - s->down_since) / 1e9, s->dirty.n);
		else
			logmsg("connected to %s", s->r.shown);
		s->up = 1;
		s->warned_down = 0;
		set_link(s, XL_SYNC_UP, NULL, now);
		return;
	}
	if (!s->warned_down) {
		link_down(s, now);
		return;
	}
	set_link(s, XL_SYNC_DOWN, s->r.err, now);
	s->backoff_ms = s->backoff_ms * 2 > XS_BACKOFF_MAX_MS ?
				XS_BACKOFF_MAX_MS :
				s->backoff_ms * 2;
	s->retry_at = now + s->backoff_ms * 1000000ULL;
}

/* A client stays while it has something to read, send or enforce, or a
 * window we may still read from. */
static int keep_client(const struct xs_client *c, void *arg)
{
	const struct xs *s = arg;
	const struct xl_rule *r = rule_for(s, c->key.port);
	uint64_t now = s->sync->heartbeat;
	__u32 i;

	if (c->touched || c->dirty || !r)
		return c->touched || c->dirty;
	for (i = 0; i < xl_nlimits(r); i++)
		if (c->l[i].over_end > now ||
		    (c->l[i].lstart &&
		     c->l[i].lstart + r->limits[i].period_ns > now))
			return 1;
	return 0;
}

static void round_once(struct xs *s)
{
	uint64_t now = xl_mono_now();
	size_t k;

	/* The datapath reports into the new epoch from now on; what it
	 * reported in the old one is in the ring, and read after it. */
	__atomic_store_n(&s->sync->epoch, s->sync->epoch + 1, __ATOMIC_RELEASE);
	publish(s, now);
	ring_buffer__consume(s->rb);
	rules_refresh(s);
	for (k = 0; k < s->touched.n; k++)
		read_client(s, s->touched.v[k], now);
	s->touched.n = 0;
	/* Many clients take a while to read and push: the ring is drained
	 * between the steps too (what comes in is read next round). */
	ring_buffer__consume(s->rb);
	if (!s->up && now >= s->retry_at)
		try_connect(s, now);
	if (s->up && (push(s, now) || ring_buffer__consume(s->rb) < 0 ||
		      read_stream(s, now))) {
		xr_close(&s->r);
		link_down(s, now);
	}
	if (now - s->last_sweep >= XS_SWEEP_NS) {
		xs_table_sweep(&s->t, keep_client, s);
		s->last_sweep = now;
	}
	publish(s, now);
}

/* Until `next`, drains the ring buffer every XS_DRAIN_NS, so that a
 * round that runs late, or many clients, do not fill it: the events only
 * say whom to read at the end of the round. */
static void wait_round(struct xs *s, const struct timespec *next)
{
	struct timespec now, step;

	while (!stopping) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec > next->tv_sec || (now.tv_sec == next->tv_sec &&
						  now.tv_nsec >= next->tv_nsec))
			return;
		step = now;
		step.tv_nsec += XS_DRAIN_NS;
		if (step.tv_nsec >= 1000000000L) {
			step.tv_sec++;
			step.tv_nsec -= 1000000000L;
		}
		if (step.tv_sec > next->tv_sec ||
		    (step.tv_sec == next->tv_sec &&
		     step.tv_nsec > next->tv_nsec))
			step = *next;
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &step, NULL);
		ring_buffer__consume(s->rb);
	}
}

/* ---- the command ----------------------------------------------------------- */

static const struct xl_opt sync_opts[] = {
	{ "redis", 'r', "URL",
	  "redis://HOST[:PORT][/DB]\n"
	  "redis+sentinel://HOST:PORT[,HOST:PORT...]/MASTER\n"
	  "redis+cluster://HOST:PORT[,HOST:PORT...]\n"
	  "with [USER]:PASSWORD@ or USER@ before the hosts for\n"
	  "AUTH; XLIMIT_REDIS_PASSWORD gives a password the URL\n"
	  "leaves out" },
	{ "interval", 'i', "D",
	  "how often to sync: 10ms..60s (default 100ms)" },
	{ "scope", 's', "NAME",
	  "the key's scope (default 'global': Flask-Limiter's\n"
	  "application limits)" },
	{ "key-prefix", 'k', "P",
	  "Flask-Limiter's RATELIMIT_KEY_PREFIX, if it has one" },
	{}
};
static const struct xl_usage sync_usage = {
	.synopsis =
		"xlimit sync --redis URL [--interval DURATION] [--scope NAME]\n"
		"            [--key-prefix PREFIX]",
	.about =
		"Shares each client's fixed-window limits across a fleet of xlimit\n"
		"nodes through Redis, in Flask-Limiter's key layout. Runs in the\n"
		"foreground until SIGINT or SIGTERM.",
	.opts = sync_opts,
};

/* "100ms", "2s": 0, or -1. */
static int parse_interval(const char *arg, uint64_t *ns)
{
	unsigned long v;
	char num[16];
	size_t n = strspn(arg, "0123456789");
	uint64_t mult;

	if (!strcmp(arg + n, "ms"))
		mult = 1000000ULL;
	else if (!strcmp(arg + n, "s"))
		mult = XL_NSEC_PER_SEC;
	else
		return -1;
	if (!n || n >= sizeof(num))
		return -1;
	memcpy(num, arg, n);
	num[n] = 0;
	if (xl_parse_num(num, 1, 60000, &v))
		return -1;
	*ns = v * mult;
	return *ns >= 10000000ULL && *ns <= 60 * XL_NSEC_PER_SEC ? 0 : -1;
}

static int valid_token(const char *s)
{
	return *s && !strchr(s, '/') && strlen(s) < 128;
}

/* The password from XLIMIT_REDIS_PASSWORD when the URL has none: an
 * environment is readable by its owner only, a command line by everyone.
 * 0, or -1 after saying what is wrong. */
static int redis_password(struct xr *r)
{
	const char *pw = getenv("XLIMIT_REDIS_PASSWORD");

	if (pw && *pw && !r->pass[0]) {
		if (strlen(pw) >= sizeof(r->pass)) {
			xl_err("sync: XLIMIT_REDIS_PASSWORD: longer than %zu bytes",
			       sizeof(r->pass) - 1);
			return -1;
		}
		strcpy(r->pass, pw);
	}
	if (r->user[0] && !r->pass[0]) {
		xl_err("sync: --redis: user '%s' without a password: put it in XLIMIT_REDIS_PASSWORD or the URL (redis://USER:PASSWORD@HOST)",
		       r->user);
		return -1;
	}
	return 0;
}

/* Sets or clears XL_CFG_SYNC under the pin directory's lock. */
static int set_sync_flag(struct xs *s, int on)
{
	struct xl_config cfg = {};
	__u32 zero = 0;
	int lock = xl_cli_lock("sync", false), err = 0;

	if (lock < 0)
		return -lock;
	if (bpf_map_lookup_elem(s->m->fd[XL_M_CONFIG], &zero, &cfg))
		err = -errno;
	if (!err) {
		cfg.flags = on ? cfg.flags | XL_CFG_SYNC :
				 cfg.flags & ~XL_CFG_SYNC;
		if (bpf_map_update_elem(s->m->fd[XL_M_CONFIG], &zero, &cfg,
					BPF_ANY))
			err = -errno;
	}
	xl_unlock(lock);
	if (err) {
		xl_err("sync: %s the sync flag in xl_config: %s",
		       on ? "set" : "clear", strerror(-err));
		return XL_EXIT_FAIL;
	}
	return 0;
}

/* Another daemon on this pin directory, alive and beating? */
static int other_daemon(const struct xs *s)
{
	struct xl_sync cur = {};
	__u32 zero = 0;

	if (bpf_map_lookup_elem(s->m->fd[XL_M_SYNC], &zero, &cur) ||
	    cur.link == XL_SYNC_OFF || !cur.pid || (pid_t)cur.pid == getpid())
		return 0;
	if (kill((pid_t)cur.pid, 0) && errno == ESRCH)
		return 0;
	return xl_mono_now() - cur.heartbeat < XS_ALIVE_NS ? (int)cur.pid : 0;
}

int cmd_sync(int argc, char **argv)
{
	struct xs *s = calloc(1, sizeof(*s));
	struct sigaction sa = { .sa_handler = on_signal };
	struct timespec next;
	char err[200];
	int c, ret = XL_EXIT_USAGE, pid;
	__u32 epoch;

	if (!s) {
		xl_err("sync: out of memory");
		return XL_EXIT_FAIL;
	}
	s->o.interval_ns = 100000000ULL;
	s->o.scope = "global";
	s->o.prefix = "";
	optind = 0;
	while ((c = xl_getopt(argc, argv, &sync_usage)) >= 0) {
		switch (c) {
		case 'r':
			s->o.url = optarg;
			break;
		case 'i':
			if (parse_interval(optarg, &s->o.interval_ns)) {
				xl_err("sync: --interval '%s': expected 10ms to 60s, as Nms or Ns (e.g. 100ms)",
				       optarg);
				goto out;
			}
			break;
		case 's':
			if (!valid_token(optarg)) {
				xl_err("sync: --scope '%s': expected a name without '/'",
				       optarg);
				goto out;
			}
			s->o.scope = optarg;
			break;
		case 'k':
			if (!valid_token(optarg)) {
				xl_err("sync: --key-prefix '%s': expected a name without '/'",
				       optarg);
				goto out;
			}
			s->o.prefix = optarg;
			break;
		}
	}
	if (c != XL_OPT_END) {
		ret = xl_opt_exit(c);
		goto out;
	}
	if (optind != argc) {
		xl_err("sync: unexpected argument '%s'", argv[optind]);
		goto out;
	}
	if (!s->o.url) {
		xl_err("sync: --redis URL is required (e.g. --redis redis://10.0.0.5:6379)");
		goto out;
	}
	if (xr_parse_url(&s->r, s->o.url, err, sizeof(err))) {
		xl_err("sync: --redis: %s", err);
		goto out;
	}
	if (redis_password(&s->r))
		goto out;
	s->m = &xl_cli.maps;
	ret = xl_cli_open("sync");
	if (ret)
		goto out;
	pid = other_daemon(s);
	if (pid) {
		xl_err("sync: another 'xlimit sync' (pid %d) serves %s; stop it first",
		       pid, xl_cli.pin_dir);
		ret = XL_EXIT_FAIL;
		goto close;
	}
	s->rb = ring_buffer__new(s->m->fd[XL_M_EVENTS], on_event, s, NULL);
	if (!s->rb) {
		xl_err("sync: open the ring buffer %s: %s",
		       xl_map_names[XL_M_EVENTS], strerror(errno));
		ret = XL_EXIT_FAIL;
		goto close;
	}
	s->sync = mmap(NULL, sizeof(*s->sync), PROT_READ | PROT_WRITE,
		       MAP_SHARED, s->m->fd[XL_M_SYNC], 0);
	if (s->sync == MAP_FAILED) {
		s->sync = NULL;
		xl_err("sync: map %s: %s (an xlimit loaded before 'sync' existed? run 'xlimit unload', then load again)",
		       xl_map_names[XL_M_SYNC], strerror(errno));
		ret = XL_EXIT_FAIL;
		goto close;
	}
	/* A fresh start, but the epoch goes on: xl_sync_seen holds marks of
	 * the epochs before, which must not match a new one. */
	epoch = s->sync->epoch;
	memset(s->sync, 0, sizeof(*s->sync));
	s->sync->epoch = epoch + 1;
	memset(s->rule_of, 0xff, sizeof(s->rule_of));
	s->sync->pid = (__u32)getpid();
	s->sync->interval_ms = (__u32)(s->o.interval_ns / 1000000);
	memcpy(s->sync->redis, s->r.shown,
	       strnlen(s->r.shown, sizeof(s->sync->redis) - 1));
	set_link(s, XL_SYNC_CONNECTING, NULL, xl_mono_now());
	publish(s, xl_mono_now());
	ret = set_sync_flag(s, 1);
	if (ret)
		goto close;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	setvbuf(stderr, NULL, _IOLBF, 0);
	logmsg("syncing %s every %" PRIu64 " ms through %s (scope '%s')",
	       xl_cli.pin_dir, s->o.interval_ns / 1000000, s->r.shown,
	       s->o.scope);
	clock_gettime(CLOCK_MONOTONIC, &next);
	while (!stopping) {
		round_once(s);
		next.tv_nsec += (long)(s->o.interval_ns % XL_NSEC_PER_SEC);
		next.tv_sec += (time_t)(s->o.interval_ns / XL_NSEC_PER_SEC) +
			       next.tv_nsec / 1000000000L;
		next.tv_nsec %= 1000000000L;
		wait_round(s, &next);
	}
	logmsg("stopping: the datapath goes on with its local limits");
	ret = set_sync_flag(s, 0);
	set_link(s, XL_SYNC_OFF, NULL, xl_mono_now());
	publish(s, xl_mono_now());
close:
	if (s->sync)
		munmap(s->sync, sizeof(*s->sync));
	xr_close(&s->r);
	ring_buffer__free(s->rb);
	xs_table_free(&s->t);
	free(s->touched.v);
	free(s->dirty.v);
	xl_maps_close(&xl_cli);
out:
	free(s);
	return ret;
}
