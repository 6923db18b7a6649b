// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The reverse proxy of xlimit-sidecar, on libevent's evhttp: each request
 * from a client is decided (limit.c); over the limit it is answered 429
 * here, else it goes to the application with its method, target, headers
 * and body unchanged (less the hop-by-hop headers, which belong to one
 * connection, plus X-Forwarded-For), and the application's answer comes
 * back the same way with the rate-limit headers added. An unreachable
 * application is a 502, a slow one a 504.
 *
 * The response is streamed: its head goes to the client as soon as it is
 * in (evhttp_send_reply_start: chunked unless the application gave a
 * Content-Length), each piece of its body as it is read. While the
 * client's connection holds --max-response-size bytes not yet sent, the
 * application's connection is not read (its bufferevent's EV_READ is
 * off) until they are: a slow client makes the application wait, not the
 * sidecar hold the response. An application that fails once the head is
 * sent has the client's connection closed: the client sees the body cut.
 *
 * The connections to the application are at most --upstream-connections,
 * all owned by one pool: a request takes an idle one or opens a new one,
 * and gives it back when its answer is in; with all of them busy the
 * client gets 503 at once (and a Retry-After of 1 s). A connection whose
 * response was HTTP/1.0 or said "Connection: close" is never reused: the
 * application closes it, maybe only after the next request went out on
 * it. One the application closed without a word is found out only when
 * it is reused: the request fails before any byte of a response came.
 * Then an idempotent request (RFC 9110 §9.2.2: GET, HEAD, PUT, DELETE,
 * OPTIONS, TRACE) is sent once more on a fresh connection; any other
 * gets its 502. Each request to the
 * application is owned here (evhttp_request_own) so that every path, the
 * failed start included, frees it exactly once: after its callback has
 * returned, from an event.
 *
 * Which request of its connection a request is decides whether it is read
 * or charged: conn.c counts them (sc_conn_request()).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h> /* before libevent's: TAILQ_FOREACH */
#include <sys/socket.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/http_struct.h> /* the request's HTTP version */
#include <event2/keyvalq_struct.h>

#include "msg.h"
#include "xlimit_lib.h"
#include "sidecar.h"

#define SC_UP_MAX_HEADERS (256 << 10) /* the application's headers */

static _Thread_local struct evhttp *proxy_http;
static _Thread_local struct event_base *proxy_base;
static char up_host[256]; /* as given: the Host of HTTP/1.0 requests */
static char up_addr[INET6_ADDRSTRLEN]; /* what it resolved to at start */
static uint16_t up_port;
/* A connection to the application. */
struct up_conn {
	struct evhttp_connection *evcon;
	bool reused; /* it served a request already */
	bool answered; /* a byte of the current response came */
	struct up_conn *next_dead; /* dropped, to free */
};

/* Idle connections; room for all of them, so none is ever left out. */
static _Thread_local struct up_conn **pool;
static _Thread_local long npool, nup; /* idle, and all made */
static _Thread_local struct up_conn *dead; /* dropped ones, freed from an event */
/* Requests to the application whose callback is done, to free. */
static _Thread_local struct evhttp_request **reap;
static _Thread_local size_t nreap, reap_cap;
static _Thread_local struct event *reap_ev;

/* ---- the application's connections ------------------------------------ */

/* Every byte of the application's that arrives on `arg`. */
static void on_up_input(struct evbuffer *b, const struct evbuffer_cb_info *info,
			void *arg)
{
	struct up_conn *c = arg;

	(void)b;
	if (info->n_added)
		c->answered = true;
}

/* An idle connection (unless `fresh`), or a new one while under the
 * bound; NULL with *busy set when all are in use. */
static struct up_conn *pool_get(bool fresh, bool *busy)
{
	struct up_conn *c;

