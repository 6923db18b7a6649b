// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The rate-limit side of xlimit-sidecar: who the client of a request is
 * (the TCP peer, or behind a trusted proxy the address it names), what the
 * kernel holds for it (read for the first request of a connection, whose
 * SYN the datapath charged already; charged through the pinned syscall
 * program for every later one), and how that is shown to the client: the
 * X-RateLimit-* headers of SEMANTICS.md §3, the optional IETF draft fields,
 * and the 429 answer.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <json-c/json.h>

#include "msg.h"
#include "xlimit_lib.h"
#include "sidecar.h"

/* Each worker holds its own: one reopens them without pulling them from
 * under another. */
static _Thread_local int prog_fd = -1, allow_fd = -1, deny_fd = -1;
static _Thread_local int rules_fd = -1, stats_fd = -1;

static _Thread_local uint32_t prog_id; /* of prog_fd: a reload pins
					 * another one */
static _Thread_local uint32_t stale_id; /* a pinned program of another
					   * version, whose pins are not
					   * opened */
static _Thread_local uint64_t checked; /* when the pins were last compared,
					 * ns */

/* The pin directory (the maps are opened one by one, below). */
static struct xl_ctx kctx;

/* Programs are opened read-write (BPF_OBJ_GET allows no other way), maps
 * read-only: the sidecar only reads them, and a pin group (xlimit load
 * --pin-group) grants it no more. */
static int open_pin(const char *name, int *fd, bool quiet)
{
	LIBBPF_OPTS(bpf_obj_get_opts, o);
	char path[PATH_MAX];
	int err;

	if (strncmp(name, "prog_", 5))
		o.file_flags = BPF_F_RDONLY;
	xl_pin_path(&kctx, path, sizeof(path), name);
	*fd = bpf_obj_get_opts(path, &o);
	if (*fd >= 0)
		return 0;
	err = -errno;
	if (quiet)
		return err;
	if (err == -ENOENT)
		xl_err("open %s: xlimit is not loaded there; run 'xlimit attach IFACE' (or 'xlimit load'), or pass its --pin-dir",
		       path);
	else if (err == -EACCES)
		xl_err("open %s: permission denied; give the pins a group this user is in (pin_group in xlimit.conf, or 'xlimit load --pin-group GROUP')",
		       path);
	else
		xl_err("open %s: %s", path, strerror(-err));
	return err;
}

int sc_pin_open(const char *name, int *fd)
{
	return open_pin(name, fd, true);
}

struct xl_ctx *sc_pin_ctx(void)
{
	return &kctx;
}

/* The kernel maps a map only through an fd opened for writing (a
 * read-only file loses MAP_SHARED), though the mapping itself is
 * read-only: the fd is closed once it is made. A user the pin group lets
 * read only gets NULL, and the sidecar looks xl_config up instead. */
const struct xl_config *sc_config_map(void)
{
	const struct xl_config *cfg;
	char path[PATH_MAX];
	int fd;

	xl_pin_path(&kctx, path, sizeof(path), XL_STR(XL_MAP_CONFIG));
	fd = bpf_obj_get(path);
	if (fd < 0)
		return NULL;
	cfg = xl_config_map(fd);
	close(fd);
	return cfg;
}

static uint32_t prog_id_of(int fd)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	return fd >= 0 && !bpf_obj_get_info_by_fd(fd, &info, &len) ? info.id :
								     0;
}

/* Whether the pins are this version's: another's query program reads
 * another layout of the query, and its maps hold others. Said unless
 * quiet; not loaded and permission denied are left to open_pin(). On a
 * copy of kctx: the workers check at once. */
static int same_version(bool quiet)
{
	struct xl_ctx c = kctx;
	int err = xl_pins_check(&c);

	if (err == -ENOENT || err == -EACCES)
		return 0;
	if (err && !quiet)
		xl_err("%s", c.err);
	return err;
}

static int kernel_open(bool quiet)
{
	static bool resolved;
	int err;

	if (!resolved) { /* once: a reopen uses the same directory */
		xl_ctx_init(&kctx, sc_cfg.pin_dir);
		/* started by `ip netns exec`: the host's pins */
		xl_pin_dir_resolve(&kctx);
		resolved = true;
	}
	err = same_version(quiet);
	if (!err)
		err = open_pin(XL_PIN_PROG_QUERY, &prog_fd, quiet);
	if (!err)
		err = open_pin(XL_STR(XL_MAP_ALLOW), &allow_fd, quiet);
	if (!err)
		err = open_pin(XL_STR(XL_MAP_DENY), &deny_fd, quiet);
	if (!err)
		err = open_pin(XL_STR(XL_MAP_RULES), &rules_fd, quiet);
	if (!err)
		err = open_pin(XL_STR(XL_MAP_STATS), &stats_fd, quiet);
	if (err)
		sc_kernel_close();
	else
		sc_routes_open(); /* not there: the routes are off */
	prog_id = prog_id_of(prog_fd);
	checked = sc_mono_ns();
	return err;
}