	*busy = false;
	if (npool && !fresh)
		return pool[--npool];
	if (nup >= sc_share(sc_cfg.upstream_connections)) {
		*busy = true;
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	/* A literal address: evhttp does not look anything up. */
	c->evcon =
		evhttp_connection_base_new(proxy_base, NULL, up_addr, up_port);
	if (!c->evcon ||
	    !evbuffer_add_cb(
		    bufferevent_get_input(
			    evhttp_connection_get_bufferevent(c->evcon)),
		    on_up_input, c)) {
		if (c->evcon)
			evhttp_connection_free(c->evcon);
		free(c);
		return NULL;
	}
	evhttp_connection_set_timeout(c->evcon, sc_cfg.upstream_timeout);
	evhttp_connection_set_retries(c->evcon, 0);
	evhttp_connection_set_max_headers_size(c->evcon, SC_UP_MAX_HEADERS);
	/* Streamed: --max-response-size bounds what is held, not the
	 * length. */
	evhttp_connection_set_max_body_size(c->evcon, -1);
	nup++;
	return c;
}

static void pool_put(struct up_conn *c)
{
	c->reused = true;
	pool[npool++] = c; /* npool < nup <= the array's size */
}

/* A connection that cannot be used again: it no longer counts, and is
 * freed once evhttp's callback running now has returned. */
static void pool_drop(struct up_conn *c)
{
	nup--;
	c->next_dead = dead;
	dead = c;
	event_active(reap_ev, EV_TIMEOUT, 0);
}

static void on_reap(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	while (nreap)
		evhttp_request_free(reap[--nreap]);
	while (dead) {
		struct up_conn *c = dead;

		dead = c->next_dead;
		evhttp_connection_free(c->evcon);
		free(c);
	}
}

/* Frees `up` once the callback running now has returned. */
static void reap_later(struct evhttp_request *up)
{
	if (nreap == reap_cap) {
		size_t n = reap_cap ? reap_cap * 2 : 64;
		struct evhttp_request **t = realloc(reap, n * sizeof(*t));

		if (!t) /* leaked rather than freed under evhttp's feet */
			return;
		reap = t;
		reap_cap = n;
	}
	reap[nreap++] = up;
	event_active(reap_ev, EV_TIMEOUT, 0);
}

/* ---- headers ------------------------------------------------------------ */

/* Hop-by-hop headers (RFC 9110 §7.6.1) describe one connection, not the
 * message: they are not forwarded. Expect is answered here (evhttp sends
 * 100 Continue), so the application gets the whole body at once. */
static bool hop_by_hop(const char *name, const char *connection)
{
	static const char *const hop[] = {
		"Connection",	      "Keep-Alive", "Proxy-Connection",
		"Proxy-Authenticate", "TE",	    "Trailer",
		"Transfer-Encoding",  "Upgrade",    "Expect",
	};
	size_t i, n = strlen(name);
	const char *p;

	for (i = 0; i < sizeof(hop) / sizeof(hop[0]); i++)
		if (!strcasecmp(name, hop[i]))
			return true;
	/* And those the Connection header names. */
	for (p = connection; p && *p;) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (!strncasecmp(p, name, n) && (p[n] == '\0' || p[n] == ',' ||
						 p[n] == ' ' || p[n] == '\t'))
			return true;
		p = strchr(p, ',');
	}
	return false;
}

/* A request's X-Forwarded-For is rebuilt and its Content-Length set from
 * the body evhttp read: neither is copied from the client. */
static void copy_headers(const struct evkeyvalq *from, struct evkeyvalq *to,
			 bool request)
{
	const char *connection = evhttp_find_header(from, "Connection");
	const struct evkeyval *kv;

	for (kv = TAILQ_FIRST(from); kv; kv = TAILQ_NEXT(kv, next)) {
		if (hop_by_hop(kv->key, connection))
			continue;
		if (request && (!strcasecmp(kv->key, "X-Forwarded-For") ||
				!strcasecmp(kv->key, "Content-Length")))
			continue;
		evhttp_add_header(to, kv->key, kv->value);
	}
}

/* A field name is a token (RFC 9110 §5.1, §5.6.2). */
static bool token(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') ||
		      strchr("!#$%&'*+-.^_`|~", *s)))
			return false;
	return true;
}

/* The message framing of RFC 9112 §6 that evhttp lets through but that
 * the application could read otherwise than evhttp did (request
 * smuggling): a repeated or signed Content-Length, one that is not the
 * body evhttp read (HEAD and TRACE bodies are not read), Content-Length
 * with Transfer-Encoding, Transfer-Encoding in HTTP/1.0, on a HEAD or
 * TRACE, or repeated; a target with blanks or control characters; and a
 * field name that is not a token (evhttp keeps "Transfer-Encoding :" as a
 * name of its own, which a lenient application reads as the framing).
 * Returns the status to refuse with (400; 501 for a transfer coding other
 * than chunked), or 0. evhttp itself refuses non-numeric and negative
 * lengths and most of Content-Length with Transfer-Encoding. */
static int bad_framing(struct evhttp_request *req)
{
	const struct evkeyvalq *h = evhttp_request_get_input_headers(req);
	const char *cl = NULL, *te = NULL, *u = evhttp_request_get_uri(req);
	size_t body = evbuffer_get_length(evhttp_request_get_input_buffer(req));
	const struct evkeyval *kv;
	int ncl = 0, nte = 0;

	for (; u && *u; u++)
		if ((unsigned char)*u <= ' ' || *u == 0x7f)
			return 400;
	for (kv = TAILQ_FIRST(h); kv; kv = TAILQ_NEXT(kv, next)) {
		if (!token(kv->key))
			return 400;
		if (!strcasecmp(kv->key, "Content-Length"))
			cl = kv->value, ncl++;
		else if (!strcasecmp(kv->key, "Transfer-Encoding"))
			te = kv->value, nte++;
	}
	if (ncl > 1 || nte > 1 || (cl && te))
		return 400;
	if (cl) {
		char *end;
		unsigned long long n;

		errno = 0;
		n = strtoull(cl, &end, 10);
		if (*cl < '0' || *cl > '9' || *end || errno || n != body)
			return 400;
	}
	if (te) {
		if (req->major != 1 || req->minor != 1 ||
		    evhttp_request_get_command(req) &
			    (EVHTTP_REQ_HEAD | EVHTTP_REQ_TRACE))
			return 400;
		if (strcasecmp(te, "chunked"))
			return 501;
	}
	return 0;
}

/* X-Forwarded-For: every such line of the request, then the peer. */
static void add_forwarded_for(const struct evkeyvalq *in, struct evkeyvalq *out,
			      const char *peer)
{
	struct evbuffer *b = evbuffer_new();
	const struct evkeyval *kv;
	char *s;
	size_t n;

	if (!b)
		return;
	for (kv = TAILQ_FIRST(in); kv; kv = TAILQ_NEXT(kv, next))
		if (!strcasecmp(kv->key, "X-Forwarded-For"))
			evbuffer_add_printf(b, "%s, ", kv->value);
	evbuffer_add_printf(b, "%s", peer);
	n = evbuffer_get_length(b);
	s = malloc(n + 1);
	if (s) {
		evbuffer_remove(b, s, n);
		s[n] = '\0';
		evhttp_add_header(out, "X-Forwarded-For", s);
		free(s);
	}
	evbuffer_free(b);
}

/* ---- one request ------------------------------------------------------ */

struct sc_request {
	struct evhttp_request *req; /* the client's */
	struct up_conn *up; /* to the application */
	struct evhttp_request *upreq; /* the request on it, owned */
	struct sc_decision d;
	double start;
	size_t held; /* body bytes in the --max-buffered budget */
	int error; /* enum evhttp_request_error, or -1 */
	bool retried; /* sent again on a fresh connection */
	bool started; /* the response's head went to the client */
	bool paused; /* the application's connection is not read */
	struct sc_request *next, *prev; /* in `streams` while started */
	char peer[64]; /* the TCP peer, for X-Forwarded-For */
};

/* The responses being streamed: evhttp calls back with a pointer that
 * may be stale (on_drained), checked against this list. */
static _Thread_local struct sc_request *streams;

static void stream_unlink(struct sc_request *r)
{
	if (!r->started)
		return;
	if (r->prev)
		r->prev->next = r->next;
	else
		streams = r->next;
	if (r->next)
		r->next->prev = r->prev;
	r->started = false;
	sc_conn_on_close(r->req, NULL, NULL);
}

static void finish(struct sc_request *r)
{
	stream_unlink(r);
	sc_buffer_release(r->held);
	sc_observe_latency(sc_now() - r->start);
	free(r);
}

static void upstream_error(enum evhttp_request_error error, void *arg)
{
	struct sc_request *r = arg;

	r->error = error;
}

static int send_up(struct sc_request *r);

/* RFC 9110 §9.2.2. */
static bool idempotent(enum evhttp_cmd_type cmd)
{
	return cmd &
	       (EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT |
		EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE);
}

/* A response after which the application closes the connection. */
static bool up_closes(struct evhttp_request *up)
{
	const char *c = evhttp_find_header(evhttp_request_get_input_headers(up),
					   "Connection");

	if (up->major != 1 || up->minor != 1)
		return true;
	for (; c && *c; c++) {
		while (*c == ' ' || *c == '\t' || *c == ',')
			c++;
		if (!strncasecmp(c, "close", 5) &&
		    (!c[5] || c[5] == ',' || c[5] == ' ' || c[5] == '\t'))
			return true;
		c = strchr(c, ',');
		if (!c)
			break;
	}
	return false;
}