int sc_kernel_open(void)
{
	return kernel_open(false);
}

/* `xlimit unload` and a new load leave the sidecar holding the old
 * program and maps, which nothing enforces any more: compare the pinned
 * program's id with the one held, at most once a second (or at once
 * after an error), and reopen everything when it changed. Pins that are
 * gone close what is held: queries fail (no headers) until xlimit is
 * loaded again; so do another version's pins, said once. */
static void kernel_refresh(bool now)
{
	char path[PATH_MAX];
	uint32_t id;
	int fd, err;

	if (!now && sc_mono_ns() - checked < 1000000000ULL)
		return;
	checked = sc_mono_ns();
	xl_pin_path(&kctx, path, sizeof(path), XL_PIN_PROG_QUERY);
	fd = bpf_obj_get(path);
	id = prog_id_of(fd);
	if (fd >= 0)
		close(fd);
	if (id == prog_id && (id || fd < 0))
		return;
	if (id && id == stale_id) /* said once, not checked per request */
		return;
	sc_kernel_close();
	err = id ? kernel_open(true) : -ENOENT;
	if (!err) {
		xl_err("xlimit was loaded again: reopened its pins in %s",
		       sc_cfg.pin_dir);
	} else if (err == -ESTALE) {
		stale_id = id;
		same_version(false);
	}
	prog_id = prog_id_of(prog_fd);
}

void sc_kernel_reopen(void)
{
	sc_kernel_close();
	kernel_open(false);
}

void sc_kernel_close(void)
{
	int *fds[] = { &prog_fd, &allow_fd, &deny_fd, &rules_fd, &stats_fd };
	size_t i;

	sc_routes_close();
	for (i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
}

int sc_rules_fd(void)
{
	return rules_fd;
}

int sc_stats_fd(void)
{
	return stats_fd;
}

/* ---- addresses ------------------------------------------------------ */

bool sc_trusted(const uint8_t addr[16])
{
	int i;

	for (i = 0; i < sc_cfg.ntrust; i++)
		if (xl_addr_in_prefix(addr, &sc_cfg.trust[i]))
			return true;
	return false;
}

int sc_sockaddr_addr(const struct sockaddr_storage *ss, uint8_t addr[16],
		     uint16_t *port)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)ss;

		xl_v4map(addr, &s4->sin_addr);
		*port = ntohs(s4->sin_port);
		return 0;
	}
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)ss;

		memcpy(addr, &s6->sin6_addr, 16);
		*port = ntohs(s6->sin6_port);
		return 0;
	}
	return -1;
}

/* One element of X-Forwarded-For: "a.b.c.d", "a.b.c.d:port", "x::y" or
 * "[x::y]:port", with blanks around. */
static int parse_forwarded_elem(const char *s, size_t n, uint8_t addr[16])
{
	char buf[INET6_ADDRSTRLEN + 8], *colon;

	while (n && (*s == ' ' || *s == '\t'))
		s++, n--;
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (!n || n >= sizeof(buf))
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (buf[0] == '[') {
		char *end = strchr(buf, ']');

		if (!end)
			return -1;
		*end = '\0';
		return xl_parse_addr(buf + 1, addr);
	}
	colon = strchr(buf, ':');
	if (colon && !strchr(colon + 1, ':'))
		*colon = '\0'; /* IPv4 with a port */
	return xl_parse_addr(buf, addr);
}

int sc_forwarded_client(const char *const *xff, int nxff, const char *real_ip,
			uint8_t addr[16])
{
	uint8_t cand[16];
	bool found = false;
	int i;

	/* Every X-Forwarded-For line, in order, is one list: walk it from
	 * the right, past the proxies we trust. */
	for (i = nxff - 1; i >= 0; i--) {
		const char *v = xff[i], *end;

		end = v + strlen(v);
		while (end > v) {
			const char *start = end;

			while (start > v && start[-1] != ',')
				start--;
			if (parse_forwarded_elem(start, end - start, cand))
				return found ? 0 : -1;
			memcpy(addr, cand, 16);
			found = true;
			if (!sc_trusted(cand))
				return 0;
			end = start > v ? start - 1 : v;
		}
	}
	if (found)
		return 0;
	if (sc_cfg.trust_real_ip && real_ip &&
	    !parse_forwarded_elem(real_ip, strlen(real_ip), addr))
		return 0;
	return -1;
}

/* ---- the decision --------------------------------------------------- */

/* xl_config's flags say when a list is empty (as the datapath reads
 * them): a lookup, a syscall, saved on every request. */