/* The application's connection failed under the request: sends it once
 * more on a fresh connection when that is safe (see the top). True when
 * it went out again. */
static bool retry(struct sc_request *r, struct up_conn *failed)
{
	bool busy;

	if (r->retried || r->error != EVREQ_HTTP_EOF || !failed->reused ||
	    failed->answered || !idempotent(evhttp_request_get_command(r->req)))
		return false;
	r->retried = true;
	r->error = -1;
	r->up = pool_get(true, &busy);
	if (!r->up)
		return false;
	if (send_up(r)) {
		pool_drop(r->up);
		return false;
	}
	return true;
}

static void upstream_done(struct evhttp_request *up, void *arg)
{
	struct sc_request *r = arg;
	struct evhttp_request *req = r->req;
	struct evkeyvalq *out = evhttp_request_get_output_headers(req);
	const char *line;
	int code = up ? evhttp_request_get_response_code(up) : 0;
	struct up_conn *c = r->up;

	reap_later(r->upreq);
	r->upreq = NULL;
	if (!up || code == 0)
		pool_drop(c);
	else if (up_closes(up))
		pool_drop(c);
	else
		pool_put(c);
	if ((!up || code == 0) && retry(r, c))
		return;
	if (r->started) {
		struct evhttp_connection *ce =
			evhttp_request_get_connection(req);

		stream_unlink(r); /* before req may be freed */
		if (up && code) {
			/* Done at once (and maybe freed) unless the chunked
			 * body's end is still to write. */
			bool more = ce && req->chunked;

			evhttp_send_reply_end(req); /* frees a client gone */
			if (more)
				sc_flush(ce);
		} else {
			/* Cut: the client must not take it for the whole
			 * body. Freeing the connection frees its request. */
			sc_count(r->error == EVREQ_HTTP_TIMEOUT ?
					 SC_C_UPSTREAM_TIMEOUT :
					 SC_C_UPSTREAM_CONNECT);
			if (ce) {
				/* What the socket takes of the head and
				 * body already sent, then the close. */
				sc_flush(ce);
				evhttp_connection_free(ce);
			} else
				evhttp_send_reply_end(req);
		}
		finish(r);
		return;
	}
	if (!up || code == 0) {
		bool timeout = r->error == EVREQ_HTTP_TIMEOUT;

		sc_count(timeout ? SC_C_UPSTREAM_TIMEOUT :
			 r->error == EVREQ_HTTP_DATA_TOO_LONG ?
				   SC_C_UPSTREAM_TOO_LARGE :
				   SC_C_UPSTREAM_CONNECT);
		sc_add_headers(&r->d, out, false);
		evhttp_send_error(req, timeout ? 504 : 502,
				  timeout ? "Gateway Timeout" : "Bad Gateway");
		finish(r);
		return;
	}
	copy_headers(evhttp_request_get_input_headers(up), out, false);
	sc_add_headers(&r->d, out, false);
	line = evhttp_request_get_response_code_line(up);
	evhttp_send_reply(req, code, line ? line : "",
			  evhttp_request_get_input_buffer(up));
	finish(r);
}

/* The client's connection sent what it held: read the application again.
 * `arg` may be a request already gone. */
static void on_drained(struct evhttp_connection *evcon, void *arg)
{
	struct sc_request *r;

	(void)evcon;
	for (r = streams; r && r != arg; r = r->next)
		;
	if (!r || !r->paused)
		return;
	r->paused = false;
	bufferevent_enable(evhttp_connection_get_bufferevent(r->up->evcon),
			   EV_READ);
}

/* The client's connection closed under a streamed response: the rest of
 * it is not read. */
static void on_client_gone(void *arg)
{
	struct sc_request *r = arg;
	struct evhttp_request *upreq = r->upreq;

	stream_unlink(r);
	r->upreq = NULL;
	/* Ends in upstream_error only (EVREQ_HTTP_REQUEST_CANCEL). */
	evhttp_cancel_request(upreq);
	reap_later(upreq);
	pool_drop(r->up);
	/* Detached from its connection by evhttp, the request is the
	 * sidecar's to free; at exit evhttp frees it with the connection. */
	if (!evhttp_request_get_connection(r->req))
		evhttp_send_reply_end(r->req);
	finish(r);
}

/* The application's response head is in: it goes to the client. */
static int on_up_head(struct evhttp_request *up, void *arg)
{
	struct sc_request *r = arg;
	struct evhttp_request *req = r->req;
	struct evkeyvalq *out = evhttp_request_get_output_headers(req);
	const char *line = evhttp_request_get_response_code_line(up);
	int code = evhttp_request_get_response_code(up);

	if (!evhttp_request_get_connection(req) || code < 200)
		return 0; /* the client is gone: upstream_done frees it */
	copy_headers(evhttp_request_get_input_headers(up), out, false);
	sc_add_headers(&r->d, out, false);
	/* An HTTP/1.0 client gets a body of unknown length up to the close:
	 * evhttp would say Content-Length: 0 on a kept-alive one. */
	if ((req->major != 1 || req->minor != 1) &&
	    !evhttp_find_header(out, "Content-Length"))
		evhttp_remove_header(evhttp_request_get_input_headers(req),
				     "Connection");
	r->started = true;
	r->prev = NULL;
	r->next = streams;
	if (streams)
		streams->prev = r;
	streams = r;
	sc_conn_on_close(req, on_client_gone, r);
	evhttp_send_reply_start(req, code, line ? line : "");
	return 0;
}

/* A piece of the application's body: on to the client, and no more
 * read while the client's connection holds --max-response-size. */
static void on_up_body(struct evhttp_request *up, void *arg)
{
	struct sc_request *r = arg;
	struct evhttp_connection *ce = evhttp_request_get_connection(r->req);

	if (!r->started || !ce)
		return; /* evhttp drops it */
	evhttp_send_reply_chunk_with_cb(
		r->req, evhttp_request_get_input_buffer(up), on_drained, r);
	sc_flush(ce);
	if (evbuffer_get_length(bufferevent_get_output(
		    evhttp_connection_get_bufferevent(ce))) >
	    (size_t)sc_cfg.max_response_size) {
		r->paused = true;
		bufferevent_disable(
			evhttp_connection_get_bufferevent(r->up->evcon),
			EV_READ);
	}
}

/* Sends the client's request to the application on r->up: 0, or -1 when
 * evhttp could not even start (then it will not call back). */
static int send_up(struct sc_request *r)
{
	struct evhttp_request *req = r->req, *up;
	struct evkeyvalq *in = evhttp_request_get_input_headers(req), *out;
	struct evbuffer *body = evhttp_request_get_input_buffer(req), *ob;
	char len[32];

	up = evhttp_request_new(upstream_done, r);
	if (!up)
		return -1;
	evhttp_request_own(up);
	evhttp_request_set_error_cb(up, upstream_error);
	evhttp_request_set_header_cb(up, on_up_head);
	evhttp_request_set_chunked_cb(up, on_up_body);
	out = evhttp_request_get_output_headers(up);
	copy_headers(in, out, true);
	add_forwarded_for(in, out, r->peer);
	if (!evhttp_find_header(out, "Host")) { /* an HTTP/1.0 client */
		char host[sizeof(up_host) + 8];

		snprintf(host, sizeof(host), "%s:%u", up_host, up_port);
		evhttp_add_header(out, "Host", host);
	}
	/* The body evhttp read (a chunked one arrives whole) goes on with
	 * its length: the client's own framing headers are not copied. */
	if (evbuffer_get_length(body) ||
	    evhttp_find_header(in, "Content-Length") ||
	    evhttp_find_header(in, "Transfer-Encoding")) {
		snprintf(len, sizeof(len), "%zu", evbuffer_get_length(body));
		evhttp_add_header(out, "Content-Length", len);
	}
	/* The body stays in the client's request, for a retry: the
	 * application's request only refers to it. */
	ob = evhttp_request_get_output_buffer(up);
	if (evbuffer_add_buffer_reference(ob, body) &&
	    evbuffer_add(ob, evbuffer_pullup(body, -1),
			 evbuffer_get_length(body))) {
		evhttp_request_free(up);
		return -1;
	}
	r->up->answered = false;
	r->upreq = up;
	/* A refused or failed connect ends in upstream_done (with a 0
	 * return); -1 means evhttp could not even start (no memory). */
	if (evhttp_make_request(r->up->evcon, up,
				evhttp_request_get_command(req),
				evhttp_request_get_uri(req))) {
		evhttp_request_free(up);
		r->upreq = NULL;
		return -1;
	}
	sc_flush(r->up->evcon);
	return 0;
}