static int client_query(const uint8_t addr[16], uint16_t port, int op,
			struct xl_client *c)
{
	const struct xl_config *cfg = sc_config();
	__u32 flags = cfg ? __atomic_load_n(&cfg->flags, __ATOMIC_RELAXED) : 0;

	return xl_client_query(prog_fd, flags & XL_CFG_NO_ALLOW ? -1 : allow_fd,
			       flags & XL_CFG_NO_DENY ? -1 : deny_fd, addr,
			       port, op, c);
}

static int query(const uint8_t addr[16], uint16_t port, int op,
		 struct xl_client *c)
{
	int err;

	kernel_refresh(false);
	err = client_query(addr, port, op, c);
	if (err) {
		kernel_refresh(true);
		err = client_query(addr, port, op, c);
	}
	if (err) {
		sc_count(SC_C_KERNEL_ERRORS);
		if (sc_cfg.verbose)
			xl_err("query: %s", strerror(-err));
	}
	return err;
}

/* The port's part of sc_decide_planned(); an `exempt` request (an exempt
 * route's) is only read: denied, or not counted. */
static void decide(const uint8_t addr[16], uint16_t port, uint64_t nreq,
		   bool direct, struct sc_accepted accepted, bool exempt,
		   struct sc_decision *d)
{
	struct xl_client *c = &d->client;
	bool seen = true, charge;
	uint32_t i;

	memset(d, 0, sizeof(*d));
	d->port = port;
	/* The kernel charged the SYN of a direct client's connection: its
	 * first request only reads. Later requests, clients the kernel did
	 * not see (behind a proxy) and --charge-first are charged. */
	charge = !exempt && (!direct || nreq > 1 || sc_cfg.charge_first);
	if (query(addr, port, charge ? XL_OP_CHARGE : XL_OP_READ, c)) {
		d->verdict = SC_ERROR;
		return;
	}
	/* The deny list covers every port, as in the datapath. */
	if (c->denied) {
		d->verdict = SC_DENIED;
		return;
	}
	if (!c->covered || c->allowed || exempt) {
		d->verdict = SC_NOT_COUNTED;
		return;
	}
	if (!charge) {
		/* The first request only reads when every limit shows the
		 * SYN charged (sc_syn_seen()). Else the kernel has no record
		 * of it (not on its path, the SYN came before xlimit was
		 * attached, the client was evicted, or the window ended
		 * since): charge the request itself. */
		for (i = 0; i < c->nlimits; i++)
			seen &= sc_syn_seen(&c->lim[i], accepted);
		if (!seen) {
			charge = true;
			if (query(addr, port, XL_OP_CHARGE, c)) {
				d->verdict = SC_ERROR;
				return;
			}
		}
	}
	d->verdict = SC_WITHIN;
	d->report = c->report;
	if (charge) {
		if (c->verdict == XL_V_OVER_DROP ||
		    c->verdict == XL_V_OVER_REJECT ||
		    c->verdict == XL_V_OVER_PASS)
			d->verdict = SC_OVER;
		return;
	}
	/* A read: the SYN's hit is in the counts, so a fixed window's count
	 * past the amount means this connection ran past that limit. The
	 * other strategies never count a refused hit: a SYN a pass limit let
	 * through over it left no trace to find (see the README). */
	for (i = 0; i < c->nlimits; i++) {
		if (c->lim[i].strategy == XL_STRAT_FIXED &&
		    c->lim[i].count > c->lim[i].amount) {
			d->verdict = SC_OVER;
			d->report = i;
			break;
		}
	}
}

void sc_decide_planned(const struct sc_route_plan *p, const uint8_t addr[16],
		       uint16_t port, uint64_t nreq, bool direct,
		       struct sc_accepted accepted, struct sc_decision *d)
{
	struct sc_route_decision rd;

	/* The port's limits first, as Flask-Limiter checks the
	 * application's limits before the view's. */
	decide(addr, port, nreq, direct, accepted, p->exempt, d);
	if (p->exempt && d->verdict != SC_DENIED && d->verdict != SC_ERROR)
		sc_route_exempt(p);
	if (d->verdict == SC_OVER || d->verdict == SC_DENIED ||
	    d->verdict == SC_ERROR || d->client.allowed || p->exempt || !p->n)
		return;
	sc_route_charge(p, addr, port, &rd);
	if (!rd.applied)
		return;
	d->client = rd.client;
	d->report = rd.client.report;
	memcpy(d->message, rd.message, sizeof(d->message));
	d->verdict = rd.over ? SC_OVER : SC_WITHIN;
}

/* ---- what the client sees ------------------------------------------- */