static void forward(struct sc_request *r, const char *peer)
{
	struct evhttp_request *req = r->req;
	bool busy;

	snprintf(r->peer, sizeof(r->peer), "%s", peer);
	/* Held until the answer: the client's connection no longer counts
	 * it. */
	r->held = evbuffer_get_length(evhttp_request_get_input_buffer(req));
	sc_buffer_hold(r->held);
	r->up = pool_get(false, &busy);
	if (!r->up || send_up(r)) {
		if (r->up)
			pool_drop(r->up);
		sc_count(busy ? SC_C_UPSTREAM_BUSY : SC_C_UPSTREAM_CONNECT);
		sc_add_headers(&r->d, evhttp_request_get_output_headers(req),
			       false);
		if (busy) {
			evhttp_add_header(
				evhttp_request_get_output_headers(req),
				"Retry-After", "1");
			evhttp_send_error(req, 503, "Service Unavailable");
		} else {
			evhttp_send_error(req, 502, "Bad Gateway");
		}
		finish(r);
	}
}

static void proxy_request(struct evhttp_request *req, void *arg)
{
	struct sc_request *r;
	struct sc_peer p;
	uint8_t client[16];
	char peer_s[64];
	bool direct = true;
	int code;

	(void)arg;
	sc_count(SC_C_REQUESTS);
	if (sc_headers_too_large(req))
		return;
	code = bad_framing(req);
	if (code) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
				  "Connection", "close");
		evhttp_send_error(req, code, NULL);
		return;
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		evhttp_send_error(req, 503, NULL);
		return;
	}
	r->req = req;
	r->start = sc_now();
	r->error = -1;
	if (sc_conn_request(req, &p)) {
		/* Not a TCP/IP client (it went away): nothing to count. */
		r->d.verdict = SC_NOT_COUNTED;
		snprintf(peer_s, sizeof(peer_s), "unknown");
		forward(r, peer_s);
		return;
	}
	xl_format_addr(p.peer, peer_s, sizeof(peer_s));
	memcpy(client, p.peer, 16);
	if (sc_trusted(p.peer) &&
	    !sc_forwarded_client(evhttp_request_get_input_headers(req), client))
		direct = memcmp(client, p.peer, 16) == 0;
	sc_decide_request(req, client, p.local_port, p.nreq, direct,
			  sc_conn_accepted(req), &r->d);
	if (r->d.verdict == SC_OVER || r->d.verdict == SC_DENIED) {
		sc_count(r->d.verdict == SC_OVER ? SC_C_LIMITED : SC_C_DENIED);
		sc_send_refusal(req, &r->d,
				r->d.verdict == SC_OVER ? 429 : 403);
		finish(r);
		return;
	}
	forward(r, peer_s);
}

int sc_resolve_upstream(void)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai;
	int err;

	if (sc_parse_hostport(sc_cfg.upstream, up_host, sizeof(up_host),
			      &up_port))
		return -1;
	err = getaddrinfo(up_host, NULL, &hints, &ai);
	if (err) {
		xl_err("--upstream %s: cannot resolve '%s': %s; give an address or a name that resolves",
		       sc_cfg.upstream, up_host, gai_strerror(err));
		return -1;
	}
	err = getnameinfo(ai->ai_addr, ai->ai_addrlen, up_addr, sizeof(up_addr),
			  NULL, 0, NI_NUMERICHOST);
	freeaddrinfo(ai);
	if (err) {
		xl_err("--upstream %s: %s", sc_cfg.upstream, gai_strerror(err));
		return -1;
	}
	return 0;
}

int sc_proxy_start(struct event_base *base, int fd)
{
	int err;

	proxy_base = base;
	pool = calloc(sc_share(sc_cfg.upstream_connections), sizeof(*pool));
	reap_ev = event_new(base, -1, 0, on_reap, NULL);
	proxy_http = evhttp_new(base);
	if (!pool || !reap_ev || !proxy_http)
		return -ENOMEM;
	if (sc_http_setup(proxy_http, base, "listen", proxy_request))
		return -ENOMEM;
	/* The application's responses keep their own Content-Type, or
	 * none. */
	evhttp_set_default_content_type(proxy_http, NULL);
	evhttp_set_allowed_methods(
		proxy_http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
				    EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
				    EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE |
				    EVHTTP_REQ_PATCH);
	err = sc_bind(proxy_http, "listen", fd);
	return err;
}

void sc_proxy_stop(void)
{
	if (proxy_http)
		sc_http_free(proxy_http);
	proxy_http = NULL;
	while (npool)
		pool_drop(pool[--npool]);
	on_reap(-1, 0, NULL);
	free(pool);
	pool = NULL;
	free(reap);
	reap = NULL;
	reap_cap = 0;
	if (reap_ev)
		event_free(reap_ev);
	reap_ev = NULL;
}