static void put(const struct sc_sink *k, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

char *sc_u64_str(char buf[24], uint64_t v)
{
	char *p = buf + 23;

	*p = '\0';
	do
		*--p = '0' + v % 10;
	while (v /= 10);
	return p;
}

/* Adds `name` with the number v, unless the response has it already. */
static void put_u64(const struct sc_sink *k, const char *name, uint64_t v)
{
	char buf[24];

	if (!k->has || !k->has(k->arg, name))
		k->add(k->arg, name, sc_u64_str(buf, v));
}

/* Adds `name` unless the response has it already. */
static void put(const struct sc_sink *k, const char *name, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	if (k->has && k->has(k->arg, name))
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	k->add(k->arg, name, buf);
}

static long long retry_after(const struct xl_client_limit *l)
{
	return l->retry_after > 0 ? l->retry_after : 0;
}

static void add_ietf(const struct sc_decision *d, const struct sc_sink *k)
{
	const struct xl_client *c = &d->client;
	const struct xl_client_limit *l = &c->lim[d->report];
	char policy[512];
	size_t off = 0;
	uint32_t i;

	for (i = 0; i < c->nlimits && off < sizeof(policy); i++)
		off += snprintf(policy + off, sizeof(policy) - off,
				"%s\"port%u-%u\";q=%llu;w=%llu", i ? ", " : "",
				c->rule_port, i,
				(unsigned long long)c->lim[i].amount,
				(unsigned long long)c->lim[i].period);
	put(k, "RateLimit-Policy", "%s", policy);
	put(k, "RateLimit", "\"port%u-%u\";r=%llu;t=%lld", c->rule_port,
	    d->report, (unsigned long long)l->remaining, retry_after(l));
}

void sc_put_headers(const struct sc_decision *d, const struct sc_sink *k,
		    bool over)
{
	const struct xl_client_limit *l;

	if (d->verdict != SC_WITHIN && d->verdict != SC_OVER)
		return;
	l = &d->client.lim[d->report];
	put_u64(k, "X-RateLimit-Limit", l->amount);
	put_u64(k, "X-RateLimit-Remaining", l->remaining);
	put_u64(k, "X-RateLimit-Reset", l->reset);
	if (over || sc_cfg.retry_after == SC_RA_ALWAYS)
		put_u64(k, "Retry-After", retry_after(l));
	if (sc_cfg.ietf)
		add_ietf(d, k);
}

void sc_html_escape(const char *s, char *buf, size_t len)
{
	size_t off = 0, n;
	char one[2] = "";
	const char *e;

	for (; *s; s++) {
		switch (*s) {
		case '&':
			e = "&amp;";
			break;
		case '<':
			e = "&lt;";
			break;
		case '>':
			e = "&gt;";
			break;
		case '"':
			e = "&#34;";
			break;
		case '\'':
			e = "&#39;";
			break;
		default:
			one[0] = *s;
			e = one;
		}
		n = strlen(e);
		if (off + n >= len)
			break;
		memcpy(buf + off, e, n);
		off += n;
	}
	if (len)
		buf[off] = '\0';
}

const char *sc_refusal_body(const struct sc_decision *d, int code,
			    const char *accept, struct evbuffer *body)
{
	bool over = d->verdict == SC_OVER;
	const char *title = code == 429 ? "Too Many Requests" : "Forbidden";
	const struct xl_client_limit *l = &d->client.lim[d->report];
	char html[6 * XL_ROUTE_MSG_MAX];
	const char *detail = !over	   ? "address is on the deny list" :
			     d->message[0] ? d->message :
					     l->text;

	if (sc_prefers_json(accept)) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "type",
				       json_object_new_string("about:blank"));
		json_object_object_add(o, "title",
				       json_object_new_string(title));
		json_object_object_add(o, "status", json_object_new_int(code));
		json_object_object_add(o, "detail",
				       json_object_new_string(detail));
		if (over) {
			json_object_object_add(o, "limit",
					       json_object_new_string(l->text));
			json_object_object_add(
				o, "amount", json_object_new_uint64(l->amount));
			json_object_object_add(
				o, "remaining",
				json_object_new_uint64(l->remaining));
			json_object_object_add(
				o, "reset", json_object_new_uint64(l->reset));
			json_object_object_add(
				o, "retry_after",
				json_object_new_int64(retry_after(l)));
		}
		evbuffer_add_printf(
			body, "%s\n",
			json_object_to_json_string_ext(
				o, JSON_C_TO_STRING_PLAIN |
					   JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(o);
		return "application/problem+json";
	}
	evbuffer_add_printf(body,
			    "<!doctype html>\n<html lang=en>\n"
			    "<title>%d %s</title>\n<h1>%s</h1>\n<p>",
			    code, title, title);
	sc_html_escape(detail, html, sizeof(html));
	evbuffer_add(body, html, strlen(html));
	evbuffer_add_printf(body, "</p>\n");
	return "text/html; charset=utf-8";
}
